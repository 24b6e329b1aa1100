#pragma once
// EMQX 5's data integration paths (connectors/integrations.hpp, docs/connectors.md). The
// definitions are the cluster's (replicated tables): any node's API reads and changes them
// all; each node runs its own connectors and actions, so status and metrics are asked of
// every running node (NodeOps operations added here) and combined.
//
//   GET    /api/v5/connectors                      [connector]
//   POST   /api/v5/connectors                      {type, name, ...}: 201 the connector;
//                                                  400 ALREADY_EXISTS, BAD_REQUEST
//   GET    /api/v5/connectors/{type}:{name}        the connector; 404 NOT_FOUND
//   PUT    /api/v5/connectors/{id}                 a new definition: 200; 404, 400
//   DELETE /api/v5/connectors/{id}                 204; 400 while actions use it; 404
//   PUT    /api/v5/connectors/{id}/enable/{bool}   204
//   POST   /api/v5/connectors/{id}/start           a health check now: 204
//   POST   /api/v5/connectors_probe                {type, name, ...}: 204 when it connects,
//                                                  400 TEST_FAILED
//   GET    /api/v5/actions                         [action]
//   POST   /api/v5/actions                         {type, name, connector, parameters, ...}
//   GET, PUT, DELETE /api/v5/actions/{id}          as connectors'
//   PUT    /api/v5/actions/{id}/enable/{bool}      204
//   GET    /api/v5/actions/{id}/metrics            {"metrics", "node_metrics"}
//   PUT    /api/v5/actions/{id}/metrics/reset      204, on every node
//   GET    /api/v5/action_types                    ["http"]
//
// A connector or an action as the API shows it: its definition as written, with "type",
// "name", "status" (connected | connecting | disconnected | stopped | inconsistent when the
// nodes disagree), "status_reason", "node_status": [{node, status, status_reason}], and
// "actions" (a connector's action names).
#include "api/control.hpp"
#include "api/node_ops.hpp"
#include "api/route_table.hpp"

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

void add_connectors_routes(RouteTable& t, ClusterControl& control, const std::string& self);
// The operations those routes ask a node; `node` must outlive `ops`.
void add_connectors_ops(NodeOps& ops, session::NodeState& node);

}  // namespace emqxd::api
