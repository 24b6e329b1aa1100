#pragma once
// Delayed: the node's delayed messages, EMQX's delayed publish (delayed.*). A PUBLISH to
// "$delayed/<n>/<topic>" is kept here and published to <topic> later, through the same
// path as any publish (WorkerCore::publish: local sessions, peers, retained), as its
// publisher. <n> below 4294967 is a delay in seconds; from 4294967 on it is a Unix time in
// seconds, at most 4294967 s away. Kept by the node that received it; when the node is
// durable, also in its store (namespace "delayed" of the kv records), so that it fires
// after a restart (at once if it is late).
//
// The record of a message goes into the store batch of the worker that took it
// (`worker`), and its erasure goes into that same worker's batch, so the two reach the
// store in order. Worker 0 runs the one timer (WorkerCore::arm_delayed): it takes the due
// messages and hands each to its worker, which publishes it and erases its record.
//
// Internally locked; any thread. enable and max_delayed_messages change at run time.
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "mqtt/message.hpp"
#include "storage/records.hpp"

namespace emqxd::session {

struct DelayedMessage {
  std::string id;             // 32 hex digits (EMQX's msgid)
  std::int64_t at_ms = 0;     // when it is published, Unix ms
  std::int64_t interval = 0;  // EMQX's delayed_interval, seconds
  std::string from_clientid;
  std::optional<std::string> from_username;
  mqtt::MessagePtr msg;      // its real topic; received_at_ms: when it was published to $delayed
  std::uint32_t worker = 0;  // whose store batch holds its record
};

class Delayed {
 public:
  static constexpr std::string_view kPrefix = "$delayed/";
  static constexpr std::int64_t kMaxInterval = 4294967;      // seconds, EMQX's ?MAX_INTERVAL
  static constexpr std::string_view kNamespace = "delayed";  // its kv records

  explicit Delayed(const config::DelayedConfig& c)
      : enable_(c.enable), max_(c.max_delayed_messages) {}

  bool enabled() const { return enable_.load(std::memory_order_relaxed); }
  std::uint32_t max_messages() const { return max_.load(std::memory_order_relaxed); }
  // PUT /api/v5/mqtt/delayed. Disabling drops every message kept, as EMQX does: they are
  // returned so that their records are erased.
  std::vector<DelayedMessage> set(bool enable, std::uint32_t max_messages);

  // "$delayed/<n>/<topic>" (`topic` starts with kPrefix) at Unix ms `now_ms`: when it
  // is due, its delayed_interval and the real topic (a view into `topic`); false for a
  // <n> that is not an integer, a time too far away, or no <topic>.
  static bool parse(std::string_view topic, std::int64_t now_ms, std::int64_t& at_ms,
                    std::int64_t& interval, std::string_view& real_topic);

  // Keeps `m` unless max_delayed_messages are kept already (false; `restored`: kept
  // anyway, it was accepted before a restart). `earliest`: it is now the first due, and
  // the timer must be set again.
  bool add(DelayedMessage m, bool& earliest, bool restored = false);
  // Those due at `now_ms`, removed, in order.
  std::vector<DelayedMessage> take_due(std::int64_t now_ms);
  // When the first is due.
  std::optional<std::int64_t> next_at() const;
  std::optional<DelayedMessage> get(const std::string& id) const;
  std::optional<DelayedMessage> erase(const std::string& id);
  std::vector<DelayedMessage> erase_topic(std::string_view topic);
  // In the order they are due: `limit` from `offset`; `count` gets how many there are.
  std::vector<DelayedMessage> list(std::size_t offset, std::size_t limit, std::size_t& count) const;
  std::size_t size() const;

  // A new id: 128 random bits as 32 hex digits.
  static std::string new_id();
  // The record of `m` in the store, and back (nullopt: unreadable).
  static void encode(const DelayedMessage& m, const storage::ClockPair& now, std::string& out);
  static std::optional<DelayedMessage> decode(std::string_view id, std::string_view value,
                                              const storage::ClockPair& now);

 private:
  using Key = std::pair<std::int64_t, std::string>;  // (at_ms, id)
  mutable std::mutex mutex_;
  std::map<Key, DelayedMessage> by_time_;                // guarded by mutex_
  std::unordered_map<std::string, std::int64_t> at_of_;  // id -> at_ms; guarded by mutex_
  std::atomic<bool> enable_;
  std::atomic<std::uint32_t> max_;
};

}  // namespace emqxd::session
