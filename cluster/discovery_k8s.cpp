// Kubernetes discovery (discovery.hpp): the endpoints of cluster.k8s.service_name (the
// StatefulSet's headless service) from the API server, as a pod reads them: the service
// account's bearer token, the API server checked against the service account's CA.
//
// EndpointSlices (discovery.k8s.io/v1, GET .../endpointslices?labelSelector=
// kubernetes.io/service-name=<service>) first; an API server that has none (404) or a Role
// that grants only the older Endpoints (403) makes it read v1 Endpoints
// (GET /api/v1/namespaces/<ns>/endpoints/<service>), as EMQX does, from then on.
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <fstream>
#include <iterator>

#include "auth/http_backend.hpp"
#include "cluster/discovery.hpp"

namespace emqxd::cluster {

namespace json = boost::json;

namespace {

const json::array* array_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}
std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// The node for one endpoint's address (ip) and hostname, as address_type says.
void add_node(const K8sDiscovery& q, const std::string& ip, const std::string& hostname,
              std::vector<NodeAddress>& out) {
  std::string host;
  if (q.address_type == "hostname") {
    if (hostname.empty()) return;  // a pod outside a StatefulSet's governing service
    host = hostname + "." + q.service_name + "." + q.namespace_ + "." + q.suffix;
  } else if (q.address_type == "dns") {
    if (ip.empty()) return;
    std::string dashed = ip;
    std::replace(dashed.begin(), dashed.end(), '.', '-');
    std::replace(dashed.begin(), dashed.end(), ':', '-');
    host = dashed + "." + q.namespace_ + "." + q.suffix;
  } else {
    host = ip;
  }
  NodeAddress a;
  a.name = q.node_name;
  a.host = std::move(host);
  a.port = q.port;
  if (auto valid = NodeAddress::parse(a.to_string())) out.push_back(std::move(*valid));
}

// std::string_view of a file's whole content, trimmed of trailing white space; nullopt
// when it cannot be read.
std::optional<std::string> read_trimmed(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
    text.pop_back();
  return text;
}

class K8sStrategy final : public Discovery {
 public:
  K8sStrategy(K8sDiscovery q, DiscoveryHttp http) : q_(std::move(q)), http_(std::move(http)) {
    ssl_.enable = true;
    ssl_.verify = "verify_peer";
    const std::string ca = q_.service_account_dir + "/ca.crt";
    if (::access(ca.c_str(), R_OK) == 0) ssl_.cacertfile = ca;
  }

  std::string describe() const override {
    return "k8s discovery: " + q_.apiserver + " service " + q_.namespace_ + "/" + q_.service_name +
           " (" + q_.address_type + " addresses)";
  }

  std::vector<NodeAddress> discover(std::string& error) override {
    const std::string token_file = q_.service_account_dir + "/token";
    auto token = read_trimmed(token_file);
    if (!token || token->empty()) {
      error = "cannot read the service account token " + token_file;
      return {};
    }
    DiscoveryHttpRequest r;
    r.origin = origin_;
    r.ssl = ssl_;
    r.headers = {{"Authorization", "Bearer " + *token}, {"Accept", "application/json"}};
    const std::string ns = auth::url_encode(q_.namespace_);
    const std::string svc = auth::url_encode(q_.service_name);
    if (!endpoints_) {
      r.target = "/apis/discovery.k8s.io/v1/namespaces/" + ns + "/endpointslices?labelSelector=" +
                 auth::url_encode("kubernetes.io/service-name=" + q_.service_name);
      auto a = http_(r);
      if (a.reached && (a.status == 404 || a.status == 403)) {
        endpoints_ = true;  // no EndpointSlice API here, or no right to it: Endpoints
      } else {
        if (!answered(a, r.target, error)) return {};
        return parse_k8s_endpoints(q_, a.body, false, error);
      }
    }
    r.target = "/api/v1/namespaces/" + ns + "/endpoints/" + svc;
    auto a = http_(r);
    if (!answered(a, r.target, error)) return {};
    return parse_k8s_endpoints(q_, a.body, true, error);
  }

  void set_origin(std::string origin) { origin_ = std::move(origin); }

 private:
  bool answered(const DiscoveryHttpAnswer& a, const std::string& target, std::string& error) {
    if (!a.reached) {
      error = q_.apiserver + ": " + a.error;
      return false;
    }
    if (a.status == 200) return true;
    // A Status object: {"kind":"Status","message":"...","reason":"Forbidden","code":403}
    json::error_code ec;
    auto v = json::parse(a.body, ec);
    std::string message = !ec && v.is_object() ? string_at(v.get_object(), "message") : "";
    error = "GET " + target + ": HTTP " + std::to_string(a.status) +
            (message.empty() ? "" : ": " + message) +
            (a.status == 401 ? " (the service account token was refused)" : "");
    return false;
  }

  const K8sDiscovery q_;
  const DiscoveryHttp http_;
  config::ClientSslConfig ssl_;
  std::string origin_;
  bool endpoints_ = false;  // read v1 Endpoints instead of EndpointSlices
};

}  // namespace

std::vector<NodeAddress> parse_k8s_endpoints(const K8sDiscovery& q, std::string_view body,
                                             bool endpoints, std::string& error) {
  std::vector<NodeAddress> out;
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    error = "the API server's answer is not a JSON object";
    return out;
  }
  const auto& root = v.get_object();
  if (endpoints) {
    // {"subsets":[{"addresses":[{"ip":..,"hostname":..}],"notReadyAddresses":[..]}]}
    if (const auto* subsets = array_at(root, "subsets")) {
      for (const auto& s : *subsets) {
        if (!s.is_object()) continue;
        for (const char* which : {"addresses", "notReadyAddresses"}) {
          const auto* list = array_at(s.get_object(), which);
          if (list == nullptr) continue;
          for (const auto& e : *list) {
            if (!e.is_object()) continue;
            add_node(q, string_at(e.get_object(), "ip"), string_at(e.get_object(), "hostname"),
                     out);
          }
        }
      }
    }
  } else {
    // {"items":[{"addressType":"IPv4","endpoints":[{"addresses":[..],"hostname":..,
    //   "conditions":{"ready":true,"serving":true,"terminating":false}}]}]}
    const auto* items = array_at(root, "items");
    if (items == nullptr) {
      error = "the API server's answer is not an EndpointSliceList";
      return out;
    }
    for (const auto& slice : *items) {
      if (!slice.is_object()) continue;
      const auto* eps = array_at(slice.get_object(), "endpoints");
      if (eps == nullptr) continue;
      for (const auto& e : *eps) {
        if (!e.is_object()) continue;
        const auto& ep = e.get_object();
        if (const auto* c = ep.if_contains("conditions"); c != nullptr && c->is_object()) {
          const auto* t = c->get_object().if_contains("terminating");
          if (t != nullptr && t->is_bool() && t->get_bool()) continue;
        }
        const auto* addresses = array_at(ep, "addresses");
        if (addresses == nullptr || addresses->empty() || !addresses->front().is_string()) continue;
        // An endpoint's addresses are one pod's; the first stands for it.
        add_node(q, std::string(addresses->front().get_string()), string_at(ep, "hostname"), out);
      }
    }
  }
  sort_nodes(out);
  return out;
}

std::unique_ptr<Discovery> make_k8s_discovery(K8sDiscovery q, DiscoveryHttp http) {
  auto url = auth::split_http_url(q.apiserver, "cluster.k8s.apiserver");
  auto s = std::make_unique<K8sStrategy>(std::move(q), std::move(http));
  s->set_origin(url.origin());
  return s;
}

}  // namespace emqxd::cluster
