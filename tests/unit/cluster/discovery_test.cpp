// DNS discovery's reading of answers (cluster/discovery_dns.hpp), on the fuzz target's
// seed messages (tests/fuzz/corpus/discovery/: the first byte picks the record type).
// The lookups themselves run against dnsmasq in tests/cluster/test_discovery.py.
#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "cluster/discovery_dns.hpp"

using emqxd::cluster::DnsDiscovery;
using emqxd::cluster::parse_dns_answer;

namespace {

// The node addresses (to_string) in a seed, and the error.
std::vector<std::string> nodes_in(const std::string& seed, std::string& error) {
  std::ifstream in(std::string(EMQXD_SOURCE_DIR) + "/tests/fuzz/corpus/discovery/" + seed,
                   std::ios::binary);
  std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)),
                                   std::istreambuf_iterator<char>());
  REQUIRE(bytes.size() > 1);
  static const char* const kTypes[] = {"a", "aaaa", "srv"};
  DnsDiscovery q{"emqxd.example", kTypes[bytes[0] % 3], "emqxd", 4370};
  std::vector<std::string> out;
  for (const auto& n :
       parse_dns_answer(q, bytes.data() + 1, static_cast<int>(bytes.size() - 1), error)) {
    out.push_back(n.to_string());
  }
  return out;
}

}  // namespace

TEST_CASE("dns discovery: A records, each address once, this node's name and port",
          "[cluster][discovery]") {
  std::string error;
  CHECK(nodes_in("a-two-nodes", error) ==
        std::vector<std::string>{"emqxd@10.0.0.1:4370", "emqxd@10.0.0.2:4370"});
  CHECK(error.empty());
  // A CNAME on the way is followed by the server; its record is skipped here.
  CHECK(nodes_in("a-behind-cname", error) == std::vector<std::string>{"emqxd@10.0.0.3:4370"});
}

TEST_CASE("dns discovery: AAAA records are IPv6 hosts", "[cluster][discovery]") {
  std::string error;
  CHECK(nodes_in("aaaa-one", error) == std::vector<std::string>{"emqxd@[::1]:4370"});
}

TEST_CASE("dns discovery: SRV targets are hosts, their ports ignored", "[cluster][discovery]") {
  std::string error;
  CHECK(nodes_in("srv-two-hosts", error) ==
        std::vector<std::string>{"emqxd@n1.emqxd.example:4370", "emqxd@n2.emqxd.example:4370"});
}

TEST_CASE("dns discovery: a broken answer is an error and no nodes", "[cluster][discovery]") {
  std::string error;
  CHECK(nodes_in("truncated", error).empty());
  CHECK_FALSE(error.empty());
}
