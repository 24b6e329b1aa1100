// The discovery strategy a config names (discovery.hpp).
#include "cluster/discovery.hpp"

#include <algorithm>
#include <stdexcept>

#include "cluster/discovery_dns.hpp"

namespace emqxd::cluster {

void sort_nodes(std::vector<NodeAddress>& nodes) {
  std::sort(nodes.begin(), nodes.end(), [](const NodeAddress& a, const NodeAddress& b) {
    return a.to_string() < b.to_string();
  });
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
}

std::unique_ptr<Discovery> make_discovery(const config::ClusterConfig& cfg, const NodeAddress& self,
                                          DiscoveryHttp http) {
  if (cfg.discovery_strategy == "dns") {
    return make_dns_discovery(
        DnsDiscovery{cfg.dns_name, cfg.dns_record_type, self.name, self.port});
  }
  if (cfg.discovery_strategy == "etcd") {
    EtcdDiscovery q;
    q.servers = cfg.etcd_servers;
    q.prefix = cfg.etcd_prefix;
    q.cluster_name = cfg.name;
    q.node_ttl = std::chrono::duration_cast<std::chrono::seconds>(cfg.etcd_node_ttl);
    q.ssl = cfg.etcd_ssl;
    return make_etcd_discovery(std::move(q), self, std::move(http));
  }
  if (cfg.discovery_strategy == "k8s") {
    K8sDiscovery q;
    q.apiserver = cfg.k8s_apiserver;
    q.service_name = cfg.k8s_service_name;
    q.namespace_ = cfg.k8s_namespace;
    q.address_type = cfg.k8s_address_type;
    q.suffix = cfg.k8s_suffix;
    q.service_account_dir = cfg.k8s_service_account_dir;
    q.node_name = self.name;
    q.port = self.port;
    return make_k8s_discovery(std::move(q), std::move(http));
  }
  throw std::runtime_error("cluster.discovery_strategy: " + cfg.discovery_strategy +
                           " asks no outside service");
}

}  // namespace emqxd::cluster
