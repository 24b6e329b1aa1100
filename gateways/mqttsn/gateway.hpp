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

// The gateway's UDP listeners, bound now (throws std::runtime_error naming the listener and
// its address when one cannot bind); start() begins reading on every worker, stop() closes
// the sockets (the connections carry on until they end).
std::unique_ptr<UdpListeners> listen(const config::MqttSnGatewayConfig& cfg,
                                     const std::vector<net::Worker*>& workers);

}  // namespace emqxd::gateways::mqttsn
