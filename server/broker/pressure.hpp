#pragma once
// Pressure: how a subscriber's queue tells publishers to wait (mqtt.backpressure).
//
// Off by default: then every session's queue is bounded and drops its oldest message
// when full, so a slow or stalled subscriber never slows anyone else. With
// mqtt.backpressure = true, each QoS 1/2 delivery to a session is counted from the
// moment it is routed (in_transit, across workers) until it leaves the session's queue
// for the socket (queued mirrors the queue's length). A publish that brings a live
// session's count to its high watermark makes the publisher's connection stop reading
// until the count is back at the low watermark, so nothing is dropped: the slowest live
// subscriber sets the pace of the publishers it shares. The watermarks sit below
// max_mqueue_len, so what several publishers route at the same moment still fits.
//
// Who does not hold anyone back: an offline session (its queue drops as usual), and a
// stalled one: a publisher held for stall_timeout during which the session sent its
// client nothing marks it stalled, and its queue drops from then on, until it sends
// again.
//
// Counted by publishing workers, read by everybody, the rest written by the session's
// worker: relaxed atomics on separate cache lines. Publishers touch it only under the
// broker's lock (the broker entry keeps it alive) or through a shared_ptr.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>

namespace emqxd::broker {

struct Pressure {
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kDefaultStallTimeout{2};

  Pressure(std::int64_t high_mark, std::int64_t low_mark,
           std::chrono::nanoseconds stall = kDefaultStallTimeout)
      : high(high_mark), low(low_mark), stall_timeout(stall) {}

  // Deliveries routed to the session and not yet arrived on its worker.
  alignas(64) std::atomic<std::int64_t> in_transit{0};
  // The session's queue length (DeliveryQueue keeps it current) and liveness.
  alignas(64) std::atomic<std::int64_t> queued{0};
  // The last message sent to the client (Clock ticks in ns), and the stall verdict.
  std::atomic<std::int64_t> progress_ns{0};
  // When a QoS 0 message to the session was last dropped for a full socket backlog: until
  // kSaturatedFor later, publishers' workers drop its QoS 0 deliveries at once, instead of
  // handing them to its worker only to be dropped there.
  std::atomic<std::int64_t> qos0_dropped_ns{0};
  static constexpr std::chrono::milliseconds kSaturatedFor{10};
  void note_qos0_drop(Clock::time_point now) {
    qos0_dropped_ns.store(ticks(now), std::memory_order_relaxed);
  }
  bool qos0_saturated() const {
    auto last = qos0_dropped_ns.load(std::memory_order_relaxed);
    if (last == 0) return false;
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);  // the same clock as Clock, coarse and cheap
    auto now = std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
    return now - last < std::chrono::nanoseconds(kSaturatedFor).count();
  }
  std::atomic<bool> stalled{false};
  std::atomic<bool> online{false};
  const std::int64_t high;
  const std::int64_t low;
  // How long a held publisher waits for a session that sends its client nothing before
  // the session counts as stalled (mqtt.backpressure_stall_timeout).
  const std::chrono::nanoseconds stall_timeout;

  std::int64_t depth() const {
    return in_transit.load(std::memory_order_relaxed) + queued.load(std::memory_order_relaxed);
  }
  // The session sent its client a message: alive, whatever was said before.
  void note_progress(Clock::time_point now) {
    progress_ns.store(ticks(now), std::memory_order_relaxed);
    if (stalled.load(std::memory_order_relaxed)) stalled.store(false, std::memory_order_relaxed);
  }
  // Whether a publish that reached the high watermark holds its publisher.
  bool holds() const {
    return online.load(std::memory_order_relaxed) && !stalled.load(std::memory_order_relaxed);
  }
  // For a publisher held since `since`: true when it may go on, marking the session
  // stalled if it sent nothing for stall_timeout of the wait.
  bool releases(Clock::time_point since, Clock::time_point now) {
    if (!holds() || depth() <= low) return true;
    auto quiet_from = std::max(ticks(since), progress_ns.load(std::memory_order_relaxed));
    if (ticks(now) - quiet_from < stall_timeout.count()) return false;
    stalled.store(true, std::memory_order_relaxed);
    return true;
  }

  static std::int64_t ticks(Clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
  }
};

// For a queue of max_mqueue_len `limit` (0 = unbounded): the high watermark is half of
// it, and at most a few milliseconds of delivery deep; the low one half of that.
inline std::shared_ptr<Pressure> make_pressure(std::uint32_t limit,
                                               std::chrono::nanoseconds stall_timeout) {
  constexpr std::int64_t kHighest = 8192;
  std::int64_t high = limit == 0 ? kHighest : std::min<std::int64_t>(kHighest, limit / 2);
  high = std::max<std::int64_t>(high, 1);
  return std::make_shared<Pressure>(high, high / 2, stall_timeout);
}

}  // namespace emqxd::broker
