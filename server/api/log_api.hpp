#pragma once
// Logs and traces on /api/v5, EMQX's shapes:
//
//   GET    /api/v5/configs/log        {"console": {...}, "file": {"<name>": {...}}}
//   PUT    /api/v5/configs/log        the same object, whole or in part: enable, level,
//                                     formatter, time_offset, timestamp_format change at
//                                     once; path, rotation_count, rotation_size and new
//                                     handlers cannot (400 naming them)
//   GET    /api/v5/log/level          emqxd's: the primary level and each handler's
//   PUT    /api/v5/log/level          emqxd's: {"level": L}, every handler and the primary
//                                     level (`emqxd ctl log set-level`)
//   PUT    /api/v5/log/primary_level  emqxd's: {"level": L} (`emqxd ctl log primary-level`)

#include "api/route_table.hpp"

namespace emqxd::api {

void add_log_routes(RouteTable& table);

}  // namespace emqxd::api
