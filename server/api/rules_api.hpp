#pragma once
// EMQX's rule engine paths (rules/engine.hpp). The rules are the cluster's (a replicated
// table), so any node's API reads and changes them all; the metrics are each node's, and
// the API adds them up (NodeOps operations added here).
//
//   GET    /api/v5/rules                    ?enable&from&like_id&like_from&match_from
//                                           &like_description&page&limit: {"data": [rule],
//                                           "meta"} ("count" only without a filter), by id
//   POST   /api/v5/rules                    {id?, sql, actions, enable, description, name}:
//                                           201 the rule; 400 a bad field, an existing id
//   GET    /api/v5/rules/{id}               the rule; 404 NOT_FOUND
//   PUT    /api/v5/rules/{id}               fields to change (or a whole rule, which PUT
//                                           makes when the id is new, as EMQX's): 200
//   DELETE /api/v5/rules/{id}               204; 404
//   GET    /api/v5/rules/{id}/metrics       {"id", "metrics", "node_metrics": [{node,
//                                           metrics}]}: matched, passed, failed, ...
//   PUT    /api/v5/rules/{id}/metrics/reset 204, on every node
//   POST   /api/v5/rule_test                {sql, context}: the rule's output over the
//                                           event the context describes (message_publish
//                                           unless context.event_type says otherwise);
//                                           412 NOT_MATCH; 400 a bad SQL or a failed run
//   GET    /api/v5/rule_events              the events a rule may read, with their columns
//   GET    /api/v5/rule_engine              {"ignore_sys_message"}
//   GET    /api/v5/prometheus/data_integration ?mode=node|all_nodes_aggregated|
//                                           all_nodes_unaggregated: EMQX's emqx_rules_count
//                                           and emqx_rule_* per rule (label id), in the text
//                                           format, or JSON for Accept: application/json;
//                                           no credentials unless
//                                           prometheus.enable_basic_auth (as /stats)
//
// A rule as the API shows it: {"id", "name", "from", "actions", "sql", "enable",
// "created_at" (RFC 3339, ms), "description"}.
#include "api/control.hpp"
#include "api/node_ops.hpp"
#include "api/route_table.hpp"

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

void add_rules_routes(RouteTable& t, ClusterControl& control, const session::NodeState& node);
// The operations those routes ask a node; `node` must outlive `ops`.
void add_rules_ops(NodeOps& ops, session::NodeState& node);

}  // namespace emqxd::api
