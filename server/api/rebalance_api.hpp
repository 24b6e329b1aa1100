#pragma once
// EMQX's node evacuation paths (net/evacuation.hpp). Any node's API answers for any node:
// it asks that node (NodeOps operations added here).
//
//   POST /api/v5/load_rebalance/{node}/evacuation/start  {conn_evict_rate, sess_evict_rate,
//                                                        wait_takeover, wait_health_check,
//                                                        redirect_to}: 200 {}; 400 when one
//                                                        is going on or an argument is bad
//                                                        (migrate_to: emqxd does not move
//                                                        sessions without their clients)
//   POST /api/v5/load_rebalance/{node}/evacuation/stop   200 {}; 400 when none is going on
//   GET  /api/v5/load_rebalance/status                   this node's: {"process":
//                                                        "evacuation", "state", rates,
//                                                        "stats": {initial_connected,
//                                                        current_connected, initial_sessions,
//                                                        current_sessions}} or {"status":
//                                                        "disabled"}
//   GET  /api/v5/load_rebalance/global_status            {"evacuations": [the same with
//                                                        "node"], "rebalances": []}
//   GET  /api/v5/load_rebalance/availability_check       200 {}, or 503 while this node is
//                                                        evacuated; no credentials (for load
//                                                        balancers)
// A {node} that is not a running member is a 404. EMQX's load rebalancing between nodes
// (/api/v5/load_rebalance/{node}/start) is not there.
#include "api/control.hpp"
#include "api/node_ops.hpp"
#include "api/route_table.hpp"

namespace emqxd::net {
class Evacuation;
}
namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

void add_rebalance_routes(RouteTable& t, ClusterControl& control, const session::NodeState& node);
// The operations those routes ask a node; `evacuation` must outlive `ops`.
void add_rebalance_ops(NodeOps& ops, net::Evacuation& evacuation);

}  // namespace emqxd::api
