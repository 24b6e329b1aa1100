// Channel: durable sessions (storage/store.hpp). What this channel's session records in the
// hub's storage batch, and the acknowledgements that wait until it is stored, so that a
// PUBACK, PUBREC or SUBACK never promises what a crash could still take away.
#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"
#include "storage/batch.hpp"
#include "storage/records.hpp"
#include "storage/status.hpp"

namespace emqxd::session {

using mqtt::ReasonCode;

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("channel");
  return l;
}
}  // namespace

storage::Batch* Channel::session_batch() const {
  if (session_ == nullptr || session_->store_uid == 0) return nullptr;
  return hub_.store_batch();
}

void Channel::send(const mqtt::Packet& p) {
  if (!held_out_.empty()) {
    held_out_.push_back({0, p});  // keeps its place behind output that waits
    return;
  }
  send_now(p);
}

void Channel::send_now(const mqtt::Packet& p) {
  if (tracing()) [[unlikely]]
    trace_out(p);
  mqtt::encode(p, version_, host_.output());
  metrics::inc(hub_.metrics().packets_sent);
  ++stats_.send_pkt;
}

void Channel::respond(mqtt::Packet p, bool after_commit, const mqtt::Message* published) {
  if (after_commit) {
    held_out_.push_back({hub_.await_commit(*this, published), std::move(p)});
  } else {
    send(p);
  }
}

void Channel::committed(std::uint64_t ticket, const storage::Status& status) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  bool refused = false;
  while (!held_out_.empty()) {
    auto& h = held_out_.front();
    if (h.ticket > ticket) break;
    if (auto* publish = std::get_if<std::string>(&h.out)) {
      // A QoS 2 PUBLISH whose packet id was to be stored first. If that failed it goes out
      // all the same: the message was stored when it was queued, and a crash before the
      // disk has room again can only make it come back under a new packet id.
      host_.output().append(*publish);
      held_out_.pop_front();
      continue;
    }
    auto& p = std::get<mqtt::Packet>(h.out);
    if (h.ticket != 0 && !status.ok()) {
      // Not stored: the message is refused, not acknowledged (0x97 Quota exceeded; MQTT
      // 3.1.1 has no such code, so its connection closes and the client sends it again).
      if (auto* a = std::get_if<mqtt::PubAck>(&p)) a->reason = ReasonCode::QuotaExceeded;
      if (auto* r = std::get_if<mqtt::PubRec>(&p)) {
        r->reason = ReasonCode::QuotaExceeded;
        if (session_ != nullptr) session_->awaiting_rel.erase(r->packet_id);
      }
      refused = true;
    }
    if (refused && !is_v5()) break;
    send_now(p);
    held_out_.pop_front();
  }
  if (refused) {
    logger()->error("client_id={} storage refused a commit ({}): answered 0x97", client_id_,
                    status.message());
    if (!is_v5()) close_with(ReasonCode::QuotaExceeded, "storage full");
  }
}

void Channel::store_session(bool connected) {
  storage::Batch* b = hub_.store_batch();
  if (b == nullptr || session_ == nullptr) return;
  bool fresh = false;
  if (session_->store_uid == 0) {
    if (session_->expiry_interval == 0) return;  // ends with the connection: memory only
    session_->store_uid = hub_.next_store_seq();
    fresh = true;
  }
  storage::SessionRecord r;
  r.client_id = client_id_;
  r.uid = session_->store_uid;
  r.expiry_interval = session_->expiry_interval;
  r.disconnected_at_ms = connected ? 0 : b->clocks().wall_ms;
  r.proto_ver = static_cast<std::uint8_t>(version_);
  b->put_session(r);
  if (fresh) {
    // A session that was in memory (taken over from a connection without expiry) keeps
    // its subscriptions from now on.
    for (const auto& [filter, sub] : session_->subscriptions) {
      b->put_subscription({r.uid, filter, sub.opts, sub.subscription_id});
    }
  }
}

void Channel::forget_delivery(const Delivery& d, OutState last) {
  if (d.store_seq == 0) return;
  if (auto* b = session_batch()) b->erase_delivery(session_->store_uid, d.store_seq, last);
}

}  // namespace emqxd::session
