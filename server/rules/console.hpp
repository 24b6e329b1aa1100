#pragma once
// The console action's output (EMQX's `console` function): one entry per output of a
// rule, written to the node's standard output (as EMQX's, not to the log) by a thread of
// its own, so that the worker that ran the rule never waits on the I/O. At most
// kMaxQueued entries (kMaxBytes) wait; more are refused (the rule counts the action as
// failed).
// EMQX prints Erlang terms; emqxd prints JSON:
//
//   [rule action] rule_1
//           Action Data: {"payload":"hello",...}
//           Envs: {"event":"message.publish","topic":"t/1",...}
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <string>
#include <thread>

namespace emqxd::rules {

class Console {
 public:
  static constexpr std::size_t kMaxQueued = 4096;
  static constexpr std::size_t kMaxBytes = 16u << 20;

  Console();
  ~Console();  // writes what is queued, then stops
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  // Any thread; false when kMaxQueued entries wait already.
  bool push(std::string entry);

 private:
  void loop();

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;  // guarded by mutex_
  std::size_t bytes_ = 0;          // guarded by mutex_
  bool stop_ = false;              // guarded by mutex_
  std::thread thread_;
};

}  // namespace emqxd::rules
