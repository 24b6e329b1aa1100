// Channel: SUBSCRIBE and UNSUBSCRIBE, the options of a subscription and retained messages
// on subscribe (channel_subscribe.cpp).
#include <algorithm>
#include <catch2/catch.hpp>

#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::Disconnect;
using mqtt::Publish;
using mqtt::QoS;
using mqtt::ReasonCode;
using mqtt::SubAck;
using mqtt::SubscribeOptions;
using mqtt::UnsubAck;

using Codes = std::vector<ReasonCode>;

// The SUBACK code 3.1.1 sends for any refusal [MQTT-3.9.3-2 of 3.1.1].
ReasonCode refused(const TestClient& c, ReasonCode v5_code) {
  return c.v5() ? v5_code : ReasonCode::UnspecifiedError;
}

SubAck suback(std::uint16_t id, Codes codes) {
  return SubAck{id, {}, std::move(codes)};
}

TEST_CASE("SUBACK grants the requested QoS up to Maximum QoS",
          "[channel][subscribe][MQTT-3.8.4-1][MQTT-3.9.3-1]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_qos_allowed = 1; });
  TestClient c(hub, v);
  c.connect_ok("a");
  mqtt::Subscribe s{
      9, {}, {{"x", {QoS::AtMostOnce}}, {"y", {QoS::AtLeastOnce}}, {"z", {QoS::ExactlyOnce}}}};
  REQUIRE(c.send(s) == Packets{suback(9, {ReasonCode::GrantedQoS0, ReasonCode::GrantedQoS1,
                                          ReasonCode::GrantedQoS1})});
  CHECK(c.session()->subscriptions.size() == 3);
  CHECK(hub.broker().stats().subscriptions == 3);
}

TEST_CASE("an invalid topic filter is refused with 0x8F (0x80 in 3.1.1)",
          "[channel][subscribe][MQTT-4.7.1-2]") {
  const auto v = GENERATE(V311, V5);
  const auto filter = GENERATE("a/#/b", "a+", "$share/g", "$share/g+/a");
  CAPTURE(v, filter);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.subscribe(filter, QoS::AtLeastOnce, 3) ==
          Packets{suback(3, {refused(c, ReasonCode::TopicFilterInvalid)})});
  CHECK(c.session()->subscriptions.empty());
  CHECK_FALSE(c.closed());
}

TEST_CASE("with wildcard subscriptions disabled a wildcard filter gets 0xA2",
          "[channel][subscribe]") {
  const auto v = GENERATE(V311, V5);
  const auto filter = GENERATE("a/+", "#", "$share/g/a/#");
  CAPTURE(v, filter);
  TestHub hub([](config::Config& c) { c.mqtt.wildcard_subscription = false; });
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.subscribe(filter, QoS::AtMostOnce) ==
          Packets{suback(1, {refused(c, ReasonCode::WildcardSubscriptionsNotSupported)})});
  REQUIRE(c.subscribe("a/b", QoS::AtMostOnce) == Packets{suback(1, {ReasonCode::GrantedQoS0})});
}

TEST_CASE("with shared subscriptions disabled a $share filter gets 0x9E",
          "[channel][subscribe][shared]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.shared_subscription = false; });
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.subscribe("$share/g/a", QoS::AtMostOnce) ==
          Packets{suback(1, {refused(c, ReasonCode::SharedSubscriptionsNotSupported)})});
}

TEST_CASE("subscriptions beyond max_subscriptions get 0x97, replacing one is allowed",
          "[channel][subscribe]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub([](config::Config& c) { c.mqtt.max_subscriptions = 1; });
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.subscribe("a", QoS::AtMostOnce) == Packets{suback(1, {ReasonCode::GrantedQoS0})});
  REQUIRE(c.subscribe("b", QoS::AtMostOnce) ==
          Packets{suback(1, {refused(c, ReasonCode::QuotaExceeded)})});
  REQUIRE(c.subscribe("a", QoS::AtLeastOnce) == Packets{suback(1, {ReasonCode::GrantedQoS1})});
}

TEST_CASE("v5: No Local on a shared subscription is a protocol error",
          "[channel][subscribe][shared][MQTT-3.8.3-4]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  REQUIRE(c.subscribe("$share/g/t", SubscribeOptions{.no_local = true}) ==
          Packets{Disconnect{ReasonCode::ProtocolError, {}}});
  CHECK(c.closed());
}

TEST_CASE("a repeated subscription replaces the first", "[channel][subscribe][MQTT-3.8.4-3]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  c.subscribe("t", QoS::AtMostOnce);
  c.subscribe("t", QoS::AtLeastOnce);
  hub.inject("t", "x", QoS::AtLeastOnce);
  REQUIRE(c.take() == Packets{publish_packet("t", QoS::AtLeastOnce, 1)});
  CHECK(hub.broker().stats().subscriptions == 1);
}

// --- Retained messages on subscribe ---------------------------------------------------------

TEST_CASE("retained messages follow the SUBACK, with RETAIN set and the subscription's QoS",
          "[channel][subscribe][retain][MQTT-3.3.1-9][MQTT-3.8.4-1]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  hub.inject("r/1", "r1", QoS::AtLeastOnce, /*retain=*/true);
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.subscribe("r/+", QoS::AtMostOnce) ==
          Packets{suback(1, {ReasonCode::GrantedQoS0}),
                  publish_packet("r/1", QoS::AtMostOnce, 0, "r1", /*retain=*/true)});
  // Subscribing again sends them again (3.1.1 always; v5 with Retain Handling 0).
  REQUIRE(c.subscribe("r/+", QoS::AtLeastOnce) ==
          Packets{suback(1, {ReasonCode::GrantedQoS1}),
                  publish_packet("r/1", QoS::AtLeastOnce, 1, "r1", /*retain=*/true)});
}

TEST_CASE("v5: Retain Handling 1 sends retained messages for a new subscription only",
          "[channel][subscribe][retain][MQTT-3.3.1-10]") {
  TestHub hub;
  hub.inject("r/1", "r1", QoS::AtMostOnce, /*retain=*/true);
  TestClient c(hub, V5);
  c.connect_ok("a");
  SubscribeOptions opts{.retain_handling = 1};
  REQUIRE(c.subscribe("r/#", opts).size() == 2);
  REQUIRE(c.subscribe("r/#", opts) == Packets{suback(1, {ReasonCode::GrantedQoS0})});
}

TEST_CASE("v5: Retain Handling 2 sends no retained messages",
          "[channel][subscribe][retain][MQTT-3.3.1-11]") {
  TestHub hub;
  hub.inject("r/1", "r1", QoS::AtMostOnce, /*retain=*/true);
  TestClient c(hub, V5);
  c.connect_ok("a");
  REQUIRE(c.subscribe("r/1", SubscribeOptions{.retain_handling = 2}) ==
          Packets{suback(1, {ReasonCode::GrantedQoS0})});
}

TEST_CASE("a shared subscription gets no retained messages",
          "[channel][subscribe][retain][shared]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  hub.inject("r/1", "r1", QoS::AtMostOnce, /*retain=*/true);
  TestClient c(hub, v);
  c.connect_ok("a");
  REQUIRE(c.subscribe("$share/g/r/1", QoS::AtMostOnce) ==
          Packets{suback(1, {ReasonCode::GrantedQoS0})});
}

// --- Subscription options ------------------------------------------------------------------

TEST_CASE("v5: a message carries the Subscription Identifiers of every matching subscription",
          "[channel][subscribe][MQTT-3.3.4-3][MQTT-3.3.4-4]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  c.subscribe("a/+", SubscribeOptions{.max_qos = QoS::AtMostOnce}, 1, /*subscription_id=*/7);
  c.subscribe("a/b", SubscribeOptions{.max_qos = QoS::AtLeastOnce}, 2, /*subscription_id=*/9);
  hub.inject("a/b", "x", QoS::AtLeastOnce);
  hub.inject("a/c", "x", QoS::AtLeastOnce);
  auto out = c.take();
  REQUIRE(out.size() == 2);
  const auto& both = nth<Publish>(out, 0);
  CHECK(both.qos == QoS::AtLeastOnce);  // one copy, at the higher QoS
  auto ids = both.props.subscription_identifiers;
  std::sort(ids.begin(), ids.end());
  CHECK(ids == std::vector<std::uint32_t>{7, 9});
  CHECK(nth<Publish>(out, 1).props.subscription_identifiers == std::vector<std::uint32_t>{7});
}

TEST_CASE("v5: No Local keeps a client's own messages from it",
          "[channel][subscribe][MQTT-3.8.3-3]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  c.subscribe("t", SubscribeOptions{.max_qos = QoS::AtLeastOnce, .no_local = true});
  REQUIRE(c.publish("t", QoS::AtLeastOnce, 5) ==
          Packets{mqtt::PubAck{5, ReasonCode::NoMatchingSubscribers, {}}});
  hub.inject("t", "other", QoS::AtLeastOnce);
  CHECK(only<Publish>(c.take()).payload == "other");
}

TEST_CASE("v5: Retain As Published keeps the RETAIN flag of a live message",
          "[channel][subscribe][retain][MQTT-3.3.1-12][MQTT-3.3.1-13]") {
  TestHub hub;
  TestClient plain(hub, V5);
  plain.connect_ok("plain");
  plain.subscribe("t", SubscribeOptions{});
  TestClient rap(hub, V5);
  rap.connect_ok("rap");
  rap.subscribe("t", SubscribeOptions{.retain_as_published = true});
  TestClient pub(hub, V5);
  pub.connect_ok("pub");
  pub.publish("t", QoS::AtMostOnce, 0, "x", {}, /*retain=*/true);
  CHECK(plain.take() == Packets{publish_packet("t", QoS::AtMostOnce, 0, "x", /*retain=*/false)});
  CHECK(rap.take() == Packets{publish_packet("t", QoS::AtMostOnce, 0, "x", /*retain=*/true)});
}

TEST_CASE("3.1.1: a live message is delivered with RETAIN 0", "[channel][subscribe][retain]") {
  TestHub hub;
  TestClient sub(hub, V311);
  sub.connect_ok("sub");
  sub.subscribe("t", QoS::AtMostOnce);
  TestClient pub(hub, V311);
  pub.connect_ok("pub");
  pub.publish("t", QoS::AtMostOnce, 0, "x", {}, /*retain=*/true);
  CHECK(sub.take() == Packets{publish_packet("t", QoS::AtMostOnce, 0, "x", /*retain=*/false)});
}

// --- UNSUBSCRIBE ---------------------------------------------------------------------------

TEST_CASE("UNSUBSCRIBE answers 0x00 or 0x11 per filter and stops delivery",
          "[channel][unsubscribe][MQTT-3.10.4-1][MQTT-3.10.4-4][MQTT-3.10.4-5]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  TestHub hub;
  TestClient c(hub, v);
  c.connect_ok("a");
  c.subscribe("a", QoS::AtMostOnce);
  Codes codes = c.v5() ? Codes{ReasonCode::Success, ReasonCode::NoSubscriptionExisted,
                               ReasonCode::TopicFilterInvalid}
                       : Codes{};  // 3.1.1 UNSUBACK has no payload
  REQUIRE(c.unsubscribe({"a", "b", "a/#/b"}, 4) == Packets{UnsubAck{4, {}, codes}});
  CHECK(c.session()->subscriptions.empty());
  CHECK(hub.broker().stats().subscriptions == 0);
  hub.inject("a", "x");
  CHECK(c.take().empty());
}

TEST_CASE("UNSUBSCRIBE of a shared subscription", "[channel][unsubscribe][shared]") {
  TestHub hub;
  TestClient c(hub, V5);
  c.connect_ok("a");
  c.subscribe("$share/g/t", QoS::AtMostOnce);
  REQUIRE(c.unsubscribe({"$share/g/t"}) == Packets{UnsubAck{1, {}, {ReasonCode::Success}}});
  CHECK(hub.broker().stats().shared_subscriptions == 0);
}

}  // namespace
}  // namespace emqxd::session::test
