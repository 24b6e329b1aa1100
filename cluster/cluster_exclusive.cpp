// Cluster: exclusive subscriptions' claims (server/session/exclusive.hpp).
//
// The claim of a filter is decided by its home: the member that rendezvous hashing of the
// filter over the live members picks, as a client id's registry member is picked
// (cluster_sessions.cpp), so that two clients subscribing on two nodes at once cannot both
// win. A node asks the home with an Admin.Query of its own ("exclusive.claim",
// "exclusive.release"; cluster.proto), which reaches the Cluster and never the HTTP API's
// operations. After a membership change the homes of some filters move: every node drops
// the claims it no longer decides and asserts its own sessions' claims with their homes
// again, as sessions are registered again.
//
// Limits (docs/modules.md): while views of membership differ, or across a partition, two
// homes may grant one filter; both subscriptions then stay, and a later assertion that
// finds the claim taken is logged.
#include <charconv>

#include "cluster/cluster.hpp"

namespace emqxd::cluster {

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("cluster");
  return l;
}

constexpr auto kClaimDeadline = std::chrono::seconds(2);
constexpr std::string_view kClaim = "exclusive.claim";
constexpr std::string_view kRelease = "exclusive.release";

// "<bytes of the filter>:<filter><client id>": neither needs escaping.
std::string encode(const std::string& filter, const std::string& client_id) {
  return std::to_string(filter.size()) + ":" + filter + client_id;
}

bool decode(const std::string& args, std::string& filter, std::string& client_id) {
  auto colon = args.find(':');
  if (colon == std::string::npos) return false;
  std::size_t n = 0;
  auto [end, ec] = std::from_chars(args.data(), args.data() + colon, n);
  if (ec != std::errc() || end != args.data() + colon || n > args.size() - colon - 1) return false;
  filter = args.substr(colon + 1, n);
  client_id = args.substr(colon + 1 + n);
  return !filter.empty() && !client_id.empty();
}

}  // namespace

session::ClaimAnswer Cluster::claim_exclusive_here(const std::string& filter,
                                                   const std::string& client_id,
                                                   const std::string& from) {
  return hooks_.exclusive->claim(filter, client_id, from, [this](const std::string& node) {
    return node.empty() || is_live(node);
  });
}

session::ClaimAnswer Cluster::claim_exclusive(const std::string& filter,
                                              const std::string& client_id) {
  if (hooks_.exclusive == nullptr) return session::ClaimAnswer::Failed;
  NodeAddress home = registry_for(filter);
  if (home.id() == self_.id()) return claim_exclusive_here(filter, client_id, "");
  auto reply =
      transport_.call_query(home,
                            rpc::QueryRequest{options_.cluster_name, self_, std::string(kClaim),
                                              encode(filter, client_id)},
                            kClaimDeadline);
  if (!reply || reply->not_member) {
    logger()->warn("client_id={} exclusive subscription to {}: its home {} did not answer",
                   client_id, filter, home.to_string());
    return session::ClaimAnswer::Failed;
  }
  if (reply->status == 200) return session::ClaimAnswer::Granted;
  return reply->status == 409 ? session::ClaimAnswer::Taken : session::ClaimAnswer::Failed;
}

void Cluster::release_exclusive(const std::string& filter, const std::string& client_id) {
  if (hooks_.exclusive == nullptr) return;
  {
    std::lock_guard lock(mutex_);
    session_tasks_.push_back([this, filter, client_id] {
      NodeAddress home = registry_for(filter);
      if (home.id() == self_.id()) {
        hooks_.exclusive->release(filter, client_id);
        return;
      }
      auto reply =
          transport_.call_query(home,
                                rpc::QueryRequest{options_.cluster_name, self_,
                                                  std::string(kRelease), encode(filter, client_id)},
                                kClaimDeadline);
      if (!reply) {
        // The home is gone or unreachable: its successor learns the claims that are held
        // (reassert_exclusive), which no longer include this one.
        logger()->debug("client_id={} exclusive subscription to {}: release not delivered",
                        client_id, filter);
      }
    });
  }
  session_cv_.notify_one();
}

void Cluster::reassert_exclusive() {
  if (hooks_.exclusive == nullptr) return;
  hooks_.exclusive->forget_unless([this](const std::string& filter, const std::string& node) {
    return registry_for(filter).id() == self_.id() && (node.empty() || is_live(node));
  });
  for (const auto& [filter, client_id] : hooks_.exclusive->held()) {
    if (claim_exclusive(filter, client_id) == session::ClaimAnswer::Taken) {
      logger()->warn(
          "client_id={} exclusive subscription to {}: another client holds it at its home "
          "(two nodes granted it while apart); both subscriptions stay",
          client_id, filter);
    }
  }
}

std::optional<rpc::QueryReply> Cluster::on_exclusive_query(const rpc::QueryRequest& r) {
  if (r.name != kClaim && r.name != kRelease) return std::nullopt;
  rpc::QueryReply out;
  std::string filter, client_id;
  if (hooks_.exclusive == nullptr || !decode(r.args, filter, client_id)) {
    out.status = 400;
    return out;
  }
  if (r.name == kRelease) {
    hooks_.exclusive->release(filter, client_id);
    out.status = 200;
    return out;
  }
  switch (claim_exclusive_here(filter, client_id, r.from.id())) {
    case session::ClaimAnswer::Granted:
      out.status = 200;
      break;
    case session::ClaimAnswer::Taken:
      out.status = 409;
      break;
    case session::ClaimAnswer::Failed:
      out.status = 503;
      break;
  }
  return out;
}

}  // namespace emqxd::cluster
