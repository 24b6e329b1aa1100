#pragma once
// PeerLink: this node's one outbound Link stream to one peer (cluster.proto, Link), on a
// thread of its own. It opens the stream, says Hello, sends this node's routes (a snapshot),
// retained messages and replicated tables, then, in order, whatever is queued for the peer:
// route changes, table entries and batches of forwarded messages. A broken stream is opened again
// (after a short backoff) and starts over with a fresh snapshot, so the peer is never left with a
// partial or stale copy of this node's routes.
//
// The queue is bounded: past kMaxQueued messages or kMaxQueuedBytes, forwards are dropped
// and counted (forward.dropped), so a peer that cannot keep up costs memory up to that
// bound and never blocks a worker. Route changes are never dropped (a snapshot replaces
// them). With mqtt.backpressure, QoS 1/2 publishers wait long before (kHighWatermark).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <variant>
#include <vector>

#include "broker/ports.hpp"
#include "broker/pressure.hpp"
#include "cluster/node_address.hpp"
#include "cluster/rpc/transport.hpp"

namespace emqxd::cluster {

class Cluster;

class PeerLink {
 public:
  static constexpr std::size_t kMaxQueued = 200'000;         // forwarded messages waiting
  static constexpr std::size_t kMaxQueuedBytes = 128 << 20;  // ...and what they hold
  static constexpr std::size_t kBatch = 2'000;               // messages per ForwardBatch at most
  // ...and bytes, unless one message alone is larger: every message a peer reads fits its
  // max receive size (rpc::AuthOptions::max_request_bytes, set in cluster.cpp).
  static constexpr std::size_t kBatchBytes = 1 << 20;

  // mqtt.backpressure: past this many messages waiting, QoS 1/2 publishers whose messages
  // come here wait until it is down to half (broker/pressure.hpp), instead of the queue
  // dropping once full.
  static constexpr std::int64_t kHighWatermark = 20'000;
  static constexpr std::size_t kMaxQueuedTables = 10'000;  // table entries, while down

  PeerLink(Cluster& cluster, broker::NodeIndex index, NodeAddress to, bool backpressure);
  ~PeerLink();  // stops and joins
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // Starts the link's thread; false (logged) when none can be made: the link then queues
  // up to its bounds and drops the rest, counted. Never throws.
  bool start();
  // Any thread. Returns how many of them were dropped (queue full).
  std::size_t push(std::vector<broker::ForwardItem>&& items);
  // Under the cluster's routes mutex.
  void push_delta(bool add, broker::Route route);
  // Under the cluster's routes mutex, when a stream starts: the snapshot holds them.
  void drop_deltas();
  // Under the cluster's routes mutex: replicated table entries this node wrote. While the
  // stream is down, past kMaxQueuedTables they are dropped: the next stream starts with
  // every table anyway.
  void push_tables(const std::vector<tables::Entry>& entries);

  broker::NodeIndex index() const { return index_; }
  // The link's back-pressure state: depth is what waits to be written.
  const std::shared_ptr<broker::Pressure>& pressure() const { return pressure_; }
  const NodeAddress& address() const { return to_; }
  bool connected() const { return connected_.load(std::memory_order_relaxed); }
  std::uint64_t sent() const { return sent_.load(std::memory_order_relaxed); }
  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  // Forwarded messages and route changes waiting to be written (what the peer lags by).
  std::size_t queued();

 private:
  using Op = std::variant<std::vector<broker::ForwardItem>, rpc::LinkDelta, rpc::LinkTables>;

  static constexpr std::chrono::milliseconds kHeartbeat{500};  // on an idle stream
  enum class Wait : std::uint8_t { Work, Idle, Stop };

  void run();
  bool stream_once();  // one stream, until it breaks or the link stops; false: stopping
  Wait wait_queue(std::deque<Op>& out);
  // In chunks that fit a peer's max receive size; false when the stream broke.
  static bool write_tables(rpc::LinkWriter& w, const std::vector<tables::Entry>& entries);

  Cluster& cluster_;
  const broker::NodeIndex index_;
  const NodeAddress to_;
  std::uint64_t stream_ = 0;  // increases with each stream opened
  const bool backpressure_;
  const std::shared_ptr<broker::Pressure> pressure_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<Op> queue_;               // guarded by mutex_
  std::size_t queued_messages_ = 0;    // guarded by mutex_
  std::size_t queued_bytes_ = 0;       // guarded by mutex_
  std::size_t queued_tables_ = 0;      // guarded by mutex_: table entries in queue_
  bool stopping_ = false;              // guarded by mutex_
  rpc::LinkWriter* writer_ = nullptr;  // guarded by mutex_: cancelled on stop

  std::thread thread_;
  std::atomic<bool> connected_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::atomic<std::uint64_t> dropped_{0};
};

}  // namespace emqxd::cluster
