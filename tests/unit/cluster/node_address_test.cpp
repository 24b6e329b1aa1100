// NodeAddress: name@host[:port] in every form the cluster keys and commands accept, the
// errors for each way it can be wrong, and equality and hashing.
#include "cluster/node_address.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <unordered_set>

namespace {

using emqxd::cluster::kDefaultRpcPort;
using emqxd::cluster::NodeAddress;

NodeAddress parsed(std::string_view text) {
  std::string why;
  auto a = NodeAddress::parse(text, &why);
  INFO(text << ": " << why);
  REQUIRE(a.has_value());
  return *a;
}

std::string why_not(std::string_view text) {
  std::string why;
  auto a = NodeAddress::parse(text, &why);
  if (a) return "(parsed)";
  return why;
}

}  // namespace

TEST_CASE("name@host takes the default RPC port 4370", "[cluster][node_address]") {
  NodeAddress a = parsed("emqx@10.0.0.5");
  CHECK(a.name == "emqx");
  CHECK(a.host == "10.0.0.5");
  CHECK(a.port == kDefaultRpcPort);
  CHECK(a.port == 4370);
  CHECK(a.id() == "emqx@10.0.0.5");
  CHECK(a.to_string() == "emqx@10.0.0.5:4370");
  CHECK(a.endpoint() == "10.0.0.5:4370");
}

TEST_CASE("name@host:port, DNS names and IPv6 in brackets", "[cluster][node_address]") {
  NodeAddress a = parsed("n1@127.0.0.1:4371");
  CHECK(a.name == "n1");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 4371);
  CHECK(a.id() == "n1@127.0.0.1");

  NodeAddress k8s = parsed("emqx@emqx-0.emqx-headless.default.svc.cluster.local");
  CHECK(k8s.host == "emqx-0.emqx-headless.default.svc.cluster.local");
  CHECK(k8s.port == 4370);

  NodeAddress v6 = parsed("n1@[::1]:4371");
  CHECK(v6.host == "::1");
  CHECK(v6.port == 4371);
  CHECK(v6.id() == "n1@[::1]");
  CHECK(v6.to_string() == "n1@[::1]:4371");
  CHECK(v6.endpoint() == "[::1]:4371");

  NodeAddress v6d = parsed("n2@[fe80::1%eth0]");
  CHECK(v6d.host == "fe80::1%eth0");
  CHECK(v6d.port == 4370);
  CHECK(parsed("x@[::ffff:10.0.0.1]:1").host == "::ffff:10.0.0.1");

  CHECK(parsed("emqx_node-1.a@host_1:65535").port == 65535);
}

TEST_CASE("to_string parses back to the same address", "[cluster][node_address]") {
  for (const char* text :
       {"emqx@10.0.0.5", "n1@127.0.0.1:4371", "n1@[::1]:4371", "a@b", "n@[fe80::1%eth0]:1"}) {
    NodeAddress a = parsed(text);
    CHECK(parsed(a.to_string()) == a);
  }
}

TEST_CASE("node address errors say what is wrong", "[cluster][node_address]") {
  CHECK(why_not("") == "no '@' (expected name@host or name@host:port)");
  CHECK(why_not("emqx") == "no '@' (expected name@host or name@host:port)");
  CHECK(why_not("@host") == "the name before '@' is empty");
  CHECK(why_not("emqx@") == "the host after '@' is empty");
  CHECK(why_not("emqx@:4370") == "the host after '@' is empty");
  CHECK(why_not("a@b@c") == "more than one '@'");
  CHECK(why_not("em qx@host") == "the name has a space (letters, digits, '_', '-' and '.' only)");
  CHECK(why_not("em/qx@host") == "the name has '/' (letters, digits, '_', '-' and '.' only)");
  CHECK(why_not("emqx@ho st") ==
        "the host has a space (letters, digits, '-', '_' and '.' only; IPv6 goes in brackets)");
  CHECK(why_not("emqx@host..x") == "the host has an empty label between dots");
  CHECK(why_not("emqx@.host") == "the host has an empty label between dots");
  CHECK(why_not("emqx@host:") == "the port after ':' is empty");
  CHECK(why_not("emqx@host:abc") == "the port \"abc\" is not a number from 1 to 65535");
  CHECK(why_not("emqx@host:-1") == "the port \"-1\" is not a number from 1 to 65535");
  CHECK(why_not("emqx@host:123456") == "the port \"123456\" is not a number from 1 to 65535");
  CHECK(why_not("emqx@host:0") == "the port 0 is out of range 1-65535");
  CHECK(why_not("emqx@host:65536") == "the port 65536 is out of range 1-65535");
  CHECK(why_not("emqx@::1") == "an IPv6 host must be in brackets, as in name@[::1]:4370");
  CHECK(why_not("emqx@::1:4370") == "an IPv6 host must be in brackets, as in name@[::1]:4370");
  CHECK(why_not("emqx@[::1") == "'[' with no closing ']'");
  CHECK(why_not("emqx@[::1]4370") == "'4370' after ']' (expected :port)");
  CHECK(why_not("emqx@[]") == "\"[]\" is not an IPv6 address");
  CHECK(why_not("emqx@[host]") == "\"[host]\" is not an IPv6 address");
  CHECK(why_not("emqx@[::1%]") == "\"[::1%]\" is not an IPv6 address");
  CHECK(why_not(std::string(256, 'a') + "@h") == "the name is longer than 255 characters");
  CHECK(why_not("a@" + std::string(254, 'h')) == "the host is longer than 253 characters");
  // No reason asked for: still nullopt, no crash.
  CHECK_FALSE(NodeAddress::parse("nope").has_value());
}

TEST_CASE("node addresses compare and hash by name, host and port", "[cluster][node_address]") {
  NodeAddress a = parsed("n1@127.0.0.1:4371");
  CHECK(a == parsed("n1@127.0.0.1:4371"));
  CHECK_FALSE(a == parsed("n1@127.0.0.1:4372"));
  CHECK_FALSE(a == parsed("n2@127.0.0.1:4371"));
  CHECK_FALSE(a == parsed("n1@localhost:4371"));
  CHECK(parsed("n1@h") == parsed("n1@h:4370"));
  // Same identity on another port: a node restarted elsewhere is still the same node.
  CHECK(a.id() == parsed("n1@127.0.0.1:4372").id());
  // Case is kept: names and hosts compare as written.
  CHECK_FALSE(parsed("N1@h") == parsed("n1@h"));

  std::unordered_set<NodeAddress> set{a, parsed("n1@127.0.0.1:4371"), parsed("n1@127.0.0.1:4372"),
                                      parsed("n2@127.0.0.1:4371")};
  CHECK(set.size() == 3);
  CHECK(set.count(parsed("n1@127.0.0.1:4372")) == 1);
  CHECK(std::hash<NodeAddress>{}(a) == std::hash<NodeAddress>{}(parsed("n1@127.0.0.1:4371")));
}
