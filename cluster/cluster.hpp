#pragma once
// Cluster: this node's part of the masterless cluster (docs/architecture.md, section 6).
// It runs the SWIM membership (membership.hpp) over the RPC transport, replicates this
// node's routes to every live peer and keeps the broker's copy of theirs, forwards the
// messages the broker matched to peers' routes, replicates retained messages, and answers
// the HTTP API's cluster commands. The session registry and takeover live in
// cluster_sessions.cpp.
//
// Threads:
// - The cluster thread owns the Membership: it feeds it the messages the transport
//   receives and the time, sends what it says, and acts on its events (a peer Up: open a
//   link; Down or Left: close it and drop its routes everywhere on this node).
// - Each live peer has an outbound PeerLink with a thread of its own (peer_link.hpp).
// - gRPC threads serve the inbound calls: a peer's Link stream applies its routes to the
//   broker and hands its messages to a worker (hooks.dispatch) on the stream's thread.
// - Worker threads call the RouteSink and Forwarder methods: they only enqueue.
// Lock order: the broker's lock, then routes_mutex_, then a link's own mutex; nothing
// takes the broker's lock while holding routes_mutex_.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "api/control.hpp"
#include "broker/broker.hpp"
#include "broker/ports.hpp"
#include "cluster/discovery.hpp"
#include "cluster/membership.hpp"
#include "cluster/rpc/transport.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "session/session_state.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::cluster {

class PeerLink;

// What the cluster needs from the node around it; app::Node fills it in.
struct ClusterHooks {
  broker::Broker* broker = nullptr;
  // Hands messages a peer forwarded to a worker; the same lane always goes to the same
  // worker, so that one peer's messages keep their order. Any thread.
  // `report(routed, congested)` runs on that worker as messages are routed: how many, and
  // a subscriber that asks the peer to wait (mqtt.backpressure: a live session past its
  // queue's watermark), if any. Messages behind such a subscriber wait on the worker, in
  // order, until it catches up.
  std::function<void(std::uint32_t lane, std::vector<broker::ForwardItem>&&,
                     broker::PeerReport report)>
      dispatch;
  // Appends every retained message this node holds (for a peer's new stream). Any thread.
  std::function<void(std::vector<mqtt::MessagePtr>&)> retained;

  // Sessions (cluster_sessions.cpp). Called on gRPC threads; may block a little.
  // The local session of `client_id`, if any, is closed (0x8E) and handed over (or
  // discarded, with clean_start); the reply says whether there was one.
  // `to` is the new owner: deliveries still on their way here go after the session.
  std::function<rpc::TakeoverReply(const std::string& client_id, bool clean_start,
                                   broker::NodeIndex to)>
      takeover;
  // The client ids of every session this node holds (connected or not).
  std::function<std::vector<std::string>()> local_client_ids;
  // `client_id` connected to another node since: close the local connection (0x8E).
  std::function<void(const std::string& client_id)> revoke;
  // The replicated tables (users, banned, rules): every new stream starts with this node's
  // whole copy, local writes go to every live peer, a peer's entries are merged. Null: none.
  tables::ReplicatedTables* tables = nullptr;
  // Runs an operation of the HTTP API on this node (server/api/node_ops.hpp), for this
  // node's API or a peer's (Admin.Query). API handler or gRPC threads; may block a little.
  std::function<api::NodeAnswer(const std::string& name, const std::string& args)> query;
  // Exclusive subscriptions' claims (session/exclusive.hpp): this node decides those of
  // the filters it is home for, and asserts its sessions' claims again after a membership
  // change. Null: none.
  session::ExclusiveClaims* exclusive = nullptr;
  // The HTTP client of the etcd and k8s discovery strategies (cluster/discovery.hpp).
  DiscoveryHttp discovery_http;
};

class Cluster final : public broker::RouteSink,
                      public broker::Forwarder,
                      public session::SessionDirectory,
                      public api::ClusterControl,
                      private rpc::Handler {
 public:
  Cluster(const config::Config& cfg, ClusterHooks hooks);
  ~Cluster() override;
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Listens on cluster.rpc.bind (throws std::runtime_error naming the key and the address
  // on failure), starts the cluster thread and, with the static strategy, joins the seeds.
  void start();
  // Stops everything (no Leave: peers find out by failure detection). Idempotent.
  void stop();

  const NodeAddress& self() const { return self_; }

  // The peer table holds every member ever seen, by a 16-bit NodeIndex (0 is this node),
  // and never shrinks (routes and forwards in flight carry the index). It holds at most
  // cluster.max_nodes - 1 peers (and never more than kMaxPeers); once full, a new node is
  // refused: it is not talked to and a line is logged (rate-limited); the node carries on
  // with the peers it has. Only membership adds to it: an RPC from a node that is not a
  // live member is refused (FAILED_PRECONDITION) without taking a place.
  static constexpr std::size_t kMaxPeers = 0xFFFF;

  // --- broker::RouteSink (worker threads, under the broker's lock) ---
  void add(std::string_view filter, std::string_view group) override;
  void remove(std::string_view filter, std::string_view group) override;

  // --- broker::Forwarder (worker threads) ---
  void forward(broker::NodeIndex node, std::vector<broker::ForwardItem>&& items) override;
  void peers(std::vector<broker::NodeIndex>& out) const override;
  std::shared_ptr<broker::Pressure> congestion(broker::NodeIndex node) const override;

  // --- api::ClusterControl (the API thread) ---
  Outcome join(const std::string& node) override;
  Outcome leave() override;
  Outcome force_leave(const std::string& node) override;
  api::ClusterStatus status() override;
  api::RouteList routes(const std::string& topic, std::size_t limit) override;
  // cluster_admin.cpp
  std::vector<std::string> running_nodes() override;
  std::optional<api::NodeAnswer> ask(const std::string& node, const std::string& name,
                                     const std::string& args,
                                     std::chrono::milliseconds deadline) override;

  // --- session::SessionDirectory (worker threads; cluster_sessions.cpp) ---
  bool active() const override { return live_peers_.load(std::memory_order_relaxed) > 0; }
  void claim(const std::string& client_id, bool clean_start,
             std::function<void(session::Claim)> done) override;
  void release(const std::string& client_id) override;
  session::ClaimAnswer claim_exclusive(const std::string& filter,
                                       const std::string& client_id) override;
  void release_exclusive(const std::string& filter, const std::string& client_id) override;

  // Tests: the inbound RPC handlers as the transport calls them, and the peer table's size.
  rpc::Handler& rpc_handler_for_test() { return *this; }
  std::size_t peer_count_for_test() const;

  // Counters, for status and $SYS.
  struct Stats {
    std::uint64_t members = 1;  // live members, this node included
    std::uint64_t forward_sent = 0, forward_received = 0, forward_dropped = 0;
    std::uint64_t forward_queued = 0;  // waiting in the links to peers (replication lag)
    std::uint64_t takeovers_in = 0, takeovers_out = 0;
  };
  Stats stats() const;

 private:
  friend class PeerLink;
  struct Peer {
    broker::NodeIndex index = 0;
    std::string id;
    NodeAddress address;                    // guarded by peers_mutex_
    MemberState state = MemberState::Dead;  // guarded by peers_mutex_
    std::shared_ptr<PeerLink> link;         // guarded by peers_mutex_
    // The inbound stream: applied under apply_mutex, so that dropping the peer's routes
    // (Down) and applying its stream never interleave.
    std::mutex apply_mutex;
    bool accepting = false;             // guarded by apply_mutex: Alive or Suspect here
    rpc::LinkReader* reader = nullptr;  // guarded by apply_mutex: the newest stream
    std::pair<std::uint64_t, std::uint64_t> best{0, 0};  // guarded: (incarnation, stream)
    std::atomic<std::uint64_t> received{0};
    // Flow control of the inbound stream: what was handed to the worker and is not yet
    // routed, and a local subscriber that asked to wait (mqtt.backpressure). The stream is
    // not read while either is too much, so HTTP/2 holds the origin back.
    struct Gate {
      std::mutex mutex;
      std::condition_variable cv;
      std::int64_t in_flight = 0;                // guarded by mutex
      std::shared_ptr<broker::Pressure> holder;  // guarded by mutex
      broker::Pressure::Clock::time_point since{};
    };
    std::shared_ptr<Gate> gate = std::make_shared<Gate>();
  };
  static constexpr std::int64_t kInboundWindow = 50'000;  // messages

  // cluster thread
  void run();
  void post(std::function<void()> task);
  // Runs `f` on the cluster thread and waits for its answer (API calls).
  template <class F>
  auto on_loop(F&& f) -> decltype(f());
  void pump();
  void on_event(const MemberEvent& e);
  void reset_membership();

  // peers (any thread, peers_mutex_)
  // The peer `a`, added if new; nullptr when the table is full (cluster.max_nodes).
  std::shared_ptr<Peer> peer_for(const NodeAddress& a);
  std::shared_ptr<Peer> find_peer(const std::string& id) const;  // nullptr if unknown
  std::shared_ptr<Peer> peer_at(broker::NodeIndex i) const;
  std::string name_of(broker::NodeIndex i) const;
  void set_live(Peer& p, bool live);

  // links
  // A consistent start for a new stream: the routes as of now, with the link's queued
  // deltas dropped (the snapshot holds them).
  std::vector<broker::Route> snapshot_for(PeerLink& link);
  void stop_link(Peer& p);
  // Local writes of the replicated tables, to every link (any thread).
  void replicate(std::vector<tables::Entry>&& entries);

  // rpc::Handler (gRPC threads)
  void on_membership(Message&& m) override;
  void on_link(rpc::LinkReader& reader) override;
  rpc::RegisterReply on_register(const rpc::RegisterRequest& r) override;
  bool on_unregister(const std::string& cluster, const NodeAddress& from,
                     const std::vector<std::string>& client_ids) override;
  rpc::TakeoverReply on_takeover(const rpc::TakeoverRequest& r) override;
  rpc::QueryReply on_query(const rpc::QueryRequest& r) override;  // cluster_admin.cpp

  // sessions (cluster_sessions.cpp)
  NodeAddress registry_for(const std::string& client_id) const;
  std::optional<NodeAddress> register_here(const std::string& client_id, const NodeAddress& owner,
                                           bool held);
  bool is_live(const std::string& id) const;
  void reregister_all();
  // Exclusive claims: the filter's home decides (`from` "" is this node), and this node's
  // claims are asserted again after a membership change.
  session::ClaimAnswer claim_exclusive_here(const std::string& filter, const std::string& client_id,
                                            const std::string& from);
  void reassert_exclusive();
  std::optional<rpc::QueryReply> on_exclusive_query(const rpc::QueryRequest& r);
  void release_pending(std::vector<std::string> ids);
  void session_worker();
  // cluster.discovery_strategy = dns | etcd | k8s: a thread asks every kDiscoveryInterval
  // and hands the nodes to the membership (cluster_discovery.cpp). Stopped when the node
  // stops or leaves the cluster (a node that left stays out until it starts again).
  struct DiscoveryLink;
  void start_discovery();
  void stop_discovery();
  static void discovery_loop(std::shared_ptr<DiscoveryLink> link);

  const config::Config& cfg_;
  ClusterHooks hooks_;
  NodeAddress self_;
  MembershipOptions options_;
  rpc::Transport transport_;

  // The cluster thread and what it owns.
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  bool started_ = false;
  std::unique_ptr<Membership> membership_;  // cluster thread only
  std::uint64_t seed_ = 0;

  // Peers by index (1, 2, ...) and by id, for every node ever heard of.
  mutable std::mutex peers_mutex_;
  std::vector<std::shared_ptr<Peer>> by_index_;               // guarded; [0] unused
  std::unordered_map<std::string, broker::NodeIndex> index_;  // guarded; by id()
  std::vector<broker::NodeIndex> live_;                       // guarded; Alive or Suspect
  std::atomic<std::size_t> live_peers_{0};
  log::Throttle table_full_log_{1};  // guarded by peers_mutex_

  // This node's routes, as replicated to every link.
  std::mutex routes_mutex_;
  std::set<std::pair<std::string, std::string>> local_routes_;  // guarded
  std::vector<std::shared_ptr<PeerLink>> links_;                // guarded

  std::atomic<std::uint64_t> forward_received_{0}, forward_dropped_{0};
  std::atomic<std::uint64_t> takeovers_in_{0}, takeovers_out_{0};

  // Sessions: the registry entries this node holds for other nodes' client ids, and the
  // claims in progress here (cluster_sessions.cpp).
  struct RegistryEntry {
    NodeAddress owner;
  };
  std::mutex registry_mutex_;
  std::unordered_map<std::string, RegistryEntry> registry_;  // guarded by registry_mutex_
  std::unordered_map<std::string, int> claiming_;            // guarded: claims in progress
  std::unordered_set<std::string> revoked_;                  // guarded: taken while claiming
  // Blocking session calls run on threads of their own, not the cluster thread.
  static constexpr int kSessionThreads = 4;
  std::vector<std::thread> session_threads_;
  std::deque<std::function<void()>> session_tasks_;  // guarded by mutex_
  std::vector<std::string> pending_release_;         // guarded by mutex_
  std::condition_variable session_cv_;
  std::atomic<bool> reregister_{false};
  std::atomic<std::uint64_t> membership_incarnation_{0};
  // Discovery's own thread: its lookups block (DNS timeouts), the cluster thread must not,
  // and neither must shutdown, so the thread is detached and reaches the Cluster only
  // through this link, under its mutex, until stop_discovery() cuts it.
  static constexpr std::chrono::seconds kDiscoveryInterval{5};
  std::shared_ptr<DiscoveryLink> discovery_;
  std::atomic<std::uint64_t> forward_sent_{0};  // by links that are gone
};

}  // namespace emqxd::cluster
