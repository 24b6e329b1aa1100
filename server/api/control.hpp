#pragma once
// ClusterControl: what the HTTP API asks of the cluster (docs/architecture.md, section 6).
// The API is below the cluster in the dependency graph, so it declares what it needs here;
// the cluster module (cluster::Cluster) implements it and app::Node wires it in; every
// node runs its cluster, so the router always has one.
#include <cstddef>
#include <string>

namespace emqxd::api {

// What the HTTP API asks of the cluster; implemented by the cluster module, wired by app::Node.
// Every method may be called from the API thread; implementations must be thread-safe and
// must not block for long: join may wait a few seconds for the node it contacts to answer
// (cluster::Cluster waits up to 5 s, then answers 503 and keeps trying) and leave a
// moment for its Leave messages to go out. The API thread serves nothing else meanwhile.
class ClusterControl {
 public:
  struct Outcome {
    int http_status =
        200;  // 200 done, 400 bad argument, 404 unknown node, 409 conflict, 503 unavailable
    std::string message;  // for the JSON answer and the CLI
  };
  virtual ~ClusterControl() = default;
  virtual Outcome join(const std::string& node) = 0;  // "name@host[:port]", port defaults to 4370
  virtual Outcome leave() = 0;
  virtual Outcome force_leave(const std::string& node) = 0;  // "name@host" or with port
  // The whole cluster as this node sees it, serialized JSON (shape below).
  virtual std::string status_json() = 0;
  // Routes known on this node, serialized JSON (shape below); topic empty = all (at most `limit`).
  virtual std::string routes_json(const std::string& topic, std::size_t limit) = 0;
};

// status_json(), passed through by GET /api/v5/cluster:
//   {"name":"emqxdcl","self":"n1@127.0.0.1",
//    "members":[{"node":"n1@127.0.0.1","address":"n1@127.0.0.1:4370","state":"alive",
//                "incarnation":1733140000000,"self":true,"routes":3,"link":"up"}],
//    "routes":{"local":3,"remote":0},
//    "forward":{"sent":0,"received":0,"dropped":0},
//    "sessions":{"takeovers_in":0,"takeovers_out":0}}
// routes_json(), passed through by GET /api/v5/routes (EMQX's shape):
//   {"data":[{"topic":"a/+","node":"n2@127.0.0.1"}],"meta":{"count":1}}
// `emqxd cluster status` reads the status fields by these names.

}  // namespace emqxd::api
