// Channel: PUBLISH from the client and the QoS 1/2 handshakes it starts, inbound topic
// aliases and the checks against what CONNACK offered (channel_publish.cpp, inbound half).
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::Disconnect;
using mqtt::PubAck;
using mqtt::PubComp;
using mqtt::PubRec;
using mqtt::QoS;
using mqtt::ReasonCode;

TEST_CASE("QoS 0 publish with no subscribers gets no answer", "[channel][publish]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.publish("a/b").empty());
  CHECK(hub.metrics().messages_received.load() == 1);
  CHECK(hub.metrics().messages_qos0_received.load() == 1);
  CHECK(hub.metrics().messages_dropped_no_subscribers.load() == 1);
}

TEST_CASE("QoS 1 publish with no subscribers is acked, with 0x10 in v5",
          "[channel][publish][puback][MQTT-4.3.2-2]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.publish("a/b", QoS::AtLeastOnce, 7) ==
          Packets{PubAck{7, c.ack_code(ReasonCode::NoMatchingSubscribers), {}}});
  CHECK(hub.metrics().messages_dropped_no_subscribers.load() == 1);
}

TEST_CASE("QoS 1 publish reaches the subscriber and is acked with 0x00",
          "[channel][publish][puback][MQTT-4.3.2-2]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("a/+", QoS::AtLeastOnce);
  TestClient c(hub, v);
  c.connect_ok("pub");
  REQUIRE(c.publish("a/b", QoS::AtLeastOnce, 7, "hello") ==
          Packets{PubAck{7, ReasonCode::Success, {}}});
  REQUIRE(sub.take() == Packets{publish_packet("a/b", QoS::AtLeastOnce, 1, "hello")});
  CHECK(hub.metrics().messages_qos1_received.load() == 1);
  CHECK(hub.metrics().messages_sent.load() == 1);
}

TEST_CASE("a publish to a $SYS topic is not authorized", "[channel][publish]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  REQUIRE(c.publish("$SYS/x", QoS::AtLeastOnce, 1) ==
          Packets{PubAck{1, ReasonCode::NotAuthorized, {}}});
  CHECK(hub.published.empty());
}

TEST_CASE("QoS 2 receive: PUBREC, then PUBREL is answered with PUBCOMP",
          "[channel][publish][qos2][MQTT-4.3.3-8][MQTT-4.3.3-11]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::ExactlyOnce);
  TestClient c(hub, v);
  c.connect_ok("pub");
  REQUIRE(c.publish("t", QoS::ExactlyOnce, 5) == Packets{PubRec{5, ReasonCode::Success, {}}});
  CHECK(c.session()->awaiting_rel.count(5) == 1);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::ExactlyOnce, 1)});
  REQUIRE(c.pubrel(5) == Packets{PubComp{5, ReasonCode::Success, {}}});
  CHECK(c.session()->awaiting_rel.empty());
  CHECK(hub.metrics().messages_qos2_received.load() == 1);
}

TEST_CASE("QoS 2 receive: a resent PUBLISH before PUBREL is delivered once",
          "[channel][publish][qos2][MQTT-4.3.3-10]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtMostOnce);
  TestClient c(hub, v);
  c.connect_ok("pub");
  c.publish("t", QoS::ExactlyOnce, 5);
  auto dup = publish_packet("t", QoS::ExactlyOnce, 5, "x", false, /*dup=*/true);
  REQUIRE(c.send(dup) == Packets{PubRec{5, ReasonCode::Success, {}}});
  CHECK(sub.take().size() == 1);
  CHECK(hub.published.size() == 1);
  REQUIRE(c.pubrel(5) == Packets{PubComp{5, ReasonCode::Success, {}}});
  // After PUBCOMP the packet id is free: the same id is a new message.
  c.publish("t", QoS::ExactlyOnce, 5);
  CHECK(sub.take().size() == 1);
}

TEST_CASE("QoS 2 receive state outlives the connection",
          "[channel][publish][qos2][resume][MQTT-4.3.3-10]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtMostOnce);
  {
    TestClient c(hub, v);
    c.connect_ok(persistent("pub"));
    c.publish("t", QoS::ExactlyOnce, 5);
    c.socket_closed();  // the PUBREC may have been lost
  }
  TestClient c(hub, v);
  c.connect_ok(persistent("pub"));
  auto dup = publish_packet("t", QoS::ExactlyOnce, 5, "x", false, /*dup=*/true);
  REQUIRE(c.send(dup) == Packets{PubRec{5, ReasonCode::Success, {}}});
  REQUIRE(c.pubrel(5) == Packets{PubComp{5, ReasonCode::Success, {}}});
  CHECK(sub.take().size() == 1);
}

TEST_CASE("the DUP flag of an incoming PUBLISH is not passed on",
          "[channel][publish][MQTT-3.3.1-3]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient c(hub, v);
  c.connect_ok("pub");
  c.send(publish_packet("t", QoS::AtLeastOnce, 5, "x", false, /*dup=*/true));
  REQUIRE(sub.take() ==
          Packets{publish_packet("t", QoS::AtLeastOnce, 1, "x", false, /*dup=*/false)});
}

TEST_CASE("PUBREL for an unknown packet id is answered with PUBCOMP 0x92",
          "[channel][publish][qos2][MQTT-4.3.3-11]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.pubrel(9) == Packets{PubComp{9, c.ack_code(ReasonCode::PacketIdentifierNotFound), {}}});
  CHECK_FALSE(c.closed());
}

TEST_CASE("more QoS 2 messages awaiting PUBREL than max_awaiting_rel closes with 0x93",
          "[channel][publish][qos2][receive-maximum]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_awaiting_rel = 2; });
  TestClient c(hub, v);
  c.connect_ok("a");
  c.publish("t", QoS::ExactlyOnce, 1);
  c.publish("t", QoS::ExactlyOnce, 2);
  REQUIRE(c.publish("t", QoS::ExactlyOnce, 3) ==
          c.server_disconnect(ReasonCode::ReceiveMaximumExceeded));
  CHECK(c.closed());
  CHECK(hub.published.size() == 2);
}

TEST_CASE("QoS 2 ids older than await_rel_timeout make room under max_awaiting_rel",
          "[channel][publish][qos2][receive-maximum]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) {
    c.mqtt.max_awaiting_rel = 2;
    c.mqtt.await_rel_timeout = std::chrono::seconds(300);
  });
  TestClient c(hub, v);
  c.connect_ok("a");
  c.publish("t", QoS::ExactlyOnce, 1);
  hub.advance(std::chrono::seconds(200));
  c.publish("t", QoS::ExactlyOnce, 2);
  hub.advance(std::chrono::seconds(101));  // id 1 is now 301 s old, id 2 only 101 s
  REQUIRE(c.publish("t", QoS::ExactlyOnce, 3) ==
          Packets{PubRec{3, c.ack_code(ReasonCode::NoMatchingSubscribers), {}}});
  CHECK_FALSE(c.closed());
  CHECK(c.session()->awaiting_rel.count(1) == 0);
  CHECK(c.session()->awaiting_rel.count(2) == 1);
  CHECK(hub.published.size() == 3);
}

TEST_CASE("a PUBLISH above Maximum QoS closes with 0x9B", "[channel][publish][MQTT-3.2.2-11]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_qos_allowed = 1; });
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.publish("t", QoS::ExactlyOnce, 1) == c.server_disconnect(ReasonCode::QoSNotSupported));
  CHECK(c.closed());
  CHECK(hub.published.empty());
}

TEST_CASE("a retained PUBLISH when retain is unavailable closes with 0x9A",
          "[channel][publish][retain][MQTT-3.2.2-14]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.retain_available = false; });
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.publish("t", QoS::AtMostOnce, 0, "x", {}, /*retain=*/true) ==
          c.server_disconnect(ReasonCode::RetainNotSupported));
  CHECK(hub.retainer().size() == 0);
}

TEST_CASE("a wildcard in a PUBLISH topic closes with 0x90", "[channel][publish][MQTT-3.3.2-2]") {
  const auto v = GENERATE(V311, V5);
  const auto topic = GENERATE("a/+", "a/#", "+");
  CAPTURE(v, topic);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.publish(topic, QoS::AtLeastOnce, 1) ==
          c.server_disconnect(ReasonCode::TopicNameInvalid));
  CHECK(c.closed());
}

TEST_CASE("v5: a Subscription Identifier in a client PUBLISH is a protocol error",
          "[channel][publish][MQTT-3.3.4-6]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  auto out = c.publish("t", QoS::AtLeastOnce, 1, "x", {.subscription_identifiers = {3}});
  REQUIRE(out == Packets{Disconnect{ReasonCode::ProtocolError, {}}});
  CHECK(c.closed());
}

TEST_CASE("v5: the message's properties travel to the subscriber",
          "[channel][publish][MQTT-3.3.2-4][MQTT-3.3.2-17][MQTT-3.3.2-20]") {
  TestHub hub;
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtMostOnce);
  TestClient c(hub, V5);
  c.connect_ok("pub");
  c.publish("t", QoS::AtMostOnce, 0, "{}",
            {.payload_format_indicator = 1,
             .content_type = "application/json",
             .response_topic = "r",
             .correlation_data = "42",
             .user_properties = {{"k", "v1"}, {"k", "v2"}}});
  auto p = only<mqtt::Publish>(sub.take()).props;
  CHECK(p.payload_format_indicator == 1);
  CHECK(p.content_type == "application/json");
  CHECK(p.response_topic == "r");
  CHECK(p.correlation_data == "42");
  CHECK(p.user_properties == std::vector<mqtt::UserProperty>{{"k", "v1"}, {"k", "v2"}});
}

// --- Inbound topic aliases (v5) -------------------------------------------------------------

TEST_CASE("v5: a topic alias is set by a PUBLISH with a topic and used by one without",
          "[channel][publish][alias][MQTT-3.3.2-12]") {
  TestHub hub;
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("#", QoS::AtMostOnce);
  TestClient c(hub, V5);
  c.connect_ok("pub");
  c.publish("a/b", QoS::AtMostOnce, 0, "1", {.topic_alias = 3});
  c.publish("", QoS::AtMostOnce, 0, "2", {.topic_alias = 3});
  c.publish("c", QoS::AtMostOnce, 0, "3", {.topic_alias = 3});  // replaces the mapping
  c.publish("", QoS::AtMostOnce, 0, "4", {.topic_alias = 3});
  REQUIRE(sub.take() == Packets{publish_packet("a/b", QoS::AtMostOnce, 0, "1"),
                                publish_packet("a/b", QoS::AtMostOnce, 0, "2"),
                                publish_packet("c", QoS::AtMostOnce, 0, "3"),
                                publish_packet("c", QoS::AtMostOnce, 0, "4")});
  CHECK_FALSE(c.closed());
}

TEST_CASE("v5: an unknown topic alias is a protocol error", "[channel][publish][alias]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  REQUIRE(c.publish("", QoS::AtMostOnce, 0, "x", {.topic_alias = 1}) ==
          Packets{Disconnect{ReasonCode::ProtocolError, {}}});
}

TEST_CASE("v5: topic alias 0 or above Topic Alias Maximum closes with 0x94",
          "[channel][publish][alias][MQTT-3.3.2-8][MQTT-3.3.2-9]") {
  const std::uint16_t server_max = GENERATE(0, 5);
  const std::uint16_t alias = GENERATE(0, 6);
  CAPTURE(server_max, alias);
  TestHub hub([&](config::Config& c) { c.mqtt.max_topic_alias = server_max; });
  TestClient c(hub, V5);
  c.connect_ok("a");
  REQUIRE(c.publish("t", QoS::AtMostOnce, 0, "x", {.topic_alias = alias}) ==
          Packets{Disconnect{ReasonCode::TopicAliasInvalid, {}}});
}

}  // namespace
}  // namespace emqxd::session::test
