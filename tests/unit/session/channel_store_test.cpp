// Channel: durable sessions (channel_store.cpp). What a durable session records, and the
// acknowledgements that wait until the turn's batch is stored, in request order; a failed
// commit answers 0x97 (MQTT 5) or closes the connection (3.1.1). The worker commits each
// turn's batch to a ManualStore, which hub.commit() completes; deliveries wait for the
// commit of their turn (session/commit_order.hpp). The store itself is tested in
// tests/unit/storage, the whole path against real processes in
// tests/integration/test_durable*.py.
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::QoS;
using mqtt::ReasonCode;

void durable(config::Config& c) {
  c.durable_sessions.enable = true;
}

TEST_CASE("durable: a session with an expiry interval gets a store uid, one without does not",
          "[channel][durable]") {
  TestHub hub(durable);
  TestClient a(hub, V5);
  a.connect_ok(persistent("a"));
  CHECK(a.session()->store_uid != 0);
  CHECK(hub.pending_records() == 1);  // the session record
  TestClient b(hub, V5);
  b.connect_ok("b");
  CHECK(b.session()->store_uid == 0);
  CHECK(hub.pending_records() == 1);
}

TEST_CASE("durable: SUBACK and PUBACK wait for the commit, in request order, PINGRESP behind them",
          "[channel][durable][MQTT-4.6.0-2]") {
  TestHub hub(durable);
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  hub.commit();
  CHECK(sub.subscribe("t", QoS::AtLeastOnce).empty());
  CHECK(sub.send(mqtt::PingReq{}).empty());  // behind the SUBACK
  hub.commit();
  auto out = sub.take();
  REQUIRE(out.size() == 2);
  CHECK(std::holds_alternative<mqtt::SubAck>(out[0]));
  CHECK(std::holds_alternative<mqtt::PingResp>(out[1]));

  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  // A QoS 1 message to a durable subscriber is stored: its PUBACK waits for the commit,
  // and so does the delivery (session/commit_order.hpp).
  CHECK(pub.publish("t", QoS::AtLeastOnce, 7).empty());
  CHECK(sub.take().empty());
  // A message to nobody needs no storage, but keeps its place behind the waiting one.
  CHECK(pub.publish("nobody", QoS::AtLeastOnce, 8).empty());
  hub.commit();
  auto acks = pub.take();
  REQUIRE(acks.size() == 2);
  CHECK(std::get<mqtt::PubAck>(acks[0]).packet_id == 7);
  CHECK(std::get<mqtt::PubAck>(acks[1]).packet_id == 8);
  CHECK(only<mqtt::Publish>(sub.take()).packet_id == 1);
}

TEST_CASE("durable: a failed commit answers 0x97 to MQTT 5 and closes MQTT 3.1.1",
          "[channel][durable]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub(durable);
  TestClient sub(hub, v);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::ExactlyOnce);
  hub.commit();
  sub.take();
  TestClient pub(hub, v);
  pub.connect_ok("pub");
  CHECK(pub.publish("t", QoS::AtLeastOnce, 3).empty());
  hub.commit(storage::Status::no_space("test"));
  CHECK(sub.take().empty());  // refused: nobody receives it (Hub::await_commit)
  if (v == V5) {
    auto ack = only<mqtt::PubAck>(pub.take());
    CHECK(ack.reason == ReasonCode::QuotaExceeded);
    CHECK_FALSE(pub.closed());
  } else {
    CHECK(pub.take().empty());
    CHECK(pub.closed());
  }
}

TEST_CASE(
    "durable: inbound QoS 2 records its packet id with the PUBREC, PUBREL erases it before PUBCOMP",
    "[channel][durable][MQTT-4.3.3-10]") {
  TestHub hub(durable);
  TestClient c(hub, V5);
  c.connect_ok(persistent("c"));
  hub.commit();
  REQUIRE(hub.pending_records() == 0);
  CHECK(c.publish("t", QoS::ExactlyOnce, 9).empty());  // PUBREC waits for the awaiting_rel record
  CHECK(hub.pending_records() == 1);
  hub.commit();
  CHECK(only<mqtt::PubRec>(c.take()).packet_id == 9);
  // The PUBCOMP waits until the id is erased in storage: the client may reuse the id as
  // soon as it has the PUBCOMP [MQTT-4.3.3-12].
  CHECK(c.pubrel(9).empty());
  CHECK(hub.pending_records() == 1);
  hub.commit();
  CHECK(only<mqtt::PubComp>(c.take()).packet_id == 9);
}

TEST_CASE(
    "durable: a stored QoS 1 delivery is put once, sent at once with its packet id recorded, and "
    "erased when acknowledged",
    "[channel][durable]") {
  TestHub hub(durable);
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.commit();
  only<mqtt::SubAck>(sub.take());
  REQUIRE(hub.pending_records() == 0);
  hub.inject("t", "x", QoS::AtLeastOnce);
  // put_delivery (the publisher's side), once; the delivery waits for it to be stored.
  CHECK(hub.pending_records() == 1);
  CHECK(sub.take().empty());
  hub.commit();
  // Sent at once, with the WaitPubAck state (the subscriber's side) in the next batch.
  auto p = only<mqtt::Publish>(sub.take());
  CHECK(hub.pending_records() == 1);
  hub.commit();
  REQUIRE(hub.pending_records() == 0);
  CHECK(sub.puback(p.packet_id).empty());
  CHECK(hub.pending_records() == 2);  // erase_delivery and its state record
  // Not durable: nothing is recorded for a clean session.
  TestClient other(hub, V5);
  other.connect_ok("other");
  other.subscribe("u", QoS::AtLeastOnce);
  hub.commit();
  hub.inject("u", "x", QoS::AtLeastOnce);
  CHECK(hub.pending_records() == 0);
}

TEST_CASE(
    "durable: a stored QoS 2 PUBLISH leaves only once its packet id is stored, and what follows "
    "waits behind it",
    "[channel][durable][MQTT-4.4.0-1]") {
  TestHub hub(durable);
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::ExactlyOnce);
  hub.commit();
  only<mqtt::SubAck>(sub.take());
  hub.inject("t", "one", QoS::ExactlyOnce);
  CHECK(hub.pending_records() == 1);  // put_delivery: the delivery waits for it
  CHECK(sub.take().empty());
  hub.inject("t", "zero", QoS::AtMostOnce);
  CHECK(sub.take().empty());  // behind it, in order
  hub.commit();
  CHECK(hub.pending_records() == 1);  // the WaitPubRec state with its packet id
  CHECK(sub.take().empty());          // the PUBLISH is held for its commit
  hub.commit();
  auto got = sub.take();
  REQUIRE(got.size() == 2);
  auto p = std::get<mqtt::Publish>(got[0]);
  CHECK(p.payload == "one");
  CHECK(p.qos == QoS::ExactlyOnce);
  CHECK(std::get<mqtt::Publish>(got[1]).payload == "zero");
  CHECK(sub.pubrec(p.packet_id).empty());  // the PUBREL waits for WaitPubComp to be stored
  hub.commit();
  CHECK(only<mqtt::PubRel>(sub.take()).packet_id == p.packet_id);
  CHECK(sub.pubcomp(p.packet_id).empty());
  CHECK(hub.pending_records() == 2);  // erase_delivery with its state record
}

}  // namespace
}  // namespace emqxd::session::test
