#include "net/worker.hpp"

#include <time.h>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/resident.hpp"
#include "net/connection.hpp"

namespace emqxd::net {

namespace asio = boost::asio;

namespace {

class AsioTimer final : public session::Timer, public std::enable_shared_from_this<AsioTimer> {
 public:
  explicit AsioTimer(asio::io_context& io) : timer_(io) {}
  void start(session::Scheduler::Clock::duration after, session::Task f) {
    f_ = std::move(f);
    timer_.expires_after(after);
    // The handler holds the timer: dropping the handle does not cancel it.
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->cancelled_) return;
      auto task = std::move(self->f_);
      task();
    });
  }
  void cancel() override {
    cancelled_ = true;
    timer_.cancel();
    f_ = session::Task();
  }

 private:
  asio::steady_timer timer_;
  session::Task f_;
  bool cancelled_ = false;
};

}  // namespace

Worker::Worker(std::uint32_t id, session::NodeState& node, const std::vector<Worker*>& all)
    : id_(id),
      all_(all),
      io_(1),
      core_(node, *this),
      inbox_pressure_(std::make_shared<broker::Pressure>(kInboxHighBytes, kInboxLowBytes)) {
  inbox_pressure_->online.store(true, std::memory_order_relaxed);
}

Worker::~Worker() {
  join();
}

void Worker::start() {
  core_.start();
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void Worker::stop() {
  io_.stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

Worker::Clock::time_point Worker::now() const {
  // Same clock as std::chrono::steady_clock (CLOCK_MONOTONIC), read coarsely.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return Clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

std::shared_ptr<session::Timer> Worker::after(Clock::duration after, session::Task f) {
  auto t = std::make_shared<AsioTimer>(io_);
  t->start(after, std::move(f));
  return t;
}

// ---------------------------------------------------------------- inbox (any thread)

void Worker::post(session::Task task) {
  bool schedule = false;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(task));
    schedule = !inbox_scheduled_;
    inbox_scheduled_ = true;
  }
  if (schedule) asio::post(io_, [this] { drain_inbox(); });
}

namespace {

// What a batch of deliveries holds: each record, and each message once per run of it.
std::int64_t batch_bytes(const std::vector<session::Delivery>& batch) {
  std::size_t n = batch.size() * sizeof(session::Delivery);
  const mqtt::Message* last = nullptr;
  for (const auto& d : batch) {
    if (d.msg.get() == last || !d.msg) continue;
    last = d.msg.get();
    n += sizeof(mqtt::Message) + last->topic.size() + last->payload.size();
  }
  return static_cast<std::int64_t>(n);
}

}  // namespace

void Worker::post_deliveries(std::vector<session::Delivery>&& batch) {
  bool schedule = false;
  const std::int64_t bytes = batch_bytes(batch);
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_pressure_->queued.fetch_add(bytes, std::memory_order_relaxed);
    if (inbox_deliveries_.empty()) {
      inbox_deliveries_ = std::move(batch);
    } else {
      for (auto& d : batch)
        inbox_deliveries_.push_back(std::move(d));
    }
    schedule = !inbox_scheduled_;
    inbox_scheduled_ = true;
  }
  if (schedule) asio::post(io_, [this] { drain_inbox(); });
}

void Worker::post(std::uint32_t worker, session::Task task) {
  all_[worker]->post(std::move(task));
}

void Worker::post_deliveries(std::uint32_t worker, std::vector<session::Delivery>&& batch) {
  all_[worker]->post_deliveries(std::move(batch));
}

std::shared_ptr<broker::Pressure> Worker::inbox_congestion(std::uint32_t worker) const {
  const auto& p = all_[worker]->inbox_pressure_;
  if (p->queued.load(std::memory_order_relaxed) < p->high || !p->holds()) return nullptr;
  return p;
}

void Worker::drain_inbox() {
  std::vector<session::Task> tasks;
  std::vector<session::Delivery> deliveries;
  {
    std::lock_guard lock(inbox_mutex_);
    tasks.swap(inbox_);
    deliveries.swap(inbox_deliveries_);
    inbox_scheduled_ = false;
    inbox_pressure_->queued.store(0, std::memory_order_relaxed);
  }
  inbox_pressure_->note_progress(now());
  // Deliveries first: a task may be a barrier acknowledging that everything its sender
  // had matched before it is already here (SessionManager::takeover). Both come from one
  // lock hold, and every sender posts its deliveries before its barrier acks.
  core_.deliver(deliveries);
  for (auto& t : tasks)
    t();
}

// ---------------------------------------------------------------- end of turn

void Worker::trim_heap_soon() {
  if (trim_scheduled_) return;
  trim_scheduled_ = true;
  // After the burst: 100 connections cut at once free their memory within a few turns.
  after(std::chrono::milliseconds(200), [this] {
    trim_scheduled_ = false;
    return_free_heap();
  });
}

void Worker::mark_dirty(std::shared_ptr<Connection> c) {
  dirty_.push_back(std::move(c));
  end_of_turn_needed();
}

void Worker::end_of_turn_needed() {
  if (end_of_turn_scheduled_) return;
  end_of_turn_scheduled_ = true;
  asio::post(io_, [this] { end_of_turn(); });
}

void Worker::end_of_turn() {
  end_of_turn_scheduled_ = false;
  core_.end_of_turn();
  // Writing may close connections, which may publish wills, which may dirty more.
  while (!dirty_.empty()) {
    auto batch = std::move(dirty_);
    dirty_.clear();
    for (auto& c : batch)
      c->flush();
    core_.end_of_turn();
  }
}

// ---------------------------------------------------------------- shutdown

void Worker::publish_wills_for_shutdown() {
  for (auto* c : connections_)
    c->channel().publish_will_now();
  core_.sessions().publish_pending_wills();
}

void Worker::kick_all(mqtt::ReasonCode reason) {
  std::vector<Connection*> all(connections_.begin(), connections_.end());
  for (auto* c : all)
    c->channel().kick(reason);
}

std::size_t Worker::evict(std::size_t n, const std::string& server_reference) {
  std::vector<Connection*> some;
  for (auto* c : connections_) {
    if (some.size() == n) break;
    // Not one evicted already (closing until its socket is gone) or still connecting
    // (the closed gate answers its CONNECT).
    if (c->channel().state() == session::Channel::State::Connected) some.push_back(c);
  }
  for (auto* c : some)
    c->channel().kick(mqtt::ReasonCode::UseAnotherServer, server_reference);
  return some.size();
}

}  // namespace emqxd::net
