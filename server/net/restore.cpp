#include "net/restore.hpp"

#include <functional>

#include "net/worker.hpp"
#include "session/session.hpp"
#include "storage/records.hpp"

namespace emqxd::net {

namespace {

class Restorer final : public storage::Visitor {
 public:
  Restorer(NodeState& node, const storage::ClockPair& now) : node_(node), now_(now) {}

  Verdict on_session(const storage::SessionRecord& r) override {
    // Disconnected at a known time, or connected when the node stopped: offline from now.
    const std::int64_t since = r.disconnected_at_ms != 0 ? r.disconnected_at_ms : now_.wall_ms;
    if (r.expiry_interval != 0xFFFFFFFFu &&
        since + std::int64_t{r.expiry_interval} * 1000 <= now_.wall_ms) {
      ++expired_;
      return Verdict::Erase;
    }
    if (r.expiry_interval == 0) return Verdict::Erase;  // ended with its connection
    worker_ = static_cast<std::uint32_t>(std::hash<std::string>{}(r.client_id) %
                                         node_.workers.size());
    auto id = node_.next_session_id.fetch_add(1, std::memory_order_relaxed);
    session_ = std::make_unique<session::Session>(id, r.client_id);
    session_->expiry_interval = r.expiry_interval;
    session_->store_uid = r.uid;
    if (node_.config.mqtt.backpressure) session_->enable_pressure(node_.config.mqtt.max_mqueue_len);
    went_offline_ = storage::to_steady(since, now_);
    return Verdict::Keep;
  }

  Verdict on_subscription(const storage::SubscriptionRecord& r) override {
    if (!session_) return Verdict::Keep;
    broker::SubscriberRef ref{worker_, session_->id()};
    node_.broker.subscribe(r.filter, ref, r.options, r.subscription_id, session_->pressure,
                           session_->store_uid);
    session_->subscriptions[r.filter] = session::SubscriptionState{r.options, r.subscription_id};
    return Verdict::Keep;
  }

  Verdict on_delivery(storage::DeliveryRecord& r) override {
    if (!session_) return Verdict::Keep;
    session::Delivery d;
    d.session = session_->id();
    d.qos = r.qos;
    d.retain = r.retain;
    d.subscription_ids = std::move(r.subscription_ids);
    if (!r.share.empty()) d.share = std::make_shared<const std::string>(std::move(r.share));
    d.store_seq = r.seq;
    if (r.state == storage::OutState::Queued) {
      if (!r.msg || r.msg->expired(now_.steady)) return Verdict::Erase;
      d.msg = std::move(r.msg);
      session_->queue.push_back(std::move(d));
      return Verdict::Keep;
    }
    // Sent and not acknowledged: resent with its packet id (DUP) when the client is back.
    session::Inflight f;
    f.packet_id = r.packet_id;
    f.state = r.state == storage::OutState::WaitPubAck   ? session::OutState::WaitPubAck
              : r.state == storage::OutState::WaitPubRec ? session::OutState::WaitPubRec
                                                         : session::OutState::WaitPubComp;
    if (f.state != session::OutState::WaitPubComp) d.msg = std::move(r.msg);
    if (f.state != session::OutState::WaitPubComp && !d.msg) return Verdict::Erase;
    f.d = std::move(d);
    if (session_->inflight.in_use(f.packet_id)) return Verdict::Erase;  // cannot happen twice
    session_->inflight.push_back(std::move(f));
    return Verdict::Keep;
  }

  Verdict on_awaiting_rel(const storage::AwaitingRelRecord& r) override {
    if (session_) session_->awaiting_rel[r.packet_id] = storage::to_steady(r.received_at_ms, now_);
    return Verdict::Keep;
  }

  void on_session_end(std::uint64_t) override {
    if (!session_) return;
    {
      std::lock_guard lock(node_.registry.mutex);
      node_.registry.entries[session_->client_id()] = {session_->id(), worker_, false};
    }
    node_.workers[worker_]->adopt(std::move(session_), went_offline_);
    ++restored_;
  }

  Verdict on_retained(mqtt::MessagePtr& msg) override {
    if (!msg || msg->expired(now_.steady)) return Verdict::Erase;
    node_.retainer.retain(msg);
    return Verdict::Keep;
  }

  std::uint64_t restored() const { return restored_; }
  std::uint64_t expired() const { return expired_; }

 private:
  NodeState& node_;
  storage::ClockPair now_;
  std::unique_ptr<session::Session> session_;
  std::uint32_t worker_ = 0;
  std::chrono::steady_clock::time_point went_offline_{};
  std::uint64_t restored_ = 0;
  std::uint64_t expired_ = 0;
};

}  // namespace

storage::LoadSummary restore(NodeState& node) {
  Restorer r(node, storage::ClockPair::now());
  return node.store->load(r, storage::ClockPair::now());
}

}  // namespace emqxd::net
