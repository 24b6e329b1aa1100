#pragma once
// BlockingPool: a few threads for work that may take milliseconds (bcrypt and pbkdf2
// password checks), so that it never runs on a worker's event loop. A bounded queue: when
// `max_queued` tasks wait, submit() refuses instead of growing, and the caller answers
// "server busy". Tasks run in submission order per thread; stop() runs nothing more and
// joins (tasks still queued are dropped, their captures destroyed on the stopping thread).
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/task.hpp"

namespace emqxd::common {

class BlockingPool {
 public:
  using Task = common::Task;

  // Starts `threads` threads named `name` (at most 15 characters show in ps/top).
  BlockingPool(std::size_t threads, std::size_t max_queued, std::string name);
  ~BlockingPool();  // stop()
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Queues `t`; false (t dropped) when max_queued tasks already wait or the pool stopped.
  // Any thread.
  bool submit(Task t);
  void stop();

 private:
  void run();

  const std::size_t max_queued_;
  const std::string name_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Task> queue_;  // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace emqxd::common
