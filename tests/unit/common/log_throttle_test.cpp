#include <catch2/catch.hpp>

#include "common/log.hpp"

using emqxd::log::Throttle;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

TEST_CASE("a throttle lets N lines a second through and counts the rest", "[log]") {
  Throttle t(3);
  auto now = Clock::now();
  std::uint64_t held = 99;
  CHECK(t.allow(now, held));
  CHECK(held == 0);
  CHECK(t.allow(now + 100ms, held));
  CHECK(t.allow(now + 200ms, held));
  CHECK_FALSE(t.allow(now + 300ms, held));
  CHECK_FALSE(t.allow(now + 999ms, held));
  // A new window: the next line goes out and says two were held back.
  CHECK(t.allow(now + 1000ms, held));
  CHECK(held == 2);
  CHECK(t.allow(now + 1001ms, held));
  CHECK(held == 0);
}
