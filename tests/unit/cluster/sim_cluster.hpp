#pragma once
// SimCluster: N Membership state machines on a simulated network with a simulated clock,
// for deterministic tests of the protocol. A discrete-event loop: time jumps to the next
// message delivery or the next node deadline, so a minute of protocol runs in
// milliseconds, and one seed replays the same run exactly.
//
// Nodes are numbered from 1 (node 1 is "n1@127.0.0.1:4371"): they share one host and
// differ by port, as several emqxd on one machine do. A message is routed by its
// destination's endpoint (host:port), as a real network would, not by name.
//
// The network: per directed link a loss probability, a delay range and a cut flag, drawn
// from the simulation's own random generator; partitions cut every link between groups, in
// both directions, for messages sent and in flight alike.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "cluster/membership.hpp"

namespace emqxd::cluster::test {

struct Link {
  double loss = 0.0;  // probability that a message is lost
  Duration min_delay{1};
  Duration max_delay{5};
  bool cut = false;  // nothing gets through
};

struct Observed {
  Duration at;           // since the start of the simulation
  std::size_t observer;  // the node that emitted it
  MemberEvent event;
};

class SimCluster {
 public:
  SimCluster(std::size_t nodes, std::uint64_t seed, MembershipOptions options = {});

  std::size_t size() const { return nodes_.size() - 1; }
  NodeAddress address(std::size_t i) const;
  std::string id(std::size_t i) const { return address(i).id(); }

  // Starts node i (a fresh Membership, as a process start) and joins it to `seeds`. Its
  // incarnation is the simulated wall clock in milliseconds plus 1000, as emqxd takes the
  // wall clock at start, unless `incarnation` is given.
  void start(std::size_t i, const std::vector<std::size_t>& seeds,
             std::optional<std::uint64_t> incarnation = std::nullopt);
  // Crash: the node stops; messages to it are lost.
  void kill(std::size_t i);
  // Graceful leave; the node keeps sending what leave() queued, then stops after `linger`.
  void leave(std::size_t i, Duration linger = Duration(200));
  bool running(std::size_t i) const { return nodes_.at(i).running; }
  Membership& node(std::size_t i) { return *nodes_.at(i).membership; }
  const Membership& node(std::size_t i) const { return *nodes_.at(i).membership; }

  // The network.
  void set_link(std::size_t from, std::size_t to, Link link);
  void set_all_links(Link link);  // every link, this one included from now on
  void partition(const std::vector<std::vector<std::size_t>>& groups);
  void heal();  // every link back to the default (no loss, 1-5 ms, not cut)
  bool cut(std::size_t from, std::size_t to) const { return link(from, to).cut; }

  // Time.
  Duration now() const { return std::chrono::duration_cast<Duration>(now_ - TimePoint{}); }
  void run_for(Duration d);
  // Runs until `done` holds (checked after every instant) or `limit` passes; returns
  // whether it held.
  bool run_until(const std::function<bool()>& done, Duration limit);

  // Every running node sees every other running node Alive at its current incarnation.
  bool converged() const;
  // Every running node other than i sees i in state `s`.
  bool all_see(std::size_t i, MemberState s) const;
  // What node `observer` believes about node `i` (nullopt: unknown).
  std::optional<MemberState> view(std::size_t observer, std::size_t i) const;

  const std::vector<Observed>& events() const { return events_; }
  // Events emitted by `observer` about node `about`, in order.
  std::vector<Observed> events(std::size_t observer, std::size_t about) const;
  std::size_t count(MemberEvent::Kind kind, std::size_t about) const;
  std::size_t count(MemberEvent::Kind kind) const;
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t lost() const { return lost_; }

  // Called for each instant's events after they are recorded: invariant checks.
  std::function<void(const Observed&)> on_event;

 private:
  struct Node {
    std::unique_ptr<Membership> membership;
    bool running = false;
    TimePoint stop_at = TimePoint::max();  // leaving: stops then
  };
  struct InFlight {
    TimePoint at;
    std::uint64_t order;
    std::size_t from;
    std::size_t to;
    Message message;
    bool operator>(const InFlight& o) const { return at != o.at ? at > o.at : order > o.order; }
  };

  const Link& link(std::size_t from, std::size_t to) const;
  std::optional<std::size_t> index_of(const NodeAddress& a) const;
  void collect(std::size_t i);
  TimePoint next_time() const;
  void run_instant();

  MembershipOptions options_;
  std::mt19937_64 rng_;
  TimePoint now_{};
  std::vector<Node> nodes_;  // [0] unused
  std::map<std::pair<std::size_t, std::size_t>, Link> links_;
  Link default_link_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> queue_;
  std::uint64_t order_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t lost_ = 0;
  std::vector<Observed> events_;
};

}  // namespace emqxd::cluster::test
