#pragma once
// Node: the composition root (docs/architecture.md, "The link graph"). Builds the shared
// node state, the workers and the listeners from the config, runs them, publishes $SYS,
// and shuts down gracefully. The only code that sees every module.
#include <memory>
#include <vector>

#include "config/config.hpp"

namespace emqxd::app {

class Node {
 public:
  explicit Node(config::Config cfg);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Binds every listener, the HTTP API and the cluster RPC (throws std::runtime_error
  // naming the listener or key on failure) and starts the worker threads, the API's thread
  // and the cluster.
  void start();
  // Call once in main before a Node (and its threads) exists: SIGINT and SIGTERM are
  // then handled only by run_until_signal(), whenever they arrive.
  static void block_shutdown_signals();
  // Blocks until SIGINT or SIGTERM, then shuts down: stop accepting, publish wills,
  // DISCONNECT 0x8B to MQTT 5 clients, close, stop the workers.
  void run_until_signal();
  void shutdown();

 private:
  // The cluster RPC, the listeners' accept loops and the API, once the workers run.
  void start_serving();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emqxd::app
