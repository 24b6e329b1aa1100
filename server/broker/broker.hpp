#pragma once
// Broker: the node's subscription table. Maps topic filters to the local sessions that
// subscribed them (plain and shared), and a published topic to the sessions that should
// receive it: one per shared group, merged per session so that overlapping subscriptions
// deliver once with the highest QoS and every Subscription Identifier [MQTT-3.3.4-3..5].
//
// Threads: any worker may call any method. Matching takes a shared lock and never waits
// for another matcher; subscribe/unsubscribe take the exclusive lock briefly. Delivery
// itself is not done here: the caller posts the matches to the owning workers.
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
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
  std::uint64_t store_uid = 0;  // the session is durable: its QoS 1/2 deliveries are stored
  const std::shared_ptr<Pressure>* pressure = nullptr;  // internal to match(), under the lock
};

struct BrokerStats {
  std::size_t subscriptions = 0;         // (filter, session) pairs incl. shared
  std::size_t shared_subscriptions = 0;
  std::size_t topics = 0;                // distinct filters (routes)
};

class Broker {
 public:
  explicit Broker(SharedStrategy strategy, RouteSink* routes = nullptr);
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
  // `publisher` (0 = none) whose client id is `publisher_client_id`. No Local
  // subscriptions of the publisher itself are skipped [MQTT-3.8.3-3]. A QoS 1/2 delivery
  // to a session with back-pressure is counted in its Pressure (Match::counted).
  void match(const mqtt::Message& m, std::string_view publisher_client_id,
             std::vector<Match>& out) const;

  // Picks another member of the shared group `share` ("$share/g/f") for `m`, skipping
  // `except`; false when the group has no other member.
  bool redispatch(const std::string& share, const mqtt::Message& m, SubscriberRef except,
                  Match& out) const;

  // Points every subscription of `from` (given by the session's filters) to `to`: used
  // when a session moves to another worker. Afterwards match() returns `to`.
  void move(const std::vector<std::string>& filters, SubscriberRef from, SubscriberRef to);

  BrokerStats stats() const;

  // The distinct filters with subscribers on this node (its routes), for admin listings:
  // every one, or only `filter` itself when it is not empty; at most `limit` of them, in
  // no particular order. `total` (when given) gets how many match in all. Any thread:
  // takes the shared lock, so publishers are not held up; O(filters) when listing all.
  std::vector<std::string> routes(std::string_view filter, std::size_t limit,
                                  std::size_t* total = nullptr) const;

 private:
  struct Entry {
    SubscriberRef ref;
    mqtt::SubscribeOptions opts;
    std::uint32_t subscription_id = 0;
    std::shared_ptr<Pressure> pressure;
    std::uint64_t store_uid = 0;
  };
  struct Group {
    std::string name;
    std::shared_ptr<const std::string> share;  // "$share/{name}/{filter}"
    std::vector<Entry> members;
    std::unique_ptr<SharedPicker> picker;
  };
  struct Subscribers {
    std::vector<Entry> direct;
    std::vector<Group> groups;
    bool empty() const { return direct.empty() && groups.empty(); }
  };

  void merge_per_session(std::vector<Match>& out, std::size_t from) const;

  SharedStrategy strategy_;
  RouteSink* routes_;
  mutable std::shared_mutex mutex_;
  mutable std::mutex picker_mutex_;  // shared-group pickers keep state across matches
  TopicTrie<Subscribers> trie_;
  std::size_t subscriptions_ = 0;
  std::size_t shared_subscriptions_ = 0;
};

}  // namespace emqxd::broker
