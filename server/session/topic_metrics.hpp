#pragma once
// TopicMetrics: EMQX's topic metrics. For each registered topic name (no wildcards, at most
// kMaxTopics) the node counts the messages published to it (messages.in and per QoS: on
// the node where they were published, by clients, the API or a will), those delivered to
// a client (messages.out and per QoS, the QoS of the delivery) and those dropped
// (messages.dropped: no subscriber, queue full, expired, too large for the client), with
// each one's rate (messages per second, EMQX's 5-second moving average, ticked every
// second by app/sysmon.cpp).
//
// Which topics are registered is the cluster's: the replicated table "topic_metrics"
// (tables/replicated_tables.hpp; key: the topic, value: when it was registered, Unix ms)
// holds them, so a topic registered through any node's /api/v5/mqtt/topic_metrics is
// counted on every node and stays registered across restarts. The counts are each node's;
// the API adds them up. `topic_metrics = [{topic = ...}]` in the config registers topics
// at start-up.
//
// The publish path pays one relaxed load while nothing is registered; otherwise a hash
// lookup per message and per delivery in the worker's View (no lock: the View refreshes
// its snapshot when the registry's generation moves) and relaxed atomic increments.
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "mqtt/types.hpp"

namespace emqxd::tables {
class ReplicatedTables;
struct Entry;
}  // namespace emqxd::tables

namespace emqxd::session {

class TopicMetrics {
 public:
  static constexpr std::size_t kMaxTopics = 512;  // EMQX's max_limit()
  static constexpr std::string_view kTable = "topic_metrics";

  enum Metric : std::uint8_t {
    In,
    Out,
    Qos0In,
    Qos0Out,
    Qos1In,
    Qos1Out,
    Qos2In,
    Qos2Out,
    Dropped,
  };
  static constexpr std::size_t kMetrics = 9;
  // "messages.in", "messages.qos0.out", ... (EMQX's names, without .count / .rate).
  static std::string_view name(Metric m);

  // One topic's counters, written by every worker.
  struct Counters {
    std::array<std::atomic<std::uint64_t>, kMetrics> n{};
    void inc(Metric m) { n[m].fetch_add(1, std::memory_order_relaxed); }
    void in(mqtt::QoS q) {
      inc(In);
      inc(static_cast<Metric>(Qos0In + 2 * static_cast<int>(q)));
    }
    void out(mqtt::QoS q) {
      inc(Out);
      inc(static_cast<Metric>(Qos0Out + 2 * static_cast<int>(q)));
    }
  };

 private:
  struct Entry {
    Counters counters;
    std::int64_t create_ms = 0;
    std::optional<std::int64_t> reset_ms;
    // Rates, under the registry's mutex (tick()).
    std::array<std::uint64_t, kMetrics> last{};
    std::array<double, kMetrics> rate{};
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Map = std::unordered_map<std::string, std::shared_ptr<Entry>, Hash, std::equal_to<>>;

 public:
  // A worker's lookups: lock-free, refreshed when topics are registered or removed. One
  // per worker thread.
  class View {
   public:
    explicit View(const TopicMetrics& tm) : tm_(&tm) {}
    // The counters of `topic` when it is registered, else null.
    Counters* find(std::string_view topic) {
      if (tm_->count_.load(std::memory_order_relaxed) == 0) return nullptr;
      const auto g = tm_->generation_.load(std::memory_order_acquire);
      if (g != generation_) refresh(g);
      auto it = snapshot_->find(topic);
      return it == snapshot_->end() ? nullptr : &it->second->counters;
    }

   private:
    void refresh(std::uint64_t g);
    const TopicMetrics* tm_;
    std::uint64_t generation_ = ~0ull;
    std::shared_ptr<const Map> snapshot_;
  };

  TopicMetrics();
  // Declares the table on `t` and follows it; before t.load(). Without it the topics stay
  // in this object (tests).
  void attach(tables::ReplicatedTables& t);

  enum class Outcome : std::uint8_t { Ok, Exists, Full, BadTopic, NotFound };
  // Registers `topic` (on every node, through the table when attached).
  Outcome add(const std::string& topic);
  // Registers the config's topics that are not registered yet (start-up, after load()).
  void seed(const std::vector<std::string>& topics);
  Outcome remove(const std::string& topic);
  // Zeroes the counters and rates of `topic` (all topics when none) on this node, noting
  // when; NotFound when the topic is not registered.
  Outcome reset(const std::optional<std::string>& topic, std::int64_t now_ms);
  // Every second: the rates.
  void tick();

  struct Sample {
    std::string topic;
    std::int64_t create_ms = 0;
    std::optional<std::int64_t> reset_ms;
    std::array<std::uint64_t, kMetrics> count{};
    std::array<double, kMetrics> rate{};
  };
  // This node's counts of every registered topic (or of `topic`: none when it is not
  // registered), by topic.
  std::vector<Sample> samples(const std::optional<std::string>& topic = std::nullopt) const;
  std::size_t size() const { return count_.load(std::memory_order_relaxed); }

  static bool valid_topic(std::string_view topic);

 private:
  void apply(const tables::Entry& e);
  void set(const std::string& topic, std::optional<std::int64_t> create_ms);  // under mutex_
  void publish_snapshot();                                                    // under mutex_

  tables::ReplicatedTables* tables_ = nullptr;
  mutable std::mutex mutex_;
  Map entries_;                          // guarded by mutex_
  std::shared_ptr<const Map> snapshot_;  // guarded by mutex_; what the Views copy
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> count_{0};
};

}  // namespace emqxd::session
