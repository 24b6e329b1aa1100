#include "net/node_counters.hpp"

#include <algorithm>

#include "metrics/metrics.hpp"
#include "session/node_state.hpp"
#include "session/worker_core.hpp"

namespace emqxd::net {

namespace {

// "messages_dropped_no_subscribers" -> "messages.dropped.no_subscribers": EMQX's names
// use the first two words as levels; EMQX writes "authorization.cache_hit" and
// "authorization.cache_miss" with one, and so emqxd "client.rate_limited".
std::string dotted(std::string name) {
  for (std::string_view one_level : {"authorization_cache_", "client_rate_"}) {
    if (name.starts_with(one_level)) {
      name[one_level.find('_')] = '.';
      return name;
    }
  }
  int levels = 0;
  for (auto& c : name) {
    if (c == '_' && levels < 2) {
      c = '.';
      ++levels;
    }
  }
  return name;
}

std::uint64_t gauge(std::int64_t v) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(v, 0));
}

}  // namespace

std::vector<Counter> node_stats(const session::NodeState& state) {
  std::int64_t connections = 0;
  std::int64_t sessions = 0;
  for (const auto* core : state.cores) {
    const auto& m = core->metrics_view();
    connections += m.connections.load(std::memory_order_relaxed);
    sessions += m.sessions.load(std::memory_order_relaxed);
  }
  auto b = state.broker.stats();
  return {{"connections.count", gauge(connections)},
          {"sessions.count", gauge(sessions)},
          {"subscriptions.count", b.subscriptions},
          {"subscriptions.shared.count", b.shared_subscriptions},
          {"topics.count", b.topics},
          {"retained.count", state.retainer.size()}};
}

std::vector<Counter> node_metrics(const session::NodeState& state) {
  std::vector<Counter> out;
#define EMQXD_SUM(name)                                                   \
  {                                                                       \
    std::uint64_t total = 0;                                              \
    for (const auto* core : state.cores) {                                \
      total += core->metrics_view().name.load(std::memory_order_relaxed); \
    }                                                                     \
    out.push_back({dotted(#name), total});                                \
  }
  EMQXD_COUNTERS(EMQXD_SUM)
#undef EMQXD_SUM
  return out;
}

}  // namespace emqxd::net
