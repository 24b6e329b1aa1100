#pragma once
// TokenBucket: EMQX's rate ("100/s", "1MB/10s") as a bucket that refills continuously at
// count/period and holds at most one period's worth, full at the start. Used per client by
// messages_rate and bytes_rate (net/connection.cpp): a PUBLISH takes one token and waits
// for it (try_take); bytes already read are taken whole (take), so the balance may go
// below zero, and reading stays paused until that debt is repaid. The average over any
// long stretch is then the rate exactly, whatever the sizes of the reads.
//
// A paused reader is woken once `quantum()` tokens are back: one token, or 10 ms' worth
// when that is more, so that a high rate costs one timer per 10 ms, not one per packet.
//
// No clock of its own: every call takes `now`. One owner (a connection, on its worker).
#include <algorithm>
#include <chrono>
#include <cstdint>

namespace emqxd {

class TokenBucket {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kMinWake{10};

  // `count` tokens per `period` (both > 0), full at `now`.
  TokenBucket(std::uint64_t count, std::chrono::nanoseconds period, Clock::time_point now)
      : capacity_(static_cast<double>(count)),
        per_ns_(static_cast<double>(count) / static_cast<double>(period.count())),
        tokens_(capacity_),
        refilled_(now) {}

  // Takes `n` if there are that many at `now`.
  bool try_take(double n, Clock::time_point now) {
    refill(now);
    if (tokens_ < n) return false;
    tokens_ -= n;
    return true;
  }
  // Takes `n` whatever the balance (what was read is never given back).
  void take(double n, Clock::time_point now) {
    refill(now);
    tokens_ -= n;
  }
  // At least one token at `now`.
  bool ready(Clock::time_point now) {
    refill(now);
    return tokens_ >= 1;
  }
  // Whole tokens at `now`, at most `cap` (a read's size); 0 when in debt.
  std::uint64_t available(std::uint64_t cap, Clock::time_point now) {
    refill(now);
    if (tokens_ < 1) return 0;
    return std::min<std::uint64_t>(cap, static_cast<std::uint64_t>(tokens_));
  }
  // How long after the last call until quantum() tokens are there; zero if they are.
  Clock::duration wait() const {
    const double missing = quantum() - tokens_;
    if (missing <= 0) return Clock::duration::zero();
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double, std::nano>(missing / per_ns_ + 1));
  }
  double quantum() const {
    return std::min(capacity_, std::max(1.0, per_ns_ * std::chrono::nanoseconds(kMinWake).count()));
  }
  double tokens() const { return tokens_; }
  double capacity() const { return capacity_; }

 private:
  void refill(Clock::time_point now) {
    if (now <= refilled_) return;
    tokens_ = std::min(
        capacity_,
        tokens_ + static_cast<double>(std::chrono::nanoseconds(now - refilled_).count()) * per_ns_);
    refilled_ = now;
  }

  double capacity_;
  double per_ns_;
  double tokens_;
  Clock::time_point refilled_;
};

}  // namespace emqxd
