#pragma once
// Helpers of the storage tests: messages with every field set, a visitor that records what
// load() streams, and a commit that waits for its completion.
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "storage/store.hpp"

namespace emqxd::storage::test {

using namespace std::chrono_literals;

// A fixed pair of clocks: steady time 1000 s after its epoch is wall time 2024-01-01.
inline ClockPair fixed_clocks() {
  ClockPair c;
  c.steady = mqtt::Message::Clock::time_point(1000s);
  c.wall_ms = 1704067200000;
  return c;
}

inline std::shared_ptr<mqtt::Message> message(std::string topic, std::string payload,
                                              mqtt::QoS qos = mqtt::QoS::AtLeastOnce,
                                              bool retain = false) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->retain = retain;
  m->received_at = fixed_clocks().steady;
  return m;
}

// Every v5 extra set, an expiry, binary bytes in the payload and correlation data.
inline std::shared_ptr<mqtt::Message> full_message() {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = "sensors/ü/temp";
  m->payload = std::string("\x00\x01\xFF payload", 11);
  m->qos = mqtt::QoS::ExactlyOnce;
  m->retain = true;
  m->message_expiry_interval = 3600;
  m->received_at = fixed_clocks().steady - 10s;
  auto x = std::make_shared<mqtt::MessageExtra>();
  x->payload_format_indicator = 1;
  x->content_type = "application/json";
  x->response_topic = "reply/here";
  x->correlation_data = std::string("\x00\xAB\x00", 3);
  x->user_properties = {{"k1", "v1"}, {"k1", "v2"}, {"", ""}};
  m->extra = std::move(x);
  return m;
}

inline void check_same_message(const mqtt::Message& a, const mqtt::Message& b) {
  CHECK(a.topic == b.topic);
  CHECK(a.payload == b.payload);
  CHECK(a.qos == b.qos);
  CHECK(a.retain == b.retain);
  CHECK(a.message_expiry_interval == b.message_expiry_interval);
  CHECK(a.received_at == b.received_at);
  REQUIRE(static_cast<bool>(a.extra) == static_cast<bool>(b.extra));
  if (a.extra) {
    CHECK(a.extra->payload_format_indicator == b.extra->payload_format_indicator);
    CHECK(a.extra->content_type == b.extra->content_type);
    CHECK(a.extra->response_topic == b.extra->response_topic);
    CHECK(a.extra->correlation_data == b.extra->correlation_data);
    CHECK(a.extra->user_properties == b.extra->user_properties);
  }
}

inline DeliveryRecord delivery(std::uint64_t uid, std::uint64_t seq, std::string payload = "p") {
  DeliveryRecord d;
  d.uid = uid;
  d.seq = seq;
  d.msg = message("t/" + std::to_string(uid), std::move(payload));
  d.qos = mqtt::QoS::AtLeastOnce;
  return d;
}

inline SessionRecord session(std::uint64_t uid, std::string client_id) {
  SessionRecord s;
  s.uid = uid;
  s.client_id = std::move(client_id);
  s.expiry_interval = 7200;
  s.disconnected_at_ms = 1704067100000;
  s.proto_ver = 5;
  return s;
}

inline SubscriptionRecord subscription(std::uint64_t uid, std::string filter) {
  SubscriptionRecord s;
  s.uid = uid;
  s.filter = std::move(filter);
  s.options.max_qos = mqtt::QoS::AtLeastOnce;
  s.subscription_id = 9;
  return s;
}

// Commits and waits (at most 20 s) for the completion.
inline Status commit_wait(Store& store, Batch&& batch) {
  auto p = std::make_shared<std::promise<Status>>();
  auto f = p->get_future();
  store.commit(std::move(batch), [p](Status s) { p->set_value(std::move(s)); });
  if (f.wait_for(20s) != std::future_status::ready) {
    FAIL("commit did not complete in 20 s");
  }
  return f.get();
}

// Records what load() streams, in order, as short lines, and keeps the records.
struct Recorder : Visitor {
  std::vector<std::string> events;
  std::vector<SessionRecord> sessions;
  std::vector<SubscriptionRecord> subscriptions;
  std::vector<DeliveryRecord> deliveries;
  std::vector<AwaitingRelRecord> awaiting;
  std::vector<mqtt::MessagePtr> retained;
  std::function<bool(const SessionRecord&)> erase_session = [](const auto&) { return false; };
  std::function<bool(const DeliveryRecord&)> erase_delivery = [](const auto&) { return false; };
  std::function<bool(const mqtt::Message&)> erase_retained = [](const auto&) { return false; };

  static Verdict verdict(bool erase) { return erase ? Verdict::Erase : Verdict::Keep; }

  Verdict on_session(const SessionRecord& s) override {
    events.push_back("session " + std::to_string(s.uid) + " " + s.client_id);
    sessions.push_back(s);
    return verdict(erase_session(s));
  }
  Verdict on_subscription(const SubscriptionRecord& s) override {
    events.push_back("sub " + std::to_string(s.uid) + " " + s.filter);
    subscriptions.push_back(s);
    return Verdict::Keep;
  }
  Verdict on_delivery(DeliveryRecord& d) override {
    events.push_back("delivery " + std::to_string(d.uid) + " " + std::to_string(d.seq));
    bool erase = erase_delivery(d);
    deliveries.push_back(std::move(d));
    return verdict(erase);
  }
  Verdict on_awaiting_rel(const AwaitingRelRecord& r) override {
    events.push_back("rel " + std::to_string(r.uid) + " " + std::to_string(r.packet_id));
    awaiting.push_back(r);
    return Verdict::Keep;
  }
  void on_session_end(std::uint64_t uid) override {
    events.push_back("end " + std::to_string(uid));
  }
  Verdict on_retained(mqtt::MessagePtr& m) override {
    events.push_back("retained " + m->topic);
    bool erase = erase_retained(*m);
    retained.push_back(std::move(m));
    return verdict(erase);
  }
};

}  // namespace emqxd::storage::test
