// The memory one connection may hold (force_shutdown.max_heap_size): the account each
// channel keeps (Channel::memory, Session::bytes) and what happens past it.
#include <catch2/catch.hpp>
#include <string>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::Disconnect;
using mqtt::QoS;
using mqtt::ReasonCode;

constexpr std::uint64_t kCap = 256 * 1024;

TestHub::Tweak capped(std::uint64_t cap = kCap) {
  return [cap](config::Config& c) {
    c.force_shutdown.enable = true;
    c.force_shutdown.max_heap_size = cap;
    c.mqtt.backpressure = false;  // the queue fills instead of holding the publisher
  };
}

TEST_CASE("the account follows subscriptions, in flight and queued messages",
          "[channel][force_shutdown]") {
  TestHub hub(capped());
  TestClient sub(hub, V5);
  sub.connect_ok({.client_id = "sub", .props = {.receive_maximum = 1}});
  const auto base = sub.channel.memory();
  sub.subscribe("t/#", QoS::AtLeastOnce);
  CHECK(sub.channel.memory() - base == subscription_charge("t/#"));
  sub.subscribe("t/#", QoS::AtLeastOnce);  // a replacement costs nothing more
  CHECK(sub.channel.memory() - base == subscription_charge("t/#"));

  const std::string payload(1000, 'p');
  hub.inject("t/1", payload, QoS::AtLeastOnce);  // in flight
  hub.inject("t/2", payload, QoS::AtLeastOnce);  // queued: the window is 1
  // The record only: the message is shared with every other session it goes to.
  const auto one = static_cast<std::int64_t>(kDeliveryOverhead);
  CHECK(sub.session()->inflight.bytes() == one);
  CHECK(sub.session()->queue.bytes() == one);
  // In flight counts; the queue does not (max_mqueue_len bounds it).
  CHECK(sub.channel.memory() - base == subscription_charge("t/#") + one);

  sub.take();
  sub.puback(1);  // the queued one moves into flight
  CHECK(sub.session()->inflight.bytes() == one);
  CHECK(sub.session()->queue.bytes() == 0);
  sub.puback(2);
  sub.unsubscribe({"t/#"});
  CHECK(sub.channel.memory() == base);
}

TEST_CASE("topic aliases past max_heap_size disconnect with 0x97 and free the session",
          "[channel][force_shutdown][alias]") {
  TestHub hub(capped());
  TestClient c(hub, V5);
  c.connect_ok(persistent("a"));  // discarded anyway: its memory must come back
  const std::string topic(16 * 1024, 't');
  Packets out;
  std::uint16_t alias = 1;
  for (; alias < 100 && out.empty(); ++alias) {
    out = c.publish(topic + std::to_string(alias), QoS::AtMostOnce, 0, "x", {.topic_alias = alias});
  }
  REQUIRE(out == Packets{Disconnect{ReasonCode::QuotaExceeded, {}}});
  // It went over on the alias that took it past 256 KB, not before.
  CHECK(alias - 1 == static_cast<int>(kCap / (topic.size() + kAliasEntry)) + 1);
  CHECK(c.closed());
  CHECK(hub.metrics().client_disconnected_force_shutdown.load() == 1);
  c.socket_closed();
  CHECK(hub.session("a") == nullptr);
  CHECK(hub.session_count() == 0);
}

TEST_CASE(
    "a subscriber whose in-flight window passes max_heap_size is disconnected, the "
    "publisher is not",
    "[channel][force_shutdown]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  constexpr std::uint64_t kSmall = 16 * 1024;
  TestHub hub([](config::Config& c) {
    capped(kSmall)(c);
    c.mqtt.max_inflight = 65535;
  });
  TestClient sub(hub, v);
  sub.connect_ok(persistent("sub"));  // a v5 client's Receive Maximum is 65535 by default
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  const auto fits = static_cast<int>((kSmall - subscription_charge("t")) / kDeliveryOverhead);
  int sent = 0;
  while (!sub.closed() && sent < 10 * fits) {
    ++sent;
    REQUIRE(pub.publish("t", QoS::AtLeastOnce, static_cast<std::uint16_t>(sent), "x").size() == 1);
  }
  CHECK(sub.closed());
  CHECK(sent >= fits - 1);
  CHECK(sent <= fits + 2);
  auto out = sub.take();
  REQUIRE_FALSE(out.empty());
  if (v == V5) CHECK(out.back() == mqtt::Packet{Disconnect{ReasonCode::QuotaExceeded, {}}});
  CHECK(sub.channel.disconnect_reason() == "force_shutdown");
  sub.socket_closed();
  CHECK(hub.session("sub") == nullptr);  // discarded although it had an expiry
  CHECK_FALSE(pub.closed());
  CHECK(pub.publish("t", QoS::AtLeastOnce, 1, "x").size() == 1);
}

TEST_CASE(
    "a long queue is bounded by max_mqueue_len, not max_heap_size: a session coming "
    "back to one is served",
    "[channel][force_shutdown]") {
  constexpr std::uint64_t kSmall = 8 * 1024;
  TestHub hub([](config::Config& c) {
    capped(kSmall)(c);
    c.mqtt.max_mqueue_len = 0;
  });
  {
    TestClient sub(hub, V5);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    sub.disconnect();
  }
  const int n = static_cast<int>(4 * kSmall / kDeliveryOverhead);
  for (int i = 0; i < n; ++i)
    hub.inject("t", "p", QoS::AtLeastOnce);
  TestClient sub(hub, V5);
  sub.connect_ok({.client_id = "sub", .clean_start = false, .props = {.receive_maximum = 4}});
  CHECK_FALSE(sub.closed());
  CHECK(sub.session()->queue.size() == static_cast<std::size_t>(n - 4));
}

TEST_CASE("retained messages that pass max_heap_size end with the DISCONNECT, nothing after",
          "[channel][force_shutdown][retain]") {
  constexpr std::uint64_t kSmall = 4 * 1024;  // less than a window of 32 in flight
  TestHub hub(capped(kSmall));
  const int n = static_cast<int>(2 * kSmall / kDeliveryOverhead);
  for (int i = 0; i < n; ++i)
    hub.inject("r/" + std::to_string(i), "r", QoS::AtLeastOnce, true);
  TestClient c(hub, V5);
  c.connect_ok("c");
  auto out = c.subscribe("r/#", QoS::AtLeastOnce);
  REQUIRE(out.size() >= 3);
  CHECK(std::holds_alternative<mqtt::SubAck>(out.front()));
  CHECK(out.back() == mqtt::Packet{Disconnect{ReasonCode::QuotaExceeded, {}}});
  CHECK(c.closed());
}

TEST_CASE("a subscription that would pass max_heap_size is refused with 0x97, the client stays",
          "[channel][force_shutdown][subscribe]") {
  TestHub hub(capped(64 * 1024));
  TestClient c(hub, V5);
  c.connect_ok("a");
  int granted = 0;
  for (int i = 0; i < 1000; ++i) {
    auto out = c.subscribe("filter/" + std::to_string(i), QoS::AtMostOnce);
    const auto& ack = only<mqtt::SubAck>(out);
    if (ack.reason_codes.at(0) == ReasonCode::QuotaExceeded) break;
    ++granted;
  }
  CHECK(granted > 10);
  CHECK(granted < 1000);
  CHECK(c.channel.memory() <= static_cast<std::int64_t>(64 * 1024));
  CHECK_FALSE(c.closed());
  // An existing one may still be replaced, and room comes back with an UNSUBSCRIBE.
  CHECK(only<mqtt::SubAck>(c.subscribe("filter/0", QoS::AtLeastOnce)).reason_codes.at(0) ==
        ReasonCode::GrantedQoS1);
  c.unsubscribe({"filter/0"});
  CHECK(only<mqtt::SubAck>(c.subscribe("other", QoS::AtMostOnce)).reason_codes.at(0) ==
        ReasonCode::GrantedQoS0);
}

TEST_CASE("an offline session keeps what max_mqueue_len allows, whatever max_heap_size",
          "[channel][force_shutdown][offline]") {
  // No connection, nothing to shut down: an offline session is bounded by its queue length
  // (and a durable one must not lose what its publishers were acknowledged).
  constexpr std::uint64_t kSmall = 8 * 1024;
  TestHub hub([](config::Config& c) {
    capped(kSmall)(c);
    c.mqtt.max_mqueue_len = 0;
  });
  {
    TestClient sub(hub, V5);
    sub.connect_ok(persistent("sub"));
    sub.subscribe("t", QoS::AtLeastOnce);
    sub.disconnect();
  }
  const int n = static_cast<int>(4 * kSmall / kDeliveryOverhead);
  for (int i = 0; i < n; ++i)
    hub.inject("t", "p", QoS::AtLeastOnce);
  Session* s = hub.session("sub");
  REQUIRE(s != nullptr);
  CHECK(s->queue.size() == static_cast<std::size_t>(n));
  CHECK(hub.metrics().messages_dropped_queue_full.load() == 0);
}

TEST_CASE("a read buffer over max_heap_size closes the connection",
          "[channel][force_shutdown][input]") {
  TestHub hub(capped(64 * 1024));
  TestClient before(hub, V5);  // no CONNECT yet: closed without a word
  before.channel.set_input_bytes(64 * 1024 + 1);
  CHECK(before.closed());
  CHECK(before.take().empty());
  TestClient c(hub, V5);
  c.connect_ok("a");
  c.channel.set_input_bytes(32 * 1024);
  CHECK_FALSE(c.closed());
  c.channel.set_input_bytes(64 * 1024 + 1);
  CHECK(c.closed());
  CHECK(c.take() == Packets{Disconnect{ReasonCode::QuotaExceeded, {}}});
}

TEST_CASE("force_shutdown.enable = false: no account is enforced", "[channel][force_shutdown]") {
  TestHub hub([](config::Config& c) {
    c.force_shutdown.enable = false;
    c.force_shutdown.max_heap_size = 64 * 1024;
  });
  TestClient c(hub, V5);
  c.connect_ok("a");
  const std::string topic(16 * 1024, 't');
  for (std::uint16_t alias = 1; alias < 10; ++alias)
    CHECK(c.publish(topic, QoS::AtMostOnce, 0, "x", {.topic_alias = alias}).empty());
  CHECK(c.channel.memory() > 64 * 1024);
  CHECK_FALSE(c.closed());
}

}  // namespace
}  // namespace emqxd::session::test
