#pragma once
// FakeWorkers: N workers without threads, for the session core's unit tests. Each worker
// is a session::Scheduler over a task list and a shared manual clock, running a real
// session::WorkerCore over one real NodeState (broker, retainer, registry, store). run()
// plays the event loop: it runs posted tasks and due timers worker by worker, ending each
// turn (WorkerCore::end_of_turn) when the core asked for it, until nothing is left.
// advance() moves the clock and runs what became due. Deterministic: one task at a time.
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "broker/pressure.hpp"
#include "session/node_state.hpp"
#include "session/scheduler.hpp"
#include "session/worker_core.hpp"

namespace emqxd::session::test {

class FakeWorkers {
 public:
  using Clock = Scheduler::Clock;

  FakeWorkers(NodeState& node, std::uint32_t n) : now_(Clock::now()) {
    for (std::uint32_t i = 0; i < n; ++i)
      workers_.push_back(std::make_unique<Worker>(*this, i));
    for (auto& w : workers_) {
      w->core = std::make_unique<WorkerCore>(node, *w);
      node.cores.push_back(w->core.get());
    }
    for (auto& w : workers_)
      w->core->start();
  }

  WorkerCore& core(std::uint32_t w) { return *workers_[w]->core; }
  // Worker `w`'s inbox gauge (net::Worker keeps it in bytes): over its high mark, what is
  // routed there holds its publisher (Scheduler::inbox_congestion). None by default.
  void set_inbox(std::uint32_t w, std::shared_ptr<broker::Pressure> p) {
    workers_[w]->inbox = std::move(p);
  }
  Clock::time_point now() const { return now_; }

  // Runs everything posted and due, turn by turn, until the node is idle. Bounded: a
  // runaway loop fails the test rather than hanging it.
  void run() {
    for (int rounds = 0; rounds < 100000; ++rounds) {
      if (!step()) return;
    }
    throw std::runtime_error("FakeWorkers::run: still busy after 100000 turns");
  }
  // Moves the clock on by `d`, running the timers that fall due on the way, in order.
  void advance(Clock::duration d) {
    const auto until = now_ + d;
    run();
    for (;;) {
      Timer* next = nullptr;
      for (auto& t : timers_) {
        if (!t->cancelled && t->at <= until && (next == nullptr || t->at < next->at))
          next = t.get();
      }
      if (next == nullptr) break;
      now_ = std::max(now_, next->at);
      run();
    }
    now_ = until;
    run();
  }

 private:
  struct Timer final : session::Timer {
    Clock::time_point at;
    std::uint32_t worker = 0;
    Task f;
    bool cancelled = false;
    void cancel() override {
      cancelled = true;
      f = Task();
    }
  };

  struct Worker final : Scheduler {
    Worker(FakeWorkers& owner, std::uint32_t i) : all(owner), index(i) {}
    std::uint32_t id() const override { return index; }
    std::uint32_t workers() const override {
      return static_cast<std::uint32_t>(all.workers_.size());
    }
    void post(std::uint32_t worker, Task task) override {
      all.workers_[worker]->tasks.push_back(std::move(task));
    }
    void post_deliveries(std::uint32_t worker, std::vector<Delivery>&& batch) override {
      WorkerCore* target = all.workers_[worker]->core.get();
      all.workers_[worker]->tasks.push_back(
          [target, b = std::move(batch)]() mutable { target->deliver(b); });
    }
    std::shared_ptr<broker::Pressure> inbox_congestion(std::uint32_t worker) const override {
      const auto& p = all.workers_[worker]->inbox;
      if (!p || p->queued.load() < p->high || !p->holds()) return nullptr;
      return p;
    }
    std::shared_ptr<session::Timer> after(Clock::duration d, Task f) override {
      auto t = std::make_shared<Timer>();
      t->at = all.now_ + d;
      t->worker = index;
      t->f = std::move(f);
      all.timers_.push_back(t);
      return t;
    }
    Clock::time_point now() const override { return all.now_; }
    void end_of_turn_needed() override { end_of_turn = true; }

    FakeWorkers& all;
    std::uint32_t index;
    std::deque<Task> tasks;
    bool end_of_turn = false;
    std::unique_ptr<WorkerCore> core;
    std::shared_ptr<broker::Pressure> inbox;
  };

  // One task or due timer on each worker that has one; false when there was nothing.
  bool step() {
    bool any = false;
    for (auto& w : workers_) {
      if (w->end_of_turn) {  // what the test itself did on this worker
        any = true;
        end_turn(*w);
      }
      if (!w->tasks.empty()) {
        any = true;
        Task t = std::move(w->tasks.front());
        w->tasks.pop_front();
        t();
        end_turn(*w);
      }
    }
    for (std::size_t i = 0; i < timers_.size(); ++i) {
      auto t = timers_[i];
      if (t->cancelled || t->at > now_) continue;
      any = true;
      timers_.erase(timers_.begin() + static_cast<std::ptrdiff_t>(i));
      Task f = std::move(t->f);
      if (f) f();
      end_turn(*workers_[t->worker]);
      break;
    }
    std::erase_if(timers_, [](const auto& t) { return t->cancelled; });
    return any;
  }

  void end_turn(Worker& w) {
    while (w.end_of_turn) {
      w.end_of_turn = false;
      w.core->end_of_turn();
    }
  }

  Clock::time_point now_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::shared_ptr<Timer>> timers_;
};

}  // namespace emqxd::session::test
