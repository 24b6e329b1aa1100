// libFuzzer harness for what discovery's servers hand it (cluster/discovery.hpp). The
// first byte picks the reader, by its value modulo 6:
//   0-2  a DNS answer message for a, aaaa or srv records, as res_nsearch returns it
//   3    etcd's JSON answer to a range request
//   4    a Kubernetes EndpointSliceList, 5 an Endpoints object (the address type: the
//        first byte / 6, modulo 3: ip, dns or hostname)
// and the rest is the answer. Bad input must end in an error or no nodes, never a crash or
// a hang; every node found must be a valid node address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "cluster/discovery.hpp"
#include "cluster/discovery_dns.hpp"

namespace cluster = emqxd::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const unsigned pick = data[0] % 6;
  std::string error;
  std::vector<cluster::NodeAddress> nodes;
  bool our_port = true;  // the node's own name and port (dns, k8s); etcd's are the values'
  if (pick < 3) {
    static const char* const kTypes[] = {"a", "aaaa", "srv"};
    cluster::DnsDiscovery q{"emqxd.example", kTypes[pick], "emqxd", 4370};
    nodes = cluster::parse_dns_answer(q, data + 1, static_cast<int>(size - 1), error);
  } else {
    const std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
    if (pick == 3) {
      nodes = cluster::parse_etcd_range(body, error);
      our_port = false;
    } else {
      static const char* const kAddressTypes[] = {"ip", "dns", "hostname"};
      cluster::K8sDiscovery q;
      q.service_name = "emqxd-headless";
      q.namespace_ = "default";
      q.address_type = kAddressTypes[(data[0] / 6) % 3];
      q.suffix = "svc.cluster.local";
      q.node_name = "emqxd";
      q.port = 4370;
      nodes = cluster::parse_k8s_endpoints(q, body, pick == 5, error);
    }
  }
  if (!error.empty() && !nodes.empty()) std::abort();  // an error means no nodes
  for (const auto& n : nodes) {
    auto back = cluster::NodeAddress::parse(n.to_string());
    if (!back || *back != n) std::abort();
    if (our_port && (n.name != "emqxd" || n.port != 4370)) std::abort();
  }
  return 0;
}
