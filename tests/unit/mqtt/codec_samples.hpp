#pragma once
// Valid packets of every type, for round trips and as fuzz seeds. Publish views point at
// string literals.
#include <vector>

#include "mqtt/packets.hpp"

namespace emqxd::mqtt::test {

inline Connect sample_connect_v311() {
  Connect c;
  c.client_id = "client-1";
  c.keep_alive = 30;
  c.clean_start = false;
  c.will = Will{"will/topic", "gone", QoS::AtLeastOnce, true, {}};
  c.username = "user";
  c.password = std::string("p\0ss", 4);
  return c;
}

inline Connect sample_connect_v31() {
  Connect c;
  c.protocol_name = "MQIsdp";
  c.version = ProtocolVersion::V3_1;
  c.client_id = "old-client";
  return c;
}

inline Connect sample_connect_v5() {
  Connect c;
  c.version = ProtocolVersion::V5;
  c.client_id = "";  // the server assigns one
  c.keep_alive = 0;
  c.props.session_expiry_interval = 3600;
  c.props.receive_maximum = 20;
  c.props.maximum_packet_size = 1 << 20;
  c.props.topic_alias_maximum = 10;
  c.props.request_response_information = 1;
  c.props.request_problem_information = 0;
  c.props.user_properties = {{"k", "v"}, {"k", "v2"}};
  c.props.authentication_method = "SCRAM-SHA-1";
  c.props.authentication_data = std::string("\x01\x00\xff", 3);
  Will w;
  w.topic = "clients/x/status";
  w.payload = "offline";
  w.qos = QoS::ExactlyOnce;
  w.props.will_delay_interval = 5;
  w.props.payload_format_indicator = 1;
  w.props.message_expiry_interval = 60;
  w.props.content_type = "text/plain";
  w.props.response_topic = "r/t";
  w.props.correlation_data = "corr";
  w.props.user_properties = {{"a", "b"}};
  c.will = w;
  c.password = "token";  // 5.0 allows a password without a user name
  return c;
}

inline Publish sample_publish_v5() {
  Publish p;
  p.qos = QoS::AtLeastOnce;
  p.packet_id = 42;
  p.topic = "sensors/1/temp";
  p.payload = "{\"t\":21.5}";
  p.props.payload_format_indicator = 1;
  p.props.message_expiry_interval = 120;
  p.props.topic_alias = 3;
  p.props.response_topic = "replies/1";
  p.props.correlation_data = std::string("\x00\x01", 2);
  p.props.user_properties = {{"trace", "abc"}, {"trace", "def"}};
  p.props.subscription_identifiers = {1, 268'435'455, 1};
  p.props.content_type = "application/json";
  return p;
}

// Packets valid in 3.1.1 and 5.0 alike.
inline std::vector<Packet> sample_packets_common() {
  std::vector<Packet> v;
  v.push_back(Connect{.client_id = "c1"});
  v.push_back(sample_connect_v311());
  v.push_back(sample_connect_v31());
  v.push_back(ConnAck{.session_present = true, .code = 0});
  v.push_back(Publish{.topic = "a/b", .payload = "hello"});
  v.push_back(Publish{.qos = QoS::AtLeastOnce,
                      .retain = true,
                      .topic = "a/b",
                      .packet_id = 1,
                      .payload = std::string_view("\0\xff", 2)});
  v.push_back(Publish{.dup = true, .qos = QoS::ExactlyOnce, .topic = "x", .packet_id = 65535});
  v.push_back(PubAck{.packet_id = 7});
  v.push_back(PubRec{.packet_id = 8});
  v.push_back(PubRel{.packet_id = 9});
  v.push_back(PubComp{.packet_id = 10});
  v.push_back(Subscribe{.packet_id = 11,
                        .subscriptions = {{"a/+", {.max_qos = QoS::AtLeastOnce}},
                                          {"#", {.max_qos = QoS::ExactlyOnce}},
                                          {"x", {}}}});
  v.push_back(SubAck{.packet_id = 11,
                     .reason_codes = {ReasonCode::GrantedQoS1, ReasonCode::GrantedQoS2,
                                      ReasonCode::UnspecifiedError, ReasonCode::GrantedQoS0}});
  v.push_back(Unsubscribe{.packet_id = 12, .topic_filters = {"a/+", "#"}});
  v.push_back(PingReq{});
  v.push_back(PingResp{});
  v.push_back(Disconnect{});
  return v;
}

inline std::vector<Packet> sample_packets_v311() {
  std::vector<Packet> v = sample_packets_common();
  v.push_back(ConnAck{.code = static_cast<std::uint8_t>(ConnectReturnCode::NotAuthorized)});
  v.push_back(UnsubAck{.packet_id = 12});  // 5.0 needs a reason code per filter
  return v;
}

inline std::vector<Packet> sample_packets_v5() {
  std::vector<Packet> v = sample_packets_common();
  v.push_back(sample_connect_v5());
  ConnAck ack{.session_present = false, .code = 0};
  ack.props.session_expiry_interval = 0;
  ack.props.receive_maximum = 100;
  ack.props.maximum_qos = 1;
  ack.props.retain_available = 0;
  ack.props.maximum_packet_size = 65536;
  ack.props.assigned_client_identifier = "auto-1234";
  ack.props.topic_alias_maximum = 0;
  ack.props.reason_string = "welcome";
  ack.props.user_properties = {{"node", "emqxd@1"}};
  ack.props.wildcard_subscription_available = 1;
  ack.props.subscription_identifier_available = 0;
  ack.props.shared_subscription_available = 1;
  ack.props.server_keep_alive = 90;
  ack.props.response_information = "resp/";
  ack.props.server_reference = "other:1883";
  ack.props.authentication_method = "SCRAM-SHA-1";
  ack.props.authentication_data = "final";
  v.push_back(ack);
  v.push_back(ConnAck{.code = static_cast<std::uint8_t>(ReasonCode::NotAuthorized)});
  v.push_back(sample_publish_v5());
  v.push_back(PubAck{.packet_id = 1, .reason = ReasonCode::NoMatchingSubscribers});
  PubRec rec{.packet_id = 2, .reason = ReasonCode::QuotaExceeded};
  rec.props.reason_string = "full";
  v.push_back(rec);
  PubRel rel{.packet_id = 3, .reason = ReasonCode::PacketIdentifierNotFound};
  rel.props.user_properties = {{"why", "lost"}};
  v.push_back(rel);
  PubComp comp{.packet_id = 4};
  comp.props.reason_string = "ok";
  v.push_back(comp);
  Subscribe sub{.packet_id = 5};
  sub.props.subscription_identifiers = {77};
  sub.props.user_properties = {{"s", "1"}};
  sub.subscriptions = {{"$share/g/a/#", {.max_qos = QoS::AtLeastOnce, .retain_as_published = true}},
                       {"b/+",
                        {.max_qos = QoS::ExactlyOnce,
                         .no_local = true,
                         .retain_as_published = true,
                         .retain_handling = 2}},
                       {"c", {.retain_handling = 1}}};
  v.push_back(sub);
  SubAck suback{.packet_id = 5,
                .reason_codes = {ReasonCode::GrantedQoS1, ReasonCode::TopicFilterInvalid,
                                 ReasonCode::WildcardSubscriptionsNotSupported}};
  suback.props.reason_string = "partly";
  suback.props.user_properties = {{"x", "y"}};
  v.push_back(suback);
  Unsubscribe unsub{.packet_id = 6, .topic_filters = {"b/+"}};
  unsub.props.user_properties = {{"u", "1"}};
  v.push_back(unsub);
  UnsubAck unsuback{.packet_id = 6,
                    .reason_codes = {ReasonCode::Success, ReasonCode::NoSubscriptionExisted,
                                     ReasonCode::NotAuthorized}};
  unsuback.props.reason_string = "done";
  v.push_back(unsuback);
  v.push_back(Disconnect{.reason = ReasonCode::DisconnectWithWillMessage});
  Disconnect bye{.reason = ReasonCode::UseAnotherServer};
  bye.props.session_expiry_interval = 0;
  bye.props.reason_string = "moving";
  bye.props.user_properties = {{"a", ""}};
  bye.props.server_reference = "[fe80::1]:1883";
  v.push_back(bye);
  v.push_back(Auth{});
  Auth auth{.reason = ReasonCode::ContinueAuthentication};
  auth.props.authentication_method = "SCRAM-SHA-1";
  auth.props.authentication_data = "server-first";
  auth.props.reason_string = "more";
  auth.props.user_properties = {{"step", "2"}};
  v.push_back(auth);
  return v;
}

}  // namespace emqxd::mqtt::test
