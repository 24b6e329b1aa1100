// DNS discovery's reading of answers (cluster/discovery_dns.hpp), on the fuzz target's
// seed messages (tests/fuzz/corpus/discovery/: the first byte picks the record type).
// The lookups themselves run against dnsmasq in tests/cluster/test_discovery.py.
#include "cluster/discovery.hpp"

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

// ---- etcd and Kubernetes: their answers as the servers write them (etcd 3.4's JSON
// gateway; the Kubernetes API reference's EndpointSliceList and Endpoints). The servers
// themselves: tests/cluster/test_discovery_etcd.py (etcd-server) and
// test_discovery_k8s.py (a stand-in API server).

using emqxd::cluster::K8sDiscovery;
using emqxd::cluster::parse_etcd_range;
using emqxd::cluster::parse_k8s_endpoints;

namespace {

std::vector<std::string> texts(const std::vector<emqxd::cluster::NodeAddress>& nodes) {
  std::vector<std::string> out;
  for (const auto& n : nodes)
    out.push_back(n.to_string());
  return out;
}

K8sDiscovery k8s(const std::string& address_type) {
  K8sDiscovery q;
  q.service_name = "emqxd-headless";
  q.namespace_ = "mqtt";
  q.address_type = address_type;
  q.suffix = "svc.cluster.local";
  q.node_name = "emqxd";
  q.port = 4370;
  return q;
}

// Two pods of a StatefulSet, one ready, one starting, and one terminating.
const char* const kSlices = R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1",
  "metadata":{"resourceVersion":"1201"},
  "items":[{"metadata":{"name":"emqxd-headless-x7k2p","namespace":"mqtt",
    "labels":{"kubernetes.io/service-name":"emqxd-headless"}},
    "addressType":"IPv4",
    "endpoints":[
      {"addresses":["10.244.1.7"],"conditions":{"ready":true,"serving":true,"terminating":false},
       "hostname":"emqxd-0","targetRef":{"kind":"Pod","namespace":"mqtt","name":"emqxd-0"}},
      {"addresses":["10.244.2.9"],"conditions":{"ready":false,"serving":false,"terminating":false},
       "hostname":"emqxd-1","targetRef":{"kind":"Pod","namespace":"mqtt","name":"emqxd-1"}},
      {"addresses":["10.244.3.4"],"conditions":{"ready":false,"serving":true,"terminating":true},
       "hostname":"emqxd-2"}],
    "ports":[{"name":"mqtt","protocol":"TCP","port":1883}]}]})";

const char* const kEndpoints = R"({"kind":"Endpoints","apiVersion":"v1",
  "metadata":{"name":"emqxd-headless","namespace":"mqtt"},
  "subsets":[{"addresses":[{"ip":"10.244.1.7","hostname":"emqxd-0",
      "targetRef":{"kind":"Pod","namespace":"mqtt","name":"emqxd-0"}}],
    "notReadyAddresses":[{"ip":"10.244.2.9","hostname":"emqxd-1"}],
    "ports":[{"name":"mqtt","port":1883,"protocol":"TCP"}]}]})";

}  // namespace

TEST_CASE("etcd discovery: the nodes are the values under the prefix", "[cluster][discovery]") {
  // Keys and values in base64: "emqxcl/c/nodes/n1@10.0.0.1" = "n1@10.0.0.1:4371", and a
  // value that is no node address.
  std::string error;
  auto nodes = parse_etcd_range(
      R"({"header":{"revision":"7"},"kvs":[
        {"key":"ZW1xeGNsL2Mvbm9kZXMvbjFAMTAuMC4wLjE=","value":"bjFAMTAuMC4wLjE6NDM3MQ==",
         "lease":"7587899402124641287"},
        {"key":"ZW1xeGNsL2Mvbm9kZXMvYm9ndXM=","value":"bm90IGEgbm9kZQ=="},
        {"key":"ZW1xeGNsL2Mvbm9kZXMvbjFAMTAuMC4wLjE=","value":"bjFAMTAuMC4wLjE6NDM3MQ=="}],
        "count":"3"})",
      error);
  CHECK(error.empty());
  CHECK(texts(nodes) == std::vector<std::string>{"n1@10.0.0.1:4371"});
  // No keys: etcd leaves "kvs" out.
  CHECK(parse_etcd_range(R"({"header":{"revision":"7"}})", error).empty());
  CHECK(error.empty());
  CHECK(parse_etcd_range("<html>", error).empty());
  CHECK_FALSE(error.empty());
}

TEST_CASE("etcd discovery: a node's key and the prefix's range", "[cluster][discovery]") {
  emqxd::cluster::EtcdDiscovery q;
  q.prefix = "emqxcl";
  q.cluster_name = "emqxdcl";
  CHECK(q.nodes_key() == "emqxcl/emqxdcl/nodes/");
}

TEST_CASE("k8s discovery: EndpointSlices, by address type, terminating pods left out",
          "[cluster][discovery]") {
  std::string error;
  CHECK(texts(parse_k8s_endpoints(k8s("ip"), kSlices, false, error)) ==
        std::vector<std::string>{"emqxd@10.244.1.7:4370", "emqxd@10.244.2.9:4370"});
  CHECK(error.empty());
  CHECK(texts(parse_k8s_endpoints(k8s("hostname"), kSlices, false, error)) ==
        std::vector<std::string>{"emqxd@emqxd-0.emqxd-headless.mqtt.svc.cluster.local:4370",
                                 "emqxd@emqxd-1.emqxd-headless.mqtt.svc.cluster.local:4370"});
  auto dns = k8s("dns");
  dns.suffix = "pod.cluster.local";
  CHECK(texts(parse_k8s_endpoints(dns, kSlices, false, error)) ==
        std::vector<std::string>{"emqxd@10-244-1-7.mqtt.pod.cluster.local:4370",
                                 "emqxd@10-244-2-9.mqtt.pod.cluster.local:4370"});
}

TEST_CASE("k8s discovery: Endpoints, ready and not ready addresses", "[cluster][discovery]") {
  std::string error;
  CHECK(texts(parse_k8s_endpoints(k8s("hostname"), kEndpoints, true, error)) ==
        std::vector<std::string>{"emqxd@emqxd-0.emqxd-headless.mqtt.svc.cluster.local:4370",
                                 "emqxd@emqxd-1.emqxd-headless.mqtt.svc.cluster.local:4370"});
  CHECK(error.empty());
  // A service with no pods yet has no subsets.
  CHECK(
      parse_k8s_endpoints(k8s("ip"), R"({"kind":"Endpoints","metadata":{"name":"x"}})", true, error)
          .empty());
  CHECK(error.empty());
}

TEST_CASE("k8s discovery: what is not an answer is an error", "[cluster][discovery]") {
  std::string error;
  CHECK(parse_k8s_endpoints(k8s("ip"), R"({"kind":"Status","code":403})", false, error).empty());
  CHECK_FALSE(error.empty());
  error.clear();
  CHECK(parse_k8s_endpoints(k8s("ip"), "[1,2", true, error).empty());
  CHECK_FALSE(error.empty());
  // A hostname that no node name may hold is skipped, not an error.
  error.clear();
  CHECK(parse_k8s_endpoints(
            k8s("hostname"),
            R"({"items":[{"endpoints":[{"addresses":["10.0.0.1"],"hostname":"bad host"}]}]})",
            false, error)
            .empty());
  CHECK(error.empty());
}
