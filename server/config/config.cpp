// Config loading: HOCON file -> EMQX_* environment overrides -> substitutions -> the typed
// Config. The mapping walks the tree with the schema in code: each known key has a
// converter that names FILE:LINE and the full key when the value is wrong; keys nobody
// knows become warnings, keys of EMQX features we have not built are accepted quietly so
// an EMQX emqx.conf loads without noise.
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <utility>

#include "cluster/node_address.hpp"
#include "config/hocon.hpp"

extern char** environ;  // NOLINT: POSIX

namespace emqxd::config {
namespace {

using hocon::Value;

constexpr std::int64_t kU16Max = std::numeric_limits<std::uint16_t>::max();
constexpr std::int64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMaxPacketSize = 268435456;  // 256MB, MQTT's largest packet

// Roots the loader maps.
constexpr std::string_view kMappedRoots[] = {"node",
                                             "log",
                                             "mqtt",
                                             "listeners",
                                             "sys_topics",
                                             "retainer",
                                             "dashboard",
                                             "durable_sessions",
                                             "durable_storage",
                                             "cluster"};

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

bool is_known_root(std::string_view root) {
  return std::find(std::begin(kMappedRoots), std::end(kMappedRoots), root) !=
             std::end(kMappedRoots) ||
         is_quiet(root);
}

// ----------------------------------------------------------------------------- values

std::string shown(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: {
      std::string s = v.text().size() > 60 ? v.text().substr(0, 57) + "..." : v.text();
      return "\"" + s + "\"";
    }
    case Value::Kind::Array:
      return "an array";
    case Value::Kind::Object:
      return "an object";
    default:
      return v.text();
  }
}

[[noreturn]] void fail(const Value& v, const std::string& key, const std::string& what) {
  throw ConfigError(v.origin().to_string() + ": " + key + ": " + what);
}

bool get_bool(const Value& v, const std::string& key) {
  if (auto b = v.to_bool()) return *b;
  fail(v, key, "expected true or false, got " + shown(v));
}

std::int64_t get_int(const Value& v, const std::string& key, std::int64_t lo, std::int64_t hi) {
  auto n = v.to_int();
  if (!n) fail(v, key, "expected an integer, got " + shown(v));
  if (*n < lo || *n > hi) {
    fail(v, key,
         "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
             shown(v));
  }
  return *n;
}

// An integer, or "infinity" for 0 (the Config convention for "no limit").
std::uint32_t get_limit(const Value& v, const std::string& key) {
  if (v.is_string() && v.text() == "infinity") return 0;
  if (!v.to_int()) fail(v, key, "expected an integer or infinity, got " + shown(v));
  return static_cast<std::uint32_t>(get_int(v, key, 0, kU32Max));
}

std::string get_string(const Value& v, const std::string& key) {
  if (v.is_string() || v.is_number()) return v.text();
  fail(v, key, "expected a string, got " + shown(v));
}

std::string get_enum(const Value& v, const std::string& key,
                     std::initializer_list<std::string_view> allowed) {
  std::string s = get_string(v, key);
  for (std::string_view a : allowed) {
    if (s == a) return s;
  }
  std::string list;
  std::size_t i = 0;
  for (std::string_view a : allowed) {
    list += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", "));
    list += a;
    ++i;
  }
  fail(v, key, "must be " + list + ", got " + shown(v));
}

// 1500 ms -> "1500ms", 2000 ms -> "2s", 86400000 ms -> "24h": for messages.
std::string duration_text(Duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// A number is milliseconds; a string is "30s", "5m", "1h30m", ...
Duration get_duration(const Value& v, const std::string& key) {
  if (v.is_number()) {
    auto n = v.to_int();
    if (n && *n >= 0) return Duration(*n);
  } else if (v.is_string()) {
    if (auto d = parse_duration(v.text())) return *d;
  }
  fail(v, key, "expected a duration such as 30s, 5m, 1h or 500ms, got " + shown(v));
}

// A duration, or `word` (disabled, infinity) for 0.
Duration get_duration_or(const Value& v, const std::string& key, std::string_view word) {
  if (v.is_string() && v.text() == word) return Duration::zero();
  if (v.is_string() && !parse_duration(v.text())) {
    fail(
        v, key,
        "expected a duration such as 30s, 5m or 1h, or " + std::string(word) + ", got " + shown(v));
  }
  return get_duration(v, key);
}

std::uint64_t get_size(const Value& v, const std::string& key, std::uint64_t lo, std::uint64_t hi,
                       std::string_view hi_text) {
  std::optional<std::uint64_t> n;
  if (v.is_number()) {
    if (auto i = v.to_int(); i && *i >= 0) n = static_cast<std::uint64_t>(*i);
  } else if (v.is_string()) {
    n = parse_size(v.text());
  }
  if (!n) fail(v, key, "expected a size such as 1MB, 64KB or 1024, got " + shown(v));
  if (*n < lo || *n > hi) {
    fail(v, key,
         "must be between " + std::to_string(lo) + " and " + std::string(hi_text) + ", got " +
             shown(v));
  }
  return *n;
}

// A duration within [lo, hi].
Duration get_duration_in(const Value& v, const std::string& key, Duration lo, Duration hi) {
  Duration d = get_duration(v, key);
  if (d < lo || d > hi) {
    fail(
        v, key,
        "must be between " + duration_text(lo) + " and " + duration_text(hi) + ", got " + shown(v));
  }
  return d;
}

// "0.0.0.0:1883", ":1883", "1883" or 1883 -> "HOST:PORT"; IPv6 hosts in brackets.
std::string get_bind(const Value& v, const std::string& key) {
  auto bad = [&]() {
    fail(v, key, "expected HOST:PORT, :PORT or PORT such as \"0.0.0.0:1883\", got " + shown(v));
  };
  if (!v.is_string() && !v.is_number()) bad();
  const std::string& s = v.text();
  std::string host = "0.0.0.0";
  std::string port = s;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.empty()) host = "0.0.0.0";
    bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (!bracketed && host.find_first_of(":[]") != std::string::npos) bad();
  }
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/') bad();
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    bad();
  }
  int p = std::stoi(port);
  if (p > 65535) fail(v, key, "port must be between 0 and 65535, got " + shown(v));
  return host + ":" + std::to_string(p);
}

// ----------------------------------------------------------------------------- mapper

class Mapper {
 public:
  explicit Mapper(Config& cfg) : cfg_(cfg) {}

  void map(const Value& root) {
    // The dashboard claims its port first, so a clash names the listener the user wrote.
    const Value* dashboard = root.find("dashboard");
    if (dashboard != nullptr) map_dashboard(*dashboard);
    if (cfg_.dashboard_http_enable) {
      claim_bind(cfg_.dashboard_http_bind, dashboard != nullptr ? *dashboard : root,
                 "dashboard.listeners.http");
    }
    // So does the cluster RPC port, for the same reason.
    const Value* cluster = root.find("cluster");
    if (cluster != nullptr) map_cluster(*cluster, "cluster");
    const Value* rpc_bind = root.find(hocon::Path{"cluster", "rpc", "bind"});
    claim_bind(cfg_.cluster.rpc_bind, rpc_bind != nullptr ? *rpc_bind : root, "cluster.rpc");
    each(root, "", [&](const std::string& name, const Value& v, const std::string& key) {
      if (name == "node") {
        map_node(v, key);
      } else if (name == "log") {
        map_log(v, key);
      } else if (name == "mqtt") {
        map_mqtt(v, key);
      } else if (name == "listeners") {
        map_listeners(v, key);
      } else if (name == "sys_topics") {
        map_sys_topics(v, key);
      } else if (name == "retainer") {
        map_retainer(v, key);
      } else if (name == "durable_sessions") {
        map_durable_sessions(v, key);
      } else if (name == "durable_storage") {
        map_durable_storage(v, key);
      } else if (name != "dashboard" && name != "cluster") {
        return false;
      }
      return true;
    });
    if (!listeners_named_) {
      // The embedded defaults (README.md, "Running"): MQTT/TCP on 1883 and MQTT/WebSocket on 8083.
      // Naming any listener (file or environment) replaces this whole set.
      for (auto [type, bind] : {std::pair{"tcp", "0.0.0.0:1883"}, std::pair{"ws", "0.0.0.0:8083"}}) {
        ListenerConfig l;
        l.type = type;
        l.name = "default";
        l.bind = bind;
        cfg_.listeners.push_back(std::move(l));
      }
    }
  }

 private:
  Config& cfg_;
  bool listeners_named_ = false;
  // Binds in use, for clashes: bind -> the key that holds it.
  std::vector<std::pair<std::string, std::string>> binds_;

  // Calls fn(name, value, full key) for each field of the object `obj` at `key`; a field
  // fn does not know (returns false) is warned about unless it is quiet.
  template <class Fn>
  void each(const Value& obj, const std::string& key, Fn&& fn) {
    if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
    for (const auto& f : obj.fields()) {
      std::string sub = key.empty() ? f.key : key + "." + f.key;
      if (!fn(f.key, f.value, sub) && !is_quiet(sub)) {
        cfg_.warnings.push_back(f.value.origin().to_string() + ": unknown key " + sub +
                                " (ignored)");
      }
    }
  }

  void claim_bind(const std::string& bind, const Value& where, const std::string& owner) {
    if (bind.ends_with(":0")) return;  // any free port
    for (const auto& [b, other] : binds_) {
      if (b == bind) fail(where, owner + ".bind", bind + " is already used by " + other);
    }
    binds_.emplace_back(bind, owner);
  }

  void map_node(const Value& obj, const std::string& key) {
    NodeConfig& n = cfg_.node;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name == "name") {
        n.name = get_string(v, k);
        auto at = n.name.find('@');
        if (at == 0 || at == std::string::npos || at + 1 == n.name.size() ||
            n.name.find('@', at + 1) != std::string::npos ||
            std::any_of(n.name.begin(), n.name.end(),
                        [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
          fail(v, k, "must look like name@host, got " + shown(v));
        }
      } else if (name == "data_dir") {
        n.data_dir = get_string(v, k);
        if (n.data_dir.empty()) fail(v, k, "must not be empty");
      } else if (name == "io_threads") {
        n.io_threads = static_cast<std::uint32_t>(get_int(v, k, 0, 1024));
      } else {
        return false;
      }
      return true;
    });
  }

  void map_log(const Value& obj, const std::string& key) {
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name != "console") return false;
      bool enable = true;
      each(v, k, [&](const std::string& f, const Value& fv, const std::string& fk) {
        if (f == "level") {
          std::string level = get_enum(fv, fk,
                                       {"debug", "info", "notice", "warning", "error", "none",
                                        "all", "critical", "alert", "emergency"});
          // EMQX's extra levels fold onto ours.
          if (level == "all") level = "debug";
          if (level == "critical" || level == "alert" || level == "emergency") level = "error";
          cfg_.log.console_level = level;
        } else if (f == "formatter") {
          cfg_.log.console_formatter = get_enum(fv, fk, {"text", "json"});
        } else if (f == "enable") {
          enable = get_bool(fv, fk);
        } else {
          return false;
        }
        return true;
      });
      if (!enable) cfg_.log.console_level = "none";
      return true;
    });
  }

  void map_mqtt(const Value& obj, const std::string& key) {
    MqttConfig& m = cfg_.mqtt;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      auto u32 = [&](std::int64_t lo, std::int64_t hi) {
        return static_cast<std::uint32_t>(get_int(v, k, lo, hi));
      };
      auto u16 = [&](std::int64_t lo, std::int64_t hi) {
        return static_cast<std::uint16_t>(get_int(v, k, lo, hi));
      };
      if (name == "max_packet_size") {
        m.max_packet_size = static_cast<std::uint32_t>(get_size(v, k, 1, kMaxPacketSize, "256MB"));
      } else if (name == "max_clientid_len") {
        m.max_clientid_len = u32(23, kU16Max);
      } else if (name == "max_topic_levels") {
        m.max_topic_levels = u32(1, kU16Max);
      } else if (name == "max_qos_allowed") {
        auto q = v.to_int();
        if (!q || *q < 0 || *q > 2) fail(v, k, "must be 0, 1 or 2, got " + shown(v));
        m.max_qos_allowed = static_cast<std::uint8_t>(*q);
      } else if (name == "max_topic_alias") {
        m.max_topic_alias = u16(0, kU16Max);
      } else if (name == "retain_available") {
        m.retain_available = get_bool(v, k);
      } else if (name == "wildcard_subscription") {
        m.wildcard_subscription = get_bool(v, k);
      } else if (name == "shared_subscription") {
        m.shared_subscription = get_bool(v, k);
      } else if (name == "max_subscriptions") {
        m.max_subscriptions = get_limit(v, k);
      } else if (name == "max_inflight") {
        m.max_inflight = u16(1, kU16Max);
      } else if (name == "max_mqueue_len") {
        m.max_mqueue_len = get_limit(v, k);
      } else if (name == "mqueue_store_qos0") {
        m.mqueue_store_qos0 = get_bool(v, k);
      } else if (name == "backpressure") {
        m.backpressure = get_bool(v, k);
      } else if (name == "max_awaiting_rel") {
        m.max_awaiting_rel = get_limit(v, k);
      } else if (name == "await_rel_timeout") {
        m.await_rel_timeout = get_duration(v, k);
      } else if (name == "retry_interval") {
        m.retry_interval = get_duration(v, k);
      } else if (name == "keepalive_multiplier") {
        auto d = v.to_double();
        if (!d) fail(v, k, "expected a number, got " + shown(v));
        if (!(*d > 0) || !std::isfinite(*d)) fail(v, k, "must be greater than 0, got " + shown(v));
        m.keepalive_multiplier = *d;
      } else if (name == "server_keepalive") {
        if (v.is_string() && v.text() == "disabled") {
          m.server_keepalive.reset();
        } else if (!v.to_int()) {
          fail(v, k, "expected seconds (1 to 65535) or disabled, got " + shown(v));
        } else {
          m.server_keepalive = u16(1, kU16Max);
        }
      } else if (name == "session_expiry_interval") {
        m.session_expiry_interval = get_duration(v, k);
      } else if (name == "shared_subscription_strategy") {
        m.shared_subscription_strategy =
            get_enum(v, k,
                     {"random", "round_robin", "round_robin_per_group", "sticky", "local",
                      "hash_topic", "hash_clientid"});
      } else if (name == "idle_timeout") {
        m.idle_timeout = get_duration_or(v, k, "infinity");
      } else if (name == "ignore_loop_deliver") {
        m.ignore_loop_deliver = get_bool(v, k);
      } else if (name == "server_reference") {
        m.server_reference = get_string(v, k);
      } else if (name == "response_information") {
        m.response_information = get_string(v, k);
      } else {
        return false;
      }
      return true;
    });
  }

  void map_listeners(const Value& obj, const std::string& key) {
    each(obj, key, [&](const std::string& type, const Value& byname, const std::string& tk) {
      if (type != "tcp" && type != "ssl" && type != "ws" && type != "wss") return false;
      each(byname, tk, [&](const std::string& name, const Value& v, const std::string& k) {
        listeners_named_ = true;
        // EMQX's way to drop a listener that an earlier file defined.
        if (v.is_string() && v.text() == "marked_for_deletion") return true;
        map_listener(type, name, v, k);
        return true;
      });
      return true;
    });
  }

  void map_listener(const std::string& type, const std::string& name, const Value& obj,
                    const std::string& key) {
    ListenerConfig l;
    l.type = type;
    l.name = name;
    l.bind = type == "tcp"   ? "0.0.0.0:1883"
             : type == "ssl" ? "0.0.0.0:8883"
             : type == "ws"  ? "0.0.0.0:8083"
                             : "0.0.0.0:8084";
    const Value* bind_value = &obj;
    bool is_ws = type == "ws" || type == "wss";
    bool is_tls = type == "ssl" || type == "wss";
    each(obj, key, [&](const std::string& f, const Value& v, const std::string& k) {
      if (f == "enable") {
        l.enable = get_bool(v, k);
      } else if (f == "bind") {
        l.bind = get_bind(v, k);
        bind_value = &v;
      } else if (f == "max_connections") {
        if (v.is_string() && v.text() == "infinity") {
          l.max_connections = std::numeric_limits<std::uint32_t>::max();
        } else {
          l.max_connections = static_cast<std::uint32_t>(get_int(v, k, 1, kU32Max));
        }
      } else if (f == "websocket" && is_ws) {
        each(v, k, [&](const std::string& wf, const Value& wv, const std::string& wk) {
          if (wf != "mqtt_path") return false;
          l.websocket_mqtt_path = get_string(wv, wk);
          if (!l.websocket_mqtt_path.starts_with('/')) {
            fail(wv, wk, "must start with '/', got " + shown(wv));
          }
          return true;
        });
      } else if (f == "ssl_options" && is_tls) {
        map_ssl_options(l.ssl_options, v, k);
      } else {
        return false;
      }
      return true;
    });
    if (!l.enable) return;
    claim_bind(l.bind, *bind_value, key);
    cfg_.listeners.push_back(std::move(l));
  }

  void map_ssl_options(SslOptions& o, const Value& obj, const std::string& key) {
    each(obj, key, [&](const std::string& f, const Value& v, const std::string& k) {
      if (f == "certfile") {
        o.certfile = get_string(v, k);
      } else if (f == "keyfile") {
        o.keyfile = get_string(v, k);
      } else if (f == "cacertfile") {
        o.cacertfile = get_string(v, k);
      } else if (f == "verify") {
        o.verify = get_enum(v, k, {"verify_peer", "verify_none"});
      } else if (f == "fail_if_no_peer_cert") {
        o.fail_if_no_peer_cert = get_bool(v, k);
      } else {
        return false;
      }
      return true;
    });
  }

  void map_sys_topics(const Value& obj, const std::string& key) {
    SysTopicsConfig& s = cfg_.sys_topics;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name == "sys_msg_interval") {
        s.sys_msg_interval = get_duration_or(v, k, "disabled");
      } else if (name == "sys_heartbeat_interval") {
        s.sys_heartbeat_interval = get_duration_or(v, k, "disabled");
      } else if (name == "sys_event_messages") {
        each(v, k, [&](const std::string& e, const Value& ev, const std::string& ek) {
          if (e == "client_connected") {
            s.client_connected = get_bool(ev, ek);
          } else if (e == "client_disconnected") {
            s.client_disconnected = get_bool(ev, ek);
          } else if (e == "client_subscribed") {
            s.client_subscribed = get_bool(ev, ek);
          } else if (e == "client_unsubscribed") {
            s.client_unsubscribed = get_bool(ev, ek);
          } else {
            return false;
          }
          return true;
        });
      } else {
        return false;
      }
      return true;
    });
  }

  void map_retainer(const Value& obj, const std::string& key) {
    RetainerConfig& r = cfg_.retainer;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name == "enable") {
        r.enable = get_bool(v, k);
      } else if (name == "max_retained_messages") {
        r.max_retained_messages = get_limit(v, k);
      } else if (name == "max_payload_size") {
        r.max_payload_size =
            static_cast<std::uint32_t>(get_size(v, k, 0, kU32Max, std::to_string(kU32Max)));
      } else if (name == "msg_expiry_interval") {
        r.msg_expiry_interval = get_duration(v, k);
      } else {
        return false;
      }
      return true;
    });
  }

  void map_durable_sessions(const Value& obj, const std::string& key) {
    DurableSessionsConfig& d = cfg_.durable_sessions;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name == "enable") {
        d.enable = get_bool(v, k);
      } else if (name == "sync") {
        d.sync = get_bool(v, k);
      } else {
        return false;
      }
      return true;
    });
  }

  void map_durable_storage(const Value& obj, const std::string& key) {
    DurableStorageConfig& d = cfg_.durable_storage;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name != "rocksdb") return false;
      each(v, k, [&](const std::string& f, const Value& fv, const std::string& fk) {
        if (f == "write_buffer_size") {
          d.write_buffer_size = get_size(fv, fk, 64 * 1024, 1ULL << 30, "1GB");
        } else if (f == "block_cache_size") {
          d.block_cache_size = get_size(fv, fk, 0, 64ULL << 30, "64GB");
        } else {
          return false;
        }
        return true;
      });
      return true;
    });
  }

  void map_cluster(const Value& obj, const std::string& key) {
    ClusterConfig& c = cfg_.cluster;
    const Value* interval_value = nullptr;
    const Value* timeout_value = nullptr;
    const Value* strategy_value = nullptr;
    using std::chrono::hours;
    using std::chrono::milliseconds;
    using std::chrono::minutes;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      auto count = [&](std::int64_t lo, std::int64_t hi) {
        return static_cast<std::uint32_t>(get_int(v, k, lo, hi));
      };
      if (name == "name") {
        c.name = get_string(v, k);
        if (c.name.empty() || !std::all_of(c.name.begin(), c.name.end(), [](char ch) {
              return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' ||
                     ch == '.';
            })) {
          fail(v, k, "must be letters, digits, '_', '-' and '.', got " + shown(v));
        }
      } else if (name == "discovery_strategy") {
        std::string s = get_string(v, k);
        if (s == "dns" || s == "etcd" || s == "k8s" || s == "mcast") {
          fail(v, k, s + " discovery is not supported yet: use manual or static");
        }
        c.discovery_strategy = get_enum(v, k, {"manual", "static"});
        strategy_value = &v;
      } else if (name == "static") {
        each(v, k, [&](const std::string& f, const Value& fv, const std::string& fk) {
          if (f != "seeds") return false;
          c.static_seeds = get_seeds(fv, fk);
          return true;
        });
      } else if (name == "rpc") {
        map_cluster_rpc(v, k);
      } else if (name == "probe_interval") {
        c.probe_interval = get_duration_in(v, k, milliseconds(10), minutes(1));
        interval_value = &v;
      } else if (name == "probe_timeout") {
        c.probe_timeout = get_duration_in(v, k, milliseconds(1), minutes(1));
        timeout_value = &v;
      } else if (name == "indirect_probes") {
        c.indirect_probes = count(0, 16);
      } else if (name == "suspicion_multiplier") {
        c.suspicion_multiplier = count(1, 100);
      } else if (name == "retransmit_multiplier") {
        c.retransmit_multiplier = count(1, 100);
      } else if (name == "gossip_interval") {
        c.gossip_interval = get_duration_or(v, k, "disabled");
        if (c.gossip_interval > minutes(1)) fail(v, k, "must be at most 1m, got " + shown(v));
      } else if (name == "gossip_fanout") {
        c.gossip_fanout = count(1, 16);
      } else if (name == "push_pull_interval") {
        c.push_pull_interval = get_duration_or(v, k, "disabled");
        if (c.push_pull_interval > hours(24)) fail(v, k, "must be at most 24h, got " + shown(v));
      } else if (name == "autoheal") {
        c.autoheal = get_bool(v, k);
      } else if (name == "reconnect_interval") {
        c.reconnect_interval = get_duration_in(v, k, milliseconds(100), hours(24));
      } else if (name == "autoclean") {
        c.autoclean = get_duration_in(v, k, std::chrono::seconds(1), hours(24 * 365));
      } else {
        return false;
      }
      return true;
    });
    // The indirect probes need time left in the period after the direct one timed out.
    if (c.probe_timeout >= c.probe_interval) {
      const Value& where = timeout_value != nullptr    ? *timeout_value
                           : interval_value != nullptr ? *interval_value
                                                       : obj;
      fail(where, key + ".probe_timeout",
           "must be shorter than " + key + ".probe_interval (" + duration_text(c.probe_interval) +
               "), got " + duration_text(c.probe_timeout));
    }
    if (c.discovery_strategy == "static" && c.static_seeds.empty()) {
      cfg_.warnings.push_back(strategy_value->origin().to_string() + ": " + key +
                              ".discovery_strategy is static but " + key +
                              ".static.seeds is empty: this node joins nobody");
    }
  }

  // An array of node addresses, or one string of them separated by commas (handy in an
  // environment variable); each checked by the cluster's parser and written in full.
  std::vector<std::string> get_seeds(const Value& v, const std::string& key) {
    std::vector<std::pair<std::string, const Value*>> items;
    if (v.is_array()) {
      for (const Value& e : v.elements())
        items.emplace_back(get_string(e, key), &e);
    } else if (v.is_string()) {
      std::string_view rest = v.text();
      while (!rest.empty()) {
        auto comma = rest.find(',');
        std::string_view item = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
          item.remove_prefix(1);
        }
        while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
          item.remove_suffix(1);
        }
        if (!item.empty()) items.emplace_back(std::string(item), &v);
      }
    } else {
      fail(v, key,
           "expected an array of nodes such as [\"emqx@10.0.0.1\", \"emqx@10.0.0.2:4371\"], got " +
               shown(v));
    }
    std::vector<std::string> seeds;
    for (const auto& [text, where] : items) {
      std::string why;
      auto address = cluster::NodeAddress::parse(text, &why);
      if (!address) {
        fail(*where, key, "\"" + text + "\" is not a node (name@host or name@host:port): " + why);
      }
      std::string full = address->to_string();
      if (std::find(seeds.begin(), seeds.end(), full) == seeds.end()) seeds.push_back(full);
    }
    return seeds;
  }

  void map_cluster_rpc(const Value& obj, const std::string& key) {
    ClusterRpcSsl& ssl = cfg_.cluster.rpc_ssl;
    const Value* ssl_value = nullptr;
    each(obj, key, [&](const std::string& name, const Value& v, const std::string& k) {
      if (name == "bind") {
        cfg_.cluster.rpc_bind = get_bind(v, k);
      } else if (name == "ssl") {
        ssl_value = &v;
        each(v, k, [&](const std::string& f, const Value& fv, const std::string& fk) {
          if (f == "enable") {
            ssl.enable = get_bool(fv, fk);
          } else if (f == "certfile") {
            ssl.certfile = get_string(fv, fk);
          } else if (f == "keyfile") {
            ssl.keyfile = get_string(fv, fk);
          } else if (f == "cacertfile") {
            ssl.cacertfile = get_string(fv, fk);
          } else if (f == "verify") {
            ssl.verify = get_enum(fv, fk, {"verify_peer", "verify_none"});
          } else {
            return false;
          }
          return true;
        });
      } else {
        return false;
      }
      return true;
    });
    if (!ssl.enable) return;
    const std::string sk = key + ".ssl";
    if (ssl.certfile.empty()) fail(*ssl_value, sk + ".certfile", "required when ssl.enable = true");
    if (ssl.keyfile.empty()) fail(*ssl_value, sk + ".keyfile", "required when ssl.enable = true");
    if (ssl.verify == "verify_peer" && ssl.cacertfile.empty()) {
      fail(*ssl_value, sk + ".cacertfile",
           "required with verify = verify_peer: the CA that signed the nodes' certificates");
    }
  }

  // dashboard.listeners.http.bind/enable and the API's credentials are ours; the rest of
  // dashboard.* is EMQX's and quiet (kQuietKeys).
  void map_dashboard(const Value& obj) {
    static const hocon::Path kBind = {"listeners", "http", "bind"};
    static const hocon::Path kEnable = {"listeners", "http", "enable"};
    if (!obj.is_object()) fail(obj, "dashboard", "expected an object, got " + shown(obj));
    if (const Value* b = obj.find(kBind)) {
      cfg_.dashboard_http_bind = get_bind(*b, "dashboard.listeners.http.bind");
      // EMQX: "Disabled when setting bind to 0".
      if (cfg_.dashboard_http_bind.ends_with(":0")) cfg_.dashboard_http_enable = false;
    }
    if (const Value* e = obj.find(kEnable)) {
      cfg_.dashboard_http_enable =
          cfg_.dashboard_http_enable && get_bool(*e, "dashboard.listeners.http.enable");
    }
    auto credential = [&](std::string_view name, std::string& out) {
      const Value* v = obj.find(name);
      if (v == nullptr) return;
      std::string key = "dashboard." + std::string(name);
      out = get_string(*v, key);
      if (out.empty()) fail(*v, key, "must not be empty");
    };
    credential("default_username", cfg_.dashboard_default_username);
    credential("default_password", cfg_.dashboard_default_password);
  }
};

// Keys whose environment value is taken as written rather than read as HOCON: a password
// such as `true`, `p#ss` or `${x}y` must not become a boolean, lose its tail to a comment
// or be substituted. A value in double quotes is still unquoted, as EMQX users write it.
constexpr std::string_view kVerbatimEnvKeys[] = {"dashboard.default_username",
                                                 "dashboard.default_password"};

bool is_verbatim(const hocon::Path& path) {
  std::string dotted;
  for (const auto& p : path) {
    dotted += (dotted.empty() ? "" : ".") + p;
  }
  return std::find(std::begin(kVerbatimEnvKeys), std::end(kVerbatimEnvKeys), dotted) !=
         std::end(kVerbatimEnvKeys);
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
  Mapper mapper(cfg);
  mapper.map(root);
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
