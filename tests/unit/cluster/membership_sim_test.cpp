// Membership between nodes: the scenarios of the cluster issue on the simulated network
// (sim_cluster.hpp), with the default timing (probe_interval 1s, probe_timeout 500ms,
// 3 indirect probes, suspicion 4 x max(1, log10 n) periods, reconnect_interval 10s,
// push_pull_interval 30s). Each bound asserted here is derived in a comment from those.
#include <catch2/catch.hpp>

#include "cluster/sim_cluster.hpp"

namespace {

using namespace std::chrono_literals;
using emqxd::cluster::Duration;
using emqxd::cluster::MemberEvent;
using emqxd::cluster::MembershipOptions;
using emqxd::cluster::MemberState;
using emqxd::cluster::test::Link;
using emqxd::cluster::test::Observed;
using emqxd::cluster::test::SimCluster;
using Kind = MemberEvent::Kind;

const MembershipOptions kDefaults;
const Duration kPeriod = kDefaults.probe_interval;
const Duration kSuspicion = 4 * kPeriod;  // up to 10 live nodes

// n nodes, node 1 first, the others joining through node 1, converged.
SimCluster converged_cluster(std::size_t n, std::uint64_t seed) {
  SimCluster c(n, seed);
  c.start(1, {});
  for (std::size_t i = 2; i <= n; ++i)
    c.start(i, {1});
  REQUIRE(c.run_until([&] { return c.converged(); }, 10 * kPeriod));
  return c;
}

// No event at all about `about` since `since`, of the given kinds.
std::size_t count_since(const SimCluster& c, Duration since, Kind kind) {
  std::size_t n = 0;
  for (const Observed& o : c.events())
    n += o.at >= since && o.event.kind == kind;
  return n;
}

}  // namespace

TEST_CASE("3 and 5 nodes join through one seed and converge within a few periods",
          "[cluster][membership][sim]") {
  const std::size_t n = GENERATE(3, 5);
  const std::uint64_t seed = GENERATE(1, 2, 3);
  SimCluster c(n, seed);
  c.start(1, {});
  for (std::size_t i = 2; i <= n; ++i)
    c.start(i, {1});
  // Each joiner learns every earlier member from the JoinAck at once; the members learn
  // the joiner from the seed's gossip (every 200ms to 3 members while there is news, and
  // on every ping and ack), usually within a period. The bound that holds whatever the
  // random choices: the joiner itself pings every member in its first round of probes,
  // n-1 periods after joining, and every message names its sender.
  REQUIRE(c.run_until([&] { return c.converged(); }, n * kPeriod));
  INFO("converged after " << c.now().count() << " ms");
  // Everyone saw everyone come up exactly once, and nothing else happened.
  for (std::size_t o = 1; o <= n; ++o) {
    for (std::size_t i = 1; i <= n; ++i) {
      if (i == o) continue;
      auto events = c.events(o, i);
      REQUIRE(events.size() == 1);
      CHECK(events[0].event.kind == Kind::Up);
    }
  }
  c.run_for(60s);
  CHECK(c.converged());
  CHECK(c.events().size() == n * (n - 1));
}

TEST_CASE("joining through any member, not only the first", "[cluster][membership][sim]") {
  SimCluster c(5, 11);
  c.start(1, {});
  c.start(2, {1});
  c.run_for(2s);
  c.start(3, {2});
  c.run_for(2s);
  c.start(4, {3});
  c.start(5, {4, 2});  // the first that answers will do
  REQUIRE(c.run_until([&] { return c.converged(); }, 5 * kPeriod));
}

TEST_CASE("a node started before its seed joins once the seed is up",
          "[cluster][membership][sim]") {
  SimCluster c(3, 5);
  c.start(2, {1});
  c.start(3, {1});
  c.run_for(7s);
  CHECK(c.node(2).live_count() == 1);
  c.start(1, {});  // the seed comes up; 2 and 3 knock every period
  REQUIRE(c.run_until([&] { return c.converged(); }, 4 * kPeriod));
}

TEST_CASE("a killed node is suspected then declared dead by every node, once",
          "[cluster][membership][sim]") {
  const std::uint64_t seed = GENERATE(1, 2, 3, 4, 5);
  SimCluster c = converged_cluster(5, seed);
  c.run_for(5s);
  const Duration killed_at = c.now();
  c.kill(3);
  // Bound: each of the 4 others probes node 3 once per round of 4 periods, so the first
  // probe of it starts within 4 periods and fails at its end; the Suspect spreads within
  // ~2 periods and every node's own timer (4 periods) runs out: 4 + 1 + 2 + 4 = 11.
  const Duration bound = 7 * kPeriod + kSuspicion;
  REQUIRE(c.run_until([&] { return c.all_see(3, MemberState::Dead); }, bound));
  INFO("all saw node 3 dead after " << (c.now() - killed_at).count() << " ms");
  c.run_for(60s);  // and nothing more happens
  std::size_t suspects = 0;
  for (std::size_t o : {1, 2, 4, 5}) {
    auto events = c.events(o, 3);
    REQUIRE(events.size() >= 2);  // Up at the start, then the failure
    events.erase(events.begin());
    REQUIRE(events.size() == 2);
    CHECK(events[0].event.kind == Kind::Suspect);
    CHECK(events[1].event.kind == Kind::Down);
    // Not before a whole suspicion timeout has passed on this node.
    CHECK(events[1].at - events[0].at >= kSuspicion);
    CHECK(events[1].at >= killed_at + kSuspicion);
    suspects += events[0].event.kind == Kind::Suspect;
  }
  CHECK(suspects == 4);
  // Nobody else was suspected, and the living are still converged.
  CHECK(c.count(Kind::Suspect) == 4);
  CHECK(c.count(Kind::Down) == 4);
  CHECK(c.converged());
}

TEST_CASE("indirect probes keep a node alive when only the link A->B drops packets",
          "[cluster][membership][sim]") {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  SECTION("with 3 indirect probes: no suspicion") {
    SimCluster c = converged_cluster(5, seed);
    c.set_link(1, 2, Link{.cut = true});  // 1 -> 2 only; 2 -> 1 works
    c.run_for(120s);
    CHECK(c.count(Kind::Suspect) == 0);
    CHECK(c.count(Kind::Down) == 0);
    CHECK(c.converged());
    // Both directions needed help: 1's pings to 2 and 1's acks to 2's pings are lost.
    CHECK(c.node(1).stats().indirect_probes > 0);
    CHECK(c.node(2).stats().indirect_probes > 0);
    CHECK(c.node(3).stats().relayed_pings + c.node(4).stats().relayed_pings +
              c.node(5).stats().relayed_pings >
          0);
  }
  SECTION("without them the same link causes suspicion (the test can fail)") {
    MembershipOptions o;
    o.indirect_probes = 0;
    SimCluster c(5, seed, o);
    c.start(1, {});
    for (std::size_t i = 2; i <= 5; ++i)
      c.start(i, {1});
    REQUIRE(c.run_until([&] { return c.converged(); }, 10 * kPeriod));
    c.set_link(1, 2, Link{.cut = true});
    c.run_for(120s);
    CHECK(c.count(Kind::Suspect) > 0);
  }
}

TEST_CASE("a suspected live node refutes and stays alive", "[cluster][membership][sim]") {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  SimCluster c = converged_cluster(5, seed);
  const std::uint64_t before = c.node(2).incarnation();
  // Cut node 2 off until someone suspects it, then let it talk again.
  for (std::size_t i = 1; i <= 5; ++i) {
    if (i == 2) continue;
    c.set_link(i, 2, Link{.cut = true});
    c.set_link(2, i, Link{.cut = true});
  }
  REQUIRE(c.run_until([&] { return c.count(Kind::Suspect, 2) > 0; }, 10 * kPeriod));
  c.heal();
  // The suspicion reaches node 2 on the next message to it; its Alive(i+1) overrides.
  REQUIRE(c.run_until([&] { return c.converged(); }, kSuspicion));
  c.run_for(60s);
  CHECK(c.count(Kind::Down) == 0);
  CHECK(c.converged());
  CHECK(c.node(2).incarnation() > before);
  CHECK(c.node(2).stats().refutations >= 1);
  // Every suspicion of node 2 was cleared on the node that had it.
  for (std::size_t o : {1, 3, 4, 5}) {
    auto events = c.events(o, 2);
    std::size_t suspect = 0;
    std::size_t recovered = 0;
    for (const auto& e : events) {
      suspect += e.event.kind == Kind::Suspect;
      recovered += e.event.kind == Kind::Recovered;
    }
    CHECK(suspect == recovered);
  }
}

TEST_CASE(
    "partition {1,2}|{3,4,5}: each side sees the other dead, and after the heal all "
    "converge with no operator action",
    "[cluster][membership][sim][partition]") {
  const std::uint64_t seed = GENERATE(range(1, 11));
  SimCluster c = converged_cluster(5, seed);
  c.run_for(3s);
  const Duration cut_at = c.now();
  c.partition({{1, 2}, {3, 4, 5}});
  auto split = [&] {
    for (std::size_t a : {1, 2}) {
      for (std::size_t b : {3, 4, 5}) {
        if (c.view(a, b) != MemberState::Dead || c.view(b, a) != MemberState::Dead) return false;
      }
    }
    return c.view(1, 2) == MemberState::Alive && c.view(2, 1) == MemberState::Alive &&
           c.view(3, 4) == MemberState::Alive && c.view(4, 5) == MemberState::Alive &&
           c.view(5, 3) == MemberState::Alive;
  };
  // Each side probes each other-side node within 2 rounds and times out as for a crash.
  REQUIRE(c.run_until(split, 2 * 5 * kPeriod + kSuspicion));
  INFO("split seen after " << (c.now() - cut_at).count() << " ms");
  c.run_for(60s);  // a long partition: every retransmission of the verdicts is used up
  REQUIRE(split());
  // Each node declared each node of the other side dead exactly once, its own side never.
  for (std::size_t o = 1; o <= 5; ++o) {
    for (std::size_t i = 1; i <= 5; ++i) {
      if (i == o) continue;
      bool same_side = (o <= 2) == (i <= 2);
      std::size_t downs = 0;
      for (const auto& e : c.events(o, i))
        downs += e.event.kind == Kind::Down;
      CHECK(downs == (same_side ? 0u : 1u));
    }
  }

  const Duration healed_at = c.now();
  c.heal();
  // Bound: within one reconnect_interval (10s) every node has sent a Sync to one of the
  // dead; the first to arrive starts the refutations, which spread both ways in a few
  // periods. reconnect_interval + 8 periods.
  const Duration bound = kDefaults.reconnect_interval + 8 * kPeriod;
  REQUIRE(c.run_until([&] { return c.converged(); }, bound));
  INFO("converged " << (c.now() - healed_at).count() << " ms after the heal");
  const Duration converged_at = c.now();
  // The heal made nobody suspect a node of its own side, and every node came up once.
  CHECK(count_since(c, healed_at, Kind::Down) == 0);
  CHECK(count_since(c, healed_at, Kind::Up) == 12);  // 2 x 3 + 3 x 2
  c.run_for(120s);
  CHECK(c.converged());
  CHECK(count_since(c, converged_at, Kind::Down) == 0);
}

TEST_CASE("a partition longer than autoclean heals through the seeds",
          "[cluster][membership][sim][partition]") {
  MembershipOptions o;
  o.autoclean = 2min;
  SimCluster c(5, 77, o);
  c.start(1, {});
  for (std::size_t i = 2; i <= 5; ++i)
    c.start(i, {1});
  REQUIRE(c.run_until([&] { return c.converged(); }, 10 * kPeriod));
  c.partition({{1, 2}, {3, 4, 5}});
  c.run_for(5min);
  // The tombstones are gone: each side has forgotten the other.
  CHECK(c.node(3).find(c.id(1)) == nullptr);
  CHECK(c.node(1).find(c.id(3)) == nullptr);
  c.heal();
  // 3, 4 and 5 Sync with their seed (node 1) every reconnect_interval.
  REQUIRE(c.run_until([&] { return c.converged(); }, o.reconnect_interval + 8 * kPeriod));
}

TEST_CASE("a node restarted with the same name rejoins", "[cluster][membership][sim]") {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  SECTION("after it was declared dead") {
    SimCluster c = converged_cluster(5, seed);
    c.kill(3);
    REQUIRE(c.run_until([&] { return c.all_see(3, MemberState::Dead); }, 20s));
    const std::uint64_t old = c.node(1).find(c.id(3))->incarnation;
    c.run_for(5s);
    c.start(3, {1});  // a new process: incarnation from the clock
    REQUIRE(c.node(3).incarnation() > old);
    REQUIRE(c.run_until([&] { return c.converged(); }, 3 * kPeriod));
    for (std::size_t o : {1, 2, 4, 5}) {
      auto events = c.events(o, 3);
      REQUIRE(events.size() == 4);  // up, suspect, down, up
      CHECK(events.back().event.kind == Kind::Up);
      CHECK(events.back().event.incarnation == c.node(3).incarnation());
    }
  }
  SECTION("before anyone noticed it was gone") {
    SimCluster c = converged_cluster(5, seed);
    c.kill(3);
    c.run_for(300ms);
    c.start(3, {1});
    REQUIRE(c.run_until([&] { return c.converged(); }, 3 * kPeriod));
    c.run_for(30s);
    CHECK(c.converged());
    CHECK(c.count(Kind::Down) == 0);
  }
  SECTION("with a clock that went backwards: it refutes above its old incarnation") {
    SimCluster c = converged_cluster(5, seed);
    const std::uint64_t old = c.node(3).incarnation();
    c.kill(3);
    REQUIRE(c.run_until([&] { return c.all_see(3, MemberState::Dead); }, 20s));
    c.start(3, {1}, /*incarnation=*/5);
    REQUIRE(c.run_until([&] { return c.converged(); }, 5 * kPeriod));
    CHECK(c.node(3).incarnation() > old);
  }
}

TEST_CASE("a graceful leave is seen as left, not dead", "[cluster][membership][sim]") {
  const std::uint64_t seed = GENERATE(1, 2, 3);
  SimCluster c = converged_cluster(5, seed);
  c.leave(4);
  REQUIRE(c.run_until([&] { return c.all_see(4, MemberState::Left); }, 1s));
  c.run_for(60s);
  CHECK(c.all_see(4, MemberState::Left));
  CHECK(c.count(Kind::Left, 4) == 4);
  CHECK(c.count(Kind::Suspect) == 0);
  CHECK(c.count(Kind::Down) == 0);
  CHECK(c.converged());
  // It may come back later, as a new process.
  c.start(4, {2});
  REQUIRE(c.run_until([&] { return c.converged(); }, 3 * kPeriod));
  CHECK(c.count(Kind::Up, 4) == 8);
}

TEST_CASE("a leave that reaches only one member still reaches all, by gossip",
          "[cluster][membership][sim]") {
  SimCluster c = converged_cluster(5, 9);
  for (std::size_t i : {1, 2, 3})
    c.set_link(5, i, Link{.cut = true});
  c.leave(5);
  c.heal();
  REQUIRE(c.run_until([&] { return c.all_see(5, MemberState::Left); }, 3 * kPeriod));
  c.run_for(30s);
  CHECK(c.count(Kind::Down) == 0);
}
