#pragma once
// The log handlers of EMQX 5 (`log.console`, `log.file`, `log.file.<name>`), and their
// levels changed while the node runs (GET/PUT /api/v5/configs/log, api/log_api.cpp).
//
// Every module's spdlog logger (log.hpp) has the same sinks: one HandlerSink per handler
// configured at start-up, the console first. The set is fixed then (a logger's sink list
// cannot change under other threads); what a PUT may change lives inside each sink under its
// own mutex: whether it writes, its level and its line format. A file handler opens its file
// when it is enabled and closes it when disabled. Path and rotation are fixed at start-up.
//
// Two levels filter a line, as in EMQX's logger: the primary level (every module logger's
// own level, checked before any sink is asked: the cheap "is debug on at all") and each
// handler's level. The primary level follows the handlers (the least severe level of an
// enabled handler) unless set on its own (`emqxd ctl log primary-level`).
//
// Lines (LineFormat): text `2026-12-04T18:00:00.123456+01:00 [info] [node] message`, or
// json `{"time":1796407200123456,"level":"info","module":"node","msg":"message"}`, each one
// valid JSON whatever the message holds (json_text.hpp). timestamp_format auto is rfc3339
// for text and epoch (microseconds) for json, as EMQX; time_offset is system (the local
// zone), utc, or +hh:mm / -hh:mm.
//
// Threads: configure() once in main before other threads log; the rest from any thread.
#include <spdlog/formatter.h>
#include <spdlog/sinks/sink.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/log_settings.hpp"

namespace emqxd::log {

// EMQX's level names, with "none": the spdlog level (warning -> warn, notice -> info,
// critical/alert/emergency -> critical, all -> trace... debug); nullopt for another word.
std::optional<spdlog::level::level_enum> parse_level(std::string_view name);
// The canonical form of an accepted name (all -> debug, alert -> error, ...).
std::string canonical_level(std::string_view name);
// "system", "utc", "+hh:mm", "-hh:mm" (EMQX's validator).
bool valid_time_offset(std::string_view offset);

// A formatter of lines (above).
std::unique_ptr<spdlog::formatter> make_formatter(std::string_view formatter,
                                                  std::string_view timestamp_format,
                                                  std::string_view time_offset);

// Installs the handlers for the whole process: the console on stderr, each file handler on
// its file (directory created if missing, files created under the process umask). Throws
// std::runtime_error naming a file that cannot be opened.
void configure(const LogSettings& settings);

// The handlers as they are now.
LogSettings settings();
// The primary level in force (explicit or derived).
std::string primary_level();

// A change of what may change at run time: enable, level, formatter, time_offset and
// timestamp_format of handlers that exist. Returns an empty string when applied, else what
// is wrong (nothing applied): "log.file.default.path cannot change at run time", ...
std::string update(const LogSettings& wanted);
// Every handler's level and the primary level (`emqxd ctl log set-level`).
void set_all_levels(std::string_view level);
// The primary level alone (`emqxd ctl log primary-level`).
void set_primary_level(std::string_view level);

}  // namespace emqxd::log
