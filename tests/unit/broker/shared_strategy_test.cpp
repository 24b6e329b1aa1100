// SharedPicker: each EMQX strategy's choice, distribution, fairness when members come and
// go, and skipping of unavailable members.
#include "broker/shared_strategy.hpp"

#include <algorithm>
#include <array>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

namespace emqxd::broker {
namespace {

constexpr SharedStrategy kAll[] = {
    SharedStrategy::Random,       SharedStrategy::RoundRobin, SharedStrategy::RoundRobinPerGroup,
    SharedStrategy::Sticky,       SharedStrategy::Local,      SharedStrategy::HashTopic,
    SharedStrategy::HashClientId,
};

// Picks `rounds` times with everything available and counts the picks per member.
std::vector<int> histogram(SharedPicker& picker, std::size_t n, int rounds,
                           const PickInput& in = {}) {
  std::vector<int> counts(n, 0);
  for (int i = 0; i < rounds; ++i) {
    auto m = picker.pick(n, in);
    REQUIRE(m);
    REQUIRE(*m < n);
    ++counts[*m];
  }
  return counts;
}

TEST_CASE("strategy names are EMQX's", "[shared]") {
  CHECK(parse_shared_strategy("random") == SharedStrategy::Random);
  CHECK(parse_shared_strategy("round_robin") == SharedStrategy::RoundRobin);
  CHECK(parse_shared_strategy("round_robin_per_group") == SharedStrategy::RoundRobinPerGroup);
  CHECK(parse_shared_strategy("sticky") == SharedStrategy::Sticky);
  CHECK(parse_shared_strategy("local") == SharedStrategy::Local);
  CHECK(parse_shared_strategy("hash_topic") == SharedStrategy::HashTopic);
  CHECK(parse_shared_strategy("hash_clientid") == SharedStrategy::HashClientId);
  CHECK_FALSE(parse_shared_strategy("hash_client_id"));
  CHECK_FALSE(parse_shared_strategy("Random"));
  CHECK_FALSE(parse_shared_strategy(""));
  for (auto s : kAll)
    CHECK(parse_shared_strategy(to_string(s)) == s);
}

TEST_CASE("no members or none available: no pick", "[shared]") {
  const std::array<bool, 3> none{false, false, false};
  for (auto s : kAll) {
    INFO(to_string(s));
    SharedPicker picker(s, 1);
    CHECK_FALSE(picker.pick(0));
    CHECK_FALSE(picker.pick(3, {.available = none, .client_id = "c", .topic = "t"}));
    CHECK(picker.pick(1) == std::size_t{0});
  }
}

TEST_CASE("every strategy skips unavailable members", "[shared]") {
  const std::array<bool, 5> available{false, true, false, true, false};
  for (auto s : kAll) {
    INFO(to_string(s));
    SharedPicker picker(s, 42);
    for (int i = 0; i < 500; ++i) {
      std::string key = "k" + std::to_string(i);
      auto m = picker.pick(5, {.available = available, .client_id = key, .topic = key});
      REQUIRE(m);
      CHECK((*m == 1 || *m == 3));
    }
  }
}

TEST_CASE("a callable can say which members are available", "[shared]") {
  std::vector<bool> online{true, false, true};  // std::vector<bool>: not a span of bools
  auto is_online = [&](std::size_t i) { return static_cast<bool>(online[i]); };
  SharedPicker picker(SharedStrategy::RoundRobin, 1);
  CHECK(picker.pick(3, {.available = is_online}) == std::size_t{0});
  CHECK(picker.pick(3, {.available = is_online}) == std::size_t{2});
  CHECK(picker.pick(3, {.available = is_online}) == std::size_t{0});
}

TEST_CASE("random: uniform, and reproducible from the seed", "[shared][random]") {
  SharedPicker picker(SharedStrategy::Random, 7);
  auto counts = histogram(picker, 5, 50000);
  for (int c : counts)
    CHECK((c > 9500 && c < 10500));

  SharedPicker a(SharedStrategy::Random, 99);
  SharedPicker b(SharedStrategy::Random, 99);
  for (int i = 0; i < 100; ++i)
    CHECK(a.pick(17) == b.pick(17));
}

TEST_CASE("random: uniform among the available members", "[shared][random]") {
  SharedPicker picker(SharedStrategy::Random, 8);
  const std::array<bool, 6> available{true, false, true, true, false, true};
  auto counts = histogram(picker, 6, 40000, {.available = available});
  CHECK(counts[1] == 0);
  CHECK(counts[4] == 0);
  for (std::size_t i : {0u, 2u, 3u, 5u})
    CHECK((counts[i] > 9500 && counts[i] < 10500));
}

TEST_CASE("round robin: members in turn", "[shared][round_robin]") {
  for (auto s : {SharedStrategy::RoundRobin, SharedStrategy::RoundRobinPerGroup}) {
    INFO(to_string(s));
    SharedPicker picker(s, 0);
    std::vector<std::size_t> seq;
    for (int i = 0; i < 8; ++i)
      seq.push_back(*picker.pick(4));
    CHECK(seq == std::vector<std::size_t>{0, 1, 2, 3, 0, 1, 2, 3});
    auto counts = histogram(picker, 4, 4000);
    CHECK(counts == std::vector<int>{1000, 1000, 1000, 1000});
  }
}

TEST_CASE("round robin: an unavailable member loses its turn to the next",
          "[shared][round_robin]") {
  SharedPicker picker(SharedStrategy::RoundRobin, 0);
  std::array<bool, 4> available{true, true, true, true};
  CHECK(picker.pick(4, {.available = available}) == std::size_t{0});
  available[1] = false;
  CHECK(picker.pick(4, {.available = available}) == std::size_t{2});
  CHECK(picker.pick(4, {.available = available}) == std::size_t{3});
  CHECK(picker.pick(4, {.available = available}) == std::size_t{0});
  available[1] = true;
  CHECK(picker.pick(4, {.available = available}) == std::size_t{1});
}

// Members identified by name in a vector, as a group keeps them; the picker is told of
// every insertion and removal, and the cycle goes on where it was. Members present
// throughout stay within one pick of each other.
TEST_CASE("round robin stays fair when members come and go", "[shared][round_robin]") {
  SharedPicker picker(SharedStrategy::RoundRobin, 0);
  std::vector<std::string> members{"a", "b", "c", "d", "e"};
  std::map<std::string, int> counts;
  std::string seq;
  auto run = [&](int rounds) {
    for (int i = 0; i < rounds; ++i) {
      const std::string& m = members[*picker.pick(members.size())];
      ++counts[m];
      seq += m;
    }
  };
  auto remove = [&](std::string_view name) {
    auto it = std::find(members.begin(), members.end(), name);
    picker.member_removed(static_cast<std::size_t>(it - members.begin()));
    members.erase(it);
  };
  auto insert = [&](std::size_t index, std::string name) {
    members.insert(members.begin() + static_cast<std::ptrdiff_t>(index), std::move(name));
    picker.member_inserted(index);
  };
  run(7);          // a b c d e a b; c is next
  remove("a");     // before the cursor
  run(3);          // c d e; b is next
  remove("b");     // the member next in turn: the one after it, c, is next
  insert(1, "x");  // after the cursor
  run(4);          // c x d e
  remove("d");     // after the cursor
  run(6);          // c x e c x e
  insert(3, "y");  // at the end
  run(8);          // c x e y c x e y
  CHECK(seq == "abcdeab" + std::string("cde") + "cxde" + "cxecxe" + "cxeycxey");
  CHECK(std::abs(counts["c"] - counts["e"]) <= 1);
  CHECK(counts["x"] == 5);
  CHECK(counts["y"] == 2);
}

TEST_CASE("round robin: a member inserted at the cursor is served next", "[shared][round_robin]") {
  SharedPicker picker(SharedStrategy::RoundRobin, 0);
  CHECK(picker.pick(3) == std::size_t{0});
  picker.member_inserted(1);  // the new member sits where the cursor points
  CHECK(picker.pick(4) == std::size_t{1});
  CHECK(picker.pick(4) == std::size_t{2});
  picker.member_inserted(0);  // before the cursor: the member it pointed at is still next
  CHECK(picker.pick(5) == std::size_t{4});
}

TEST_CASE("round robin copes with the member count shrinking unannounced",
          "[shared][round_robin]") {
  SharedPicker picker(SharedStrategy::RoundRobin, 0);
  for (int i = 0; i < 9; ++i)
    (void)picker.pick(10);
  auto m = picker.pick(3);  // cursor 9 in a group of 3
  REQUIRE(m);
  CHECK(*m < 3);
}

TEST_CASE("sticky: the same member until it becomes unavailable", "[shared][sticky]") {
  SharedPicker picker(SharedStrategy::Sticky, 5);
  std::array<bool, 4> available{true, true, true, true};
  const auto first = picker.pick(4, {.available = available});
  REQUIRE(first);
  for (int i = 0; i < 100; ++i)
    CHECK(picker.pick(4, {.available = available}) == first);

  available[*first] = false;
  const auto second = picker.pick(4, {.available = available});
  REQUIRE(second);
  CHECK(*second != *first);
  // It stays on the new member even when the old one comes back.
  available[*first] = true;
  for (int i = 0; i < 100; ++i)
    CHECK(picker.pick(4, {.available = available}) == second);
}

TEST_CASE("sticky: follows its member across index shifts, re-picks when it is removed",
          "[shared][sticky]") {
  SharedPicker picker(SharedStrategy::Sticky, 11);
  std::vector<std::string> members{"a", "b", "c", "d"};
  const std::string chosen = members[*picker.pick(members.size())];
  auto index_of = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(members.begin(), members.end(), name) -
                                    members.begin());
  };
  // Remove a member other than the chosen one, insert one in front: still the same member.
  const std::string other = chosen == "a" ? "b" : "a";
  const std::size_t other_index = index_of(other);
  members.erase(members.begin() + static_cast<std::ptrdiff_t>(other_index));
  picker.member_removed(other_index);
  members.insert(members.begin(), "z");
  picker.member_inserted(0);
  CHECK(members[*picker.pick(members.size())] == chosen);
  // Remove the chosen member: a new one is picked and kept.
  const std::size_t chosen_index = index_of(chosen);
  members.erase(members.begin() + static_cast<std::ptrdiff_t>(chosen_index));
  picker.member_removed(chosen_index);
  CHECK_FALSE(picker.sticky_member_for_test());
  const std::string next = members[*picker.pick(members.size())];
  CHECK(next != chosen);
  for (int i = 0; i < 20; ++i)
    CHECK(members[*picker.pick(members.size())] == next);
}

TEST_CASE("sticky: the first choices of many groups spread over the members", "[shared][sticky]") {
  std::vector<int> counts(4, 0);
  for (std::uint64_t seed = 0; seed < 4000; ++seed) {
    SharedPicker picker(SharedStrategy::Sticky, seed);
    ++counts[*picker.pick(4)];
  }
  for (int c : counts)
    CHECK((c > 850 && c < 1150));
}

TEST_CASE("local: a random local member, any member when none is local", "[shared][local]") {
  SharedPicker picker(SharedStrategy::Local, 3);
  const std::array<bool, 5> is_local{false, true, false, true, false};
  auto counts = histogram(picker, 5, 20000, {.is_local = is_local});
  CHECK(counts[0] == 0);
  CHECK(counts[2] == 0);
  CHECK(counts[4] == 0);
  CHECK((counts[1] > 9500 && counts[1] < 10500));

  // The local members are unavailable: fall back to the others, uniformly.
  const std::array<bool, 5> available{true, false, true, false, true};
  counts = histogram(picker, 5, 30000, {.available = available, .is_local = is_local});
  CHECK(counts[1] == 0);
  CHECK(counts[3] == 0);
  for (std::size_t i : {0u, 2u, 4u})
    CHECK((counts[i] > 9500 && counts[i] < 10500));

  // No member is local: random over all.
  const std::array<bool, 5> none{};
  counts = histogram(picker, 5, 50000, {.is_local = none});
  for (int c : counts)
    CHECK((c > 9500 && c < 10500));
}

TEST_CASE("hash_topic and hash_clientid: one key, one member", "[shared][hash]") {
  SharedPicker by_topic(SharedStrategy::HashTopic, 1);
  SharedPicker by_topic_other_seed(SharedStrategy::HashTopic, 2);
  SharedPicker by_client(SharedStrategy::HashClientId, 1);
  for (int i = 0; i < 200; ++i) {
    const std::string key = "device/" + std::to_string(i);
    const auto t = by_topic.pick(7, {.client_id = "ignored", .topic = key});
    CHECK(by_topic.pick(7, {.client_id = "other", .topic = key}) == t);
    CHECK(by_topic_other_seed.pick(7, {.topic = key}) == t);  // stable, not seeded
    const auto c = by_client.pick(7, {.client_id = key, .topic = "ignored"});
    CHECK(by_client.pick(7, {.client_id = key, .topic = "other"}) == c);
    CHECK(c == t);  // the same hash of the same string
  }
}

TEST_CASE("hash: keys spread evenly, a skipped member's keys spread over the others",
          "[shared][hash]") {
  SharedPicker picker(SharedStrategy::HashTopic, 1);
  std::vector<int> counts(5, 0);
  std::vector<std::size_t> home;
  for (int i = 0; i < 50000; ++i) {
    const std::string topic = "t/" + std::to_string(i);
    home.push_back(*picker.pick(5, {.topic = topic}));
    ++counts[home.back()];
  }
  for (int c : counts)
    CHECK((c > 9500 && c < 10500));

  const std::array<bool, 5> available{true, true, false, true, true};
  std::vector<int> moved(5, 0);
  for (int i = 0; i < 50000; ++i) {
    const std::string topic = "t/" + std::to_string(i);
    const auto m = picker.pick(5, {.available = available, .topic = topic});
    REQUIRE(m);
    if (home[static_cast<std::size_t>(i)] != 2) {
      CHECK(*m == home[static_cast<std::size_t>(i)]);  // other keys do not move
    } else {
      ++moved[*m];
      CHECK(picker.pick(5, {.available = available, .topic = topic}) == m);  // deterministic
    }
  }
  CHECK(moved[2] == 0);
  for (std::size_t i : {0u, 1u, 3u, 4u})
    CHECK(moved[i] > counts[2] / 4 - 400);
}

}  // namespace
}  // namespace emqxd::broker
