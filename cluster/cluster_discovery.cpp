// Cluster: discovery strategies that ask an outside service which nodes exist
// (cluster.discovery_strategy = dns | etcd | k8s; cluster/discovery.hpp).
//
// The lookups run on a thread of their own every kDiscoveryInterval (5 s) for as long as
// the node runs, so that nodes that appear later (a scaled-up StatefulSet, a pod back with
// a new address) are found, and the membership is told the whole answer each time
// (Membership::rediscover): seeds that went are dropped, nodes not seen alive are sent
// Join. The first answer is a join(), as static seeds are: an empty one makes a cluster
// of one that the others join once they see it in the answer, so nodes that start
// together end in one cluster whichever starts first. What was found is logged when it
// changes; a failed lookup is logged once until one succeeds, and keeps the last seeds.
// Shutdown does not wait for a lookup (resolv.conf's timeouts and search domains can make
// one take tens of seconds): the thread is detached, and what it finds after
// stop_discovery() goes nowhere. stop_discovery() (the node stops or leaves the cluster)
// takes the node out of the service that registers it (etcd), and so does the thread if
// it registered the node again meanwhile.
#include "cluster/cluster.hpp"
#include "cluster/discovery.hpp"

namespace emqxd::cluster {

namespace {

std::string joined(const std::vector<NodeAddress>& nodes) {
  std::string out;
  for (const auto& n : nodes) {
    if (!out.empty()) out += ", ";
    out += n.to_string();
  }
  return out.empty() ? "no nodes" : out;
}

}  // namespace

struct Cluster::DiscoveryLink {
  std::mutex mutex;
  std::condition_variable cv;
  Cluster* cluster = nullptr;  // guarded by mutex; null once stop_discovery() ran
  std::unique_ptr<Discovery> strategy;
};

void Cluster::start_discovery() {
  auto link = std::make_shared<DiscoveryLink>();
  link->cluster = this;
  link->strategy = make_discovery(cfg_.cluster, self_, hooks_.discovery_http);
  discovery_ = link;
  std::thread([link] { discovery_loop(link); }).detach();
}

void Cluster::stop_discovery() {
  if (!discovery_) return;
  {
    std::lock_guard lock(discovery_->mutex);
    if (discovery_->cluster == nullptr) return;
    discovery_->cluster = nullptr;  // a lookup still running finds nobody to tell
    discovery_->cv.notify_all();
  }
  discovery_->strategy->unregister();
  log::get("cluster")->info("{}: stopped", discovery_->strategy->describe());
}

void Cluster::discovery_loop(std::shared_ptr<DiscoveryLink> link) {
  const auto log = log::get("cluster");
  Discovery& strategy = *link->strategy;
  std::optional<std::vector<NodeAddress>> last;  // the last answer handed over
  std::string last_error;
  bool first = true;
  for (;;) {
    std::string error;
    auto nodes = strategy.discover(error);  // no lock held: it may take seconds
    std::unique_lock lock(link->mutex);
    Cluster* self = link->cluster;
    if (self == nullptr) {
      lock.unlock();
      strategy.unregister();  // it may have registered the node again after the stop
      return;
    }
    if (!error.empty()) {
      if (error != last_error) {
        log->warn("{}: {}; trying again every {} s", strategy.describe(), error,
                  kDiscoveryInterval.count());
      }
      last_error = error;
    } else {
      if (!last || *last != nodes) {
        log->info("{}: {}", strategy.describe(), joined(nodes));
      }
      last_error.clear();
      last = nodes;
      self->post([self, nodes = std::move(nodes), first] {
        if (first) {
          self->membership_->join(nodes, Clock::now());
        } else {
          self->membership_->rediscover(nodes, Clock::now());
        }
        self->pump();
      });
      first = false;
    }
    link->cv.wait_for(lock, kDiscoveryInterval, [&] { return link->cluster == nullptr; });
    if (link->cluster == nullptr) {
      lock.unlock();
      strategy.unregister();
      return;
    }
  }
}

}  // namespace emqxd::cluster
