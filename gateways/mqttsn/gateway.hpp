#pragma once
// The MQTT-SN gateway (gateway.mqttsn; docs/gateways.md): its UDP listeners and one
// connection per client address.
//
// Each listener has a UDP socket per worker on the same port with SO_REUSEPORT; Linux
// hashes each datagram's addresses to one socket of the group, so a client's datagrams
// always reach the same worker, which keeps its connection (a net::Connection, like an
// MQTT client's: a session::Channel, the keep alive, the node's counters) in a map by
// address. The connection turns the client's messages into MQTT packets for its channel
// and the channel's packets back into MQTT-SN messages through an Adapter
// (gateways/mqttsn/adapter.hpp); a datagram goes out as soon as it is made, with a
// non-blocking send (a full socket buffer drops it, as the network may: QoS 1 and 2 are
// sent again by the channel).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace emqxd::net {
class Worker;
}

namespace emqxd::gateways::mqttsn {

struct Settings;

class Gateway {
 public:
  // Binds every enabled listener now (throws std::runtime_error naming the listener and
  // its address when one cannot bind).
  Gateway(const config::MqttSnGatewayConfig& cfg, const std::vector<net::Worker*>& workers);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void start();  // begins reading on every worker
  void stop();   // any thread: closes the sockets (the connections carry on until they end)

  struct ListenerInfo {
    std::string id;    // "udp:default"
    std::string bind;  // "0.0.0.0:1884"
    std::uint16_t port = 0;
    std::uint32_t connections = 0;
    std::uint32_t max_connections = 0;
    bool running = false;
  };
  std::vector<ListenerInfo> listeners() const;
  std::uint32_t connections() const;  // clients of every listener

 private:
  struct Listener;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

}  // namespace emqxd::gateways::mqttsn
