#pragma once
// The STOMP gateway (gateway.stomp; docs/gateways.md): TCP listeners whose connections
// speak STOMP. A connection is an MQTT TCP connection (net::TcpConnection: the same
// sockets, batching and limits) that parses STOMP frames from what it reads, gives its
// channel the MQTT packets an Adapter (gateways/stomp/adapter.hpp) makes of them, and
// writes the channel's answers as frames.
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace emqxd::net {
class Listener;
class Worker;
}  // namespace emqxd::net

namespace emqxd::gateways::stomp {

class Gateway {
 public:
  // Binds every enabled listener now (throws std::runtime_error naming it on failure).
  Gateway(const config::StompGatewayConfig& cfg, const std::vector<net::Worker*>& workers);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void start();
  void stop();
  const std::vector<std::unique_ptr<net::Listener>>& listeners() const { return listeners_; }

 private:
  std::vector<std::unique_ptr<net::Listener>> listeners_;
};

}  // namespace emqxd::gateways::stomp
