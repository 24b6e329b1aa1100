#pragma once
// SlowSubs: EMQX's slow subscriptions. A delivery is complete when a QoS 0 message is
// written to the client, when the PUBACK of a QoS 1 one or the PUBCOMP of a QoS 2 one
// comes back. Its latency (slow_subs.stats_type) is
//   whole     from the message's arrival on this node to completion
//   internal  from arrival to the moment it was first written to the client
//   response  from that moment to completion
// A latency above slow_subs.threshold records (client id, topic) with the largest latency
// seen, and when; the node keeps the top_k_num largest (a new one pushes out the smallest),
// and forgets a record not raised within expire_interval. Retained messages sent on
// subscribe are not counted (their age is not the subscriber's fault), as EMQX skips
// messages older than the session.
//
// A message forwarded by another node arrives when it reaches this node: its latency does
// not include the hop between nodes (EMQX measures from the publishing node's clock).
//
// Workers record into their own shard (a mutex each, taken only for a latency above the
// threshold); the API reads them all. Settings change at run time (PUT
// /api/v5/slow_subscriptions/settings), kept for the cluster in the replicated table
// "settings" under "slow_subs" so that every node, and each one after a restart, applies
// the last one written; without it the config file's apply.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace emqxd::tables {
class ReplicatedTables;
struct Entry;
}  // namespace emqxd::tables

namespace emqxd::session {

class SlowSubs {
 public:
  using Settings = config::SlowSubsConfig;
  static constexpr std::size_t kMaxSize = 1000;  // EMQX's ?MAX_SIZE: the API lists no more
  static constexpr std::string_view kTable = "settings";
  static constexpr std::string_view kKey = "slow_subs";

  explicit SlowSubs(const Settings& s);

  bool enabled() const { return enable_.load(std::memory_order_relaxed); }
  // A delivery completed on worker `worker`: `internal` from the message's arrival to its
  // first write, `response` from there to now.
  void completed(std::uint32_t worker, std::string_view client_id, std::string_view topic,
                 std::chrono::milliseconds internal, std::chrono::milliseconds response,
                 std::int64_t now_ms);

  struct Record {
    std::string clientid;
    std::string topic;
    std::int64_t timespan = 0;        // ms
    std::int64_t last_update_ms = 0;  // Unix ms
  };
  // This node's records, largest latency first (expired ones dropped).
  std::vector<Record> list(std::int64_t now_ms);
  void clear();

  Settings settings() const;
  // Follows the replicated table's "slow_subs" entry (before t.load()); put() writes it.
  void attach(tables::ReplicatedTables& t);
  // New settings, on every node when attached (else on this one): false when the table
  // refused the write.
  bool put(const Settings& s);

  // EMQX's JSON of the settings ({"enable", "threshold": "500ms", "expire_interval",
  // "top_k_num", "stats_type"}), and back: nullopt with `error` set for a bad field.
  static std::string to_json(const Settings& s);
  static std::optional<Settings> from_json(std::string_view text, const Settings& base,
                                           std::string& error);

 private:
  struct Shard {
    std::mutex mutex;
    std::vector<Record> records;  // at most top_k_num
  };
  static constexpr std::size_t kShards = 16;

  void apply(const Settings& s);
  static void expire(std::vector<Record>& records, std::int64_t now_ms, std::int64_t life_ms);

  tables::ReplicatedTables* tables_ = nullptr;
  mutable std::mutex settings_mutex_;
  Settings settings_;  // guarded by settings_mutex_; the hot fields are copied below
  std::atomic<bool> enable_{false};
  std::atomic<std::int64_t> threshold_ms_{500};
  std::atomic<std::int64_t> expire_ms_{300'000};
  std::atomic<std::uint32_t> top_k_{10};
  std::atomic<Settings::StatsType> stats_type_{Settings::StatsType::Whole};
  std::array<Shard, kShards> shards_;
};

}  // namespace emqxd::session
