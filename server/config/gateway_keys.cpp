// gateway.<name> (EMQX 5's gateways; docs/gateways.md): the keys every gateway shares and
// MQTT-SN's own. The table in keys.cpp names them; listeners.<type>.<name> under a gateway
// reuse the MQTT listeners' readers (bind, max_connections, ...) through In::listener().
#include <algorithm>

#include "config/schema.hpp"

namespace emqxd::config::detail {

namespace {

MqttSnGatewayConfig& mqttsn(const In& in) {
  return in.cfg().gateway_mqttsn;
}

}  // namespace

GatewayCommonConfig& gateway_common(const In& in) {
  if (in.parts[1] == "stomp") return in.cfg().gateway_stomp.common;
  if (in.parts[1] == "coap") return in.cfg().gateway_coap.common;
  if (in.parts[1] == "lwm2m") return in.cfg().gateway_lwm2m.common;
  return mqttsn(in).common;
}

void gateway_section(const In& in) {
  in.object();
  gateway_common(in).configured = true;
}

std::string default_gateway_bind(std::string_view gateway) {
  // EMQX's defaults: MQTT-SN on 1884, STOMP on 61613, CoAP on 5683, LwM2M on 5783.
  return gateway == "stomp"   ? "0.0.0.0:61613"
         : gateway == "coap"  ? "0.0.0.0:5683"
         : gateway == "lwm2m" ? "0.0.0.0:5783"
                              : "0.0.0.0:1884";
}

void gateway_listener_section(const In& in) {
  in.object();
  ListenerDraft d;
  d.config.type = in.parts[3];
  d.config.name = in.parts[4];
  d.config.bind = default_gateway_bind(in.parts[1]);
  d.gateway = in.parts[1];
  d.key = in.key;
  d.where = &in.v;
  in.load.listeners.push_back(std::move(d));
}

void gateway_mqttsn_predefined(const In& in) {
  auto& out = mqttsn(in).predefined;
  out.clear();
  if (!in.v.is_array()) in.fail("expected an array of {id, topic}, got " + shown(in.v));
  std::size_t n = 0;
  for (const auto& obj : in.v.elements()) {
    const std::string key = in.key + "[" + std::to_string(++n) + "]";
    if (!obj.is_object()) fail(obj, key, "expected an object {id, topic}, got " + shown(obj));
    std::optional<std::uint16_t> id;
    std::optional<std::string> topic;
    for (const auto& f : obj.fields()) {
      if (f.key == "id") {
        // 0x0000 and 0xFFFF are reserved (MQTT-SN 1.2, 5.3.11).
        id = static_cast<std::uint16_t>(get_int(f.value, key + ".id", 1, 0xFFFE));
      } else if (f.key == "topic") {
        topic = get_string(f.value, key + ".topic");
        if (topic->empty() ||
            topic->find_first_of(std::string_view("+#\0", 3)) != std::string::npos)
          fail(f.value, key + ".topic", "expected a topic name without wildcards");
      } else {
        fail(f.value, key + "." + f.key, "unknown key (id, topic)");
      }
    }
    if (!id) fail(obj, key + ".id", "required");
    if (!topic) fail(obj, key + ".topic", "required");
    for (const auto& [other, name] : out) {
      if (other == *id) fail(obj, key + ".id", "id " + std::to_string(*id) + " is defined twice");
      if (name == *topic) fail(obj, key + ".topic", "topic " + name + " is defined twice");
    }
    out.emplace_back(*id, std::move(*topic));
  }
}

void gateway_lwm2m_translator(const In& in) {
  auto& l = in.cfg().gateway_lwm2m;
  const std::string& which = in.parts[3];
  auto& t = which == "command"    ? l.command
            : which == "response" ? l.response
            : which == "notify"   ? l.notify
            : which == "register" ? l.reg
                                  : l.update;
  if (in.parts.size() == 4) {
    in.object();
    return;
  }
  if (in.parts[4] == "qos") {
    t.qos = static_cast<int>(in.integer(0, 2));
    return;
  }
  t.topic = in.string();
  if (t.topic.empty() || (which != "command" && t.topic.find_first_of("+#") != std::string::npos))
    in.fail(which == "command" ? "expected a topic filter"
                               : "expected a topic name without wildcards");
}

void gateway_lwm2m_auto_observe(const In& in) {
  auto& l = in.cfg().gateway_lwm2m;
  l.auto_observe_paths.clear();
  if (in.v.is_bool()) {
    l.auto_observe = in.boolean();
    return;
  }
  // EMQX's: a list of object paths ["/3/0", "/19/0"] (or one string "/3/0,/19/0").
  std::vector<std::string> items;
  if (in.v.is_array()) {
    for (const auto& e : in.v.elements())
      items.push_back(get_string(e, in.key));
  } else {
    std::string s = in.string();
    std::size_t at = 0;
    while (at <= s.size()) {
      const auto comma = s.find(',', at);
      items.push_back(s.substr(at, comma == std::string::npos ? std::string::npos : comma - at));
      if (comma == std::string::npos) break;
      at = comma + 1;
    }
  }
  for (auto& p : items) {
    while (!p.empty() && p.front() == ' ')
      p.erase(0, 1);
    while (!p.empty() && p.back() == ' ')
      p.pop_back();
    if (p.empty()) continue;
    if (p.front() != '/' || p.find_first_not_of("/0123456789") != std::string::npos)
      in.fail("expected true, false or object paths like \"/3/0\", got \"" + p + "\"");
    l.auto_observe_paths.push_back(p);
  }
  l.auto_observe = !l.auto_observe_paths.empty();
}

NngBridgeConfig& nng_bridge(const In& in) {
  auto& all = in.cfg().bridges_nng;
  for (auto& b : all) {
    if (b.kind == in.parts[2] && b.name == in.parts[3]) return b;
  }
  NngBridgeConfig b;
  b.kind = in.parts[2];
  b.name = in.parts[3];
  all.push_back(std::move(b));
  return all.back();
}

void nng_bridge_section(const In& in) {
  in.object();
  nng_bridge(in);
}

void nng_bridge_url(const In& in) {
  const std::string url = in.string();
  if (!url.starts_with("tcp://") && !url.starts_with("ipc://") && !url.starts_with("inproc://"))
    in.fail("expected an NNG address tcp://host:port, ipc:///path or inproc://name");
  nng_bridge(in).url = url;
}

void nng_bridge_topics(const In& in) {
  auto& b = nng_bridge(in);
  b.topics.clear();
  if (!in.v.is_array()) in.fail("expected an array of objects, got " + shown(in.v));
  std::size_t n = 0;
  for (const auto& obj : in.v.elements()) {
    const std::string key = in.key + "[" + std::to_string(++n) + "]";
    if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
    NngBridgeConfig::Topic t;
    for (const auto& f : obj.fields()) {
      const std::string fk = key + "." + f.key;
      if (f.key == "local_topic") {
        t.local_topic = get_string(f.value, fk);
      } else if (f.key == "remote_topic") {
        t.remote_topic = get_string(f.value, fk);
      } else if (f.key == "nng_delimiter") {
        t.delimiter = get_string(f.value, fk);
        if (t.delimiter.empty())
          fail(f.value, fk, "expected a delimiter of one or more characters");
      } else if (f.key == "qos") {
        t.qos = static_cast<int>(get_int(f.value, fk, 0, 2));
      } else {
        fail(f.value, fk, "unknown key (local_topic, remote_topic, nng_delimiter, qos)");
      }
    }
    // pub: local_topic is the MQTT filter; sub: the MQTT topic (or remote_topic's).
    if (b.kind == "pub" && t.local_topic.empty()) fail(obj, key + ".local_topic", "required");
    if (b.kind == "sub" && t.remote_topic.empty()) fail(obj, key + ".remote_topic", "required");
    if (b.kind == "sub" && t.local_topic.find_first_of("+#") != std::string::npos)
      fail(obj, key + ".local_topic", "expected a topic name without wildcards");
    b.topics.push_back(std::move(t));
  }
}

}  // namespace emqxd::config::detail
