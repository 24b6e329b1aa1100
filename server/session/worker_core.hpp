#pragma once
// WorkerCore: everything a worker does for MQTT that is not I/O. One per worker, driven by
// that worker's Scheduler (net::Worker in the node; a fake in unit tests); no threads and
// no Asio. It is the Hub of every channel on the worker:
//
//   publish      match (broker), retained, route into this turn's Outboxes, forward to peers
//   end_of_turn  commit the turn's storage batch, then hand the outboxes on (CommitOrder
//                decides whether they wait for the commit)
//   deliver      deliveries other workers posted here, to their sessions
//   from_peer    messages a peer forwarded, routed as if published here
//   pressure     publishers held back by a congested subscriber (mqtt.backpressure) and
//                peers' messages parked for the same reason, rechecked every millisecond
//   retry        MQTT 3.1.1 resends (mqtt.retry_interval)
//
// Sessions themselves (open, takeover, expiry, wills, hand-over between nodes) are the
// SessionManager's (session/session_manager.hpp), which this core owns.
#include <boost/json/object.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/broker.hpp"
#include "metrics/metrics.hpp"
#include "session/commit_order.hpp"
#include "session/hub.hpp"
#include "session/node_state.hpp"
#include "session/outboxes.hpp"
#include "session/scheduler.hpp"
#include "session/session_manager.hpp"

namespace emqxd::session {

class WorkerCore final : public Hub {
 public:
  // `node.store` and `node.durable` must be set already: the core records into storage
  // batches only if the node is durable when the core is made.
  WorkerCore(NodeState& node, Scheduler& scheduler);
  ~WorkerCore() override;
  WorkerCore(const WorkerCore&) = delete;
  WorkerCore& operator=(const WorkerCore&) = delete;

  Scheduler& scheduler() { return sched_; }
  SessionManager& sessions() { return sessions_; }
  NodeState& node() { return node_; }
  const metrics::Metrics& metrics_view() const { return metrics_; }
  // Publishers held back by a congested subscriber right now (hold() until released or
  // closed).
  std::size_t held_publishers() const { return held_.size(); }
  // A seam for the channel unit tests (tests/unit/session/test_hub.hpp): `f` sees every
  // message publish() is asked to route, first thing (clients' messages, wills, $SYS
  // events), so that a test can tell what was published without subscribing to it, which
  // would change what the publisher is answered. The node sets none. This worker's thread.
  void observe_publish(std::function<void(const mqtt::MessagePtr&)> f) {
    publish_observer_ = std::move(f);
  }

  // --- Hub ---
  const config::Config& config() const override { return node_.config; }
  broker::Broker& broker() override { return node_.broker; }
  broker::Retainer& retainer() override { return node_.retainer; }
  const auth::Authorization& authorization() const override { return node_.authorization; }
  metrics::Metrics& metrics() override { return metrics_; }
  std::uint32_t worker_id() const override { return sched_.id(); }
  const std::string& node_name() const override { return node_.config.node.name; }
  Tracer* tracer() override { return &node_.traces.tracer(); }
  const TopicRewrite* rewrite() const override { return node_.rewrite.get(); }
  bool delayed_enabled() const override { return node_.delayed.enabled(); }
  const ConnectGate* gate() const override { return &node_.gate; }
  bool delay(DelayedMessage&& m, bool& stored) override;
  mqtt::Message::Clock::time_point now() const override { return sched_.now(); }
  PublishResult publish(const mqtt::MessagePtr& m, const Publisher& from) override;
  // The API's delete of a retained message: the topic's clearing is stored and sent to
  // every peer as a publish with an empty payload would be, but delivered to no one.
  // False when the topic had no retained message.
  bool clear_retained(const std::string& topic);
  void hold(Channel& ch, std::shared_ptr<broker::Pressure> p) override;
  void authenticate(Channel& ch, auth::Credentials credentials) override;
  const auth::UserDatabase* scram_database(std::string_view method) const override;
  void authorize_remote(Channel& ch, std::vector<AuthzQuery> queries) override;
  void publish_will_after_authz(std::shared_ptr<const auth::Subject> subject, AuthzQuery query,
                                mqtt::MessagePtr will, std::string client_id) override;
  // worker_exclusive.cpp
  std::optional<std::vector<ClaimAnswer>> claim_exclusive(
      Channel& ch, const std::vector<std::string>& filters) override;
  void release_exclusive(const std::string& client_id, const std::string& filter) override;
  // A session that arrived here (handed over by another node, restored from disk) holds
  // `filter` exclusively: its claim is asserted again at the filter's home.
  void assert_exclusive(const std::string& client_id, const std::string& filter);
  // A session handed over to another node: the claim moves with it (not released).
  void hand_over_exclusive(const std::string& client_id, const std::string& filter);
  bool banned(const std::string& client_id, const std::optional<std::string>& username,
              std::string_view peerhost) override {
    return node_.banned.banned(client_id, username, peerhost, mqtt::wall_ms_now() / 1000);
  }
  // A ban arrived: the connected clients it names are kicked (DISCONNECT 0x8A).
  void kick_banned();
  void expire_at(Channel& ch, std::int64_t wall_ms) override;
  void refresh_rules(Channel& ch) override;
  void open_session(Channel& ch, const std::string& client_id, bool clean_start) override;
  void channel_closed(Channel& ch, Session* s) override;
  std::string assign_client_id() override;
  void watch_retry(Channel& ch) override;
  storage::Batch* store_batch() override;
  std::uint64_t next_store_seq() override;
  std::uint64_t await_commit(Channel& ch, const mqtt::Message* published) override;
  void subscribed(const Channel& ch, std::string_view filter,
                  const mqtt::SubscribeOptions& opts) override;
  void unsubscribed(const Channel& ch, std::string_view filter) override;
  bool listens(rules::Event e) const override { return rules_.listens(e); }
  void channel_event(rules::Event e, const Channel& ch, const ChannelEvent& what) override;
  void delivery_event(rules::Event e, const DeliveryEvent& what) override;
  std::shared_ptr<const mqtt::MessageOrigin> origin(
      std::string_view client_id, const std::optional<std::string>& username) override;

  // --- called by the worker, on its thread ---
  // Once every worker exists, before the first turn.
  void start();
  // The end of the event-loop turn: commits what the turn recorded and hands the turn's
  // deliveries on (at once, or once the commit they depend on is stored).
  void end_of_turn();
  // Commits what the turn recorded, if anything (also at shutdown). True when a batch went.
  bool commit_batch();
  // Deliveries another worker posted here, in the order posted.
  void deliver(std::vector<Delivery>& batch);
  // Messages a peer forwarded, in order (cluster::ClusterHooks::dispatch): routed as if
  // published here. `lane` names the peer's stream (one lane is always one worker).
  void from_peer(std::uint32_t lane, std::vector<broker::ForwardItem>&& items,
                 broker::PeerReport report);

  // --- delayed publish (session/delayed.hpp) ---
  // Worker 0 only: sets the one timer for the first delayed message due.
  void arm_delayed();
  // Messages no longer kept (deleted through the API, dropped by disabling): their
  // records are erased, each in its own worker's batch. Any thread.
  static void forget_delayed(NodeState& node, const std::vector<DelayedMessage>& gone);
  // --- for the SessionManager and other workers' cores ---
  // This turn's outbox toward worker `w` (deliveries leave at the end of the turn).
  std::vector<Delivery>& outbox(std::uint32_t w) { return turn_.local[w]; }
  std::vector<broker::ForwardItem>& forward_outbox(broker::NodeIndex node) {
    return turn_.to_peer(node);
  }
  // Runs the rules that read `e` (worker_rules.cpp) for the client of `ch`: `filter` and
  // `opts` for session_subscribed / session_unsubscribed. Nothing when no rule reads it.
  // A source's message (connectors/mqtt.hpp): the rules FROM "$bridges/<type>:<name>"
  // (`hookpoint`) run over `columns`, to which the event, timestamp and node are added.
  void rule_source(const std::string& hookpoint, boost::json::object columns);
  void rule_event(rules::Event e, const Channel& ch, std::string_view filter = {},
                  const mqtt::SubscribeOptions* opts = nullptr, const ChannelEvent* what = nullptr);
  // Ships this turn's outboxes now (or behind the commit they wait for), then runs `f`
  // once everything shipped so far has been handed to its worker: the takeover barrier.
  void ship_then(Task f);

 private:
  void ship();
  void post_outboxes(Outboxes& out);
  void hold_for_inboxes(PublishResult& result);
  void on_committed(std::uint64_t ticket, const storage::Status& status);
  // The topic's retained message is now `m` (or cleared), in memory and, when durable, in
  // this turn's batch; true if it went into the batch. `merge`: it comes from a peer (last
  // writer wins, Retainer::retain); `kept` gets the message as the retainer stored it.
  bool apply_retained(const mqtt::MessagePtr& m, bool merge, mqtt::MessagePtr* kept = nullptr);
  // Routes items until one reaches a subscriber that asks the peer to wait
  // (mqtt.backpressure; returned in `congested`); returns how many were routed.
  std::size_t dispatch_from_peer(std::deque<broker::ForwardItem>& items,
                                 std::shared_ptr<broker::Pressure>& congested);
  void route_from_peer(broker::ForwardItem& item, PublishResult& result);
  void retry_parked(mqtt::Message::Clock::time_point now);
  void start_pressure_tick();
  void on_pressure_tick();
  void on_retry_timer();
  void fire_delayed();
  // A due delayed message of this worker: published, its record erased.
  void publish_delayed(DelayedMessage& m);

  NodeState& node_;
  Scheduler& sched_;
  metrics::Metrics metrics_;
  CommitOrder commits_;
  SessionManager sessions_;

  Outboxes turn_;  // this turn's deliveries, per target worker and peer
  std::vector<broker::Match> matches_;
  std::vector<broker::RemoteMatch> remote_matches_;
  std::vector<broker::NodeIndex> peers_;

  // Publishers held back by a congested subscriber (mqtt.backpressure), checked each tick.
  struct Held {
    std::shared_ptr<broker::Pressure> by;
    mqtt::Message::Clock::time_point since;
  };
  std::unordered_map<Channel*, Held> held_;
  // Channels whose credentials are being checked off the worker, with the serial of the
  // check (a channel closed and another made at the same address is not confused).
  std::unordered_map<Channel*, std::uint64_t> authenticating_;
  std::uint64_t auth_serial_ = 0;
  // Channels waiting for remote authorization answers (worker_authz.cpp), with the serial
  // of the request, as authenticating_.
  std::unordered_map<Channel*, std::uint64_t> authorizing_;
  std::unordered_map<Channel*, std::uint64_t> refreshing_;  // refresh_rules under way
  // Channels waiting for the claims of exclusive subscriptions (worker_exclusive.cpp).
  std::unordered_map<Channel*, std::uint64_t> claiming_;
  // Connections whose credentials expire (a JWT's exp), with the timer that ends them.
  std::unordered_map<Channel*, std::shared_ptr<Timer>> expiring_;
  // A peer's messages that wait for a subscriber here to catch up, per lane, in order.
  struct Parked {
    std::deque<broker::ForwardItem> items;
    std::shared_ptr<broker::Pressure> by;
    mqtt::Message::Clock::time_point since{};
    broker::PeerReport report;
  };
  std::unordered_map<std::uint32_t, Parked> parked_;
  std::shared_ptr<Timer> pressure_timer_;

  std::unordered_set<Channel*> retrying_channels_;  // 3.1.1 with messages in flight
  std::shared_ptr<Timer> retry_timer_;
  std::shared_ptr<Timer> delayed_timer_;  // worker 0: the first delayed message due
  std::int64_t delayed_timer_at_ = 0;     // when it fires, Unix ms; 0 = not set

  std::function<void(const mqtt::MessagePtr&)> publish_observer_;  // see observe_publish
  TopicMetrics::View topic_view_own_{node_.topic_metrics};         // Hub::topic_view_ points here

  // The rule engine on this worker (worker_rules.cpp): the rules whose FROM matches a
  // publish run here; their republished messages are published in a later turn.
  void run_rules(const mqtt::MessagePtr& m, const Publisher& from);
  // $events/message_dropped (no_subscribers) of a message that matched nobody.
  void message_dropped(const mqtt::Message& m, const Publisher& from);
  void message_event(rules::Event ev, const mqtt::Message& m, mqtt::QoS qos, bool retain,
                     std::string_view client_id, const Channel* ch, std::string_view reason);
  // A new EMQX message id (32 hex digits, time first).
  std::string new_message_id();
  void publish_republished();
  class RuleActions;  // worker_rules.cpp
  friend class RuleActions;
  RuleActions& rule_actions(std::uint8_t depth, std::string_view republished_by);
  struct Republished {
    mqtt::MessagePtr msg;
    std::string rule_id;
    std::uint8_t depth = 0;
    bool direct_dispatch = false;
  };
  rules::RuleEngine::View rules_{node_.rules};
  std::unique_ptr<rules::RuleEngine::Actions> rule_actions_;  // a RuleActions, made on first use
  std::vector<Republished> republished_;
  std::size_t republished_bytes_ = 0;
  std::uint64_t rule_event_seq_ = 0;
};

}  // namespace emqxd::session
