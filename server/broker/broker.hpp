#pragma once
// Broker: the node's subscription table. Maps topic filters to the local sessions that
// subscribed them (plain and shared) and to the peers that have subscribers of them (the
// cluster's copy of each peer's routes), and a published topic to the sessions and peers
// that should receive it: one per shared group in the whole cluster, merged per session
// so that overlapping subscriptions deliver once with the highest QoS and every
// Subscription Identifier [MQTT-3.3.4-3..5], and one forward per peer however many of its
// subscribers match.
//
// Shared groups across nodes: a group's candidates are its local members followed by the
// peers that have members of it; the group's picker chooses among all of them (the
// `local` strategy prefers local members). A message given to a peer names the group, and
// the peer picks one of its own members (redispatch()).
//
// Threads: any worker may call any method, and the cluster's threads call the remote-route
// methods. Matching takes a shared lock and never waits for another matcher; subscribe,
// unsubscribe and route changes take the exclusive lock briefly (a peer's snapshot is
// applied in chunks). Delivery itself is not done here: the caller posts the matches to
// the owning workers and hands the remote ones to the Forwarder.
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/ports.hpp"
#include "broker/pressure.hpp"
#include "broker/shared_strategy.hpp"
#include "broker/topic_trie.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::broker {

struct Match {
  SubscriberRef ref;
  mqtt::QoS qos = mqtt::QoS::AtMostOnce;  // the subscription's maximum QoS
  bool retain_as_published = false;
  std::vector<std::uint32_t> subscription_ids;
  // For a shared subscription: "$share/{group}/{filter}" as subscribed, so that a
  // message unacknowledged by a member that goes away can go to another (redispatch).
  std::shared_ptr<const std::string> share;
  // mqtt.backpressure (pressure.hpp): whether this QoS 1/2 delivery was counted in the
  // session's in_transit, and the session when that count reached its high watermark.
  bool counted = false;
  std::shared_ptr<Pressure> congested;
  // A QoS 0 delivery to a session whose socket backlog is full (Pressure::qos0_saturated):
  // dropped by the publisher's worker.
  bool saturated = false;
  std::uint64_t store_uid = 0;  // the session is durable: its QoS 1/2 deliveries are stored
  const std::shared_ptr<Pressure>* pressure = nullptr;  // internal to match(), under the lock
};

// What a message is for on one peer (see ForwardItem).
struct RemoteMatch {
  NodeIndex node = 0;
  bool direct = false;
  std::vector<std::shared_ptr<const std::string>> shares;
};

// A route as the cluster replicates it: a filter's plain subscribers (group empty) or the
// members of one shared group of it.
struct Route {
  std::string filter;
  std::string group;
  bool operator==(const Route&) const = default;
};

// "$share/<group>/<filter>", or "$queue/<filter>" for the $queue group.
std::string share_name(std::string_view group, std::string_view filter);

struct BrokerStats {
  std::size_t subscriptions = 0;  // (filter, session) pairs incl. shared
  std::size_t shared_subscriptions = 0;
  std::size_t topics = 0;         // distinct filters with local subscribers
  std::size_t routes = 0;         // local routes (filter or filter + group)
  std::size_t remote_routes = 0;  // routes of peers, all peers together
};

class Broker {
 public:
  explicit Broker(SharedStrategy strategy, RouteSink* routes = nullptr);
  // Before any subscription: the cluster, told about local routes from then on.
  void set_route_sink(RouteSink* routes) { routes_ = routes; }
  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;

  // Adds or replaces `ref`'s subscription. `filter` is as the client sent it (a
  // `$share/g/f` or `$queue/f` filter makes a shared subscription); it must be valid.
  // Returns true when the subscription did not exist before (Retain Handling 1).
  // `pressure` is the session's back-pressure state when mqtt.backpressure is on;
  // `store_uid` its durable storage id (0: not durable), handed back in Match.
  bool subscribe(std::string_view filter, SubscriberRef ref, const mqtt::SubscribeOptions& opts,
                 std::uint32_t subscription_id, std::shared_ptr<Pressure> pressure = nullptr,
                 std::uint64_t store_uid = 0);

  // Returns false when `ref` had no such subscription.
  bool unsubscribe(std::string_view filter, SubscriberRef ref);

  // Appends to `out` every session that should receive `m` published by the session
  // `publisher` (0 = none) whose client id is `publisher_client_id`, and to `remote` (when
  // given) what it is for on each peer, one entry per peer. No Local subscriptions of the
  // publisher itself are skipped [MQTT-3.8.3-3]. A QoS 1/2 delivery to a session with
  // back-pressure is counted in its Pressure (Match::counted).
  // `direct_only`: a message a peer forwarded for its plain subscribers here: only local
  // plain subscriptions match (the groups were decided on the peer).
  void match(const mqtt::Message& m, std::string_view publisher_client_id, std::vector<Match>& out,
             std::vector<RemoteMatch>* remote = nullptr, bool direct_only = false) const;

  // Picks a local member of the shared group `share` ("$share/g/f") for `m`, skipping
  // `except`; false when the group has no other local member. For a message whose member
  // went away, and for one a peer picked this node for (except = {}).
  bool redispatch(const std::string& share, const mqtt::Message& m, SubscriberRef except,
                  Match& out) const;

  // --- the routes of peers (any thread; the cluster calls them) ---
  // A snapshot of `node`'s routes comes in chunks: begin, any number of chunks, end. After
  // end the node has exactly the routes of the chunks; until then matching sees its old
  // routes plus those already received.
  void begin_remote_snapshot(NodeIndex node);
  void add_remote_routes(NodeIndex node, const std::vector<Route>& routes);
  void end_remote_snapshot(NodeIndex node);
  void remove_remote_route(NodeIndex node, const Route& route);
  // Forgets every route of `node` (it left or is down).
  void drop_remote_routes(NodeIndex node);
  std::size_t remote_route_count(NodeIndex node) const;
  // Whether any peer has a route: the publish path skips remote matching otherwise.
  bool has_remote_routes() const { return remote_total_.load(std::memory_order_relaxed) != 0; }

  // The local routes (for a peer's snapshot and the API), and up to `limit` routes in all
  // with their node (0 = local) matching the exact `filter` (empty = any).
  std::vector<Route> local_routes() const;
  void list_routes(std::string_view filter, std::size_t limit,
                   const std::function<void(const Route&, NodeIndex)>& f) const;

  // Points every subscription of `from` (given by the session's filters) to `to`: used
  // when a session moves to another worker. Afterwards match() returns `to`.
  void move(const std::vector<std::string>& filters, SubscriberRef from, SubscriberRef to);

  BrokerStats stats() const;

 private:
  struct Entry {
    SubscriberRef ref;
    mqtt::SubscribeOptions opts;
    std::uint32_t subscription_id = 0;
    std::shared_ptr<Pressure> pressure;
    std::uint64_t store_uid = 0;
  };
  // A filter's plain subscribers. Positions are not kept (erase swaps the last in), and
  // past a few entries an index finds a subscriber's entry in O(1), so that a filter with
  // a hundred thousand subscribers costs O(1) per subscribe, unsubscribe or move.
  class DirectList {
   public:
    const std::vector<Entry>& entries() const { return entries_; }
    bool empty() const { return entries_.empty(); }
    Entry* find(SubscriberRef ref);
    void push(Entry e);
    bool erase(SubscriberRef ref);
    void repoint(SubscriberRef from, SubscriberRef to);

   private:
    struct RefHash {
      std::size_t operator()(const SubscriberRef& r) const noexcept {
        return std::hash<std::uint64_t>{}(r.session * 31 + r.worker);
      }
    };
    static constexpr std::size_t kIndexFrom = 16;
    std::vector<Entry> entries_;
    std::unique_ptr<std::unordered_map<SubscriberRef, std::size_t, RefHash>> index_;
  };
  struct Group {
    std::string name;
    std::shared_ptr<const std::string> share;  // "$share/{name}/{filter}"
    std::vector<Entry> members;                // local members; picker indices first
    std::vector<NodeIndex> remote;             // peers with members; indices after them
    std::unique_ptr<SharedPicker> picker;
    bool empty() const { return members.empty() && remote.empty(); }
  };
  struct Subscribers {
    DirectList direct;
    std::vector<Group> groups;
    std::vector<NodeIndex> remote;  // peers with plain subscribers of this filter
    bool empty() const { return direct.empty() && groups.empty() && remote.empty(); }
  };
  struct RouteHash {
    std::size_t operator()(const Route& r) const noexcept {
      return std::hash<std::string>{}(r.filter) * 31 + std::hash<std::string>{}(r.group);
    }
  };
  struct RemoteShard {
    std::unordered_map<Route, std::uint64_t, RouteHash> routes;  // -> snapshot generation
    std::uint64_t generation = 0;
  };

  static Group* find_group(Subscribers& subs, std::string_view name);
  static const Group* find_group(const Subscribers& subs, std::string_view name) {
    return find_group(const_cast<Subscribers&>(subs), name);
  }
  Group& group_at(Subscribers& subs, std::string_view name, std::string_view filter);
  void erase_if_empty(std::string_view filter, Subscribers& subs);
  void add_remote_locked(NodeIndex node, const Route& r);
  void remove_remote_locked(NodeIndex node, const Route& r);
  void merge_per_session(std::vector<Match>& out, std::size_t from) const;

  SharedStrategy strategy_;
  RouteSink* routes_;
  mutable std::shared_mutex mutex_;
  mutable std::mutex picker_mutex_;  // shared-group pickers keep state across matches
  TopicTrie<Subscribers> trie_;
  std::size_t subscriptions_ = 0;
  std::size_t shared_subscriptions_ = 0;
  std::size_t local_topics_ = 0;  // filters with local subscribers
  std::size_t local_routes_ = 0;
  std::unordered_map<NodeIndex, RemoteShard> remote_;  // guarded by mutex_
  std::atomic<std::size_t> remote_total_{0};
};

}  // namespace emqxd::broker
