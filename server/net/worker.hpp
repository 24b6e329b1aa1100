#pragma once
// Worker: one thread, one io_context, one inbox. It owns the connections accepted on it
// and runs a session::WorkerCore, which owns the sessions placed on it; nothing else
// touches them. Other threads reach it only through its inbox (post, post_deliveries).
//
// The worker is the core's Scheduler (session/scheduler.hpp): posts to any worker's
// inbox, timers on this io_context, the coarse monotonic clock, and the end of the turn.
// At the end of each turn (one posted handler) the core ships what the turn routed (one
// post per target worker, one batch per peer) and every connection with output writes
// once.
//
// The inbox is bounded in bytes (kInboxHighBytes; docs/architecture.md, "Back-pressure"):
// it counts what its deliveries hold (each record, and each message's topic and payload
// once per run of deliveries of it). A publish routed to a worker whose inbox is over the
// bound holds its publisher, whatever its QoS and mqtt.backpressure, as a congested
// subscriber does (WorkerCore::hold), until the inbox is down to half; a worker that takes
// nothing from its inbox for 2 s stops holding anyone (Pressure's stall rule).
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include "broker/pressure.hpp"
#include "session/node_state.hpp"
#include "session/scheduler.hpp"
#include "session/session.hpp"
#include "session/worker_core.hpp"

namespace emqxd::net {

class Connection;

class Worker final : public session::Scheduler {
 public:
  static constexpr std::int64_t kInboxHighBytes = 64 << 20;
  static constexpr std::int64_t kInboxLowBytes = kInboxHighBytes / 2;

  // `all` lists every worker of the node by id (this one included); it is filled before
  // any worker starts and never changes.
  Worker(std::uint32_t id, session::NodeState& node, const std::vector<Worker*>& all);
  ~Worker() override;

  void start();  // starts the thread
  void stop();   // stops the io_context; any thread
  void join();
  boost::asio::io_context& io() { return io_; }
  session::WorkerCore& core() { return core_; }

  // --- any thread ---
  void post(session::Task task);
  void post_deliveries(std::vector<session::Delivery>&& batch);

  // --- this worker's thread ---
  void add_connection(Connection* c) { connections_.insert(c); }
  void remove_connection(Connection* c) { connections_.erase(c); }
  void mark_dirty(std::shared_ptr<Connection> c);
  // Shutdown phase one (wills), then phase two (DISCONNECT 0x8B and close).
  void publish_wills_for_shutdown();
  void kick_all(mqtt::ReasonCode reason);
  // Evacuation (net/evacuation.hpp): closes up to `n` connections with 0x9C Use another
  // server (and `server_reference`, for MQTT 5 clients); returns how many.
  std::size_t evict(std::size_t n, const std::string& server_reference);
  std::size_t connection_count() const { return connections_.size(); }
  // A connection that held a lot of memory closed: return the heap's free pages to the
  // kernel in a moment (once for a burst of such closes; common/resident.hpp).
  void trim_heap_soon();

  // session::Scheduler
  std::uint32_t id() const override { return id_; }
  std::uint32_t workers() const override { return static_cast<std::uint32_t>(all_.size()); }
  void post(std::uint32_t worker, session::Task task) override;
  void post_deliveries(std::uint32_t worker, std::vector<session::Delivery>&& batch) override;
  std::shared_ptr<broker::Pressure> inbox_congestion(std::uint32_t worker) const override;
  std::shared_ptr<session::Timer> after(Clock::duration after, session::Task f) override;
  // The coarse monotonic clock (a few ms of resolution, a plain read of the vDSO page): the
  // channel asks for the time several times per message, and everything it times (expiry,
  // await_rel_timeout, retry_interval, keep alive, stalls) counts in milliseconds or more.
  Clock::time_point now() const override;
  void end_of_turn_needed() override;

 private:
  void drain_inbox();
  void end_of_turn();

  const std::uint32_t id_;
  const std::vector<Worker*>& all_;
  boost::asio::io_context io_;
  std::thread thread_;
  session::WorkerCore core_;

  std::mutex inbox_mutex_;
  std::vector<session::Task> inbox_;                 // guarded by inbox_mutex_
  std::vector<session::Delivery> inbox_deliveries_;  // guarded by inbox_mutex_
  bool inbox_scheduled_ = false;                     // guarded by inbox_mutex_
  // queued: the bytes inbox_deliveries_ holds (written under inbox_mutex_, read anywhere).
  const std::shared_ptr<broker::Pressure> inbox_pressure_;

  std::vector<std::shared_ptr<Connection>> dirty_;
  bool end_of_turn_scheduled_ = false;
  bool trim_scheduled_ = false;
  std::unordered_set<Connection*> connections_;
};

}  // namespace emqxd::net
