#pragma once
// The node's counters, one list for everyone who shows them ($SYS stats/metrics topics and
// the HTTP API's /api/v5/stats and /api/v5/metrics), so that both always agree on what
// exists and what it is called. Names are EMQX's, with dots ("connections.count",
// "messages.dropped.no_subscribers"); $SYS writes each dot as a topic level.
#include <cstdint>
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

// Gauges: connections, sessions, subscriptions (plain and shared), topics (distinct
// filters) and retained messages. Any thread: the workers' gauges are relaxed atomics, the
// broker and retainer sizes are read under their locks.
std::vector<Counter> node_stats(const session::NodeState& state);

// Every metrics::Metrics counter (EMQXD_COUNTERS), summed over the workers. Any thread.
std::vector<Counter> node_metrics(const session::NodeState& state);

}  // namespace emqxd::net
