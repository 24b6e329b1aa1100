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

class Gateway {
 public:
  // Reads the object definitions (built in, and xml_dir's): throws std::runtime_error
  // naming a file that is wrong.
  Gateway(const config::Lwm2mGatewayConfig& cfg, const std::vector<net::Worker*>& workers);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  void start();
  void stop();
  std::vector<UdpListeners::Info> listeners() const { return listeners_->info(); }

 private:
  std::unique_ptr<UdpListeners> listeners_;
};

}  // namespace emqxd::gateways::lwm2m
