// libFuzzer harness for what a DNS server hands to discovery (cluster/discovery_dns.hpp):
// the first byte picks the records asked for (a, aaaa, srv), the rest is the answer
// message as res_nsearch would return it. Bad input must end in an error or no nodes,
// never a crash or a hang; every node found must be a valid node address.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "cluster/discovery_dns.hpp"

namespace cluster = emqxd::cluster;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  static const char* const kTypes[] = {"a", "aaaa", "srv"};
  cluster::DnsDiscovery q{"emqxd.example", kTypes[data[0] % 3], "emqxd", 4370};
  std::string error;
  auto nodes = cluster::parse_dns_answer(q, data + 1, static_cast<int>(size - 1), error);
  if (!error.empty() && !nodes.empty()) std::abort();  // an error means no nodes
  for (const auto& n : nodes) {
    auto back = cluster::NodeAddress::parse(n.to_string());
    if (!back || *back != n || n.name != "emqxd" || n.port != 4370) std::abort();
  }
  return 0;
}
