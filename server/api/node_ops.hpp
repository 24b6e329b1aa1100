#pragma once
// NodeOps: the operations of the HTTP API that run where the data is. Any node's API
// answers for the whole cluster (docs/architecture.md, section 10): it asks every running
// member, itself included, through ClusterControl::ask, which runs NodeOps::answer here
// or on the peer (cluster Admin.Query, proto/cluster.proto). Each operation takes a JSON
// object of arguments and answers a JSON body with an HTTP-like status; the JSON objects
// are EMQX's, so the API only merges and pages them.
//
//   name                  args                                    answer
//   node                  {}                                      EMQX's /api/v5/nodes item
//   stats | metrics       {}                                      {"connections.count": n, ...}
//   clients               {filters..., offset, limit, fields}     {"count": n, "data": [client]}
//   client                {clientid}                              client, or 404
//   kick                  {clientid}                              {}, or 404
//   client_subscriptions  {clientid}                              [subscription], or 404
//   subscribe             {clientid, topic, qos, nl, rap, rh}     subscription, 404 or 400
//   unsubscribe           {clientid, topic}                       {}, or 404
//   subscriptions         {filters..., offset, limit}             {"count": n, "data": [...]}
//   mqueue | inflight     {clientid, limit}                       {"data": [message], "count": n}
//   publish               {topic, payload (base64), qos, ...}     {"id", "matched"}
//   retained_list         {topic (a filter)?, offset, limit}      {"count": n, "data": [message]}
//   retained_get          {topic}                                 message with payload, or 404
//   retained_clear        {topic} | {filter} | {}                 {"cleared": n}
//   trace_read            {name, position, bytes}                 {"size", "mtime", "bytes"}
//   trace_sizes           {}                                      {"<trace>": file size}
//   prom_sample           {}                                      prom::to_json(sample)
//   alarms                {activated?}                            {"data": [alarm]}
//   alarms_clear          {}                                      {} (deactivated forgotten)
//   delayed_settings      {}                                      {enable, max_delayed_messages}
//   delayed_set           {enable?, max_delayed_messages?}        the same, now in force here
//   delayed_list          {offset, limit}                         {"count": n, "data": [message]}
//   delayed_get           {msgid}                                 message with payload, or 404
//   delayed_delete        {msgid}                                 {}, or 404
//   delayed_delete_topic  {topic}                                 {"deleted": n}
//
// "clients" and "subscriptions" sort what matches (by client id, then topic) so that pages
// asked of a node one after another follow each other. The per-session operations run on
// the worker that holds the session (posted, waited for at most kWorkerWait); answer() is
// called on the API's handler threads and on gRPC threads, several at once.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "api/control.hpp"
#include "api/prometheus.hpp"

namespace emqxd::session {
struct NodeState;
}
namespace emqxd::net {
class Listener;
class StatPeaks;
class Worker;
}  // namespace emqxd::net

namespace emqxd::api {

class Alarms;

class NodeOps {
 public:
  static constexpr std::chrono::seconds kWorkerWait{3};
  static constexpr std::size_t kMaxLimit = 10000;  // EMQX's max_row_limit
  // The most of a trace file one answer carries: its base64 fits a cluster RPC message.
  static constexpr std::uint64_t kMaxTraceBytes = 128ull * 1024 * 1024;

  // `node`, the workers and `peaks` must outlive this. With `peaks`, stats carry EMQX's
  // "<stat>.max" too.
  NodeOps(session::NodeState& node, std::vector<net::Worker*> workers, std::string version,
          net::StatPeaks* peaks = nullptr);

  // The node's alarms and its Prometheus sample, for the cluster-wide /api/v5/alarms and
  // /api/v5/prometheus/stats (monitor_api.cpp). Set once, before the node answers peers;
  // without them those operations answer 404.
  struct Monitor {
    Alarms* alarms = nullptr;
    std::function<prom::NodeSample()> sample;
  };
  void set_monitor(Monitor m) { monitor_ = std::move(m); }
  // The node's MQTT listeners, once they are made (before that: none). The vector and its
  // listeners must outlive this; the vector must not change afterwards.
  void set_listeners(const std::vector<std::unique_ptr<net::Listener>>* listeners) {
    listeners_.store(listeners);
  }

  // An operation defined beside its feature's routes (api/topic_stats_api.cpp, ...), run
  // with the JSON arguments as sent. Added before the node answers anyone, never after.
  using Op = std::function<NodeAnswer(const std::string& args)>;
  void add(const std::string& name, Op op) { extra_[name] = std::move(op); }

  // Runs the operation; never throws (a bad argument is a 400, an unknown name a 404).
  NodeAnswer answer(const std::string& name, const std::string& args);

 private:
  session::NodeState& node_;
  std::vector<net::Worker*> workers_;
  std::string version_;
  net::StatPeaks* peaks_;
  Monitor monitor_;
  std::map<std::string, Op, std::less<>> extra_;  // see add()
  std::atomic<const std::vector<std::unique_ptr<net::Listener>>*> listeners_{nullptr};
};

}  // namespace emqxd::api
