#include "session/restore.hpp"

#include <functional>
#include <unordered_set>

#include "session/session_state.hpp"
#include "session/worker_core.hpp"
#include "storage/batch.hpp"
#include "storage/records.hpp"

namespace emqxd::session {

namespace {

// Reads the stored records of each session into a SessionState, then hands it to the
// SessionManager of its worker, which builds the session through the same conversion a
// session arriving from another node goes through (session/session_records.hpp).
class Restorer final : public storage::Visitor {
 public:
  Restorer(NodeState& node, const storage::ClockPair& now) : node_(node), now_(now) {}

  Verdict on_session(const storage::SessionRecord& r) override {
    state_.reset();
    // Disconnected at a known time, or connected when the node stopped: offline from now.
    const std::int64_t since = r.disconnected_at_ms != 0 ? r.disconnected_at_ms : now_.wall_ms;
    if (r.expiry_interval != 0xFFFFFFFFu &&
        since + std::int64_t{r.expiry_interval} * 1000 <= now_.wall_ms) {
      ++expired_;
      return Verdict::Erase;
    }
    if (r.expiry_interval == 0) return Verdict::Erase;  // ended with its connection
    state_.emplace();
    state_->client_id = r.client_id;
    state_->protocol_version = r.proto_ver;
    state_->expiry_interval = r.expiry_interval;
    uid_ = r.uid;
    ids_.clear();
    went_offline_ = storage::to_steady(since, now_);
    return Verdict::Keep;
  }

  Verdict on_subscription(const storage::SubscriptionRecord& r) override {
    if (state_) state_->subscriptions.push_back({r.filter, r.options, r.subscription_id});
    return Verdict::Keep;
  }

  Verdict on_delivery(storage::DeliveryRecord& r) override {
    if (!state_) return Verdict::Keep;
    SessionState::Delivery d;
    d.state = r.state;
    d.qos = r.qos;
    d.retain = r.retain;
    d.subscription_ids = std::move(r.subscription_ids);
    d.share = std::move(r.share);
    d.store_seq = r.seq;
    if (r.state == storage::OutState::Queued) {
      if (!r.msg || r.msg->expired(now_.steady)) return Verdict::Erase;
      d.msg = std::move(r.msg);
      state_->deliveries.push_back(std::move(d));
      return Verdict::Keep;
    }
    // Sent and not acknowledged: resent with its packet id (DUP) when the client is back.
    d.packet_id = r.packet_id;
    if (r.state != storage::OutState::WaitPubComp) {
      if (!r.msg) return Verdict::Erase;
      d.msg = std::move(r.msg);
    }
    if (!ids_.insert(r.packet_id).second) return Verdict::Erase;  // cannot happen twice
    state_->deliveries.push_back(std::move(d));
    return Verdict::Keep;
  }

  Verdict on_awaiting_rel(const storage::AwaitingRelRecord& r) override {
    if (state_) state_->awaiting_rel.push_back(r.packet_id);
    return Verdict::Keep;
  }

  void on_session_end(std::uint64_t) override {
    if (!state_) return;
    auto worker = static_cast<std::uint32_t>(std::hash<std::string>{}(state_->client_id) %
                                             node_.cores.size());
    node_.cores[worker]->sessions().restore(std::move(*state_), uid_, went_offline_);
    state_.reset();
    ++restored_;
  }

  Verdict on_retained(mqtt::MessagePtr& msg) override {
    if (!msg || msg->expired(now_.steady)) return Verdict::Erase;
    node_.retainer.retain(msg);
    return Verdict::Keep;
  }

 private:
  NodeState& node_;
  storage::ClockPair now_;
  std::optional<SessionState> state_;
  std::uint64_t uid_ = 0;
  std::unordered_set<std::uint16_t> ids_;  // packet ids in flight of the session being read
  std::chrono::steady_clock::time_point went_offline_{};
  std::uint64_t restored_ = 0;
  std::uint64_t expired_ = 0;
};

}  // namespace

storage::LoadSummary restore(NodeState& node) {
  Restorer r(node, storage::ClockPair::now());
  return node.store->load(r, storage::ClockPair::now());
}

std::size_t restore_delayed(NodeState& node) {
  const auto now = storage::ClockPair::now();
  std::vector<std::string> unreadable;
  std::size_t n = 0;
  node.store->scan_kv(Delayed::kNamespace, [&](std::string_view id, std::string_view value) {
    auto m = Delayed::decode(id, value, now);
    if (!m) {
      unreadable.emplace_back(id);
      return true;
    }
    m->worker = 0;
    bool earliest = false;
    // Kept whatever max_delayed_messages says now: they were accepted.
    node.delayed.add(std::move(*m), earliest, true);
    ++n;
    return true;
  });
  if (!unreadable.empty()) {
    storage::Batch b(now);
    for (const auto& id : unreadable)
      b.erase_kv(Delayed::kNamespace, id);
    node.store->commit(std::move(b), [](const storage::Status&) {});
  }
  return n;
}

}  // namespace emqxd::session
