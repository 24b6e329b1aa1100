#pragma once
// The node's counters, one list for everyone who shows them ($SYS stats/metrics topics, the
// HTTP API's /api/v5/stats and /api/v5/metrics, and /api/v5/prometheus/stats), so that all
// of them agree on what exists and what it is called. Names are EMQX 5's where EMQX has the
// quantity ("connections.count", "messages.dropped.no_subscribers",
// "delivery.dropped.queue_full", "authorization.matched_allow"), emqxd's own otherwise
// ("messages.dropped.no_session"); $SYS writes each dot as a topic level.
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::net {

struct Counter {
  std::string name;
  std::uint64_t value = 0;
};

// The highest value each gauge had when it was read (EMQX's "<stat>.max": EMQX samples its
// stats too, every second, and keeps the highest). Any thread.
class StatPeaks {
 public:
  // Raises the peaks to `stats` and returns "<name>.max" for each gauge EMQX keeps a peak of.
  std::vector<Counter> update(const std::vector<Counter>& stats);

 private:
  std::mutex mutex_;
  std::map<std::string, std::uint64_t> max_;  // guarded by mutex_
};

// Gauges: connections (live_connections too: the same in emqxd, whose connection count has
// no disconnected channels), sessions, subscriptions (suboptions: the same), shared
// subscriptions, topics (distinct filters subscribed on this node) and retained messages.
// With `peaks`, their "<name>.max" follow. Any thread: the workers' gauges are relaxed
// atomics, the broker and retainer sizes are read under their locks.
std::vector<Counter> node_stats(const session::NodeState& state, StatPeaks* peaks = nullptr);

// Every metrics::Metrics counter (EMQXD_COUNTERS), summed over the workers, by the name
// EMQX gives it (metric_name()), then "delivery.dropped", the sum of the delivery drops.
// Any thread.
std::vector<Counter> node_metrics(const session::NodeState& state);

// "messages_qos0_received" -> "messages.qos0.received", "client_takeover" ->
// "session.takenover": the name node_metrics() gives an EMQXD_COUNTERS counter.
std::string metric_name(std::string_view counter);

}  // namespace emqxd::net
