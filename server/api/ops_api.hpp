#pragma once
// The operations paths of /api/v5, EMQX's shapes:
//
//   GET    /api/v5/prometheus/stats[?mode=node|all_nodes_aggregated|all_nodes_unaggregated]
//          the text exposition format, or EMQX's JSON with Accept: application/json
//          (prometheus.hpp). No credentials unless prometheus.enable_basic_auth = true
//          (Router: RouterOptions::open_paths).
//   GET    /api/v5/alarms[?activated=true|false&page&limit]  {"data": [...], "meta": {...}}
//   DELETE /api/v5/alarms   forgets the deactivated alarms (204)
//
// The cluster-wide forms (all_nodes_*, other nodes' alarms) need the peers' parts:
// OpsContext::peer_samples and peer_alarms, when the node fills them in; without them this
// node's part is the whole answer.
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

struct OpsContext {
  Alarms* alarms = nullptr;         // null: /api/v5/alarms lists none
  net::StatPeaks* peaks = nullptr;  // null: the router keeps its own
  // The other running nodes' samples (for the all_nodes_* modes); empty: none asked.
  std::function<std::vector<prom::NodeSample>()> peer_samples;
  // The other running nodes' alarms, as alarm_api_json objects with their "node".
  std::function<std::vector<boost::json::object>(std::optional<bool> activated)> peer_alarms;
};

void add_ops_routes(RouteTable& table, const session::NodeState& node, ClusterControl& control,
                    OpsContext ops);

}  // namespace emqxd::api
