#pragma once
// Action: one configured action (EMQX's actions.<type>.<name>): the buffer workers that take
// the rules' outputs for it and send them through its connector, with EMQX's resource_opts
// and metrics.
//
// A rule's output enters with enqueue(), on the worker that ran the rule: it is serialized
// and pushed into one buffer worker's Buffer (chosen by the client id, so one client's
// messages stay in order), and the rule's worker goes on; it never waits for the service.
// Each buffer worker is a thread with its own Buffer and Sender: it takes up to batch_size
// requests (waiting batch_time for a batch to fill), drops those past their request_ttl
// (dropped.expired), and sends. A recoverable failure, or the connector not connected,
// keeps the batch and blocks that worker: it sends again every resume_interval until the
// batch succeeds or expires, while new requests queue behind it, bounded by
// max_buffer_bytes per worker (past it the oldest are dropped: dropped.queue_full). With
// buffer_mode = volatile_offload the queue is on disk (connectors/buffer.hpp).
//
// Metrics (EMQX's names): matched, success, failed, dropped (dropped.queue_full,
// dropped.expired, dropped.other, dropped.resource_not_found, dropped.resource_stopped),
// retried (retried.success, retried.failed), late_reply, received, and the gauges
// queuing, queuing_bytes, inflight; matched's rate as rules'. EMQX's identity holds once
// the queues are idle: matched = success + failed + dropped + inflight + queuing.
#include <array>
#include <atomic>
#include <boost/json/object.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "connectors/buffer.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

// EMQX's resource_opts of an action, with its defaults (as the config reads them).
using ResourceOpts = config::ActionResourceOpts;

// A connector and what its health checks last said, shared by its actions.
class ConnectorState {
 public:
  ConnectorState(std::string id, std::unique_ptr<Connector> c,
                 std::chrono::milliseconds health_check_interval,
                 std::chrono::milliseconds timeout);
  ~ConnectorState();  // stops the health checks
  ConnectorState(const ConnectorState&) = delete;
  ConnectorState& operator=(const ConnectorState&) = delete;

  const std::string& id() const { return id_; }  // "type:name"
  Status status() const { return status_.load(std::memory_order_acquire); }
  std::string status_reason() const;
  // Checks now (a send failed, or an operator asked), waiting for the answer.
  Status check_now();
  Connector& connector() { return *connector_; }

 private:
  void loop();
  const std::string id_;
  std::unique_ptr<Connector> connector_;
  const std::chrono::milliseconds interval_, timeout_;
  std::atomic<Status> status_{Status::Connecting};
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::string reason_;      // guarded by mutex_
  bool stop_ = false;       // guarded by mutex_
  std::mutex check_mutex_;  // one check at a time
  std::thread thread_;
};

class Action {
 public:
  enum Metric : std::uint8_t {
    Matched,
    Success,
    Failed,
    Dropped,
    DroppedQueueFull,
    DroppedExpired,
    DroppedOther,
    DroppedResourceNotFound,
    DroppedResourceStopped,
    Retried,
    RetriedSuccess,
    RetriedFailed,
    LateReply,
    Received,
  };
  static constexpr std::size_t kMetrics = 14;
  static std::string_view name(Metric m);  // "matched", "dropped.queue_full", ...

  struct Sample {
    std::array<std::uint64_t, kMetrics> count{};
    std::uint64_t queuing = 0, queuing_bytes = 0, inflight = 0;
    double rate = 0, rate_max = 0, rate_last5m = 0;
    // What the service said of the last request it refused (a bad statement, a missing
    // table), until a request succeeds again; empty when none was refused.
    std::string last_failure;
  };

  // `make_sender` gives each buffer worker its Sender; `buffer_dir` holds the offload
  // segments (one folder per worker; this Action's own). Throws std::runtime_error when a
  // buffer directory cannot be made, std::system_error when no thread can be started.
  Action(std::string id, ResourceOpts opts, std::shared_ptr<ConnectorState> connector,
         const std::function<std::unique_ptr<Sender>()>& make_sender,
         const std::string& buffer_dir);
  ~Action();  // stops the workers; what they still hold is dropped
  // Asks the workers to stop (they finish the request they are in), without waiting.
  void stop();
  Action(const Action&) = delete;
  Action& operator=(const Action&) = delete;

  const std::string& id() const { return id_; }
  const ResourceOpts& options() const { return opts_; }
  const std::shared_ptr<ConnectorState>& connector() const { return connector_; }

  // A rule's output for this action; `key` picks the buffer worker (the client id).
  // Any thread; never blocks on the service.
  void enqueue(const boost::json::object& output, std::string_view key);

  Sample sample() const;
  void reset_metrics();
  void tick();  // every second: matched's rate

 private:
  struct Worker;
  void run(Worker& w);
  void count(Metric m, std::uint64_t n = 1) { n_[m].fetch_add(n, std::memory_order_relaxed); }
  bool log_allowed();  // a warning a second at most, across the workers

  const std::string id_;
  const ResourceOpts opts_;
  const std::shared_ptr<ConnectorState> connector_;
  std::chrono::milliseconds resume_interval_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::array<std::atomic<std::uint64_t>, kMetrics> n_{};
  std::atomic<std::uint64_t> inflight_{0};
  std::atomic<std::int64_t> next_log_ms_{0};
  mutable std::mutex rate_mutex_;
  std::uint64_t last_matched_ = 0;                // guarded by rate_mutex_
  double rate_ = 0, rate_max_ = 0, rate_5m_ = 0;  // guarded by rate_mutex_
  std::string last_failure_;                      // guarded by rate_mutex_
  std::atomic<bool> has_failure_{false};          // last_failure_ is not empty
};

}  // namespace emqxd::connectors
