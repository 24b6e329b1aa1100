// TopicTrie: insert, find, erase with pruning, for_each, and match() against the
// reference matcher (topic_matches) on the spec examples and on random filters and topics.
#include "broker/topic_trie.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "broker/topic.hpp"

// GCC flags free() of memory from (our own, malloc-based) operator new: not a mismatch here.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

// Counts heap allocations while `g_count_allocations` is set, to show match() makes none.
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<std::size_t> g_allocations{0};
}  // namespace

namespace {
void* counted_malloc(std::size_t size) noexcept {
  if (g_count_allocations.load(std::memory_order_relaxed)) ++g_allocations;
  return std::malloc(size == 0 ? 1 : size);
}
}  // namespace

// Every unaligned form, so that no allocation reaches a sanitizer's own operator new and
// comes back through ours (ASan reports that as a mismatch).
void* operator new(std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) {
  if (void* p = counted_malloc(size)) return p;
  throw std::bad_alloc();
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size);
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return counted_malloc(size);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}

namespace emqxd::broker {
namespace {

using Trie = TopicTrie<std::string>;

// Stores each filter as its own value.
void add(Trie& trie, std::string_view filter) {
  trie.at(filter) = std::string(filter);
}

std::vector<std::string> matches(const Trie& trie, std::string_view topic) {
  std::vector<std::string> out;
  trie.match(topic, [&](const std::string& v) { out.push_back(v); });
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_CASE("at() creates a default value once, find() sees exact filters only", "[trie]") {
  TopicTrie<int> trie;
  CHECK(trie.empty());
  CHECK(trie.find("a/b") == nullptr);
  trie.at("a/b") = 7;
  CHECK(trie.size() == 1);
  CHECK(trie.at("a/b") == 7);  // existing: not reset
  CHECK(trie.size() == 1);
  REQUIRE(trie.find("a/b") != nullptr);
  CHECK(*trie.find("a/b") == 7);
  CHECK(trie.find("a") == nullptr);    // a path node without a value
  CHECK(trie.find("a/+") == nullptr);  // find does not match wildcards
  CHECK(trie.at("a/+") == 0);          // default-constructed
  CHECK(trie.size() == 2);
  const auto& ctrie = trie;
  REQUIRE(ctrie.find("a/+") != nullptr);
  CHECK(*ctrie.find("a/+") == 0);
}

TEST_CASE("'+', '#' and empty levels are distinct keys", "[trie]") {
  TopicTrie<int> trie;
  trie.at("a/+") = 1;
  trie.at("a/#") = 2;
  trie.at("a/") = 3;
  trie.at("a") = 4;
  trie.at("/a") = 5;
  trie.at("/") = 6;
  trie.at("#") = 7;
  trie.at("+") = 8;
  CHECK(trie.size() == 8);
  CHECK(*trie.find("a/+") == 1);
  CHECK(*trie.find("a/#") == 2);
  CHECK(*trie.find("a/") == 3);
  CHECK(*trie.find("a") == 4);
  CHECK(*trie.find("/a") == 5);
  CHECK(*trie.find("/") == 6);
  CHECK(*trie.find("#") == 7);
  CHECK(*trie.find("+") == 8);
  CHECK(trie.find("//") == nullptr);
}

TEST_CASE("erase() removes the value and prunes the empty path", "[trie]") {
  TopicTrie<int> trie;
  trie.at("a/b/c") = 1;
  trie.at("a/b") = 2;
  trie.at("a/+/#") = 3;
  CHECK(trie.node_count_for_test() == 5);  // a, a/b, a/b/c, a/+, a/+/#
  CHECK_FALSE(trie.erase("a"));            // a path node, no value
  CHECK_FALSE(trie.erase("x/y"));
  CHECK(trie.erase("a/b/c"));
  CHECK_FALSE(trie.erase("a/b/c"));
  CHECK(trie.size() == 2);
  CHECK(trie.node_count_for_test() == 4);  // a/b/c pruned, a/b kept: it has a value
  CHECK(trie.erase("a/+/#"));
  CHECK(trie.node_count_for_test() == 2);  // a/+ and a/+/# pruned
  CHECK(*trie.find("a/b") == 2);
  CHECK(trie.erase("a/b"));
  CHECK(trie.empty());
  CHECK(trie.node_count_for_test() == 0);
  trie.at("x") = 1;
  trie.clear();
  CHECK(trie.empty());
  CHECK(trie.node_count_for_test() == 0);
}

TEST_CASE("erase() keeps nodes that still lead to other filters", "[trie]") {
  TopicTrie<int> trie;
  trie.at("a/b/c/d") = 1;
  trie.at("a/b/x") = 2;
  CHECK(trie.erase("a/b/c/d"));
  CHECK(trie.node_count_for_test() == 3);  // a, a/b, a/b/x
  CHECK(*trie.find("a/b/x") == 2);
}

TEST_CASE("for_each() rebuilds every stored filter", "[trie]") {
  Trie trie;
  const std::vector<std::string> filters = {"a",   "a/b",   "/",      "/a",
                                            "a/",  "a//b",  "+",      "#",
                                            "+/+", "a/+/#", "$SYS/#", "sport/tennis/player1"};
  for (const auto& f : filters)
    add(trie, f);
  std::vector<std::string> seen;
  trie.for_each([&](std::string_view filter, const std::string& value) {
    CHECK(filter == value);
    seen.emplace_back(filter);
  });
  CHECK(sorted(seen) == sorted(filters));
  CHECK(trie.size() == filters.size());
}

TEST_CASE("match(): multi-level wildcard examples of section 4.7.1.2", "[trie][match]") {
  Trie trie;
  add(trie, "sport/tennis/player1/#");
  add(trie, "sport/#");
  add(trie, "#");
  using V = std::vector<std::string>;
  CHECK(matches(trie, "sport/tennis/player1") == V{"#", "sport/#", "sport/tennis/player1/#"});
  CHECK(matches(trie, "sport/tennis/player1/ranking") ==
        V{"#", "sport/#", "sport/tennis/player1/#"});
  CHECK(matches(trie, "sport/tennis/player1/score/wimbledon") ==
        V{"#", "sport/#", "sport/tennis/player1/#"});
  CHECK(matches(trie, "sport") == V{"#", "sport/#"});
  CHECK(matches(trie, "sport/") == V{"#", "sport/#"});
  CHECK(matches(trie, "sports") == V{"#"});
}

TEST_CASE("match(): single-level wildcard examples of section 4.7.1.3", "[trie][match]") {
  Trie trie;
  for (auto f : {"sport/tennis/+", "sport/+", "+/+", "/+", "+", "sport/+/player1"}) {
    add(trie, f);
  }
  using V = std::vector<std::string>;
  CHECK(matches(trie, "sport/tennis/player1") == V{"sport/+/player1", "sport/tennis/+"});
  CHECK(matches(trie, "sport/tennis/player1/ranking").empty());
  CHECK(matches(trie, "sport") == V{"+"});
  CHECK(matches(trie, "sport/") == V{"+/+", "sport/+"});
  CHECK(matches(trie, "/finance") == V{"+/+", "/+"});
  CHECK(matches(trie, "/") == V{"+/+", "/+"});
}

TEST_CASE("match(): the '$' rule", "[trie][match][MQTT-4.7.2-1]") {
  Trie trie;
  for (auto f : {"#", "+/monitor/Clients", "$SYS/#", "$SYS/monitor/+", "+", "+/#", "$SYS/+/Clients",
                 "$SYS"}) {
    add(trie, f);
  }
  using V = std::vector<std::string>;
  CHECK(matches(trie, "$SYS/monitor/Clients") == V{"$SYS/#", "$SYS/+/Clients", "$SYS/monitor/+"});
  CHECK(matches(trie, "$SYS") == V{"$SYS", "$SYS/#"});
  CHECK(matches(trie, "other/monitor/Clients") == V{"#", "+/#", "+/monitor/Clients"});
}

TEST_CASE("match() allocates nothing", "[trie][match]") {
  TopicTrie<int> trie;
  for (auto f : {"a/b/c", "a/+/c", "a/#", "#", "+/+/+", "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q"}) {
    trie.at(f) = 1;
  }
  // A long level would not fit std::string's small buffer if the matcher copied it.
  const std::string topic = "a/" + std::string(100, 'x') + "/c";
  int hits = 0;
  g_allocations = 0;
  g_count_allocations = true;
  trie.match(topic, [&](int) { ++hits; });
  trie.match("a/b/c", [&](int) { ++hits; });
  g_count_allocations = false;
  CHECK(g_allocations == 0);
  CHECK(hits == 4 + 5);
}

// Random filters and topics over a small alphabet, so that wildcards, empty levels and '$'
// collide often; the trie must agree with topic_matches() on every pair.
std::string random_level(std::mt19937& rng, bool first) {
  static const char* const kLevels[] = {"a", "b", "c", "", "$s", "x$"};
  std::uniform_int_distribution<int> pick(0, 5);
  std::string level = kLevels[pick(rng)];
  if (!first && level == "$s") level = "a";  // keep '$' mostly at the front
  return level;
}

std::string random_topic(std::mt19937& rng) {
  std::uniform_int_distribution<int> levels(1, 5);
  std::string topic;
  for (int i = 0, n = levels(rng); i < n; ++i) {
    if (i > 0) topic += '/';
    topic += random_level(rng, i == 0);
  }
  return topic.empty() ? "/" : topic;  // a single empty level is no topic name
}

std::string random_filter(std::mt19937& rng) {
  std::uniform_int_distribution<int> levels(1, 5);
  std::uniform_int_distribution<int> kind(0, 9);
  std::string filter;
  const int n = levels(rng);
  for (int i = 0; i < n; ++i) {
    if (i > 0) filter += '/';
    const int k = kind(rng);
    if (k < 3) {
      filter += '+';
    } else if (k == 3 && i == n - 1) {
      filter += '#';
    } else {
      filter += random_level(rng, i == 0);
    }
  }
  return filter.empty() ? "/" : filter;
}

TEST_CASE("match() agrees with the reference matcher on random filters and topics",
          "[trie][match][MQTT-4.7.2-1]") {
  std::mt19937 rng(20240601);  // deterministic
  Trie trie;
  std::set<std::string> stored;
  for (int i = 0; i < 3000; ++i) {
    std::string f = random_filter(rng);
    INFO("filter: " << f);
    REQUIRE(validate_topic_filter(f, 0));
    add(trie, f);
    stored.insert(f);
  }
  REQUIRE(trie.size() == stored.size());

  auto check_all = [&](int rounds) {
    std::size_t total = 0;
    for (int i = 0; i < rounds; ++i) {
      const std::string topic = random_topic(rng);
      std::vector<std::string> expected;
      for (const auto& f : stored) {
        if (topic_matches(f, topic)) expected.push_back(f);
      }
      INFO("topic: " << topic);
      REQUIRE(matches(trie, topic) == expected);  // sorted: also proves no duplicates
      total += expected.size();
    }
    CHECK(total > static_cast<std::size_t>(rounds) * 3);  // the test is not vacuous
  };
  check_all(2000);

  // Erase about half, in random order, and check again.
  std::vector<std::string> order(stored.begin(), stored.end());
  std::shuffle(order.begin(), order.end(), rng);
  for (std::size_t i = 0; i < order.size() / 2; ++i) {
    REQUIRE(trie.erase(order[i]));
    stored.erase(order[i]);
  }
  REQUIRE(trie.size() == stored.size());
  check_all(2000);

  // Erase the rest: every node is pruned.
  for (const auto& f : stored)
    REQUIRE(trie.erase(f));
  CHECK(trie.empty());
  CHECK(trie.node_count_for_test() == 0);
}

}  // namespace
}  // namespace emqxd::broker
