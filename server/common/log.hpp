#pragma once
// One spdlog logger per module (STYLE.md section 10), created on first use and shared by
// every thread. Nothing is logged per message at info level.
#include <spdlog/spdlog.h>

#include <memory>
#include <string>

namespace emqxd::log {

// The logger of `module` ("channel", "listener", "node", ...), sinking where the default
// logger sinks, at the default level. Safe to call from any thread.
std::shared_ptr<spdlog::logger> get(const std::string& module);

}  // namespace emqxd::log
