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
//   publish               {topic, payload, qos, retain, ...}      {"id", "matched"}
//
// "clients" and "subscriptions" sort what matches (by client id, then topic) so that pages
// asked of a node one after another follow each other. The per-session operations run on
// the worker that holds the session (posted, waited for at most kWorkerWait); answer() is
// called on the API's handler threads and on gRPC threads, several at once.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "api/control.hpp"

namespace emqxd::session {
struct NodeState;
}
namespace emqxd::net {
class Worker;
}

namespace emqxd::api {

class NodeOps {
 public:
  static constexpr std::chrono::seconds kWorkerWait{3};
  static constexpr std::size_t kMaxLimit = 10000;  // EMQX's max_row_limit

  // `node` and the workers must outlive this.
  NodeOps(session::NodeState& node, std::vector<net::Worker*> workers, std::string version);

  // Runs the operation; never throws (a bad argument is a 400, an unknown name a 404).
  NodeAnswer answer(const std::string& name, const std::string& args);

 private:
  session::NodeState& node_;
  std::vector<net::Worker*> workers_;
  std::string version_;
};

}  // namespace emqxd::api
