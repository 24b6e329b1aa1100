// EMQX's modules below the channel: the $delayed/<n>/<topic> parse and the delayed
// messages' order and records (session/delayed.hpp), topic rewrite (session/rewrite.hpp)
// and the regex captures it relies on (auth/regex.hpp), exclusive subscriptions' claims
// (session/exclusive.hpp).
#include <catch2/catch.hpp>

#include "auth/regex.hpp"
#include "session/delayed.hpp"
#include "session/exclusive.hpp"
#include "session/rewrite.hpp"

using emqxd::config::RewriteRuleConfig;
using emqxd::session::ClaimAnswer;
using emqxd::session::Delayed;
using emqxd::session::DelayedMessage;
using emqxd::session::ExclusiveClaims;
using emqxd::session::TopicRewrite;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;  // Unix ms

DelayedMessage message(std::string id, std::int64_t at_ms, std::string topic) {
  auto m = std::make_shared<emqxd::mqtt::Message>();
  m->topic = std::move(topic);
  m->payload = "p";
  m->received_at_ms = kNow;
  DelayedMessage d;
  d.id = std::move(id);
  d.at_ms = at_ms;
  d.msg = std::move(m);
  return d;
}

}  // namespace

TEST_CASE("$delayed/<n>/<topic>: seconds, a Unix time, or dropped", "[delayed]") {
  std::int64_t at = 0, interval = 0;
  std::string_view topic;
  REQUIRE(Delayed::parse("$delayed/15/a/b", kNow, at, interval, topic));
  CHECK((at == kNow + 15'000 && interval == 15 && topic == "a/b"));
  REQUIRE(Delayed::parse("$delayed/0/$SYS/x", kNow, at, interval, topic));
  CHECK((at == kNow && topic == "$SYS/x"));
  REQUIRE(Delayed::parse("$delayed/-3/a", kNow, at, interval, topic));  // fires at once
  CHECK(at == kNow - 3000);
  REQUIRE(Delayed::parse("$delayed/4294966/a", kNow, at, interval, topic));
  CHECK(interval == 4294966);
  // From 4294967 on: a Unix time in seconds, at most 4294967 s away.
  const std::int64_t then = kNow / 1000 + 100;
  REQUIRE(Delayed::parse("$delayed/" + std::to_string(then) + "/a", kNow, at, interval, topic));
  CHECK((at == then * 1000 && interval == 100));
  CHECK_FALSE(Delayed::parse("$delayed/" + std::to_string(kNow / 1000 + 4294968) + "/a", kNow, at,
                             interval, topic));
  for (const char* bad : {"$delayed/x/a", "$delayed/15", "$delayed/15/", "$delayed//a",
                          "$delayed/1.5/a", "$delayed/99999999999999999999/a", "$delayed/ 1/a"}) {
    INFO(bad);
    CHECK_FALSE(Delayed::parse(bad, kNow, at, interval, topic));
  }
}

TEST_CASE("delayed messages come due in time order, the max holds, ids find them", "[delayed]") {
  Delayed d(emqxd::config::DelayedConfig{true, 3});
  bool earliest = false;
  REQUIRE(d.add(message("B", kNow + 2000, "t/b"), earliest));
  CHECK(earliest);
  REQUIRE(d.add(message("C", kNow + 3000, "t/c"), earliest));
  CHECK_FALSE(earliest);
  REQUIRE(d.add(message("A", kNow + 1000, "t/a"), earliest));
  CHECK(earliest);
  CHECK_FALSE(d.add(message("D", kNow, "t/d"), earliest));        // max_delayed_messages = 3
  CHECK(d.add(message("D", kNow + 500, "t/d"), earliest, true));  // read back: kept
  CHECK(d.size() == 4);
  std::size_t count = 0;
  auto page = d.list(1, 2, count);
  CHECK(count == 4);
  REQUIRE(page.size() == 2);
  CHECK((page[0].id == "A" && page[1].id == "B"));
  CHECK(d.get("C")->msg->topic == "t/c");
  CHECK(d.erase("C").has_value());
  CHECK_FALSE(d.get("C"));
  CHECK_FALSE(d.erase("C"));
  CHECK(*d.next_at() == kNow + 500);
  auto due = d.take_due(kNow + 1500);
  REQUIRE(due.size() == 2);
  CHECK((due[0].id == "D" && due[1].id == "A"));
  CHECK(d.erase_topic("t/b").size() == 1);
  CHECK(d.size() == 0);
  CHECK_FALSE(d.next_at());
  d.add(message("E", kNow, "t/e"), earliest);
  CHECK(d.set(false, 0).size() == 1);  // disabled: everything kept is dropped
  CHECK_FALSE(d.enabled());
  CHECK(d.size() == 0);
}

TEST_CASE("a delayed message's record reads back whole", "[delayed]") {
  auto d = message(Delayed::new_id(), kNow + 5000, "a/b");
  d.interval = 5;
  d.from_clientid = "pub";
  d.from_username = "user";
  auto m = std::make_shared<emqxd::mqtt::Message>(*d.msg);
  m->qos = emqxd::mqtt::QoS::ExactlyOnce;
  m->retain = true;
  d.msg = m;
  CHECK(d.id.size() == 32);
  const auto now = emqxd::storage::ClockPair::now();
  std::string value;
  Delayed::encode(d, now, value);
  auto back = Delayed::decode(d.id, value, now);
  REQUIRE(back);
  CHECK((back->id == d.id && back->at_ms == d.at_ms && back->interval == 5));
  CHECK(
      (back->from_clientid == "pub" && back->from_username == std::optional<std::string>("user")));
  CHECK((back->msg->topic == "a/b" && back->msg->payload == "p" && back->msg->retain));
  CHECK(back->msg->qos == emqxd::mqtt::QoS::ExactlyOnce);
  CHECK(back->msg->received_at_ms == kNow);
  for (std::size_t cut = 0; cut < value.size(); ++cut) {
    INFO(cut);
    CHECK_FALSE(Delayed::decode(d.id, std::string_view(value).substr(0, cut), now));
  }
}

TEST_CASE("regex captures: groups 1..N, empty when they took no part", "[rewrite]") {
  std::string error;
  auto re = emqxd::auth::Regex::compile("^x/(a)?(b+)/(.+)$", error);
  REQUIRE(re);
  std::vector<std::string> groups;
  REQUIRE(re->search("x/bb/rest/of", groups));
  CHECK(groups == std::vector<std::string>{"", "bb", "rest/of"});
  CHECK_FALSE(re->search("y/bb/c", groups));
}

TEST_CASE("topic rewrite: the last matching rule decides, captures and placeholders", "[rewrite]") {
  using A = RewriteRuleConfig::Action;
  TopicRewrite rw({{A::Publish, "x/#", "z/y/$1", "^x/y/(.+)$"},
                   {A::Subscribe, "s/#", "t/${clientid}/$2/$1", "^s/(\\w+)/(\\w+)$"},
                   {A::All, "o/#", "first/$1", "^o/(.+)$"},
                   {A::All, "o/+", "second/${username}/$1", "^o/(.+)$"}});
  const std::optional<std::string> user("ann"), none;
  CHECK(rw.publish("x/y/a/b", "c", none) == "z/y/a/b");
  CHECK_FALSE(rw.publish("x/other", "c", none));  // the filter matches, `re` does not
  CHECK_FALSE(rw.subscribe("x/y/a", "c", none));  // a publish rule
  CHECK(rw.subscribe("s/a/b", "c1", none) == "t/c1/b/a");
  CHECK_FALSE(rw.publish("s/a/b", "c1", none));
  CHECK(rw.publish("o/k", "c", user) == "second/ann/k");  // both match: the last wins
  CHECK(rw.publish("o/k", "c", none) == "second/${username}/k");
  CHECK(rw.publish("o/k/m", "c", user) == "first/k/m");
  // A shared filter: only what follows $share/<group>/ or $queue/.
  CHECK(rw.subscribe("$share/g/s/a/b", "c1", none) == "$share/g/t/c1/b/a");
  CHECK(rw.subscribe("$queue/s/a/b", "c1", none) == "$queue/t/c1/b/a");
  // A filter as the subject: "o/+" is matched word by word.
  CHECK(rw.subscribe("o/+", "c", user) == "second/ann/+");
  CHECK_FALSE(rw.publish("$SYS/o", "c", none));
}

TEST_CASE("exclusive claims: one holder per filter while its node is live", "[exclusive]") {
  ExclusiveClaims c;
  std::string dead = "n9";  // this node is "", always live
  auto live = [&](const std::string& node) { return node != dead; };
  CHECK(c.claim("t/1", "a", "", live) == ClaimAnswer::Granted);
  CHECK(c.claim("t/1", "a", "", live) == ClaimAnswer::Granted);  // again: the same client
  CHECK(c.claim("t/1", "b", "n2", live) == ClaimAnswer::Taken);
  CHECK(c.claim("t/+", "b", "n2", live) == ClaimAnswer::Granted);  // filters, not topics
  c.release("t/1", "b");                                           // not b's: nothing happens
  CHECK(c.claim("t/1", "b", "n2", live) == ClaimAnswer::Taken);
  c.release("t/1", "a");
  CHECK(c.claim("t/1", "b", "n2", live) == ClaimAnswer::Granted);
  dead = "n2";  // b's node left: the next client that asks gets it
  CHECK(c.claim("t/1", "c", "", live) == ClaimAnswer::Granted);
  CHECK(c.size() == 2);
  // Claims of filters homed elsewhere, or of nodes that left, are forgotten.
  dead = "n9";
  c.forget_unless([&](const std::string& filter, const std::string& node) {
    return filter != "t/1" && live(node);
  });
  CHECK(c.size() == 1);  // t/+, b's on n2
  dead = "n2";
  c.forget_unless([&](const std::string&, const std::string& node) { return live(node); });
  CHECK(c.size() == 0);
}

TEST_CASE("exclusive claims: a node's own sessions' claims", "[exclusive]") {
  ExclusiveClaims c;
  c.hold("t/1", "a");
  c.hold("t/2", "b");
  CHECK_FALSE(c.drop("t/1", "b"));  // held by a
  CHECK(c.drop("t/1", "a"));
  CHECK_FALSE(c.drop("t/1", "a"));  // once
  auto held = c.held();
  REQUIRE(held.size() == 1);
  CHECK((held[0].first == "t/2" && held[0].second == "b"));
  CHECK(c.size() == 0);  // held is not decided: a home's table is apart
  CHECK(emqxd::session::exclusive_filter("$exclusive/a/#") == "a/#");
  CHECK(emqxd::session::exclusive_filter("a/$exclusive/b").empty());
}
