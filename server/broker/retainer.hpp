#pragma once
// Retainer: the last retained message of every topic (MQTT 5 section 3.3.1.3), handed to
// new subscriptions whose filter matches it.
//
// Storage is a tree of topic levels, the mirror image of TopicTrie: there the stored keys
// are filters and a topic walks them; here the stored keys are topic names and a filter
// walks them. A literal filter level is one hash lookup, '+' visits every child of the
// node, '#' collects the node and its whole subtree, so "a/+/c" touches the children of
// "a" and not every retained topic. At the root, '+' and '#' skip the topics starting with
// '$' [MQTT-4.7.2-1].
//
// Expiry: a message expires by its own Message Expiry Interval, or, when it has none, by
// the retainer's `msg_expiry_interval` (EMQX `retainer.msg_expiry_interval`) counted from
// when it was received. Expired messages are never returned by match(); they still take
// memory and count against `max_retained_messages` until expire() removes them, which the
// owner runs on a timer (EMQX `retainer.msg_clear_interval`).
//
// Thread-safe: one internal mutex. Only PUBLISH with RETAIN and SUBSCRIBE take it, never
// the plain publish path.
//
// This class is the in-memory index that subscriptions are matched against. The worker
// also records each change in its storage batch (net::Worker::apply_retained) and sends
// it to every peer; retain(merge = true) is how a peer's message is merged, last writer
// wins (docs/architecture.md, "Retained messages" and "Storage").
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mqtt/message.hpp"

namespace emqxd::broker {

namespace detail {
struct RetainerNode;  // one topic level; retainer.cpp
}  // namespace detail

struct RetainerLimits {
  std::uint32_t max_retained_messages = 0;           // distinct topics; 0 = no limit
  std::uint32_t max_payload_size = 1024 * 1024;      // bytes; 0 = no limit
  std::chrono::milliseconds msg_expiry_interval{0};  // for messages without their own; 0 = never
};

class Retainer {
 public:
  enum class RetainResult : std::uint8_t {
    Stored,           // set or replaced the topic's retained message
    Cleared,          // empty payload: the topic has no retained message now
    QuotaExceeded,    // a new topic beyond max_retained_messages; nothing changed
    PayloadTooLarge,  // payload above max_payload_size; nothing changed
    Older,            // a newer message (or clearing) of the topic is known; nothing changed
  };

  explicit Retainer(RetainerLimits limits = {});
  ~Retainer();
  Retainer(const Retainer&) = delete;
  Retainer& operator=(const Retainer&) = delete;

  // Stores `m` as the retained message of m->topic, replacing any previous one; an empty
  // payload removes it instead [MQTT-3.3.1-6] [MQTT-3.3.1-7]. The topic is a valid topic
  // name (checked by the channel). Any thread.
  //
  // Last writer wins across the cluster, by stamp: Message::received_at_ms, the origin's
  // receive time. A message published here (merge = false) always wins here; if its stamp
  // is not above what the topic holds it is stored as a copy stamped just above, and
  // `kept` (when given) gets the message as stored, which is the one to replicate. A
  // message from a peer (merge = true) replaces only an older one, by stamp and then by
  // payload bytes, so every node keeps the same message whatever order the nodes'
  // messages reach it in. A clearing is remembered (a tombstone, for kTombstoneLife) so
  // that an older message arriving after it does not come back. Unstamped messages
  // ($SYS, tests) always win.
  RetainResult retain(mqtt::MessagePtr m, bool merge = false, mqtt::MessagePtr* kept = nullptr);
  static constexpr std::chrono::minutes kTombstoneLife{10};

  // Appends to `out` every live retained message whose topic matches the valid, non-shared
  // `filter` (shared subscriptions get no retained messages: the caller skips them).
  // Any thread.
  void match(std::string_view filter, mqtt::Message::Clock::time_point now,
             std::vector<mqtt::MessagePtr>& out) const;

  // The message retained for exactly `topic`, as stored: possibly expired if expire() has
  // not run since. For admin lookups. Any thread.
  std::optional<mqtt::MessagePtr> get(std::string_view topic) const;

  // Removes every message expired at `now`; returns how many. Any thread; O(size).
  std::size_t expire(mqtt::Message::Clock::time_point now);

  // Calls f for every stored message (expired ones included), in no particular order, with
  // the lock held: f must not call back into the Retainer. For admin listings.
  void for_each(const std::function<void(const mqtt::MessagePtr&)>& f) const;

  // Number of retained topics (expired ones not yet removed included).
  std::size_t size() const;
  void clear();

  const RetainerLimits& limits() const { return limits_; }

 private:
  bool expired(const mqtt::Message& m, mqtt::Message::Clock::time_point now) const;
  bool erase_locked(std::string_view topic);
  // Whether a stamped `m` loses to what the topic holds (a message or a tombstone).
  bool older_locked(const mqtt::Message& m, const mqtt::Message* existing);

  const RetainerLimits limits_;
  mutable std::mutex mutex_;
  std::unique_ptr<detail::RetainerNode> root_;  // guarded by mutex_
  std::size_t size_ = 0;                        // guarded by mutex_
  // Recent clearings of stamped messages: topic -> their stamp (guarded by mutex_).
  std::unordered_map<std::string, std::int64_t> tombstones_;
  std::int64_t tombstones_pruned_at_ = 0;
};

}  // namespace emqxd::broker
