#pragma once
// The MQTT-SN gateway (gateway.mqttsn; docs/gateways.md): its UDP listeners
// (gateways/udp.hpp) and a connection per client address, which turns the client's
// messages into MQTT packets for its channel and the channel's packets back into MQTT-SN
// messages through an Adapter (gateways/mqttsn/adapter.hpp).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "gateways/udp.hpp"

namespace emqxd::net {
class Worker;
}

namespace emqxd::gateways::mqttsn {

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
  std::vector<UdpListeners::Info> listeners() const { return listeners_->info(); }

 private:
  std::unique_ptr<UdpListeners> listeners_;
};

}  // namespace emqxd::gateways::mqttsn
