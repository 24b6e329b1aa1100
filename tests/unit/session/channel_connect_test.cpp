// Channel: CONNECT and CONNACK, the will, DISCONNECT, keep alive, decode errors, AUTH and
// PINGREQ (channel_connect.cpp).
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::ConnAck;
using mqtt::Disconnect;
using mqtt::QoS;
using mqtt::ReasonCode;
using namespace std::chrono_literals;

// --- CONNECT and CONNACK ------------------------------------------------------------------

TEST_CASE("CONNACK says whether the session was present",
          "[channel][connect][MQTT-3.2.2-2][MQTT-3.2.2-3]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  {
    TestClient c(hub, v);
    CHECK(c.connect_ok(persistent("a")).session_present == false);  // no session yet
    CHECK(c.host.resume_calls == 1);
    c.socket_closed();
  }
  {
    TestClient c(hub, v);
    CHECK(c.connect_ok(persistent("a")).session_present == true);
    c.socket_closed();
  }
  TestClient c(hub, v);
  CHECK(c.connect_ok("a", /*clean_start=*/true).session_present == false);
  CHECK(hub.metrics().client_connected.load() == 3);
  CHECK(hub.metrics().session_resumed.load() == 1);
}

TEST_CASE("the first packet must be CONNECT: anything else closes with nothing sent",
          "[channel][connect][MQTT-3.1.0-1]") {
  auto first =
      GENERATE(mqtt::Packet{mqtt::PingReq{}}, mqtt::Packet{publish_packet("a", QoS::AtMostOnce, 0)},
               mqtt::Packet{mqtt::Subscribe{1, {}, {{"a", {}}}}}, mqtt::Packet{Disconnect{}});
  CAPTURE(first);
  TestHub hub;
  TestClient c(hub, V5);
  REQUIRE(c.send(first).empty());
  CHECK(c.closed());
  CHECK(c.channel.state() == Channel::State::Closing);
  CHECK(hub.metrics().protocol_errors.load() == 1);
  CHECK(hub.session_count() == 0);
}

TEST_CASE("a second CONNECT is a protocol error", "[channel][connect][MQTT-3.1.0-2]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.connect("a") == c.server_disconnect(ReasonCode::ProtocolError));
  CHECK(c.closed());
}

TEST_CASE("3.1.1: an empty client id with Clean Session 0 is refused with return code 2",
          "[channel][connect][MQTT-3.1.3-8]") {
  TestHub hub;
  TestClient c(hub, V311);
  auto out = c.connect("", /*clean_start=*/false);
  REQUIRE(out == Packets{ConnAck{false, 2, {}}});
  CHECK(c.closed());
  CHECK(hub.session_count() == 0);
}

TEST_CASE("an empty client id gets one from the server",
          "[channel][connect][MQTT-3.1.3-6][MQTT-3.2.2-16]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  auto ack = c.connect_ok("", /*clean_start=*/true);
  const std::string id = c.channel.client_id();
  CHECK(id.starts_with("emqxd-"));  // WorkerCore::assign_client_id
  CHECK(hub.session(id) != nullptr);
  if (v == V5) {
    CHECK(ack.props.assigned_client_identifier == id);
  } else {
    CHECK_FALSE(ack.props.assigned_client_identifier.has_value());
  }
}

TEST_CASE("v5: an empty client id with Clean Start 0 is accepted and assigned",
          "[channel][connect][MQTT-3.2.2-16]") {
  TestHub hub;
  TestClient c(hub, V5);
  auto ack = c.connect_ok("", /*clean_start=*/false);
  CHECK(ack.props.assigned_client_identifier == c.channel.client_id());
  CHECK(c.channel.client_id().starts_with("emqxd-"));
}

TEST_CASE("a client id longer than max_clientid_len is refused",
          "[channel][connect][MQTT-3.1.3-5]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_clientid_len = 4; });
  TestClient c(hub, v);
  std::uint8_t code = v == V5 ? 0x85 : 2;  // 0x85 Client Identifier not valid / identifier rejected
  REQUIRE(c.connect("abcde") == Packets{ConnAck{false, code, {}}});
  CHECK(c.closed());
  CHECK(hub.session_count() == 0);
}

TEST_CASE("v5: CONNECT with an Authentication Method is refused with 0x8C",
          "[channel][connect][auth][MQTT-4.12.0-1]") {
  TestHub hub;
  TestClient c(hub, V5);
  auto out = c.connect({.client_id = "a", .props = {.authentication_method = "SCRAM-SHA-1"}});
  REQUIRE(out == Packets{ConnAck{false, 0x8C, {}}});
  CHECK(c.closed());
}

TEST_CASE("a will QoS above Maximum QoS refuses the connection",
          "[channel][connect][will][MQTT-3.2.2-12]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_qos_allowed = 0; });
  TestClient c(hub, v);
  std::uint8_t code = v == V5 ? 0x9B : 3;  // 3.1.1 has no such code: Server unavailable
  REQUIRE(c.connect({.client_id = "a", .will = will("w")}) == Packets{ConnAck{false, code, {}}});
  CHECK(c.closed());
}

TEST_CASE("a will with Retain when retain is unavailable refuses the connection",
          "[channel][connect][will][MQTT-3.2.2-13]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.retain_available = false; });
  TestClient c(hub, v);
  auto w = will("w");
  w.retain = true;
  std::uint8_t code = v == V5 ? 0x9A : 3;
  REQUIRE(c.connect({.client_id = "a", .will = w}) == Packets{ConnAck{false, code, {}}});
}

TEST_CASE("a will topic with a wildcard refuses the connection",
          "[channel][connect][will][MQTT-3.1.3-11]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  std::uint8_t code = v == V5 ? 0x90 : 3;  // 0x90 Topic Name invalid
  REQUIRE(c.connect({.client_id = "a", .will = will("w/#")}) == Packets{ConnAck{false, code, {}}});
  CHECK(c.closed());
}

TEST_CASE("v5 CONNACK announces the server's limits", "[channel][connect][MQTT-3.2.2-9]") {
  TestHub hub([](config::Config& c) {
    c.mqtt.max_qos_allowed = 1;
    c.mqtt.retain_available = false;
    c.mqtt.wildcard_subscription = false;
    c.mqtt.shared_subscription = false;
    c.mqtt.max_topic_alias = 10;
    c.mqtt.max_awaiting_rel = 20;
  });
  TestClient c(hub, V5);
  auto p = c.connect_ok("a").props;
  CHECK(p.maximum_qos == 1);
  CHECK(p.retain_available == 0);
  CHECK(p.wildcard_subscription_available == 0);
  CHECK(p.shared_subscription_available == 0);
  CHECK(p.topic_alias_maximum == 10);
  CHECK(p.receive_maximum == 20);
  CHECK(p.maximum_packet_size == 1024 * 1024);
  CHECK_FALSE(p.assigned_client_identifier.has_value());
}

TEST_CASE("Response Information is only sent to a client that asked for it",
          "[channel][connect][MQTT-3.1.2-28]") {
  TestHub hub([](config::Config& c) { c.mqtt.response_information = "reply/"; });
  TestClient asked(hub, V5);
  CHECK(asked.connect_ok({.client_id = "a", .props = {.request_response_information = 1}})
            .props.response_information == "reply/");
  TestClient silent(hub, V5);  // Request Response Information absent = 0
  CHECK_FALSE(silent.connect_ok("b").props.response_information.has_value());
}

// --- Keep alive ---------------------------------------------------------------------------

TEST_CASE("the keep alive timer is one and a half times the client's Keep Alive",
          "[channel][keepalive][MQTT-3.1.2-24]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok({.client_id = "a", .keep_alive = 60});
  CHECK(c.host.keepalives == std::vector<std::chrono::milliseconds>{90s});
  TestClient none(hub, v);
  none.connect_ok({.client_id = "b", .keep_alive = 0});
  CHECK(none.host.keepalives == std::vector<std::chrono::milliseconds>{0ms});
}

TEST_CASE("v5: Server Keep Alive replaces the client's", "[channel][keepalive][MQTT-3.2.2-21]") {
  TestHub hub([](config::Config& c) { c.mqtt.server_keepalive = 30; });
  TestClient c(hub, V5);
  CHECK(c.connect_ok({.client_id = "a", .keep_alive = 600}).props.server_keep_alive == 30);
  CHECK(c.host.keepalives == std::vector<std::chrono::milliseconds>{45s});
  CHECK(c.channel.keep_alive() == 30);
}

TEST_CASE("keep alive timeout closes with 0x8D and publishes the will",
          "[channel][keepalive][will][MQTT-3.1.2-24]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok({.client_id = "a", .will = will("w")});
  c.channel.handle_keepalive_timeout();
  REQUIRE(c.take() == c.server_disconnect(ReasonCode::KeepAliveTimeout));
  CHECK(c.closed());
  c.socket_closed();
  REQUIRE(hub.published.size() == 1);
  CHECK(hub.published[0]->topic == "w");
}

TEST_CASE("no CONNECT within the keep alive time closes with nothing sent",
          "[channel][keepalive]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.channel.handle_keepalive_timeout();
  CHECK(c.take().empty());
  CHECK(c.closed());
}

// --- Errors -------------------------------------------------------------------------------

TEST_CASE("a decode error after CONNECT closes with its reason code",
          "[channel][errors][MQTT-4.13.1-1]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  auto [e, rc] = GENERATE(std::pair{Errc::MalformedPacket, ReasonCode::MalformedPacket},
                          std::pair{Errc::ProtocolError, ReasonCode::ProtocolError},
                          std::pair{Errc::PacketTooLarge, ReasonCode::PacketTooLarge});
  CAPTURE(rc);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  c.channel.handle_decode_error(e);
  REQUIRE(c.take() == c.server_disconnect(rc));
  CHECK(c.closed());
  CHECK(hub.metrics().packets_malformed.load() == 1);
}

TEST_CASE("a CONNECT of an unknown protocol version is refused in the 3.1.1 format",
          "[channel][connect][errors][MQTT-3.1.2-2]") {
  TestHub hub;
  TestClient c(hub, V311);
  c.channel.handle_decode_error(Errc::UnsupportedProtocolVersion);
  REQUIRE(c.take() == Packets{ConnAck{false, 1, {}}});
  CHECK(c.closed());
}

TEST_CASE("a malformed CONNECT closes with nothing sent", "[channel][connect][errors]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.channel.handle_decode_error(Errc::MalformedPacket);
  CHECK(c.take().empty());
  CHECK(c.closed());
}

TEST_CASE("nothing is handled after the channel started closing", "[channel][errors]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  c.channel.handle_decode_error(Errc::MalformedPacket);
  c.take();
  CHECK(c.send(mqtt::PingReq{}).empty());
  CHECK(c.host.close_calls == 1);
}

TEST_CASE("v5: AUTH without an authentication exchange is a protocol error",
          "[channel][auth][MQTT-3.15.2-1]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  REQUIRE(c.send(mqtt::Auth{ReasonCode::ReAuthenticate, {}}) ==
          Packets{Disconnect{ReasonCode::ProtocolError, {}}});
  CHECK(c.closed());
}

TEST_CASE("a server-to-client packet from the client is a protocol error", "[channel][errors]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.send(mqtt::PingResp{}) == c.server_disconnect(ReasonCode::ProtocolError));
  CHECK(c.closed());
}

TEST_CASE("PINGREQ is answered with PINGRESP", "[channel][ping][MQTT-3.12.4-1]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.send(mqtt::PingReq{}) == Packets{mqtt::PingResp{}});
  CHECK_FALSE(c.closed());
}

}  // namespace
}  // namespace emqxd::session::test
