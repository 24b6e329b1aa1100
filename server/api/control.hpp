#pragma once
// ClusterControl: what the HTTP API asks of the cluster (docs/architecture.md, section 6).
// The API is below the cluster in the dependency graph, so it declares what it needs here;
// the cluster module (cluster::Cluster) implements it and app::Node wires it in; every
// node runs its cluster, so the router always has one. The cluster answers with plain
// data; the API renders it (cluster_json.hpp), so JSON is written in one place.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace emqxd::api {

// One member as this node sees it (GET /api/v5/cluster, "members").
struct MemberStatus {
  std::string node;     // name@host
  std::string address;  // name@host:rpc_port
  std::string state;    // alive, suspect, dead
  std::uint64_t incarnation = 0;
  bool self = false;
  std::uint64_t routes = 0;  // routes held for it (this node's own, for itself)
  bool link_up = false;      // the outbound link to it (always up for this node)
  std::uint64_t queued = 0;  // forwards and route changes waiting on that link
};

// The whole cluster as this node sees it (GET /api/v5/cluster).
struct ClusterStatus {
  std::string name;                   // cluster.name
  std::string self;                   // this node, name@host
  std::vector<MemberStatus> members;  // this node first
  struct Routes {
    std::uint64_t local = 0, remote = 0;
  } routes;
  struct Forward {
    std::uint64_t sent = 0, received = 0, dropped = 0, queued = 0;
  } forward;
  struct Sessions {
    std::uint64_t takeovers_in = 0, takeovers_out = 0;
  } sessions;
};

// Routes known on this node (GET /api/v5/routes).
struct RouteList {
  struct Entry {
    std::string topic;  // the filter, or $share/<group>/<filter>
    std::string node;   // name@host of the node with the subscribers
  };
  std::vector<Entry> data;  // at most the limit asked for
  std::uint64_t count = 0;  // how many matched, listed or not
};

// One node's answer to an operation of the API (node_ops.hpp): an HTTP-like status and a
// JSON body.
struct NodeAnswer {
  int status = 200;
  std::string body;
};

// What the HTTP API asks of the cluster; implemented by the cluster module, wired by app::Node.
// Every method may be called from the API's handler threads, several at once;
// implementations must be thread-safe and
// must not block for long: join may wait a few seconds for the node it contacts to answer
// (cluster::Cluster waits up to 5 s, then answers 503 and keeps trying) and leave a
// moment for its Leave messages to go out. It runs on an API handler thread, so the other
// connections are still served meanwhile (api_server.hpp).
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
  // The whole cluster as this node sees it.
  virtual ClusterStatus status() = 0;
  // Routes known on this node; topic empty = all (at most `limit` listed).
  virtual RouteList routes(const std::string& topic, std::size_t limit) = 0;
  // The running members (alive or suspect), name@host, sorted; this node among them.
  virtual std::vector<std::string> running_nodes() = 0;
  // Runs the operation `name` (node_ops.hpp) with the JSON object `args` on `node`
  // (name@host; this node runs it itself), waiting at most `deadline`. nullopt: `node`
  // is not a running member, or did not answer in time.
  virtual std::optional<NodeAnswer> ask(const std::string& node, const std::string& name,
                                        const std::string& args,
                                        std::chrono::milliseconds deadline) = 0;
};

// Asks every node of `nodes` at once (a thread each beyond the first), each waited for at
// most `deadline`: the answers in the order of `nodes`, nullopt where none came. So a
// listing over the cluster takes as long as its slowest member, not their sum.
// `args[i]` goes to `nodes[i]`; the second form sends the same to all.
std::vector<std::optional<NodeAnswer>> ask_each(ClusterControl& control,
                                                const std::vector<std::string>& nodes,
                                                const std::string& name,
                                                const std::vector<std::string>& args,
                                                std::chrono::milliseconds deadline);
std::vector<std::optional<NodeAnswer>> ask_each(ClusterControl& control,
                                                const std::vector<std::string>& nodes,
                                                const std::string& name, const std::string& args,
                                                std::chrono::milliseconds deadline);

}  // namespace emqxd::api
