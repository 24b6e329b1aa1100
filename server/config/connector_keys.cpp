// connectors.<type>.<name> and actions.<type>.<name>: EMQX 5's data integration, read field
// by field (a bad one stops start-up naming FILE:LINE: KEY). The API's bodies and the
// replicated tables' entries, JSON, are read by the same code (read_connector,
// read_action), so that the API refuses what the config file would.
#include <cctype>

#include "config/hocon.hpp"
#include "config/schema.hpp"
#include "rules/template.hpp"

namespace emqxd::config::detail {

namespace {

// The types emqxd runs so far; the others are EMQX's, refused by name.
constexpr std::string_view kTypes[] = {"http", "mqtt", "pgsql", "mysql", "redis"};
constexpr const char* kSoFar = "so far: http, mqtt, pgsql, mysql, redis";
constexpr std::string_view kEmqxTypes[] = {"influxdb",
                                           "rabbitmq",
                                           "kafka_producer",
                                           "mongodb",
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

// EMQX's default headers of an http connector and action.
const std::vector<std::pair<std::string, std::string>>& default_headers() {
  static const std::vector<std::pair<std::string, std::string>> h = {
      {"accept", "application/json"},
      {"cache-control", "no-cache"},
      {"connection", "keep-alive"},
      {"content-type", "application/json"},
      {"keep-alive", "timeout=5"}};
  return h;
}

void check_type(const Value& v, const std::string& key, const std::string& type) {
  for (auto t : kTypes) {
    if (t == type) return;
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

std::string template_text(const Value& v, const std::string& key) {
  std::string text = get_string(v, key);
  std::string err;
  if (!rules::Template::parse(text, err)) fail(v, key, err);
  return text;
}

std::vector<std::pair<std::string, std::string>> read_headers(const Value& v,
                                                              const std::string& key) {
  if (!v.is_object()) fail(v, key, "expected an object of header names and values");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : v.fields()) {
    if (f.key.empty() || f.key.find_first_of(" :\r\n") != std::string::npos)
      fail(f.value, key + "." + f.key, "not a header name");
    std::string value = template_text(f.value, key + "." + f.key);
    if (value.find_first_of("\r\n") != std::string::npos)
      fail(f.value, key + "." + f.key, "a header value has no line breaks");
    out.emplace_back(f.key, std::move(value));
  }
  return out;
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

void read_action_resource_opts(const Value& v, const std::string& key, const std::string& type,
                               ActionResourceOpts& r) {
  if (!v.is_object()) fail(v, key, "expected an object");
  for (const auto& f : v.fields()) {
    const std::string k = key + "." + f.key;
    const Value& x = f.value;
    if ((type == "http" || type == "mqtt") && (f.key == "batch_size" || f.key == "batch_time")) {
      // EMQX's http and mqtt actions have no batches either: one request per message.
      fail(x, k, "unknown key: an " + type + " action sends one message at a time");
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

ConnectorConfig read_connector_value(const Value& obj, const std::string& key,
                                     const std::string& type, const std::string& name) {
  check_type(obj, key, type);
  check_name(obj, key, name);
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  ConnectorConfig c;
  c.type = type;
  c.name = name;
  const bool http = type == "http";
  if (http) c.headers = default_headers();
  bool has_url = false;
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
    } else if (type == "mqtt") {
      if (!read_mqtt_connector_field(f, key, c)) {
        unknown(f, key,
                "enable, description, server, proto_ver, bridge_mode, clientid_prefix, "
                "username, password, clean_start, keepalive, retry_interval, max_inflight, "
                "pool_size, ssl, resource_opts");
      }
    } else if (!http) {
      if (!read_db_connector_field(f, key, c)) {
        unknown(f, key,
                type == "redis" ? "enable, description, parameters, ssl, resource_opts"
                                : "enable, description, server, database, username, password, "
                                  "pool_size, ssl, resource_opts");
      }
    } else if (f.key == "url") {
      c.url = get_string(f.value, k);
      if (!c.url.starts_with("http://") && !c.url.starts_with("https://"))
        fail(f.value, k, "must start with http:// or https://, got \"" + c.url + "\"");
      if (c.url.find('$') != std::string::npos)
        fail(f.value, k, "the connector's URL has no placeholders (the action's path may)");
      has_url = true;
    } else if (f.key == "headers") {
      c.headers = read_headers(f.value, k);
    } else if (f.key == "pool_type") {
      c.pool_type = get_enum(f.value, k, {"random", "hash"});
    } else if (f.key == "max_retries" || f.key == "retry_interval" || f.key == "request" ||
               f.key == "max_inactive") {
      // EMQX's deprecated keys: accepted, no meaning.
    } else if (!read_http_connection(f.value, f.key, k, c.pool_size, c.connect_timeout, c.ssl)) {
      unknown(f, key,
              "enable, description, url, headers, connect_timeout, pool_type, pool_size, "
              "enable_pipelining, ssl, resource_opts");
    }
  }
  if (http) {
    if (!has_url) fail(obj, key + ".url", "required");
    if (c.url.starts_with("https://")) c.ssl.enable = true;
  } else if (type == "mqtt") {
    check_mqtt_connector(obj, key, c);
  } else {
    check_db_connector(obj, key, c);
  }
  c.json = obj.to_json();
  return c;
}

ActionConfig read_action_value(const Value& obj, const std::string& key, const std::string& type,
                               const std::string& name) {
  check_type(obj, key, type);
  check_name(obj, key, name);
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  ActionConfig a;
  a.type = type;
  a.name = name;
  const bool http = type == "http";
  if (http) a.headers = default_headers();
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
      read_action_resource_opts(f.value, k, type, a.resource_opts);
    } else if (f.key == "parameters") {
      if (!f.value.is_object()) fail(f.value, k, "expected an object");
      for (const auto& p : f.value.fields()) {
        const std::string pk = k + "." + p.key;
        if (type == "mqtt") {
          if (!read_mqtt_action_param(p, k, a)) unknown(p, k, "topic, qos, retain, payload");
        } else if (!http) {
          if (!read_db_action_param(p, k, a)) {
            unknown(p, k,
                    type == "redis" ? "command_template"
                                    : (type == "mysql" ? "sql, undefined_vars_as_null" : "sql"));
          }
        } else if (p.key == "method") {
          a.method = get_enum(p.value, pk, {"post", "put", "get", "delete"});
        } else if (p.key == "path") {
          a.path = template_text(p.value, pk);
        } else if (p.key == "headers") {
          a.headers = read_headers(p.value, pk);
        } else if (p.key == "body") {
          a.body = template_text(p.value, pk);
          if (a.body->empty()) a.body.reset();  // EMQX: the output as JSON
        } else if (p.key == "max_retries") {
          a.max_retries = static_cast<std::uint32_t>(get_int(p.value, pk, 0, 1000));
        } else if (p.key == "request_timeout") {
          (void)get_duration(p.value, pk);  // EMQX's deprecated key: request_ttl decides
        } else {
          unknown(p, k, "method, path, headers, body, max_retries, request_timeout");
        }
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
  if (type == "mqtt") {
    check_mqtt_action(obj, key, a);
  } else if (!http) {
    check_db_action(obj, key, a);
  }
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
