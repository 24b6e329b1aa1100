// The cluster.* keys: defaults, every key, the cluster issue's environment example, seeds
// in every accepted form, and each error naming the file, line and key.
#include <catch2/catch.hpp>
#include <string>

#include "config/config.hpp"

namespace {

using namespace std::chrono_literals;
using emqxd::config::Config;
using emqxd::config::ConfigError;
using emqxd::config::load;
using emqxd::config::load_string;
using Env = std::map<std::string, std::string>;
using Seeds = std::vector<std::string>;

Config from(std::string_view text, const Env& env = {}) {
  return load_string(text, env, "emqx.conf");
}

std::string error_of(std::string_view text, const Env& env = {}) {
  try {
    from(text, env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("cluster defaults: manual, no seeds, RPC on 4370, SWIM timings", "[config][cluster]") {
  Config c = load("", {});
  CHECK(c.cluster.name == "emqxdcl");
  CHECK(c.cluster.discovery_strategy == "manual");
  CHECK(c.cluster.static_seeds.empty());
  CHECK(c.cluster.rpc_bind == "127.0.0.1:4370");  // no node.cookie: loopback only
  CHECK(c.node.cookie.empty());
  CHECK(c.cluster.max_nodes == 256);
  CHECK_FALSE(c.cluster.rpc_ssl.enable);
  CHECK(c.cluster.rpc_ssl.verify == "verify_peer");
  CHECK(c.cluster.probe_interval == 1s);
  CHECK(c.cluster.probe_timeout == 500ms);
  CHECK(c.cluster.indirect_probes == 3);
  CHECK(c.cluster.suspicion_multiplier == 4);
  CHECK(c.cluster.retransmit_multiplier == 4);
  CHECK(c.cluster.gossip_interval == 200ms);
  CHECK(c.cluster.gossip_fanout == 3);
  CHECK(c.cluster.push_pull_interval == 30s);
  CHECK(c.cluster.autoheal);
  CHECK(c.cluster.reconnect_interval == 10s);
  CHECK(c.cluster.autoclean == 24h);
  CHECK(c.warnings.empty());
}

TEST_CASE("node.cookie: all interfaces by default, and taken as written from the environment",
          "[config][cluster][cookie]") {
  Config c = from("node.cookie = \"s3cret\"\ncluster.max_nodes = 16");
  CHECK(c.node.cookie == "s3cret");
  CHECK(c.cluster.rpc_bind == "0.0.0.0:4370");
  CHECK(c.cluster.max_nodes == 16);
  CHECK(c.warnings.empty());
  Config e = load("", {{"EMQX_NODE__COOKIE", "a#b ${x} true"}});
  CHECK(e.node.cookie == "a#b ${x} true");
  CHECK(e.cluster.rpc_bind == "0.0.0.0:4370");
  CHECK(error_of("node.cookie = \"\"") ==
        "emqx.conf:1: node.cookie: must not be empty (remove the key for none)");
  CHECK(error_of("cluster.max_nodes = 1").starts_with("emqx.conf:1: cluster.max_nodes:"));
  // EMQX's published default is a secret everybody knows.
  Config d = from("node.cookie = emqxsecretcookie");
  REQUIRE(d.warnings.size() == 1);
  CHECK(d.warnings[0].find("node.cookie is EMQX's published default") != std::string::npos);
  CHECK(d.warnings[0].find("emqxsecretcookie") == std::string::npos);  // never echoed
}

TEST_CASE("without node.cookie the cluster port must be loopback (or verified TLS)",
          "[config][cluster][cookie]") {
  for (const char* bind : {"127.0.0.1:4371", "127.0.0.5:4370", "[::1]:4370", "localhost:4370"}) {
    INFO(bind);
    CHECK(from(std::string("cluster.rpc.bind = \"") + bind + "\"").cluster.rpc_bind == bind);
  }
  CHECK(error_of("cluster.rpc.bind = \"10.0.0.1:4370\"") ==
        "emqx.conf:1: cluster.rpc.bind: 10.0.0.1:4370 is reachable from other hosts, and no "
        "node.cookie is set: any process that reaches it could join the cluster. Set "
        "node.cookie (the same secret on every node), or bind 127.0.0.1, or use cluster.rpc.ssl "
        "with verify = verify_peer");
  CHECK(error_of("", {{"EMQX_CLUSTER__RPC__BIND", "0.0.0.0:4370"}})
            .starts_with("EMQX_CLUSTER__RPC__BIND: cluster.rpc.bind: 0.0.0.0:4370 is reachable"));
  // TLS that checks certificates stands in for the cookie; TLS that does not, does not.
  const std::string tls =
      "cluster.rpc.ssl { enable = true, certfile = c.pem, keyfile = k.pem, cacertfile = ca.pem";
  CHECK(from("cluster.rpc.bind = \"10.0.0.1:4370\"\n" + tls + " }").cluster.rpc_bind ==
        "10.0.0.1:4370");
  CHECK(error_of("cluster.rpc.bind = \"10.0.0.1:4370\"\n" + tls + ", verify = verify_none }")
            .find("no node.cookie is set") != std::string::npos);
  CHECK(from("node.cookie = x\ncluster.rpc.bind = \"10.0.0.1:4370\"").cluster.rpc_bind ==
        "10.0.0.1:4370");
}

TEST_CASE("every cluster key maps onto its field", "[config][cluster]") {
  Config c = from(R"(
node.cookie = "c"
cluster {
  name = prod-eu.1
  discovery_strategy = static
  static.seeds = ["emqx@10.0.0.1", "emqx@10.0.0.2:4371", "emqx@[::1]:4372"]
  rpc {
    bind = "10.0.0.1:5370"
    ssl {
      enable = true
      certfile = "etc/certs/node.pem"
      keyfile = "etc/certs/node.key"
      cacertfile = "etc/certs/ca.pem"
      verify = verify_none
    }
  }
  probe_interval = 2s
  probe_timeout = 800ms
  indirect_probes = 5
  suspicion_multiplier = 6
  retransmit_multiplier = 3
  gossip_interval = 100ms
  gossip_fanout = 4
  push_pull_interval = 1m
  autoheal = false
  reconnect_interval = 5s
  autoclean = 1h
}
)");
  CHECK(c.warnings.empty());
  CHECK(c.cluster.name == "prod-eu.1");
  CHECK(c.cluster.discovery_strategy == "static");
  CHECK(c.cluster.static_seeds ==
        Seeds{"emqx@10.0.0.1:4370", "emqx@10.0.0.2:4371", "emqx@[::1]:4372"});
  CHECK(c.cluster.rpc_bind == "10.0.0.1:5370");
  CHECK(c.cluster.rpc_ssl.enable);
  CHECK(c.cluster.rpc_ssl.certfile == "etc/certs/node.pem");
  CHECK(c.cluster.rpc_ssl.keyfile == "etc/certs/node.key");
  CHECK(c.cluster.rpc_ssl.cacertfile == "etc/certs/ca.pem");
  CHECK(c.cluster.rpc_ssl.verify == "verify_none");
  CHECK(c.cluster.probe_interval == 2s);
  CHECK(c.cluster.probe_timeout == 800ms);
  CHECK(c.cluster.indirect_probes == 5);
  CHECK(c.cluster.suspicion_multiplier == 6);
  CHECK(c.cluster.retransmit_multiplier == 3);
  CHECK(c.cluster.gossip_interval == 100ms);
  CHECK(c.cluster.gossip_fanout == 4);
  CHECK(c.cluster.push_pull_interval == 1min);
  CHECK_FALSE(c.cluster.autoheal);
  CHECK(c.cluster.reconnect_interval == 5s);
  CHECK(c.cluster.autoclean == 1h);

  Config off = from("cluster { gossip_interval = disabled, push_pull_interval = disabled }");
  CHECK(off.cluster.gossip_interval == 0ms);
  CHECK(off.cluster.push_pull_interval == 0ms);
}

TEST_CASE("the cluster issue's second node, from the environment alone", "[config][cluster][env]") {
  Env env{{"EMQX_NODE__NAME", "n2@127.0.0.1"},
          {"EMQX_CLUSTER__RPC__BIND", "127.0.0.1:4372"},
          {"EMQX_CLUSTER__DISCOVERY_STRATEGY", "static"},
          {"EMQX_CLUSTER__STATIC__SEEDS", R"(["n1@127.0.0.1:4371"])"}};
  Config c = load("", env);
  CHECK(c.warnings.empty());
  CHECK(c.node.name == "n2@127.0.0.1");
  CHECK(c.cluster.rpc_bind == "127.0.0.1:4372");
  CHECK(c.cluster.discovery_strategy == "static");
  CHECK(c.cluster.static_seeds == Seeds{"n1@127.0.0.1:4371"});
  // Unquoted and comma-separated works too, as a shell user would write it.
  Config plain = load("", {{"EMQX_CLUSTER__STATIC__SEEDS", "n1@127.0.0.1:4371, n3@127.0.0.1"}});
  CHECK(plain.cluster.static_seeds == Seeds{"n1@127.0.0.1:4371", "n3@127.0.0.1:4370"});
  // The environment wins over the file.
  Config over = from("cluster.rpc.bind = \"0.0.0.0:4371\"\n", env);
  CHECK(over.cluster.rpc_bind == "127.0.0.1:4372");
}

TEST_CASE("seeds: written in full, repeats dropped, the node's own name allowed",
          "[config][cluster]") {
  Config c = from(
      "cluster.static.seeds = [\"emqx@n1\", \"emqx@n1:4370\", \"emqx@n2\", \"emqx@n1\"]\n"
      "cluster.discovery_strategy = static\n");
  CHECK(c.cluster.static_seeds == Seeds{"emqx@n1:4370", "emqx@n2:4370"});
  CHECK(from("cluster.static.seeds = []").cluster.static_seeds.empty());
  CHECK(from("cluster.static.seeds = \"\"").cluster.static_seeds.empty());
  // Every node of a static cluster may carry the same list, itself included.
  CHECK(from("node.name = \"emqx@n1\"\ncluster.static.seeds = [\"emqx@n1\", \"emqx@n2\"]")
            .cluster.static_seeds.size() == 2);
}

TEST_CASE("cluster errors name the file, the line and the key", "[config][cluster][errors]") {
  CHECK(error_of("cluster {\n  static.seeds = [\"emqx@n1\",\n    \"emqx\"]\n}") ==
        "emqx.conf:3: cluster.static.seeds: \"emqx\" is not a node (name@host or "
        "name@host:port): no '@' (expected name@host or name@host:port)");
  CHECK(error_of("cluster.static.seeds = [\"n1@127.0.0.1:99999\"]") ==
        "emqx.conf:1: cluster.static.seeds: \"n1@127.0.0.1:99999\" is not a node (name@host or "
        "name@host:port): the port 99999 is out of range 1-65535");
  CHECK(error_of("cluster.static.seeds = [\"n1@::1\"]") ==
        "emqx.conf:1: cluster.static.seeds: \"n1@::1\" is not a node (name@host or "
        "name@host:port): an IPv6 host must be in brackets, as in name@[::1]:4370");
  CHECK(error_of("cluster.static.seeds = 5") ==
        "emqx.conf:1: cluster.static.seeds: expected an array of nodes such as "
        "[\"emqx@10.0.0.1\", \"emqx@10.0.0.2:4371\"], got 5");
  CHECK(error_of("cluster.static.seeds = [[\"a@b\"]]") ==
        "emqx.conf:1: cluster.static.seeds: expected a string, got an array");
  CHECK(error_of("cluster.discovery_strategy = dns") ==
        "emqx.conf:1: cluster.discovery_strategy: dns needs cluster.dns.name, the name whose "
        "records list the nodes");
  CHECK(error_of("cluster.discovery_strategy = dns\ncluster.dns.record_type = mx") ==
        "emqx.conf:2: cluster.dns.record_type: must be a, aaaa or srv, got \"mx\"");
  CHECK(error_of("cluster.dns.name = \"emqx headless\"") ==
        "emqx.conf:1: cluster.dns.name: must be a DNS name (letters, digits, '-', '_' and '.'), "
        "got \"emqx headless\"");
  CHECK(error_of("cluster.discovery_strategy = mcast") ==
        "emqx.conf:1: cluster.discovery_strategy: mcast discovery is not supported: use static, "
        "dns, etcd or k8s");
  CHECK(error_of("cluster.discovery_strategy = gossip") ==
        "emqx.conf:1: cluster.discovery_strategy: must be manual, static, dns, etcd or k8s, got "
        "\"gossip\"");
  CHECK(error_of("cluster.name = \"my cluster\"") ==
        "emqx.conf:1: cluster.name: must be letters, digits, '_', '-' and '.', got \"my "
        "cluster\"");
  CHECK(error_of("cluster.name = \"\"") ==
        "emqx.conf:1: cluster.name: must be letters, digits, '_', '-' and '.', got \"\"");
  CHECK(error_of("cluster.rpc.bind = \"0.0.0.0:70000\"") ==
        "emqx.conf:1: cluster.rpc.bind: port must be between 0 and 65535, got "
        "\"0.0.0.0:70000\"");
  CHECK(error_of("cluster.probe_interval = 5ms") ==
        "emqx.conf:1: cluster.probe_interval: must be between 10ms and 1m, got \"5ms\"");
  CHECK(error_of("cluster.probe_timeout = soon") ==
        "emqx.conf:1: cluster.probe_timeout: expected a duration such as 30s, 5m, 1h or 500ms, "
        "got \"soon\"");
  CHECK(error_of("cluster.indirect_probes = 17") ==
        "emqx.conf:1: cluster.indirect_probes: must be between 0 and 16, got 17");
  CHECK(error_of("cluster.suspicion_multiplier = 0") ==
        "emqx.conf:1: cluster.suspicion_multiplier: must be between 1 and 100, got 0");
  CHECK(error_of("cluster.autoheal = sometimes") ==
        "emqx.conf:1: cluster.autoheal: expected true or false, got \"sometimes\"");
  CHECK(error_of("cluster.autoclean = 0s") ==
        "emqx.conf:1: cluster.autoclean: must be between 1s and 8760h, got \"0s\"");
  CHECK(error_of("cluster.rpc.ssl.verify = maybe") ==
        "emqx.conf:1: cluster.rpc.ssl.verify: must be verify_peer or verify_none, got "
        "\"maybe\"");
  CHECK(error_of("cluster = 1") == "emqx.conf:1: cluster: expected an object, got 1");
}

TEST_CASE("probe_timeout must leave time for the indirect probes", "[config][cluster][errors]") {
  CHECK(error_of("cluster {\n  probe_interval = 1s\n  probe_timeout = 1s\n}") ==
        "emqx.conf:3: cluster.probe_timeout: must be shorter than cluster.probe_interval (1s), "
        "got 1s");
  // Only the interval written: the error points at it.
  CHECK(error_of("\ncluster.probe_interval = 300ms") ==
        "emqx.conf:2: cluster.probe_timeout: must be shorter than cluster.probe_interval "
        "(300ms), got 500ms");
  CHECK(from("cluster { probe_interval = 300ms, probe_timeout = 100ms }").cluster.probe_timeout ==
        100ms);
}

TEST_CASE("TLS between nodes needs a certificate, a key and, to verify peers, a CA",
          "[config][cluster][errors]") {
  CHECK(error_of("cluster.rpc.ssl.enable = true") ==
        "emqx.conf:1: cluster.rpc.ssl.certfile: required when ssl.enable = true");
  CHECK(error_of("cluster.rpc.ssl { enable = true, certfile = c.pem }") ==
        "emqx.conf:1: cluster.rpc.ssl.keyfile: required when ssl.enable = true");
  CHECK(error_of("cluster.rpc.ssl { enable = true, certfile = c.pem, keyfile = k.pem }") ==
        "emqx.conf:1: cluster.rpc.ssl.cacertfile: required with verify = verify_peer: the CA "
        "that signed the nodes' certificates");
  Config c = from(
      "cluster.rpc.ssl { enable = true, certfile = c.pem, keyfile = k.pem, verify = verify_none "
      "}");
  CHECK(c.cluster.rpc_ssl.enable);
  // Disabled, nothing is required: the keys may wait there.
  CHECK(from("cluster.rpc.ssl { enable = false, certfile = c.pem }").cluster.rpc_ssl.certfile ==
        "c.pem");
}

TEST_CASE("the cluster RPC port clashes with listeners like any other",
          "[config][cluster][errors]") {
  CHECK(error_of("node.cookie = c\nlisteners.tcp.default.bind = 4370") ==
        "emqx.conf:2: listeners.tcp.default.bind: 0.0.0.0:4370 is already used by cluster.rpc");
  CHECK(error_of("node.cookie = c\ncluster.rpc.bind = 18083") ==
        "emqx.conf:2: cluster.rpc.bind: 0.0.0.0:18083 is already used by "
        "dashboard.listeners.http");
  CHECK(from("cluster.rpc.bind = \"127.0.0.1:0\"").cluster.rpc_bind == "127.0.0.1:0");
}

TEST_CASE("EMQX's other cluster keys stop start-up, typos too, static with no seeds warns",
          "[config][cluster][strict]") {
  CHECK(error_of("cluster {\n  name = emqxcl\n  core_nodes = []\n}") ==
        "emqx.conf:3: cluster.core_nodes: not implemented yet by emqxd (every emqxd node is a "
        "full node)");
  CHECK(error_of("cluster.proto_dist = inet_tls") ==
        "emqx.conf:1: cluster.proto_dist: not implemented yet by emqxd (TLS between nodes is "
        "cluster.rpc.ssl)");
  CHECK(error_of("cluster.mcast.addr = \"239.192.0.1\"") ==
        "emqx.conf:1: cluster.mcast: not implemented yet by emqxd (discovery is manual, static, "
        "dns, etcd or k8s)");
  CHECK(error_of("cluster.etcd.ttl = 5") == "emqx.conf:1: cluster.etcd.ttl: unknown key");
  CHECK(error_of("cluster.dns.ttl = 5") == "emqx.conf:1: cluster.dns.ttl: unknown key");
  Config dns = from(
      "cluster {\n  discovery_strategy = dns\n  dns { name = \"localhost\", "
      "record_type = srv }\n}");
  CHECK(dns.cluster.discovery_strategy == "dns");
  CHECK(dns.cluster.dns_name == "localhost");
  CHECK(dns.cluster.dns_record_type == "srv");
  CHECK(from("cluster.dns.name = a.b").cluster.dns_record_type == "a");  // EMQX's default
  CHECK(error_of("cluster {\n  probe_intreval = 2s\n}") ==
        "emqx.conf:2: cluster.probe_intreval: unknown key (did you mean probe_interval?)");
  CHECK(error_of("cluster.rpc.port = 5370") == "emqx.conf:1: cluster.rpc.port: unknown key");

  Config alone = from("cluster.discovery_strategy = static");
  REQUIRE(alone.warnings.size() == 1);
  CHECK(alone.warnings[0] ==
        "emqx.conf:1: cluster.discovery_strategy is static but cluster.static.seeds is empty: "
        "this node joins nobody");
}

TEST_CASE("etcd and k8s discovery: EMQX's keys, their defaults and their errors",
          "[config][cluster]") {
  Config d = from("");
  CHECK(d.cluster.etcd_prefix == "emqxcl");
  CHECK(d.cluster.etcd_node_ttl == std::chrono::minutes(1));
  CHECK(d.cluster.k8s_apiserver == "https://kubernetes.default.svc:443");
  CHECK(d.cluster.k8s_service_name == "emqx-headless");
  CHECK(d.cluster.k8s_address_type == "ip");
  CHECK(d.cluster.k8s_namespace == "default");
  CHECK(d.cluster.k8s_suffix == "pod.local");

  Config etcd = from(
      "cluster {\n  discovery_strategy = etcd\n  etcd {\n    server = \"http://10.0.0.1:2379, "
      "https://etcd.example:2380/,http://10.0.0.1:2379,http://[::1]\"\n    prefix = \"a/b\"\n"
      "    node_ttl = 30s\n    ssl_options { enable = true, verify = verify_peer }\n  }\n}");
  CHECK(etcd.cluster.discovery_strategy == "etcd");
  CHECK(etcd.cluster.etcd_servers == std::vector<std::string>{"http://10.0.0.1:2379",
                                                              "https://etcd.example:2380",
                                                              "http://[::1]:2379"});
  CHECK(etcd.cluster.etcd_prefix == "a/b");
  CHECK(etcd.cluster.etcd_node_ttl == std::chrono::seconds(30));
  CHECK(etcd.cluster.etcd_ssl.enable);
  CHECK(etcd.cluster.etcd_ssl.verify == "verify_peer");
  // EMQX's older name of ssl_options, and the environment.
  CHECK(from("cluster.etcd.ssl.verify = verify_peer").cluster.etcd_ssl.verify == "verify_peer");
  Config env = from("", {{"EMQX_CLUSTER__DISCOVERY_STRATEGY", "k8s"},
                         {"EMQX_CLUSTER__K8S__APISERVER", "https://10.96.0.1"},
                         {"EMQX_CLUSTER__K8S__SERVICE_NAME", "emqxd-headless"},
                         {"EMQX_CLUSTER__K8S__NAMESPACE", "mqtt"},
                         {"EMQX_CLUSTER__K8S__ADDRESS_TYPE", "hostname"},
                         {"EMQX_CLUSTER__K8S__SUFFIX", "svc.cluster.local"}});
  CHECK(env.cluster.discovery_strategy == "k8s");
  CHECK(env.cluster.k8s_apiserver == "https://10.96.0.1:443");
  CHECK(env.cluster.k8s_service_name == "emqxd-headless");
  CHECK(env.cluster.k8s_namespace == "mqtt");
  CHECK(env.cluster.k8s_address_type == "hostname");
  CHECK(env.cluster.k8s_suffix == "svc.cluster.local");

  CHECK(error_of("cluster.discovery_strategy = etcd") ==
        "emqx.conf:1: cluster.discovery_strategy: etcd needs cluster.etcd.server, the etcd "
        "cluster's client URLs (http://host:2379)");
  CHECK(error_of("cluster.etcd.server = \"127.0.0.1:2379\"") ==
        "emqx.conf:1: cluster.etcd.server: expected http[s]://host[:port], got \"127.0.0.1:2379\"");
  CHECK(error_of("cluster.etcd.server = \"http://h:99999\"") ==
        "emqx.conf:1: cluster.etcd.server: expected http[s]://host[:port], got \"http://h:99999\"");
  CHECK(error_of("cluster.etcd.server = \" , \"") ==
        "emqx.conf:1: cluster.etcd.server: must name at least one etcd server (http://host:2379)");
  CHECK(
      error_of("cluster.etcd.prefix = \"/emqx\"")
          .starts_with("emqx.conf:1: cluster.etcd.prefix: must be printable text without spaces"));
  CHECK(error_of("cluster.etcd.node_ttl = 5s").starts_with("emqx.conf:1: cluster.etcd.node_ttl: "));
  CHECK(error_of("cluster.etcd.ssl_options.verify = maybe")
            .starts_with("emqx.conf:1: cluster.etcd.ssl_options.verify: "));
  CHECK(error_of("cluster.k8s.address_type = pod") ==
        "emqx.conf:1: cluster.k8s.address_type: must be ip, dns or hostname, got \"pod\"");
  CHECK(error_of("cluster.k8s.apiserver = \"kubernetes.default.svc\"") ==
        "emqx.conf:1: cluster.k8s.apiserver: expected http[s]://host[:port], got "
        "\"kubernetes.default.svc\"");
  CHECK(error_of("cluster.k8s.namespace = \"my ns\"")
            .starts_with("emqx.conf:1: cluster.k8s.namespace: must be a DNS name"));
}
