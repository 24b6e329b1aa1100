#pragma once
// Scheduler: what session code needs from the thread it runs on, and nothing more. A
// net::Worker implements it over its io_context and inbox; unit tests implement it with a
// manual clock and a task list (tests/unit/session/fake_workers.hpp), so the session
// logic runs the same in both without threads or Asio.
//
// Every method is called on the scheduler's own worker thread, except post() and
// post_deliveries(), which any thread may call. Tasks run later, in a turn of their own, in the
// order posted.
#include <chrono>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/task.hpp"

namespace emqxd::broker {
struct Pressure;
}

namespace emqxd::session {

struct Delivery;

// A move-only callable (common/task.hpp).
using Task = common::Task;

// A one-shot timer; cancel() before it fires and it never runs. Dropping the handle does
// not cancel it.
class Timer {
 public:
  virtual ~Timer() = default;
  virtual void cancel() = 0;
};

class Scheduler {
 public:
  using Clock = std::chrono::steady_clock;

  virtual ~Scheduler() = default;

  // The worker this scheduler runs (0..workers()-1) and how many there are.
  virtual std::uint32_t id() const = 0;
  virtual std::uint32_t workers() const = 0;

  // Runs `task` on `worker`'s thread (this one included) in a later turn. Any thread.
  virtual void post(std::uint32_t worker, Task task) = 0;
  // Hands deliveries to `worker`'s sessions. Everything one worker posts to another
  // arrives in the order posted, deliveries before the tasks posted after them.
  virtual void post_deliveries(std::uint32_t worker, std::vector<Delivery>&& batch) = 0;
  // `worker`'s inbox when it is over its byte bound (net/worker.hpp): a publisher whose
  // message goes there is held until it drains. nullptr: it takes more.
  virtual std::shared_ptr<broker::Pressure> inbox_congestion(std::uint32_t /*worker*/) const {
    return nullptr;
  }

  // Runs `f` on this worker once `after` has passed.
  virtual std::shared_ptr<Timer> after(Clock::duration after, Task f) = 0;

  // The monotonic time, read coarsely (a few ms of resolution): everything the session
  // code times counts in milliseconds or more.
  virtual Clock::time_point now() const = 0;

  // Asks for the end of this turn (WorkerCore::end_of_turn) to run once this turn's
  // handlers are done: that is when deliveries leave and the storage batch commits.
  virtual void end_of_turn_needed() = 0;
};

}  // namespace emqxd::session
