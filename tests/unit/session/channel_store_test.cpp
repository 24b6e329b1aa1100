// Channel: durable sessions (channel_store.cpp). What a durable session records, and the
// acknowledgements that wait until the turn's batch is stored, in request order; a failed
// commit answers 0x97 (MQTT 5) or closes the connection (3.1.1). The store itself is
// tested in tests/unit/storage, the whole path against real processes in
// tests/integration/test_durable*.py.
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::QoS;
using mqtt::ReasonCode;

TEST_CASE("durable: a session with an expiry interval gets a store uid, one without does not",
          "[channel][durable]") {
  TestHub hub;
  hub.durable = true;
  TestClient a(hub, V5);
  a.connect_ok(persistent("a"));
  CHECK(a.session()->store_uid != 0);
  CHECK(hub.batch->size() == 1);  // the session record
  TestClient b(hub, V5);
  b.connect_ok("b");
  CHECK(b.session()->store_uid == 0);
  CHECK(hub.batch->size() == 1);
}

TEST_CASE("durable: SUBACK and PUBACK wait for the commit, in request order, PINGRESP behind them",
          "[channel][durable][MQTT-4.6.0-2]") {
  TestHub hub;
  hub.durable = true;
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  hub.commit(storage::Status());
  CHECK(sub.subscribe("t", QoS::AtLeastOnce).empty());
  CHECK(sub.send(mqtt::PingReq{}).empty());  // behind the SUBACK
  hub.commit(storage::Status());
  auto out = sub.take();
  REQUIRE(out.size() == 2);
  CHECK(std::holds_alternative<mqtt::SubAck>(out[0]));
  CHECK(std::holds_alternative<mqtt::PingResp>(out[1]));

  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  // A QoS 1 message to a durable subscriber is stored: its PUBACK waits for the commit.
  CHECK(pub.publish("t", QoS::AtLeastOnce, 7).empty());
  CHECK(sub.take().size() == 1);  // the delivery itself does not wait
  // A message to nobody needs no storage, but keeps its place behind the waiting one.
  CHECK(pub.publish("nobody", QoS::AtLeastOnce, 8).empty());
  hub.commit(storage::Status());
  auto acks = pub.take();
  REQUIRE(acks.size() == 2);
  CHECK(std::get<mqtt::PubAck>(acks[0]).packet_id == 7);
  CHECK(std::get<mqtt::PubAck>(acks[1]).packet_id == 8);
}

TEST_CASE("durable: a failed commit answers 0x97 to MQTT 5 and closes MQTT 3.1.1",
          "[channel][durable]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  hub.durable = true;
  TestClient sub(hub, v);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::ExactlyOnce);
  hub.commit(storage::Status());
  sub.take();
  TestClient pub(hub, v);
  pub.connect_ok("pub");
  CHECK(pub.publish("t", QoS::AtLeastOnce, 3).empty());
  hub.commit(storage::Status::no_space("test"));
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
  TestHub hub;
  hub.durable = true;
  TestClient c(hub, V5);
  c.connect_ok(persistent("c"));
  hub.commit(storage::Status());
  REQUIRE(hub.batch->empty());
  CHECK(c.publish("t", QoS::ExactlyOnce, 9).empty());  // PUBREC waits for the awaiting_rel record
  CHECK(hub.batch->size() == 1);
  hub.commit(storage::Status());
  CHECK(only<mqtt::PubRec>(c.take()).packet_id == 9);
  // The PUBCOMP waits until the id is erased in storage: the client may reuse the id as
  // soon as it has the PUBCOMP [MQTT-4.3.3-12].
  CHECK(c.pubrel(9).empty());
  CHECK(hub.batch->size() == 1);
  hub.commit(storage::Status());
  CHECK(only<mqtt::PubComp>(c.take()).packet_id == 9);
}

TEST_CASE(
    "durable: a stored QoS 1 delivery is put once, sent at once with its packet id recorded, and "
    "erased when acknowledged",
    "[channel][durable]") {
  TestHub hub;
  hub.durable = true;
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::AtLeastOnce);
  hub.commit(storage::Status());
  only<mqtt::SubAck>(sub.take());
  REQUIRE(hub.batch->empty());
  hub.inject("t", "x", QoS::AtLeastOnce);
  // put_delivery (the publisher's side) and the WaitPubAck state (the subscriber's side).
  CHECK(hub.batch->size() == 2);
  auto p = only<mqtt::Publish>(sub.take());
  hub.commit(storage::Status());
  REQUIRE(hub.batch->empty());
  CHECK(sub.puback(p.packet_id).empty());
  CHECK(hub.batch->size() == 2);  // erase_delivery and its state record
  // Not durable: nothing is recorded for a clean session.
  TestClient other(hub, V5);
  other.connect_ok("other");
  other.subscribe("u", QoS::AtLeastOnce);
  hub.commit(storage::Status());
  hub.inject("u", "x", QoS::AtLeastOnce);
  CHECK(hub.batch->empty());
}

TEST_CASE(
    "durable: a stored QoS 2 PUBLISH leaves only once its packet id is stored, and what follows "
    "waits behind it",
    "[channel][durable][MQTT-4.4.0-1]") {
  TestHub hub;
  hub.durable = true;
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::ExactlyOnce);
  hub.commit(storage::Status());
  only<mqtt::SubAck>(sub.take());
  hub.inject("t", "one", QoS::ExactlyOnce);
  CHECK(hub.batch->size() == 2);  // put_delivery and the WaitPubRec state with its packet id
  CHECK(sub.take().empty());      // held for the commit
  hub.inject("t", "zero", QoS::AtMostOnce);
  CHECK(sub.take().empty());  // behind the held PUBLISH, in order
  hub.commit(storage::Status());
  auto got = sub.take();
  REQUIRE(got.size() == 2);
  auto p = std::get<mqtt::Publish>(got[0]);
  CHECK(p.payload == "one");
  CHECK(p.qos == QoS::ExactlyOnce);
  CHECK(std::get<mqtt::Publish>(got[1]).payload == "zero");
  CHECK(sub.pubrec(p.packet_id).empty());  // the PUBREL waits for WaitPubComp to be stored
  hub.commit(storage::Status());
  CHECK(only<mqtt::PubRel>(sub.take()).packet_id == p.packet_id);
  CHECK(sub.pubcomp(p.packet_id).empty());
  CHECK(hub.batch->size() == 2);  // erase_delivery with its state record
}

}  // namespace
}  // namespace emqxd::session::test
