#pragma once
// Worker: one thread, one io_context, one inbox (STYLE.md section 4). It owns the
// connections accepted on it and the sessions placed on it; nothing else touches them.
// Other threads reach it only through post() and post_deliveries().
//
// Batching: Hub::publish appends each delivery to an outbox per target worker; at the end
// of the event-loop turn (one posted handler) every outbox goes to its worker in one post,
// and every connection with output writes once. A takeover across workers is the one
// multi-step protocol here; see takeover() in worker.cpp.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/broker.hpp"
#include "metrics/metrics.hpp"
#include "net/node_state.hpp"
#include "session/channel.hpp"
#include "session/hub.hpp"
#include "session/session.hpp"
#include "storage/batch.hpp"
#include "storage/status.hpp"

namespace emqxd::net {

class Connection;
class TcpConnection;

class Worker final : public session::Hub {
 public:
  Worker(std::uint32_t id, NodeState& node);
  ~Worker() override;

  void start();  // starts the thread
  void stop();   // stops the io_context; any thread
  void join();
  boost::asio::io_context& io() { return io_; }

  // --- any thread ---
  void post(std::function<void()> task);
  void post_deliveries(std::vector<session::Delivery>&& batch);
  // Messages a peer forwarded (the cluster calls it from its threads): matched against
  // this node's subscribers on this worker, in the order given.
  // `lane` names the peer (one lane is always one worker); `report` runs here as they are
  // routed (see cluster::ClusterHooks::dispatch).
  void post_from_peer(std::uint32_t lane, std::vector<broker::ForwardItem>&& items,
                      broker::PeerReport report);
  const metrics::Metrics& metrics_view() const { return metrics_; }

  // --- this worker's thread ---
  void add_connection(Connection* c) { connections_.insert(c); }
  void remove_connection(Connection* c) { connections_.erase(c); }
  void mark_dirty(std::shared_ptr<Connection> c);
  // Shutdown phase one (wills), then phase two (DISCONNECT 0x8B and close).
  void publish_wills_for_shutdown();
  void kick_all(mqtt::ReasonCode reason);
  std::size_t connection_count() const { return connections_.size(); }

  // session::Hub
  const config::Config& config() const override { return node_.config; }
  broker::Broker& broker() override { return node_.broker; }
  broker::Retainer& retainer() override { return node_.retainer; }
  auth::Authenticator& authenticator() override { return *node_.authenticator; }
  auth::Authorizer& authorizer() override { return *node_.authorizer; }
  metrics::Metrics& metrics() override { return metrics_; }
  std::uint32_t worker_id() const override { return id_; }
  const std::string& node_name() const override { return node_.config.node.name; }
  // The coarse monotonic clock (a few ms of resolution, a plain read of the vDSO page): the
  // channel asks for the time several times per message, and everything it times (expiry,
  // await_rel_timeout, retry_interval, keep alive, stalls) counts in seconds.
  mqtt::Message::Clock::time_point now() const override;
  session::PublishResult publish(const mqtt::MessagePtr& m,
                                 std::string_view publisher_client_id) override;
  void hold(session::Channel& ch, std::shared_ptr<broker::Pressure> p) override;
  void open_session(session::Channel& ch, const std::string& client_id, bool clean_start) override;
  void channel_closed(session::Channel& ch, session::Session* s) override;
  std::string assign_client_id() override;
  void watch_retry(session::Channel& ch) override;
  storage::Batch* store_batch() override;
  std::uint64_t next_store_seq() override;
  std::uint64_t await_commit(session::Channel& ch, const mqtt::Message* published) override;

  // --- the cluster's session calls (this worker's thread) ---
  // Hands the session `sid` of `client_id` over to another node: its connection closes
  // with 0x8E and the session leaves this node; nullopt when there is none to hand over
  // (`found` says whether there was a session: with clean_start, or expiry 0, it ends).
  // Deliveries for it that reach this node afterwards (they were on their way) go to `to`.
  std::optional<session::SessionState> hand_over(std::uint64_t sid, bool clean_start,
                                                 broker::NodeIndex to, bool& found);
  // `client_id` connected to another node since: its connection here closes (0x8E).
  void revoke(const std::string& client_id);

  // Before start(): a session restored from storage, offline since `went_offline`.
  void adopt(std::unique_ptr<session::Session> s, std::chrono::steady_clock::time_point went_offline);
  // This worker's thread: commits what the current turn recorded (also at shutdown).
  // True when a batch went to the store; its completion comes back through on_committed.
  bool commit_batch();

 private:
  struct SessionSlot {
    std::unique_ptr<session::Session> session;
    std::unique_ptr<boost::asio::steady_timer> timer;  // expiry / will delay while offline
    std::chrono::steady_clock::time_point went_offline{};
  };
  struct Move {  // a session leaving this worker, waiting for the barrier
    std::uint64_t session = 0;
    std::string client_id;
    std::uint32_t to = 0;
    std::size_t acks_left = 0;
  };

  void drain_inbox();
  void schedule_end_of_turn();
  void end_of_turn();
  // Commits the turn's batch and hands the turn's deliveries on: at once, or, when the
  // batch (or an earlier one still in the store) holds records they depend on, once it
  // is stored (deferred_).
  void ship();
  // Runs `f` once every delivery shipped so far has been handed to its worker.
  void after_shipped(std::function<void()> f);
  void flush_outboxes();
  void post_outboxes(std::vector<std::vector<session::Delivery>>& boxes,
                     std::vector<std::vector<broker::ForwardItem>>& forwards);
  // Routes items[from..] until one reaches a subscriber that asks the peer to wait
  // (mqtt.backpressure; returned in `congested`); returns how many were routed.
  std::size_t dispatch_from_peer(std::deque<broker::ForwardItem>& items,
                                 std::shared_ptr<broker::Pressure>& congested);
  void route_from_peer(broker::ForwardItem& item, session::PublishResult& result);
  void retry_parked(mqtt::Message::Clock::time_point now);
  // The topic's retained message is now `m` (or cleared), in memory and, when durable, in
  // this turn's batch; true if it went into the batch. `merge`: it comes from a peer (last
  // writer wins, Retainer::retain); `kept` gets the message as the retainer stored it.
  bool apply_retained(const mqtt::MessagePtr& m, bool merge, mqtt::MessagePtr* kept = nullptr);
  std::vector<broker::ForwardItem>& forward_outbox(broker::NodeIndex node);
  void deliver_local(std::vector<session::Delivery>& batch);

  session::Session* create_session(const std::string& client_id);
  // CONNECT: local once the cluster, if any, has been asked (on_claimed).
  void open_local(session::Channel& ch, const std::string& client_id, bool clean_start);
  void on_claimed(session::Channel* ch, std::uint64_t token, const std::string& client_id,
                  bool clean_start, session::Claim claim);
  // A session another node handed over becomes an offline session here.
  void install(session::SessionState&& state);
  // A delivery that followed a session here from its previous node (ForwardItem::to_session).
  void deliver_moved(const mqtt::MessagePtr& m, const broker::SessionTarget& t);
  void retry_open(session::Channel* ch, std::string client_id, bool clean_start, int attempt);
  void takeover(std::string client_id, std::uint64_t sid, std::uint32_t to, bool clean_start);
  void barrier_ack(std::uint64_t move_id);
  void takeover_done(std::string client_id, std::uint64_t sid, session::Session* moved);
  void go_offline(SessionSlot& slot);
  void on_offline_timer(std::uint64_t sid);
  // Ends a session: unsubscribes it and publishes a pending will ("or the Session ends,
  // whichever happens first" [MQTT-3.1.3-9]).
  void discard(std::uint64_t sid);
  std::unique_ptr<session::Session> extract(std::uint64_t sid);
  void redispatch_shared(session::Session& s);
  void publish_pending_will(session::Session& s);
  void on_retry_timer();
  void start_pressure_tick();
  void on_pressure_tick();  // held publishers and parked peers' messages, every 1 ms
  void on_committed(std::uint64_t ticket, const storage::Status& status);
  void publish_event(const session::Channel& ch, bool connected);

  const std::uint32_t id_;
  NodeState& node_;
  boost::asio::io_context io_;
  std::thread thread_;
  metrics::Metrics metrics_;

  std::mutex inbox_mutex_;
  std::vector<std::function<void()>> inbox_;           // guarded by inbox_mutex_
  std::vector<session::Delivery> inbox_deliveries_;    // guarded by inbox_mutex_
  bool inbox_scheduled_ = false;                       // guarded by inbox_mutex_

  std::vector<std::vector<session::Delivery>> outbox_;  // per target worker
  std::vector<std::vector<broker::ForwardItem>> forward_outbox_;  // per peer (NodeIndex)
  std::vector<broker::Match> matches_;
  std::vector<broker::RemoteMatch> remote_matches_;
  std::vector<broker::NodeIndex> peers_;
  std::vector<std::shared_ptr<Connection>> dirty_;
  bool end_of_turn_scheduled_ = false;

  std::unordered_set<Connection*> connections_;
  std::unordered_map<std::uint64_t, SessionSlot> sessions_;
  std::unordered_map<std::string, session::Channel*> connecting_;  // waiting for takeover
  std::unordered_map<session::Channel*, std::uint64_t> claiming_;  // waiting for the cluster
  std::uint64_t next_claim_ = 1;
  // Sessions handed over to another node, for the deliveries still on their way here
  // (kept kMovedFor).
  static constexpr std::chrono::seconds kMovedFor{30};
  struct Moved {
    std::string client_id;
    broker::NodeIndex to = 0;
    std::chrono::steady_clock::time_point at{};
  };
  std::unordered_map<std::uint64_t, Moved> moved_;
  // A peer's messages that wait for a subscriber here to catch up (mqtt.backpressure),
  // per lane, in order; retried every millisecond.
  struct Parked {
    std::deque<broker::ForwardItem> items;
    std::shared_ptr<broker::Pressure> by;
    std::chrono::steady_clock::time_point since{};
    broker::PeerReport report;
  };
  std::unordered_map<std::uint32_t, Parked> parked_;
  std::unordered_set<session::Channel*> retrying_;  // waiting for another takeover to end
  std::unordered_map<std::uint64_t, std::vector<session::Delivery>> arriving_;
  std::unordered_map<std::uint64_t, Move> moves_;
  std::uint64_t next_move_ = 1;
  std::unordered_set<session::Channel*> retrying_channels_;  // 3.1.1 with messages in flight
  std::unique_ptr<boost::asio::steady_timer> retry_timer_;
  // Publishers held back by a congested subscriber (mqtt.backpressure), checked each tick.
  struct Held {
    std::shared_ptr<broker::Pressure> by;
    std::chrono::steady_clock::time_point since;
  };
  std::unordered_map<session::Channel*, Held> held_;
  std::unique_ptr<boost::asio::steady_timer> pressure_timer_;
  // Durable sessions: what this turn records, committed at its end as one batch; the
  // channels whose responses wait for a batch (the ticket of the last one they wait for).
  storage::Batch batch_;
  std::uint64_t ticket_ = 1;  // the batch being filled
  std::unordered_map<session::Channel*, std::uint64_t> commit_waiters_;
  // Messages whose publishers' acknowledgements wait for the batch being filled
  // (Hub::await_commit): if it fails they are refused, so their deliveries are dropped.
  std::vector<const mqtt::Message*> depends_;
  // Deliveries that wait for a commit, oldest first. A subscriber must not receive a
  // message before it is stored: a crash could then lose what the publisher was promised,
  // or a failed commit refuse (0x97) what a subscriber already has. Later turns' deliveries
  // queue behind, so nothing overtakes.
  struct Deferred {
    std::uint64_t ticket = 0;
    std::vector<std::vector<session::Delivery>> outboxes;  // per target worker
    std::vector<std::vector<broker::ForwardItem>> forwards;  // per peer
    std::vector<const mqtt::Message*> depends;
    std::vector<std::function<void()>> after;  // after_shipped() callbacks
  };
  std::deque<Deferred> deferred_;
};

}  // namespace emqxd::net
