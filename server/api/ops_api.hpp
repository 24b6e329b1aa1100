#pragma once
// The operations paths of /api/v5, EMQX's shapes, answered for the whole cluster by
// whichever node is asked (each running member runs its part: node_ops.hpp):
//
//   GET    /api/v5/nodes, /nodes/{node}, /nodes/{node}/stats, /nodes/{node}/metrics
//   GET    /api/v5/stats[?aggregate=true], /metrics[?aggregate=true]
//          (as EMQX: one object per running node, or one summed over the cluster)
//   GET    /api/v5/clients[?page&limit&node&clientid&username&ip_address&conn_state
//          &clean_start&proto_ver&like_clientid&like_username&gte_created_at
//          &lte_created_at&gte_connected_at&lte_connected_at&fields]
//   GET    /api/v5/clients/{clientid}              DELETE: kick (and end the session)
//   POST   /api/v5/clients/kickout/bulk            ["id", ...]
//   GET    /api/v5/clients/{clientid}/subscriptions
//   POST   /api/v5/clients/{clientid}/subscribe[/bulk]      {"topic","qos","nl","rap","rh"}
//   POST   /api/v5/clients/{clientid}/unsubscribe[/bulk]    {"topic"}
//   GET    /api/v5/clients/{clientid}/mqueue_messages|inflight_messages[?limit&position]
//   GET    /api/v5/subscriptions[?page&limit&node&clientid&topic&qos&share_group&match_topic]
//   GET    /api/v5/topics[?page&limit&topic]       (the routes, EMQX's topics shape)
//   POST   /api/v5/publish, /api/v5/publish/bulk   EMQX's message objects
//   GET    /api/v5/listeners, /listeners/{id}      each member's view in node_status
//   POST   /api/v5/listeners/{id}/stop|start|restart   on every running member
//
// Listings are paged across nodes in the order of their names, each node's part sorted,
// so that page N asked of any node is the same page.
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/control.hpp"
#include "api/route_table.hpp"

namespace emqxd::api {

void add_ops_routes(RouteTable& table, ClusterControl& control);

// A listing paged across `nodes`, in node order, of the node operation `op` (answering
// {"count", "data"} for {offset, limit} and `args`): EMQX's {"data", "meta"}. A node
// that does not answer is left out.
Response paged(ClusterControl& control, const std::vector<std::string>& nodes,
               const std::string& op, boost::json::object args, std::size_t page,
               std::size_t limit);

// The first answer of `op` that is not a 404 among the running nodes (a client is on one
// node); nullopt when every node said 404 or none answered.
std::optional<NodeAnswer> on_owner(ClusterControl& control, const std::string& op,
                                   const boost::json::object& args);

}  // namespace emqxd::api
