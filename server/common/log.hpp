#pragma once
// One spdlog logger per module (docs/contributing.md, "Names, files, sizes"), created on
// first use and shared by every thread. Nothing is logged per message at info level.
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace emqxd::log {

// Makes `sink` the only sink of the default logger, which every module's logger copies
// (so call it before get()), at `level`, in the format `formatter` with timestamp_format
// auto and time_offset system (log_handlers.hpp, which emqxd itself uses):
//   "text"  2026-12-04T18:00:00.000000+01:00 [info] [node] message
//   "json"  {"time":1796403600000000,"level":"info","module":"node","msg":"..."}
// A JSON line is one valid JSON object whatever the message holds (quotes, backslashes,
// newlines, control characters, ill-formed UTF-8, which becomes U+FFFD).
void install(std::shared_ptr<spdlog::sinks::sink> sink, std::string_view formatter,
             spdlog::level::level_enum level);

// The logger of `module` ("channel", "listener", "node", ...), sinking where the default
// logger sinks, at the default level. Safe to call from any thread.
std::shared_ptr<spdlog::logger> get(const std::string& module);

// Repeats are rate-limited (docs/contributing.md, "Bounded queues, counted drops"): one
// Throttle per call site and thread (`thread_local`), at most `per_second` lines in any
// one-second window. allow() says whether this line may go out; when it may after some
// were held back, `suppressed` says how many, so the line can mention them.
class Throttle {
 public:
  explicit Throttle(std::uint32_t per_second = 10) : per_second_(per_second) {}
  bool allow(std::chrono::steady_clock::time_point now, std::uint64_t& suppressed) {
    if (now - window_start_ >= std::chrono::seconds(1)) {
      window_start_ = now;
      in_window_ = 0;
    }
    if (in_window_ >= per_second_) {
      ++held_back_;
      return false;
    }
    ++in_window_;
    suppressed = held_back_;
    held_back_ = 0;
    return true;
  }

 private:
  std::uint32_t per_second_;
  std::uint32_t in_window_ = 0;
  std::uint64_t held_back_ = 0;
  std::chrono::steady_clock::time_point window_start_{};
};

}  // namespace emqxd::log
