// Exclusive subscriptions, the worker's side (session/exclusive.hpp). A node alone is
// every filter's home and decides at once. In a cluster the claim is the home member's
// answer (SessionDirectory::claim_exclusive, an RPC): it is asked on the blocking pool and
// the answers come back to this worker as a task, as remote authorization's do
// (worker_authz.cpp); the channel's packets wait meanwhile.
#include "common/log.hpp"
#include "session/channel.hpp"
#include "session/node_state.hpp"
#include "session/worker_core.hpp"

namespace emqxd::session {

namespace {

// This node's own claims carry the node "" in its table (exclusive.hpp); alone, no other
// node is live.
bool alone_live(const std::string& node) {
  return node.empty();
}

// No other node is live: this node decides. (Else the claims are asked off the worker,
// through NodeState::offload, which app/node.cpp makes when the key is on.)
bool alone(const NodeState& node) {
  return node.directory == nullptr || !node.directory->active();
}

}  // namespace

std::optional<std::vector<ClaimAnswer>> WorkerCore::claim_exclusive(
    Channel& ch, const std::vector<std::string>& filters) {
  const std::string& client_id = ch.client_id();
  if (alone(node_)) {
    std::vector<ClaimAnswer> out;
    out.reserve(filters.size());
    for (const auto& f : filters) {
      out.push_back(node_.exclusive.claim(f, client_id, "", alone_live));
      if (out.back() == ClaimAnswer::Granted) node_.exclusive.hold(f, client_id);
    }
    return out;
  }
  const std::uint64_t serial = ++auth_serial_;
  claiming_[&ch] = serial;
  Channel* target = &ch;
  const std::uint32_t home = sched_.id();
  Scheduler* sched = &sched_;
  SessionDirectory* dir = node_.directory;
  NodeState* node = &node_;
  const bool queued = node_.offload && node_.offload([this, sched, home, target, serial, dir, node,
                                                      filters, client_id]() {
    std::vector<ClaimAnswer> answers;
    answers.reserve(filters.size());
    for (const auto& f : filters) {
      answers.push_back(dir->claim_exclusive(f, client_id));
      if (answers.back() == ClaimAnswer::Granted) node->exclusive.hold(f, client_id);
    }
    sched->post(home,
                [this, target, serial, filters, client_id, answers = std::move(answers)]() mutable {
                  auto it = claiming_.find(target);
                  if (it == claiming_.end() || it->second != serial) {
                    // The channel closed meanwhile: nothing subscribed, so nothing is held.
                    for (std::size_t i = 0; i < filters.size(); ++i) {
                      if (answers[i] == ClaimAnswer::Granted)
                        release_exclusive(client_id, filters[i]);
                    }
                    return;
                  }
                  claiming_.erase(it);
                  target->on_exclusive_answers(std::move(answers));
                });
  });
  if (!queued) {
    claiming_.erase(&ch);
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      log::get("channel")->warn(
          "client_id={} exclusive subscription: too many requests waiting; refused ({} "
          "similar lines suppressed)",
          client_id, held);
    }
    return std::vector<ClaimAnswer>(filters.size(), ClaimAnswer::Failed);
  }
  return std::nullopt;
}

void WorkerCore::release_exclusive(const std::string& client_id, const std::string& filter) {
  if (!node_.exclusive.drop(filter, client_id)) return;  // not held here
  if (alone(node_)) {
    node_.exclusive.release(filter, client_id);
  } else {
    node_.directory->release_exclusive(filter, client_id);
  }
}

void WorkerCore::assert_exclusive(const std::string& client_id, const std::string& filter) {
  node_.exclusive.hold(filter, client_id);
  auto report = [client_id, filter](ClaimAnswer a) {
    if (a == ClaimAnswer::Granted) return;
    // Two nodes that could not see each other granted it each (a partition): both
    // subscriptions stay, as the session registry keeps both sessions then.
    log::get("channel")->warn(
        "client_id={} exclusive subscription to {} arrived with its session, but {}", client_id,
        filter, a == ClaimAnswer::Taken ? "another client holds it" : "its home did not answer");
  };
  if (alone(node_)) {
    report(node_.exclusive.claim(filter, client_id, "", alone_live));
    return;
  }
  SessionDirectory* dir = node_.directory;
  if (!node_.offload || !node_.offload([dir, client_id, filter, report] {
        report(dir->claim_exclusive(filter, client_id));
      })) {
    report(ClaimAnswer::Failed);
  }
}

void WorkerCore::hand_over_exclusive(const std::string& client_id, const std::string& filter) {
  node_.exclusive.drop(filter, client_id);
}

}  // namespace emqxd::session
