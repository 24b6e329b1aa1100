// Channel: mqtt.backpressure. A live subscriber past its queue's high watermark holds its
// QoS 1/2 publishers back until the queue drains to the low watermark; a stalled or
// offline one never does; with the setting off nobody waits and full queues drop
// (broker/pressure.hpp, Channel::update_pressure, Hub::hold). The worker's core holds the
// publishers and releases them on its back-pressure tick (WorkerCore::on_pressure_tick).
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::QoS;
using namespace std::chrono_literals;

// max_mqueue_len 20: high watermark 10, low 5. max_inflight 1 so messages queue at once.
TestHub::Tweak small_queues(bool backpressure) {
  return [backpressure](config::Config& c) {
    c.mqtt.backpressure = backpressure;
    c.mqtt.max_mqueue_len = 20;
    c.mqtt.max_inflight = 1;
  };
}

// Publishes QoS 1 messages "1", "2", ... from `pub` until it is held (or `limit`).
int publish_until_held(TestHub& hub, TestClient& pub, int limit) {
  int n = 0;
  while (n < limit && pub.channel.accepting_input()) {
    ++n;
    pub.publish("t", QoS::AtLeastOnce, static_cast<std::uint16_t>(n), std::to_string(n));
  }
  (void)hub;
  return n;
}

TEST_CASE("backpressure: a subscriber past the high watermark holds its QoS 1 publisher",
          "[channel][backpressure]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub(small_queues(true));
  TestClient sub(hub, v);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient pub(hub, v);
  pub.connect_ok("pub");

  // One in flight, then the queue fills: the publish that brings the subscriber's count
  // (in transit + queued) to the high watermark (10) holds the publisher.
  int sent = publish_until_held(hub, pub, 100);
  CHECK(sent == 11);
  CHECK(sub.session()->queue.size() == 10);
  CHECK(sub.session()->pressure->in_transit.load() == 0);
  CHECK(sub.session()->pressure->queued.load() == 10);
  CHECK(hub.held_publishers() == 1);  // pub, the only publisher
  CHECK(hub.metrics().publishers_held.load() == 1);
  CHECK(hub.metrics().messages_dropped.load() == 0);
  const int resumes = pub.host.resume_calls;

  // Acks drain the queue; at the low watermark (5) the publisher may go on.
  for (std::uint16_t id = 1; id <= 4; ++id)
    sub.puback(id);
  hub.pressure_tick();
  CHECK_FALSE(pub.channel.accepting_input());
  sub.puback(5);
  CHECK(sub.session()->queue.size() == 5);
  hub.pressure_tick();
  CHECK(pub.channel.accepting_input());
  CHECK(pub.host.resume_calls == resumes + 1);
  CHECK(hub.held_publishers() == 0);
}

TEST_CASE("backpressure: every message arrives, in order, nothing dropped",
          "[channel][backpressure]") {
  TestHub hub(small_queues(true));
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient pub(hub, V5);
  pub.connect_ok("pub");

  int published = 0;
  std::vector<std::string> got;
  Packets inbox;
  // The subscriber acks one message every other round (each ack lets the next one out):
  // slower than the publisher, which must wait for it.
  auto ack_one = [&] {
    for (auto& p : sub.take())
      inbox.push_back(std::move(p));
    if (inbox.empty()) return;
    auto m = std::get<mqtt::Publish>(inbox.front());
    inbox.erase(inbox.begin());
    got.emplace_back(m.payload);
    for (auto& p : sub.puback(m.packet_id))
      inbox.push_back(std::move(p));
  };
  for (int round = 0; round < 1000 && got.size() < 200; ++round) {
    if (pub.channel.accepting_input() && published < 200) {
      ++published;
      pub.publish("t", QoS::AtLeastOnce, static_cast<std::uint16_t>(published),
                  std::to_string(published));
    }
    if (round % 2 == 0) ack_one();
    hub.pressure_tick();
  }
  REQUIRE(published == 200);
  REQUIRE(got.size() == 200);
  for (int i = 0; i < 200; ++i)
    REQUIRE(got[static_cast<std::size_t>(i)] == std::to_string(i + 1));
  CHECK(hub.metrics().messages_dropped.load() == 0);
  CHECK(sub.session()->queue.size() <= 10);
}

TEST_CASE("backpressure off: nobody waits and the full queue drops its oldest",
          "[channel][backpressure]") {
  TestHub hub(small_queues(false));
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  CHECK(publish_until_held(hub, pub, 50) == 50);
  CHECK(hub.held_publishers() == 0);
  CHECK(sub.session()->queue.size() == 20);
  CHECK(hub.metrics().messages_dropped_queue_full.load() == 29);
  CHECK(sub.session()->pressure == nullptr);
}

TEST_CASE("backpressure: QoS 0 publishes and QoS 0 subscriptions are never held",
          "[channel][backpressure]") {
  TestHub hub(small_queues(true));
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient sub0(hub, V5);
  sub0.connect_ok("sub0");
  sub0.subscribe("t0", QoS::AtMostOnce);
  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  CHECK(publish_until_held(hub, pub, 100) == 11);  // congest "sub"
  // Another publisher, while "sub" stays congested.
  TestClient other(hub, V5);
  other.connect_ok("other");
  // QoS 0 to the congested subscriber: not held (it may be dropped, QoS 0 promises nothing).
  other.publish("t", QoS::AtMostOnce);
  CHECK(other.channel.accepting_input());
  // QoS 1 to a QoS 0 subscription: delivered at QoS 0, never held.
  for (int i = 0; i < 50; ++i)
    other.publish("t0", QoS::AtLeastOnce, static_cast<std::uint16_t>(100 + i));
  CHECK(other.channel.accepting_input());
  CHECK(hub.held_publishers() == 1);  // pub alone
}

TEST_CASE("backpressure: a subscriber that acks nothing for the stall timeout holds no one",
          "[channel][backpressure]") {
  TestHub hub(small_queues(true));
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  CHECK(publish_until_held(hub, pub, 100) == 11);
  hub.advance(1s);  // the worker's back-pressure tick runs every millisecond of it
  CHECK_FALSE(pub.channel.accepting_input());
  hub.advance(hub.config().mqtt.backpressure_stall_timeout - 1s);
  REQUIRE(pub.channel.accepting_input());
  // From now on the stalled subscriber's queue drops, as without back-pressure.
  CHECK(publish_until_held(hub, pub, 30) == 30);
  CHECK(hub.held_publishers() == 0);
  CHECK(sub.session()->queue.size() == 20);
  CHECK(hub.metrics().messages_dropped_queue_full.load() > 0);
}

TEST_CASE("backpressure: a subscriber going offline releases its publishers",
          "[channel][backpressure]") {
  TestHub hub(small_queues(true));
  TestClient sub(hub, V5);
  sub.connect_ok(persistent("sub"));
  sub.subscribe("t", QoS::AtLeastOnce);
  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  CHECK(publish_until_held(hub, pub, 100) == 11);
  sub.socket_closed();
  hub.pressure_tick();
  REQUIRE(pub.channel.accepting_input());
  CHECK(publish_until_held(hub, pub, 30) == 30);  // the offline queue drops instead
  CHECK(hub.held_publishers() == 0);
}

TEST_CASE("backpressure: a held publisher that disconnects is forgotten",
          "[channel][backpressure]") {
  TestHub hub(small_queues(true));
  TestClient sub(hub, V5);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtLeastOnce);
  auto pub = std::make_unique<TestClient>(hub, V5);
  pub->connect_ok("pub");
  CHECK(publish_until_held(hub, *pub, 100) == 11);
  pub->socket_closed();
  CHECK(hub.held_publishers() == 0);
  pub.reset();
  // The subscriber catches up: a tick that still held the closed channel would release it.
  for (std::uint16_t id = 1; id <= 11; ++id)
    sub.puback(id);
  hub.pressure_tick();
}

}  // namespace
}  // namespace emqxd::session::test
