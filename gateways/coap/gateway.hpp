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

// A datagram that is no CoAP message: counted; a CON is answered with RST (RFC 7252 4.2).
void refuse_malformed(UdpEndpoint& ep, std::string_view datagram,
                      const boost::asio::ip::udp::endpoint& from);

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
