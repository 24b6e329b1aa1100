// The alarm list (api/alarms.hpp): activate once, deactivate into history, EMQX's JSON
// for the API and for $SYS, the size limit, and clearing the history.
#include "api/alarms.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

namespace {
namespace json = boost::json;
using emqxd::api::Alarms;
}  // namespace

TEST_CASE("an alarm is activated once and published each time it changes", "[alarms]") {
  Alarms a({false, 1000, std::chrono::hours(24)});
  std::vector<std::pair<std::string, json::value>> published;
  a.set_publish([&](const std::string& topic, std::string payload) {
    published.emplace_back(topic, json::parse(payload));
  });
  CHECK(a.activate("high_system_memory_usage", json::object{{"high_watermark", 70}}, "high"));
  CHECK_FALSE(a.activate("high_system_memory_usage", {}, "again"));
  CHECK(a.is_active("high_system_memory_usage"));
  REQUIRE(published.size() == 1);
  CHECK(published[0].first == "alarms/activate");
  const auto& on = published[0].second.as_object();
  CHECK(on.at("name") == "high_system_memory_usage");
  CHECK(on.at("message") == "high");
  CHECK(on.at("details").as_object().at("high_watermark") == 70);
  CHECK(on.at("activated") == true);
  CHECK(on.at("deactivate_at") == "infinity");
  CHECK(on.at("activate_at").is_int64());

  CHECK(a.deactivate("high_system_memory_usage"));
  CHECK_FALSE(a.deactivate("high_system_memory_usage"));
  CHECK_FALSE(a.is_active("high_system_memory_usage"));
  REQUIRE(published.size() == 2);
  CHECK(published[1].first == "alarms/deactivate");
  const auto& off = published[1].second.as_object();
  CHECK(off.at("activated") == false);
  CHECK(off.at("deactivate_at").as_int64() > off.at("activate_at").as_int64());
}

TEST_CASE("lists: active, deactivated (newest first), all, and clearing the history", "[alarms]") {
  Alarms a({false, 1000, std::chrono::hours(24)});
  a.activate("a", {}, "");
  a.activate("b", {}, "");
  a.activate("c", {}, "");
  a.deactivate("a");
  a.deactivate("c");
  auto names = [](const std::vector<emqxd::api::Alarm>& v) {
    std::vector<std::string> out;
    for (const auto& x : v)
      out.push_back(x.name);
    return out;
  };
  CHECK(names(a.list(true)) == std::vector<std::string>{"b"});
  CHECK(names(a.list(false)) == std::vector<std::string>{"c", "a"});
  CHECK(names(a.list(std::nullopt)) == std::vector<std::string>{"b", "c", "a"});
  CHECK(a.list(true)[0].message == "b");  // an empty message is the name, as EMQX
  // Activated again: a new activation, its old one stays in the history.
  CHECK(a.activate("a", {}, ""));
  CHECK(names(a.list(true)) == std::vector<std::string>{"b", "a"});
  a.clear_deactivated();
  CHECK(a.list(false).empty());
  CHECK(a.list(true).size() == 2);
  CHECK(a.active_with_prefix("a") == std::vector<std::string>{"a"});
}

TEST_CASE("the history keeps at most size_limit alarms, the oldest out", "[alarms]") {
  Alarms a({false, 3, std::chrono::hours(24)});
  for (int i = 0; i < 5; ++i) {
    a.activate("x" + std::to_string(i), {}, "");
    a.deactivate("x" + std::to_string(i));
  }
  auto off = a.list(false);
  REQUIRE(off.size() == 3);
  CHECK(off[0].name == "x4");
  CHECK(off[2].name == "x2");
}

TEST_CASE("the API's JSON: EMQX's fields", "[alarms]") {
  emqxd::api::Alarm x;
  x.name = "cluster_node_down/n2@h";
  x.message = "down";
  x.details = json::object{{"node", "n2@h"}};
  x.activate_at = 1'700'000'000'123'456;
  auto on = emqxd::api::alarm_api_json(x, "n1@h", x.activate_at + 2'500'000);
  CHECK(on.at("node") == "n1@h");
  CHECK(on.at("name") == "cluster_node_down/n2@h");
  CHECK(on.at("duration") == 2500);
  CHECK(on.at("activate_at") == "2023-11-14T22:13:20.123+00:00");
  CHECK(on.at("deactivate_at") == "infinity");
  CHECK(on.at("activated") == true);
  x.deactivate_at = x.activate_at + 1'000'000;
  auto off = emqxd::api::alarm_api_json(x, "n1@h", x.activate_at + 9'000'000);
  CHECK(off.at("duration") == 1000);
  CHECK(off.at("deactivate_at") == "2023-11-14T22:13:21.123+00:00");
  CHECK(off.at("activated") == false);
}
