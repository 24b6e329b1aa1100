#pragma once
// The settings of the log handlers (log_handlers.hpp), apart so that config.hpp can hold
// them without spdlog.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emqxd::log {

// One handler as EMQX's config and API write it.
struct HandlerConfig {
  std::string name;  // "console", or a file handler's name ("default" for log.file {...})
  bool enable = true;
  std::string level = "warning";  // EMQX's names: debug ... emergency, all; also none
  std::string formatter = "text";
  std::string time_offset = "system";
  std::string timestamp_format = "auto";
  // A file handler's (empty path: the console).
  std::string path;
  std::uint64_t rotation_size = 50ull * 1024 * 1024;  // bytes; 0: infinity (never rotated)
  std::uint32_t rotation_count = 10;                  // files kept, the current one included
  bool is_file() const { return !path.empty(); }
};

struct LogSettings {
  HandlerConfig console;
  std::vector<HandlerConfig> files;
  // Set on its own (primary-level); nullopt: the least severe enabled handler's level.
  std::optional<std::string> primary_level;
};

}  // namespace emqxd::log
