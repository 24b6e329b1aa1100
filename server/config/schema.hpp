#pragma once
// The config schema, internal to config/: one table of the keys emqxd reads (keys.cpp)
// that the loader (config.cpp) walks the HOCON tree against, the environment overrides
// consult and the unknown-key check derives from; the readers that turn a value into a
// field or throw ConfigError "FILE:LINE: KEY: what is wrong" (values.cpp).
//
// A key path is dotted; a segment "*" matches any name (listeners.tcp.<name>) and "a|b"
// matches either word (listeners.ssl|wss.*.ssl_options.certfile).
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "config/hocon.hpp"

namespace emqxd::config::detail {

using hocon::Value;

// ----------------------------------------------------------------------------- readers

// "\"text\"", "an object", "5": a value as messages show it.
std::string shown(const Value& v);
[[noreturn]] void fail(const Value& v, const std::string& key, const std::string& what);

bool get_bool(const Value& v, const std::string& key);
std::int64_t get_int(const Value& v, const std::string& key, std::int64_t lo, std::int64_t hi);
// An integer, or "infinity" for 0 (the Config convention for "no limit").
std::uint32_t get_limit(const Value& v, const std::string& key);
std::string get_string(const Value& v, const std::string& key);
std::string get_enum(const Value& v, const std::string& key,
                     std::initializer_list<std::string_view> allowed);
// A number is milliseconds; a string is "30s", "5m", "1h30m", ...
Duration get_duration(const Value& v, const std::string& key);
// A duration, or `word` (disabled, infinity) for 0.
Duration get_duration_or(const Value& v, const std::string& key, std::string_view word);
Duration get_duration_in(const Value& v, const std::string& key, Duration lo, Duration hi);
std::uint64_t get_size(const Value& v, const std::string& key, std::uint64_t lo, std::uint64_t hi,
                       std::string_view hi_text);
// "0.0.0.0:1883", ":1883", "1883" or 1883 -> "HOST:PORT"; IPv6 hosts in brackets.
std::string get_bind(const Value& v, const std::string& key);
// An array of node addresses, or one string of them separated by commas; each written in
// full (name@host:port), without repeats.
std::vector<std::string> get_seeds(const Value& v, const std::string& key);
// 1500 ms -> "1500ms", 2000 ms -> "2s", 86400000 ms -> "24h": for messages.
std::string duration_text(Duration d);

// ----------------------------------------------------------------------------- one load

// A listener as the walk finds it; it joins Config::listeners at the end if enabled.
struct ListenerDraft {
  ListenerConfig config;
  std::string key;               // listeners.<type>.<name>
  const Value* where = nullptr;  // its bind value if written, else its object
  std::string gateway;           // gateway.<gateway>.listeners.<type>.<name>; "" for MQTT's
};

// What the walk keeps beyond Config: values that later checks point at, and settings that
// combine with others once everything is read.
struct LoadState {
  explicit LoadState(Config& c) : cfg(c) {}
  Config& cfg;
  std::vector<ListenerDraft> listeners;  // in the order they appear
  bool listeners_named = false;
  const Value* dashboard = nullptr;
  const Value* cluster = nullptr;
  const Value* rpc_bind = nullptr;
  const Value* rpc_ssl = nullptr;
  const Value* cookie = nullptr;
  const Value* probe_interval = nullptr;
  const Value* probe_timeout = nullptr;
  const Value* discovery_strategy = nullptr;
};

// One value met by the walk: what a table entry's apply() gets.
struct In {
  LoadState& load;
  const Value& v;
  const std::string& key;              // full dotted key
  std::span<const std::string> parts;  // the key split at its dots

  Config& cfg() const { return load.cfg; }
  [[noreturn]] void fail(const std::string& what) const { detail::fail(v, key, what); }
  void object() const {
    if (!v.is_object()) fail("expected an object, got " + shown(v));
  }
  bool boolean() const { return get_bool(v, key); }
  std::int64_t integer(std::int64_t lo, std::int64_t hi) const { return get_int(v, key, lo, hi); }
  std::uint32_t u32(std::int64_t lo, std::int64_t hi) const {
    return static_cast<std::uint32_t>(integer(lo, hi));
  }
  std::uint16_t u16(std::int64_t lo, std::int64_t hi) const {
    return static_cast<std::uint16_t>(integer(lo, hi));
  }
  std::uint32_t limit() const { return get_limit(v, key); }
  std::string string() const { return get_string(v, key); }
  std::string one_of(std::initializer_list<std::string_view> allowed) const {
    return get_enum(v, key, allowed);
  }
  Duration duration() const { return get_duration(v, key); }
  Duration duration_or(std::string_view word) const { return get_duration_or(v, key, word); }
  Duration duration_in(Duration lo, Duration hi) const { return get_duration_in(v, key, lo, hi); }
  std::uint64_t size(std::uint64_t lo, std::uint64_t hi, std::string_view hi_text) const {
    return get_size(v, key, lo, hi, hi_text);
  }
  std::string bind() const { return get_bind(v, key); }
  // The listener listeners.<parts[1]>.<parts[2]> (its section entry created it).
  ListenerDraft& listener() const;
};

// ----------------------------------------------------------------------------- the table

enum class Shape {
  Leaf,     // a value
  Section,  // an object whose fields are keys too; apply() sees the object first
};

struct KeySpec {
  std::string_view path;
  void (*apply)(const In&);
  Shape shape = Shape::Leaf;
  // From the environment, taken as written instead of read as HOCON (passwords).
  bool verbatim_env = false;
};

// authentication = [...] (authn_keys.cpp): the whole chain, each object checked field by
// field.
void authentication_chain(const In& in);
// The fields of a postgresql, mysql or redis authenticator (authn = true) or
// authorization source in `obj` (authn_keys.cpp); `common` are the other fields the
// caller reads (type, enable, mechanism, ...). Fails naming key.field.
void read_db_fields(const Value& obj, const std::string& key, const std::string& kind, bool authn,
                    std::initializer_list<std::string_view> common, DbConfig& out);

// HTTP clients of outside services (authn_keys.cpp; the http authenticator, JWKS, the http
// authorization source). Anything in ${...} that is not one of `known` stops start-up.
void check_placeholders(const Value& v, const std::string& key, const std::string& text,
                        std::span<const std::string_view> known);
// An object of name = "value" (headers, body); placeholders checked when `known` is not empty.
std::vector<std::pair<std::string, std::string>> string_map(
    const Value& v, const std::string& key, std::span<const std::string_view> known);
// http://host[:port]/path or https://...
std::string get_http_url(const Value& v, const std::string& key);
// EMQX's ssl client block (ClientSslConfig); the files must be readable.
void read_client_ssl(const Value& v, const std::string& key, ClientSslConfig& out);
// pool_size, connect_timeout, enable_pipelining (checked, not used) and ssl; false for any
// other field.
bool read_http_connection(const Value& v, std::string_view field, const std::string& key,
                          std::uint32_t& pool_size, Duration& connect_timeout,
                          ClientSslConfig& ssl);
// authorization.sources[N] with type = http (authz_http_keys.cpp).
void read_authz_http_source(const Value& obj, const std::string& key, AuthzSourceConfig& src);

// gateway.<name> (gateway_keys.cpp).
void gateway_section(const In& in);  // gateway.<name>: it is on
GatewayCommonConfig& gateway_common(const In& in);
void gateway_listener_section(const In& in);
std::string default_gateway_bind(std::string_view gateway);  // EMQX's port of each
void gateway_mqttsn_predefined(const In& in);
void gateway_lwm2m_translator(const In& in);    // translators.<name>[.topic|.qos]
void gateway_lwm2m_auto_observe(const In& in);  // true | false | ["/3/0", ...]
// bridges.nng.<kind>.<name> (gateway_keys.cpp): the section, and its fields.
NngBridgeConfig& nng_bridge(const In& in);
void nng_bridge_section(const In& in);
void nng_bridge_url(const In& in);
void nng_bridge_topics(const In& in);  // forwards, subscription
// rewrite = [...] and auto_subscribe.topics = [...] (module_keys.cpp).
void rewrite_rules(const In& in);
// rule_engine.rules.<id> (rule_keys.cpp): read and compiled as the API would (rules/rule.hpp).
void rule_engine_rule(const In& in);
// connectors.<type>.<name> and actions.<type>.<name> (connector_keys.cpp).
void connector_entry(const In& in);
void action_entry(const In& in);
void source_entry(const In& in);
ConnectorConfig read_connector_value(const Value& obj, const std::string& key,
                                     const std::string& type, const std::string& name);
ActionConfig read_action_value(const Value& obj, const std::string& key, const std::string& type,
                               const std::string& name);
void auto_subscribe_topics(const In& in);
// A string that is a template (rules/template.hpp): stops start-up when it does not parse.
std::string get_template(const Value& v, const std::string& key);
// Each connector type's own fields (connector_<kind>_keys.cpp, called by connector_keys.cpp):
// false for a field that is not one of them; check_* after the last field (required ones,
// defaults that depend on others). The http connector's and action's:
void init_http_connector(ConnectorConfig& c);  // EMQX's default headers
void init_http_action(ActionConfig& a);
bool read_http_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c);
void check_http_connector(const Value& obj, const std::string& key, ConnectorConfig& c);
bool read_http_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a);
void check_http_action(const Value& obj, const std::string& key, const ActionConfig& a);
// The influxdb connector's and action's (connector_influx_keys.cpp).
bool read_influx_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c);
void check_influx_connector(const Value& obj, const std::string& key, ConnectorConfig& c);
bool read_influx_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a);
void check_influx_action(const Value& obj, const std::string& key, const ActionConfig& a);
// The kafka_producer connector's and action's (connector_kafka_keys.cpp).
void init_kafka_action(ActionConfig& a);  // batches of 100
bool read_kafka_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c);
void check_kafka_connector(const Value& obj, const std::string& key, ConnectorConfig& c);
bool read_kafka_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a);
void check_kafka_action(const Value& obj, const std::string& key, const ActionConfig& a);
// The rabbitmq connector's and action's (connector_rabbit_keys.cpp).
bool read_rabbit_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c);
void check_rabbit_connector(const Value& obj, const std::string& key, ConnectorConfig& c);
bool read_rabbit_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a);
void check_rabbit_action(const Value& obj, const std::string& key, const ActionConfig& a);
// The pgsql, mysql and redis connectors' and actions' (connector_db_keys.cpp), and the
// ssl block of a type emqxd speaks no TLS to yet (only enable = false passes).
void refuse_tls(const Value& v, const std::string& key, const std::string& type);
// The ssl block of a PostgreSQL or MySQL client (read_client_ssl's keys).
void read_db_ssl(const Value& v, const std::string& key, DbConfig& d);
// Redis's deployment fields, wherever Redis is configured (connector_db_keys.cpp):
// redis_type, servers (a "h1:p1,h2:p2" string or a list) and sentinel. False for other
// fields. check_redis then asks what the mode needs: `server` (single; `server_key` names
// it), `servers` (sentinel, cluster), `sentinel` (sentinel); a cluster has no database.
bool read_redis_mode_field(const hocon::Field& f, const std::string& key, DbConfig& d);
void check_redis(const Value& obj, const std::string& key, const std::string& server_key,
                 DbConfig& d);
bool read_db_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c);
void check_db_connector(const Value& obj, const std::string& key, ConnectorConfig& c);
bool read_db_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a);
void check_db_action(const Value& obj, const std::string& key, const ActionConfig& a);
// The mqtt connector's and action's own fields (connector_mqtt_keys.cpp), likewise, and a
// source's definition.
bool read_mqtt_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c);
void check_mqtt_connector(const Value& obj, const std::string& key, ConnectorConfig& c);
bool read_mqtt_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a);
void check_mqtt_action(const Value& obj, const std::string& key, const ActionConfig& a);
SourceConfig read_source_value(const Value& obj, const std::string& key, const std::string& type,
                               const std::string& name);

// Every key emqxd reads (keys.cpp).
std::span<const KeySpec> key_table();

// A key of EMQX's schema that emqxd does not read, and why (keys.cpp). A key equal to or
// below `path` matches.
struct ForeignKey {
  std::string_view path;
  std::string_view note;  // appended to the message when not empty
};

// Features of EMQX that emqxd does not implement yet: such a key stops start-up ("not
// implemented yet by emqxd"), so that nobody believes the feature is on. Delete an entry
// when its feature lands (and add its keys to the table).
std::span<const ForeignKey> not_implemented_keys();

// Erlang VM tuning that has no meaning for emqxd: warned about and ignored.
std::span<const ForeignKey> inert_keys();

// How a key (split at its dots) stands to a path pattern.
enum class Relation {
  None,   // neither
  Exact,  // the key is the pattern
  Above,  // the key is a strict prefix of the pattern: an object that holds it
  Below,  // the pattern is a strict prefix of the key
};
Relation relate(std::string_view pattern, std::span<const std::string> parts);

}  // namespace emqxd::config::detail
