// etcd discovery (discovery.hpp): etcd v3's JSON gateway (POST /v3/kv/range, /v3/kv/put,
// /v3/lease/grant, /v3/lease/keepalive, /v3/lease/revoke; keys and values in base64,
// 64-bit numbers as JSON strings), so that no etcd client library or generated gRPC code
// is needed for five calls.
//
// A node's key is "<prefix>/<cluster.name>/nodes/<name@host>" with its address
// (name@host:port) as the value, written under a lease of node_ttl. Each discover() keeps
// the lease alive (or, when etcd lost it: expired during an outage, or etcd restarted
// without its data, grants a new one and writes the key again), then reads every key under
// the nodes prefix. A node that stops or leaves revokes its lease, which deletes its key;
// one that dies is gone from etcd after node_ttl. Nothing is locked: two nodes that find
// each other's keys at the same moment each send the other Join, and the membership merges
// them into one cluster whichever way round (cluster/membership.hpp).
#include <algorithm>
#include <atomic>
#include <boost/json.hpp>

#include "auth/base64.hpp"
#include "cluster/discovery.hpp"

namespace emqxd::cluster {

namespace json = boost::json;

std::string EtcdDiscovery::nodes_key() const {
  return prefix + "/" + cluster_name + "/nodes/";
}

namespace {

// The string a JSON object holds under `key`, or empty.
std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return std::string(v->get_string());
}

// The first key after every key that starts with `prefix`: etcd's range_end for a prefix
// (the last byte that is not 0xff, plus one).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(prefix.back());
    if (last < 0xff) {
      ++last;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');  // every key
}

class EtcdStrategy final : public Discovery {
 public:
  EtcdStrategy(EtcdDiscovery q, const NodeAddress& self, DiscoveryHttp http)
      : q_(std::move(q)), self_(self), http_(std::move(http)) {}

  std::string describe() const override {
    std::string servers;
    for (const auto& s : q_.servers)
      servers += (servers.empty() ? "" : ",") + s;
    return "etcd discovery: " + servers + " " + q_.nodes_key();
  }

  std::vector<NodeAddress> discover(std::string& error) override {
    if (!keep_registered(error)) return {};
    json::object range{{"key", auth::base64(q_.nodes_key())},
                       {"range_end", auth::base64(prefix_end(q_.nodes_key()))}};
    std::string body;
    if (!call("/v3/kv/range", range, body, error)) return {};
    return parse_etcd_range(body, error);
  }

  void unregister() override {
    const std::int64_t lease = lease_.exchange(0);
    if (lease == 0) return;
    std::string body, error;
    call("/v3/lease/revoke", json::object{{"ID", std::to_string(lease)}}, body, error);
  }

 private:
  // This node's key exists under a live lease when true.
  bool keep_registered(std::string& error) {
    std::string body;
    if (std::int64_t lease = lease_.load(); lease != 0) {
      if (!call("/v3/lease/keepalive", json::object{{"ID", std::to_string(lease)}}, body, error)) {
        return false;
      }
      // {"result":{"ID":"..","TTL":"60"}}; a lease etcd no longer has comes back without
      // a TTL (or 0).
      json::error_code ec;
      auto v = json::parse(body, ec);
      const json::object* result = nullptr;
      if (!ec && v.is_object()) {
        if (const auto* r = v.get_object().if_contains("result"); r != nullptr && r->is_object()) {
          result = &r->get_object();
        }
      }
      const std::string ttl = result != nullptr ? string_at(*result, "TTL") : std::string();
      if (!ttl.empty() && ttl != "0") return true;
      lease_.compare_exchange_strong(lease, 0);  // unless unregister() took it meanwhile
    }
    // A new lease, then the key under it.
    if (!call("/v3/lease/grant", json::object{{"TTL", q_.node_ttl.count()}}, body, error)) {
      return false;
    }
    json::error_code ec;
    auto v = json::parse(body, ec);
    std::int64_t id = 0;
    if (!ec && v.is_object()) {
      const std::string text = string_at(v.get_object(), "ID");
      try {
        id = text.empty() ? 0 : std::stoll(text);
      } catch (const std::exception&) {
        id = 0;
      }
    }
    if (id == 0) {
      error = "etcd granted no lease: " + body.substr(0, 200);
      return false;
    }
    json::object put{{"key", auth::base64(q_.nodes_key() + self_.id())},
                     {"value", auth::base64(self_.to_string())},
                     {"lease", std::to_string(id)}};
    if (!call("/v3/kv/put", put, body, error)) return false;
    lease_.store(id);
    return true;
  }

  // POSTs `request` to `target` on the servers in turn, from the one that answered last,
  // until one answers 200 (`body`). A server that answers with an error is not asked
  // again: the others would say the same.
  bool call(const char* target, const json::object& request, std::string& body,
            std::string& error) {
    DiscoveryHttpRequest r;
    r.ssl = q_.ssl;
    r.method = "POST";
    r.target = target;
    r.body = json::serialize(request);
    std::string failures;
    for (std::size_t tried = 0; tried < q_.servers.size(); ++tried) {
      const std::size_t at = (current_.load() + tried) % q_.servers.size();
      r.origin = q_.servers[at];
      DiscoveryHttpAnswer a = http_(r);
      if (!a.reached) {
        failures += (failures.empty() ? "" : "; ") + r.origin + ": " + a.error;
        continue;
      }
      current_.store(at);
      if (a.status == 200) {
        body = std::move(a.body);
        return true;
      }
      // {"error":"etcdserver: ...","message":"...","code":5}
      json::error_code ec;
      auto v = json::parse(a.body, ec);
      std::string message = !ec && v.is_object() ? string_at(v.get_object(), "message") : "";
      error = r.origin + target + ": HTTP " + std::to_string(a.status) +
              (message.empty() ? "" : ": " + message);
      return false;
    }
    error = "no etcd server answered (" + failures + ")";
    return false;
  }

  const EtcdDiscovery q_;
  const NodeAddress self_;
  const DiscoveryHttp http_;
  std::atomic<std::int64_t> lease_{0};  // 0: not registered
  std::atomic<std::size_t> current_{0};
};

}  // namespace

std::vector<NodeAddress> parse_etcd_range(std::string_view body, std::string& error) {
  std::vector<NodeAddress> out;
  json::error_code ec;
  auto v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    error = "etcd's answer is not a JSON object";
    return out;
  }
  const auto* kvs = v.get_object().if_contains("kvs");
  if (kvs == nullptr) return out;  // no keys: no "kvs" at all
  if (!kvs->is_array()) {
    error = "etcd's answer has no list of keys";
    return out;
  }
  for (const auto& kv : kvs->get_array()) {
    if (!kv.is_object()) continue;
    auto value = auth::unbase64(string_at(kv.get_object(), "value"));
    if (!value) continue;
    if (auto a = NodeAddress::parse(*value)) out.push_back(std::move(*a));
  }
  sort_nodes(out);
  return out;
}

std::unique_ptr<Discovery> make_etcd_discovery(EtcdDiscovery q, const NodeAddress& self,
                                               DiscoveryHttp http) {
  return std::make_unique<EtcdStrategy>(std::move(q), self, std::move(http));
}

}  // namespace emqxd::cluster
