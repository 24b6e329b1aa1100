// emqxd: command line, logging, resource limits, then the Node.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string_view>

#include "app/cluster_cli.hpp"
#include "app/ctl.hpp"
#include "app/node.hpp"
#include "common/limits.hpp"
#include "common/log.hpp"
#include "common/log_handlers.hpp"
#include "config/config.hpp"

#ifndef EMQXD_VERSION
#define EMQXD_VERSION "0.0.0"
#endif

namespace {

// The console and the file handlers (common/log_handlers.hpp); their levels and formats
// change at run time through /api/v5/configs/log.
void setup_logging(const emqxd::config::LogConfig& cfg) {
  emqxd::log::LogSettings s;
  s.console = cfg.console;
  s.files = cfg.files;
  emqxd::log::configure(s);
}

// One process may hold only as many sockets as its open-file limit allows: raise the soft
// limit to the hard one and say what we got.
void log_fd_limit() {
  emqxd::log::get("node")->info("open file limit {}", emqxd::raise_fd_limit());
}

// "start, cluster": the commands `app` has, in the order they were added.
std::string subcommand_list(const CLI::App& app) {
  std::string out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    out += (out.empty() ? "" : ", ") + sub->get_name();
  }
  return out;
}

bool has_subcommand(const CLI::App& app, std::string_view name) {
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == name) return true;
  }
  return false;
}

int start(const std::string& config_path) {
  emqxd::config::Config cfg;
  try {
    cfg = emqxd::config::load(config_path, emqxd::config::environment());
  } catch (const emqxd::config::ConfigError& e) {
    std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
    return 2;
  }
  // Everything emqxd creates (node.data_dir, RocksDB's files, log and trace files) is its
  // user's alone: 0700 directories, 0600 files (app/node.cpp, prepare_data_dir).
  ::umask(0077);
  try {
    setup_logging(cfg.log);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
    return 2;
  }
  for (const auto& w : cfg.warnings)
    emqxd::log::get("config")->warn("{}", w);
  log_fd_limit();
  try {
    emqxd::app::Node node(std::move(cfg));
    node.start();
    node.run_until_signal();
  } catch (const emqxd::config::ConfigError& e) {
    // What the config names and only the node reads (authorization's acl.conf files).
    std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    emqxd::log::get("node")->critical("{}", e.what());
    return 1;
  }
  return 0;
}

// `emqxd check-config`: the file and the EMQX_* environment read as `start` reads them;
// 0 and "config OK" when start-up would accept them, 2 and the error (FILE:LINE: KEY)
// otherwise. What only a running node finds (ports taken, acl.conf's rules, TLS files'
// contents) is not tried.
int check_config(const std::string& config_path) {
  try {
    auto cfg = emqxd::config::load(config_path, emqxd::config::environment());
    for (const auto& w : cfg.warnings)
      std::fprintf(stderr, "emqxd: config warning: %s\n", w.c_str());
    std::printf("config OK: %s\n",
                config_path.empty() ? "(embedded defaults)" : config_path.c_str());
    return 0;
  } catch (const emqxd::config::ConfigError& e) {
    std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // First of all, so that a SIGTERM during start-up is a clean shutdown, not a kill.
  emqxd::app::Node::block_shutdown_signals();
  CLI::App app{
      "emqxd: a distributed MQTT 3.1, 3.1.1 and 5.0 broker.\n"
      "Configuration: HOCON with EMQX 5 key names; every key can be overridden by an\n"
      "environment variable, e.g. EMQX_LISTENERS__TCP__DEFAULT__BIND=0.0.0.0:1884."};
  app.set_version_flag("-v,--version", std::string("emqxd ") + EMQXD_VERSION);
  app.require_subcommand(1);

  std::string config_path;
  auto* start_cmd = app.add_subcommand(
      "start",
      "Run a node in the foreground; without -c, on the embedded defaults: MQTT/TCP on 1883, "
      "MQTT/WebSocket on 8083 (/mqtt) and the HTTP API with the web dashboard on 18083 "
      "(log in at http://127.0.0.1:18083/; Prometheus scrapes "
      "/api/v5/prometheus/stats there; alarms at /api/v5/alarms). SIGINT/SIGTERM stop it "
      "gracefully. Logs go to stderr (log.console) and to the files of log.file; their levels "
      "change at run time through the HTTP API (/api/v5/configs/log), and log traces of a "
      "client, topic or address are made there too (/api/v5/trace). EMQX's delayed publish "
      "($delayed/<seconds>/<topic>), topic rewrite, auto subscribe and exclusive "
      "subscriptions ($exclusive/<filter>) are configured with EMQX's keys (delayed, rewrite, "
      "auto_subscribe, mqtt.exclusive_subscription; docs/modules.md).");
  start_cmd->add_option("-c,--config", config_path, "HOCON config file (see deploy/emqx.conf)")
      ->check(CLI::ExistingFile);

  std::string check_path;
  auto* check_cmd = app.add_subcommand(
      "check-config",
      "Read the config file (or the embedded defaults) and the EMQX_* variables as `start` "
      "would, and say whether start-up accepts them: exit 0, or 2 with the file, line and "
      "key of the first error");
  check_cmd->add_option("-c,--config", check_path, "HOCON config file")->check(CLI::ExistingFile);

  emqxd::app::ClusterCommand cluster;
  auto* cluster_cmd = app.add_subcommand(
      "cluster",
      "Cluster membership of the running local node, through its HTTP API. Exit status: 0 "
      "done, 1 the node refused (its message is printed), 2 bad usage, API unreachable or "
      "credentials refused.");
  cluster_cmd->require_subcommand(1);
  cluster_cmd
      ->add_option("--api", cluster.api_options.api,
                   "HOST:PORT of the node's HTTP API (default: dashboard.listeners.http.bind of "
                   "-c FILE, else 127.0.0.1:18083; a 0.0.0.0 or [::] bind means 127.0.0.1)")
      ->type_name("HOST:PORT");
  cluster_cmd
      ->add_option("-c,--config", cluster.api_options.config_path,
                   "the config file the node runs with: where its API listens and its "
                   "credentials (EMQX_* overrides applied)")
      ->check(CLI::ExistingFile);
  auto* username =
      cluster_cmd
          ->add_option("--username",
                       "API user (default: $EMQXD_API_USERNAME, else dashboard.default_username)")
          ->type_name("USER");
  // On the command line a password shows in `ps`; the environment variable does not.
  auto* password = cluster_cmd
                       ->add_option("--password",
                                    "API password (default: $EMQXD_API_PASSWORD, else "
                                    "dashboard.default_password)")
                       ->type_name("PASSWORD");
  auto* join_cmd =
      cluster_cmd->add_subcommand("join", "Join the cluster that NODE belongs to")->fallthrough();
  join_cmd
      ->add_option("node", cluster.node,
                   "a member to contact, name@host[:port] (port: its cluster.rpc.bind, 4370 when "
                   "not written)")
      ->required();
  auto* leave_cmd =
      cluster_cmd->add_subcommand("leave", "Leave the cluster (this node)")->fallthrough();
  auto* force_cmd =
      cluster_cmd
          ->add_subcommand("force-leave", "Remove NODE, down or unreachable, from the cluster")
          ->fallthrough();
  force_cmd->add_option("node", cluster.node, "the node to remove, name@host[:port]")->required();
  auto* status_cmd = cluster_cmd
                         ->add_subcommand("status",
                                          "Members as this node sees them: node, address, state, "
                                          "incarnation, routes, link; then the totals")
                         ->fallthrough();
  status_cmd->add_flag("--json", cluster.json, "print the node's JSON answer as received");

  emqxd::app::CtlCommand ctl;
  auto* ctl_cmd = app.add_subcommand(
      "ctl",
      "EMQX's `emqx ctl` commands, through the running local node's HTTP API: status, broker "
      "[stats|metrics], cluster, clients, subscriptions, topics, retainer, listeners, log, "
      "traces, banned, admins, rebalance (node evacuation) "
      "(`emqxd ctl help` lists them). --json prints the API's JSON. Exit status as "
      "`emqxd cluster`.");
  ctl_cmd->prefix_command();  // VERB and its words are ctl's, not options
  ctl_cmd
      ->add_option("--api", ctl.api_options.api,
                   "HOST:PORT of the node's HTTP API (default: as `emqxd cluster`)")
      ->type_name("HOST:PORT");
  ctl_cmd
      ->add_option("-c,--config", ctl.api_options.config_path,
                   "the config file the node runs with (its API address and credentials)")
      ->check(CLI::ExistingFile);
  auto* ctl_username = ctl_cmd->add_option("--username", "API user")->type_name("USER");
  auto* ctl_password = ctl_cmd->add_option("--password", "API password (or $EMQXD_API_PASSWORD)")
                           ->type_name("PASSWORD");
  ctl_cmd->add_flag("--json", ctl.json, "print the API's JSON answer");
  // `emqxd` alone or `emqxd bogus`: name the commands there are (CLI11 would only say that
  // one is required).
  if (argc < 2 || (argv[1][0] != '-' && !has_subcommand(app, argv[1]))) {
    std::string what =
        argc < 2 ? "a command is required" : "unknown command \"" + std::string(argv[1]) + "\"";
    std::fprintf(stderr,
                 "emqxd: %s: use one of %s, --help, --version (emqxd --help describes them)\n",
                 what.c_str(), subcommand_list(app).c_str());
    return emqxd::app::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; any usage error exits 2.
    return app.exit(e) == 0 ? 0 : emqxd::app::kExitUsage;
  }
  if (start_cmd->parsed()) return start(config_path);
  if (check_cmd->parsed()) return check_config(check_path);
  if (ctl_cmd->parsed()) {
    for (auto& word : ctl_cmd->remaining()) {
      if (word == "--json") {
        ctl.json = true;  // also after the verb, as `emqx ctl ... --json` users type it
      } else {
        ctl.words.push_back(word);
      }
    }
    if (ctl_username->count() > 0) ctl.api_options.username = ctl_username->as<std::string>();
    if (ctl_password->count() > 0) ctl.api_options.password = ctl_password->as<std::string>();
    return emqxd::app::run_ctl(ctl, emqxd::config::environment());
  }
  if (cluster_cmd->parsed()) {
    for (auto* sub : {join_cmd, leave_cmd, force_cmd, status_cmd}) {
      if (sub->parsed()) cluster.action = sub->get_name();
    }
    if (username->count() > 0) cluster.api_options.username = username->as<std::string>();
    if (password->count() > 0) cluster.api_options.password = password->as<std::string>();
    return emqxd::app::run_cluster_command(cluster, emqxd::config::environment());
  }
  return 0;
}
