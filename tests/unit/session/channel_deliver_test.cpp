// Channel: messages to the client. QoS downgrade, the send window, the QoS 1/2 handshakes
// the server starts, resending on a resumed session, the offline queue, message expiry,
// the client's Maximum Packet Size and outbound topic aliases (channel_publish.cpp,
// outbound half).
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::Publish;
using mqtt::PubRel;
using mqtt::QoS;
using mqtt::ReasonCode;
using namespace std::chrono_literals;

// A message from outside with a Message Expiry Interval, received `age` ago on the hub's
// clock.
mqtt::MessagePtr aged(const TestHub& hub, std::string topic, std::uint32_t expiry,
                      std::chrono::seconds age) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = std::move(topic);
  m->payload.push_back('x');  // (= "x" trips GCC 12's -Wrestrict false positive)
  m->qos = QoS::AtLeastOnce;
  m->message_expiry_interval = expiry;
  m->received_at = hub.now() - age;
  return m;
}

Publish with_alias(std::string_view topic, std::uint16_t alias) {
  auto p = publish_packet(topic, QoS::AtMostOnce, 0);
  p.props.topic_alias = alias;
  return p;
}

TEST_CASE("the delivery QoS is the lower of the message's and the subscription's",
          "[channel][deliver][MQTT-3.8.4-8]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("q1", QoS::AtLeastOnce, 1);
  sub.subscribe("q0", QoS::AtMostOnce, 2);
  hub.inject("q1", "x", QoS::ExactlyOnce);
  hub.inject("q0", "x", QoS::AtLeastOnce);
  REQUIRE(sub.take() == Packets{publish_packet("q1", QoS::AtLeastOnce, 1),
                                publish_packet("q0", QoS::AtMostOnce, 0)});
}

// --- The send window ----------------------------------------------------------------------

TEST_CASE("v5: Receive Maximum 2 allows two messages in flight, the third waits for a PUBACK",
          "[channel][deliver][inflight][MQTT-3.3.4-9]") {
  TestHub hub;
  TestClient sub(hub, V5);
  sub.connect_ok({.client_id = "sub", .props = {.receive_maximum = 2}});
  sub.subscribe("t", QoS::AtLeastOnce);
  for (const char* p : {"1", "2", "3"})
    hub.inject("t", p, QoS::AtLeastOnce);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "1"),
                                publish_packet("t", QoS::AtLeastOnce, 2, "2")});
  CHECK(sub.session()->queue.size() == 1);
  REQUIRE(sub.puback(1) == Packets{publish_packet("t", QoS::AtLeastOnce, 3, "3")});
  CHECK(hub.metrics().messages_acked.load() == 1);
}

TEST_CASE("max_inflight bounds the messages in flight", "[channel][deliver][inflight]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_inflight = 1; });
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.inject("t", "1", QoS::AtLeastOnce);
  hub.inject("t", "2", QoS::AtLeastOnce);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "1")});
  REQUIRE(sub.puback(1) == Packets{publish_packet("t", QoS::AtLeastOnce, 2, "2")});
  REQUIRE(sub.puback(2).empty());
  CHECK(sub.session()->inflight.empty());
}

TEST_CASE("a full queue while online drops its oldest message", "[channel][deliver][queue]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) {
    c.mqtt.max_inflight = 1;
    c.mqtt.max_mqueue_len = 1;
  });
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  for (const char* p : {"1", "2", "3"})
    hub.inject("t", p, QoS::AtLeastOnce);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "1")});
  CHECK(hub.metrics().messages_dropped_queue_full.load() == 1);
  CHECK(hub.metrics().messages_dropped.load() == 1);
  REQUIRE(sub.puback(1) == Packets{publish_packet("t", QoS::AtLeastOnce, 2, "3")});
}

TEST_CASE("QoS 0 messages to a client whose socket does not drain are dropped",
          "[channel][deliver][backlog]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  sub.host.backlog_bytes = kMaxBacklog + 1;
  hub.inject("t", "q0", QoS::AtMostOnce);
  hub.inject("t", "q1", QoS::AtLeastOnce);  // bounded by the window instead
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "q1")});
  CHECK(hub.metrics().messages_dropped_queue_full.load() == 1);
}

// --- QoS 2 to the client ------------------------------------------------------------------

TEST_CASE("QoS 2 to the client: PUBLISH, PUBREC answered with PUBREL, PUBCOMP ends it",
          "[channel][deliver][qos2][MQTT-4.3.3-1][MQTT-4.3.3-4]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_inflight = 1; });
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::ExactlyOnce);
  hub.inject("t", "1", QoS::ExactlyOnce);
  hub.inject("t", "2", QoS::ExactlyOnce);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::ExactlyOnce, 1, "1")});
  REQUIRE(sub.pubrec(1) == Packets{PubRel{1, ReasonCode::Success, {}}});
  CHECK(sub.session()->inflight[0].state == OutState::WaitPubComp);
  // The message is still in flight until PUBCOMP: the second one waits.
  REQUIRE(sub.pubcomp(1) == Packets{publish_packet("t", QoS::ExactlyOnce, 2, "2")});
  CHECK(hub.metrics().messages_acked.load() == 1);
}

TEST_CASE("v5: PUBREC with an error code ends the QoS 2 flow without PUBREL",
          "[channel][deliver][qos2][MQTT-4.3.3-4]") {
  TestHub hub([](config::Config& c) { c.mqtt.max_inflight = 1; });
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::ExactlyOnce);
  hub.inject("t", "1", QoS::ExactlyOnce);
  hub.inject("t", "2", QoS::ExactlyOnce);
  sub.take();
  REQUIRE(sub.send(mqtt::PubRec{1, ReasonCode::UnspecifiedError, {}}) ==
          Packets{publish_packet("t", QoS::ExactlyOnce, 2, "2")});
}

TEST_CASE("PUBREC for a QoS 1 message is a protocol error", "[channel][deliver][qos2]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.inject("t", "x", QoS::AtLeastOnce);
  sub.take();
  REQUIRE(sub.pubrec(1) == sub.server_disconnect(ReasonCode::ProtocolError));
  CHECK(sub.closed());
}

TEST_CASE("PUBREC for an unknown packet id is answered with PUBREL 0x92",
          "[channel][deliver][qos2]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  REQUIRE(sub.pubrec(4) ==
          Packets{PubRel{4, sub.ack_code(ReasonCode::PacketIdentifierNotFound), {}}});
}

// --- Resuming a session -------------------------------------------------------------------

TEST_CASE("a resumed session resends PUBLISH with DUP and PUBREL in order, then the queue",
          "[channel][deliver][resume][MQTT-4.4.0-1][MQTT-3.3.1-1]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient pub(hub, v);
  pub.connect_ok("pub");
  {
    TestClient sub(hub, v);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::ExactlyOnce);
    pub.publish("t", QoS::AtLeastOnce, 1, "m1");
    pub.publish("t", QoS::ExactlyOnce, 2, "m2");
    REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "m1"),
                                  publish_packet("t", QoS::ExactlyOnce, 2, "m2")});
    REQUIRE(sub.pubrec(2) == Packets{PubRel{2, ReasonCode::Success, {}}});
    pub.publish("t", QoS::AtLeastOnce, 3, "m3");
    REQUIRE(sub.take().size() == 1);
    sub.socket_closed();
  }
  pub.publish("t", QoS::AtLeastOnce, 4, "m4");  // queued while offline
  TestClient sub(hub, v);
  CHECK(sub.connect_ok(persistent("sub")).session_present);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "m1", false, /*dup=*/true),
                                PubRel{2, ReasonCode::Success, {}},
                                publish_packet("t", QoS::AtLeastOnce, 3, "m3", false, /*dup=*/true),
                                publish_packet("t", QoS::AtLeastOnce, 4, "m4")});
}

// The send quota starts again from the new connection's Receive Maximum (section 4.9), and
// resent PUBLISH packets count against it: a client that reconnects with Receive Maximum 1
// must not get two unacknowledged QoS 1 messages at once.
TEST_CASE("v5: a resumed session resends no more than the new Receive Maximum",
          "[channel][deliver][resume][inflight][MQTT-3.3.4-9]") {
  TestHub hub;
  {
    TestClient sub(hub, V5);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    hub.inject("t", "1", QoS::AtLeastOnce);
    hub.inject("t", "2", QoS::AtLeastOnce);
    REQUIRE(sub.take().size() == 2);
    sub.socket_closed();
  }
  TestClient sub(hub, V5);
  auto args = persistent("sub");
  args.props.receive_maximum = 1;
  sub.connect_ok(args);
  CHECK(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "1", false, /*dup=*/true)});
  CHECK(sub.puback(1) ==
        Packets{publish_packet("t", QoS::AtLeastOnce, 2, "2", false, /*dup=*/true)});
}

TEST_CASE("a shared subscription delivers each message to one member of the group",
          "[channel][deliver][shared]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient a(hub, v);
  a.connect_ok("a");
  a.subscribe("$share/g/t", QoS::AtLeastOnce);
  TestClient b(hub, v);
  b.connect_ok("b");
  b.subscribe("$share/g/t", QoS::AtLeastOnce);
  hub.inject("t", "1", QoS::AtLeastOnce);
  hub.inject("t", "2", QoS::AtLeastOnce);
  auto got_a = a.take();
  auto got_b = b.take();
  CHECK(got_a.size() + got_b.size() == 2);
  CHECK(got_a.size() == 1);  // round robin
  CHECK(a.session()->inflight[0].d.share != nullptr);
}

// --- The offline queue --------------------------------------------------------------------

TEST_CASE("the offline queue keeps max_mqueue_len messages, dropping the oldest",
          "[channel][deliver][queue]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_mqueue_len = 2; });
  {
    TestClient sub(hub, v);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    sub.socket_closed();
  }
  for (const char* p : {"1", "2", "3"})
    hub.inject("t", p, QoS::AtLeastOnce);
  CHECK(hub.metrics().messages_dropped_queue_full.load() == 1);
  TestClient sub(hub, v);
  sub.connect_ok(persistent("sub"));
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "2"),
                                publish_packet("t", QoS::AtLeastOnce, 2, "3")});
}

TEST_CASE("with mqueue_store_qos0 false, QoS 0 messages are dropped while offline",
          "[channel][deliver][queue]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.mqueue_store_qos0 = false; });
  {
    TestClient sub(hub, v);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    sub.socket_closed();
  }
  hub.inject("t", "q0", QoS::AtMostOnce);
  hub.inject("t", "q1", QoS::AtLeastOnce);
  CHECK(hub.metrics().messages_dropped_qos0_offline.load() == 1);
  TestClient sub(hub, v);
  sub.connect_ok(persistent("sub"));
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "q1")});
}

// --- Message expiry -----------------------------------------------------------------------

TEST_CASE("an expired message is not delivered", "[channel][deliver][expiry][MQTT-3.3.2-5]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.inject(aged(hub, "t", /*expiry=*/10, /*age=*/11s));
  CHECK(sub.take().empty());
  CHECK(hub.metrics().messages_dropped_expired.load() == 1);
}

TEST_CASE("v5: the Message Expiry Interval sent is what is left of it",
          "[channel][deliver][expiry][MQTT-3.3.2-6]") {
  TestHub hub;
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.inject(aged(hub, "t", /*expiry=*/10, /*age=*/3s));
  CHECK(only<Publish>(sub.take()).props.message_expiry_interval == 7u);
}

TEST_CASE("a message that expired in the offline queue is not sent on resume",
          "[channel][deliver][expiry][queue][MQTT-3.3.2-5]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  {
    TestClient sub(hub, v);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    sub.socket_closed();
  }
  hub.inject(aged(hub, "t", /*expiry=*/10, /*age=*/11s));
  hub.inject(aged(hub, "t", /*expiry=*/10, /*age=*/0s));
  TestClient sub(hub, v);
  sub.connect_ok(persistent("sub"));
  CHECK(sub.take().size() == 1);
  CHECK(hub.metrics().messages_dropped_expired.load() == 1);
}

// --- The client's Maximum Packet Size -----------------------------------------------------

TEST_CASE("v5: a message above the client's Maximum Packet Size is dropped for that client",
          "[channel][deliver][MQTT-3.1.2-25]") {
  TestHub hub;
  TestClient small(hub, V5);
  small.connect_ok({.client_id = "small", .props = {.maximum_packet_size = 32}});
  small.subscribe("t", QoS::AtLeastOnce);
  TestClient big(hub, V5);
  big.connect_ok("big");
  big.subscribe("t", QoS::AtLeastOnce);
  hub.inject("t", std::string(64, 'x'), QoS::AtLeastOnce);
  CHECK(small.take().empty());
  CHECK(small.session()->inflight.empty());
  CHECK(big.take().size() == 1);
  CHECK(hub.metrics().messages_dropped_too_large.load() == 1);
  hub.inject("t", "fits", QoS::AtLeastOnce);
  CHECK(only<Publish>(small.take()).payload == "fits");
}

// A QoS 1 message in flight when the connection dropped is resent on resume; if the new
// connection's Maximum Packet Size is below it, the server must "behave as if it had
// completed sending" it. It stays in flight instead, holding a slot of the window forever.
TEST_CASE("v5: an inflight message too large for the resumed connection is not left in flight",
          "[channel][deliver][resume][MQTT-3.1.2-25]") {
  TestHub hub;
  {
    TestClient sub(hub, V5);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    hub.inject("t", std::string(100, 'x'), QoS::AtLeastOnce);
    REQUIRE(sub.take().size() == 1);  // not acknowledged
    sub.socket_closed();
  }
  TestClient sub(hub, V5);
  auto args = persistent("sub");
  args.props.maximum_packet_size = 50;
  args.props.receive_maximum = 1;
  sub.connect_ok(args);
  CHECK(sub.take().empty());
  CHECK(hub.metrics().messages_dropped_too_large.load() == 1);
  hub.inject("t", "small", QoS::AtLeastOnce);
  CHECK(sub.take().size() == 1);
  CHECK(sub.session()->inflight.size() == 1);
}

// --- Outbound topic aliases (v5) ----------------------------------------------------------

TEST_CASE("v5: topic aliases are used up to the client's Topic Alias Maximum",
          "[channel][deliver][alias][MQTT-3.1.2-26]") {
  TestHub hub;
  TestClient sub(hub, V5);
  sub.connect_ok({.client_id = "sub", .props = {.topic_alias_maximum = 1}});
  sub.subscribe("#", QoS::AtMostOnce);
  hub.inject("a", "x");
  hub.inject("a", "x");
  hub.inject("b", "x");
  REQUIRE(sub.take() ==
          Packets{with_alias("a", 1), with_alias("", 1), publish_packet("b", QoS::AtMostOnce, 0)});
}

TEST_CASE("v5: no topic alias is sent to a client that announced none",
          "[channel][deliver][alias][MQTT-3.1.2-27]") {
  TestHub hub;
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("a", QoS::AtMostOnce);
  hub.inject("a", "x");
  hub.inject("a", "x");
  REQUIRE(sub.take() == Packets{publish_packet("a", QoS::AtMostOnce, 0),
                                publish_packet("a", QoS::AtMostOnce, 0)});
}

TEST_CASE("3.1.1: an unacknowledged message is resent with DUP after retry_interval",
          "[channel][deliver][retry]") {
  TestHub hub([](config::Config& c) { c.mqtt.retry_interval = std::chrono::seconds(30); });
  TestClient sub(hub, V311);
  sub.connect_ok("s");
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.inject("t", "m", QoS::AtLeastOnce);
  REQUIRE(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "m")});
  // The channel asked its worker for retry ticks (Hub::watch_retry): the worker's timer
  // resends, nobody else calls retry() here.
  hub.advance(std::chrono::seconds(29));
  CHECK(sub.take().empty());
  CHECK(sub.channel.retry(hub.now()));  // still in flight, not due yet
  CHECK(sub.take().empty());
  hub.advance(std::chrono::seconds(1));
  CHECK(sub.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1, "m", false, /*dup=*/true)});
  CHECK(sub.channel.retry(hub.now()));  // resent just now: not again
  CHECK(sub.take().empty());
  sub.puback(1);
  CHECK_FALSE(sub.channel.retry(hub.now()));  // nothing left in flight: the worker stops
  hub.advance(std::chrono::seconds(60));
  CHECK(sub.take().empty());
}

TEST_CASE("v5: nothing is resent on a live connection, whatever retry_interval says",
          "[channel][deliver][retry][MQTT-4.4.0-1]") {
  TestHub hub([](config::Config& c) { c.mqtt.retry_interval = std::chrono::seconds(1); });
  TestClient sub(hub, V5);
  sub.connect_ok("s");
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.inject("t", "m", QoS::AtLeastOnce);
  REQUIRE(sub.take().size() == 1);
  hub.advance(std::chrono::seconds(60));  // the worker's retry timer, had it been asked for
  CHECK(sub.take().empty());
  CHECK_FALSE(sub.channel.retry(hub.now()));
  CHECK(sub.take().empty());
}

}  // namespace
}  // namespace emqxd::session::test
