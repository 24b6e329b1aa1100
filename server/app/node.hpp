#pragma once
// Node: the composition root (STYLE.md section 1). Builds the shared node state, the
// workers and the listeners from the config, runs them, publishes $SYS, and shuts down
// gracefully. The only code that sees every module.
#include <memory>
#include <vector>

#include "config/config.hpp"

namespace emqxd::api {
class ClusterControl;
}

namespace emqxd::app {

class Node {
 public:
  explicit Node(config::Config cfg);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Plugs the cluster into the HTTP API (api/control.hpp). Call before start(); `control`
  // must stay valid until shutdown() has returned, and is called from the API's thread.
  // Without one the API answers as a single node and refuses join/leave with 503.
  void set_cluster_control(api::ClusterControl* control);

  // Binds every listener and the HTTP API (throws std::runtime_error naming the listener
  // on failure) and starts the worker threads and the API's thread.
  void start();
  // Call once in main before a Node (and its threads) exists: SIGINT and SIGTERM are
  // then handled only by run_until_signal(), whenever they arrive.
  static void block_shutdown_signals();
  // Blocks until SIGINT or SIGTERM, then shuts down: stop accepting, publish wills,
  // DISCONNECT 0x8B to MQTT 5 clients, close, stop the workers.
  void run_until_signal();
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emqxd::app
