#pragma once
// ClusterControl: what the HTTP API asks of the cluster; implemented by the cluster module,
// wired by app::Node. Every method may be called from the API thread; implementations are
// thread-safe and do not block for long (a join only starts joining: it returns once the
// request is accepted).
#include <cstddef>
#include <string>

namespace emqxd::api {

class ClusterControl {
 public:
  struct Outcome {
    int http_status = 200;  // 200 done, 400 bad argument, 404 unknown node, 409 conflict,
                            // 503 unavailable
    std::string message;    // for the JSON answer and the CLI
  };
  virtual ~ClusterControl() = default;
  virtual Outcome join(const std::string& node) = 0;  // "name@host[:port]", port defaults to 4370
  virtual Outcome leave() = 0;
  virtual Outcome force_leave(const std::string& node) = 0;  // "name@host" or with port
  // The whole cluster as this node sees it, serialized JSON.
  virtual std::string status_json() = 0;
  // Routes known on this node, serialized JSON; topic empty = all (at most `limit`).
  virtual std::string routes_json(const std::string& topic, std::size_t limit) = 0;
};

}  // namespace emqxd::api
