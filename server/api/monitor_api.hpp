#pragma once
// The monitoring paths of /api/v5, EMQX's shapes:
//
//   GET    /api/v5/prometheus/stats[?mode=node|all_nodes_aggregated|all_nodes_unaggregated]
//          the text exposition format, or EMQX's JSON with Accept: application/json
//          (prometheus.hpp). No credentials unless prometheus.enable_basic_auth = true
//          (Router: RouterOptions::open_paths).
//   GET    /api/v5/alarms[?activated=true|false&page&limit]  {"data": [...], "meta": {...}}
//   DELETE /api/v5/alarms   forgets the deactivated alarms (204)
//
// The cluster-wide forms (all_nodes_*, every node's alarms, clearing them) ask the other
// running members for their parts through ClusterControl::ask (NodeOps: prom_sample, alarms,
// alarms_clear), 5 s each; a member that does not answer in time is left out.
#include <functional>
#include <vector>

#include "api/alarms.hpp"
#include "api/prometheus.hpp"
#include "api/route_table.hpp"

namespace emqxd::net {
class StatPeaks;
}
namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

class ClusterControl;

struct MonitorContext {
  Alarms* alarms = nullptr;         // null: /api/v5/alarms lists none
  net::StatPeaks* peaks = nullptr;  // null: the router keeps its own
};

void add_monitor_routes(RouteTable& table, const session::NodeState& node, ClusterControl& control,
                        MonitorContext ops);

}  // namespace emqxd::api
