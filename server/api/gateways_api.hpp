#pragma once
// EMQX's gateway paths (docs/gateways.md), answered for the whole cluster by whichever node
// is asked; each running member says what its gateways run (the "gateways" operation):
//
//   GET    /api/v5/gateways                    every gateway EMQX has: name and status
//                                              ("running", "stopped", "unloaded"), and for
//                                              a loaded one its connections and listeners
//   GET    /api/v5/gateways/{name}             its configuration, status and listeners
//   GET    /api/v5/gateways/{name}/listeners   each listener with each member's view
//                                              (node_status), connections summed
//   GET    /api/v5/gateways/{name}/clients[?page&limit&node&clientid&username&...]
//                                              its clients (the /api/v5/clients shape, with
//                                              the gateway's proto_name and proto_ver)
//   GET    /api/v5/gateways/{name}/clients/{clientid}     DELETE: kick it
//
// Gateways are configured in the config file (gateway.<name>); PUT and the enable paths
// of EMQX are not there.
#include <functional>
#include <string>
#include <vector>

#include "api/control.hpp"
#include "api/node_ops.hpp"
#include "api/route_table.hpp"
#include "config/config.hpp"

namespace emqxd::api {

void add_gateway_routes(RouteTable& t, ClusterControl& control);

// One listener of a gateway on this node, as its gateway says.
struct GatewayListenerStatus {
  std::string type, name, bind;
  bool running = false;
  std::uint32_t connections = 0, max_connections = 0;
};
// The "gateways" operation: the gateways `cfg` configures, with the listeners
// `listeners(name)` says they run (any thread; empty while none runs). `cfg` must outlive
// `ops`.
void add_gateway_ops(NodeOps& ops, const config::Config& cfg,
                     std::function<std::vector<GatewayListenerStatus>(std::string_view)> listeners);

}  // namespace emqxd::api
