#include "connectors/action.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cstring>

#include "common/log.hpp"

namespace emqxd::connectors {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("connectors");
  return l;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// A queued request: when it expires (steady ms; 0 = never), then the output's JSON.
std::string encode_item(std::int64_t expire_at, const json::object& output) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i)
    s[static_cast<std::size_t>(i)] =
        static_cast<char>(static_cast<std::uint64_t>(expire_at) >> (8 * i));
  s += json::serialize(output);
  return s;
}

std::int64_t expire_of(const std::string& item) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8 && static_cast<std::size_t>(i) < item.size(); ++i)
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(item[static_cast<std::size_t>(i)]))
         << (8 * i);
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::string_view status_name(Status s) {
  switch (s) {
    case Status::Connected:
      return "connected";
    case Status::Connecting:
      return "connecting";
    case Status::Disconnected:
      return "disconnected";
    case Status::Stopped:
      return "stopped";
  }
  return "disconnected";
}

// ---------------------------------------------------------------- ConnectorState

ConnectorState::ConnectorState(std::string id, std::unique_ptr<Connector> c,
                               std::chrono::milliseconds health_check_interval,
                               std::chrono::milliseconds timeout)
    : id_(std::move(id)),
      connector_(std::move(c)),
      interval_(health_check_interval),
      timeout_(timeout),
      thread_([this] { loop(); }) {}

ConnectorState::~ConnectorState() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

std::string ConnectorState::status_reason() const {
  std::lock_guard lock(mutex_);
  return reason_;
}

Status ConnectorState::check_now() {
  std::lock_guard one(check_mutex_);
  std::string reason;
  const Status s = connector_->health_check(timeout_, reason);
  const Status before = status_.exchange(s, std::memory_order_acq_rel);
  {
    std::lock_guard lock(mutex_);
    reason_ = s == Status::Connected ? std::string() : reason;
  }
  if (before != s) {
    if (s == Status::Connected) {
      logger()->info("connector {} is connected", id_);
    } else {
      logger()->warn("connector {} is {}: {}", id_, status_name(s), reason);
    }
  }
  return s;
}

void ConnectorState::loop() {
  std::unique_lock lock(mutex_);
  while (!stop_) {
    lock.unlock();
    check_now();
    lock.lock();
    // Down: look again sooner (EMQX retries every health_check_interval; a second is
    // enough to notice a restarted server quickly without hammering it).
    auto wait = status_.load() == Status::Connected
                    ? interval_
                    : std::min(interval_, std::chrono::milliseconds(1000));
    cv_.wait_for(lock, wait, [this] { return stop_; });
  }
}

// ---------------------------------------------------------------- Action

struct Action::Worker {
  Buffer buffer;
  std::unique_ptr<Sender> sender;
  std::mutex mutex;
  std::condition_variable cv;
  bool stop = false;  // guarded by mutex
  std::atomic<std::uint64_t> queuing{0}, queuing_bytes{0};
  std::thread thread;
  explicit Worker(Buffer::Options o) : buffer(std::move(o)) {}
};

std::string_view Action::name(Metric m) {
  static constexpr std::string_view kNames[kMetrics] = {"matched",
                                                        "success",
                                                        "failed",
                                                        "dropped",
                                                        "dropped.queue_full",
                                                        "dropped.expired",
                                                        "dropped.other",
                                                        "dropped.resource_not_found",
                                                        "dropped.resource_stopped",
                                                        "retried",
                                                        "retried.success",
                                                        "retried.failed",
                                                        "late_reply",
                                                        "received"};
  return kNames[m];
}

Action::Action(std::string id, ResourceOpts opts, std::shared_ptr<ConnectorState> connector,
               const std::function<std::unique_ptr<Sender>()>& make_sender,
               const std::string& buffer_dir)
    : id_(std::move(id)), opts_(opts), connector_(std::move(connector)) {
  resume_interval_ = opts_.resume_interval;
  if (resume_interval_.count() <= 0) {
    resume_interval_ = opts_.request_ttl.count() > 0
                           ? std::min(opts_.health_check_interval, opts_.request_ttl / 3)
                           : opts_.health_check_interval;
    resume_interval_ = std::max(resume_interval_, std::chrono::milliseconds(1));
  }
  const std::uint32_t n = std::max<std::uint32_t>(1, opts_.worker_pool_size);
  for (std::uint32_t i = 0; i < n; ++i) {
    Buffer::Options bo;
    bo.max_bytes = opts_.max_buffer_bytes;
    bo.offload = opts_.volatile_offload;
    bo.dir = buffer_dir + "/" + std::to_string(i);
    bo.segment_bytes = opts_.buffer_seg_bytes;
    auto w = std::make_unique<Worker>(std::move(bo));
    w->sender = make_sender();
    workers_.push_back(std::move(w));
  }
  try {
    for (auto& w : workers_)
      w->thread = std::thread([this, p = w.get()] { run(*p); });
  } catch (...) {
    // No more threads (a task limit): stop those that started, then say why.
    stop();
    for (auto& w : workers_) {
      if (w->thread.joinable()) w->thread.join();
    }
    throw;
  }
}

void Action::stop() {
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mutex);
      w->stop = true;
    }
    w->cv.notify_all();
  }
}

Action::~Action() {
  stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

void Action::enqueue(const json::object& output, std::string_view key) {
  count(Matched);
  const std::int64_t expire =
      opts_.request_ttl.count() > 0 ? now_ms() + opts_.request_ttl.count() : 0;
  std::string item = encode_item(expire, output);
  Worker& w = *workers_[std::hash<std::string_view>{}(key) % workers_.size()];
  std::size_t dropped = 0;
  {
    std::lock_guard lock(w.mutex);
    dropped = w.buffer.push(std::move(item));
    w.queuing.store(w.buffer.count(), std::memory_order_relaxed);
    w.queuing_bytes.store(w.buffer.bytes(), std::memory_order_relaxed);
  }
  w.cv.notify_one();
  if (dropped > 0) {
    count(Dropped, dropped);
    count(DroppedQueueFull, dropped);
    if (log_allowed()) {
      logger()->warn("action {}: buffer full ({} bytes per worker): {} oldest requests dropped",
                     id_, opts_.max_buffer_bytes, dropped);
    }
  }
}

void Action::run(Worker& w) {
  const std::size_t batch = std::max<std::uint32_t>(1, opts_.batch_size);
  std::unique_lock lock(w.mutex);
  while (true) {
    w.cv.wait(lock, [&] { return w.stop || !w.buffer.empty(); });
    if (w.stop) return;
    if (batch > 1 && w.buffer.count() < batch && opts_.batch_time.count() > 0) {
      w.cv.wait_for(lock, opts_.batch_time, [&] { return w.stop || w.buffer.count() >= batch; });
      if (w.stop) return;
    }
    auto items = w.buffer.pop(batch);
    if (const auto lost = w.buffer.take_lost(); lost > 0) {
      count(Dropped, lost);  // unreadable from the disk
      count(DroppedOther, lost);
    }
    w.queuing.store(w.buffer.count(), std::memory_order_relaxed);
    w.queuing_bytes.store(w.buffer.bytes(), std::memory_order_relaxed);
    lock.unlock();

    // Decode; what expired while it waited goes.
    std::vector<json::object> outputs;
    std::vector<std::int64_t> expires;
    for (const auto& item : items) {
      const std::int64_t exp = expire_of(item);
      if (exp != 0 && exp <= now_ms()) {
        count(Dropped);
        count(DroppedExpired);
        continue;
      }
      boost::system::error_code ec;
      // A payload is bytes: what the rule wrote may hold invalid UTF-8, and is read back
      // as it was written (the service decides what it takes).
      json::parse_options opts;
      opts.allow_invalid_utf8 = true;
      auto v = json::parse(std::string_view(item).substr(8), ec, {}, opts);
      if (ec || !v.is_object()) {
        count(Dropped);
        count(DroppedOther);
        continue;
      }
      outputs.push_back(std::move(v.get_object()));
      expires.push_back(exp);
    }
    inflight_.fetch_add(outputs.size(), std::memory_order_relaxed);
    bool retried = false;
    while (!outputs.empty()) {
      SendResult r;
      const bool connected = connector_->status() == Status::Connected;
      if (!connected) {
        r = SendResult::retry("the connector is " + std::string(status_name(connector_->status())));
      } else {
        auto timeout =
            opts_.request_ttl.count() > 0 ? opts_.request_ttl : std::chrono::milliseconds(45'000);
        r = w.sender->send(outputs, timeout);
      }
      const auto n = outputs.size();
      if (r.kind == SendResult::Ok) {
        count(Success, n);
        if (retried) count(RetriedSuccess, n);
        inflight_.fetch_sub(n, std::memory_order_relaxed);
        if (has_failure_.load(std::memory_order_relaxed)) {
          std::lock_guard failure_lock(rate_mutex_);
          last_failure_.clear();
          has_failure_.store(false, std::memory_order_relaxed);
        }
        break;
      }
      if (r.kind == SendResult::Unrecoverable) {
        count(Failed, n);
        if (retried) count(RetriedFailed, n);
        inflight_.fetch_sub(n, std::memory_order_relaxed);
        {
          std::lock_guard failure_lock(rate_mutex_);
          last_failure_ = r.reason.substr(0, 512);
          has_failure_.store(true, std::memory_order_relaxed);
        }
        if (log_allowed()) logger()->warn("action {}: {} requests failed: {}", id_, n, r.reason);
        break;
      }
      // Recoverable: this worker waits resume_interval, then sends what has not expired
      // again; sooner when it waited for its connector and the connector is back.
      if (connected) connector_->check_now();
      {
        const auto until = Clock::now() + resume_interval_;
        std::unique_lock wait(w.mutex);
        while (!w.stop && Clock::now() < until) {
          const auto slice =
              std::min<Clock::duration>(until - Clock::now(), std::chrono::milliseconds(100));
          w.cv.wait_for(wait, slice, [&] { return w.stop; });
          if (!connected && connector_->status() == Status::Connected) break;
        }
        if (w.stop) {
          inflight_.fetch_sub(n, std::memory_order_relaxed);
          return;
        }
      }
      retried = true;
      count(Retried, n);  // tried again, as EMQX's buffer workers count it
      std::size_t kept = 0;
      for (std::size_t i = 0; i < outputs.size(); ++i) {
        if (expires[i] != 0 && expires[i] <= now_ms()) {
          count(Dropped);
          count(DroppedExpired);
          inflight_.fetch_sub(1, std::memory_order_relaxed);
          continue;
        }
        outputs[kept] = std::move(outputs[i]);
        expires[kept] = expires[i];
        ++kept;
      }
      outputs.resize(kept);
      expires.resize(kept);
    }
    lock.lock();
  }
}

bool Action::log_allowed() {
  const std::int64_t now = now_ms();
  std::int64_t next = next_log_ms_.load(std::memory_order_relaxed);
  return now >= next &&
         next_log_ms_.compare_exchange_strong(next, now + 1000, std::memory_order_relaxed);
}

Action::Sample Action::sample() const {
  Sample s;
  for (std::size_t i = 0; i < kMetrics; ++i)
    s.count[i] = n_[i].load(std::memory_order_relaxed);
  for (const auto& w : workers_) {
    s.queuing += w->queuing.load(std::memory_order_relaxed);
    s.queuing_bytes += w->queuing_bytes.load(std::memory_order_relaxed);
  }
  s.inflight = inflight_.load(std::memory_order_relaxed);
  std::lock_guard lock(rate_mutex_);
  s.rate = rate_;
  s.rate_max = rate_max_;
  s.rate_last5m = rate_5m_;
  s.last_failure = last_failure_;
  return s;
}

void Action::reset_metrics() {
  for (auto& n : n_)
    n.store(0, std::memory_order_relaxed);
  std::lock_guard lock(rate_mutex_);
  last_matched_ = 0;
  rate_ = rate_max_ = rate_5m_ = 0;
}

void Action::tick() {
  std::lock_guard lock(rate_mutex_);
  const auto m = n_[Matched].load(std::memory_order_relaxed);
  const double per_second = static_cast<double>(m >= last_matched_ ? m - last_matched_ : 0);
  last_matched_ = m;
  rate_ += (per_second - rate_) / 5.0;
  rate_5m_ += (per_second - rate_5m_) / 300.0;
  if (rate_ > rate_max_) rate_max_ = rate_;
}

}  // namespace emqxd::connectors
