#pragma once
// The CoAP gateway (gateway.coap; docs/gateways.md): its UDP listeners (gateways/udp.hpp)
// and a connection per client address, whose requests an Adapter
// (gateways/coap/adapter.hpp) turns into MQTT packets for its channel, and the channel's
// packets into answers and notifications.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "gateways/udp.hpp"

namespace emqxd::net {
class Worker;
}

namespace emqxd::gateways::coap {

class Gateway {
 public:
  Gateway(const config::CoapGatewayConfig& cfg, const std::vector<net::Worker*>& workers);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void start();
  void stop();
  std::vector<UdpListeners::Info> listeners() const { return listeners_->info(); }

 private:
  std::unique_ptr<UdpListeners> listeners_;
};

}  // namespace emqxd::gateways::coap
