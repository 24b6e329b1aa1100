#pragma once
// The ZeroMQ bridge (gateway.zmq, NanoMQ's keys; docs/gateways.md): messages between a
// ZeroMQ PUB/SUB pair and MQTT topics.
//
//   ZeroMQ -> MQTT: a SUB socket connects to sub_address and subscribes to sub_pre; each
//                   message, with that prefix taken off, is published to MQTT topic
//                   `forward` (QoS `qos`).
//   MQTT -> ZeroMQ: a PUB socket connects to pub_address; every MQTT message matching
//                   `sub_topic` goes out as pub_pre followed by its payload.
//
// The bridge is an MQTT client inside the node: a net::Connection with no socket on worker
// 0, whose channel (clean session, client id emqxd_zmq_bridge, no authentication) takes
// what ZeroMQ brings as PUBLISH packets and subscribes to sub_topic, so that authorization,
// the counters, the rules and the cluster see it as any client. One thread of its own owns
// the ZeroMQ sockets (ZeroMQ sockets are not thread-safe): it polls them, hands what
// arrives to the worker, and sends what the worker queued for it (gateways/bridge_client.hpp
// BridgeCore's bounds; past them the oldest goes, counted as dropped, as a
// congested subscriber's QoS 0). The poll wakes every 20 ms: what MQTT sends to ZeroMQ
// waits up to that long.
#include <memory>
#include <vector>

#include "config/config.hpp"

namespace emqxd::net {
class Worker;
}

namespace emqxd::gateways::zmq {

class Bridge {
 public:
  // Makes the ZeroMQ context and sockets (throws std::runtime_error naming the key that
  // ZeroMQ refused: a malformed address, say). Connecting is ZeroMQ's, in the background:
  // an address that does not answer yet is retried by it.
  Bridge(const config::ZmqGatewayConfig& cfg, const std::vector<net::Worker*>& workers);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  void start();  // the thread, and the bridge's MQTT client on worker 0
  void stop();   // any thread, before the workers stop

  struct Stats {
    std::uint64_t received = 0, forwarded = 0, sent = 0, dropped = 0;
    bool running = false;
  };
  Stats stats() const;

  struct Impl;  // bridge.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace emqxd::gateways::zmq
