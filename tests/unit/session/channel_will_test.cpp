// Channel: the will, DISCONNECT from the client and session takeover (channel_connect.cpp).
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::Disconnect;
using mqtt::QoS;
using mqtt::ReasonCode;
using namespace std::chrono_literals;
using Ids = std::vector<std::string>;

TEST_CASE("the will is published when the connection drops", "[channel][will][MQTT-3.1.2-8]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("w", QoS::AtLeastOnce);
  TestClient c(hub, v);
  c.connect_ok({.client_id = "a", .will = will("w")});
  c.socket_closed();
  REQUIRE(sub.take() == Packets{publish_packet("w", QoS::AtLeastOnce, 1, "gone")});
  CHECK(hub.metrics().wills_published.load() == 1);
  // The channel handed its session to the worker, which took it offline (its $SYS
  // disconnected event) and ended it: Session Expiry 0, gone with the connection.
  CHECK(hub.events("disconnected") == Ids{"a"});
  CHECK(hub.metrics().session_discarded.load() == 1);
  CHECK(hub.session("a") == nullptr);
}

TEST_CASE("DISCONNECT 0x00 discards the will and gets no answer",
          "[channel][will][disconnect][MQTT-3.14.4-3][MQTT-3.14.4-1]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok({.client_id = "a", .will = will("w")});
  REQUIRE(c.disconnect().empty());
  CHECK(c.closed());
  c.socket_closed();
  CHECK(hub.published.empty());
  CHECK(hub.metrics().wills_published.load() == 0);
}

TEST_CASE("v5: DISCONNECT 0x04 publishes the will", "[channel][will][disconnect]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok({.client_id = "a", .will = will("w")});
  REQUIRE(c.disconnect(ReasonCode::DisconnectWithWillMessage).empty());
  c.socket_closed();
  REQUIRE(hub.published.size() == 1);
  CHECK(hub.published[0]->payload == "gone");
}

// Only Reason Code 0x00 deletes the will; a client that disconnects with an error code
// (0x80 Unspecified error, say) still has it published, as EMQX does.
TEST_CASE("v5: DISCONNECT with an error reason code keeps the will",
          "[channel][will][disconnect][MQTT-3.14.4-3][MQTT-3.1.2-8]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok({.client_id = "a", .will = will("w")});
  c.disconnect(ReasonCode::UnspecifiedError);
  c.socket_closed();
  CHECK(hub.published.size() == 1);
}

TEST_CASE("v5: a Will Delay keeps the will pending on the session",
          "[channel][will][MQTT-3.1.3-9]") {
  TestHub hub;
  TestClient c(hub, V5);
  auto args = persistent("a");
  args.will = will("w", /*delay=*/10);
  c.connect_ok(args);
  c.socket_closed();
  CHECK(hub.published.empty());
  Session* s = hub.session("a");
  REQUIRE(s != nullptr);
  REQUIRE(s->pending_will.has_value());
  CHECK((*s->pending_will)->topic == "w");
  CHECK(s->will_delay == 10);
  hub.advance(9s);
  CHECK(hub.published.empty());
  hub.advance(1s);  // the worker's offline timer: the delay is over
  REQUIRE(hub.published.size() == 1);
  CHECK(hub.published[0]->topic == "w");
  CHECK(hub.session("a") != nullptr);  // the session itself lasts its 300 s
}

TEST_CASE("v5: a delayed will is not published when the client comes back in time",
          "[channel][will][MQTT-3.1.3-9]") {
  TestHub hub;
  auto args = persistent("a");
  args.will = will("w", /*delay=*/10);
  {
    TestClient c(hub, V5);
    c.connect_ok(args);
    c.socket_closed();
  }
  TestClient again(hub, V5);
  again.connect_ok(persistent("a"));
  CHECK_FALSE(hub.session("a")->pending_will.has_value());
  CHECK(hub.published.empty());
  hub.advance(10s);
  CHECK(hub.published.empty());
}

TEST_CASE("v5: a Will Delay with Session Expiry 0 publishes the will at once",
          "[channel][will][MQTT-3.1.3-9]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok({.client_id = "a", .will = will("w", /*delay=*/10)});
  c.socket_closed();
  CHECK(hub.published.size() == 1);
}

TEST_CASE("v5: DISCONNECT may not set a Session Expiry Interval after CONNECT said 0",
          "[channel][disconnect][MQTT-3.14.2-2]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  auto out = c.disconnect(ReasonCode::NormalDisconnection, {.session_expiry_interval = 300});
  REQUIRE(out == Packets{Disconnect{ReasonCode::ProtocolError, {}}});
  CHECK(c.closed());
  c.socket_closed();
  CHECK(hub.session("a") == nullptr);
}

TEST_CASE("v5: DISCONNECT may change a non-zero Session Expiry Interval to 0",
          "[channel][disconnect]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok(persistent("a"));
  REQUIRE(c.disconnect(ReasonCode::NormalDisconnection, {.session_expiry_interval = 0}).empty());
  CHECK(hub.session("a")->expiry_interval == 0);
  c.socket_closed();
  CHECK(hub.session("a") == nullptr);
}

TEST_CASE("a takeover disconnects the old connection with 0x8E",
          "[channel][connect][takeover][MQTT-3.1.4-3]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient old(hub, v);
  old.connect_ok(persistent("a"));
  TestClient c(hub, v);
  CHECK(c.connect_ok(persistent("a")).session_present == true);
  REQUIRE(old.take() == old.server_disconnect(ReasonCode::SessionTakenOver));
  CHECK(old.closed());
  CHECK(old.session() == nullptr);
  CHECK(c.session() == hub.session("a"));
  CHECK(hub.events("disconnected") == Ids{"a"});  // the takeover's
  old.socket_closed();  // the old socket closes later; the session is not the old one's now
  // The old channel closed without a session: the worker took nothing offline.
  CHECK(hub.events("disconnected") == Ids{"a"});
  CHECK(hub.session("a")->channel == &c.channel);
}

TEST_CASE("a takeover publishes the old connection's will",
          "[channel][will][takeover][MQTT-3.1.4-3]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient old(hub, v);
  auto args = persistent("a");
  args.will = will("w");
  old.connect_ok(args);
  TestClient c(hub, v);
  c.connect_ok(persistent("a"));
  REQUIRE(hub.published.size() == 1);
  CHECK(hub.published[0]->topic == "w");
  old.socket_closed();
  CHECK(hub.published.size() == 1);  // not twice
}

}  // namespace
}  // namespace emqxd::session::test
