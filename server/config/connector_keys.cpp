// connectors.<type>.<name> and actions.<type>.<name>: EMQX 5's data integration, read field
// by field (a bad one stops start-up naming FILE:LINE: KEY). The API's bodies and the
// replicated tables' entries, JSON, are read by the same code (read_connector,
// read_action), so that the API refuses what the config file would.
#include <algorithm>
#include <cctype>

#include "config/hocon.hpp"
#include "config/schema.hpp"
#include "rules/template.hpp"

namespace emqxd::config::detail {

namespace {

// Each type emqxd runs: its own fields (connector_<kind>_keys.cpp), read after the ones every
// type shares. The connector's `key` is its own (connectors.<type>.<name>), the action's
// is its parameters' (actions.<type>.<name>.parameters).
struct TypeKeys {
  std::string_view type;
  bool (*connector_field)(const hocon::Field&, const std::string& key, ConnectorConfig&);
  void (*check_connector)(const Value&, const std::string& key, ConnectorConfig&);
  std::string_view connector_known;
  bool (*action_param)(const hocon::Field&, const std::string& key, ActionConfig&);
  void (*check_action)(const Value&, const std::string& key, const ActionConfig&);
  std::string_view action_known;
  bool batches;  // resource_opts.batch_size / batch_time apply
  void (*init_connector)(ConnectorConfig&) = nullptr;
  void (*init_action)(ActionConfig&) = nullptr;
};

constexpr std::string_view kSqlConnector =
    "enable, description, server, database, username, password, pool_size, ssl, resource_opts";

const TypeKeys kTypes[] = {
    {"http", read_http_connector_field, check_http_connector,
     "enable, description, url, headers, connect_timeout, pool_type, pool_size, "
     "enable_pipelining, ssl, resource_opts",
     read_http_action_param, check_http_action,
     "method, path, headers, body, max_retries, request_timeout", false, init_http_connector,
     init_http_action},
    {"mqtt", read_mqtt_connector_field, check_mqtt_connector,
     "enable, description, server, proto_ver, bridge_mode, clientid_prefix, username, password, "
     "clean_start, keepalive, retry_interval, max_inflight, pool_size, ssl, resource_opts",
     read_mqtt_action_param, check_mqtt_action, "topic, qos, retain, payload", false},
    {"pgsql", read_db_connector_field, check_db_connector, kSqlConnector, read_db_action_param,
     check_db_action, "sql", true},
    {"mysql", read_db_connector_field, check_db_connector, kSqlConnector, read_db_action_param,
     check_db_action, "sql, undefined_vars_as_null", true},
    {"redis", read_db_connector_field, check_db_connector,
     "enable, description, parameters, ssl, resource_opts", read_db_action_param, check_db_action,
     "command_template", true},
    {"influxdb", read_influx_connector_field, check_influx_connector,
     "enable, description, server, parameters, pool_size, ssl, resource_opts",
     read_influx_action_param, check_influx_action, "write_syntax, precision", true},
    {"rabbitmq", read_rabbit_connector_field, check_rabbit_connector,
     "enable, description, server, port, username, password, virtual_host, heartbeat, timeout, "
     "pool_size, ssl, resource_opts",
     read_rabbit_action_param, check_rabbit_action,
     "exchange, routing_key, payload_template, delivery_mode, wait_for_publish_confirmations, "
     "publish_confirmation_timeout",
     true},
    {"kafka_producer", read_kafka_connector_field, check_kafka_connector,
     "enable, description, bootstrap_hosts, connect_timeout, min_metadata_refresh_interval, "
     "metadata_request_timeout, request_timeout, authentication, socket_opts, "
     "health_check_topic, allow_auto_topic_creation, ssl, resource_opts",
     read_kafka_action_param, check_kafka_action,
     "topic, message, max_linger_time, max_linger_bytes, max_batch_bytes, compression, "
     "partition_strategy, required_acks, kafka_headers, kafka_ext_headers, "
     "kafka_header_value_encode_mode, max_inflight, sync_query_timeout, buffer, query_mode, "
     "partition_count_refresh_interval, partitions_limit, max_batch_age, max_retries, "
     "reconnect_delay",
     true, nullptr, init_kafka_action},
};
constexpr const char* kSoFar =
    "so far: http, mqtt, pgsql, mysql, redis, influxdb, rabbitmq, kafka_producer";
constexpr std::string_view kEmqxTypes[] = {"mongodb",
                                           "cassandra",
                                           "clickhouse",
                                           "dynamo",
                                           "elasticsearch",
                                           "gcp_pubsub_producer",
                                           "hstreamdb",
                                           "iotdb",
                                           "kinesis",
                                           "matrix",
                                           "opents",
                                           "oracle",
                                           "pulsar",
                                           "rocketmq",
                                           "sqlserver",
                                           "syskeeper_forwarder",
                                           "tdengine",
                                           "timescale",
                                           "greptimedb",
                                           "azure_event_hub_producer",
                                           "confluent_producer",
                                           "s3",
                                           "couchbase",
                                           "datalayers",
                                           "snowflake",
                                           "webhook"};

const TypeKeys& check_type(const Value& v, const std::string& key, const std::string& type) {
  for (const auto& t : kTypes) {
    if (t.type == type) return t;
  }
  for (auto t : kEmqxTypes) {
    if (t == type) fail(v, key, std::string("not implemented yet by emqxd (") + kSoFar + ")");
  }
  fail(v, key, "unknown type \"" + type + "\" (" + kSoFar + ")");
}

void check_name(const Value& v, const std::string& key, const std::string& name) {
  // EMQX's names: letters, digits, '-', '_' and '.', starting with a letter or digit.
  bool ok =
      !name.empty() && name.size() <= 255 && std::isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  if (!ok) {
    fail(v, key,
         "\"" + name +
             "\" is not a name: letters, digits, '-', '_' and '.', starting with a "
             "letter or digit");
  }
}

void unknown(const hocon::Field& f, const std::string& key, std::string_view known) {
  fail(f.value, key + "." + f.key, "unknown key (" + std::string(known) + ")");
}

void read_connector_resource_opts(const Value& v, const std::string& key, ConnectorConfig& c) {
  if (!v.is_object()) fail(v, key, "expected an object");
  for (const auto& f : v.fields()) {
    const std::string k = key + "." + f.key;
    if (f.key == "health_check_interval") {
      c.health_check_interval = get_duration_in(f.value, k, Duration(1), Duration(3'600'000));
    } else if (f.key == "start_timeout") {
      c.start_timeout = get_duration_in(f.value, k, Duration(1), Duration(3'600'000));
    } else if (f.key == "start_after_created") {
      c.start_after_created = get_bool(f.value, k);
    } else {
      unknown(f, key, "health_check_interval, start_after_created, start_timeout");
    }
  }
}

void read_action_resource_opts(const Value& v, const std::string& key, const TypeKeys& type,
                               ActionResourceOpts& r) {
  if (!v.is_object()) fail(v, key, "expected an object");
  for (const auto& f : v.fields()) {
    const std::string k = key + "." + f.key;
    const Value& x = f.value;
    if (!type.batches && (f.key == "batch_size" || f.key == "batch_time")) {
      // EMQX's http and mqtt actions have no batches either: one request per message.
      fail(x, k,
           "unknown key: an " + std::string(type.type) + " action sends one message at a time");
    }
    if (f.key == "worker_pool_size") {
      r.worker_pool_size = static_cast<std::uint32_t>(get_int(x, k, 1, 1024));
    } else if (f.key == "health_check_interval") {
      r.health_check_interval = get_duration_in(x, k, Duration(1), Duration(3'600'000));
    } else if (f.key == "query_mode") {
      r.query_mode_async = get_enum(x, k, {"async", "sync"}) == "async";
    } else if (f.key == "request_ttl" || f.key == "request_timeout") {
      r.request_ttl = get_duration_or(x, k, "infinity");
    } else if (f.key == "inflight_window" || f.key == "async_inflight_window") {
      r.inflight_window = static_cast<std::uint32_t>(get_int(x, k, 1, 1'000'000));
    } else if (f.key == "max_buffer_bytes" || f.key == "max_queue_bytes") {
      r.max_buffer_bytes = get_size(x, k, 1024, std::uint64_t{1} << 40, "1TB");
    } else if (f.key == "buffer_mode") {
      r.volatile_offload =
          get_enum(x, k, {"memory_only", "volatile_offload"}) == "volatile_offload";
    } else if (f.key == "buffer_seg_bytes") {
      r.buffer_seg_bytes = get_size(x, k, 1024, std::uint64_t{1} << 40, "1TB");
    } else if (f.key == "batch_size") {
      r.batch_size = static_cast<std::uint32_t>(get_int(x, k, 1, 100'000));
    } else if (f.key == "batch_time") {
      r.batch_time = get_duration_in(x, k, Duration(0), Duration(3'600'000));
    } else if (f.key == "resume_interval") {
      r.resume_interval = get_duration_in(x, k, Duration(1), Duration(3'600'000));
    } else if (f.key == "metrics_flush_interval" || f.key == "start_after_created" ||
               f.key == "start_timeout" || f.key == "auto_restart_interval") {
      (void)x;  // EMQX's; no meaning here (metrics are live; actions start at once)
    } else {
      unknown(f, key,
              "worker_pool_size, health_check_interval, query_mode, request_ttl, "
              "inflight_window, max_buffer_bytes, buffer_mode, buffer_seg_bytes, batch_size, "
              "batch_time, resume_interval");
    }
  }
  // EMQX caps batch_time at half the request_ttl.
  if (r.request_ttl.count() > 0 && r.batch_time > r.request_ttl / 2)
    r.batch_time = r.request_ttl / 2;
}

}  // namespace

std::string get_template(const Value& v, const std::string& key) {
  std::string text = get_string(v, key);
  std::string err;
  if (!rules::Template::parse(text, err)) fail(v, key, err);
  return text;
}

ConnectorConfig read_connector_value(const Value& obj, const std::string& key,
                                     const std::string& type, const std::string& name) {
  const TypeKeys& t = check_type(obj, key, type);
  check_name(obj, key, name);
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  ConnectorConfig c;
  c.type = type;
  c.name = name;
  if (t.init_connector != nullptr) t.init_connector(c);
  for (const auto& f : obj.fields()) {
    const std::string k = key + "." + f.key;
    if (f.key == "enable") {
      c.enable = get_bool(f.value, k);
    } else if (f.key == "description") {
      c.description = get_string(f.value, k);
    } else if (f.key == "tags") {
      if (!f.value.is_array()) fail(f.value, k, "expected a list of strings");
    } else if (f.key == "resource_opts") {
      read_connector_resource_opts(f.value, k, c);
    } else if (!t.connector_field(f, key, c)) {
      unknown(f, key, t.connector_known);
    }
  }
  t.check_connector(obj, key, c);
  c.json = obj.to_json();
  return c;
}

ActionConfig read_action_value(const Value& obj, const std::string& key, const std::string& type,
                               const std::string& name) {
  const TypeKeys& t = check_type(obj, key, type);
  check_name(obj, key, name);
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  ActionConfig a;
  a.type = type;
  a.name = name;
  if (t.init_action != nullptr) t.init_action(a);
  bool has_connector = false;
  for (const auto& f : obj.fields()) {
    const std::string k = key + "." + f.key;
    if (f.key == "enable") {
      a.enable = get_bool(f.value, k);
    } else if (f.key == "description") {
      a.description = get_string(f.value, k);
    } else if (f.key == "tags") {
      if (!f.value.is_array()) fail(f.value, k, "expected a list of strings");
    } else if (f.key == "connector") {
      a.connector = get_string(f.value, k);
      has_connector = !a.connector.empty();
    } else if (f.key == "resource_opts") {
      read_action_resource_opts(f.value, k, t, a.resource_opts);
    } else if (f.key == "parameters") {
      if (!f.value.is_object()) fail(f.value, k, "expected an object");
      for (const auto& p : f.value.fields()) {
        if (!t.action_param(p, k, a)) unknown(p, k, t.action_known);
      }
    } else if (f.key == "redis_type" && type == "redis") {
      (void)get_enum(f.value, k, {"single", "sentinel", "cluster"});  // EMQX 5.4's; unused
    } else if (f.key == "local_topic" || f.key == "fallback_actions") {
      fail(f.value, k, "not implemented yet by emqxd (a rule sends to the action)");
    } else {
      unknown(f, key, "enable, description, connector, parameters, resource_opts");
    }
  }
  if (!has_connector)
    fail(obj, key + ".connector", "required: the name of a connector of type " + type);
  t.check_action(obj, key, a);
  a.json = obj.to_json();
  return a;
}

void connector_entry(const In& in) {
  auto c = read_connector_value(in.v, in.key, in.parts[1], in.parts[2]);
  auto& all = in.cfg().connectors;
  std::erase_if(all, [&](const auto& x) { return x.type == c.type && x.name == c.name; });
  all.push_back(std::move(c));
}

void action_entry(const In& in) {
  auto a = read_action_value(in.v, in.key, in.parts[1], in.parts[2]);
  auto& all = in.cfg().actions;
  std::erase_if(all, [&](const auto& x) { return x.type == a.type && x.name == a.name; });
  all.push_back(std::move(a));
}

}  // namespace emqxd::config::detail

namespace emqxd::config {

std::vector<std::string> connector_types() {
  std::vector<std::string> out;
  for (const auto& t : detail::kTypes)
    out.emplace_back(t.type);
  std::sort(out.begin(), out.end());
  return out;
}

ConnectorConfig read_connector(const std::string& type, const std::string& name,
                               std::string_view json, const std::string& where) {
  auto v = hocon::parse(json, where, {});
  return detail::read_connector_value(v, "connectors." + type + "." + name, type, name);
}

ActionConfig read_action(const std::string& type, const std::string& name, std::string_view json,
                         const std::string& where) {
  auto v = hocon::parse(json, where, {});
  return detail::read_action_value(v, "actions." + type + "." + name, type, name);
}

}  // namespace emqxd::config
