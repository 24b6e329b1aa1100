#pragma once
// EMQX's retained-message paths. Every node holds every retained message
// (broker/retainer.hpp), so the node asked answers from its own copy (NodeOps, over
// ClusterControl::ask to itself, so that deletes run on a worker and reach every peer):
//
//   GET    /api/v5/mqtt/retainer                  the retainer's settings, EMQX's shape
//   GET    /api/v5/mqtt/retainer/messages         ?page&limit&topic=<filter>: {"data","meta"}
//   DELETE /api/v5/mqtt/retainer/messages         ?topic=<filter>: every match, or all
//                                                 (emqxd's; `emqxd ctl retainer clean`)
//   GET    /api/v5/mqtt/retainer/message/{topic}  one message, payload in base64
//   DELETE /api/v5/mqtt/retainer/message/{topic}  clears it on every node, delivers nothing
//
// The topic in a path is one %-encoded segment ("a%2Fb"). EMQX's from_clientid and
// from_username are null: emqxd does not keep a retained message's publisher.
#include <string>

#include "api/control.hpp"
#include "api/route_table.hpp"
#include "config/config.hpp"

namespace emqxd::api {

void add_retainer_routes(RouteTable& t, ClusterControl& control, const config::Config& config);

}  // namespace emqxd::api
