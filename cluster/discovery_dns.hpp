#pragma once
// DNS discovery (cluster.discovery_strategy = dns; docs/deploy.md): the nodes of the
// cluster are the records of cluster.dns.name, as EMQX's ekka reads them:
//   a, aaaa  each address is a node "<name>@<address>" (IPv6 in brackets)
//   srv      each target host is a node "<name>@<target>"; the records' ports are not
//            the cluster RPC's (a Kubernetes headless service lists its MQTT ports), so
//            they are ignored, as EMQX does
// where <name> is the name part of this node's node.name (all nodes share it, as EMQX
// assumes) and the port is this node's cluster RPC port. The records are asked of the
// resolvers of /etc/resolv.conf with the C library's resolver (res_nquery), DNS alone:
// /etc/hosts is not read, as EMQX's inet_res does not.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "cluster/discovery.hpp"
#include "cluster/node_address.hpp"

namespace emqxd::cluster {

struct DnsDiscovery {
  std::string name;         // cluster.dns.name
  std::string record_type;  // a | aaaa | srv
  std::string node_name;    // the name part of the nodes' names
  std::uint16_t port = kDefaultRpcPort;
};

// The nodes the records list, sorted, without repeats; empty when the name has no such
// records. On a failed lookup (no answer, a server failure) returns empty and sets
// `error`. Blocking, up to the resolver's timeouts (resolv.conf: 5 s x 2 tries by
// default); any thread.
std::vector<NodeAddress> resolve_dns(const DnsDiscovery& q, std::string& error);

// The nodes in a DNS answer message `msg` of `len` bytes (the part of resolve_dns after
// the query; for tests and the fuzz target). Records of other types (a CNAME on the way)
// are skipped; a message that does not parse sets `error`.
std::vector<NodeAddress> parse_dns_answer(const DnsDiscovery& q, const unsigned char* msg, int len,
                                          std::string& error);

// The strategy: resolve_dns(q) for each discover().
std::unique_ptr<Discovery> make_dns_discovery(DnsDiscovery q);

}  // namespace emqxd::cluster
