#pragma once
// Discovery strategies that ask an outside service which nodes exist
// (cluster.discovery_strategy = dns | etcd | k8s; docs/deploy.md, "Discovery"). The
// cluster asks one every few seconds from a thread of its own (cluster_discovery.cpp) and
// hands the answer to the membership; a strategy only knows how to ask and how to read
// the answer. The answers' parsers are separate functions, for the unit tests and the
// `discovery` fuzz target.
//
//   dns   the records of cluster.dns.name (discovery_dns.hpp)
//   etcd  the keys under <prefix>/<cluster.name>/nodes/ of an etcd v3 cluster, through its
//         JSON gateway; each node keeps its own key alive under a lease of node_ttl and
//         revokes it when it leaves or stops (discovery_etcd.cpp)
//   k8s   the endpoints of a Kubernetes service, read from the API server with the pod's
//         service account (discovery_k8s.cpp)
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cluster/node_address.hpp"
#include "config/config.hpp"

namespace emqxd::cluster {

// One HTTP exchange of a strategy with its server. `origin` is "http[s]://host:port";
// `ssl` says how to check an https server (the caller keeps one connection pool per
// origin, made with the ssl of its first request).
struct DiscoveryHttpRequest {
  std::string origin;
  config::ClientSslConfig ssl;
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent as application/json when not empty
  std::chrono::milliseconds timeout{5000};
};
struct DiscoveryHttpAnswer {
  bool reached = false;  // false: no HTTP answer (`error` says why)
  std::string error;
  int status = 0;
  std::string body;
};
// Blocks until the answer or request.timeout; called from the discovery thread and, once,
// from the thread that stops the cluster (unregister).
using DiscoveryHttp = std::function<DiscoveryHttpAnswer(const DiscoveryHttpRequest&)>;

class Discovery {
 public:
  virtual ~Discovery() = default;
  // What is asked, for the logs: "dns discovery: emqxd.local (srv records)".
  virtual std::string describe() const = 0;
  // The nodes there are now, this node perhaps among them; empty when there are none yet.
  // A strategy that registers nodes (etcd) first makes sure this node is registered. On
  // failure returns empty and sets `error`. Blocking (seconds at most); one thread.
  virtual std::vector<NodeAddress> discover(std::string& error) = 0;
  // This node leaves: take it out of the outside service, if the strategy put it there.
  // Best effort, bounded by the request timeout; any thread, once discover() has
  // returned or while it runs.
  virtual void unregister() {}
};

// Sorts `nodes` (by name@host:port) and drops repeats: every strategy's answer, so that
// two answers compare equal when they list the same nodes.
void sort_nodes(std::vector<NodeAddress>& nodes);

// The strategy cluster.discovery_strategy names (dns, etcd or k8s) for the node `self`,
// its requests going through `http`. Throws std::runtime_error naming the key when a
// setting cannot be used (an unreadable service account token file, say).
std::unique_ptr<Discovery> make_discovery(const config::ClusterConfig& cfg, const NodeAddress& self,
                                          DiscoveryHttp http);

// ---- etcd (discovery_etcd.cpp)

struct EtcdDiscovery {
  std::vector<std::string> servers;  // origins "http[s]://host:port", tried in turn
  std::string prefix;                // cluster.etcd.prefix
  std::string cluster_name;          // cluster.name
  std::chrono::seconds node_ttl{60};
  config::ClientSslConfig ssl;

  // "<prefix>/<cluster>/nodes/": the keys of the cluster's nodes start with it; a node's
  // key is it followed by the node's id (name@host), its value the node's address
  // name@host:port.
  std::string nodes_key() const;
};

// The node addresses in the values of an etcd v3 range answer (JSON, keys and values in
// base64), sorted, without repeats; values that are not node addresses are skipped. An
// answer that does not parse sets `error`.
std::vector<NodeAddress> parse_etcd_range(std::string_view body, std::string& error);

std::unique_ptr<Discovery> make_etcd_discovery(EtcdDiscovery q, const NodeAddress& self,
                                               DiscoveryHttp http);

// ---- Kubernetes (discovery_k8s.cpp)

struct K8sDiscovery {
  std::string apiserver;     // cluster.k8s.apiserver, "https://kubernetes.default.svc:443"
  std::string service_name;  // cluster.k8s.service_name
  std::string namespace_;    // cluster.k8s.namespace
  std::string address_type;  // ip | dns | hostname
  std::string suffix;        // cluster.k8s.suffix
  // The pod's service account: token (re-read for every request: Kubernetes rotates it)
  // and ca.crt (the API server's CA; the system's CAs when the file is missing).
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  std::string node_name;  // the name part of the nodes' names (this node's)
  std::uint16_t port = kDefaultRpcPort;
};

// The nodes in an EndpointSlice list (discovery.k8s.io/v1 EndpointSliceList) or, with
// `endpoints`, an Endpoints object (v1), as EMQX names them:
//   ip        name@<address>
//   dns       name@<address, dots as dashes>.<namespace>.<suffix>
//   hostname  name@<the endpoint's hostname>.<service>.<namespace>.<suffix>
// Ready and not yet ready endpoints both count (a starting node must be found to form one
// cluster); terminating ones do not. Sorted, without repeats. A body that does not parse
// sets `error`.
std::vector<NodeAddress> parse_k8s_endpoints(const K8sDiscovery& q, std::string_view body,
                                             bool endpoints, std::string& error);

// Throws std::runtime_error when q.apiserver is not an http[s] URL.
std::unique_ptr<Discovery> make_k8s_discovery(K8sDiscovery q, DiscoveryHttp http);

}  // namespace emqxd::cluster
