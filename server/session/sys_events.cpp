#include "session/sys_events.hpp"

#include <boost/json.hpp>
#include <string>

#include "session/channel.hpp"

namespace emqxd::session::sys_events {

namespace json = boost::json;

namespace {

mqtt::MessagePtr make(const Channel& ch, std::string_view node, std::string_view event,
                      const json::object& payload) {
  if (ch.client_id().find_first_of("+#") != std::string::npos) return nullptr;
  auto msg = std::make_shared<mqtt::Message>();
  msg->topic = "$SYS/brokers/";
  msg->topic.append(node).append("/clients/").append(ch.client_id()).append("/").append(event);
  msg->payload = json::serialize(payload);
  msg->qos = mqtt::QoS::AtMostOnce;
  msg->received_at = mqtt::Message::Clock::now();
  return msg;
}

json::value username(const Channel& ch) {
  if (!ch.username()) return nullptr;
  return json::string(*ch.username());
}

// The fields every event carries (EMQX's common_infos, plus clientid and username).
json::object common(const Channel& ch) {
  const std::string& peer = ch.host().peer();
  auto colon = peer.rfind(':');
  std::string ip = colon == std::string::npos ? peer : peer.substr(0, colon);
  if (ip.size() > 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  return json::object{
      {"clientid", ch.client_id()},
      {"username", username(ch)},
      {"ipaddress", ip},
      {"sockport", ch.host().local_port()},
      {"protocol", "mqtt"},
      {"proto_name", ch.version() == mqtt::ProtocolVersion::V3_1 ? "MQIsdp" : "MQTT"},
      {"proto_ver", static_cast<int>(ch.version())},
      {"connected_at", ch.connected_at_ms()},
      {"ts", mqtt::wall_ms_now()},
  };
}

}  // namespace

mqtt::MessagePtr connected(const Channel& ch, std::string_view node) {
  auto p = common(ch);
  p["keepalive"] = ch.keep_alive();
  p["clean_start"] = ch.clean_start();
  p["expiry_interval"] = ch.session_expiry();
  p["connack"] = 0;
  return make(ch, node, "connected", p);
}

mqtt::MessagePtr disconnected(const Channel& ch, std::string_view node) {
  auto p = common(ch);
  std::string_view reason = ch.disconnect_reason();
  p["reason"] = reason.empty() ? std::string_view("normal") : reason;
  p["disconnected_at"] = mqtt::wall_ms_now();
  return make(ch, node, "disconnected", p);
}

mqtt::MessagePtr subscribed(const Channel& ch, std::string_view node, std::string_view filter,
                            const mqtt::SubscribeOptions& opts) {
  json::object p{
      {"clientid", ch.client_id()},
      {"username", username(ch)},
      {"protocol", "mqtt"},
      {"topic", filter},
      {"subopts", json::object{{"qos", static_cast<int>(opts.max_qos)},
                               {"rh", static_cast<int>(opts.retain_handling)},
                               {"rap", opts.retain_as_published ? 1 : 0},
                               {"nl", opts.no_local ? 1 : 0}}},
      {"ts", mqtt::wall_ms_now()},
  };
  return make(ch, node, "subscribed", p);
}

mqtt::MessagePtr unsubscribed(const Channel& ch, std::string_view node, std::string_view filter) {
  json::object p{
      {"clientid", ch.client_id()}, {"username", username(ch)},
      {"protocol", "mqtt"},         {"topic", filter},
      {"ts", mqtt::wall_ms_now()},
  };
  return make(ch, node, "unsubscribed", p);
}

}  // namespace emqxd::session::sys_events
