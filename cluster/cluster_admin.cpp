// The HTTP API's questions to other nodes (Admin.Query, proto/cluster.proto): any node's
// API answers for the whole cluster by asking each running member, itself included, to
// run one operation of server/api/node_ops.hpp where the data is.
#include <algorithm>

#include "cluster/cluster.hpp"

namespace emqxd::cluster {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("cluster");
  return l;
}
}  // namespace

std::vector<std::string> Cluster::running_nodes() {
  std::vector<std::string> out{self_.id()};
  {
    std::lock_guard lock(peers_mutex_);
    for (auto i : live_)
      out.push_back(by_index_[i]->id);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<api::NodeAnswer> Cluster::ask(const std::string& node, const std::string& name,
                                            const std::string& args,
                                            std::chrono::milliseconds deadline) {
  if (!hooks_.query) return std::nullopt;
  if (node == self_.id()) return hooks_.query(name, args);
  auto p = find_peer(node);
  if (!p || !is_live(p->id)) return std::nullopt;
  NodeAddress to;
  {
    std::lock_guard lock(peers_mutex_);
    to = p->address;
  }
  auto reply = transport_.call_query(
      to, rpc::QueryRequest{options_.cluster_name, self_, name, args}, deadline);
  if (!reply) {
    logger()->debug("API query {} to {} got no answer", name, node);
    return std::nullopt;
  }
  return api::NodeAnswer{reply->status, std::move(reply->body)};
}

rpc::QueryReply Cluster::on_query(const rpc::QueryRequest& r) {
  rpc::QueryReply out;
  auto p = find_peer(r.from.id());
  if (r.cluster != options_.cluster_name || !p || !is_live(p->id)) {
    out.not_member = true;
    return out;
  }
  if (auto claim = on_exclusive_query(r)) return *claim;  // not the API's (cluster_exclusive.cpp)
  if (!hooks_.query) {
    out.status = 503;
    out.body = R"({"code":"SERVICE_UNAVAILABLE","message":"the node is starting"})";
    return out;
  }
  auto a = hooks_.query(r.name, r.args);
  out.status = a.status;
  out.body = std::move(a.body);
  return out;
}

}  // namespace emqxd::cluster
