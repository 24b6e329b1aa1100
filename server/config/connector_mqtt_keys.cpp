// The mqtt connector's and action's own fields and the mqtt source (EMQX 5's MQTT bridge:
// connectors/mqtt.hpp runs them). connector_keys.cpp reads the fields every type shares.
#include "config/schema.hpp"
#include "rules/template.hpp"

namespace emqxd::config::detail {

namespace {

// qos / retain: a value, or a template of one placeholder ("${qos}").
std::string value_or_template(const Value& v, const std::string& key, bool qos) {
  if (v.is_string()) {
    std::string text = get_template(v, key);
    std::string err;
    auto t = rules::Template::parse(text, err);
    if (t->single()) return text;
    if (qos && (text == "0" || text == "1" || text == "2")) return text;
    if (!qos && (text == "true" || text == "false")) return text;
    fail(v, key,
         qos ? "expected 0, 1, 2 or a placeholder such as ${qos}"
             : "expected true, false or a placeholder such as ${retain}");
  }
  if (qos) return std::to_string(get_int(v, key, 0, 2));
  return get_bool(v, key) ? "true" : "false";
}

}  // namespace

bool read_mqtt_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c) {
  const std::string k = key + "." + f.key;
  MqttBridgeConfig& m = c.mqtt;
  const Value& v = f.value;
  if (f.key == "server") {
    m.server = get_string(v, k);
    if (m.server.empty() || m.server.find("://") != std::string::npos)
      fail(v, k, "expected host[:port], got " + shown(v));
  } else if (f.key == "proto_ver") {
    m.proto_ver = get_enum(v, k, {"v3", "v4", "v5"});
  } else if (f.key == "bridge_mode") {
    m.bridge_mode = get_bool(v, k);
  } else if (f.key == "clientid_prefix") {
    m.clientid_prefix = get_string(v, k);
    if (m.clientid_prefix.size() > 65535) fail(v, k, "too long");
  } else if (f.key == "username") {
    m.username = get_string(v, k);
  } else if (f.key == "password") {
    m.password = get_string(v, k);
  } else if (f.key == "clean_start") {
    m.clean_start = get_bool(v, k);
  } else if (f.key == "keepalive") {
    m.keepalive = get_duration_in(v, k, Duration(0), Duration(65'535'000));
  } else if (f.key == "retry_interval") {
    m.retry_interval = get_duration_in(v, k, Duration(0), Duration(3'600'000));
  } else if (f.key == "max_inflight") {
    m.max_inflight = static_cast<std::uint32_t>(get_int(v, k, 1, 65535));
  } else if (f.key == "pool_size") {
    c.pool_size = static_cast<std::uint32_t>(get_int(v, k, 1, 512));
  } else if (f.key == "ssl") {
    read_client_ssl(v, k, c.ssl);
  } else if (f.key == "mode" || f.key == "reconnect_interval") {
    // EMQX's deprecated keys: accepted, no meaning.
  } else if (f.key == "static_clientids") {
    fail(v, k, "not implemented yet by emqxd (client ids come from clientid_prefix)");
  } else {
    return false;
  }
  return true;
}

void check_mqtt_connector(const Value& obj, const std::string& key, ConnectorConfig& c) {
  if (c.mqtt.server.empty()) fail(obj, key + ".server", "required (host[:port])");
}

bool read_mqtt_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a) {
  const std::string k = key + "." + p.key;
  if (p.key == "topic") {
    a.mqtt_topic = get_template(p.value, k);
    if (a.mqtt_topic.empty()) fail(p.value, k, "must not be empty");
  } else if (p.key == "qos") {
    a.mqtt_qos = value_or_template(p.value, k, true);
  } else if (p.key == "retain") {
    a.mqtt_retain = value_or_template(p.value, k, false);
  } else if (p.key == "payload") {
    a.mqtt_payload = get_template(p.value, k);
    if (a.mqtt_payload->empty()) a.mqtt_payload.reset();  // the output as JSON
  } else {
    return false;
  }
  return true;
}

void check_mqtt_action(const Value& obj, const std::string& key, const ActionConfig& a) {
  if (a.mqtt_topic.empty()) fail(obj, key + ".parameters.topic", "required");
}

SourceConfig read_source_value(const Value& obj, const std::string& key, const std::string& type,
                               const std::string& name) {
  if (type != "mqtt") {
    fail(obj, key,
         "sources of type \"" + type + "\" are not implemented yet by emqxd (so far: mqtt)");
  }
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  SourceConfig s;
  s.type = type;
  s.name = name;
  bool has_connector = false;
  for (const auto& f : obj.fields()) {
    const std::string k = key + "." + f.key;
    if (f.key == "enable") {
      s.enable = get_bool(f.value, k);
    } else if (f.key == "description") {
      s.description = get_string(f.value, k);
    } else if (f.key == "tags") {
      if (!f.value.is_array()) fail(f.value, k, "expected a list of strings");
    } else if (f.key == "connector") {
      s.connector = get_string(f.value, k);
      has_connector = !s.connector.empty();
    } else if (f.key == "resource_opts") {
      if (!f.value.is_object()) fail(f.value, k, "expected an object");
      for (const auto& r : f.value.fields()) {
        if (r.key == "health_check_interval" || r.key == "resume_interval") {
          (void)get_duration(r.value, k + "." + r.key);
        } else {
          fail(r.value, k + "." + r.key, "unknown key (health_check_interval, resume_interval)");
        }
      }
    } else if (f.key == "parameters") {
      if (!f.value.is_object()) fail(f.value, k, "expected an object");
      for (const auto& p : f.value.fields()) {
        const std::string pk = k + "." + p.key;
        if (p.key == "topic") {
          s.topic = get_string(p.value, pk);
          if (s.topic.empty() || s.topic.size() > 65535) fail(p.value, pk, "not a topic filter");
        } else if (p.key == "qos") {
          s.qos = static_cast<int>(get_int(p.value, pk, 0, 2));
          if (s.qos == 2) s.qos = 1;  // EMQX: QoS 2 is taken as 1
        } else if (p.key == "no_local") {
          s.no_local = get_bool(p.value, pk);
        } else if (p.key == "local") {
          fail(p.value, pk, "not implemented yet by emqxd (a rule with republish does it)");
        } else {
          fail(p.value, pk, "unknown key (topic, qos, no_local)");
        }
      }
    } else {
      fail(f.value, k, "unknown key (enable, description, connector, parameters, resource_opts)");
    }
  }
  if (!has_connector) fail(obj, key + ".connector", "required: the name of an mqtt connector");
  if (s.topic.empty()) fail(obj, key + ".parameters.topic", "required");
  s.json = obj.to_json();
  return s;
}

void source_entry(const In& in) {
  auto s = read_source_value(in.v, in.key, in.parts[1], in.parts[2]);
  auto& all = in.cfg().sources;
  std::erase_if(all, [&](const auto& x) { return x.type == s.type && x.name == s.name; });
  all.push_back(std::move(s));
}

}  // namespace emqxd::config::detail

namespace emqxd::config {

SourceConfig read_source(const std::string& type, const std::string& name, std::string_view json,
                         const std::string& where) {
  auto v = hocon::parse(json, where, {});
  return detail::read_source_value(v, "sources." + type + "." + name, type, name);
}

}  // namespace emqxd::config
