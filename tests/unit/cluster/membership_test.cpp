// Membership, one state machine fed by hand: each message kind, the precedence rules of
// incarnations and states, refutation, tombstones, the probe cycle step by step, and the
// bounds on piggybacked gossip. The protocol between many nodes is in
// membership_sim_test.cpp.
#include "cluster/membership.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>

namespace {

using namespace std::chrono_literals;
using emqxd::cluster::Ack;
using emqxd::cluster::Duration;
using emqxd::cluster::Gossip;
using emqxd::cluster::Join;
using emqxd::cluster::JoinAck;
using emqxd::cluster::Leave;
using emqxd::cluster::MemberEvent;
using emqxd::cluster::Membership;
using emqxd::cluster::MembershipOptions;
using emqxd::cluster::MemberState;
using emqxd::cluster::MemberUpdate;
using emqxd::cluster::Message;
using emqxd::cluster::MessageBody;
using emqxd::cluster::NodeAddress;
using emqxd::cluster::Outgoing;
using emqxd::cluster::Ping;
using emqxd::cluster::PingReq;
using emqxd::cluster::Sync;
using emqxd::cluster::SyncAck;
using emqxd::cluster::TimePoint;
using Kind = MemberEvent::Kind;

const TimePoint kT0 = TimePoint{} + 1h;

NodeAddress addr(int i) {
  return NodeAddress{"n" + std::to_string(i), "127.0.0.1", static_cast<std::uint16_t>(4370 + i)};
}

MemberUpdate update(int i, std::uint64_t inc, MemberState s) {
  return MemberUpdate{addr(i), inc, s};
}

// A message from node `from` (at incarnation `inc`) to node 1.
Message from(int i, std::uint64_t inc, MessageBody body, std::vector<MemberUpdate> updates = {}) {
  Message m;
  m.cluster = "emqxdcl";
  m.from = addr(i);
  m.from_incarnation = inc;
  m.to = addr(1).id();
  m.body = std::move(body);
  m.updates = std::move(updates);
  return m;
}

// Node 1 at incarnation 100 that knows nodes `alive` at incarnation 10 (through a JoinAck).
Membership node_knowing(std::vector<int> alive, MembershipOptions options = {}) {
  Membership m(addr(1), 100, options, 42, kT0);
  std::vector<MemberUpdate> list;
  for (int i : alive)
    list.push_back(update(i, 10, MemberState::Alive));
  if (!list.empty()) {
    REQUIRE(m.handle(from(alive[0], 10, JoinAck{list}), kT0) == Membership::Handled::Ok);
  }
  m.take_outgoing();
  m.take_events();
  return m;
}

template <class T>
std::vector<Outgoing> of_kind(const std::vector<Outgoing>& out) {
  std::vector<Outgoing> r;
  for (const Outgoing& o : out) {
    if (std::holds_alternative<T>(o.message.body)) r.push_back(o);
  }
  return r;
}

bool carries(const Message& m, const MemberUpdate& u) {
  return std::find(m.updates.begin(), m.updates.end(), u) != m.updates.end();
}

// Node i is suspected (by gossip from node `witness`, a member) at t and declared dead by
// m's own timer at t + 4s (the suspicion timeout up to 10 live nodes). Drains m's output.
TimePoint declared_dead(Membership& m, int i, int witness, TimePoint t) {
  const auto* member = m.find(addr(i).id());
  REQUIRE(member != nullptr);
  std::uint64_t inc = member->incarnation;
  m.handle(from(witness, m.find(addr(witness).id())->incarnation, Gossip{},
                {update(i, inc, MemberState::Suspect)}),
           t);
  m.tick(t + 4s);
  auto events = m.take_events();
  REQUIRE(std::count(events.begin(), events.end(), MemberEvent{Kind::Down, addr(i), inc}) == 1);
  m.take_outgoing();
  return t + 4s;
}

MemberState state_of(const Membership& m, int i) {
  const auto* member = m.find(addr(i).id());
  REQUIRE(member != nullptr);
  return member->state;
}

}  // namespace

TEST_CASE("a ping is answered by an ack with its seq, to the sender", "[cluster][membership]") {
  Membership m = node_knowing({2});
  REQUIRE(m.handle(from(2, 10, Ping{77}), kT0) == Membership::Handled::Ok);
  auto out = m.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == addr(2));
  const Message& ack = out[0].message;
  REQUIRE(std::holds_alternative<Ack>(ack.body));
  CHECK(std::get<Ack>(ack.body).seq == 77);
  CHECK(ack.cluster == "emqxdcl");
  CHECK(ack.from == addr(1));
  CHECK(ack.from_incarnation == 100);
  CHECK(ack.to == "n2@127.0.0.1");
}

TEST_CASE("messages of another cluster, for another node or from itself are dropped",
          "[cluster][membership]") {
  Membership m = node_knowing({2});
  Message other = from(2, 10, Ping{1});
  other.cluster = "othercl";
  CHECK(m.handle(other, kT0) == Membership::Handled::OtherCluster);
  Message misrouted = from(2, 10, Ping{1});
  misrouted.to = "n9@127.0.0.1";
  CHECK(m.handle(misrouted, kT0) == Membership::Handled::NotForUs);
  Message self = from(1, 100, Ping{1});
  CHECK(m.handle(self, kT0) == Membership::Handled::FromSelf);
  CHECK(m.take_outgoing().empty());
  CHECK(m.stats().dropped == 3);
  // Gossip in a dropped message is not believed either.
  Message lie = from(2, 10, Ping{1}, {update(3, 1, MemberState::Alive)});
  lie.cluster = "othercl";
  CHECK(m.handle(lie, kT0) == Membership::Handled::OtherCluster);
  CHECK(m.find(addr(3).id()) == nullptr);
}

TEST_CASE("join: the contact answers with its full list and gossips the newcomer",
          "[cluster][membership]") {
  Membership contact = node_knowing({2, 3});
  contact.handle(from(3, 10, JoinAck{{update(4, 7, MemberState::Dead)}}), kT0);
  contact.take_outgoing();
  REQUIRE(contact.handle(from(5, 50, Join{}), kT0) == Membership::Handled::Ok);
  CHECK(contact.take_events() == std::vector<MemberEvent>{{Kind::Up, addr(5), 50}});
  auto out = contact.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == addr(5));
  REQUIRE(std::holds_alternative<JoinAck>(out[0].message.body));
  auto list = std::get<JoinAck>(out[0].message.body).members;
  std::sort(list.begin(), list.end(),
            [](const auto& a, const auto& b) { return a.node.name < b.node.name; });
  CHECK(list == std::vector<MemberUpdate>{
                    update(1, 100, MemberState::Alive), update(2, 10, MemberState::Alive),
                    update(3, 10, MemberState::Alive), update(4, 7, MemberState::Dead),
                    update(5, 50, MemberState::Alive)});
  // The next message to anyone carries the news.
  contact.handle(from(2, 10, Ping{1}), kT0);
  auto ack = contact.take_outgoing();
  REQUIRE(ack.size() == 1);
  CHECK(carries(ack[0].message, update(5, 50, MemberState::Alive)));

  // The joiner: Up for every live member, tombstones silently.
  Membership joiner(addr(5), 50, {}, 7, kT0);
  std::vector<NodeAddress> seeds{addr(1)};
  joiner.join(seeds, kT0);
  auto join = joiner.take_outgoing();
  REQUIRE(join.size() == 1);
  CHECK(join[0].to == addr(1));
  CHECK(std::holds_alternative<Join>(join[0].message.body));
  CHECK(carries(join[0].message, MemberUpdate{addr(5), 50, MemberState::Alive}));
  Message reply = out[0].message;
  reply.to = addr(5).id();
  REQUIRE(joiner.handle(reply, kT0) == Membership::Handled::Ok);
  auto events = joiner.take_events();
  CHECK(events.size() == 3);
  for (int i : {1, 2, 3}) {
    CHECK(std::count(events.begin(), events.end(),
                     MemberEvent{Kind::Up, addr(i), i == 1 ? 100u : 10u}) == 1);
  }
  CHECK(joiner.find(addr(4).id())->state == MemberState::Dead);
  CHECK(joiner.live_count() == 4);
}

TEST_CASE("a joiner keeps knocking on its seeds while it knows nobody", "[cluster][membership]") {
  Membership m(addr(1), 100, {}, 1, kT0);
  std::vector<NodeAddress> seeds{addr(1), addr(2), addr(3)};  // itself among them
  m.join(seeds, kT0);
  CHECK(of_kind<Join>(m.take_outgoing()).size() == 2);
  m.tick(kT0 + 1s);
  CHECK(of_kind<Join>(m.take_outgoing()).size() == 2);
  m.handle(from(2, 10, JoinAck{{update(2, 10, MemberState::Alive)}}), kT0 + 1500ms);
  m.take_outgoing();
  // (Node 2 never answers a probe here, so it is suspected at 3s and would be dead at 7s.)
  for (int s = 2; s < 7; ++s)
    m.tick(kT0 + std::chrono::seconds(s));
  CHECK(of_kind<Join>(m.take_outgoing()).empty());
}

TEST_CASE("a discovery's answer replaces the seeds and knocks on the nodes not seen alive",
          "[cluster][membership]") {
  Membership m = node_knowing({2});
  m.take_outgoing();
  std::vector<NodeAddress> found{addr(1), addr(2), addr(3), addr(4)};
  m.rediscover(found, kT0 + 1s);
  auto joins = of_kind<Join>(m.take_outgoing());
  std::vector<NodeAddress> to;
  for (const auto& j : joins)
    to.push_back(j.to);
  std::sort(to.begin(), to.end(),
            [](const NodeAddress& a, const NodeAddress& b) { return a.port < b.port; });
  CHECK(to == std::vector<NodeAddress>{addr(3), addr(4)});  // not itself, not 2 (alive)
  // Node 4 left the records: a node alone knocks on the new seeds only.
  Membership alone(addr(1), 100, {}, 1, kT0);
  alone.join(found, kT0);
  alone.take_outgoing();
  std::vector<NodeAddress> now{addr(3)};
  alone.rediscover(now, kT0 + 1s);
  CHECK(of_kind<Join>(alone.take_outgoing()).size() == 1);
  alone.tick(kT0 + 2s + 1ms);
  auto again = of_kind<Join>(alone.take_outgoing());
  REQUIRE(again.size() == 1);
  CHECK(again[0].to == addr(3));
}

TEST_CASE("the probe cycle: ping, ping-req after the timeout, suspect, then dead",
          "[cluster][membership]") {
  MembershipOptions o;
  Membership m = node_knowing({2, 3, 4, 5}, o);
  // Find the period in which node 2 is probed.
  TimePoint t = kT0;
  Outgoing ping;
  for (int period = 0; period < 4 && ping.message.to.empty(); ++period) {
    t += o.probe_interval;
    m.tick(t);
    for (const Outgoing& p : of_kind<Ping>(m.take_outgoing())) {
      if (p.to == addr(2)) {
        ping = p;
      } else {  // the others answer
        Message ack =
            from(std::stoi(p.to.name.substr(1)), 10, Ack{std::get<Ping>(p.message.body).seq});
        m.handle(ack, t + 10ms);
      }
    }
    m.take_outgoing();
  }
  REQUIRE(ping.to == addr(2));
  const std::uint64_t seq = std::get<Ping>(ping.message.body).seq;
  CHECK(m.next_deadline() == t + o.probe_timeout);

  // No ack within probe_timeout: k = 3 of the other alive members are asked.
  m.tick(t + o.probe_timeout);
  auto reqs = of_kind<PingReq>(m.take_outgoing());
  REQUIRE(reqs.size() == 3);
  for (const Outgoing& r : reqs) {
    CHECK(r.to != addr(2));
    CHECK(std::get<PingReq>(r.message.body).seq == seq);
    CHECK(std::get<PingReq>(r.message.body).target == addr(2));
  }
  CHECK(m.stats().indirect_probes == 3);
  CHECK(m.take_events().empty());

  // Nothing by the end of the period: suspect, gossiped at once.
  m.tick(t + o.probe_interval);
  CHECK(m.take_events() == std::vector<MemberEvent>{{Kind::Suspect, addr(2), 10}});
  CHECK(state_of(m, 2) == MemberState::Suspect);
  auto next = m.take_outgoing();
  REQUIRE_FALSE(next.empty());
  CHECK(carries(next[0].message, update(2, 10, MemberState::Suspect)));

  // Suspicion timeout with 5 live nodes: 4 x max(1, log10 5) x 1s = 4s. Not a moment before.
  TimePoint suspected = t + o.probe_interval;
  for (TimePoint u = suspected; u < suspected + 4s; u += 100ms) {
    m.tick(u);
    for (const auto& e : m.take_events())
      CHECK(e.node != addr(2));
  }
  m.tick(suspected + 4s);
  auto events = m.take_events();
  CHECK(std::count(events.begin(), events.end(), MemberEvent{Kind::Down, addr(2), 10}) == 1);
  CHECK(state_of(m, 2) == MemberState::Dead);
}

TEST_CASE("an ack through a helper ends the probe: no suspicion", "[cluster][membership]") {
  MembershipOptions o;
  Membership m = node_knowing({2, 3}, o);
  TimePoint t = kT0 + o.probe_interval;
  m.tick(t);
  auto pings = of_kind<Ping>(m.take_outgoing());
  REQUIRE(pings.size() == 1);
  int target = std::stoi(pings[0].to.name.substr(1));
  int helper = target == 2 ? 3 : 2;
  m.tick(t + o.probe_timeout);
  auto reqs = of_kind<PingReq>(m.take_outgoing());
  REQUIRE(reqs.size() == 1);
  CHECK(reqs[0].to == addr(helper));
  m.handle(from(helper, 10, Ack{std::get<Ping>(pings[0].message.body).seq}), t + 700ms);
  m.tick(t + o.probe_interval);
  CHECK(m.take_events().empty());
  CHECK(state_of(m, target) == MemberState::Alive);
  CHECK(m.stats().probe_failures == 0);
}

TEST_CASE("a ping-req is relayed: ping with our own seq, ack back with theirs",
          "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  m.handle(from(2, 10, PingReq{555, addr(3)}), kT0);
  auto out = m.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == addr(3));
  CHECK(out[0].message.to == "n3@127.0.0.1");
  const std::uint64_t relay_seq = std::get<Ping>(out[0].message.body).seq;
  m.handle(from(3, 10, Ack{relay_seq}), kT0 + 5ms);
  out = m.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(out[0].to == addr(2));
  CHECK(std::get<Ack>(out[0].message.body).seq == 555);
  // A second ack for the same relay is late: nothing.
  m.handle(from(3, 10, Ack{relay_seq}), kT0 + 6ms);
  CHECK(m.take_outgoing().empty());
}

TEST_CASE("a node refutes suspicion and death about itself with a higher incarnation",
          "[cluster][membership]") {
  Membership m = node_knowing({2});
  m.handle(from(2, 10, Ping{1}, {update(1, 100, MemberState::Suspect)}), kT0);
  CHECK(m.incarnation() == 101);
  auto out = m.take_outgoing();
  REQUIRE(out.size() == 1);
  CHECK(carries(out[0].message, update(1, 101, MemberState::Alive)));
  CHECK(out[0].message.from_incarnation == 101);
  // Old news about an incarnation already refuted changes nothing.
  m.handle(from(2, 10, Ping{2}, {update(1, 100, MemberState::Dead)}), kT0);
  CHECK(m.incarnation() == 101);
  // Death at the current one is refuted too; so is a claim of a higher incarnation (an
  // earlier run of this node that got further than the clock did).
  m.handle(from(2, 10, Ping{3}, {update(1, 101, MemberState::Dead)}), kT0);
  CHECK(m.incarnation() == 102);
  m.handle(from(2, 10, Ping{4}, {update(1, 500, MemberState::Alive)}), kT0);
  CHECK(m.incarnation() == 501);
  // Its own Alive echoed back is not a claim.
  m.handle(from(2, 10, Ping{5}, {update(1, 501, MemberState::Alive)}), kT0);
  CHECK(m.incarnation() == 501);
  CHECK(m.stats().refutations == 3);
  CHECK(m.take_events().empty());
}

TEST_CASE("precedence: higher incarnation wins, then Alive < Suspect < Dead",
          "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  auto gossip = [&](MemberUpdate u) {
    m.handle(from(3, 10, Gossip{}, {u}), kT0);
    m.take_outgoing();
    return m.take_events();
  };
  CHECK(gossip(update(2, 9, MemberState::Suspect)).empty());  // older
  CHECK(state_of(m, 2) == MemberState::Alive);
  CHECK(gossip(update(2, 10, MemberState::Suspect)) ==
        std::vector<MemberEvent>{{Kind::Suspect, addr(2), 10}});
  CHECK(gossip(update(2, 10, MemberState::Alive)).empty());  // Suspect(10) beats Alive(10)
  CHECK(state_of(m, 2) == MemberState::Suspect);
  CHECK(gossip(update(2, 11, MemberState::Alive)) ==
        std::vector<MemberEvent>{{Kind::Recovered, addr(2), 11}});
  // Another node's verdict starts our own suspicion; our timer decides.
  CHECK(gossip(update(2, 11, MemberState::Dead)) ==
        std::vector<MemberEvent>{{Kind::Suspect, addr(2), 11}});
  CHECK(gossip(update(2, 11, MemberState::Dead)).empty());
  CHECK(state_of(m, 2) == MemberState::Suspect);
  m.tick(kT0 + 4s);
  auto events = m.take_events();
  CHECK(std::count(events.begin(), events.end(), MemberEvent{Kind::Down, addr(2), 11}) == 1);
  CHECK(gossip(update(2, 11, MemberState::Dead)).empty());  // once
  CHECK(gossip(update(2, 11, MemberState::Suspect)).empty());
  CHECK(gossip(update(2, 11, MemberState::Alive)).empty());
  CHECK(state_of(m, 2) == MemberState::Dead);
}

TEST_CASE("tombstones: stale gossip cannot resurrect a dead member, a new incarnation can",
          "[cluster][membership]") {
  MembershipOptions o;
  o.autoclean = 1h;
  Membership m = node_knowing({2, 3}, o);
  TimePoint t = declared_dead(m, 2, 3, kT0);
  // The same incarnation, alive, from gossip and from a full list: still dead.
  m.handle(from(3, 10, Gossip{}, {update(2, 10, MemberState::Alive)}), t + 1s);
  m.handle(from(3, 10, SyncAck{{update(2, 10, MemberState::Alive)}}), t + 2s);
  m.handle(from(3, 10, Gossip{}, {update(2, 9, MemberState::Alive)}), t + 3s);
  CHECK(m.take_events().empty());
  CHECK(state_of(m, 2) == MemberState::Dead);
  // A restart (or a refutation) with a higher incarnation comes back.
  m.handle(from(2, 12, Join{}), t + 4s);
  CHECK(m.take_events() == std::vector<MemberEvent>{{Kind::Up, addr(2), 12}});
  CHECK(state_of(m, 2) == MemberState::Alive);

  // After autoclean the tombstone is gone: the member is forgotten.
  t = declared_dead(m, 2, 3, t + 5s);
  m.tick(t + 1h - 1ms);
  CHECK(m.find(addr(2).id()) != nullptr);
  m.tick(t + 1h);
  CHECK(m.find(addr(2).id()) == nullptr);
}

TEST_CASE("a full list's stale 'dead' is not believed: the member is told and refutes",
          "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  // Node 3 was on the other side of a partition: it thinks 2 is dead at 2's incarnation.
  m.handle(from(3, 10, SyncAck{{update(2, 10, MemberState::Dead)}}), kT0);
  CHECK(m.take_events().empty());
  CHECK(state_of(m, 2) == MemberState::Alive);
  auto out = m.take_outgoing();
  auto notes = of_kind<Gossip>(out);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].to == addr(2));
  CHECK(notes[0].message.updates.front() == update(2, 10, MemberState::Dead));
  // Told again within a probe period: once is enough.
  m.handle(from(3, 10, SyncAck{{update(2, 10, MemberState::Suspect)}}), kT0 + 100ms);
  CHECK(of_kind<Gossip>(m.take_outgoing()).empty());
  // Dead at an incarnation newer than ours: worth checking for ourselves.
  m.handle(from(3, 10, SyncAck{{update(2, 11, MemberState::Dead)}}), kT0 + 2s);
  CHECK(m.take_events() == std::vector<MemberEvent>{{Kind::Suspect, addr(2), 11}});
  // Only this node's own timer declares it dead.
  m.handle(from(3, 10, Gossip{}, {update(2, 11, MemberState::Dead)}), kT0 + 3s);
  CHECK(m.take_events().empty());
  m.tick(kT0 + 6s);
  auto events = m.take_events();
  CHECK(std::count(events.begin(), events.end(), MemberEvent{Kind::Down, addr(2), 11}) == 1);
}

TEST_CASE("a node we think dead that talks to us is told so", "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  TimePoint t = declared_dead(m, 2, 3, kT0);
  m.handle(from(2, 10, Ping{9}), t + 1s);
  auto out = m.take_outgoing();
  auto notes = of_kind<Gossip>(out);
  REQUIRE(notes.size() == 1);
  CHECK(notes[0].message.updates.front() == update(2, 10, MemberState::Dead));
  CHECK(of_kind<Ack>(out).size() == 1);
}

TEST_CASE("sync: the push is merged, the answer is the list after merging",
          "[cluster][membership]") {
  Membership m = node_knowing({2});
  m.handle(from(2, 10,
                Sync{{update(2, 10, MemberState::Alive), update(3, 4, MemberState::Alive),
                      update(1, 100, MemberState::Dead)}}),
           kT0);
  CHECK(m.take_events() == std::vector<MemberEvent>{{Kind::Up, addr(3), 4}});
  CHECK(m.incarnation() == 101);  // refuted the stale "dead" about itself
  auto out = m.take_outgoing();
  auto acks = of_kind<SyncAck>(out);
  REQUIRE(acks.size() == 1);
  const auto& list = std::get<SyncAck>(acks[0].message.body).members;
  CHECK(std::count(list.begin(), list.end(), update(1, 101, MemberState::Alive)) == 1);
  CHECK(std::count(list.begin(), list.end(), update(3, 4, MemberState::Alive)) == 1);
}

TEST_CASE("leave: every member is told, then the node ignores everything",
          "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  m.leave(kT0);
  CHECK(m.has_left());
  auto leaves = of_kind<Leave>(m.take_outgoing());
  REQUIRE(leaves.size() == 2);
  for (const Outgoing& l : leaves) {
    CHECK(carries(l.message, update(1, 100, MemberState::Left)));
  }
  CHECK(m.handle(from(2, 10, Ping{1}), kT0) == Membership::Handled::AfterLeave);
  m.tick(kT0 + 10s);
  CHECK(m.take_outgoing().empty());
  CHECK(m.next_deadline() == TimePoint::max());

  Membership other = node_knowing({2});
  other.handle(from(3, 10, Gossip{}, {update(3, 10, MemberState::Alive)}), kT0);
  other.take_events();
  other.handle(from(3, 10, Leave{}), kT0);
  CHECK(other.take_events() == std::vector<MemberEvent>{{Kind::Left, addr(3), 10}});
  CHECK(state_of(other, 3) == MemberState::Left);
}

TEST_CASE("a member back at a new port is Moved", "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  NodeAddress moved = addr(2);
  moved.port = 5000;
  m.handle(from(3, 10, Gossip{}, {MemberUpdate{moved, 11, MemberState::Alive}}), kT0);
  CHECK(m.take_events() == std::vector<MemberEvent>{{Kind::Moved, moved, 11}});
  CHECK(m.find(addr(2).id())->address.port == 5000);
}

TEST_CASE("round-robin: every member probed once per round, in a new order each round",
          "[cluster][membership]") {
  MembershipOptions o;
  Membership m = node_knowing({2, 3, 4, 5, 6}, o);
  std::vector<std::vector<std::string>> rounds(4);
  TimePoint t = kT0;
  for (auto& round : rounds) {
    for (int p = 0; p < 5; ++p) {
      t += o.probe_interval;
      m.tick(t);
      for (const Outgoing& ping : of_kind<Ping>(m.take_outgoing())) {
        round.push_back(ping.to.name);
        m.handle(
            from(std::stoi(ping.to.name.substr(1)), 10, Ack{std::get<Ping>(ping.message.body).seq}),
            t + 1ms);
      }
      m.take_outgoing();
    }
  }
  for (auto round : rounds) {
    std::sort(round.begin(), round.end());
    CHECK(round == std::vector<std::string>{"n2", "n3", "n4", "n5", "n6"});
  }
  CHECK(std::adjacent_find(rounds.begin(), rounds.end()) == rounds.end());  // reshuffled
  CHECK(m.stats().probe_failures == 0);
}

TEST_CASE("piggyback: at most max_piggyback per message, each sent lambda*log(n) times",
          "[cluster][membership]") {
  MembershipOptions o;
  o.max_piggyback = 4;
  o.retransmit_multiplier = 3;
  Membership m = node_knowing({}, o);
  std::vector<MemberUpdate> news;
  for (int i = 3; i <= 42; ++i)
    news.push_back(update(i, 1, MemberState::Alive));
  m.handle(from(2, 1, JoinAck{news}), kT0);
  CHECK(m.live_count() == 42);
  m.take_outgoing();
  // 42 live: limit = 3 x ceil(log10 43) = 6 sends of each of the 40 updates about nodes
  // 3 to 42 (and of node 2's own Alive, which is never sent to node 2 itself).
  std::map<std::string, int> sent;
  for (int i = 0; i < 200; ++i) {
    m.handle(from(2, 1, Ping{static_cast<std::uint64_t>(i)}), kT0);
    for (const Outgoing& out : m.take_outgoing()) {
      CHECK(out.message.updates.size() <= 4);
      for (const auto& u : out.message.updates)
        ++sent[u.node.name];
    }
  }
  CHECK(sent.size() == 40);
  for (const auto& [name, n] : sent) {
    INFO(name);
    CHECK(n == 6);
  }
}

namespace emqxd::cluster {
namespace {

TEST_CASE(
    "force_leave: a dead member turns Left here and by gossip, a live one gets the chance to "
    "refute",
    "[cluster][membership]") {
  Membership m = node_knowing({2, 3});
  CHECK_FALSE(m.force_leave(addr(9).id(), kT0));  // unknown
  CHECK_FALSE(m.force_leave(addr(1).id(), kT0));  // itself
  auto t = declared_dead(m, 3, 2, kT0);
  REQUIRE(m.force_leave(addr(3).id(), t));
  CHECK(state_of(m, 3) == MemberState::Left);
  CHECK_FALSE(m.force_leave(addr(3).id(), t));  // already Left
  // Node 2 hears of it with the next message it gets (a ping of the probe cycle, say).
  m.tick(t + 1s);
  bool told = false;
  for (const auto& o : m.take_outgoing()) {
    told =
        told || (o.to.id() == addr(2).id() && carries(o.message, update(3, 10, MemberState::Left)));
  }
  CHECK(told);
  // A live member is taken out here at once (its routes go), and Left is what it hears.
  REQUIRE(m.force_leave(addr(2).id(), t + 1s));
  auto events = m.take_events();
  CHECK(std::count(events.begin(), events.end(), MemberEvent{Kind::Left, addr(2), 10}) == 1);
  CHECK(state_of(m, 2) == MemberState::Left);
  // It refutes with a higher incarnation and is back.
  m.handle(from(2, 11, Ping{1}), t + 2s);
  CHECK(state_of(m, 2) == MemberState::Alive);
}

}  // namespace
}  // namespace emqxd::cluster

TEST_CASE("gossip about more members than cluster.max_nodes is ignored", "[membership][bounds]") {
  MembershipOptions o;
  o.max_members = 4;  // this node and three others
  Membership m = node_knowing({2, 3}, o);
  std::vector<MemberUpdate> invented;
  for (int i = 4; i < 304; ++i)
    invented.push_back(update(i, 10, MemberState::Alive));
  REQUIRE(m.handle(from(2, 10, Gossip{}, invented), kT0) == Membership::Handled::Ok);
  CHECK(m.members().size() == 3);  // 2, 3 and the first invented one
  CHECK(m.stats().refused == 299);
  // Nothing is sent to the refused ones, now or in later rounds.
  for (int k = 0; k < 20; ++k)
    m.tick(kT0 + k * 1s);
  for (const Outgoing& out : m.take_outgoing()) {
    INFO(out.to.id());
    CHECK((out.to.id() == addr(2).id() || out.to.id() == addr(3).id() ||
           out.to.id() == addr(4).id()));
  }
}

TEST_CASE("incarnations never wrap: a claim at 2^64-1 is dropped, a member refutes any other",
          "[membership][bounds]") {
  Membership m = node_knowing({2, 3});
  // Node 3 tells node 1 that node 2 left at the highest incarnation: dropped.
  m.handle(from(3, 10, Gossip{}, {update(2, UINT64_MAX, MemberState::Left)}), kT0);
  REQUIRE(m.find(addr(2).id()) != nullptr);
  CHECK(m.find(addr(2).id())->state == MemberState::Alive);
  CHECK(m.find(addr(2).id())->incarnation == 10);
  CHECK(m.stats().refused >= 1);
  // About this node: no wrap to 0, no refutation needed.
  m.handle(from(3, 10, Gossip{}, {update(1, UINT64_MAX, MemberState::Left)}), kT0);
  CHECK(m.incarnation() == 100);
  // The highest claim still accepted is answered above it, and never past the bound.
  const std::uint64_t top = emqxd::cluster::kMaxIncarnation - 1;
  m.handle(from(3, 10, Gossip{}, {update(1, top, MemberState::Dead)}), kT0);
  CHECK(m.incarnation() == emqxd::cluster::kMaxIncarnation);
  m.handle(from(3, 10, Gossip{}, {update(1, top, MemberState::Dead)}), kT0);
  CHECK(m.incarnation() == emqxd::cluster::kMaxIncarnation);
}
