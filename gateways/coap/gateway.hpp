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

// The gateway's UDP listeners, bound now (throws std::runtime_error naming the listener and
// its address when one cannot bind); start() begins reading on every worker, stop() closes
// the sockets (the connections carry on until they end).
std::unique_ptr<UdpListeners> listen(const config::CoapGatewayConfig& cfg,
                                     const std::vector<net::Worker*>& workers);

}  // namespace emqxd::gateways::coap
