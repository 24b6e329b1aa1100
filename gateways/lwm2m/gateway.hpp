#pragma once
// The LwM2M gateway (gateway.lwm2m; docs/gateways.md, "LwM2M"): its UDP listeners
// (gateways/udp.hpp) and a connection per client address, whose CoAP messages an Adapter
// (gateways/lwm2m/adapter.hpp) turns into MQTT packets for its channel and back.
#include <memory>
#include <vector>

#include "config/config.hpp"
#include "gateways/udp.hpp"

namespace emqxd::net {
class Worker;
}

namespace emqxd::gateways::lwm2m {

// The gateway's UDP listeners, bound now (throws std::runtime_error naming the listener and
// its address when one cannot bind, or a definition file of xml_dir that does not load);
// start() begins reading on every worker, stop() closes the sockets.
std::unique_ptr<UdpListeners> listen(const config::Lwm2mGatewayConfig& cfg,
                                     const std::vector<net::Worker*>& workers);

}  // namespace emqxd::gateways::lwm2m
