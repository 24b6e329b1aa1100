// Cluster: the session registry and takeover (docs/architecture.md, "Session registry and
// takeover"; cluster.proto, Sessions).
//
// Problem. A client id names one session in the whole cluster. A client that connects to
// node B while its session lives on node A (connected or not) must take it over: A closes
// the old connection (0x8E) and hands over subscriptions, in-flight and queued messages.
// Two connects of one id on two nodes at once must end with exactly one owner, without a
// global lock or a leader.
//
// Idea. The registry entry of a client id (its owner node) lives on one member, chosen by
// rendezvous hashing of the id over the live members: every node computes the same member
// from the same membership view, and a membership change moves only the entries of the
// ids whose top-scoring member changed. That member serialises the connects of the id: a
// Register names the new owner and answers with the previous one, which the new owner
// then asks to hand the session over (Takeover). When membership changes, every node
// registers the sessions it holds again with their (possibly new) registry members
// (Register held=true: an id registered to another node since is left alone), so an
// entry lost with a crashed registry member comes back.
//
// Cost: a CONNECT costs one Register call (none when this node is the registry member,
// 1 in n of the time), and a Takeover only when another node owned the id. The blocking
// calls run on kSessionThreads threads of their own.
//
// Limits (documented in the README): views of membership can differ for a moment, and
// then two nodes may see different registry members for an id; a connect then may find no
// previous owner and start a fresh session beside the old one, which lives until it
// expires. A takeover that cannot reach the old owner in time (down, partitioned) starts
// the session afresh.
#include <chrono>

#include "cluster/cluster.hpp"
#include "common/log.hpp"

namespace emqxd::cluster {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("cluster");
  return l;
}

constexpr auto kRegisterDeadline = std::chrono::seconds(2);
constexpr auto kTakeoverDeadline = std::chrono::seconds(5);
// A Register names at most this many ids, and this many bytes of them: well under the
// smallest message a peer reads (rpc::AuthOptions::max_request_bytes, 4 MiB at least).
constexpr std::size_t kRegisterChunk = 10'000;
constexpr std::size_t kRegisterChunkBytes = 1 << 20;

// FNV-1a then a final mix: the same on every node and machine.
std::uint64_t score(std::string_view node, std::string_view client_id) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  auto feed = [&](std::string_view s) {
    for (unsigned char c : s) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  feed(node);
  feed(std::string_view("\0", 1));
  feed(client_id);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  return h;
}
}  // namespace

NodeAddress Cluster::registry_for(const std::string& client_id) const {
  NodeAddress best = self_;
  std::uint64_t best_score = score(self_.id(), client_id);
  std::lock_guard lock(peers_mutex_);
  for (auto i : live_) {
    const auto& p = by_index_[i];
    std::uint64_t s = score(p->id, client_id);
    if (s > best_score || (s == best_score && p->id > best.id())) {
      best_score = s;
      best = p->address;
    }
  }
  return best;
}

bool Cluster::is_live(const std::string& id) const {
  std::lock_guard lock(peers_mutex_);
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  auto st = by_index_[it->second]->state;
  return st == MemberState::Alive || st == MemberState::Suspect;
}

std::optional<NodeAddress> Cluster::register_here(const std::string& client_id,
                                                  const NodeAddress& owner, bool held) {
  std::lock_guard lock(registry_mutex_);
  auto it = registry_.find(client_id);
  if (held) {
    if (it == registry_.end()) registry_.emplace(client_id, RegistryEntry{owner});
    return std::nullopt;
  }
  std::optional<NodeAddress> previous;
  if (it != registry_.end() && it->second.owner.id() != owner.id()) previous = it->second.owner;
  registry_[client_id] = RegistryEntry{owner};
  return previous;
}

void Cluster::claim(const std::string& client_id, bool clean_start,
                    std::function<void(session::Claim)> done) {
  {
    std::lock_guard lock(registry_mutex_);
    ++claiming_[client_id];
    revoked_.erase(client_id);
  }
  {
    std::lock_guard lock(mutex_);
    session_tasks_.push_back([this, client_id, clean_start, done = std::move(done)] {
      session::Claim c;
      NodeAddress registry = registry_for(client_id);
      std::optional<NodeAddress> previous;
      if (registry.id() == self_.id()) {
        previous = register_here(client_id, self_, false);
      } else {
        rpc::RegisterRequest r{options_.cluster_name, self_, {client_id}, false};
        if (auto reply = transport_.call_register(registry, r, kRegisterDeadline)) {
          previous = reply->previous.empty() ? std::nullopt : reply->previous[0];
        } else {
          logger()->warn(
              "client_id={} registry member {} did not answer; serving the connect "
              "with what this node holds",
              client_id, registry.to_string());
        }
      }
      if (previous && previous->id() != self_.id() && is_live(previous->id())) {
        c.previous_owner = true;
        rpc::TakeoverRequest t{options_.cluster_name, self_, client_id, clean_start};
        if (auto reply = transport_.call_takeover(*previous, t, kTakeoverDeadline)) {
          if (reply->session) {
            c.session = std::move(reply->session);
            takeovers_in_.fetch_add(1, std::memory_order_relaxed);
          }
        } else {
          logger()->warn(
              "client_id={} previous owner {} did not hand the session over in time; "
              "starting afresh",
              client_id, previous->to_string());
        }
      }
      bool revoked = false;
      {
        std::lock_guard rlock(registry_mutex_);
        if (--claiming_[client_id] <= 0) claiming_.erase(client_id);
        revoked = revoked_.erase(client_id) != 0;
      }
      done(std::move(c));
      // Another node claimed the id while this claim was in progress: it is the newer
      // connect, so this one goes once it is served.
      if (revoked && hooks_.revoke) hooks_.revoke(client_id);
    });
  }
  session_cv_.notify_one();
}

void Cluster::release(const std::string& client_id) {
  {
    std::lock_guard lock(mutex_);
    pending_release_.push_back(client_id);
  }
  session_cv_.notify_one();
}

void Cluster::release_pending(std::vector<std::string> ids) {
  std::unordered_map<std::string, std::pair<NodeAddress, std::vector<std::string>>> by_member;
  for (auto& id : ids) {
    NodeAddress r = registry_for(id);
    if (r.id() == self_.id()) {
      std::lock_guard lock(registry_mutex_);
      auto it = registry_.find(id);
      if (it != registry_.end() && it->second.owner.id() == self_.id()) registry_.erase(it);
      continue;
    }
    auto& slot = by_member[r.id()];
    slot.first = r;
    slot.second.push_back(std::move(id));
  }
  for (auto& [member, slot] : by_member) {
    transport_.call_unregister(slot.first, options_.cluster_name, self_, slot.second,
                               kRegisterDeadline);
  }
}

void Cluster::reregister_all() {
  if (!hooks_.local_client_ids) return;
  std::unordered_map<std::string, std::pair<NodeAddress, std::vector<std::string>>> by_member;
  for (auto& id : hooks_.local_client_ids()) {
    NodeAddress r = registry_for(id);
    if (r.id() == self_.id()) {
      register_here(id, self_, true);
      continue;
    }
    auto& slot = by_member[r.id()];
    slot.first = r;
    slot.second.push_back(std::move(id));
  }
  for (auto& [member, slot] : by_member) {
    std::size_t i = 0;
    while (i < slot.second.size()) {
      rpc::RegisterRequest req{options_.cluster_name, self_, {}, true};
      std::size_t bytes = 0;
      while (i < slot.second.size() && req.client_ids.size() < kRegisterChunk &&
             (req.client_ids.empty() || bytes + slot.second[i].size() + 8 <= kRegisterChunkBytes)) {
        bytes += slot.second[i].size() + 8;  // the id and its protobuf framing, at most
        req.client_ids.push_back(std::move(slot.second[i++]));
      }
      if (!transport_.call_register(slot.first, req, kRegisterDeadline)) {
        logger()->warn(
            "registering {} sessions with {} failed; trying again at the next "
            "membership change",
            req.client_ids.size(), slot.first.to_string());
      }
    }
  }
}

void Cluster::session_worker() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    session_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] {
      return stopping_ || !session_tasks_.empty() || !pending_release_.empty() || reregister_;
    });
    if (stopping_) return;
    if (!session_tasks_.empty()) {
      auto task = std::move(session_tasks_.front());
      session_tasks_.pop_front();
      lock.unlock();
      task();
      lock.lock();
      continue;
    }
    if (!pending_release_.empty()) {
      auto ids = std::move(pending_release_);
      pending_release_.clear();
      lock.unlock();
      release_pending(std::move(ids));
      lock.lock();
      continue;
    }
    if (reregister_.exchange(false)) {
      lock.unlock();
      // Membership changes come in bursts (a join is seen by several events): let them
      // settle, then register once.
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      reregister_ = false;
      reregister_all();
      reassert_exclusive();  // cluster_exclusive.cpp
      lock.lock();
    }
  }
}

// ---------------------------------------------------------------- inbound (gRPC threads)

// Every session call comes from a node that proved it holds the cookie (rpc/transport.cpp)
// and whose `from` is itself; it is served only if that node is a live member here, so a
// node that merely knows the cookie, or one this node has declared down, can neither steal
// a session nor take a place in the peer table.
rpc::RegisterReply Cluster::on_register(const rpc::RegisterRequest& r) {
  rpc::RegisterReply reply;
  if (r.cluster != options_.cluster_name) {
    reply.not_registry = true;
    return reply;
  }
  if (!is_live(r.from.id())) {
    reply.not_member = true;
    return reply;
  }
  for (const auto& id : r.client_ids) {
    reply.previous.push_back(register_here(id, r.from, r.held));
  }
  return reply;
}

bool Cluster::on_unregister(const std::string& cluster, const NodeAddress& from,
                            const std::vector<std::string>& client_ids) {
  if (cluster != options_.cluster_name) return true;
  if (!is_live(from.id())) return false;
  std::lock_guard lock(registry_mutex_);
  for (const auto& id : client_ids) {
    auto it = registry_.find(id);
    if (it != registry_.end() && it->second.owner.id() == from.id()) registry_.erase(it);
  }
  return true;
}

rpc::TakeoverReply Cluster::on_takeover(const rpc::TakeoverRequest& r) {
  if (r.cluster != options_.cluster_name || !hooks_.takeover) return {};
  auto to = find_peer(r.from.id());
  if (!to || !is_live(to->id)) {
    rpc::TakeoverReply refused;
    refused.not_member = true;
    return refused;
  }
  {
    std::lock_guard lock(registry_mutex_);
    if (claiming_.count(r.client_id) != 0) revoked_.insert(r.client_id);
  }
  rpc::TakeoverReply reply = hooks_.takeover(r.client_id, r.clean_start, to->index);
  if (reply.found) {
    takeovers_out_.fetch_add(1, std::memory_order_relaxed);
    logger()->debug("client_id={} session handed over to {}", r.client_id, r.from.to_string());
  }
  return reply;
}

}  // namespace emqxd::cluster
