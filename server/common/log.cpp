#include "common/log.hpp"

namespace emqxd::log {

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
