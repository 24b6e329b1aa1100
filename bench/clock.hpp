#pragma once
// The two clocks of the bench. Scheduling (connection rate, publish intervals, timeouts)
// runs on CLOCK_MONOTONIC; the send time carried in payloads is CLOCK_REALTIME, so that a
// publisher and a subscriber in different processes (or on hosts synchronised by PTP/NTP)
// can compute end-to-end latency. Both are vDSO calls, ~20 ns.
#include <time.h>

#include <cstdint>

namespace emqxd::bench {

inline std::int64_t mono_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline std::int64_t wall_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

inline constexpr std::int64_t kNsPerMs = 1'000'000;
inline constexpr std::int64_t kNsPerSec = 1'000'000'000;

}  // namespace emqxd::bench
