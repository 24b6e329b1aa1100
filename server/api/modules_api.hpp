#pragma once
// EMQX's paths of its modules: delayed publish, topic rewrite and auto subscribe.
//
//   GET    /api/v5/mqtt/delayed                          {enable, max_delayed_messages}
//   PUT    /api/v5/mqtt/delayed                          the same, in force on every running
//                                                        node until it restarts (emqx.conf
//                                                        says what a node starts with)
//   GET    /api/v5/mqtt/delayed/messages                 ?page&limit: {"data","meta"}, every
//                                                        node's, in node order then due order
//   GET    /api/v5/mqtt/delayed/messages/{node}/{msgid}  one, payload in base64
//   DELETE /api/v5/mqtt/delayed/messages/{node}/{msgid}  it never fires
//   DELETE /api/v5/mqtt/delayed/messages/{topic}         every one to that topic, every node
//   GET    /api/v5/mqtt/topic_rewrite                    the rules as configured
//   PUT    /api/v5/mqtt/topic_rewrite                    refused: emqx.conf and a restart
//   GET    /api/v5/mqtt/auto_subscribe                   the topics as configured
//   PUT    /api/v5/mqtt/auto_subscribe                   refused: emqx.conf and a restart
//
// Each node keeps the delayed messages it received (session/delayed.hpp); the node asked
// asks every running node (NodeOps "delayed_*").
#include "api/control.hpp"
#include "api/route_table.hpp"
#include "config/config.hpp"

namespace emqxd::api {

void add_modules_routes(RouteTable& t, ClusterControl& control, const config::Config& config);

}  // namespace emqxd::api
