#pragma once
// Control: what the main thread tells the workers. Phases only move forward; workers poll
// the phase at least every 20 ms.
#include <atomic>
#include <cstdint>

namespace emqxd::bench {

enum class Phase : int {
  Subscribing = 0,  // subscribers and plain connections are connecting; publishers wait
  Publishing = 1,   // publishers connect (from pub_start_ns) and publish
  Finishing = 2,    // publishers send their final message; acks and deliveries drain
  Stopping = 3,     // DISCONNECT, close everything, exit the thread
};

struct Control {
  std::atomic<Phase> phase{Phase::Subscribing};
  std::atomic<std::int64_t> pub_start_ns{0};  // monotonic; set before phase = Publishing
  std::int64_t start_ns = 0;                  // monotonic; set before the workers start
};

}  // namespace emqxd::bench
