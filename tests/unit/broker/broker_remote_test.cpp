// The broker's side of the cluster: local routes told to the RouteSink, peers' routes
// matched into one RemoteMatch per peer, shared groups picked across nodes, snapshots.
#include <algorithm>
#include <catch2/catch.hpp>
#include <set>
#include <string>
#include <vector>

#include "broker/broker.hpp"

namespace emqxd::broker {
namespace {

struct RecordingSink : RouteSink {
  std::vector<std::string> events;
  void add(std::string_view filter, std::string_view group) override {
    events.push_back("+" + std::string(filter) + (group.empty() ? "" : "|" + std::string(group)));
  }
  void remove(std::string_view filter, std::string_view group) override {
    events.push_back("-" + std::string(filter) + (group.empty() ? "" : "|" + std::string(group)));
  }
};

mqtt::SubscribeOptions qos1() {
  mqtt::SubscribeOptions o;
  o.max_qos = mqtt::QoS::AtLeastOnce;
  return o;
}

mqtt::Message message(std::string topic) {
  mqtt::Message m;
  m.topic = std::move(topic);
  m.qos = mqtt::QoS::AtLeastOnce;
  return m;
}

TEST_CASE("the route sink hears the first and the last local subscriber of each route",
          "[broker][cluster]") {
  RecordingSink sink;
  Broker b(SharedStrategy::RoundRobin, &sink);
  b.subscribe("a/+", {0, 1}, qos1(), 0);
  b.subscribe("a/+", {0, 2}, qos1(), 0);           // same route: nothing new
  b.subscribe("$share/g/a/+", {0, 3}, qos1(), 0);  // the group is a route of its own
  b.subscribe("$share/g/a/+", {1, 4}, qos1(), 0);
  b.subscribe("$queue/a/+", {1, 5}, qos1(), 0);
  CHECK(sink.events == std::vector<std::string>{"+a/+", "+a/+|g", "+a/+|$queue"});
  b.add_remote_routes(1, {{"a/+", ""}});  // a peer's route is not ours to announce
  b.unsubscribe("a/+", {0, 1});
  b.unsubscribe("$share/g/a/+", {0, 3});
  CHECK(sink.events.size() == 3);
  b.unsubscribe("a/+", {0, 2});
  b.unsubscribe("$share/g/a/+", {1, 4});
  b.unsubscribe("$queue/a/+", {1, 5});
  CHECK(sink.events ==
        std::vector<std::string>{"+a/+", "+a/+|g", "+a/+|$queue", "-a/+", "-a/+|g", "-a/+|$queue"});
  auto st = b.stats();
  CHECK(st.routes == 0);
  CHECK(st.topics == 0);
  CHECK(st.remote_routes == 1);
}

TEST_CASE("a publish matching several routes of one peer is one remote match",
          "[broker][cluster]") {
  Broker b(SharedStrategy::RoundRobin);
  b.add_remote_routes(2, {{"a/b", ""}, {"a/+", ""}, {"#", ""}});
  b.add_remote_routes(3, {{"x/#", ""}});
  b.subscribe("a/#", {0, 1}, qos1(), 0);
  std::vector<Match> local;
  std::vector<RemoteMatch> remote;
  b.match(message("a/b"), "pub", local, &remote);
  REQUIRE(local.size() == 1);
  REQUIRE(remote.size() == 1);
  CHECK(remote[0].node == 2);
  CHECK(remote[0].direct);
  CHECK(remote[0].shares.empty());
  // Without a remote vector (single node), peers are not looked at.
  local.clear();
  b.match(message("x/y"), "pub", local, nullptr);
  CHECK(local.empty());
  // direct_only: a peer's message here matches only local plain subscribers.
  remote.clear();
  b.match(message("a/b"), "", local, &remote, true);
  CHECK(local.size() == 1);
  CHECK(remote.empty());
}

TEST_CASE(
    "a shared group spanning nodes delivers once per message, to local members and peers in turn",
    "[broker][cluster][MQTT-4.8.2-2]") {
  Broker b(SharedStrategy::RoundRobin);
  b.subscribe("$share/g/t/#", {0, 1}, qos1(), 0);
  b.add_remote_routes(2, {{"t/#", "g"}});
  b.add_remote_routes(3, {{"t/#", "g"}});
  std::multiset<std::string> picks;
  for (int i = 0; i < 30; ++i) {
    std::vector<Match> local;
    std::vector<RemoteMatch> remote;
    b.match(message("t/x"), "pub", local, &remote);
    REQUIRE(local.size() + remote.size() == 1);
    if (!local.empty()) {
      CHECK(*local[0].share == "$share/g/t/#");
      picks.insert("local");
    } else {
      REQUIRE(remote[0].shares.size() == 1);
      CHECK(*remote[0].shares[0] == "$share/g/t/#");
      CHECK_FALSE(remote[0].direct);
      picks.insert("n" + std::to_string(remote[0].node));
    }
  }
  CHECK(picks.count("local") == 10);
  CHECK(picks.count("n2") == 10);
  CHECK(picks.count("n3") == 10);
  // A group with no local member at all still routes to its peers.
  b.unsubscribe("$share/g/t/#", {0, 1});
  std::vector<Match> local;
  std::vector<RemoteMatch> remote;
  b.match(message("t/x"), "pub", local, &remote);
  CHECK(local.empty());
  CHECK(remote.size() == 1);
  // And the peer's side: a message for group g picks a local member (redispatch).
  b.subscribe("$share/g/t/#", {1, 7}, qos1(), 0);
  Match m;
  REQUIRE(b.redispatch("$share/g/t/#", message("t/x"), {}, m));
  CHECK(m.ref == SubscriberRef{1, 7});
}

TEST_CASE("the local strategy prefers local members and uses peers only when none is local",
          "[broker][cluster]") {
  Broker b(SharedStrategy::Local);
  b.add_remote_routes(2, {{"t", "g"}});
  b.subscribe("$share/g/t", {0, 1}, qos1(), 0);
  for (int i = 0; i < 20; ++i) {
    std::vector<Match> local;
    std::vector<RemoteMatch> remote;
    b.match(message("t"), "pub", local, &remote);
    CHECK(local.size() == 1);
    CHECK(remote.empty());
  }
  b.unsubscribe("$share/g/t", {0, 1});
  std::vector<Match> local;
  std::vector<RemoteMatch> remote;
  b.match(message("t"), "pub", local, &remote);
  CHECK(local.empty());
  REQUIRE(remote.size() == 1);
  CHECK(remote[0].node == 2);
}

TEST_CASE("a snapshot replaces a peer's routes, and dropping a peer forgets them",
          "[broker][cluster]") {
  Broker b(SharedStrategy::RoundRobin);
  b.add_remote_routes(2, {{"old/1", ""}, {"keep", ""}, {"old/2", "g"}});
  CHECK(b.remote_route_count(2) == 3);
  b.begin_remote_snapshot(2);
  b.add_remote_routes(2, {{"keep", ""}});
  // Mid-snapshot, the old routes still match.
  std::vector<Match> local;
  std::vector<RemoteMatch> remote;
  b.match(message("old/1"), "", local, &remote);
  CHECK(remote.size() == 1);
  b.add_remote_routes(2, {{"new/+", ""}});
  b.end_remote_snapshot(2);
  CHECK(b.remote_route_count(2) == 2);
  remote.clear();
  b.match(message("old/1"), "", local, &remote);
  CHECK(remote.empty());
  b.match(message("new/x"), "", local, &remote);
  CHECK(remote.size() == 1);
  b.remove_remote_route(2, {"new/+", ""});
  CHECK(b.remote_route_count(2) == 1);
  b.drop_remote_routes(2);
  CHECK(b.remote_route_count(2) == 0);
  CHECK_FALSE(b.has_remote_routes());
  CHECK(b.stats().remote_routes == 0);
}

TEST_CASE("a filter with many plain subscribers finds each in O(1) and keeps them all",
          "[broker]") {
  Broker b(SharedStrategy::RoundRobin);
  for (std::uint64_t s = 1; s <= 1000; ++s)
    CHECK(b.subscribe("all", {0, s}, qos1(), 0));
  CHECK_FALSE(b.subscribe("all", {0, 500}, qos1(), 7));  // replaced, not added
  for (std::uint64_t s = 1; s <= 1000; s += 2)
    CHECK(b.unsubscribe("all", {0, s}));
  b.move({"all"}, {0, 2}, {1, 2});
  std::vector<Match> out;
  b.match(message("all"), "", out);
  REQUIRE(out.size() == 500);
  std::set<std::uint64_t> seen;
  for (const auto& m : out) {
    CHECK(m.ref.session % 2 == 0);
    CHECK(m.ref.worker == (m.ref.session == 2 ? 1u : 0u));
    if (m.ref.session == 500) CHECK(m.subscription_ids == std::vector<std::uint32_t>{7});
    seen.insert(m.ref.session);
  }
  CHECK(seen.size() == 500);
  CHECK(b.stats().subscriptions == 500);
}

TEST_CASE("routes list local and remote entries with their node", "[broker][cluster]") {
  Broker b(SharedStrategy::RoundRobin);
  b.subscribe("a", {0, 1}, qos1(), 0);
  b.subscribe("$share/g/a", {0, 2}, qos1(), 0);
  b.add_remote_routes(4, {{"a", ""}, {"b", "h"}});
  std::vector<std::string> seen;
  b.list_routes("", 100, [&](const Route& r, NodeIndex n) {
    seen.push_back(r.filter + (r.group.empty() ? "" : "|" + r.group) + "@" + std::to_string(n));
  });
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{"a@0", "a@4", "a|g@0", "b|h@4"});
  seen.clear();
  b.list_routes("a", 2, [&](const Route& r, NodeIndex n) {
    seen.push_back(r.filter + "@" + std::to_string(n));
  });
  CHECK(seen.size() == 2);
  auto routes = b.local_routes();
  CHECK(routes.size() == 2);
}

}  // namespace
}  // namespace emqxd::broker
