// Node evacuation (evacuation.hpp).
#include "net/evacuation.hpp"

#include <algorithm>
#include <atomic>
#include <memory>

#include "common/log.hpp"
#include "net/node_counters.hpp"
#include "net/worker.hpp"
#include "session/node_state.hpp"

namespace emqxd::net {

namespace {

auto logger() {
  return log::get("node");
}

constexpr std::chrono::milliseconds kTick{100};  // eviction rounds: rate / 10 each

}  // namespace

Evacuation::Evacuation(session::NodeState& node, std::vector<Worker*> workers)
    : node_(node), workers_(std::move(workers)) {
  status_.state = "disabled";
}

Evacuation::~Evacuation() {
  std::lock_guard one(start_mutex_);
  {
    std::lock_guard lock(mutex_);
    ++generation_;
  }
  changed_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool Evacuation::start(Options options) {
  std::lock_guard one(start_mutex_);
  std::unique_lock lock(mutex_);
  if (status_.active) return false;
  const std::uint64_t generation = ++generation_;
  status_ = Status{};
  status_.active = true;
  status_.state = "waiting_health_check";
  status_.options = options;
  const Counts now = counts();
  status_.initial_connected = status_.current_connected = now.connections;
  status_.initial_sessions = status_.current_sessions = now.sessions;
  node_.gate.close(options.redirect_to);
  logger()->warn(
      "evacuation started: new clients refused, {} connections to send elsewhere at {}/s "
      "after {} s, then {} s for their sessions to be taken over{}",
      status_.initial_connected, options.conn_evict_rate, options.wait_health_check.count(),
      options.wait_takeover.count(),
      options.redirect_to.empty() ? "" : " (server reference " + options.redirect_to + ")");
  lock.unlock();
  if (thread_.joinable()) thread_.join();  // a stopped evacuation's thread ends at once
  thread_ = std::thread([this, generation] { run(generation); });
  changed_.notify_all();
  return true;
}

bool Evacuation::stop() {
  {
    std::lock_guard lock(mutex_);
    if (!status_.active) return false;
    ++generation_;
    status_.active = false;
    status_.state = "disabled";
    node_.gate.open();
  }
  changed_.notify_all();
  logger()->warn("evacuation stopped: new clients are taken again");
  return true;
}

Evacuation::Status Evacuation::status() const {
  std::lock_guard lock(mutex_);
  Status s = status_;
  if (s.active) {
    const Counts now = counts();
    s.current_connected = now.connections;
    s.current_sessions = now.sessions;
  }
  return s;
}

bool Evacuation::running(std::uint64_t generation) const {
  return generation_ == generation && status_.active;
}

bool Evacuation::sleep_until(std::uint64_t generation,
                             std::chrono::steady_clock::time_point until) {
  std::unique_lock lock(mutex_);
  changed_.wait_until(lock, until, [&] { return !running(generation); });
  return running(generation);
}

void Evacuation::set_state(std::uint64_t generation, const char* state) {
  {
    std::lock_guard lock(mutex_);
    if (!running(generation)) return;
    status_.state = state;
  }
  changed_.notify_all();
  logger()->info("evacuation: {}", state);
}

Evacuation::Counts Evacuation::counts() const {
  Counts n;
  for (const auto& c : node_stats(node_, nullptr)) {
    if (c.name == "connections.count") n.connections = c.value;
    if (c.name == "sessions.count") n.sessions = c.value;
  }
  return n;
}

void Evacuation::run(std::uint64_t generation) {
  Options o;
  {
    std::lock_guard lock(mutex_);
    o = status_.options;
  }
  using Clock = std::chrono::steady_clock;
  if (!sleep_until(generation, Clock::now() + o.wait_health_check)) return;

  set_state(generation, "evicting_conns");
  // Each tick closes rate/10 connections (a tenth carried over) node-wide: the tick's share
  // is split over the workers, the remainder going round them in turn, and what a worker
  // could not close (it had fewer connections) is asked again of all at the next tick, once
  // every worker has answered. Never faster than the rate, whatever the number of workers.
  // Bounded: a connection that does not go (a socket stuck closing) must not hold the
  // evacuation, and with it a Kubernetes preStop, forever.
  struct Tally {
    std::atomic<std::size_t> closed{0};
    std::atomic<std::size_t> answered{0};
  };
  const auto tally = std::make_shared<Tally>();
  std::size_t asked = 0;
  std::size_t posted = 0;
  std::size_t turn = 0;
  double budget = 0;
  auto next = Clock::now();
  const auto evict_until =
      next +
      std::chrono::seconds(counts().connections / std::max<std::uint32_t>(o.conn_evict_rate, 1)) +
      std::chrono::seconds(10);
  while (counts().connections > 0 && Clock::now() < evict_until) {
    budget += o.conn_evict_rate * (static_cast<double>(kTick.count()) / 1000.0);
    if (tally->answered.load() == posted) {  // all answered: what they could not close
      budget += static_cast<double>(asked - tally->closed.load());
      asked = tally->closed.load();
    }
    const auto n = static_cast<std::size_t>(budget);
    budget -= static_cast<double>(n);
    const std::size_t w = workers_.size();
    for (std::size_t i = 0; i < w && n > 0; ++i) {
      const std::size_t share = n / w + ((i + w - turn % w) % w < n % w ? 1 : 0);
      if (share == 0) continue;
      asked += share;
      ++posted;
      Worker* worker = workers_[i];
      worker->post([worker, share, tally, ref = o.redirect_to] {
        tally->closed += worker->evict(share, ref);
        ++tally->answered;
      });
    }
    turn += n % std::max<std::size_t>(w, 1);
    next += kTick;
    if (!sleep_until(generation, next)) return;
  }

  set_state(generation, "waiting_takeover");
  const auto until = Clock::now() + o.wait_takeover;
  while (Clock::now() < until && counts().sessions > 0) {
    if (!sleep_until(generation, std::min(until, Clock::now() + std::chrono::milliseconds(200)))) {
      return;
    }
  }
  const auto left = counts().sessions;
  set_state(generation, "prohibiting");
  logger()->warn(
      "evacuation done: no connection left; {} sessions not taken over stay on this node{}", left,
      left == 0 ? "" : " (kept on disk when durable)");
}

}  // namespace emqxd::net
