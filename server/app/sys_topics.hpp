#pragma once
// The node's own $SYS topics, as EMQX publishes them: the node list, version and sysdescr
// (retained, once), uptime and datetime every sys_topics.sys_heartbeat_interval, and the
// stats and metrics every sys_topics.sys_msg_interval. Runs on worker 0, through its
// Scheduler; the client events are the sessions' (session/sys_events.hpp).
#include <memory>
#include <string>

#include "session/node_state.hpp"
#include "session/scheduler.hpp"

namespace emqxd::cluster {
class Cluster;
}
namespace emqxd::net {
class StatPeaks;
}
namespace emqxd::session {
class WorkerCore;
}

namespace emqxd::app {

class SysTopics {
 public:
  // `peaks`: the gauges' highest values (stats/connections/max, ...), shared with the API.
  SysTopics(session::NodeState& node, session::WorkerCore& core, cluster::Cluster& cluster,
            net::StatPeaks& peaks);
  // Publishes the fixed topics and starts the timers; call once, from any thread (it
  // posts to the core's worker).
  void start();
  // The timers stop at their next tick once the node is shutting down.

 private:
  void publish(const std::string& sub_topic, std::string payload, bool retain = false);
  void heartbeat();
  void stats();
  void every(session::Scheduler::Clock::duration period, void (SysTopics::*what)());

  session::NodeState& node_;
  session::WorkerCore& core_;
  cluster::Cluster& cluster_;
  net::StatPeaks& peaks_;
};

}  // namespace emqxd::app
