// TokenBucket (common/token_bucket.hpp): the arithmetic behind messages_rate and
// bytes_rate, on a clock moved by hand.
#include "common/token_bucket.hpp"

#include <catch2/catch.hpp>

using emqxd::TokenBucket;
using namespace std::chrono_literals;

namespace {
const TokenBucket::Clock::time_point t0{std::chrono::hours(1)};
}

TEST_CASE("token bucket: a period's worth at once, then the rate", "[token_bucket]") {
  TokenBucket b(50, 1s, t0);  // "50/s"
  int taken = 0;
  while (b.try_take(1, t0))
    ++taken;
  CHECK(taken == 50);  // full at the start: one period's worth passes at once
  CHECK_FALSE(b.ready(t0));
  CHECK(b.wait() >= 20ms);  // one token at 50/s: 20 ms
  CHECK(b.wait() < 20ms + 1us);
  CHECK_FALSE(b.try_take(1, t0 + 19ms));
  CHECK(b.try_take(1, t0 + 21ms));
  // 150 more take three seconds, never less (151 tokens at 50/s from t0: 3.02 s).
  int more = 0;
  auto t = t0 + 21ms;
  while (more < 150) {
    if (b.try_take(1, t)) {
      ++more;
    } else {
      t += b.wait();
    }
  }
  CHECK(t >= t0 + 3020ms);
  CHECK(t < t0 + 3020ms + 1ms);
}

TEST_CASE("token bucket: never holds more than one period's worth", "[token_bucket]") {
  TokenBucket b(1000, 10s, t0);  // "1000/10s"
  CHECK(b.try_take(1000, t0));
  CHECK(b.available(100000, t0 + 1h) == 1000);  // an hour idle refills to the capacity only
  CHECK(b.capacity() == 1000);
  CHECK(b.available(10, t0 + 1h) == 10);  // capped by the read's size
}

TEST_CASE("token bucket: bytes read are taken whole, the debt is repaid", "[token_bucket]") {
  TokenBucket b(1024, 1s, t0);  // "1KB/s"
  b.take(4096, t0);             // one read of 4 KB on a 1 KB/s budget
  CHECK(b.tokens() == Approx(-3072));
  CHECK_FALSE(b.ready(t0 + 2s));
  CHECK(b.available(65536, t0 + 2s) == 0);
  // 10 ms' worth is 10.24 bytes: woken once ~10 bytes are back, after 3 s of repaying.
  CHECK(b.quantum() == Approx(10.24));
  auto w = b.wait();
  CHECK(w > 1s);  // from t0 + 2s: 1024 bytes of debt left plus the quantum
  CHECK(w < 1s + 20ms);
  CHECK(b.ready(t0 + 2s + w));
  CHECK(b.available(65536, t0 + 2s + w) == 10);
}

TEST_CASE("token bucket: a high rate wakes every 10 ms, not every token", "[token_bucket]") {
  TokenBucket b(10000000, 1s, t0);  // "10000000/s"
  CHECK(b.quantum() == Approx(100000));
  CHECK(b.try_take(10000000, t0));
  CHECK(b.wait() >= 10ms);
  CHECK(b.wait() < 10ms + 1us);
  // A rate whose 10 ms' worth is more than its capacity wakes when full.
  TokenBucket tiny(5, 1ms, t0);  // 5 per ms: 10 ms would be 50
  CHECK(tiny.quantum() == 5);
  // The clock never goes back.
  CHECK(tiny.try_take(5, t0));
  CHECK_FALSE(tiny.try_take(1, t0 - 1s));
}
