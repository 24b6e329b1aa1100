#include "app/sys_topics.hpp"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <ctime>

#include "cluster/cluster.hpp"
#include "net/node_counters.hpp"
#include "session/worker_core.hpp"

#ifndef EMQXD_VERSION
#define EMQXD_VERSION "0.0.0"
#endif

namespace emqxd::app {

namespace json = boost::json;

namespace {

std::string rfc3339_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "messages.dropped.no_subscribers" -> "messages/dropped/no_subscribers": $SYS writes
// the levels of a counter's name as topic levels.
std::string sys_levels(std::string name) {
  std::replace(name.begin(), name.end(), '.', '/');
  return name;
}

}  // namespace

SysTopics::SysTopics(session::NodeState& node, session::WorkerCore& core, cluster::Cluster& cluster,
                     net::StatPeaks& peaks)
    : node_(node), core_(core), cluster_(cluster), peaks_(peaks) {}

void SysTopics::start() {
  auto& sched = core_.scheduler();
  sched.post(sched.id(), [this] {
    publish("", node_.config.node.name, true);
    publish("version", EMQXD_VERSION, true);
    publish("sysdescr", "emqxd", true);
    heartbeat();
    stats();
    const auto& sys = node_.config.sys_topics;
    if (sys.sys_heartbeat_interval.count() > 0)
      every(sys.sys_heartbeat_interval, &SysTopics::heartbeat);
    if (sys.sys_msg_interval.count() > 0) every(sys.sys_msg_interval, &SysTopics::stats);
  });
}

void SysTopics::every(session::Scheduler::Clock::duration period, void (SysTopics::*what)()) {
  core_.scheduler().after(period, [this, period, what] {
    if (node_.shutting_down) return;
    (this->*what)();
    every(period, what);
  });
}

// As EMQX: the fixed facts (version, sysdescr, the node list) are retained; uptime,
// datetime, stats and metrics are not, so they never crowd the retained store.
void SysTopics::publish(const std::string& sub_topic, std::string payload, bool retain) {
  auto msg = std::make_shared<mqtt::Message>();
  msg->topic = "$SYS/brokers";
  if (!sub_topic.empty()) msg->topic += "/" + node_.config.node.name + "/" + sub_topic;
  msg->payload = std::move(payload);
  msg->retain = retain;
  msg->received_at = mqtt::Message::Clock::now();
  core_.publish(msg, {});
}

void SysTopics::heartbeat() {
  auto up = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  node_.started)
                .count();
  publish("uptime", std::to_string(up));
  publish("datetime", rfc3339_now());
}

void SysTopics::stats() {
  node_.retainer.expire(mqtt::Message::Clock::now());
  for (const auto& c : net::node_stats(node_, &peaks_)) {
    publish("stats/" + sys_levels(c.name), std::to_string(c.value));
  }
  for (const auto& c : net::node_metrics(node_)) {
    publish("metrics/" + sys_levels(c.name), std::to_string(c.value));
  }
  auto cs = cluster_.stats();
  publish("stats/cluster/nodes/count", std::to_string(cs.members));
  publish("stats/cluster/routes/remote", std::to_string(node_.broker.stats().remote_routes));
  publish("stats/cluster/forward/queued", std::to_string(cs.forward_queued));
  publish("metrics/cluster/forward/sent", std::to_string(cs.forward_sent));
  publish("metrics/cluster/forward/received", std::to_string(cs.forward_received));
  publish("metrics/cluster/forward/dropped", std::to_string(cs.forward_dropped));
  publish("metrics/cluster/session/takeover_in", std::to_string(cs.takeovers_in));
  publish("metrics/cluster/session/takeover_out", std::to_string(cs.takeovers_out));
  // Each rule's metrics on this node (emqxd's: EMQX has them in the API only).
  for (const auto& r : node_.rules.list()) {
    if (auto s = node_.rules.metrics(r->id))
      publish("rules/" + r->id + "/metrics", json::serialize(rules::RuleEngine::metrics_json(*s)));
  }
}

}  // namespace emqxd::app
