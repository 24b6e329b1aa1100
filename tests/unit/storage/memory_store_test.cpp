// MemoryStore, the store of a node without durable sessions: commits complete at once,
// load() finds nothing, kv records are kept for the stores built on them.
#include "storage/memory_store.hpp"

#include <catch2/catch.hpp>
#include <set>
#include <thread>

#include "storage/storage_test_util.hpp"

namespace {

using namespace emqxd::storage;
using namespace emqxd::storage::test;

}  // namespace

TEST_CASE("memory store: commits complete inside commit(), load finds nothing",
          "[storage][memory]") {
  MemoryStore store;
  Batch b(fixed_clocks());
  b.put_session(session(1, "c"));
  b.put_subscription(subscription(1, "a"));
  b.put_delivery(delivery(1, store.next_seq()));
  b.put_retained(*full_message());
  bool called = false;
  store.commit(std::move(b), [&](Status s) {
    CHECK(s.ok());
    called = true;
  });
  CHECK(called);
  Recorder r;
  LoadSummary summary = store.load(r, fixed_clocks());
  CHECK(r.events.empty());
  CHECK(summary.sessions == 0);
  CHECK(store.health() == Health::Ok);
  CHECK(store.stats().commits == 1);
  store.commit(Batch(), nullptr);  // no completion is fine
}

TEST_CASE("memory store: kv put, get, erase, scan and erase namespace", "[storage][memory]") {
  MemoryStore store;
  Batch b;
  b.put_kv("a", "1", "a1");
  b.put_kv("a", "2", "a2");
  b.put_kv("ab", "1", "ab1");
  store.commit(std::move(b), nullptr);
  std::string v;
  REQUIRE(store.get_kv("a", "2", v).ok());
  CHECK(v == "a2");
  CHECK(store.get_kv("a", "3", v).is_not_found());
  std::vector<std::string> keys;
  REQUIRE(store
              .scan_kv("a",
                       [&](std::string_view k, std::string_view) {
                         keys.emplace_back(k);
                         return true;
                       })
              .ok());
  CHECK(keys == std::vector<std::string>{"1", "2"});

  Batch e;
  e.erase_kv("a", "1");
  store.commit(std::move(e), nullptr);
  CHECK(store.get_kv("a", "1", v).is_not_found());
  Batch n;
  n.erase_kv_namespace("a");
  store.commit(std::move(n), nullptr);
  CHECK(store.get_kv("a", "2", v).is_not_found());
  REQUIRE(store.get_kv("ab", "1", v).ok());
  CHECK(v == "ab1");
}

TEST_CASE("memory store: next_seq is unique and increasing across threads", "[storage][memory]") {
  MemoryStore store;
  std::vector<std::vector<std::uint64_t>> got(4);
  std::vector<std::thread> threads;
  for (auto& g : got) {
    threads.emplace_back([&store, &g] {
      for (int i = 0; i < 1000; ++i)
        g.push_back(store.next_seq());
    });
  }
  for (auto& t : threads)
    t.join();
  std::set<std::uint64_t> all;
  for (const auto& g : got) {
    for (std::size_t i = 1; i < g.size(); ++i)
      CHECK(g[i - 1] < g[i]);
    all.insert(g.begin(), g.end());
  }
  CHECK(all.size() == 4000);
  CHECK(*all.begin() == 1);
}
