// emqxd: command line, logging, resource limits, then the Node.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/node.hpp"
#include "common/limits.hpp"
#include "common/log.hpp"
#include "config/config.hpp"

#ifndef EMQXD_VERSION
#define EMQXD_VERSION "0.0.0"
#endif

namespace {

void setup_logging(const emqxd::config::LogConfig& cfg) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>("emqxd", sink);
  spdlog::set_default_logger(logger);
  auto level = spdlog::level::from_str(cfg.console_level == "warning" ? "warn"
                                       : cfg.console_level == "none"  ? "off"
                                       : cfg.console_level == "notice" ? "info"
                                                                       : cfg.console_level);
  spdlog::set_level(level);
  if (cfg.console_formatter == "json") {
    spdlog::set_pattern(
        R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","module":"%n","msg":"%v"})");
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e [%l] [%n] %v");
  }
}

// One process may hold only as many sockets as its open-file limit allows: raise the soft
// limit to the hard one and say what we got.
void log_fd_limit() {
  emqxd::log::get("node")->info("open file limit {}", emqxd::raise_fd_limit());
}

int start(const std::string& config_path) {
  emqxd::config::Config cfg;
  try {
    cfg = emqxd::config::load(config_path, emqxd::config::environment());
  } catch (const emqxd::config::ConfigError& e) {
    std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
    return 2;
  }
  setup_logging(cfg.log);
  for (const auto& w : cfg.warnings) emqxd::log::get("config")->warn("{}", w);
  log_fd_limit();
  try {
    emqxd::app::Node node(std::move(cfg));
    node.start();
    node.run_until_signal();
  } catch (const std::exception& e) {
    emqxd::log::get("node")->critical("{}", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // First of all, so that a SIGTERM during start-up is a clean shutdown, not a kill.
  emqxd::app::Node::block_shutdown_signals();
  CLI::App app{
      "emqxd: an MQTT 3.1, 3.1.1 and 5.0 broker (one node; clustering is to come).\n"
      "Configuration: HOCON with EMQX 5 key names; every key can be overridden by an\n"
      "environment variable, e.g. EMQX_LISTENERS__TCP__DEFAULT__BIND=0.0.0.0:1884."};
  app.set_version_flag("-v,--version", std::string("emqxd ") + EMQXD_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  auto* start_cmd = app.add_subcommand(
      "start",
      "Run a node in the foreground; without -c, on the embedded defaults: MQTT/TCP on 1883 "
      "and MQTT/WebSocket on 8083 (/mqtt). SIGINT/SIGTERM stop it gracefully.");
  start_cmd->add_option("-c,--config", config_path, "HOCON config file (see deploy/emqx.conf)")
      ->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (start_cmd->parsed()) return start(config_path);
  return 0;
}
