#pragma once
// The configuration in force, EMQX's paths:
//
//   GET /api/v5/configs[?key=<root>]   the config as written: the file with the EMQX_*
//                                      overrides on it, secrets shown as "******"
//   GET /api/v5/configs/{root}         one root ({} when nothing under it is written)
//   PUT /api/v5/configs[/{root}]       400 UPDATE_FAILED: emqxd changes only its log
//                                      handlers at run time (PUT /api/v5/configs/log,
//                                      log_api.hpp); everything else is emqx.conf and a
//                                      restart
//   GET /api/v5/authentication[/{id}]  the authenticators, EMQX's ids
//                                      ("password_based:built_in_database")
//   GET /api/v5/authorization/sources[/{type}], /api/v5/authorization/settings
//
// Differences from EMQX, on purpose: keys left at their defaults are absent (EMQX fills
// them in; deploy/emqx.conf lists every default), and the answer is JSON only.
#include "api/route_table.hpp"
#include "config/config.hpp"

namespace emqxd::api {

// After add_log_routes: /api/v5/configs/log is matched there first.
void add_config_routes(RouteTable& t, const config::Config& config);

}  // namespace emqxd::api
