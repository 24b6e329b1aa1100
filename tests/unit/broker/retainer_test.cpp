// Retainer: set, replace, clear, limits, expiry and wildcard matching with the '$' rule.
#include "broker/retainer.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "broker/topic.hpp"

namespace emqxd::broker {
namespace {

using Clock = mqtt::Message::Clock;
using RetainResult = Retainer::RetainResult;
using namespace std::chrono_literals;

const Clock::time_point kT0 = Clock::time_point{} + 1h;  // injected time, no sleeps

mqtt::MessagePtr message(std::string topic, std::string payload,
                         std::optional<std::uint32_t> expiry = std::nullopt,
                         Clock::time_point received_at = kT0) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->retain = true;
  m->message_expiry_interval = expiry;
  m->received_at = received_at;
  return m;
}

std::vector<std::string> topics(const Retainer& r, std::string_view filter,
                                Clock::time_point now = kT0) {
  std::vector<mqtt::MessagePtr> out;
  r.match(filter, now, out);
  std::vector<std::string> result;
  for (const auto& m : out)
    result.push_back(m->topic);
  std::sort(result.begin(), result.end());
  return result;
}

using V = std::vector<std::string>;

TEST_CASE("retain stores and replaces the message of a topic", "[retainer]") {
  Retainer r;
  CHECK(r.retain(message("a/b", "1")) == RetainResult::Stored);
  CHECK(r.size() == 1);
  REQUIRE(r.get("a/b"));
  CHECK((*r.get("a/b"))->payload == "1");
  CHECK(r.retain(message("a/b", "2")) == RetainResult::Stored);
  CHECK(r.size() == 1);
  CHECK((*r.get("a/b"))->payload == "2");
  CHECK_FALSE(r.get("a"));
  CHECK_FALSE(r.get("a/b/c"));
  CHECK_FALSE(r.get("a/+"));
}

TEST_CASE("an empty retained payload clears the topic and is not stored",
          "[retainer][MQTT-3.3.1-6][MQTT-3.3.1-7]") {
  Retainer r;
  REQUIRE(r.retain(message("a/b", "1")) == RetainResult::Stored);
  REQUIRE(r.retain(message("a/b/c", "2")) == RetainResult::Stored);
  CHECK(r.retain(message("a/b", "")) == RetainResult::Cleared);
  CHECK_FALSE(r.get("a/b"));
  CHECK(r.size() == 1);
  CHECK(topics(r, "#") == V{"a/b/c"});  // the deeper topic survives the cleared parent
  CHECK(r.retain(message("a/b/c", "")) == RetainResult::Cleared);
  CHECK(r.size() == 0);
  CHECK(topics(r, "#").empty());
  CHECK(r.retain(message("never/set", "")) == RetainResult::Cleared);  // nothing to clear
  CHECK(r.size() == 0);
}

TEST_CASE("max_retained_messages refuses new topics, not replacements", "[retainer]") {
  Retainer r({.max_retained_messages = 2});
  CHECK(r.retain(message("a", "1")) == RetainResult::Stored);
  CHECK(r.retain(message("b", "1")) == RetainResult::Stored);
  CHECK(r.retain(message("c", "1")) == RetainResult::QuotaExceeded);
  CHECK_FALSE(r.get("c"));
  CHECK(r.retain(message("a", "2")) == RetainResult::Stored);  // replacing is fine
  CHECK((*r.get("a"))->payload == "2");
  CHECK(r.size() == 2);
  CHECK(r.retain(message("b", "")) == RetainResult::Cleared);
  CHECK(r.retain(message("c", "1")) == RetainResult::Stored);  // room again
  CHECK(r.size() == 2);
}

TEST_CASE("max_payload_size refuses larger payloads, 0 means no limit", "[retainer]") {
  Retainer r({.max_payload_size = 4});
  CHECK(r.retain(message("a", "1234")) == RetainResult::Stored);
  CHECK(r.retain(message("a", "12345")) == RetainResult::PayloadTooLarge);
  CHECK((*r.get("a"))->payload == "1234");                     // the old message stays
  CHECK(r.retain(message("a", "")) == RetainResult::Cleared);  // clearing is never too large

  Retainer unlimited({.max_payload_size = 0});
  CHECK(unlimited.retain(message("a", std::string(2 << 20, 'x'))) == RetainResult::Stored);
}

TEST_CASE("a message expires by its own Message Expiry Interval", "[retainer][expiry]") {
  Retainer r;
  REQUIRE(r.retain(message("a/1", "x", 10)) == RetainResult::Stored);
  REQUIRE(r.retain(message("a/2", "x")) == RetainResult::Stored);  // never expires
  CHECK(topics(r, "a/+", kT0 + 9s) == V{"a/1", "a/2"});
  CHECK(topics(r, "a/+", kT0 + 10s) == V{"a/2"});
  CHECK(topics(r, "a/1", kT0 + 10s).empty());
  CHECK(r.size() == 2);  // still stored until expire() runs
  CHECK(r.expire(kT0 + 9s) == 0);
  CHECK(r.expire(kT0 + 10s) == 1);
  CHECK(r.size() == 1);
  CHECK_FALSE(r.get("a/1"));
  CHECK(r.expire(kT0 + 1000h) == 0);
}

TEST_CASE("msg_expiry_interval applies only to messages without their own", "[retainer][expiry]") {
  Retainer r({.msg_expiry_interval = 5000ms});
  REQUIRE(r.retain(message("plain", "x")) == RetainResult::Stored);
  REQUIRE(r.retain(message("own", "x", 60)) == RetainResult::Stored);
  REQUIRE(r.retain(message("short", "x", 2)) == RetainResult::Stored);
  CHECK(topics(r, "#", kT0 + 1s) == V{"own", "plain", "short"});
  CHECK(topics(r, "#", kT0 + 2s) == V{"own", "plain"});
  CHECK(topics(r, "#", kT0 + 4999ms) == V{"own", "plain"});
  CHECK(topics(r, "#", kT0 + 5s) == V{"own"});
  CHECK(topics(r, "#", kT0 + 60s).empty());
  CHECK(r.expire(kT0 + 5s) == 2);
  CHECK(r.size() == 1);
  // A message received later expires later.
  REQUIRE(r.retain(message("plain", "y", std::nullopt, kT0 + 10s)) == RetainResult::Stored);
  CHECK(topics(r, "plain", kT0 + 14s) == V{"plain"});
  CHECK(topics(r, "plain", kT0 + 15s).empty());
}

TEST_CASE("expire() prunes the emptied levels", "[retainer][expiry]") {
  Retainer r;
  REQUIRE(r.retain(message("a/b/c/d", "x", 1)) == RetainResult::Stored);
  REQUIRE(r.retain(message("a/b", "x")) == RetainResult::Stored);
  CHECK(r.expire(kT0 + 1s) == 1);
  CHECK(topics(r, "#") == V{"a/b"});
  CHECK(topics(r, "a/b/#") == V{"a/b"});
  CHECK(r.retain(message("a/b", "")) == RetainResult::Cleared);
  CHECK(r.size() == 0);
}

void add_spec_topics(Retainer& r) {
  for (auto t :
       {"sport", "sport/", "sport/tennis/player1", "sport/tennis/player1/ranking",
        "sport/tennis/player1/score/wimbledon", "sport/tennis/player2", "/finance", "finance", "/",
        "$SYS/monitor/Clients", "$SYS", "$SYS/broker/uptime", "a/$x", "Accounts payable"}) {
    REQUIRE(r.retain(message(t, "p")) == RetainResult::Stored);
  }
}

TEST_CASE("match: the examples of section 4.7", "[retainer][match]") {
  Retainer r;
  add_spec_topics(r);
  CHECK(topics(r, "sport/tennis/player1/#") == V{"sport/tennis/player1",
                                                 "sport/tennis/player1/ranking",
                                                 "sport/tennis/player1/score/wimbledon"});
  CHECK(topics(r, "sport/#") == V{"sport", "sport/", "sport/tennis/player1",
                                  "sport/tennis/player1/ranking",
                                  "sport/tennis/player1/score/wimbledon", "sport/tennis/player2"});
  CHECK(topics(r, "sport/tennis/+") == V{"sport/tennis/player1", "sport/tennis/player2"});
  CHECK(topics(r, "sport/+") == V{"sport/"});  // not "sport"
  CHECK(topics(r, "+/+") == V{"/", "/finance", "a/$x", "sport/"});
  CHECK(topics(r, "/+") == V{"/", "/finance"});
  CHECK(topics(r, "+") == V{"Accounts payable", "finance", "sport"});
  CHECK(topics(r, "sport/+/player1") == V{"sport/tennis/player1"});
  CHECK(topics(r, "Accounts payable") == V{"Accounts payable"});
  CHECK(topics(r, "ACCOUNTS payable").empty());
  CHECK(topics(r, "finance") == V{"finance"});
  CHECK(topics(r, "nothing/+/here").empty());
}

TEST_CASE("match: wildcards at the first level skip '$' topics",
          "[retainer][match][MQTT-4.7.2-1]") {
  Retainer r;
  add_spec_topics(r);
  auto all = topics(r, "#");
  CHECK(std::none_of(all.begin(), all.end(), [](const std::string& t) { return t[0] == '$'; }));
  CHECK(all.size() == 11);
  CHECK(topics(r, "+/monitor/Clients").empty());
  CHECK(topics(r, "+").size() == 3);
  CHECK(topics(r, "$SYS/#") == V{"$SYS", "$SYS/broker/uptime", "$SYS/monitor/Clients"});
  CHECK(topics(r, "$SYS/monitor/+") == V{"$SYS/monitor/Clients"});
  CHECK(topics(r, "$SYS/+/Clients") == V{"$SYS/monitor/Clients"});
  CHECK(topics(r, "$SYS") == V{"$SYS"});
  CHECK(topics(r, "a/+") == V{"a/$x"});  // '$' below the first level is ordinary
}

TEST_CASE("match agrees with the reference matcher on random topics", "[retainer][match]") {
  std::mt19937 rng(77);  // deterministic
  const char* const levels[] = {"a", "b", "", "$s", "c"};
  std::uniform_int_distribution<int> pick(0, 4);
  std::uniform_int_distribution<int> depth(1, 4);
  auto random_name = [&](bool wildcards) {
    std::string s;
    for (int i = 0, n = depth(rng); i < n; ++i) {
      if (i > 0) s += '/';
      const int k = pick(rng);
      if (wildcards && k == 0) {
        s += '+';
      } else if (wildcards && k == 1 && i == n - 1) {
        s += '#';
      } else {
        s += levels[k];
      }
    }
    return s.empty() ? std::string("/") : s;  // a single empty level is no name
  };
  Retainer r;
  std::vector<std::string> stored;
  for (int i = 0; i < 500; ++i) {
    std::string t = random_name(false);
    if (r.retain(message(t, "p")) == RetainResult::Stored &&
        std::find(stored.begin(), stored.end(), t) == stored.end()) {
      stored.push_back(t);
    }
  }
  REQUIRE(r.size() == stored.size());
  std::size_t total = 0;
  for (int i = 0; i < 1000; ++i) {
    const std::string filter = random_name(true);
    REQUIRE(validate_topic_filter(filter, 0));
    V expected;
    for (const auto& t : stored) {
      if (topic_matches(filter, t)) expected.push_back(t);
    }
    std::sort(expected.begin(), expected.end());
    INFO("filter: " << filter);
    REQUIRE(topics(r, filter) == expected);
    total += expected.size();
  }
  CHECK(total > 3000);  // the test is not vacuous
}

TEST_CASE("for_each lists every message, clear empties", "[retainer]") {
  Retainer r;
  add_spec_topics(r);
  V seen;
  r.for_each([&](const mqtt::MessagePtr& m) { seen.push_back(m->topic); });
  CHECK(seen.size() == 14);
  CHECK(seen.size() == r.size());
  r.clear();
  CHECK(r.size() == 0);
  CHECK(topics(r, "#").empty());
  CHECK(r.retain(message("a", "1")) == RetainResult::Stored);
}

TEST_CASE("concurrent retain and match", "[retainer][threads]") {
  Retainer r({.max_retained_messages = 1000});
  std::vector<std::thread> threads;
  for (int w = 0; w < 4; ++w) {
    threads.emplace_back([&r, w] {
      std::vector<mqtt::MessagePtr> out;
      for (int i = 0; i < 2000; ++i) {
        const std::string topic = "t/" + std::to_string(w) + "/" + std::to_string(i % 100);
        (void)r.retain(message(topic, i % 7 == 0 ? "" : "p"));
        out.clear();
        r.match("t/" + std::to_string(w) + "/+", kT0, out);
      }
    });
  }
  for (auto& t : threads)
    t.join();
  std::vector<mqtt::MessagePtr> out;
  r.match("#", kT0, out);
  CHECK(out.size() == r.size());
  CHECK(r.size() <= 400);
}

}  // namespace
}  // namespace emqxd::broker
