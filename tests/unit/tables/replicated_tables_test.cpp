// ReplicatedTables (tables/replicated_tables.hpp): last writer wins whatever the order
// entries arrive in, tombstones, bounds, persistence through a store and back.
#include "tables/replicated_tables.hpp"

#include <catch2/catch.hpp>

#include "storage/memory_store.hpp"

namespace emqxd::tables::test {
namespace {

struct FakeClock {
  std::uint64_t now = 1'000'000;
  ReplicatedTables::Clock fn() {
    return [this] { return now; };
  }
};

std::map<std::string, std::string> contents(const ReplicatedTables& t, const std::string& table) {
  std::map<std::string, std::string> out;
  t.scan(table, "", [&](const std::string& k, const std::string& v) {
    out[k] = v;
    return true;
  });
  return out;
}

TEST_CASE("put, get, erase and scan in key order") {
  FakeClock c;
  ReplicatedTables t(nullptr, "n1", c.fn());
  t.declare("users", 10);
  CHECK(t.put("users", "b", "2"));
  CHECK(t.put("users", "a", "1"));
  CHECK(t.get("users", "a") == "1");
  CHECK(t.size("users") == 2);
  CHECK(contents(t, "users") == std::map<std::string, std::string>{{"a", "1"}, {"b", "2"}});
  CHECK(t.erase("users", "a"));
  CHECK_FALSE(t.erase("users", "a"));  // already gone
  CHECK_FALSE(t.get("users", "a"));
  CHECK(t.size("users") == 1);
  CHECK_FALSE(t.put("nosuch", "k", "v"));  // undeclared
}

TEST_CASE("stamps grow even when the clock stands still or goes back") {
  FakeClock c;
  ReplicatedTables t(nullptr, "n1", c.fn());
  t.declare("x", 10);
  t.put("x", "k", "1");
  c.now -= 500;
  t.put("x", "k", "2");
  std::vector<Entry> snap;
  t.snapshot(snap);
  REQUIRE(snap.size() == 1);
  CHECK(snap[0].value == "2");
  CHECK(snap[0].stamp == 1'000'001);
  CHECK(snap[0].origin == "n1");
}

TEST_CASE("two nodes converge whatever the order of their entries") {
  FakeClock c1, c2;
  ReplicatedTables a(nullptr, "a", c1.fn()), b(nullptr, "b", c2.fn());
  std::vector<Entry> from_a, from_b;
  a.declare("t", 10);
  b.declare("t", 10);
  a.set_replicator(
      [&](std::vector<Entry>&& e) { from_a.insert(from_a.end(), e.begin(), e.end()); });
  b.set_replicator(
      [&](std::vector<Entry>&& e) { from_b.insert(from_b.end(), e.begin(), e.end()); });
  a.put("t", "k", "from a");  // at 1'000'000
  c2.now = 2'000'000;
  b.put("t", "k", "from b");  // later: wins everywhere
  a.put("t", "only-a", "x");
  b.merge(std::vector<Entry>(from_a));
  a.merge(std::vector<Entry>(from_b));
  CHECK(a.get("t", "k") == "from b");
  CHECK(b.get("t", "k") == "from b");
  CHECK(contents(a, "t") == contents(b, "t"));
  // Replaying old entries changes nothing.
  a.merge(std::vector<Entry>(from_a));
  CHECK(a.get("t", "k") == "from b");
  // a's next write is stamped after what it has seen, so it wins although a's clock is behind.
  a.put("t", "k", "a again");
  from_a.clear();
  std::vector<Entry> snap;
  a.snapshot(snap);
  b.merge(std::move(snap));
  CHECK(b.get("t", "k") == "a again");
}

TEST_CASE("equal stamps are decided by the origin's name, the same on both sides") {
  ReplicatedTables a(nullptr, "a"), b(nullptr, "b");
  a.declare("t", 10);
  b.declare("t", 10);
  Entry x{"t", "k", "by a", false, 5, "a"};
  Entry y{"t", "k", "by b", false, 5, "b"};
  a.merge({x});
  a.merge({y});
  b.merge({y});
  b.merge({x});
  CHECK(a.get("t", "k") == "by b");
  CHECK(b.get("t", "k") == "by b");
}

TEST_CASE("a delete wins over an older put that arrives after it") {
  ReplicatedTables t(nullptr, "n");
  t.declare("t", 10);
  t.merge({Entry{"t", "k", "", true, 20, "a"}});
  t.merge({Entry{"t", "k", "old", false, 10, "b"}});
  CHECK_FALSE(t.get("t", "k"));
  t.merge({Entry{"t", "k", "new", false, 30, "b"}});
  CHECK(t.get("t", "k") == "new");
}

TEST_CASE("a full table refuses new keys, local or remote, and counts what it drops") {
  ReplicatedTables t(nullptr, "n");
  t.declare("t", 2);
  CHECK(t.put("t", "a", "1"));
  CHECK(t.put("t", "b", "1"));
  CHECK_FALSE(t.put("t", "c", "1"));
  CHECK(t.put("t", "a", "2"));  // an existing key may change
  t.merge({Entry{"t", "z", "1", false, 1ull << 60, "p"}, Entry{"nosuch", "k", "", false, 1, "p"}});
  CHECK_FALSE(t.get("t", "z"));
  CHECK(t.dropped() == 2);
}

TEST_CASE("listeners see every applied change, none that lost") {
  ReplicatedTables t(nullptr, "n");
  t.declare("t", 10);
  std::vector<std::string> seen;
  t.listen("t", [&](const Entry& e) { seen.push_back(e.key + (e.deleted ? "-" : "+") + e.value); });
  t.put("t", "k", "1");
  t.merge({Entry{"t", "k", "0", false, 1, "old"}});  // older: not applied, not reported
  t.erase("t", "k");
  CHECK(seen == std::vector<std::string>{"k+1", "k-"});
}

TEST_CASE("entries survive a restart through the store, old tombstones do not") {
  storage::MemoryStore store;
  FakeClock c;
  {
    ReplicatedTables t(&store, "n", c.fn());
    t.declare("users", 10);
    t.put("users", "alice", "hash-a");
    t.put("users", "bob", "hash-b");
    t.erase("users", "bob");
    t.merge({Entry{"users", "carol", "hash-c", false, 7, "peer"}});
  }
  SECTION("a tombstone younger than its life is kept") {
    ReplicatedTables t(&store, "n", c.fn());
    t.declare("users", 10);
    std::vector<std::string> loaded;
    t.listen("users", [&](const Entry& e) { loaded.push_back(e.key); });
    CHECK(t.load() == 2);
    CHECK(t.get("users", "alice") == "hash-a");
    CHECK(t.get("users", "carol") == "hash-c");
    CHECK_FALSE(t.get("users", "bob"));
    std::vector<Entry> snap;
    t.snapshot(snap);
    CHECK(snap.size() == 3);  // bob's tombstone still travels
    // After a restart, writes are still stamped after what was stored.
    c.now = 0;
    t.put("users", "alice", "hash-a2");
    snap.clear();
    t.snapshot(snap);
    CHECK(snap.front().stamp > 1'000'002);
  }
  SECTION("a tombstone older than its life is forgotten") {
    c.now += ReplicatedTables::kTombstoneLife + 10;
    ReplicatedTables t(&store, "n", c.fn());
    t.declare("users", 10);
    CHECK(t.load() == 2);
    std::vector<Entry> snap;
    t.snapshot(snap);
    CHECK(snap.size() == 2);
  }
}

TEST_CASE("the stored form of an entry reads back, and garbage does not") {
  Entry e{"t", "k", std::string("v\0x", 3), false, 0x0102030405060708ull, "node@host"};
  Entry back;
  REQUIRE(decode_slot(encode_slot(e), back));
  CHECK(back.value == e.value);
  CHECK(back.stamp == e.stamp);
  CHECK(back.origin == e.origin);
  CHECK_FALSE(back.deleted);
  CHECK_FALSE(decode_slot("", back));
  CHECK_FALSE(decode_slot(std::string(11, '\x07'), back));
  std::string tomb_with_value = encode_slot(Entry{"t", "k", "", true, 1, "n"}) + "x";
  CHECK_FALSE(decode_slot(tomb_with_value, back));
}

TEST_CASE("forget_if drops entries here only, from memory and the store, freeing their slots") {
  storage::MemoryStore store;
  FakeClock c;
  std::vector<Entry> sent;
  {
    ReplicatedTables t(&store, "n", c.fn());
    t.declare("tokens", 3);
    t.set_replicator([&](std::vector<Entry>&& e) { sent.insert(sent.end(), e.begin(), e.end()); });
    CHECK(t.put("tokens", "a", "dead"));
    CHECK(t.put("tokens", "b", "live"));
    CHECK(t.put("tokens", "c", "dead"));
    CHECK(t.erase("tokens", "b"));
    CHECK_FALSE(t.put("tokens", "d", "live"));  // full: two entries and a tombstone
    const auto replicated = sent.size();
    std::vector<std::string> asked;
    CHECK(t.forget_if("tokens",
                      [&](const std::string& k, const std::string& v, bool deleted, std::uint64_t) {
                        asked.push_back(k);
                        return deleted || v == "dead";
                      }) == 3);
    CHECK(asked == std::vector<std::string>{"a", "b", "c"});
    CHECK(sent.size() == replicated);  // nothing told to the peers
    CHECK(t.size("tokens") == 0);
    CHECK(t.put("tokens", "d", "live"));  // room again
    CHECK(t.forget_if("nosuch", [](auto&&...) { return true; }) == 0);
  }
  ReplicatedTables t(&store, "n", c.fn());
  t.declare("tokens", 3);
  CHECK(t.load() == 1);  // the store forgot them too
  CHECK(contents(t, "tokens") == std::map<std::string, std::string>{{"d", "live"}});
}

}  // namespace
}  // namespace emqxd::tables::test
