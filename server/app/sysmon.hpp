#pragma once
// SysMon: the node's own watch on itself, raising and clearing its alarms
// (api/alarms.hpp) as EMQX's sysmon and os_mon do, and sampling the gauges whose peaks
// EMQX reports (connections.max, ...: net::StatPeaks) and the topic metrics' rates
// (session/topic_metrics.hpp) every second.
//
//   high_system_memory_usage           the machine's memory in use (MemTotal - MemAvailable)
//                                      above sysmon.os.sysmem_high_watermark
//   high_process_memory_usage          emqxd's resident memory above
//                                      sysmon.os.procmem_high_watermark of the machine's
//     (both every sysmon.os.mem_check_interval; cleared once back under)
//   listener_connections_high/<type>:<name>
//                                      a listener at 90% or more of its max_connections;
//                                      cleared below 80%
//   cluster_node_down/<node>           a cluster member this node sees dead; cleared when it
//                                      is back or has left the cluster
//   durable_storage_error              the store's writes fail (disk full, I/O error:
//                                      storage::Store::health()); cleared when they work
//
// One thread of its own, ticking every second; it reads only thread-safe things (listener
// counts, the store's health, the cluster's status, which waits for the cluster thread).
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace emqxd::api {
class Alarms;
class ClusterControl;
}  // namespace emqxd::api
namespace emqxd::net {
class Listener;
class StatPeaks;
}  // namespace emqxd::net
namespace emqxd::session {
struct NodeState;
}

namespace emqxd::app {

class SysMon {
 public:
  // Everything must outlive the SysMon (stop() first).
  SysMon(session::NodeState& node, api::Alarms& alarms, net::StatPeaks& peaks,
         api::ClusterControl& cluster,
         const std::vector<std::unique_ptr<net::Listener>>& listeners);
  ~SysMon();
  SysMon(const SysMon&) = delete;
  SysMon& operator=(const SysMon&) = delete;

  void start();
  void stop();  // idempotent; waits for the thread

  // A listener at this share of max_connections raises its alarm, below kClearShare clears.
  static constexpr double kRaiseShare = 0.9;
  static constexpr double kClearShare = 0.8;

 private:
  void run();
  void check_memory();
  void check_listeners();
  void check_cluster();
  void check_storage();

  session::NodeState& node_;
  api::Alarms& alarms_;
  net::StatPeaks& peaks_;
  api::ClusterControl& cluster_;
  const std::vector<std::unique_ptr<net::Listener>>& listeners_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;
};

}  // namespace emqxd::app
