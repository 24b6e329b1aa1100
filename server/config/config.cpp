// Config loading: HOCON file -> EMQX_* environment overrides -> substitutions -> the typed
// Config. The walk follows the key table (keys.cpp): each key it meets is applied, named
// with FILE:LINE when its value is wrong; keys nobody knows become warnings, keys of EMQX
// features we have not built are accepted quietly so an EMQX emqx.conf loads without noise.
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <utility>

#include "config/hocon.hpp"
#include "config/schema.hpp"

extern char** environ;  // NOLINT: POSIX

namespace emqxd::config {
namespace {

using detail::duration_text;
using detail::fail;
using detail::In;
using detail::key_table;
using detail::KeySpec;
using detail::ListenerDraft;
using detail::LoadState;
using detail::relate;
using detail::Relation;
using detail::Shape;
using detail::shown;
using hocon::Value;

// Keys of the EMQX 5 schema that emqxd accepts without a warning: features not built yet
// (their module will map them), and Erlang VM settings that have no meaning here. A key
// matches an entry equal to it or below it.
constexpr std::string_view kQuietKeys[] = {
    // Whole roots.
    "alarm", "api_key", "actions", "authentication", "authorization", "auto_subscribe", "banned",
    "bridges", "broker", "conn_congestion", "connectors", "crl_cache", "delayed", "exhook",
    "file_transfer", "flapping_detect", "force_gc", "force_shutdown", "gateway", "license",
    "limiter", "message_transformation", "opentelemetry", "overload_protection", "plugins",
    "prometheus", "psk_authentication", "rpc", "rule_engine", "schema_registry",
    "schema_validation", "session_persistence", "slow_subs", "sources", "stats", "statsd", "sysmon",
    "telemetry", "topic_metrics", "trace", "zones",
    // Below mapped roots.
    // dashboard.listeners.http.{bind,enable} and default_username/password are read (not
    // through this list); EMQX's other dashboard keys (https, cors, sso, ...) are quiet.
    "dashboard",
    "log.file", "log.audit", "log.throttling", "log.console.time_offset", "log.console.chars_limit",
    "log.console.max_depth", "log.console.single_line", "log.console.timestamp_format",
    "log.console.payload_encode", "node.cookie", "node.process_limit", "node.max_ports",
    "node.dist_buffer_size", "node.max_ets_tables", "node.global_gc_interval",
    "node.crash_dump_file", "node.crash_dump_seconds", "node.crash_dump_bytes",
    "node.dist_net_ticktime", "node.backtrace_depth", "node.role", "node.etc_dir",
    "node.config_files", "node.data_dir_perms", "node.default_shutdown_timeout",
    "node.shutdown_timeout", "node.broker_pool_size", "node.generic_pool_size",
    "node.channel_cleanup_batch_size", "node.cluster_call",
    // EMQX's durable session tuning and its built-in durable storage backends: emqxd keeps
    // durable sessions its own way (durable_sessions.enable/sync, durable_storage.rocksdb).
    "durable_sessions.batch_size", "durable_sessions.idle_poll_interval",
    "durable_sessions.heartbeat_interval", "durable_sessions.renew_streams_interval",
    "durable_sessions.session_gc_interval", "durable_sessions.session_gc_batch_size",
    "durable_sessions.subscription_count_refresh_interval",
    "durable_sessions.disconnected_session_count_refresh_interval",
    "durable_sessions.message_retention_period", "durable_sessions.force_persistence",
    "durable_sessions.checkpoint_interval", "durable_sessions.shared_subs",
    "durable_storage.messages", "durable_storage.sessions", "durable_storage.timers",
    "durable_storage.shared_subs", "durable_storage.queues",
    // EMQX's cluster keys for what emqxd does its own way or not yet: discovery by DNS, etcd
    // and k8s (rejected by discovery_strategy for now), Mria core nodes, Erlang
    // distribution, cluster linking.
    "cluster.dns", "cluster.etcd", "cluster.k8s", "cluster.mcast", "cluster.core_nodes",
    "cluster.proto_dist", "cluster.quic_lb_mode", "cluster.prevent_overlapping_partitions",
    "cluster.links"};

bool is_quiet(std::string_view key) {
  for (std::string_view q : kQuietKeys) {
    if (key == q || (key.size() > q.size() && key.starts_with(q) && key[q.size()] == '.')) {
      return true;
    }
  }
  return false;
}

// ----------------------------------------------------------------------------- the walk

// Every entry of the table whose path starts with `root`'s name has that root.
bool is_mapped_root(std::string_view root) {
  for (const KeySpec& k : key_table()) {
    if (k.path.substr(0, k.path.find('.')) == root) return true;
  }
  return false;
}

bool is_known_root(std::string_view root) { return is_mapped_root(root) || is_quiet(root); }

class Walker {
 public:
  explicit Walker(LoadState& s) : s_(s) {}

  void walk_root(const Value& root) {
    std::vector<std::string> parts;
    walk(root, parts, "");
  }

 private:
  LoadState& s_;

  void walk(const Value& obj, std::vector<std::string>& parts, const std::string& key) {
    for (const auto& f : obj.fields()) {
      parts.push_back(f.key);
      visit(f.value, parts, key.empty() ? f.key : key + "." + f.key);
      parts.pop_back();
    }
  }

  void visit(const Value& v, std::vector<std::string>& parts, const std::string& key) {
    const KeySpec* exact = nullptr;
    bool above = false;
    for (const KeySpec& k : key_table()) {
      Relation r = relate(k.path, parts);
      if (r == Relation::Exact) exact = &k;
      if (r == Relation::Above) above = true;
    }
    if (exact != nullptr) {
      exact->apply(In{s_, v, key, parts});
      if (exact->shape == Shape::Section && v.is_object()) walk(v, parts, key);
      return;
    }
    if (above) {
      if (!v.is_object()) fail(v, key, "expected an object, got " + shown(v));
      walk(v, parts, key);
      return;
    }
    unknown(v, key);
  }

  void unknown(const Value& v, const std::string& key) {
    if (is_quiet(key)) return;
    s_.cfg.warnings.push_back(v.origin().to_string() + ": unknown key " + key + " (ignored)");
  }
};

// ----------------------------------------------------------------------------- after the walk

void claim_bind(std::vector<std::pair<std::string, std::string>>& binds, const std::string& bind,
                const Value& where, const std::string& owner) {
  if (bind.ends_with(":0")) return;  // any free port
  for (const auto& [b, other] : binds) {
    if (b == bind) fail(where, owner + ".bind", bind + " is already used by " + other);
  }
  binds.emplace_back(bind, owner);
}

// Checks and settings that involve several keys, once all of them are read.
void finish(LoadState& s, const Value& root) {
  Config& c = s.cfg;
  if (!s.log_console_enable) c.log.console_level = "none";
  // EMQX: "Disabled when setting bind to 0".
  if (c.dashboard_http_bind.ends_with(":0")) c.dashboard_http_enable = false;

  ClusterConfig& cl = c.cluster;
  // The indirect probes need time left in the period after the direct one timed out.
  if (cl.probe_timeout >= cl.probe_interval) {
    const Value& where = s.probe_timeout != nullptr    ? *s.probe_timeout
                         : s.probe_interval != nullptr ? *s.probe_interval
                         : s.cluster != nullptr        ? *s.cluster
                                                       : root;
    fail(where, "cluster.probe_timeout",
         "must be shorter than cluster.probe_interval (" + duration_text(cl.probe_interval) +
             "), got " + duration_text(cl.probe_timeout));
  }
  if (cl.rpc_ssl.enable) {
    const Value& where = s.rpc_ssl != nullptr ? *s.rpc_ssl : root;
    const std::string sk = "cluster.rpc.ssl";
    if (cl.rpc_ssl.certfile.empty()) fail(where, sk + ".certfile", "required when ssl.enable = true");
    if (cl.rpc_ssl.keyfile.empty()) fail(where, sk + ".keyfile", "required when ssl.enable = true");
    if (cl.rpc_ssl.verify == "verify_peer" && cl.rpc_ssl.cacertfile.empty()) {
      fail(where, sk + ".cacertfile",
           "required with verify = verify_peer: the CA that signed the nodes' certificates");
    }
  }
  if (cl.discovery_strategy == "static" && cl.static_seeds.empty() &&
      s.discovery_strategy != nullptr) {
    c.warnings.push_back(s.discovery_strategy->origin().to_string() +
                         ": cluster.discovery_strategy is static but cluster.static.seeds is "
                         "empty: this node joins nobody");
  }

  // Ports: the dashboard and the cluster RPC claim theirs first, so a clash names the
  // listener the user wrote.
  std::vector<std::pair<std::string, std::string>> binds;  // bind -> the key that holds it
  if (c.dashboard_http_enable) {
    claim_bind(binds, c.dashboard_http_bind, s.dashboard != nullptr ? *s.dashboard : root,
               "dashboard.listeners.http");
  }
  claim_bind(binds, cl.rpc_bind, s.rpc_bind != nullptr ? *s.rpc_bind : root, "cluster.rpc");
  for (ListenerDraft& d : s.listeners) {
    if (!d.config.enable) continue;
    claim_bind(binds, d.config.bind, *d.where, d.key);
    c.listeners.push_back(std::move(d.config));
  }
  if (!s.listeners_named) {
    // The embedded defaults (README.md, "Running"): MQTT/TCP on 1883 and MQTT/WebSocket on 8083.
    // Naming any listener (file or environment) replaces this whole set.
    for (auto [type, bind] : {std::pair{"tcp", "0.0.0.0:1883"}, std::pair{"ws", "0.0.0.0:8083"}}) {
      ListenerConfig l;
      l.type = type;
      l.name = "default";
      l.bind = bind;
      c.listeners.push_back(std::move(l));
    }
  }
}

// ----------------------------------------------------------------------------- environment

// Keys whose environment value is taken as written rather than read as HOCON (the table's
// verbatim_env): a password such as `true`, `p#ss` or `${x}y` must not become a boolean,
// lose its tail to a comment or be substituted. A value in double quotes is still
// unquoted, as EMQX users write it.
bool is_verbatim(const hocon::Path& path) {
  for (const KeySpec& k : key_table()) {
    if (k.verbatim_env && relate(k.path, path) == Relation::Exact) return true;
  }
  return false;
}

// EMQX_A__B_C=value sets a.b_c: the value is HOCON if it parses as one value, else text.
void apply_env(Value& root, const std::map<std::string, std::string>& env) {
  for (const auto& [name, text] : env) {
    if (!name.starts_with("EMQX_")) continue;
    hocon::Path path;
    std::string_view rest = std::string_view(name).substr(5);
    bool ok = true;
    while (true) {
      auto sep = rest.find("__");
      std::string part(rest.substr(0, sep));
      if (part.empty()) ok = false;
      for (char& c : part) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      path.push_back(std::move(part));
      if (sep == std::string_view::npos) break;
      rest = rest.substr(sep + 2);
    }
    // EMQX_NODE_NAME, EMQX_LOG_DIR and the like are for scripts, not the config tree.
    if (!ok || !is_known_root(path[0])) continue;
    Value v = Value::make_string(text, hocon::Origin{name, 0});
    const bool quoted = text.size() >= 2 && text.front() == '"' && text.back() == '"';
    if (!is_verbatim(path) || quoted) {
      try {
        Value parsed = hocon::parse_value_unresolved(text, name);
        if (!is_verbatim(path) || parsed.is_string()) v = std::move(parsed);
      } catch (const ConfigError&) {
        // Not one HOCON value: plain text.
      }
    }
    hocon::set_path(root, path, std::move(v));
  }
}


Config map_tree(hocon::Value root, const std::map<std::string, std::string>& env) {
  apply_env(root, env);
  hocon::resolve(root, env);
  Config cfg;
  LoadState state(cfg);
  Walker(state).walk_root(root);
  finish(state, root);
  return cfg;
}

}  // namespace

Config load(const std::string& path, const std::map<std::string, std::string>& env) {
  if (path.empty()) return map_tree(Value::make_object(hocon::Origin{"<defaults>", 0}), env);
  return map_tree(hocon::parse_file_unresolved(path), env);
}

Config load_string(std::string_view text, const std::map<std::string, std::string>& env,
                   const std::string& name) {
  return map_tree(hocon::parse_unresolved(text, name), env);
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    if (!is_digit(s[i])) return std::nullopt;
    std::int64_t n = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (n > (kMax - 9) / 10) return std::nullopt;
      n = n * 10 + (s[i] - '0');
    }
    std::size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i]))) ++i;
    std::string unit = lower(s.substr(u, i - u));
    std::int64_t ms_per_unit = 0;
    if (unit.empty()) {
      if (!first || i != s.size()) return std::nullopt;  // a bare number is milliseconds
      ms_per_unit = 1;
    } else if (unit == "ms") {
      ms_per_unit = 1;
    } else if (unit == "s") {
      ms_per_unit = 1000;
    } else if (unit == "m") {
      ms_per_unit = 60 * 1000;
    } else if (unit == "h") {
      ms_per_unit = 3600 * 1000;
    } else if (unit == "d") {
      ms_per_unit = 24 * 3600 * 1000;
    } else {
      return std::nullopt;
    }
    if (n > (kMax - total) / ms_per_unit) return std::nullopt;
    total += n * ms_per_unit;
    first = false;
  }
  return Duration(total);
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::size_t i = 0;
  std::uint64_t n = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (n > (kMax - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string unit = lower(s.substr(i));
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "kb") {
    mult = 1024;
  } else if (unit == "mb") {
    mult = 1024 * 1024;
  } else if (unit == "gb") {
    mult = 1024ULL * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (n > kMax / mult) return std::nullopt;
  return n * mult;
}

}  // namespace emqxd::config
