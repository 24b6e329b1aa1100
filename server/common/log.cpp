#include "common/log.hpp"

#include <spdlog/sinks/sink.h>

#include "common/log_handlers.hpp"

namespace emqxd::log {

void install(std::shared_ptr<spdlog::sinks::sink> sink, std::string_view formatter,
             spdlog::level::level_enum level) {
  sink->set_formatter(make_formatter(formatter, "auto", "system"));
  auto logger = std::make_shared<spdlog::logger>("emqxd", std::move(sink));
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
}

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  if (auto existing = spdlog::get(module)) return existing;
  auto def = spdlog::default_logger();
  auto created = std::make_shared<spdlog::logger>(module, def->sinks().begin(), def->sinks().end());
  created->set_level(def->level());
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get(module);  // another thread registered it first
  }
  return created;
}

}  // namespace emqxd::log
