// The config loader: defaults, every key mapping, environment overrides, errors that name
// the file, line and key (bad values, unknown keys, EMQX features not implemented), and the
// shipped deploy/emqx.conf.
#include "config/config.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "config/hocon.hpp"
#include "config/temp_dir.hpp"

namespace {

using namespace std::chrono_literals;
using emqxd::config::Config;
using emqxd::config::ConfigError;
using emqxd::config::Duration;
using emqxd::config::ListenerConfig;
using emqxd::config::load;
using emqxd::config::load_string;
using emqxd::config::parse_duration;
using emqxd::config::parse_size;
using emqxd::config::test::TempDir;
using Env = std::map<std::string, std::string>;

Config from(std::string_view text, const Env& env = {}) {
  return load_string(text, env, "emqx.conf");
}

std::string error_of(std::string_view text, const Env& env = {}) {
  try {
    from(text, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

const ListenerConfig* listener(const Config& c, std::string_view type, std::string_view name) {
  for (const auto& l : c.listeners) {
    if (l.type == type && l.name == name) return &l;
  }
  return nullptr;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines)
    out += l + "\n";
  return out;
}

// Not from __FILE__: ccache with base_dir (and -ffile-prefix-map) make it relative to the
// build directory.
std::string source_root() {
  return EMQXD_SOURCE_DIR;
}

}  // namespace

TEST_CASE("no file and no environment: the embedded defaults", "[config]") {
  Config c = load("", {});
  CHECK(c.node.name == "emqx@127.0.0.1");
  CHECK(c.node.data_dir == "data");
  CHECK(c.node.io_threads == 0);
  CHECK(c.log.console.level == "info");
  CHECK(c.log.console.formatter == "text");
  CHECK(c.mqtt.max_packet_size == 1024 * 1024);
  CHECK(c.mqtt.max_clientid_len == 65535);
  CHECK(c.mqtt.max_topic_levels == 128);
  CHECK(c.mqtt.max_qos_allowed == 2);
  CHECK(c.mqtt.max_topic_alias == 65535);
  CHECK(c.mqtt.retain_available);
  CHECK(c.mqtt.wildcard_subscription);
  CHECK(c.mqtt.shared_subscription);
  CHECK_FALSE(c.mqtt.exclusive_subscription);
  CHECK(c.mqtt.max_subscriptions == 0);
  CHECK(c.mqtt.max_inflight == 32);
  CHECK(c.mqtt.max_mqueue_len == 1000);
  CHECK(c.mqtt.mqueue_store_qos0);
  CHECK(c.mqtt.max_awaiting_rel == 100);
  CHECK(c.mqtt.await_rel_timeout == 300s);
  CHECK(c.mqtt.retry_interval == 30s);
  CHECK(c.mqtt.keepalive_multiplier == 1.5);
  CHECK_FALSE(c.mqtt.server_keepalive.has_value());
  CHECK(c.mqtt.session_expiry_interval == 2h);
  CHECK(c.mqtt.shared_subscription_strategy == "round_robin");
  CHECK(c.mqtt.idle_timeout == 15s);
  CHECK_FALSE(c.mqtt.ignore_loop_deliver);
  CHECK(c.mqtt.server_reference.empty());
  CHECK(c.mqtt.response_information.empty());
  REQUIRE(c.listeners.size() == 2);
  CHECK(c.listeners[0].type == "tcp");
  CHECK(c.listeners[0].name == "default");
  CHECK(c.listeners[0].bind == "0.0.0.0:1883");
  CHECK(c.listeners[0].enable);
  CHECK(c.listeners[0].max_connections == 1024000);
  CHECK(c.listeners[1].type == "ws");
  CHECK(c.listeners[1].bind == "0.0.0.0:8083");
  CHECK(c.listeners[1].websocket_mqtt_path == "/mqtt");
  CHECK(c.sys_topics.sys_msg_interval == 1min);
  CHECK(c.sys_topics.sys_heartbeat_interval == 30s);
  CHECK(c.sys_topics.client_connected);
  CHECK(c.sys_topics.client_disconnected);
  CHECK_FALSE(c.sys_topics.client_subscribed);
  CHECK_FALSE(c.sys_topics.client_unsubscribed);
  CHECK(c.retainer.enable);
  CHECK(c.retainer.max_retained_messages == 0);
  CHECK(c.retainer.max_payload_size == 1024 * 1024);
  CHECK(c.retainer.msg_expiry_interval == Duration::zero());
  CHECK(c.durable_sessions.enable);
  CHECK(c.durable_sessions.sync);
  CHECK(c.durable_storage.write_buffer_size == 64 * 1024 * 1024);
  CHECK(c.durable_storage.block_cache_size == 32 * 1024 * 1024);
  CHECK(c.dashboard_http_bind == "0.0.0.0:18083");
  CHECK(c.warnings.empty());
  // An empty document is the same as no file.
  CHECK(from("").listeners.size() == 2);
  CHECK(from("# nothing\n").warnings.empty());
}

TEST_CASE("every key maps onto its field", "[config]") {
  Config c = from(R"(
node {
  name = "emqxd@10.0.0.5"
  data_dir = "/var/lib/emqxd"
  io_threads = 4
}
log.console { level = warning, formatter = json }
mqtt {
  max_packet_size = 64KB
  max_clientid_len = 23
  max_topic_levels = 16
  max_qos_allowed = 1
  max_topic_alias = 10
  retain_available = false
  wildcard_subscription = false
  shared_subscription = false
  exclusive_subscription = true
  max_subscriptions = 50
  max_inflight = 100
  max_mqueue_len = 5000
  mqueue_store_qos0 = false
  max_awaiting_rel = 10
  await_rel_timeout = 1m
  retry_interval = 500ms
  keepalive_multiplier = 2
  server_keepalive = 60
  session_expiry_interval = 1d
  shared_subscription_strategy = hash_clientid
  idle_timeout = 1h30m
  ignore_loop_deliver = true
  server_reference = "other.example.com:1883"
  response_information = "resp/"
}
sys_topics {
  sys_msg_interval = 2m
  sys_heartbeat_interval = 10s
  sys_event_messages {
    client_connected = false
    client_disconnected = false
    client_subscribed = true
    client_unsubscribed = true
  }
}
retainer {
  enable = false
  max_retained_messages = 1000
  max_payload_size = 2MB
  msg_expiry_interval = 7d
}
durable_sessions { enable = false, sync = false }
durable_storage.rocksdb { write_buffer_size = 64KB, block_cache_size = 1GB }
dashboard.listeners.http.bind = 18084
)");
  CHECK(c.warnings.empty());
  CHECK(c.node.name == "emqxd@10.0.0.5");
  CHECK(c.node.data_dir == "/var/lib/emqxd");
  CHECK(c.node.io_threads == 4);
  CHECK(c.log.console.level == "warning");
  CHECK(c.log.console.formatter == "json");
  CHECK(c.mqtt.max_packet_size == 64 * 1024);
  CHECK(c.mqtt.max_clientid_len == 23);
  CHECK(c.mqtt.max_topic_levels == 16);
  CHECK(c.mqtt.max_qos_allowed == 1);
  CHECK(c.mqtt.max_topic_alias == 10);
  CHECK_FALSE(c.mqtt.retain_available);
  CHECK_FALSE(c.mqtt.wildcard_subscription);
  CHECK_FALSE(c.mqtt.shared_subscription);
  CHECK(c.mqtt.exclusive_subscription);
  CHECK(c.mqtt.max_subscriptions == 50);
  CHECK(c.mqtt.max_inflight == 100);
  CHECK(c.mqtt.max_mqueue_len == 5000);
  CHECK_FALSE(c.mqtt.mqueue_store_qos0);
  CHECK(c.mqtt.max_awaiting_rel == 10);
  CHECK(c.mqtt.await_rel_timeout == 1min);
  CHECK(c.mqtt.retry_interval == 500ms);
  CHECK(c.mqtt.keepalive_multiplier == 2.0);
  CHECK(c.mqtt.server_keepalive == std::optional<std::uint16_t>(60));
  CHECK(c.mqtt.session_expiry_interval == 24h);
  CHECK(c.mqtt.shared_subscription_strategy == "hash_clientid");
  CHECK(c.mqtt.idle_timeout == 90min);
  CHECK(c.mqtt.ignore_loop_deliver);
  CHECK(c.mqtt.server_reference == "other.example.com:1883");
  CHECK(c.mqtt.response_information == "resp/");
  CHECK(c.sys_topics.sys_msg_interval == 2min);
  CHECK(c.sys_topics.sys_heartbeat_interval == 10s);
  CHECK_FALSE(c.sys_topics.client_connected);
  CHECK_FALSE(c.sys_topics.client_disconnected);
  CHECK(c.sys_topics.client_subscribed);
  CHECK(c.sys_topics.client_unsubscribed);
  CHECK_FALSE(c.retainer.enable);
  CHECK(c.retainer.max_retained_messages == 1000);
  CHECK(c.retainer.max_payload_size == 2 * 1024 * 1024);
  CHECK(c.retainer.msg_expiry_interval == 7 * 24h);
  CHECK_FALSE(c.durable_sessions.enable);
  CHECK_FALSE(c.durable_sessions.sync);
  CHECK(c.durable_storage.write_buffer_size == 64 * 1024);
  CHECK(c.durable_storage.block_cache_size == 1024 * 1024 * 1024);
  CHECK(c.dashboard_http_bind == "0.0.0.0:18084");
}

TEST_CASE("special words: infinity, disabled, plain numbers", "[config]") {
  Config c = from(R"(
mqtt {
  max_subscriptions = infinity
  max_mqueue_len = infinity
  max_awaiting_rel = infinity
  server_keepalive = disabled
  idle_timeout = infinity
  retry_interval = 2500
  max_packet_size = 2048
  keepalive_multiplier = 0.75
}
sys_topics { sys_msg_interval = disabled, sys_heartbeat_interval = disabled }
retainer { max_retained_messages = infinity, max_payload_size = "1kb" }
listeners.tcp.default.max_connections = infinity
)");
  CHECK(c.mqtt.max_subscriptions == 0);
  CHECK(c.mqtt.max_mqueue_len == 0);
  CHECK(c.mqtt.max_awaiting_rel == 0);
  CHECK_FALSE(c.mqtt.server_keepalive.has_value());
  CHECK(c.mqtt.idle_timeout == Duration::zero());
  CHECK(c.mqtt.retry_interval == 2500ms);
  CHECK(c.mqtt.max_packet_size == 2048);
  CHECK(c.mqtt.keepalive_multiplier == 0.75);
  CHECK(c.sys_topics.sys_msg_interval == Duration::zero());
  CHECK(c.sys_topics.sys_heartbeat_interval == Duration::zero());
  CHECK(c.retainer.max_retained_messages == 0);
  CHECK(c.retainer.max_payload_size == 1024);
  CHECK(c.listeners.at(0).max_connections == 4294967295u);
}

TEST_CASE("booleans accept HOCON's conversions, quoted strings too", "[config]") {
  Config c = from(
      "mqtt { retain_available = off, wildcard_subscription = \"no\" }\n"
      "retainer.enable = \"false\"\nmqtt.ignore_loop_deliver = on");
  CHECK_FALSE(c.mqtt.retain_available);
  CHECK_FALSE(c.mqtt.wildcard_subscription);
  CHECK_FALSE(c.retainer.enable);
  CHECK(c.mqtt.ignore_loop_deliver);
  CHECK(from("mqtt.max_inflight = \"64\"").mqtt.max_inflight == 64);
}

TEST_CASE("log levels: EMQX's extra levels fold onto ours, enable = false is none", "[config]") {
  CHECK(from("log.console.level = critical").log.console.level == "error");
  CHECK(from("log.console.level = all").log.console.level == "debug");
  CHECK(from("log.console.level = none").log.console.level == "none");
  CHECK_FALSE(from("log.console { enable = false, level = debug }").log.console.enable);
  CHECK(from("log.console { enable = true, level = debug }").log.console.level == "debug");
  CHECK(error_of("\nlog.console.level = loud") ==
        "emqx.conf:2: log.console.level: must be debug, info, notice, warning, error, none, "
        "all, critical, alert or emergency, got \"loud\"");
  CHECK(error_of("log.console.formatter = xml") ==
        "emqx.conf:1: log.console.formatter: must be text or json, got \"xml\"");
}

TEST_CASE("log.file: one handler, named handlers, EMQX's aliases", "[config][log]") {
  Config none = from("");
  CHECK(none.log.files.empty());
  Config one = from(R"(
log.file { path = "/var/log/emqxd/emqx.log", level = debug, rotation_size = 10MB,
           rotation_count = 3, formatter = json, time_offset = "+02:00",
           timestamp_format = rfc3339 })");
  REQUIRE(one.log.files.size() == 1);
  const auto& f = one.log.files[0];
  CHECK(f.name == "default");
  CHECK(f.enable);
  CHECK(f.path == "/var/log/emqxd/emqx.log");
  CHECK(f.level == "debug");
  CHECK(f.rotation_size == 10 * 1024 * 1024);
  CHECK(f.rotation_count == 3);
  CHECK(f.formatter == "json");
  CHECK(f.time_offset == "+02:00");
  CHECK(f.timestamp_format == "rfc3339");
  Config named = from(R"(
log.file.errors { path = "e.log", level = error }
log.file.all { to = "a.log", max_size = infinity, enable = false }
log.file.level = warning)");
  REQUIRE(named.log.files.size() == 3);
  CHECK(named.log.files[0].name == "errors");
  CHECK(named.log.files[1].name == "all");
  CHECK(named.log.files[1].path == "a.log");
  CHECK(named.log.files[1].rotation_size == 0);
  CHECK_FALSE(named.log.files[1].enable);
  CHECK(named.log.files[2].name == "default");
  CHECK(named.log.files[2].path == "log/emqx.log");
  CHECK(from("log.console.time_offset = utc").log.console.time_offset == "utc");
  CHECK(error_of("log.file { levle = debug }") ==
        "emqx.conf:1: log.file.levle: unknown key of a log file handler (enable, level, path, "
        "rotation_count, rotation_size, formatter, time_offset, timestamp_format); a named "
        "handler is an object: log.file.levle { path = \"...\" }");
  CHECK(error_of("log.file.x { path = a, levle = debug }") ==
        "emqx.conf:1: log.file.x.levle: unknown key of a log file handler (enable, level, path, "
        "rotation_count, rotation_size, formatter, time_offset, timestamp_format)");
  CHECK(error_of("\nlog.file.rotation_count = 500") ==
        "emqx.conf:2: log.file.rotation_count: must be between 1 and 128, got 500");
  CHECK(error_of("log.file { chars_limit = 1000 }") ==
        "emqx.conf:1: log.file.chars_limit: not implemented yet by emqxd");
  CHECK(error_of("log.console.time_offset = \"+25:00\"") ==
        "emqx.conf:1: log.console.time_offset: must be system, utc, +hh:mm or -hh:mm, got "
        "\"+25:00\"");
  CHECK(error_of("log.file.a { path = x.log }\nlog.file.b { path = x.log }")
            .find("handlers a and b write the same file x.log") != std::string::npos);
  CHECK(from("trace.max_file_size = 1MB").trace.max_file_size == 1024 * 1024);
  CHECK(error_of("trace.max_file_size = 1KB").find("trace.max_file_size") != std::string::npos);
}

TEST_CASE("listeners of every type with their options", "[config][listeners]") {
  Config c = from(R"(
listeners.tcp.default { bind = "0.0.0.0:1883", max_connections = 100 }
listeners.tcp.internal { bind = "127.0.0.1:11883" }
listeners.ssl.default {
  bind = "0.0.0.0:8883"
  ssl_options {
    certfile = "etc/certs/cert.pem"
    keyfile = "etc/certs/key.pem"
    cacertfile = "etc/certs/cacert.pem"
    verify = verify_peer
    fail_if_no_peer_cert = true
  }
}
listeners.ws.default { bind = "0.0.0.0:8083", websocket.mqtt_path = "/ws" }
listeners.wss.default {
  bind = 8084
  websocket.mqtt_path = "/mqtt"
  ssl_options { certfile = c.pem, keyfile = k.pem }
}
)");
  CHECK(c.warnings.empty());
  REQUIRE(c.listeners.size() == 5);
  const auto* tcp = listener(c, "tcp", "default");
  REQUIRE(tcp != nullptr);
  CHECK(tcp->bind == "0.0.0.0:1883");
  CHECK(tcp->max_connections == 100);
  const auto* internal = listener(c, "tcp", "internal");
  REQUIRE(internal != nullptr);
  CHECK(internal->bind == "127.0.0.1:11883");
  CHECK(internal->max_connections == 1024000);
  const auto* ssl = listener(c, "ssl", "default");
  REQUIRE(ssl != nullptr);
  CHECK(ssl->bind == "0.0.0.0:8883");
  CHECK(ssl->ssl_options.certfile == "etc/certs/cert.pem");
  CHECK(ssl->ssl_options.keyfile == "etc/certs/key.pem");
  CHECK(ssl->ssl_options.cacertfile == "etc/certs/cacert.pem");
  CHECK(ssl->ssl_options.verify == "verify_peer");
  CHECK(ssl->ssl_options.fail_if_no_peer_cert);
  const auto* ws = listener(c, "ws", "default");
  REQUIRE(ws != nullptr);
  CHECK(ws->bind == "0.0.0.0:8083");
  CHECK(ws->websocket_mqtt_path == "/ws");
  const auto* wss = listener(c, "wss", "default");
  REQUIRE(wss != nullptr);
  CHECK(wss->bind == "0.0.0.0:8084");
  CHECK(wss->websocket_mqtt_path == "/mqtt");
  CHECK(wss->ssl_options.certfile == "c.pem");
  CHECK(wss->ssl_options.verify == "verify_none");
}

TEST_CASE("bind forms normalise to HOST:PORT", "[config][listeners]") {
  auto bind = [](std::string_view value) {
    return from("listeners.tcp.default.bind = " + std::string(value)).listeners.at(0).bind;
  };
  CHECK(bind("\"0.0.0.0:1883\"") == "0.0.0.0:1883");
  CHECK(bind("\":1884\"") == "0.0.0.0:1884");
  CHECK(bind("\"1885\"") == "0.0.0.0:1885");
  CHECK(bind("1886") == "0.0.0.0:1886");
  CHECK(bind("\"localhost:1887\"") == "localhost:1887");
  CHECK(bind("\"[::]:1888\"") == "[::]:1888");
  CHECK(bind("\"[::1]:1889\"") == "[::1]:1889");
  CHECK(bind("\"127.0.0.1:0\"") == "127.0.0.1:0");
  CHECK(error_of("listeners.tcp.default.bind = \"0.0.0.0:70000\"") ==
        "emqx.conf:1: listeners.tcp.default.bind: port must be between 0 and 65535, got "
        "\"0.0.0.0:70000\"");
  const std::string expected =
      "emqx.conf:1: listeners.tcp.default.bind: expected HOST:PORT, :PORT or PORT such as "
      "\"0.0.0.0:1883\", got ";
  CHECK(error_of("listeners.tcp.default.bind = \"0.0.0.0\"") == expected + "\"0.0.0.0\"");
  CHECK(error_of("listeners.tcp.default.bind = \"::1:1883\"") == expected + "\"::1:1883\"");
  CHECK(error_of("listeners.tcp.default.bind = \"host:\"") == expected + "\"host:\"");
  CHECK(error_of("listeners.tcp.default.bind = true") == expected + "true");
  CHECK(error_of("listeners.tcp.default.bind = -1") == expected + "-1");
  CHECK(error_of("dashboard.listeners.http.bind = \"x:y\"") ==
        "emqx.conf:1: dashboard.listeners.http.bind: expected HOST:PORT, :PORT or PORT such as "
        "\"0.0.0.0:1883\", got \"x:y\"");
}

TEST_CASE("a listener with no bind gets its type's port", "[config][listeners]") {
  Config c = from(
      "listeners.ssl.default.ssl_options.certfile = c.pem\n"
      "listeners.ws.default.enable = true\n"
      "listeners.wss.default.enable = true\n"
      "listeners.tcp.default.enable = true\n");
  REQUIRE(c.listeners.size() == 4);
  CHECK(listener(c, "ssl", "default")->bind == "0.0.0.0:8883");
  CHECK(listener(c, "ws", "default")->bind == "0.0.0.0:8083");
  CHECK(listener(c, "wss", "default")->bind == "0.0.0.0:8084");
  CHECK(listener(c, "tcp", "default")->bind == "0.0.0.0:1883");
}

TEST_CASE("named listeners replace the default, disabled ones are left out",
          "[config][listeners]") {
  Config only_ssl = from("listeners.ssl.default { bind = 8883 }");
  REQUIRE(only_ssl.listeners.size() == 1);
  CHECK(only_ssl.listeners[0].type == "ssl");

  Config none = from("listeners.tcp.default.enable = false");
  CHECK(none.listeners.empty());

  Config deleted = from(
      "listeners.tcp.default = marked_for_deletion\n"
      "listeners.ws.default.bind = 8083");
  REQUIRE(deleted.listeners.size() == 1);
  CHECK(deleted.listeners[0].type == "ws");

  // An empty listeners object names none: the default stays.
  Config empty = from("listeners {}");
  REQUIRE(empty.listeners.size() == 2);
  CHECK(empty.listeners[0].bind == "0.0.0.0:1883");
}

TEST_CASE("two listeners on one address are an error", "[config][listeners]") {
  CHECK(error_of("listeners.tcp.default.bind = 1883\nlisteners.ws.default.bind = \":1883\"") ==
        "emqx.conf:2: listeners.ws.default.bind: 0.0.0.0:1883 is already used by "
        "listeners.tcp.default");
  CHECK(error_of("listeners.tcp.default.bind = 18083") ==
        "emqx.conf:1: listeners.tcp.default.bind: 0.0.0.0:18083 is already used by "
        "dashboard.listeners.http");
  // Disabled listeners and port 0 do not count.
  CHECK_NOTHROW(
      from("listeners.tcp.a.bind = 1883\nlisteners.tcp.b { bind = 1883, enable = false }"));
  CHECK_NOTHROW(
      from("listeners.tcp.a.bind = \"127.0.0.1:0\"\nlisteners.tcp.b.bind = \"127.0.0.1:0\""));
}

TEST_CASE("listener option errors name the key", "[config][listeners]") {
  CHECK(error_of("listeners.ws.default.websocket.mqtt_path = mqtt") ==
        "emqx.conf:1: listeners.ws.default.websocket.mqtt_path: must start with '/', got "
        "\"mqtt\"");
  CHECK(error_of("listeners.ssl.default.ssl_options.verify = maybe") ==
        "emqx.conf:1: listeners.ssl.default.ssl_options.verify: must be verify_peer or "
        "verify_none, got \"maybe\"");
  CHECK(error_of("listeners.tcp.default.max_connections = 0") ==
        "emqx.conf:1: listeners.tcp.default.max_connections: must be between 1 and 4294967295, "
        "got 0");
  CHECK(error_of("listeners.tcp = 5") == "emqx.conf:1: listeners.tcp: expected an object, got 5");
  CHECK(error_of("listeners.tcp.default = [1]") ==
        "emqx.conf:1: listeners.tcp.default: expected an object, got an array");
}

TEST_CASE("dashboard: the HTTP API listener and its bootstrap credentials", "[config][dashboard]") {
  Config d = from("");
  CHECK(d.dashboard_http_bind == "0.0.0.0:18083");
  CHECK(d.dashboard_http_enable);
  CHECK(d.dashboard_default_username == "admin");
  CHECK(d.dashboard_default_password == "public");

  Config c = from(R"(
dashboard {
  listeners.http { bind = "127.0.0.1:18090", enable = true }
  default_username = root
  default_password = "s3cr#t"
}
)");
  CHECK(c.warnings.empty());
  CHECK(c.dashboard_http_bind == "127.0.0.1:18090");
  CHECK(c.dashboard_http_enable);
  CHECK(c.dashboard_default_username == "root");
  CHECK(c.dashboard_default_password == "s3cr#t");
  CHECK(from("dashboard.default_password = 123456").dashboard_default_password == "123456");

  // Off by enable = false, or by bind = 0 as in EMQX; either way the port is not claimed.
  CHECK_FALSE(from("dashboard.listeners.http.enable = false").dashboard_http_enable);
  CHECK_FALSE(from("dashboard.listeners.http.bind = 0").dashboard_http_enable);
  CHECK_NOTHROW(
      from("dashboard.listeners.http.enable = false\n"
           "listeners.tcp.default.bind = 18083"));
  CHECK(error_of("dashboard.listeners.http.enable = maybe") ==
        "emqx.conf:1: dashboard.listeners.http.enable: expected true or false, got \"maybe\"");
  CHECK(error_of("dashboard.default_password = \"\"") ==
        "emqx.conf:1: dashboard.default_password: must not be empty");
  CHECK(error_of("\n\ndashboard.default_username = [admin]") ==
        "emqx.conf:3: dashboard.default_username: expected a string, got an array");
  CHECK(error_of("dashboard = 1") == "emqx.conf:1: dashboard: expected an object, got 1");
  CHECK(from("").dashboard_swagger_support);
  CHECK_FALSE(from("dashboard.swagger_support = false").dashboard_swagger_support);
  // EMQX's web dashboard settings: no web dashboard here.
  CHECK(error_of("dashboard.listeners.http.max_connections = 512") ==
        "emqx.conf:1: dashboard.listeners.http.max_connections: not implemented yet by emqxd");
}

TEST_CASE("dashboard: EMQX's failed-login lockout and the API key bootstrap file",
          "[config][dashboard]") {
  using namespace std::chrono_literals;
  Config d = from("");
  CHECK(d.dashboard_login_max_attempts == 5);
  CHECK(d.dashboard_login_lock_duration == 10min);
  CHECK(d.dashboard_login_interval == 5min);
  CHECK(d.api_key_bootstrap_file.empty());
  Config c = from(R"(
dashboard {
  unsuccessful_login_max_attempts = 3
  unsuccessful_login_lock_duration = 30s
  unsuccessful_login_interval = 1m
}
api_key { bootstrap_file = "etc/keys.conf" }
)");
  CHECK(c.dashboard_login_max_attempts == 3);
  CHECK(c.dashboard_login_lock_duration == 30s);
  CHECK(c.dashboard_login_interval == 1min);
  CHECK(c.api_key_bootstrap_file == "etc/keys.conf");
  CHECK(error_of("dashboard.unsuccessful_login_max_attempts = 0")
            .starts_with("emqx.conf:1: dashboard.unsuccessful_login_max_attempts:"));
  CHECK(error_of("api_key = 1") == "emqx.conf:1: api_key: expected an object, got 1");
  // EMQX has nothing else under api_key; anything else is refused, never ignored.
  CHECK(
      error_of("\napi_key.enable = true").starts_with("emqx.conf:2: api_key.enable: unknown key"));
}

TEST_CASE("TLS listener options: versions, ciphers, depth, honor_cipher_order", "[config][tls]") {
  Config d = from("listeners.ssl.default.ssl_options { certfile = c, keyfile = k }");
  REQUIRE(d.listeners.size() == 1);
  const auto& o = d.listeners[0].ssl_options;
  CHECK(o.versions == std::vector<std::string>{"tlsv1.3", "tlsv1.2"});
  CHECK(o.ciphers.empty());
  CHECK(o.depth == 10);
  CHECK(o.honor_cipher_order);
  Config c = from(R"(listeners.wss.default.ssl_options {
  certfile = c, keyfile = k
  versions = ["tlsv1.2"]
  ciphers = "TLS_AES_256_GCM_SHA384, ECDHE-RSA-AES256-GCM-SHA384"
  depth = 2
  honor_cipher_order = false
})");
  const auto& w = c.listeners[0].ssl_options;
  CHECK(w.versions == std::vector<std::string>{"tlsv1.2"});
  CHECK(w.ciphers ==
        std::vector<std::string>{"TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"});
  CHECK(w.depth == 2);
  CHECK_FALSE(w.honor_cipher_order);
  CHECK(from("listeners.ssl.default.ssl_options { certfile = c, keyfile = k, ciphers = [\"A\", "
             "\"B\"] }")
            .listeners[0]
            .ssl_options.ciphers == std::vector<std::string>{"A", "B"});
  CHECK(error_of("listeners.ssl.default.ssl_options.versions = [\"tlsv1.1\"]") ==
        "emqx.conf:1: listeners.ssl.default.ssl_options.versions: tlsv1.1 is not supported: it "
        "is insecure (RFC 8996); use tlsv1.2 and tlsv1.3");
  CHECK(error_of("listeners.ssl.default.ssl_options.versions = [\"tls2\"]") ==
        "emqx.conf:1: listeners.ssl.default.ssl_options.versions: expected tlsv1.2 or tlsv1.3, "
        "got \"tls2\"");
  CHECK(error_of("listeners.ssl.default.ssl_options.versions = []") ==
        "emqx.conf:1: listeners.ssl.default.ssl_options.versions: must name at least one version");
  CHECK(error_of("listeners.tcp.default.ssl_options.versions = [\"tlsv1.2\"]")
            .starts_with("emqx.conf:1: listeners.tcp.default.ssl_options"));
}

TEST_CASE("dashboard credentials from the environment are taken as written",
          "[config][dashboard][env]") {
  auto password = [](const std::string& value) {
    return from("dashboard.default_password = file", {{"EMQX_DASHBOARD__DEFAULT_PASSWORD", value}})
        .dashboard_default_password;
  };
  CHECK(password("n3w-Secret") == "n3w-Secret");
  CHECK(password("true") == "true");
  CHECK(password("p#ss // word") == "p#ss // word");
  CHECK(password("${HOME}x") == "${HOME}x");
  CHECK(password("[1, 2]") == "[1, 2]");
  CHECK(password("\"quoted\"") == "quoted");
  Config c = from("", {{"EMQX_DASHBOARD__DEFAULT_USERNAME", "ops"},
                       {"EMQX_DASHBOARD__LISTENERS__HTTP__BIND", "127.0.0.1:18099"},
                       {"EMQX_DASHBOARD__LISTENERS__HTTP__ENABLE", "true"}});
  CHECK(c.dashboard_default_username == "ops");
  CHECK(c.dashboard_http_bind == "127.0.0.1:18099");
  CHECK(c.dashboard_http_enable);
  CHECK(error_of("", {{"EMQX_DASHBOARD__LISTENERS__HTTP__ENABLE", "maybe"}}) ==
        "EMQX_DASHBOARD__LISTENERS__HTTP__ENABLE: dashboard.listeners.http.enable: expected "
        "true or false, got \"maybe\"");
  CHECK(error_of("", {{"EMQX_DASHBOARD__DEFAULT_PASSWORD", ""}}) ==
        "EMQX_DASHBOARD__DEFAULT_PASSWORD: dashboard.default_password: must not be empty");
}

TEST_CASE("bad values name the file, the line and the full key", "[config][errors]") {
  CHECK(error_of("\n\nmqtt {\n  max_qos_allowed = 3\n}") ==
        "emqx.conf:4: mqtt.max_qos_allowed: must be 0, 1 or 2, got 3");
  CHECK(error_of("mqtt.max_qos_allowed = high") ==
        "emqx.conf:1: mqtt.max_qos_allowed: must be 0, 1 or 2, got \"high\"");
  CHECK(error_of("mqtt.retain_available = maybe") ==
        "emqx.conf:1: mqtt.retain_available: expected true or false, got \"maybe\"");
  CHECK(error_of("mqtt.max_inflight = 0") ==
        "emqx.conf:1: mqtt.max_inflight: must be between 1 and 65535, got 0");
  CHECK(error_of("mqtt.max_inflight = 1.5") ==
        "emqx.conf:1: mqtt.max_inflight: expected an integer, got 1.5");
  CHECK(error_of("mqtt.max_clientid_len = 10") ==
        "emqx.conf:1: mqtt.max_clientid_len: must be between 23 and 65535, got 10");
  CHECK(error_of("mqtt.max_topic_alias = 70000") ==
        "emqx.conf:1: mqtt.max_topic_alias: must be between 0 and 65535, got 70000");
  CHECK(error_of("mqtt.max_subscriptions = lots") ==
        "emqx.conf:1: mqtt.max_subscriptions: expected an integer or infinity, got \"lots\"");
  CHECK(error_of("mqtt.retry_interval = 30x") ==
        "emqx.conf:1: mqtt.retry_interval: expected a duration such as 30s, 5m, 1h or 500ms, "
        "got \"30x\"");
  CHECK(error_of("mqtt.retry_interval = -5") ==
        "emqx.conf:1: mqtt.retry_interval: expected a duration such as 30s, 5m, 1h or 500ms, "
        "got -5");
  CHECK(error_of("mqtt.idle_timeout = never") ==
        "emqx.conf:1: mqtt.idle_timeout: expected a duration such as 30s, 5m or 1h, or "
        "infinity, got \"never\"");
  CHECK(error_of("mqtt.max_packet_size = 1TB") ==
        "emqx.conf:1: mqtt.max_packet_size: expected a size such as 1MB, 64KB or 1024, got "
        "\"1TB\"");
  CHECK(error_of("mqtt.max_packet_size = 512MB") ==
        "emqx.conf:1: mqtt.max_packet_size: must be between 1 and 256MB, got \"512MB\"");
  CHECK(error_of("mqtt.keepalive_multiplier = 0") ==
        "emqx.conf:1: mqtt.keepalive_multiplier: must be greater than 0, got 0");
  CHECK(error_of("mqtt.keepalive_multiplier = fast") ==
        "emqx.conf:1: mqtt.keepalive_multiplier: expected a number, got \"fast\"");
  CHECK(error_of("mqtt.server_keepalive = 0") ==
        "emqx.conf:1: mqtt.server_keepalive: must be between 1 and 65535, got 0");
  CHECK(error_of("mqtt.server_keepalive = off") ==
        "emqx.conf:1: mqtt.server_keepalive: expected seconds (1 to 65535) or disabled, got "
        "\"off\"");
  CHECK(error_of("mqtt.shared_subscription_strategy = fair") ==
        "emqx.conf:1: mqtt.shared_subscription_strategy: must be random, round_robin, "
        "round_robin_per_group, sticky, local, hash_topic or hash_clientid, got \"fair\"");
  CHECK(error_of("mqtt.server_reference = [a]") ==
        "emqx.conf:1: mqtt.server_reference: expected a string, got an array");
  CHECK(error_of("node.name = emqx") ==
        "emqx.conf:1: node.name: must look like name@host, got \"emqx\"");
  CHECK(error_of("node.name = \"a@b@c\"") ==
        "emqx.conf:1: node.name: must look like name@host, got \"a@b@c\"");
  CHECK(error_of("node.data_dir = \"\"") == "emqx.conf:1: node.data_dir: must not be empty");
  CHECK(error_of("node.io_threads = 5000") ==
        "emqx.conf:1: node.io_threads: must be between 0 and 1024, got 5000");
  CHECK(error_of("mqtt = 5") == "emqx.conf:1: mqtt: expected an object, got 5");
  CHECK(error_of("sys_topics.sys_event_messages = yes") ==
        "emqx.conf:1: sys_topics.sys_event_messages: expected an object, got \"yes\"");
  CHECK(error_of("retainer.max_payload_size = big") ==
        "emqx.conf:1: retainer.max_payload_size: expected a size such as 1MB, 64KB or 1024, "
        "got \"big\"");
  CHECK(error_of("durable_sessions.sync = sometimes") ==
        "emqx.conf:1: durable_sessions.sync: expected true or false, got \"sometimes\"");
  CHECK(error_of("\ndurable_storage.rocksdb {\n  write_buffer_size = 1KB\n}") ==
        "emqx.conf:3: durable_storage.rocksdb.write_buffer_size: must be between 65536 and "
        "1GB, got \"1KB\"");
  CHECK(error_of("durable_storage.rocksdb.block_cache_size = lots") ==
        "emqx.conf:1: durable_storage.rocksdb.block_cache_size: expected a size such as 1MB, "
        "64KB or 1024, got \"lots\"");
  CHECK(error_of("durable_storage.rocksdb = 5") ==
        "emqx.conf:1: durable_storage.rocksdb: expected an object, got 5");
  CHECK(error_of("sys_topics.sys_msg_interval = sometimes") ==
        "emqx.conf:1: sys_topics.sys_msg_interval: expected a duration such as 30s, 5m or 1h, "
        "or disabled, got \"sometimes\"");
}

TEST_CASE("syntax errors and missing files name the file", "[config][errors]") {
  CHECK(error_of("a = 1\nlisteners.tcp.default.bind = 0.0.0.0:1883") ==
        "emqx.conf:2: unexpected ':' after the value of listeners.tcp.default.bind (quote "
        "strings that contain ':')");
  TempDir dir;
  std::string path = (dir.path() / "missing.conf").string();
  try {
    load(path, {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == path + ": cannot read config file: no such file");
  }
}

TEST_CASE("a file with includes loads, errors point into the included file", "[config]") {
  TempDir dir;
  dir.write("conf.d/mqtt.conf", "mqtt {\n  max_inflight = 64\n  max_qos_allowed = ${QOS}\n}\n");
  std::string path = dir.write("emqx.conf", "include \"conf.d/mqtt.conf\"\nnode.name = \"a@b\"\n");
  Config c = load(path, {{"QOS", "1"}});
  CHECK(c.mqtt.max_inflight == 64);
  CHECK(c.mqtt.max_qos_allowed == 1);
  CHECK(c.node.name == "a@b");
  CHECK(c.warnings.empty());

  std::string bad = dir.write("conf.d/mqtt.conf", "mqtt {\n  max_inflight = 0\n}\n");
  try {
    load(path, {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          bad + ":2: mqtt.max_inflight: must be between 1 and 65535, got 0");
  }
}

TEST_CASE("an unknown key stops start-up naming the file, the line and the key",
          "[config][strict]") {
  CHECK(error_of("mqtt.max_inflight = 10\nmqtt.bogus = 1") ==
        "emqx.conf:2: mqtt.bogus: unknown key");
  CHECK(error_of("\n\nnonsense { a = 1 }") == "emqx.conf:3: nonsense: unknown key");
  CHECK(error_of("listeners.tcp.default {\n  bind = 1883\n  bindd = 1884\n}") ==
        "emqx.conf:3: listeners.tcp.default.bindd: unknown key (did you mean bind?)");
  CHECK(error_of("mqtt { max_inflght = 10 }") ==
        "emqx.conf:1: mqtt.max_inflght: unknown key (did you mean max_inflight?)");
  CHECK(error_of("mqt.max_inflight = 10") == "emqx.conf:1: mqt: unknown key (did you mean mqtt?)");
  // A key of one listener type under another.
  CHECK(error_of("listeners.tcp.default.websocket.mqtt_path = \"/ws\"") ==
        "emqx.conf:1: listeners.tcp.default.websocket: unknown key");
  CHECK(error_of("listeners.ws.default.ssl_options.certfile = c.pem") ==
        "emqx.conf:1: listeners.ws.default.ssl_options: unknown key");
  // A root-level variable for substitutions is a key like any other (use the environment).
  CHECK(error_of("qos = 1\nmqtt.max_qos_allowed = ${qos}") == "emqx.conf:1: qos: unknown key");
}

TEST_CASE("a file with an unknown key in an include points into the included file",
          "[config][strict]") {
  TempDir dir;
  std::string inner = dir.write("conf.d/extra.conf", "mqtt {\n  max_inflight = 5\n  typo = 1\n}\n");
  std::string path = dir.write("emqx.conf", "include \"conf.d/extra.conf\"\n");
  try {
    load(path, {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == inner + ":3: mqtt.typo: unknown key");
  }
}

TEST_CASE("a key of an EMQX feature emqxd lacks stops start-up: not implemented yet",
          "[config][strict]") {
  CHECK(error_of("\nauthentication = [{ mechanism = gcp_device }]") ==
        "emqx.conf:2: authentication[1].mechanism: not implemented yet by emqxd (password_based, "
        "jwt and scram are)");
  CHECK(error_of("log.audit { enable = true }") ==
        "emqx.conf:1: log.audit: not implemented yet by emqxd");
  CHECK(error_of("retainer { enable = true, backend.type = built_in_database }") ==
        "emqx.conf:1: retainer.backend: not implemented yet by emqxd (retained messages are "
        "kept with the durable sessions)");
  CHECK(error_of("listeners.tcp.default { bind = 1883, proxy_protocol = true }") ==
        "emqx.conf:1: listeners.tcp.default.proxy_protocol: not implemented yet by emqxd");
  CHECK(error_of("listeners.ssl.default.ssl_options.password = x") ==
        "emqx.conf:1: listeners.ssl.default.ssl_options.password: not implemented yet by emqxd");
  CHECK(error_of("listeners.quic.default.bind = 14567") ==
        "emqx.conf:1: listeners.quic: not implemented yet by emqxd");
  CHECK(error_of("dashboard.listeners.https.bind = 18084") ==
        "emqx.conf:1: dashboard.listeners.https: not implemented yet by emqxd (the HTTP API is "
        "served over plain HTTP only)");
  CHECK(error_of("rpc.driver = ssl") ==
        "emqx.conf:1: rpc: not implemented yet by emqxd (cluster traffic is set by "
        "cluster.rpc.bind, its TLS by cluster.rpc.ssl)");
  CHECK(error_of("durable_sessions {\n  enable = true\n  message_retention_period = 1d\n}") ==
        "emqx.conf:3: durable_sessions.message_retention_period: not implemented yet by emqxd");
  CHECK(error_of("durable_storage.messages.backend = builtin_local") ==
        "emqx.conf:1: durable_storage.messages: not implemented yet by emqxd");
  // EMQX's connector types emqxd does not run yet, by name (and an action of one).
  CHECK(error_of("connectors.mongodb.mg { server = \"x:27017\" }") ==
        "emqx.conf:1: connectors.mongodb.mg: not implemented yet by emqxd (so far: http, "
        "mqtt, pgsql, mysql, redis, influxdb, rabbitmq, kafka_producer)");
  CHECK(error_of("actions.pulsar.p { connector = pulsar }") ==
        "emqx.conf:1: actions.pulsar.p: not implemented yet by emqxd (so far: http, "
        "mqtt, pgsql, mysql, redis, influxdb, rabbitmq, kafka_producer)");
  // Every feature the issue names, and each the same way from the environment.
  for (std::string key :
       {"prometheus.push_gateway", "limiter", "force_shutdown.max_mailbox_size", "log.audit",
        "retainer.backend", "rule_engine.jq_function_default_timeout", "bridges.mqtt",
        "gateway.exproto", "exhook", "sysmon.top", "sysmon.os.cpu_high_watermark",
        "psk_authentication", "durable_sessions.batch_size"}) {
    INFO(key);
    std::string e = error_of(key + ".enable = true");
    CHECK(e.starts_with("emqx.conf:1: " + key + ": not implemented yet by emqxd"));
    std::string var = "EMQX_";
    for (char ch : key + ".enable") {
      var += ch == '.' ? std::string("__") : std::string(1, static_cast<char>(std::toupper(ch)));
    }
    CHECK(error_of("", {{var, "true"}})
              .starts_with(var + ": " + key + ": not implemented yet by emqxd"));
  }
}

TEST_CASE("EMQX's Erlang VM tuning is warned about and ignored", "[config][strict]") {
  Config c = from(
      "node {\n  name = \"a@b\"\n  process_limit = 2097152\n  max_ports = 1048576\n}\n"
      "force_gc.count = 16000");
  CHECK(c.node.name == "a@b");
  REQUIRE(c.warnings.size() == 3);
  CHECK(c.warnings[0] ==
        "emqx.conf:3: node.process_limit: an Erlang VM setting of EMQX, no meaning in emqxd: "
        "ignored");
  CHECK(c.warnings[1] ==
        "emqx.conf:4: node.max_ports: an Erlang VM setting of EMQX, no meaning in emqxd: ignored");
  CHECK(c.warnings[2] ==
        "emqx.conf:6: force_gc: an Erlang VM setting of EMQX, no meaning in emqxd: ignored");
}

TEST_CASE("durable sessions: emqxd's keys load, EMQX's tuning and typos stop start-up",
          "[config][strict]") {
  Config c = from(R"(
durable_sessions { enable = true, sync = false }
durable_storage.rocksdb { write_buffer_size = 8MB, block_cache_size = 1MB }
)");
  CHECK(c.warnings.empty());
  CHECK(c.durable_sessions.enable);
  CHECK_FALSE(c.durable_sessions.sync);
  CHECK(c.durable_storage.write_buffer_size == 8 * 1024 * 1024);
  CHECK(error_of("durable_sessions.enabel = false") ==
        "emqx.conf:1: durable_sessions.enabel: unknown key (did you mean enable?)");
  CHECK(error_of("durable_storage.rocksdb.cache = 1MB") ==
        "emqx.conf:1: durable_storage.rocksdb.cache: unknown key");
  CHECK(error_of("durable_storage.other = 1") == "emqx.conf:1: durable_storage.other: unknown key");
  Config env = from("", {{"EMQX_DURABLE_SESSIONS__ENABLE", "false"},
                         {"EMQX_DURABLE_STORAGE__ROCKSDB__BLOCK_CACHE_SIZE", "4MB"}});
  CHECK_FALSE(env.durable_sessions.enable);
  CHECK(env.durable_storage.block_cache_size == 4 * 1024 * 1024);
}

TEST_CASE("environment overrides: double underscore is a dot, env wins", "[config][env]") {
  Env env{{"EMQX_LISTENERS__TCP__DEFAULT__BIND", "0.0.0.0:1884"},
          {"EMQX_NODE__NAME", "emqx@10.0.0.5"},
          {"EMQX_MQTT__MAX_INFLIGHT", "64"},
          {"EMQX_LOG__CONSOLE__LEVEL", "debug"},
          {"PATH", "/usr/bin"},
          {"HOME", "/root"}};
  Config c = from("node.name = \"file@host\"\nmqtt.max_inflight = 10\n", env);
  CHECK(c.warnings.empty());
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].type == "tcp");
  CHECK(c.listeners[0].name == "default");
  CHECK(c.listeners[0].bind == "0.0.0.0:1884");
  CHECK(c.node.name == "emqx@10.0.0.5");
  CHECK(c.mqtt.max_inflight == 64);
  CHECK(c.log.console.level == "debug");
}

TEST_CASE("environment overrides also work with no file at all", "[config][env]") {
  Config bind = load("", {{"EMQX_LISTENERS__TCP__DEFAULT__BIND", "1884"}});
  REQUIRE(bind.listeners.size() == 1);
  CHECK(bind.listeners[0].bind == "0.0.0.0:1884");
  // Naming only another option of the default listener keeps its default bind.
  Config conns = load("", {{"EMQX_LISTENERS__TCP__DEFAULT__MAX_CONNECTIONS", "10"}});
  REQUIRE(conns.listeners.size() == 1);
  CHECK(conns.listeners[0].bind == "0.0.0.0:1883");
  CHECK(conns.listeners[0].max_connections == 10);
  Config off = load("", {{"EMQX_LISTENERS__TCP__DEFAULT__ENABLE", "false"}});
  CHECK(off.listeners.empty());
  Config ws = load("", {{"EMQX_LISTENERS__WS__DEFAULT__BIND", "8083"}});
  REQUIRE(ws.listeners.size() == 1);
  CHECK(ws.listeners[0].type == "ws");
}

TEST_CASE("environment values are HOCON when they parse, text otherwise", "[config][env]") {
  Env env{
      {"EMQX_CLUSTER__STATIC__SEEDS", R"(["n1@127.0.0.1:4371", "n2@127.0.0.1:4371"])"},
      {"EMQX_LISTENERS__WS__DEFAULT", R"({ bind = "0.0.0.0:8083", websocket.mqtt_path = "/ws" })"},
      {"EMQX_LISTENERS__WS__DEFAULT__MAX_CONNECTIONS", "77"},
      {"EMQX_MQTT__SERVER_REFERENCE", "  spaced  "},
      {"EMQX_MQTT__RESPONSE_INFORMATION", "a#b//c"},
      {"EMQX_NODE__DATA_DIR", "C:\\data"}};
  Config c = load("", env);
  CHECK(c.warnings.empty());
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].bind == "0.0.0.0:8083");
  CHECK(c.listeners[0].websocket_mqtt_path == "/ws");
  CHECK(c.listeners[0].max_connections == 77);
  CHECK(c.mqtt.server_reference == "spaced");
  CHECK(c.mqtt.response_information == "a#b//c");
  CHECK(c.node.data_dir == "C:\\data");
}

TEST_CASE("environment values may use substitutions", "[config][env]") {
  Env env{{"EMQX_NODE__NAME", "emqx@${HOSTNAME}"}, {"HOSTNAME", "pod-3.emqxd"}};
  CHECK(load("", env).node.name == "emqx@pod-3.emqxd");
  Env self{{"EMQX_NODE__DATA_DIR", "${node.data_dir}/sub"}};
  CHECK(from("node.data_dir = /var/lib", self).node.data_dir == "/var/lib/sub");
  // The file may refer to a key the environment sets.
  Env over{{"EMQX_MQTT__MAX_INFLIGHT", "99"}};
  CHECK(from("mqtt.max_awaiting_rel = ${mqtt.max_inflight}", over).mqtt.max_awaiting_rel == 99);
}

TEST_CASE("EMQX_ variables that name no config root are warned about and ignored",
          "[config][env][strict]") {
  Env env{{"EMQX_LOG_DIR", "/var/log"},  // EMQX's scripts set these
          {"EMQX_ETC_DIR", "/etc/emqx"},    {"EMQX_HOST", "10.0.0.1"},  {"EMQX_", "x"},
          {"emqx_mqtt__max_inflight", "5"}, {"MQTT__MAX_INFLIGHT", "5"}};
  Config c = load("", env);
  CHECK(c.mqtt.max_inflight == 32);
  CHECK(joined(c.warnings) ==
        "EMQX_: not a config key (no config root ): ignored\n"
        "EMQX_ETC_DIR: not a config key (no config root etc_dir): ignored\n"
        "EMQX_HOST: not a config key (no config root host): ignored\n"
        "EMQX_LOG_DIR: not a config key (no config root log_dir): ignored\n");
}

TEST_CASE("EMQX_ variables under a known root must name a key", "[config][env][strict]") {
  CHECK(error_of("", {{"EMQX_MQTT__MAX_INFLIGT", "5"}}) ==
        "EMQX_MQTT__MAX_INFLIGT: mqtt.max_infligt: unknown key (did you mean max_inflight?)");
  CHECK(error_of("", {{"EMQX_LISTENERS__TCP__DEFAULT__ACCEPTORS", "16"}}) ==
        "EMQX_LISTENERS__TCP__DEFAULT__ACCEPTORS: listeners.tcp.default.acceptors: not "
        "implemented yet by emqxd");
  CHECK(error_of("", {{"EMQX_MQTT____X", "1"}}) ==
        "EMQX_MQTT____X: not a config key: an empty name between \"__\" separators");
  // EMQX's start script renames these; emqxd would run under another name or believe the
  // cookie set.
  CHECK(error_of("", {{"EMQX_NODE_NAME", "emqx@script"}}) ==
        "EMQX_NODE_NAME: not a config key; EMQX_NODE__NAME sets node.name (EMQX's start "
        "script renames EMQX_NODE_NAME, emqxd does not)");
  CHECK(error_of("", {{"EMQX_NODE_COOKIE", "secret"}}) ==
        "EMQX_NODE_COOKIE: not a config key; EMQX_NODE__COOKIE sets node.cookie (EMQX's start "
        "script renames EMQX_NODE_COOKIE, emqxd does not)");
  CHECK(error_of("", {{"EMQX_CLUSTER_NAME", "c1"}})
            .starts_with(
                "EMQX_CLUSTER_NAME: not a config key; EMQX_CLUSTER__NAME sets cluster.name"));
}

TEST_CASE("environment errors name the variable", "[config][env]") {
  try {
    load("", {{"EMQX_MQTT__MAX_QOS_ALLOWED", "3"}});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "EMQX_MQTT__MAX_QOS_ALLOWED: mqtt.max_qos_allowed: must be 0, 1 or 2, got 3");
  }
  try {
    load("", {{"EMQX_LISTENERS__TCP__DEFAULT__BIND", "0.0.0.0:99999"}});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          "EMQX_LISTENERS__TCP__DEFAULT__BIND: listeners.tcp.default.bind: port must be "
          "between 0 and 65535, got \"0.0.0.0:99999\"");
  }
  CHECK(error_of("", {{"EMQX_MQTT__BOGUS", "1"}}) == "EMQX_MQTT__BOGUS: mqtt.bogus: unknown key");
}

TEST_CASE("parse_duration", "[config][duration]") {
  CHECK(parse_duration("30s") == Duration(30s));
  CHECK(parse_duration("5m") == Duration(5min));
  CHECK(parse_duration("1h") == Duration(1h));
  CHECK(parse_duration("500ms") == Duration(500ms));
  CHECK(parse_duration("2d") == Duration(48h));
  CHECK(parse_duration("1h30m") == Duration(90min));
  CHECK(parse_duration("1d2h3m4s5ms") == Duration(26h + 3min + 4s + 5ms));
  CHECK(parse_duration("0s") == Duration::zero());
  CHECK(parse_duration("30S") == Duration(30s));
  CHECK(parse_duration("10MS") == Duration(10ms));
  CHECK(parse_duration("1500") == Duration(1500ms));
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(
      parse_duration("30"
                     "x"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("1.5s"));
  CHECK_FALSE(parse_duration("30 s"));
  CHECK_FALSE(parse_duration("1h30"));
  CHECK_FALSE(parse_duration("99999999999999999999d"));
  CHECK_FALSE(parse_duration("9999999999999999d"));
}

TEST_CASE("parse_size", "[config][size]") {
  CHECK(parse_size("1024") == 1024u);
  CHECK(parse_size("10B") == 10u);
  CHECK(parse_size("64KB") == 64u * 1024);
  CHECK(parse_size("1MB") == 1024u * 1024);
  CHECK(parse_size("1mb") == 1024u * 1024);
  CHECK(parse_size("2Gb") == 2ull * 1024 * 1024 * 1024);
  CHECK(parse_size("0") == 0u);
  CHECK_FALSE(parse_size(""));
  CHECK_FALSE(parse_size("MB"));
  CHECK_FALSE(parse_size("1TB"));
  CHECK_FALSE(parse_size("1.5MB"));
  CHECK_FALSE(parse_size("-1"));
  CHECK_FALSE(parse_size("1 MB"));
  CHECK_FALSE(parse_size("99999999999999999999"));
  CHECK_FALSE(parse_size("99999999999GB"));
}

TEST_CASE("environment() reads the process environment", "[config][env]") {
  auto env = emqxd::config::environment();
  REQUIRE(env.count("PATH") == 1);
  CHECK_FALSE(env["PATH"].empty());
}

TEST_CASE("listeners: max_conn_rate (EMQX's rates) and max_conn_per_ip", "[config][listeners]") {
  Config d = from("");
  REQUIRE(!d.listeners.empty());
  CHECK(d.listeners[0].max_conn_rate_count == 0);
  CHECK(d.listeners[0].max_conn_per_ip == 0);
  Config c = from(
      "listeners.tcp.default { bind = 1883, max_conn_rate = \"1000/s\", max_conn_per_ip = 16 }\n"
      "listeners.ws.default { bind = 8083, max_conn_rate = \"50/10s\" }\n"
      "listeners.ssl.x { bind = 8883, max_conn_rate = \"600/m\", max_conn_per_ip = infinity,"
      " ssl_options { certfile = c, keyfile = k } }");
  const auto* tcp = listener(c, "tcp", "default");
  REQUIRE(tcp != nullptr);
  CHECK(tcp->max_conn_rate_count == 1000);
  CHECK(tcp->max_conn_rate_period == std::chrono::seconds(1));
  CHECK(tcp->max_conn_per_ip == 16);
  const auto* ws = listener(c, "ws", "default");
  REQUIRE(ws != nullptr);
  CHECK(ws->max_conn_rate_count == 50);
  CHECK(ws->max_conn_rate_period == std::chrono::seconds(10));
  const auto* ssl = listener(c, "ssl", "x");
  REQUIRE(ssl != nullptr);
  CHECK(ssl->max_conn_rate_count == 600);
  CHECK(ssl->max_conn_rate_period == std::chrono::minutes(1));
  CHECK(ssl->max_conn_per_ip == 0);
  Config inf = from("listeners.tcp.default { bind = 1883, max_conn_rate = infinity }");
  CHECK(listener(inf, "tcp", "default")->max_conn_rate_count == 0);
  for (std::string bad : {"1000", "/s", "0/s", "x/s", "10/0s", "10/parsec"}) {
    INFO(bad);
    CHECK(error_of("listeners.tcp.default { bind = 1883, max_conn_rate = \"" + bad + "\" }")
              .starts_with("emqx.conf:1: listeners.tcp.default.max_conn_rate: expected a rate"));
  }
  CHECK(error_of("listeners.tcp.default { bind = 1883, max_conn_per_ip = 0 }")
            .starts_with("emqx.conf:1: listeners.tcp.default.max_conn_per_ip:"));
}

TEST_CASE("listeners: messages_rate and bytes_rate, EMQX's rates per client",
          "[config][listeners]") {
  Config d = from("");
  REQUIRE(!d.listeners.empty());
  for (const auto& l : d.listeners) {
    CHECK(l.messages_rate.infinite());
    CHECK(l.bytes_rate.infinite());
  }
  Config c = from(
      "listeners.tcp.default { bind = 1883, messages_rate = \"100/s\", bytes_rate = \"1MB/s\" }\n"
      "listeners.ws.default { bind = 8083, messages_rate = \"1000/10s\","
      " bytes_rate = \"512KB/10s\" }\n"
      "listeners.wss.w { bind = 8084, messages_rate = infinity, bytes_rate = \"2048/m\","
      " ssl_options { certfile = c, keyfile = k } }\n"
      "listeners.ssl.x { bind = 8883, messages_rate = \"50/2s\", bytes_rate = infinity,"
      " ssl_options { certfile = c, keyfile = k } }");
  const auto* tcp = listener(c, "tcp", "default");
  REQUIRE(tcp != nullptr);
  CHECK(tcp->messages_rate.count == 100);
  CHECK(tcp->messages_rate.period == std::chrono::seconds(1));
  CHECK(tcp->bytes_rate.count == 1024 * 1024);
  CHECK(tcp->bytes_rate.period == std::chrono::seconds(1));
  const auto* ws = listener(c, "ws", "default");
  REQUIRE(ws != nullptr);
  CHECK(ws->messages_rate.count == 1000);
  CHECK(ws->messages_rate.period == std::chrono::seconds(10));
  CHECK(ws->bytes_rate.count == 512 * 1024);
  CHECK(ws->bytes_rate.period == std::chrono::seconds(10));
  const auto* wss = listener(c, "wss", "w");
  REQUIRE(wss != nullptr);
  CHECK(wss->messages_rate.infinite());
  CHECK(wss->bytes_rate.count == 2048);
  CHECK(wss->bytes_rate.period == std::chrono::minutes(1));
  const auto* ssl = listener(c, "ssl", "x");
  REQUIRE(ssl != nullptr);
  CHECK(ssl->messages_rate.count == 50);
  CHECK(ssl->messages_rate.period == std::chrono::seconds(2));
  CHECK(ssl->bytes_rate.infinite());

  // From the environment, as EMQX's variables name them.
  Config e = from("", {{"EMQX_LISTENERS__TCP__DEFAULT__MESSAGES_RATE", "10000000/s"},
                       {"EMQX_LISTENERS__TCP__DEFAULT__BYTES_RATE", "1GB/s"}});
  const auto* etcp = listener(e, "tcp", "default");
  REQUIRE(etcp != nullptr);
  CHECK(etcp->messages_rate.count == 10000000);
  CHECK(etcp->bytes_rate.count == 1024ULL * 1024 * 1024);

  for (std::string bad : {"100", "/s", "0/s", "x/s", "10/0s", "10/parsec", "1MB/s", "-5/s",
                          "99999999999/s", "1.5/s"}) {
    INFO(bad);
    CHECK(error_of("listeners.tcp.default {\n  bind = 1883\n  messages_rate = \"" + bad + "\"\n}")
              .starts_with("emqx.conf:3: listeners.tcp.default.messages_rate: expected a rate "
                           "such as \"1000/s\""));
  }
  for (std::string bad : {"1MB", "/s", "0MB/s", "1TB/s", "1.5MB/s", "1MB/0s", "MB/s", "1MB/week"}) {
    INFO(bad);
    CHECK(error_of("listeners.ws.default {\n  bind = 8083\n  bytes_rate = \"" + bad + "\"\n}")
              .starts_with("emqx.conf:3: listeners.ws.default.bytes_rate: expected a rate such "
                           "as \"1MB/s\""));
  }
  CHECK(error_of("listeners.tcp.default { bind = 1883, bytes_rate = 5 }")
            .starts_with("emqx.conf:1: listeners.tcp.default.bytes_rate: expected a rate"));
  // EMQX's burst keys are not read yet: they stop start-up rather than pass unnoticed.
  CHECK(error_of("listeners.tcp.default { bind = 1883, messages_burst = \"10/s\" }")
            .find("not implemented yet") != std::string::npos);
}

TEST_CASE("force_shutdown: EMQX's keys and defaults, max_mailbox_size not implemented",
          "[config]") {
  Config d = from("");
  CHECK(d.force_shutdown.enable);
  CHECK(d.force_shutdown.max_heap_size == 32 * 1024 * 1024);
  Config c = from("force_shutdown { enable = false, max_heap_size = 8MB }");
  CHECK_FALSE(c.force_shutdown.enable);
  CHECK(c.force_shutdown.max_heap_size == 8 * 1024 * 1024);
  Config env = from("", {{"EMQX_FORCE_SHUTDOWN__MAX_HEAP_SIZE", "64MB"}});
  CHECK(env.force_shutdown.max_heap_size == 64 * 1024 * 1024);
  CHECK(error_of("force_shutdown.max_heap_size = 10M") ==
        "emqx.conf:1: force_shutdown.max_heap_size: expected a size such as 1MB, 64KB or 1024, "
        "got \"10M\"");
  CHECK(error_of("force_shutdown.max_heap_size = 1KB")
            .starts_with(
                "emqx.conf:1: force_shutdown.max_heap_size: must be between 65536 and 1024GB"));
  CHECK(error_of("force_shutdown.max_mailbox_size = 1000")
            .starts_with("emqx.conf:1: force_shutdown.max_mailbox_size: not implemented yet"));
}

TEST_CASE("deploy/emqx.conf loads with no warnings and documents the defaults",
          "[config][deploy]") {
  std::string path = source_root() + "/deploy/emqx.conf";
  REQUIRE(std::filesystem::exists(path));
  Config c = load(path, {});
  INFO(path << "\n" << joined(c.warnings));
  CHECK(c.warnings.empty());
  Config defaults = load("", {});
  CHECK(c.node.name == defaults.node.name);
  CHECK(c.node.data_dir == defaults.node.data_dir);
  CHECK(c.mqtt.max_packet_size == defaults.mqtt.max_packet_size);
  CHECK(c.mqtt.max_qos_allowed == defaults.mqtt.max_qos_allowed);
  CHECK(c.mqtt.session_expiry_interval == defaults.mqtt.session_expiry_interval);
  CHECK(c.dashboard_http_bind == defaults.dashboard_http_bind);
  const auto* tcp = listener(c, "tcp", "default");
  REQUIRE(tcp != nullptr);
  CHECK(tcp->bind == "0.0.0.0:1883");
  // Uncommenting every documented key must also load cleanly: the comments are the
  // defaults, written as a user would write them.
  std::ifstream in(path);
  std::string line;
  std::string uncommented;
  while (std::getline(in, line)) {
    auto hash = line.find("# ");
    bool setting = hash != std::string::npos && line.find_first_not_of(' ') == hash &&
                   line.find(" = ", hash) != std::string::npos;
    uncommented += (setting ? line.substr(0, hash) + line.substr(hash + 2) : line) + "\n";
  }
  Config all = load_string(uncommented, {}, "emqx.conf (uncommented)");
  INFO(joined(all.warnings));
  CHECK(all.warnings.empty());
  CHECK(all.listeners.size() == 4);
  CHECK(all.mqtt.max_inflight == defaults.mqtt.max_inflight);
  CHECK(all.mqtt.idle_timeout == defaults.mqtt.idle_timeout);
  CHECK(all.sys_topics.sys_msg_interval == defaults.sys_topics.sys_msg_interval);
  CHECK(all.retainer.max_payload_size == defaults.retainer.max_payload_size);
  CHECK(all.durable_sessions.enable == defaults.durable_sessions.enable);
  CHECK(all.durable_sessions.sync == defaults.durable_sessions.sync);
  CHECK(all.durable_storage.write_buffer_size == defaults.durable_storage.write_buffer_size);
  CHECK(all.durable_storage.block_cache_size == defaults.durable_storage.block_cache_size);
  CHECK(all.dashboard_http_bind == defaults.dashboard_http_bind);
  CHECK(all.dashboard_http_enable == defaults.dashboard_http_enable);
  CHECK(all.dashboard_default_username == defaults.dashboard_default_username);
  CHECK(all.dashboard_default_password == defaults.dashboard_default_password);
  CHECK(all.cluster.name == defaults.cluster.name);
  CHECK(all.cluster.discovery_strategy == defaults.cluster.discovery_strategy);
  CHECK(all.cluster.rpc_bind == defaults.cluster.rpc_bind);
  CHECK(all.cluster.rpc_ssl.verify == defaults.cluster.rpc_ssl.verify);
  CHECK(all.cluster.probe_interval == defaults.cluster.probe_interval);
  CHECK(all.cluster.probe_timeout == defaults.cluster.probe_timeout);
  CHECK(all.cluster.indirect_probes == defaults.cluster.indirect_probes);
  CHECK(all.cluster.suspicion_multiplier == defaults.cluster.suspicion_multiplier);
  CHECK(all.cluster.retransmit_multiplier == defaults.cluster.retransmit_multiplier);
  CHECK(all.cluster.gossip_interval == defaults.cluster.gossip_interval);
  CHECK(all.cluster.gossip_fanout == defaults.cluster.gossip_fanout);
  CHECK(all.cluster.push_pull_interval == defaults.cluster.push_pull_interval);
  CHECK(all.cluster.autoheal == defaults.cluster.autoheal);
  CHECK(all.cluster.reconnect_interval == defaults.cluster.reconnect_interval);
  CHECK(all.cluster.autoclean == defaults.cluster.autoclean);
  CHECK(all.cluster.static_seeds ==
        std::vector<std::string>{"emqx@10.0.0.1:4370", "emqx@10.0.0.2:4371"});
}

namespace {

// Does the dotted `key` fit the table's `pattern` ("*" any name, "a|b" either word)?
bool fits(const std::string& pattern, const std::string& key) {
  std::stringstream ps(pattern), ks(key);
  std::string p, k;
  while (std::getline(ps, p, '.')) {
    if (!std::getline(ks, k, '.')) return false;
    if (p == "*") continue;
    bool any = false;
    std::stringstream alternatives(p);
    for (std::string word; std::getline(alternatives, word, '|');)
      any = any || word == k;
    if (!any) return false;
  }
  return !std::getline(ks, k, '.');
}

void leaves(const emqxd::config::hocon::Value& v, const std::string& key,
            std::vector<std::string>& out) {
  if (!v.is_object() || v.fields().empty()) {
    out.push_back(key);
    return;
  }
  for (const auto& f : v.fields())
    leaves(f.value, key.empty() ? f.key : key + "." + f.key, out);
}

}  // namespace

TEST_CASE("deploy/emqx.conf documents every key of the table", "[config][deploy]") {
  std::ifstream in(source_root() + "/deploy/emqx.conf");
  std::string line;
  std::string uncommented;
  while (std::getline(in, line)) {
    auto hash = line.find("# ");
    bool setting = hash != std::string::npos && line.find_first_not_of(' ') == hash &&
                   line.find(" = ", hash) != std::string::npos;
    uncommented += (setting ? line.substr(0, hash) + line.substr(hash + 2) : line) + "\n";
  }
  auto tree = emqxd::config::hocon::parse(uncommented, "emqx.conf", {});
  std::vector<std::string> keys;
  leaves(tree, "", keys);
  for (const std::string& pattern : emqxd::config::known_keys()) {
    INFO(pattern);
    // A section (listeners.<type>.<name>, cluster, ...) is documented by its keys.
    bool section = std::any_of(keys.begin(), keys.end(), [&](const std::string& k) {
      for (auto dot = k.find('.'); dot != std::string::npos; dot = k.find('.', dot + 1)) {
        if (fits(pattern, k.substr(0, dot))) return true;
      }
      return false;
    });
    bool documented = std::any_of(keys.begin(), keys.end(),
                                  [&](const std::string& k) { return fits(pattern, k); });
    CHECK((documented || section));
  }
}

TEST_CASE("no key is both read and listed as not implemented", "[config][strict]") {
  for (const std::string& missing : emqxd::config::not_implemented_keys()) {
    for (const std::string& known : emqxd::config::known_keys()) {
      INFO(missing << " vs " << known);
      // Not implemented keys are never read, nor objects that hold a key that is read.
      CHECK_FALSE(fits(known, missing));
      CHECK_FALSE(known.starts_with(missing + "."));
    }
  }
}

TEST_CASE("authentication: EMQX's chain, each entry checked field by field", "[config][authn]") {
  auto c = load_string(R"(
authentication = [
  { mechanism = password_based, backend = built_in_database, user_id_type = clientid,
    password_hash_algorithm { name = pbkdf2, mac_fun = sha512, iterations = 100 },
    bootstrap_file = "users.csv", bootstrap_type = hash },
  { mechanism = jwt, from = username, secret = "s", secret_base64_encoded = false,
    verify_claims { sub = "${clientid}" }, enable = false }
]
listeners.tcp.default { bind = "127.0.0.1:1883", enable_authn = quick_deny_anonymous }
)",
                       {});
  REQUIRE(c.authentication.size() == 2);
  const auto& a = c.authentication[0];
  CHECK(a.key == "authentication[1]");
  CHECK(a.origin == "<string>:3");
  CHECK(a.user_id_type == "clientid");
  CHECK(a.password_hash_algorithm.name == "pbkdf2");
  CHECK(a.password_hash_algorithm.mac_fun == "sha512");
  CHECK(a.password_hash_algorithm.iterations == 100);
  CHECK(a.bootstrap_type == "hash");
  const auto& j = c.authentication[1];
  CHECK(j.mechanism == "jwt");
  CHECK(j.from == "username");
  CHECK_FALSE(j.enable);
  REQUIRE(j.verify_claims.size() == 1);
  CHECK(j.verify_claims[0] == std::pair<std::string, std::string>{"sub", "${clientid}"});
  REQUIRE(c.listeners.size() == 1);
  CHECK(c.listeners[0].enable_authn == emqxd::config::AuthnMode::QuickDenyAnonymous);

  CHECK(error_of("authentication = [{ mechanism = jwt }]") ==
        "emqx.conf:1: authentication[1].secret: required with algorithm = hmac-based");
  CHECK(error_of("authentication = [{ mechanism = jwt, secret = s, salt = 1 }]") ==
        "emqx.conf:1: authentication[1].salt: unknown field for jwt (known: mechanism, enable, "
        "from, use_jwks, algorithm, secret, secret_base64_encoded, public_key, verify_claims, "
        "acl_claim_name, disconnect_after_expire, endpoint, refresh_interval, pool_size, ssl)");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = mongodb }]") ==
        "emqx.conf:1: authentication[1].backend: not implemented yet by emqxd "
        "(built_in_database, http, postgresql, mysql and redis are)");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = mysql,"
                 " query = \"SELECT 1\", database = d }]") ==
        "emqx.conf:1: authentication[1].server: required (host[:port])");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = postgresql,\n"
                 " server = \"h:5432\", database = d, query = \"SELECT ${pw}\" }]") ==
        "emqx.conf:2: authentication[1].query: unknown placeholder ${pw} (known: ${username}, "
        "${clientid}, ${peerhost}, ${cert_common_name}, ${cert_subject}, ${password})");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = redis,\n"
                 " server = \"h\", redis_type = sentinel, cmd = \"HMGET u password_hash\" }]") ==
        "emqx.conf:1: authentication[1].server: applies to redis_type = single; sentinel reads "
        "servers");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = redis,\n"
                 " servers = \"h:1\", redis_type = sentinel, cmd = \"HMGET u password_hash\" }]") ==
        "emqx.conf:1: authentication[1].sentinel: required for redis_type = sentinel (the "
        "master's name)");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = redis,\n"
                 " server = \"h\", cmd = \"GET u\" }]") ==
        "emqx.conf:2: authentication[1].cmd: expected HMGET <key> password_hash [salt] "
        "[is_superuser], got \"GET u\"");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = mysql,\n"
                 " server = h, database = d, query = \"SELECT 1\",\n"
                 " ssl { enable = true, server_name_indication = db.example } }]") ==
        "emqx.conf:3: authentication[1].ssl.server_name_indication: a database's certificate "
        "is checked against the server's host: leave it out, or \"disable\" the name check");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = redis,\n"
                 " server = h, cmd = \"HMGET u password_hash\", ssl { enable = true } }]") ==
        "emqx.conf:2: authentication[1].ssl.enable: TLS to redis is not implemented yet by emqxd "
        "(ssl.enable = false)");
  CHECK(error_of("authorization.sources = [{ type = mysql,\n"
                 " server = h, database = d, query = \"SELECT ${password}\" }]") ==
        "emqx.conf:2: authorization.sources[1].query: unknown placeholder ${password} (known: "
        "${username}, ${clientid}, ${peerhost}, ${cert_common_name}, ${cert_subject})");
  auto db = from(
      "authentication = [{ mechanism = password_based, backend = postgresql,"
      " server = \"127.0.0.1:6432\", database = mqtt, username = u, password = p, pool_size = 2,"
      " query_timeout = 2s, query = \"SELECT password_hash FROM t WHERE u = ${username}\","
      " password_hash_algorithm { name = bcrypt } }]\n"
      "authorization.sources = [{ type = redis, server = \"h:1\", database = 3,"
      " cmd = \"HGETALL acl:${username}\" }]");
  REQUIRE(db.authentication.size() == 1);
  CHECK(db.authentication[0].db.server == "127.0.0.1:6432");
  CHECK(db.authentication[0].db.database == "mqtt");
  CHECK(db.authentication[0].db.username == "u");
  CHECK(db.authentication[0].db.pool_size == 2);
  CHECK(db.authentication[0].db.query_timeout == 2s);
  CHECK(db.authentication[0].password_hash_algorithm.name == "bcrypt");
  REQUIRE(db.authorization.sources.size() == 1);
  CHECK(db.authorization.sources[0].db.database == "3");
  CHECK(db.authorization.sources[0].db.query == "HGETALL acl:${username}");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = http,\n"
                 " url = \"http://h/${password_hash}\" }]") ==
        "emqx.conf:2: authentication[1].url: unknown placeholder ${password_hash} (known: "
        "${clientid}, ${username}, ${password}, ${peerhost}, ${cert_common_name})");
  CHECK(error_of("authentication = [{ mechanism = password_based, backend = http }]") ==
        "emqx.conf:1: authentication[1].url: required");
  auto h = from(
      "authentication = [{ mechanism = password_based, backend = http, method = get,"
      " url = \"http://127.0.0.1:80/a\", body { u = \"${username}\" },"
      " pool_size = 3, request_timeout = 2s }]");
  REQUIRE(h.authentication.size() == 1);
  CHECK(h.authentication[0].method == "get");
  CHECK(h.authentication[0].pool_size == 3);
  CHECK(h.authentication[0].request_timeout == 2s);
  CHECK(h.authentication[0].body ==
        std::vector<std::pair<std::string, std::string>>{{"u", "${username}"}});
  CHECK(error_of("authentication = [\n {mechanism = password_based, backend = built_in_database,"
                 "\n password_hash_algorithm { name = bcrypt, iterations = 3 } }]") ==
        "emqx.conf:3: authentication[1].password_hash_algorithm.iterations: applies to pbkdf2 "
        "only");
  CHECK(error_of("authentication = 5") ==
        "emqx.conf:1: authentication: expected an array of authenticators, got 5");
}

TEST_CASE("prometheus, alarm and sysmon.os: EMQX's keys and defaults", "[config]") {
  Config d = load("", {});
  CHECK_FALSE(d.prometheus.enable_basic_auth);
  CHECK(d.alarm.log);
  CHECK(d.alarm.publish);
  CHECK(d.alarm.size_limit == 1000);
  CHECK(d.alarm.validity_period == std::chrono::hours(24));
  CHECK(d.sysmon.mem_check_interval == std::chrono::seconds(60));
  CHECK(d.sysmon.sysmem_high_watermark == Approx(0.70));
  CHECK(d.sysmon.procmem_high_watermark == Approx(0.05));
  Config c = load_string(
      "prometheus.enable_basic_auth = true\n"
      "alarm { actions = [publish], size_limit = 10, validity_period = 1h }\n"
      "sysmon.os { mem_check_interval = disabled, sysmem_high_watermark = \"12.5%\", "
      "procmem_high_watermark = 0.25 }\n",
      {});
  CHECK(c.prometheus.enable_basic_auth);
  CHECK_FALSE(c.alarm.log);
  CHECK(c.alarm.publish);
  CHECK(c.alarm.size_limit == 10);
  CHECK(c.alarm.validity_period == std::chrono::hours(1));
  CHECK(c.sysmon.mem_check_interval.count() == 0);
  CHECK(c.sysmon.sysmem_high_watermark == Approx(0.125));
  CHECK(c.sysmon.procmem_high_watermark == Approx(0.25));
  CHECK(error_of("sysmon.os.sysmem_high_watermark = \"170%\"")
            .starts_with("emqx.conf:1: sysmon.os.sysmem_high_watermark: expected a percentage"));
  CHECK(error_of("alarm.actions = [log, mail]")
            .starts_with("emqx.conf:1: alarm.actions: expected an array of log and publish"));
  CHECK(error_of("prometheus.enable_basic_atuh = true") ==
        "emqx.conf:1: prometheus.enable_basic_atuh: unknown key (did you mean "
        "enable_basic_auth?)");
  // EMQX's Erlang VM monitoring: warned about and ignored.
  Config vm = load_string("sysmon.vm.long_gc = 100ms\n", {});
  REQUIRE(vm.warnings.size() == 1);
  CHECK(vm.warnings[0].find("sysmon.vm") != std::string::npos);
}

TEST_CASE("slow_subs and topic_metrics, EMQX's keys") {
  auto c = load_string(
      "slow_subs { enable = true, threshold = 2s, expire_interval = 1m, top_k_num = 5, "
      "stats_type = response }\ntopic_metrics = [{topic = \"a/b\"}, {topic = \"c\"}]\n",
      {});
  CHECK(c.slow_subs.enable);
  CHECK(c.slow_subs.threshold == Duration(2000));
  CHECK(c.slow_subs.expire_interval == Duration(60'000));
  CHECK(c.slow_subs.top_k_num == 5);
  CHECK(c.slow_subs.stats_type == emqxd::config::SlowSubsConfig::StatsType::Response);
  CHECK(c.topic_metrics == std::vector<std::string>{"a/b", "c"});
  auto error = [](std::string_view text) { return error_of(text); };
  CHECK(error("slow_subs.top_k_num = 1001").starts_with("emqx.conf:1: slow_subs.top_k_num"));
  CHECK(error("slow_subs.stats_type = all").starts_with("emqx.conf:1: slow_subs.stats_type"));
  CHECK(error("topic_metrics = [{topic = \"x/+\"}]")
            .starts_with("emqx.conf:1: topic_metrics.topic: must be a topic name"));
  CHECK(error("topic_metrics = [{topic = \"x\"}, {topic = \"x\"}]").find("listed twice") !=
        std::string::npos);
  CHECK(error("topic_metrics = [{name = \"x\"}]")
            .starts_with("emqx.conf:1: topic_metrics.name: unknown key"));
}

TEST_CASE("delayed, rewrite and auto_subscribe: EMQX's keys, each field checked",
          "[config][modules]") {
  auto c = load_string(R"(
delayed { enable = false, max_delayed_messages = 10 }
rewrite = [
  {action = publish, source_topic = "x/#", dest_topic = "z/$1", re = "^x/(.+)$"}
  {action = all, source_topic = "$share/g/a/+", dest_topic = "b", re = "a"}
]
auto_subscribe.topics = [{topic = "c/${clientid}/${host}", qos = 2, rh = 1, rap = 1, nl = 1}]
)",
                       {});
  CHECK_FALSE(c.delayed.enable);
  CHECK(c.delayed.max_delayed_messages == 10);
  REQUIRE(c.rewrite.size() == 2);
  CHECK(c.rewrite[0].action == emqxd::config::RewriteRuleConfig::Action::Publish);
  CHECK((c.rewrite[0].source_topic == "x/#" && c.rewrite[0].dest_topic == "z/$1"));
  CHECK(c.rewrite[1].action == emqxd::config::RewriteRuleConfig::Action::All);
  REQUIRE(c.auto_subscribe.size() == 1);
  CHECK((c.auto_subscribe[0].topic == "c/${clientid}/${host}" && c.auto_subscribe[0].qos == 2));
  CHECK((c.auto_subscribe[0].rh == 1 && c.auto_subscribe[0].rap && c.auto_subscribe[0].nl));
  Config defaults = load_string("", {});
  CHECK((defaults.delayed.enable && defaults.delayed.max_delayed_messages == 0));
  CHECK((defaults.rewrite.empty() && defaults.auto_subscribe.empty()));
  auto env = load_string("", {{"EMQX_DELAYED__MAX_DELAYED_MESSAGES", "5"}});
  CHECK(env.delayed.max_delayed_messages == 5);

  CHECK(error_of("rewrite = [{action = all, source_topic = \"a\", dest_topic = \"b\",\n"
                 "  re = \"(\"}]")
            .starts_with("emqx.conf:2: rewrite[1].re: not a valid regular expression: "));
  CHECK(error_of("rewrite = [{action = all, source_topic = \"a/#/b\", dest_topic = \"b\", "
                 "re = \"a\"}]") ==
        "emqx.conf:1: rewrite[1].source_topic: not a valid topic filter: \"a/#/b\"");
  CHECK(error_of("rewrite = [{action = all, source_topic = \"a\", re = \"a\"}]") ==
        "emqx.conf:1: rewrite[1].dest_topic: required");
  CHECK(error_of("rewrite = [{action = all, source_topic = \"a\", dest_topic = \"b\", "
                 "re = \"a\", extra = 1}]")
            .starts_with("emqx.conf:1: rewrite[1].extra: unknown key"));
  CHECK(error_of("rewrite = {}").starts_with("emqx.conf:1: rewrite: expected an array"));
  CHECK(
      error_of("auto_subscribe.topics = [{topic = \"c/${peer}\"}]")
          .starts_with("emqx.conf:1: auto_subscribe.topics[1].topic: unknown placeholder ${peer}"));
  CHECK(error_of("auto_subscribe.topics = [{topic = \"c\", qos = 3}]")
            .starts_with("emqx.conf:1: auto_subscribe.topics[1].qos:"));
  CHECK(error_of("delayed.max_delayed_messages = -1")
            .starts_with("emqx.conf:1: delayed.max_delayed_messages:"));
}
