// DNS discovery's lookups (discovery_dns.hpp).
#include "cluster/discovery_dns.hpp"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <cstring>
#include <optional>

namespace emqxd::cluster {

namespace {

int query_type(const std::string& t) {
  if (t == "aaaa") return ns_t_aaaa;
  if (t == "srv") return ns_t_srv;
  return ns_t_a;
}

// "<node_name>@<host>:<port>" when that is a node address (a target name with characters
// a node name may not hold is skipped).
std::optional<NodeAddress> node_at(const DnsDiscovery& q, std::string host) {
  NodeAddress a;
  a.name = q.node_name;
  a.host = std::move(host);
  a.port = q.port;
  return NodeAddress::parse(a.to_string());
}

}  // namespace

std::vector<NodeAddress> parse_dns_answer(const DnsDiscovery& q, const unsigned char* msg, int len,
                                          std::string& error) {
  std::vector<NodeAddress> out;
  ns_msg m;
  if (len <= 0 || ns_initparse(msg, len, &m) < 0) {
    error = "the DNS answer does not parse";
    return out;
  }
  const int type = query_type(q.record_type);
  const int count = ns_msg_count(m, ns_s_an);
  for (int i = 0; i < count; ++i) {
    ns_rr rr;
    if (ns_parserr(&m, ns_s_an, i, &rr) < 0) {
      error = "a record of the DNS answer does not parse";
      return {};
    }
    if (ns_rr_class(rr) != ns_c_in || ns_rr_type(rr) != type) continue;  // a CNAME, say
    const unsigned char* rd = ns_rr_rdata(rr);
    const int rdlen = ns_rr_rdlen(rr);
    std::string host;
    if (type == ns_t_a && rdlen == 4) {
      char text[INET_ADDRSTRLEN];
      if (inet_ntop(AF_INET, rd, text, sizeof text) != nullptr) host = text;
    } else if (type == ns_t_aaaa && rdlen == 16) {
      char text[INET6_ADDRSTRLEN];
      if (inet_ntop(AF_INET6, rd, text, sizeof text) != nullptr) host = text;
    } else if (type == ns_t_srv && rdlen > 6) {
      // priority, weight, port (2 bytes each), then the target, perhaps compressed.
      char target[NS_MAXDNAME];
      if (ns_name_uncompress(ns_msg_base(m), ns_msg_end(m), rd + 6, target, sizeof target) >= 0) {
        host = target;
        if (!host.empty() && host.back() == '.') host.pop_back();
      }
    }
    if (host.empty() || host == ".") continue;  // SRV's "." target: no service there
    if (auto a = node_at(q, std::move(host))) out.push_back(std::move(*a));
  }
  sort_nodes(out);
  return out;
}

std::vector<NodeAddress> resolve_dns(const DnsDiscovery& q, std::string& error) {
  struct __res_state state;
  std::memset(&state, 0, sizeof state);
  if (res_ninit(&state) != 0) {
    error = "cannot read the resolver's configuration (/etc/resolv.conf)";
    return {};
  }
  std::vector<unsigned char> answer(65536);
  // res_nsearch: a short name goes through resolv.conf's search domains, as a Kubernetes
  // service's name does in a pod.
  const int n = res_nsearch(&state, q.name.c_str(), ns_c_in, query_type(q.record_type),
                            answer.data(), static_cast<int>(answer.size()));
  const int herr = state.res_h_errno;
  res_nclose(&state);
  if (n < 0) {
    if (herr == HOST_NOT_FOUND || herr == NO_DATA) return {};  // no such records (yet)
    error = herr == TRY_AGAIN     ? "no answer from the DNS servers of /etc/resolv.conf"
            : herr == NO_RECOVERY ? "the DNS server refused or failed"
                                  : "the lookup failed";
    return {};
  }
  return parse_dns_answer(q, answer.data(), std::min<int>(n, static_cast<int>(answer.size())),
                          error);
}

namespace {

class DnsStrategy final : public Discovery {
 public:
  explicit DnsStrategy(DnsDiscovery q) : q_(std::move(q)) {}
  std::string describe() const override {
    return "dns discovery: " + q_.name + " (" + q_.record_type + " records)";
  }
  std::vector<NodeAddress> discover(std::string& error) override { return resolve_dns(q_, error); }

 private:
  const DnsDiscovery q_;
};

}  // namespace

std::unique_ptr<Discovery> make_dns_discovery(DnsDiscovery q) {
  return std::make_unique<DnsStrategy>(std::move(q));
}

}  // namespace emqxd::cluster
