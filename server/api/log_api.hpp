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
//
//   GET    /api/v5/trace                      every trace, with status and log_size (each
//                                              running member's file size)
//   POST   /api/v5/trace                      {name, type, clientid|topic|ip_address,
//                                              start_at, end_at, payload_encode, formatter}
//   DELETE /api/v5/trace                      every trace
//   DELETE /api/v5/trace/{name}
//   PUT    /api/v5/trace/{name}/stop
//   GET    /api/v5/trace/{name}/download      a zip of every running member's file (or
//                                              ?node='s)
//   GET    /api/v5/trace/{name}/log?bytes=&position=&node=   {items, meta: {bytes, position}}
//   GET    /api/v5/trace/{name}/log_detail    [{node, size, mtime}], every running member
//
// A peer's part comes through ClusterControl::ask (NodeOps trace_read, trace_sizes).
#include "api/route_table.hpp"

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

class ClusterControl;

void add_log_routes(RouteTable& table);
void add_trace_routes(RouteTable& table, const session::NodeState& node, ClusterControl& control);

// A zip archive (stored, not compressed) of `files` (name, bytes): what python's zipfile
// and unzip read. Exposed for tests.
std::string make_zip(const std::vector<std::pair<std::string, std::string>>& files,
                     std::uint32_t dos_time = 0);

}  // namespace emqxd::api
