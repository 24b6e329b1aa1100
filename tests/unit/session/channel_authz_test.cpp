// Channel: authorization on PUBLISH, SUBSCRIBE and the will (channel_authz.cpp), as EMQX 5
// answers a denial; deny_action = disconnect; the cache in the connection's memory.
#include <catch2/catch.hpp>

#include "config/temp_dir.hpp"
#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::QoS;
using mqtt::ReasonCode;

constexpr std::string_view kRules =
    "{deny, all, subscribe, [\"test/nosubscribe\"]}.\n"
    "{deny, {ipaddr, \"127.0.0.1\"}, publish, [\"ip/#\"]}.\n"
    "{deny, all, publish, [\"no/#\"]}.\n"
    "{allow, all}.\n";

// A hub whose authorization reads kRules from a file of its own.
struct AuthzHub {
  explicit AuthzHub(std::string deny_action = "ignore")
      : path(dir.write("acl.conf", kRules)), hub([&](config::Config& c) {
          c.authorization.deny_action = deny_action;
          c.authorization.sources.push_back(
              {"file", true, path, "authorization.sources[1]", "test:1"});
        }) {}
  config::test::TempDir dir;
  std::string path;
  TestHub hub;
};

}  // namespace

TEST_CASE("a denied subscription gets 0x87 (0x80 in 3.1.1) and is not taken", "[channel][authz]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  AuthzHub a;
  TestClient c(a.hub, v);
  c.connect_ok("s");
  mqtt::Subscribe s{4, {}, {{"test/nosubscribe", {QoS::AtLeastOnce}}, {"ok", {QoS::AtLeastOnce}}}};
  auto out = c.send(s);
  REQUIRE(out.size() == 1);
  const auto& ack = std::get<mqtt::SubAck>(out[0]);
  CHECK(ack.reason_codes ==
        std::vector<ReasonCode>{c.v5() ? ReasonCode::NotAuthorized : ReasonCode::UnspecifiedError,
                                ReasonCode::GrantedQoS1});
  CHECK(c.session()->subscriptions.size() == 1);
  CHECK_FALSE(c.closed());
  CHECK(a.hub.metrics().authorization_matched_deny.load() == 1);
  CHECK(a.hub.metrics().authorization_matched_allow.load() == 1);
}

TEST_CASE("a shared subscription is authorized as its topic filter, as EMQX does",
          "[channel][authz][shared]") {
  AuthzHub a;
  TestClient c(a.hub, V5);
  c.connect_ok("g");
  mqtt::Subscribe s{5,
                    {},
                    {{"$share/g/test/nosubscribe", {QoS::AtMostOnce}},
                     {"$queue/test/nosubscribe", {QoS::AtMostOnce}},
                     {"$share/g/test/other", {QoS::AtMostOnce}}}};
  auto out = c.send(s);
  REQUIRE(out.size() == 1);
  CHECK(std::get<mqtt::SubAck>(out[0]).reason_codes ==
        std::vector<ReasonCode>{ReasonCode::NotAuthorized, ReasonCode::NotAuthorized,
                                ReasonCode::GrantedQoS0});
}

TEST_CASE("a denied publish: QoS 0 dropped, QoS 1 PUBACK 0x87, QoS 2 PUBREC 0x87",
          "[channel][authz]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  AuthzHub a;
  TestClient c(a.hub, v);
  c.connect_ok("p");
  CHECK(c.publish("no/0", QoS::AtMostOnce).empty());
  CHECK(c.publish("no/1", QoS::AtLeastOnce, 1) ==
        Packets{mqtt::PubAck{1, c.ack_code(ReasonCode::NotAuthorized), {}}});
  CHECK(c.publish("no/2", QoS::ExactlyOnce, 2) ==
        Packets{mqtt::PubRec{2, c.ack_code(ReasonCode::NotAuthorized), {}}});
  // The peer's address is the Subject's: 127.0.0.1 may not publish to ip/#.
  CHECK(c.publish("ip/x", QoS::AtLeastOnce, 3) ==
        Packets{mqtt::PubAck{3, c.ack_code(ReasonCode::NotAuthorized), {}}});
  CHECK(a.hub.published.empty());
  CHECK(c.publish("yes", QoS::AtLeastOnce, 4) ==
        Packets{mqtt::PubAck{4, c.ack_code(ReasonCode::NoMatchingSubscribers), {}}});
  CHECK(a.hub.published.size() == 1);
  CHECK_FALSE(c.closed());
  CHECK(a.hub.metrics().authorization_deny.load() == 4);
  CHECK(a.hub.metrics().authorization_allow.load() == 1);
}

TEST_CASE("deny_action = disconnect closes the connection (v5: DISCONNECT 0x87)",
          "[channel][authz]") {
  const auto v = GENERATE(V311, V5);
  CAPTURE(v);
  AuthzHub a("disconnect");
  TestClient pub(a.hub, v);
  pub.connect_ok("p");
  CHECK(pub.publish("no/1", QoS::AtLeastOnce, 1) ==
        pub.server_disconnect(ReasonCode::NotAuthorized));
  CHECK(pub.closed());
  CHECK(a.hub.published.empty());

  TestClient sub(a.hub, v);
  sub.connect_ok("s");
  mqtt::Subscribe s{4, {}, {{"ok", {QoS::AtLeastOnce}}, {"test/nosubscribe", {QoS::AtLeastOnce}}}};
  CHECK(sub.send(s) == sub.server_disconnect(ReasonCode::NotAuthorized));
  CHECK(sub.closed());
  CHECK(a.hub.broker().stats().subscriptions == 0);  // the allowed filter was not taken either
}

TEST_CASE("a will to a denied topic is dropped", "[channel][authz][will]") {
  AuthzHub a;
  {
    TestClient c(a.hub, V5);
    c.connect_ok(ConnectArgs{.client_id = "w1", .will = will("no/will")});
    c.socket_closed();
  }
  CHECK(a.hub.published.empty());
  {
    TestClient c(a.hub, V5);
    c.connect_ok(ConnectArgs{.client_id = "w2", .will = will("fine/will")});
    c.socket_closed();
  }
  REQUIRE(a.hub.published.size() == 1);
  CHECK(a.hub.published[0]->topic == "fine/will");
}

TEST_CASE("the cache answers repeats and counts in the connection's memory",
          "[channel][authz][cache]") {
  AuthzHub a;
  TestClient c(a.hub, V5);
  c.connect_ok("m");
  auto before = c.channel.memory();
  c.publish("t/1", QoS::AtLeastOnce, 1);
  auto after = c.channel.memory();
  CHECK(after - before == auth::AuthzCache::kEntryBytes + 4);  // one byte of action + "t/1"
  c.publish("t/1", QoS::AtLeastOnce, 2);
  CHECK(c.channel.memory() == after);
  CHECK(a.hub.metrics().authorization_cache_miss.load() == 1);
  CHECK(a.hub.metrics().authorization_cache_hit.load() == 1);
  CHECK(c.channel.subject().client_id == "m");
  REQUIRE(c.channel.subject().peer.has_value());
  CHECK(c.channel.subject().peer->bytes == auth::IpAddress::parse("127.0.0.1")->bytes);
}

}  // namespace emqxd::session::test
