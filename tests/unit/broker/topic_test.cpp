// Topic names, topic filters, shared-subscription filters and the reference matcher,
// against the examples of MQTT 5 sections 4.7 and 4.8.2.
#include "broker/topic.hpp"

#include <catch2/catch.hpp>

namespace emqxd::broker {
namespace {

bool name_ok(std::string_view topic, std::uint32_t max_levels = 0) {
  return validate_topic_name(topic, max_levels).has_value();
}
bool filter_ok(std::string_view filter, std::uint32_t max_levels = 0) {
  return validate_topic_filter(filter, max_levels).has_value();
}

TEST_CASE("topic names and filters are at least one character", "[topic][MQTT-4.7.3-1]") {
  CHECK(validate_topic_name("", 0).error() == Errc::TopicNameInvalid);
  CHECK(validate_topic_filter("", 0).error() == Errc::TopicFilterInvalid);
  CHECK(name_ok("a"));
  CHECK(filter_ok("a"));
  // "/" is a valid topic name and filter: two empty levels.
  CHECK(name_ok("/"));
  CHECK(filter_ok("/"));
  CHECK(name_ok("Accounts payable"));  // spaces are allowed
}

TEST_CASE("topic names carry no wildcards", "[topic][MQTT-3.3.2-2]") {
  for (std::string_view bad : {"#", "+", "a/#", "a/+", "a/+/b", "sport+", "a#", "#/a", "+a"}) {
    INFO(bad);
    CHECK(validate_topic_name(bad, 0).error() == Errc::TopicNameInvalid);
  }
  for (std::string_view good : {"a", "a/b", "/a", "a/", "a//b", "$SYS/broker", "a b/c"}) {
    INFO(good);
    CHECK(name_ok(good));
  }
}

TEST_CASE("'#' is alone in the last level of a filter", "[topic][MQTT-4.7.1-1]") {
  CHECK(filter_ok("#"));
  CHECK(filter_ok("sport/tennis/#"));
  CHECK(filter_ok("sport/#"));
  CHECK(filter_ok("/#"));
  CHECK_FALSE(filter_ok("sport/tennis#"));
  CHECK_FALSE(filter_ok("sport/tennis/#/ranking"));
  CHECK_FALSE(filter_ok("#/"));
  CHECK_FALSE(filter_ok("##"));
  CHECK_FALSE(filter_ok("a/#b"));
  CHECK(validate_topic_filter("sport/tennis#", 0).error() == Errc::TopicFilterInvalid);
}

TEST_CASE("'+' is alone in its level of a filter", "[topic][MQTT-4.7.1-2]") {
  CHECK(filter_ok("+"));
  CHECK(filter_ok("+/tennis/#"));
  CHECK(filter_ok("sport/+/player1"));
  CHECK(filter_ok("+/+"));
  CHECK(filter_ok("/+"));
  CHECK(filter_ok("+/"));
  CHECK_FALSE(filter_ok("sport+"));
  CHECK_FALSE(filter_ok("sport/+tennis"));
  CHECK_FALSE(filter_ok("++"));
  CHECK_FALSE(filter_ok("a/b+/c"));
  CHECK(validate_topic_filter("sport+", 0).error() == Errc::TopicFilterInvalid);
}

TEST_CASE("max_levels limits names and filters, 0 is no limit", "[topic]") {
  CHECK(name_ok("a/b/c", 3));
  CHECK(validate_topic_name("a/b/c/d", 3).error() == Errc::TopicNameInvalid);
  CHECK(filter_ok("a/+/#", 3));
  CHECK(validate_topic_filter("a/+/c/#", 3).error() == Errc::TopicFilterInvalid);
  CHECK(name_ok("a/b/c/d/e/f/g/h", 0));
  CHECK(validate_topic_name("/", 1).error() == Errc::TopicNameInvalid);  // two levels
}

TEST_CASE("level_count counts empty levels", "[topic]") {
  CHECK(level_count("a") == 1);
  CHECK(level_count("") == 1);
  CHECK(level_count("/") == 2);
  CHECK(level_count("a/b/c") == 3);
  CHECK(level_count("/a/") == 3);
  CHECK(level_count("a//b") == 3);
}

TEST_CASE("has_wildcard looks at whole levels", "[topic]") {
  CHECK(has_wildcard("#"));
  CHECK(has_wildcard("+"));
  CHECK(has_wildcard("a/+/b"));
  CHECK(has_wildcard("a/#"));
  CHECK_FALSE(has_wildcard("a/b"));
  CHECK_FALSE(has_wildcard("/"));
  CHECK_FALSE(has_wildcard("a+b/c#"));  // not wildcards: invalid as a filter anyway
}

TEST_CASE("multi-level wildcard examples of section 4.7.1.2", "[topic][match]") {
  CHECK(topic_matches("sport/tennis/player1/#", "sport/tennis/player1"));
  CHECK(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/ranking"));
  CHECK(topic_matches("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon"));
  CHECK_FALSE(topic_matches("sport/tennis/player1/#", "sport/tennis/player2"));
  CHECK_FALSE(topic_matches("sport/tennis/player1/#", "sport/tennis"));
  CHECK(topic_matches("sport/#", "sport"));  // '#' includes the parent level
  CHECK(topic_matches("sport/#", "sport/"));
  CHECK(topic_matches("#", "sport/tennis"));
  CHECK(topic_matches("#", "/"));
}

TEST_CASE("single-level wildcard examples of section 4.7.1.3", "[topic][match]") {
  CHECK(topic_matches("sport/tennis/+", "sport/tennis/player1"));
  CHECK(topic_matches("sport/tennis/+", "sport/tennis/player2"));
  CHECK_FALSE(topic_matches("sport/tennis/+", "sport/tennis/player1/ranking"));
  CHECK_FALSE(topic_matches("sport/+", "sport"));
  CHECK(topic_matches("sport/+", "sport/"));  // '+' matches an empty level
  CHECK(topic_matches("+/+", "/finance"));
  CHECK(topic_matches("/+", "/finance"));
  CHECK_FALSE(topic_matches("+", "/finance"));
  CHECK(topic_matches("sport/+/player1", "sport/tennis/player1"));
  CHECK(topic_matches("+/tennis/#", "sport/tennis/player1"));
  CHECK(topic_matches("+", "sport"));
  CHECK(topic_matches("+/+", "/"));
  CHECK_FALSE(topic_matches("+", "/"));
}

TEST_CASE("wildcards at the first level do not match '$' topics", "[topic][match][MQTT-4.7.2-1]") {
  CHECK_FALSE(topic_matches("#", "$SYS/broker/clients"));
  CHECK_FALSE(topic_matches("#", "$SYS"));
  CHECK_FALSE(topic_matches("+/monitor/Clients", "$SYS/monitor/Clients"));
  CHECK_FALSE(topic_matches("+", "$SYS"));
  CHECK_FALSE(topic_matches("+/#", "$SYS/x"));
  CHECK(topic_matches("$SYS/#", "$SYS/monitor/Clients"));
  CHECK(topic_matches("$SYS/#", "$SYS"));
  CHECK(topic_matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
  CHECK(topic_matches("$SYS/+/Clients", "$SYS/monitor/Clients"));
  // Only the first character of the topic counts: '$' further in is an ordinary character.
  CHECK(topic_matches("+/$x", "a/$x"));
  CHECK(topic_matches("a/#", "a/$x"));
  CHECK(topic_matches("a/+", "a/$x"));
}

TEST_CASE("topics are case-sensitive and leading or trailing '/' is significant",
          "[topic][match]") {
  CHECK_FALSE(topic_matches("ACCOUNTS", "Accounts"));
  CHECK(topic_matches("Accounts payable", "Accounts payable"));
  CHECK_FALSE(topic_matches("finance", "/finance"));
  CHECK_FALSE(topic_matches("/finance", "finance"));
  CHECK_FALSE(topic_matches("finance", "finance/"));
  CHECK(topic_matches("a//b", "a//b"));
  CHECK(topic_matches("a/+/b", "a//b"));
  CHECK_FALSE(topic_matches("a/b", "a/b/c"));
  CHECK_FALSE(topic_matches("a/b/c", "a/b"));
}

TEST_CASE("parse_shared: $share/{group}/{filter}", "[topic][shared]") {
  auto r = parse_shared("$share/g1/sport/+/player1", 0);
  REQUIRE(r);
  REQUIRE(r->has_value());
  CHECK((*r)->group == "g1");
  CHECK((*r)->filter == "sport/+/player1");

  r = parse_shared("$share/consumer1/#", 0);
  REQUIRE(r);
  REQUIRE(r->has_value());
  CHECK((*r)->group == "consumer1");
  CHECK((*r)->filter == "#");

  // The filter part may itself start with '$' or be "/".
  r = parse_shared("$share/g/$SYS/#", 0);
  REQUIRE((r && r->has_value()));
  CHECK((*r)->filter == "$SYS/#");
  r = parse_shared("$share/g//", 0);
  REQUIRE((r && r->has_value()));
  CHECK((*r)->filter == "/");
}

TEST_CASE("parse_shared: $queue/{filter} is EMQX's group \"$queue\"", "[topic][shared]") {
  auto r = parse_shared("$queue/a/b", 0);
  REQUIRE(r);
  REQUIRE(r->has_value());
  CHECK((*r)->group == "$queue");
  CHECK((*r)->filter == "a/b");
  CHECK(parse_shared("$queue/", 0).error() == Errc::TopicFilterInvalid);
  CHECK(parse_shared("$queue/a#", 0).error() == Errc::TopicFilterInvalid);
}

TEST_CASE("parse_shared: a plain filter is not shared", "[topic][shared]") {
  for (std::string_view plain :
       {"a/b", "#", "$SYS/#", "$share", "$sharex/g/a", "share/g/a", "$queue", "a/$share/g/b"}) {
    INFO(plain);
    auto r = parse_shared(plain, 0);
    REQUIRE(r);
    CHECK_FALSE(r->has_value());
  }
}

TEST_CASE("parse_shared: the share name is non-empty and has no wildcards",
          "[topic][shared][MQTT-4.8.2-1][MQTT-4.8.2-2]") {
  for (std::string_view bad :
       {"$share//a", "$share/+/a", "$share/#/a", "$share/g+/a", "$share/g#/a", "$share/"}) {
    INFO(bad);
    CHECK(parse_shared(bad, 0).error() == Errc::TopicFilterInvalid);
  }
}

TEST_CASE("parse_shared: the filter part is present and valid", "[topic][shared]") {
  for (std::string_view bad :
       {"$share/g", "$share/g/", "$share/g/a#", "$share/g/a/#/b", "$share/g/sport+",
        "$share/g/$share/h/a", "$share/g/$queue/a", "$queue/$share/g/a"}) {
    INFO(bad);
    CHECK(parse_shared(bad, 0).error() == Errc::TopicFilterInvalid);
  }
  // max_levels applies to the filter part, not to the "$share/group/" prefix.
  CHECK(parse_shared("$share/g/a/b", 2));
  CHECK(parse_shared("$share/g/a/b/c", 2).error() == Errc::TopicFilterInvalid);
}

}  // namespace
}  // namespace emqxd::broker
