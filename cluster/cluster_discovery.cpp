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

void Cluster::discovery_worker() {
  const auto log = log::get("cluster");
  DnsDiscovery q{cfg_.cluster.dns_name, cfg_.cluster.dns_record_type, self_.name, self_.port};
  std::optional<std::vector<NodeAddress>> last;  // the last answer handed over
  std::string last_error;
  bool first = true;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    std::string error;
    auto nodes = resolve_dns(q, error);
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
      post([this, nodes = std::move(nodes), first] {
        if (first) {
          membership_->join(nodes, Clock::now());
        } else {
          membership_->rediscover(nodes, Clock::now());
        }
        pump();
      });
      first = false;
    }
    lock.lock();
    discovery_cv_.wait_for(lock, kDiscoveryInterval, [&] { return stopping_; });
  }
}

}  // namespace emqxd::cluster
