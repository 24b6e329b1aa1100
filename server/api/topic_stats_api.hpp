#pragma once
// EMQX's topic metrics and slow subscriptions paths (session/topic_metrics.hpp,
// session/slow_subs.hpp). Whichever node is asked answers for the cluster: it asks every
// running member (NodeOps operations added here) and adds up or merges their answers.
//
//   GET    /api/v5/mqtt/topic_metrics          every registered topic: [{topic, create_time,
//                                              reset_time?, metrics{"messages.in.count",
//                                              "messages.in.rate", ...}}], summed over nodes
//   POST   /api/v5/mqtt/topic_metrics          {"topic"}: register (400 BAD_TOPIC for a
//                                              wildcard or one registered already, 409
//                                              EXCEED_LIMIT past 512); its metrics
//   PUT    /api/v5/mqtt/topic_metrics          {"action": "reset", "topic"?}: zero one topic's
//                                              counts or all, on every node
//   GET    /api/v5/mqtt/topic_metrics/{topic}  one topic (404 TOPIC_NOT_FOUND)
//   DELETE /api/v5/mqtt/topic_metrics/{topic}  stop counting it, on every node
//   GET    /api/v5/slow_subscriptions          ?page&limit: {"data": [{clientid, node, topic,
//                                              timespan, last_update_time}], "meta"}, largest
//                                              first, at most 1,000 over the cluster
//   DELETE /api/v5/slow_subscriptions          forget every record on every node
//   GET    /api/v5/slow_subscriptions/settings the slow_subs settings in force
//   PUT    /api/v5/slow_subscriptions/settings new ones, for every node (kept across restarts)
//
// A topic in a path is one %-encoded segment ("a%2Fb").
#include "api/control.hpp"
#include "api/node_ops.hpp"
#include "api/route_table.hpp"

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

void add_topic_stats_routes(RouteTable& t, ClusterControl& control, const std::string& self);
// The operations those routes ask every node; `node` must outlive `ops`.
void add_topic_stats_ops(NodeOps& ops, session::NodeState& node);

}  // namespace emqxd::api
