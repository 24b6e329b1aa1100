// CommitOrder: what waits for a storage commit, and in what order it leaves
// (session/commit_order.hpp). A store whose commits complete when the test says
// (manual_store.hpp).
#include "session/commit_order.hpp"

#include <catch2/catch.hpp>

#include "session/manual_store.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::QoS;

mqtt::MessagePtr msg(std::string payload) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = "t";
  m->payload = std::move(payload);
  m->qos = QoS::AtLeastOnce;
  return m;
}

Delivery delivery(const mqtt::MessagePtr& m) {
  Delivery d;
  d.session = 1;
  d.msg = m;
  d.qos = QoS::AtLeastOnce;
  return d;
}

struct Fixture {
  ManualStore store;
  CommitOrder order{true};
  std::vector<std::pair<std::uint64_t, storage::Status>> completed;
  bool commit() {
    return order.commit(store, [this](std::uint64_t t, storage::Status st) {
      completed.emplace_back(t, std::move(st));
    });
  }
  // The end of a turn: commit, then ship; what may leave now is returned.
  std::vector<std::string> end_turn(Outboxes& turn) {
    bool committed = commit();
    std::vector<std::string> left;
    if (order.ship(turn, committed)) {
      for (auto& d : turn.local[0])
        left.push_back(d.msg->payload);
      turn.local[0].clear();
    }
    return left;
  }
};

std::vector<std::string> payloads(const CommitOrder::Completion& c) {
  std::vector<std::string> out;
  for (const auto& r : c.released) {
    for (const auto& d : r.out.local[0])
      out.push_back(d.msg->payload + (d.refused ? "!" : ""));
  }
  return out;
}

TEST_CASE("nothing durable: deliveries leave at once", "[commit_order]") {
  ManualStore store;
  CommitOrder order(false);
  Outboxes turn(1);
  turn.local[0].push_back(delivery(msg("a")));
  CHECK(order.batch() == nullptr);
  CHECK_FALSE(order.commit(store, [](std::uint64_t, storage::Status) {}));
  CHECK(order.ship(turn, false));
  CHECK(store.pending.empty());
}

TEST_CASE("deliveries wait for the commit of their turn, and later turns queue behind",
          "[commit_order]") {
  Fixture f;
  Outboxes turn(1);
  // Turn 1 records something: its deliveries wait for ticket 1.
  auto m1 = msg("one");
  f.order.batch()->put_retained(*m1);
  turn.local[0].push_back(delivery(m1));
  CHECK(f.end_turn(turn).empty());
  CHECK(f.order.waiting());
  // Turn 2 records nothing, yet its delivery must not overtake turn 1's.
  turn.local[0].push_back(delivery(msg("two")));
  CHECK(f.end_turn(turn).empty());
  bool after_ran = false;
  f.order.after_shipped([&] { after_ran = true; });
  CHECK_FALSE(after_ran);
  REQUIRE(f.store.pending.size() == 1);
  f.store.complete_next();
  REQUIRE(f.completed.size() == 1);
  CHECK(f.completed[0].first == 1);
  auto c = f.order.on_committed(1, f.completed[0].second);
  CHECK(payloads(c) == std::vector<std::string>{"one", "two"});
  REQUIRE(c.released.size() == 1);
  REQUIRE(c.released[0].after.size() == 1);
  c.released[0].after[0]();
  CHECK(after_ran);
  CHECK_FALSE(f.order.waiting());
  // Nothing waits any more: the next turn's deliveries leave at once.
  turn.local[0].push_back(delivery(msg("three")));
  CHECK(f.end_turn(turn) == std::vector<std::string>{"three"});
}

TEST_CASE("a channel waits for the ticket its output promises", "[commit_order]") {
  Fixture f;
  auto* ch = reinterpret_cast<Channel*>(0x10);  // never dereferenced
  auto* other = reinterpret_cast<Channel*>(0x20);
  CHECK(f.order.await(*ch, nullptr) == 1);
  CHECK(f.commit());  // an empty batch still goes: someone waits for it
  CHECK(f.order.await(*other, nullptr) == 2);
  CHECK(f.commit());
  f.store.complete_next();
  auto c1 = f.order.on_committed(1, {});
  CHECK(c1.channels == std::vector<Channel*>{ch});
  f.order.forget(*other);  // its connection closed meanwhile
  f.store.complete_next();
  auto c2 = f.order.on_committed(2, {});
  CHECK(c2.channels.empty());
  CHECK_FALSE(f.commit());  // nothing recorded, nobody waits: no commit
}

TEST_CASE("a failed commit refuses the deliveries of the messages its publishers were refused",
          "[commit_order]") {
  Fixture f;
  auto* ch = reinterpret_cast<Channel*>(0x10);
  auto refused = msg("refused");
  auto fine = msg("fine");
  f.order.batch()->put_retained(*refused);
  f.order.await(*ch, refused.get());
  Outboxes turn(1);
  turn.local[0].push_back(delivery(refused));
  turn.local[0].push_back(delivery(fine));
  turn.to_peer(2).push_back({refused, true, {}, false, {}});
  turn.to_peer(2).push_back({fine, true, {}, false, {}});
  CHECK(f.end_turn(turn).empty());
  f.store.complete_next(storage::Status(storage::Status::Code::NoSpace, "disk full"));
  auto c = f.order.on_committed(1, f.completed.at(0).second);
  CHECK(c.channels == std::vector<Channel*>{ch});
  // Local deliveries still travel, marked, to settle their target's counts; peers never
  // see the refused message.
  CHECK(payloads(c) == std::vector<std::string>{"refused!", "fine"});
  CHECK(c.refused == 1);
  REQUIRE(c.released[0].out.remote.size() == 3);
  REQUIRE(c.released[0].out.remote[2].size() == 1);
  CHECK(c.released[0].out.remote[2][0].msg == fine);
}

}  // namespace
}  // namespace emqxd::session::test
