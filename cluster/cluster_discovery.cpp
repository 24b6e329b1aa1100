// Cluster: discovery strategies that ask an outside service which nodes exist
// (cluster.discovery_strategy = dns; cluster/discovery_dns.hpp).
//
// The lookups run on a thread of their own every kDiscoveryInterval (5 s) for as long as
// the node runs, so that nodes that appear later (a scaled-up StatefulSet, a pod back with
// a new address) are found, and the membership is told the whole answer each time
// (Membership::rediscover): seeds that went are dropped, nodes not seen alive are sent
// Join. The first answer is a join(), as static seeds are: an empty one makes a cluster
// of one that the others join once they see it in the records, so nodes that start
// together end in one cluster whichever starts first. What was found is logged when it
// changes; a failed lookup is logged once until one succeeds, and keeps the last seeds.
// Shutdown does not wait for a lookup (resolv.conf's timeouts and search domains can make
// one take tens of seconds): the thread is detached, and what it finds after
// stop_discovery() goes nowhere.
#include "cluster/cluster.hpp"
#include "cluster/discovery_dns.hpp"

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
  DnsDiscovery query;
};

void Cluster::start_discovery() {
  auto link = std::make_shared<DiscoveryLink>();
  link->cluster = this;
  link->query =
      DnsDiscovery{cfg_.cluster.dns_name, cfg_.cluster.dns_record_type, self_.name, self_.port};
  discovery_ = link;
  std::thread([link] { discovery_loop(link); }).detach();
}

void Cluster::stop_discovery() {
  if (!discovery_) return;
  std::lock_guard lock(discovery_->mutex);
  discovery_->cluster = nullptr;  // a lookup still running finds nobody to tell
  discovery_->cv.notify_all();
}

void Cluster::discovery_loop(std::shared_ptr<DiscoveryLink> link) {
  const auto log = log::get("cluster");
  const DnsDiscovery& q = link->query;
  std::optional<std::vector<NodeAddress>> last;  // the last answer handed over
  std::string last_error;
  bool first = true;
  for (;;) {
    std::string error;
    auto nodes = resolve_dns(q, error);  // no lock held: it may take seconds
    std::unique_lock lock(link->mutex);
    Cluster* self = link->cluster;
    if (self == nullptr) return;
    if (!error.empty()) {
      if (error != last_error) {
        log->warn("dns discovery: {} ({} records): {}; trying again every {} s", q.name,
                  q.record_type, error, kDiscoveryInterval.count());
      }
      last_error = error;
    } else {
      if (!last || *last != nodes) {
        log->info("dns discovery: {} ({} records): {}", q.name, q.record_type, joined(nodes));
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
    if (link->cluster == nullptr) return;
  }
}

}  // namespace emqxd::cluster
