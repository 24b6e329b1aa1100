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
  return mqttsn(in).common;
}

void gateway_section(const In& in) {
  in.object();
  gateway_common(in).configured = true;
}

void gateway_listener_section(const In& in) {
  in.object();
  ListenerDraft d;
  d.config.type = in.parts[3];
  d.config.name = in.parts[4];
  // EMQX's defaults: MQTT-SN on 1884, STOMP on 61613, CoAP on 5683.
  d.config.bind = in.parts[1] == "stomp"  ? "0.0.0.0:61613"
                  : in.parts[1] == "coap" ? "0.0.0.0:5683"
                                          : "0.0.0.0:1884";
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

}  // namespace emqxd::config::detail
