#include "net/node_counters.hpp"

#include <algorithm>
#include <string_view>
#include <utility>

#include "metrics/metrics.hpp"
#include "session/node_state.hpp"
#include "session/worker_core.hpp"

namespace emqxd::net {

namespace {

// emqxd counters whose EMQX name is not their words with dots.
constexpr std::pair<std::string_view, std::string_view> kRenamed[] = {
    {"messages_dropped_queue_full", "delivery.dropped.queue_full"},
    {"messages_dropped_expired", "delivery.dropped.expired"},
    {"messages_dropped_too_large", "delivery.dropped.too_large"},
    {"messages_dropped_qos0_offline", "delivery.dropped.qos0_msg"},
    {"client_takeover", "session.takenover"},
    {"client_auth_failure", "authentication.failure"},
};

// The parts of delivery.dropped (EMQX: every message dropped on its way to a subscriber).
constexpr std::string_view kDeliveryDrops[] = {
    "delivery.dropped.queue_full", "delivery.dropped.expired", "delivery.dropped.too_large",
    "delivery.dropped.qos0_msg"};

// Gauges EMQX keeps a peak of (emqx_stats: "<name>.max").
constexpr std::string_view kPeaked[] = {
    "connections.count", "live_connections.count", "sessions.count",
    "suboptions.count",  "subscriptions.count",    "subscriptions.shared.count",
    "topics.count",      "retained.count",         "delayed.count"};

std::uint64_t gauge(std::int64_t v) {
  return static_cast<std::uint64_t>(std::max<std::int64_t>(v, 0));
}

}  // namespace

std::string metric_name(std::string_view counter) {
  for (const auto& [from, to] : kRenamed) {
    if (counter == from) return std::string(to);
  }
  std::string name(counter);
  // EMQX writes "authorization.cache_hit", "authorization.matched_allow" and emqxd
  // "client.rate_limited" with one level; other names use their first two words as levels.
  for (std::string_view one_level : {"authorization_", "client_rate_"}) {
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

std::vector<Counter> StatPeaks::update(const std::vector<Counter>& stats) {
  std::vector<Counter> out;
  std::lock_guard lock(mutex_);
  for (const auto& s : stats) {
    if (std::find(std::begin(kPeaked), std::end(kPeaked), s.name) == std::end(kPeaked)) continue;
    std::string name = s.name.substr(0, s.name.rfind('.')) + ".max";
    auto& m = max_[name];
    m = std::max(m, s.value);
    out.push_back({std::move(name), m});
  }
  return out;
}

std::vector<Counter> node_stats(const session::NodeState& state, StatPeaks* peaks) {
  std::int64_t connections = 0;
  std::int64_t sessions = 0;
  for (const auto* core : state.cores) {
    const auto& m = core->metrics_view();
    connections += m.connections.load(std::memory_order_relaxed);
    sessions += m.sessions.load(std::memory_order_relaxed);
  }
  auto b = state.broker.stats();
  std::vector<Counter> out{{"connections.count", gauge(connections)},
                           {"live_connections.count", gauge(connections)},
                           {"sessions.count", gauge(sessions)},
                           {"suboptions.count", b.subscriptions},
                           {"subscriptions.count", b.subscriptions},
                           {"subscriptions.shared.count", b.shared_subscriptions},
                           {"topics.count", b.topics},
                           {"retained.count", state.retainer.size()},
                           {"delayed.count", state.delayed.size()}};
  if (peaks != nullptr) {
    auto max = peaks->update(out);
    out.insert(out.end(), max.begin(), max.end());
  }
  return out;
}

std::vector<Counter> node_metrics(const session::NodeState& state) {
  std::vector<Counter> out;
#define EMQXD_SUM(name)                                                   \
  {                                                                       \
    std::uint64_t total = 0;                                              \
    for (const auto* core : state.cores) {                                \
      total += core->metrics_view().name.load(std::memory_order_relaxed); \
    }                                                                     \
    out.push_back({metric_name(#name), total});                           \
  }
  EMQXD_COUNTERS(EMQXD_SUM)
#undef EMQXD_SUM
  std::uint64_t dropped = 0;
  for (const auto& c : out) {
    if (std::find(std::begin(kDeliveryDrops), std::end(kDeliveryDrops), c.name) !=
        std::end(kDeliveryDrops)) {
      dropped += c.value;
    }
  }
  out.push_back({"delivery.dropped", dropped});
  return out;
}

}  // namespace emqxd::net
