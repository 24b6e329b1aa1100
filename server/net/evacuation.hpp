#pragma once
// Node evacuation, EMQX's (`emqx ctl rebalance start --evacuation`, POST
// /api/v5/load_rebalance/{node}/evacuation/start; api/rebalance_api.hpp): a node about to
// stop (a Kubernetes pod's preStop, a machine going for maintenance) sends its clients to
// the other nodes first, so that they reconnect there and take their sessions with them
// (the cluster's takeover) while this node still runs to hand them over.
//
// States, in order (EMQX's names):
//   waiting_health_check  the door is closed (session/connect_gate.hpp): new clients are
//                         refused and GET /status answers 503, so that load balancers and
//                         Kubernetes' readiness take the node out; wait_health_check
//                         seconds for them to notice
//   evicting_conns        connections are closed with DISCONNECT 0x9C Use another server
//                         (with redirect_to as Server Reference for MQTT 5), at most
//                         conn_evict_rate a second, until none is left
//   waiting_takeover      up to wait_takeover seconds for the evicted clients to reconnect
//                         elsewhere and take their sessions over (this node's session count
//                         falls as they do)
//   prohibiting           done: the door stays closed until stop() or the node stops
// Sessions nobody took over stay on this node (on disk when durable: a StatefulSet's pod
// comes back with its volume and has them again). EMQX would push them to migrate_to
// nodes at sess_evict_rate; emqxd does not move a session without its client yet, so
// migrate_to is refused and sess_evict_rate is only reported.
//
// One thread drives an evacuation; start(), stop() and status() from any thread.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::net {

class Worker;

class Evacuation {
 public:
  struct Options {
    std::uint32_t conn_evict_rate = 500;  // connections a second
    std::uint32_t sess_evict_rate = 500;  // reported only (see above)
    std::chrono::seconds wait_takeover{60};
    std::chrono::seconds wait_health_check{60};
    std::string redirect_to;  // the Server Reference for MQTT 5 clients; empty: none
  };
  struct Status {
    bool active = false;
    std::string state;  // as above; "disabled" when not active
    Options options;
    std::uint64_t initial_connected = 0, current_connected = 0;
    std::uint64_t initial_sessions = 0, current_sessions = 0;
  };

  // `node` and `workers` must outlive this.
  Evacuation(session::NodeState& node, std::vector<Worker*> workers);
  ~Evacuation();  // stops the thread; the door is left as it is (the node is stopping)
  Evacuation(const Evacuation&) = delete;
  Evacuation& operator=(const Evacuation&) = delete;

  // False (and nothing changes) when one is going on already.
  bool start(Options options);
  // Ends the evacuation and opens the door; false when none was going on.
  bool stop();
  Status status() const;

 private:
  void run(std::uint64_t generation);
  // Sleeps until `until` or a stop() of this generation; false when stopped.
  bool sleep_until(std::uint64_t generation, std::chrono::steady_clock::time_point until);
  bool running(std::uint64_t generation) const;  // mutex_ held
  void set_state(std::uint64_t generation, const char* state);
  struct Counts {
    std::uint64_t connections = 0, sessions = 0;
  };
  Counts counts() const;  // the node's gauges, read once

  session::NodeState& node_;
  const std::vector<Worker*> workers_;
  std::mutex start_mutex_;  // one start() at a time: it joins and replaces thread_
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  Status status_;                 // guarded by mutex_
  std::uint64_t generation_ = 0;  // guarded by mutex_; one per start(), bumped by stop()
  std::thread thread_;            // guarded by start_mutex_
};

}  // namespace emqxd::net
