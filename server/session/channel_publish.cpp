// PUBLISH in both directions and the QoS 1/2 handshakes (sections 3.3-3.7, 4.3).
#include <algorithm>

#include "broker/topic.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"
#include "session/delayed.hpp"
#include "session/routing.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

using mqtt::QoS;
using mqtt::ReasonCode;

namespace {

std::shared_ptr<const mqtt::MessageExtra> extra_of(const mqtt::Properties& p) {
  if (!p.payload_format_indicator && !p.content_type && !p.response_topic && !p.correlation_data &&
      p.user_properties.empty()) {
    return nullptr;
  }
  auto extra = std::make_shared<mqtt::MessageExtra>();
  extra->payload_format_indicator = p.payload_format_indicator;  // [MQTT-3.3.2-4]
  extra->content_type = p.content_type;                          // [MQTT-3.3.2-20]
  extra->response_topic = p.response_topic;
  extra->correlation_data = p.correlation_data;
  extra->user_properties = p.user_properties;  // [MQTT-3.3.2-17/18]
  return extra;
}

}  // namespace

void Channel::handle_publish(mqtt::Publish& p) {
  const auto& cfg = hub_.config().mqtt;
  auto& m = hub_.metrics();

  if (static_cast<std::uint8_t>(p.qos) > cfg.max_qos_allowed) {
    close_with(ReasonCode::QoSNotSupported, "QoS above Maximum QoS");  // [MQTT-3.2.2-11]
    return;
  }
  if (p.retain && !cfg.retain_available) {
    close_with(ReasonCode::RetainNotSupported, "retain not available");  // [MQTT-3.2.2-14]
    return;
  }

  if (is_v5() && !p.props.subscription_identifiers.empty()) {
    close_with(ReasonCode::ProtocolError, "Subscription Identifier in PUBLISH");  // [MQTT-3.3.4-6]
    return;
  }
  std::string_view topic = p.topic;
  if (is_v5() && p.props.topic_alias) {
    std::uint16_t alias = *p.props.topic_alias;
    if (alias == 0 || alias > cfg.max_topic_alias) {
      close_with(ReasonCode::TopicAliasInvalid, "topic alias out of range");  // [MQTT-3.3.2-8/9]
      return;
    }
    if (!topic.empty()) {
      auto [slot, fresh] = alias_in_.try_emplace(alias);
      alias_bytes_ += (fresh ? kAliasEntry : 0) + static_cast<std::int64_t>(topic.size()) -
                      static_cast<std::int64_t>(slot->second.size());
      slot->second.assign(topic);  // [MQTT-3.3.2-12] set or replace the mapping
      if (over_memory_cap()) {
        force_shutdown();  // 65,535 aliases of 64 KB topics would be 4 GB
        return;
      }
    } else if (auto known = alias_in_.find(alias); known != alias_in_.end()) {
      topic = known->second;
    } else {
      close_with(ReasonCode::ProtocolError, "unknown topic alias");
      return;
    }
  }
  if (!broker::validate_topic_name(topic, cfg.max_topic_levels)) {
    close_with(ReasonCode::TopicNameInvalid, "invalid topic name");  // [MQTT-3.3.2-2]
    return;
  }
  if (is_v5() && p.props.response_topic &&
      !broker::validate_topic_name(*p.props.response_topic, 0)) {
    close_with(ReasonCode::ProtocolError, "Response Topic with wildcards");  // [MQTT-3.3.2-14]
    return;
  }

  if (p.qos == QoS::ExactlyOnce) {
    if (session_->awaiting_rel.count(p.packet_id) != 0) {
      // A resent QoS 2 PUBLISH we already accepted: acknowledge again, do not deliver
      // twice [MQTT-4.3.3-10].
      respond(mqtt::PubRec{p.packet_id, ReasonCode::Success, {}}, false);
      return;
    }
    if (cfg.max_awaiting_rel != 0 && session_->awaiting_rel.size() >= cfg.max_awaiting_rel) {
      // Packet ids whose PUBREL never came within await_rel_timeout are forgotten first
      // (EMQX's await_rel_timeout), so a client that lost them is not locked out.
      auto cutoff = hub_.now() - cfg.await_rel_timeout;
      stats_.recv_dropped_await_pubrel += static_cast<std::uint32_t>(std::erase_if(
          session_->awaiting_rel, [&](const auto& kv) { return kv.second < cutoff; }));
    }
    if (cfg.max_awaiting_rel != 0 && session_->awaiting_rel.size() >= cfg.max_awaiting_rel) {
      close_with(ReasonCode::ReceiveMaximumExceeded, "too many QoS 2 messages awaiting PUBREL");
      return;
    }
  }

  metrics::inc(m.messages_received);
  ++stats_.recv_msg;
  switch (p.qos) {
    case QoS::AtMostOnce:
      metrics::inc(m.messages_qos0_received);
      break;
    case QoS::AtLeastOnce:
      metrics::inc(m.messages_qos1_received);
      ++stats_.recv_qos1;
      break;
    case QoS::ExactlyOnce:
      metrics::inc(m.messages_qos2_received);
      ++stats_.recv_qos2;
      break;
  }

  ReasonCode rc = ReasonCode::Success;
  bool stored = false;
  std::shared_ptr<mqtt::Message> msg;
  const bool allowed = may_publish(topic, p.qos, p.retain);
  if (!allowed && !topic.starts_with("$SYS/") && hub_.authorization().disconnect_on_deny()) {
    metrics::inc(m.messages_dropped);
    ++stats_.recv_dropped;
    disconnect_not_authorized("publish", topic);  // authorization.deny_action = disconnect
    return;
  }
  std::string rewritten;
  if (allowed && rewrite_ != nullptr) [[unlikely]]
    topic = rewrite_publish(topic, rewritten);  // after authorization, as EMQX
  if (allowed && topic.starts_with(Delayed::kPrefix) && hub_.delayed_enabled()) [[unlikely]] {
    rc = delay_publish(p, topic, stored);
  } else if (allowed) {
    msg = message_of(p, topic);
    if (p.retain) msg->received_at_ms = mqtt::wall_ms_now();  // see Retainer::retain
    auto r = hub_.publish(msg, {client_id_, this});
    stored = r.stored;
    if (r.refused) {
      metrics::inc(m.messages_dropped);
      ++stats_.recv_dropped;
      rc = ReasonCode::QuotaExceeded;  // the store is full: not routed
    } else if (r.matched == 0) {
      metrics::inc(m.messages_dropped_no_subscribers);
      rc = ReasonCode::NoMatchingSubscribers;
    }
    if (r.congested) {
      // A live subscriber is falling behind (mqtt.backpressure): this message is
      // accepted and acknowledged, the next ones wait in the socket until it catches up.
      held_ = true;
      hub_.hold(*this, std::move(r.congested));
    }
  } else {
    metrics::inc(m.messages_dropped);
    ++stats_.recv_dropped;
    rc = ReasonCode::NotAuthorized;
  }

  if (rc == ReasonCode::QuotaExceeded && !is_v5()) {
    close_with(rc, "storage full");  // MQTT 3.1.1 cannot refuse one message
    return;
  }
  switch (p.qos) {
    case QoS::AtMostOnce:
      break;
    case QoS::AtLeastOnce:
      respond(mqtt::PubAck{p.packet_id, rc, {}}, stored, msg.get());  // [MQTT-4.3.2-2]
      break;
    case QoS::ExactlyOnce:
      if (!mqtt::is_error(rc) || !is_v5()) {
        auto now = hub_.now();
        session_->awaiting_rel.emplace(p.packet_id, now);
        if (auto* b = session_batch()) {
          // Exactly once across a crash: the packet id is stored with the deliveries.
          b->put_awaiting_rel({session_->store_uid, p.packet_id, b->clocks().wall_ms});
          stored = true;
        }
      }
      respond(mqtt::PubRec{p.packet_id, rc, {}}, stored, msg.get());  // [MQTT-4.3.3-8]
      break;
  }
}

std::shared_ptr<mqtt::Message> Channel::message_of(const mqtt::Publish& p,
                                                   std::string_view topic) const {
  auto msg = std::make_shared<mqtt::Message>();
  msg->topic.assign(topic);
  msg->payload.assign(p.payload);
  msg->qos = p.qos;
  msg->retain = p.retain;
  msg->received_at = hub_.now();
  msg->publisher = session_->id();
  msg->origin = hub_.origin(client_id_, username_);
  if (is_v5()) {
    msg->message_expiry_interval = p.props.message_expiry_interval;
    msg->extra = extra_of(p.props);
  }
  return msg;
}

void Channel::handle_pubrel(const mqtt::PubRel& r) {
  bool known = session_->awaiting_rel.erase(r.packet_id) != 0;
  bool stored = false;
  if (known) {
    if (auto* b = session_batch()) {
      b->erase_awaiting_rel(session_->store_uid, r.packet_id);
      stored = true;
    }
  }
  // [MQTT-4.3.3-11]: PUBCOMP even for an unknown id (a resent PUBREL after our PUBCOMP).
  // It waits until the id is erased in storage: the client may reuse the id as soon as
  // it has the PUBCOMP [MQTT-4.3.3-12], and an id still stored would come back after a
  // crash and swallow that new message as a resend.
  respond(
      mqtt::PubComp{
          r.packet_id, known ? ReasonCode::Success : ReasonCode::PacketIdentifierNotFound, {}},
      stored);
}

void Channel::handle_puback(const mqtt::PubAck& a) {
  auto* f = session_->find_inflight(a.packet_id);
  if (f == nullptr || f->state != OutState::WaitPubAck) return;  // late or unknown: ignore
  settle_owed(*f);
  if (auto* slow = hub_.slow_subs()) [[unlikely]]
    completed(*slow, *f);
  acked(f->d);
  forget_delivery(f->d, OutState::WaitPubAck);
  session_->erase_inflight(a.packet_id);
  metrics::inc(hub_.metrics().messages_acked);
  pump_queue();
}

void Channel::acked(const Delivery& d) {
  if (d.msg && hub_.listens(rules::Event::MessageAcked)) [[unlikely]]
    hub_.delivery_event(rules::Event::MessageAcked,
                        {*d.msg, d.qos, d.retain, client_id_, this, {}});
}

void Channel::handle_pubrec(const mqtt::PubRec& r) {
  auto* f = session_->find_inflight(r.packet_id);
  if (f == nullptr) {
    send(mqtt::PubRel{r.packet_id, ReasonCode::PacketIdentifierNotFound, {}});
    return;
  }
  if (f->state == OutState::WaitPubAck) {
    close_with(ReasonCode::ProtocolError, "PUBREC for a QoS 1 message");
    return;
  }
  settle_owed(*f);
  if (mqtt::is_error(r.reason)) {  // the flow ends here [MQTT-4.3.3-4]
    forget_delivery(f->d, f->state);
    session_->erase_inflight(r.packet_id);
    pump_queue();
    return;
  }
  // Slow subscriptions count a QoS 2 delivery complete here, when the client has it: the
  // message is let go just below (EMQX waits for the PUBCOMP, one round trip later).
  if (auto* slow = hub_.slow_subs()) [[unlikely]]
    completed(*slow, *f);
  acked(f->d);  // EMQX's message.acked comes with PUBREC, when the message is let go
  f->state = OutState::WaitPubComp;  // [MQTT-4.3.3-4]: the message may be discarded now
  session_->inflight.release_message(*f);
  bool stored = false;
  if (f->d.store_seq != 0) {
    if (auto* b = session_batch()) {
      b->update_delivery_state(session_->store_uid, f->d.store_seq, r.packet_id,
                               OutState::WaitPubComp);
      stored = true;
    }
  }
  // The PUBREL waits until WaitPubComp is stored: once the client answers it with PUBCOMP
  // the id is free on its side [MQTT-4.3.3-12], and a crash that brought back the older
  // WaitPubRec state would resend the PUBLISH, which the client must take as new.
  respond(mqtt::PubRel{r.packet_id, ReasonCode::Success, {}}, stored);
}

void Channel::handle_pubcomp(const mqtt::PubComp& c) {
  auto* f = session_->find_inflight(c.packet_id);
  if (f == nullptr || f->state != OutState::WaitPubComp) return;
  settle_owed(*f);
  forget_delivery(f->d, OutState::WaitPubComp);
  session_->erase_inflight(c.packet_id);
  metrics::inc(hub_.metrics().messages_acked);
  pump_queue();
}

std::size_t Channel::send_window() const {
  std::size_t max_inflight = hub_.config().mqtt.max_inflight;
  if (max_inflight == 0) max_inflight = 65535;
  return std::min<std::size_t>(client_receive_maximum_, max_inflight);  // [MQTT-3.3.4-9]
}

bool Channel::over_memory_cap() const {
  const auto& fs = hub_.config().force_shutdown;
  return fs.enable && memory() > static_cast<std::int64_t>(fs.max_heap_size);
}

void Channel::deliver(Delivery&& d) {
  auto& m = hub_.metrics();
  if (d.msg->expired(hub_.now())) {
    metrics::inc(m.messages_dropped_expired);  // [MQTT-3.3.2-5]
    ++stats_.send_dropped_expired;
    count_dropped(hub_, d.msg, session_, "expired");
    forget_delivery(d, OutState::Queued);
    return;
  }
  if (d.qos == QoS::AtMostOnce && session_->queue.empty() && owed_resends_ == 0 && !asleep_) {
    if (host_.backlog() > kMaxBacklog) {
      metrics::inc(m.messages_dropped_queue_full);
      metrics::inc(m.messages_dropped);
      ++stats_.send_dropped_queue_full;
      count_dropped(hub_, d.msg, session_, "queue_full");
      if (session_->pressure) session_->pressure->note_qos0_drop(hub_.now());
      return;
    }
    write_publish(d, 0, false);
    return;
  }
  // Anything else waits behind what is already queued, QoS 0 included, so each topic
  // keeps its order [MQTT-4.6.0-5/6].
  if (d.qos != QoS::AtMostOnce && session_->queue.empty() && owed_resends_ == 0 && !asleep_ &&
      session_->inflight.size() < send_window()) {
    send_inflight(std::move(d));
  } else {
    SessionLimits limits{hub_.config().mqtt.max_mqueue_len, hub_.config().mqtt.mqueue_store_qos0};
    mqtt::MessagePtr dropped;
    if (session_->enqueue(std::move(d), limits, true, session_batch(), &dropped) ==
        EnqueueResult::DroppedOldest) {
      metrics::inc(m.messages_dropped_queue_full);
      metrics::inc(m.messages_dropped);
      ++stats_.send_dropped_queue_full;
      count_dropped(hub_, dropped, session_, "queue_full");
    }
  }
  if (over_memory_cap()) force_shutdown();
}

void Channel::release() {
  if (!held_) return;
  held_ = false;
  host_.resume_input();
}

void Channel::send_inflight(Delivery&& d) {
  std::uint16_t id = session_->next_packet_id();
  // The packet id is stored with the delivery, so that a restart resends it under the same
  // id [MQTT-4.4.0-1]. A QoS 2 PUBLISH leaves only once that is stored: otherwise a crash
  // could bring it back under a new id, and the client, which may already have passed it
  // on, would take it for a new message. A QoS 1 PUBLISH goes at once: in that window a
  // crash makes at worst a duplicate, which QoS 1 allows.
  const OutState st = d.qos == QoS::AtLeastOnce ? OutState::WaitPubAck : OutState::WaitPubRec;
  const bool stored = d.store_seq != 0 && session_batch() != nullptr;
  if (stored) session_batch()->update_delivery_state(session_->store_uid, d.store_seq, id, st);
  std::uint64_t ticket =
      stored && d.qos == QoS::ExactlyOnce ? hub_.await_commit(*this, nullptr) : 0;
  if (!write_publish(d, id, false, ticket)) {
    forget_delivery(d, stored ? st : OutState::Queued);  // too large: it ends here
    return;
  }
  if (session_->pressure) session_->pressure->note_progress(hub_.now());  // alive, not stalled
  const auto now = hub_.now();
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(now - d.msg->received_at).count();
  session_->inflight.push_back(
      Inflight{std::move(d), id, st, false,
               static_cast<std::uint32_t>(std::clamp<std::int64_t>(waited, 0, UINT32_MAX)), now});
  if (!is_v5() && hub_.config().mqtt.retry_interval.count() > 0) hub_.watch_retry(*this);
}

bool Channel::write_publish(const Delivery& d, std::uint16_t packet_id, bool dup,
                            std::uint64_t ticket) {
  const mqtt::Message& msg = *d.msg;
  mqtt::PublishDelivery pd;
  pd.qos = d.qos;
  pd.retain = d.retain;
  pd.dup = dup;
  pd.packet_id = packet_id;
  bool new_alias = false;
  if (is_v5()) {
    pd.message_expiry_interval = msg.remaining_expiry(hub_.now());  // [MQTT-3.3.2-6]
    pd.subscription_identifiers = d.subscription_ids;
    if (client_topic_alias_max_ > 0) {
      auto it = alias_out_.find(msg.topic);
      if (it != alias_out_.end()) {
        pd.topic_alias = it->second;
        pd.omit_topic = true;
      } else if (alias_out_.size() < client_topic_alias_max_) {  // [MQTT-3.3.2-10]
        pd.topic_alias = static_cast<std::uint16_t>(alias_out_.size() + 1);
        alias_out_.emplace(msg.topic, pd.topic_alias);
        alias_bytes_ += kAliasEntry + static_cast<std::int64_t>(msg.topic.size());
        new_alias = true;
      }
    }
  }
  const bool held = ticket != 0 || !held_out_.empty();
  std::string held_bytes;
  auto& out = held ? held_bytes : host_.output();
  std::size_t before = out.size();
  std::size_t n = mqtt::encode_publish(msg, pd, version_, out);
  if (client_max_packet_size_ != 0 && n > client_max_packet_size_) {
    // Too big for this client: drop it for this client alone [MQTT-3.1.2-25].
    out.resize(before);
    if (new_alias) {
      alias_out_.erase(msg.topic);
      alias_bytes_ -= kAliasEntry + static_cast<std::int64_t>(msg.topic.size());
    }
    metrics::inc(hub_.metrics().messages_dropped_too_large);
    metrics::inc(hub_.metrics().messages_dropped);
    ++stats_.send_dropped_too_large;
    count_dropped(hub_, d.msg, session_, "too_large");
    return false;
  }
  if (held) held_out_.push_back({ticket, std::move(held_bytes)});
  if (tracing()) [[unlikely]]
    trace_publish_out(msg, pd);
  auto& m = hub_.metrics();
  metrics::inc(m.packets_sent);
  metrics::inc(m.messages_sent);
  ++stats_.send_pkt;
  ++stats_.send_msg;
  if (pd.qos == QoS::AtLeastOnce) ++stats_.send_qos1;
  if (pd.qos == QoS::ExactlyOnce) ++stats_.send_qos2;
  if (!dup) {
    if (auto* tc = hub_.topic_counters(msg.topic)) [[unlikely]]
      tc->out(pd.qos);
    if (hub_.listens(rules::Event::MessageDelivered)) [[unlikely]]
      hub_.delivery_event(rules::Event::MessageDelivered,
                          {msg, pd.qos, pd.retain, client_id_, this, {}});
    if (packet_id == 0 && !d.retain) {
      if (auto* slow = hub_.slow_subs()) [[unlikely]]
        slow->completed(hub_.worker_id(), client_id_, msg.topic, age(msg),
                        std::chrono::milliseconds(0), mqtt::wall_ms_now());
    }
  }
  return true;
}

std::chrono::milliseconds Channel::age(const mqtt::Message& msg) const {
  return std::max(
      std::chrono::milliseconds(0),
      std::chrono::duration_cast<std::chrono::milliseconds>(hub_.now() - msg.received_at));
}

void Channel::completed(SlowSubs& slow, const Inflight& f) {
  // Retained messages sent on subscribe carry RETAIN (d.retain): not the subscriber's delay.
  if (f.d.retain || !f.d.msg) return;
  const auto response =
      std::max(std::chrono::milliseconds(0),
               std::chrono::duration_cast<std::chrono::milliseconds>(hub_.now() - f.sent_at));
  slow.completed(hub_.worker_id(), client_id_, f.d.msg->topic,
                 std::chrono::milliseconds(f.waited_ms), response, mqtt::wall_ms_now());
}

void Channel::settle_owed(Inflight& f) {
  if (f.awaiting_resend) {
    f.awaiting_resend = false;
    --owed_resends_;
  }
}

void Channel::wake() {
  if (!asleep_) return;
  asleep_ = false;
  if (session_ != nullptr) pump_queue();
}

void Channel::pump_queue() {
  if (asleep_) return;
  std::size_t active = session_->inflight.size() - owed_resends_;
  const std::size_t window = send_window();
  // First what a resumed session still owes the client, in the original order.
  if (owed_resends_ > 0) {
    for (std::size_t i = 0; i < session_->inflight.size() && active < window;) {
      auto& f = session_->inflight[i];
      if (!f.awaiting_resend) {
        ++i;
        continue;
      }
      settle_owed(f);
      if (!resend(f)) {
        forget_delivery(f.d, f.state);
        session_->inflight.erase_at(i);
        continue;
      }
      ++active;
      ++i;
    }
    if (owed_resends_ > 0) return;  // still owed: the queue waits
  }
  auto& q = session_->queue;
  auto now = hub_.now();
  while (!q.empty()) {
    if (q.front().qos != QoS::AtMostOnce && active >= window) break;
    Delivery d = std::move(q.front());
    q.pop_front();
    if (d.msg->expired(now)) {
      metrics::inc(hub_.metrics().messages_dropped_expired);
      ++stats_.send_dropped_expired;
      count_dropped(hub_, d.msg, session_, "expired");
      forget_delivery(d, OutState::Queued);
      continue;
    }
    if (d.qos == QoS::AtMostOnce) {
      write_publish(d, 0, false);
    } else {
      std::size_t before = session_->inflight.size();
      send_inflight(std::move(d));
      active += session_->inflight.size() - before;
    }
  }
}

// Resends one inflight message as the spec asks on a resumed session; false when it can
// no longer be sent (too large for this connection), which ends its flow: the spec says
// to behave as if it had been sent [MQTT-3.1.2-25].
bool Channel::resend(Inflight& f) {
  f.sent_at = hub_.now();
  if (f.state == OutState::WaitPubComp) {
    send(mqtt::PubRel{f.packet_id, ReasonCode::Success, {}});
    return true;
  }
  return write_publish(f.d, f.packet_id, true);
}

bool Channel::retry(mqtt::Message::Clock::time_point now) {
  if (state_ != State::Connected || session_ == nullptr || is_v5()) return false;
  const auto interval = hub_.config().mqtt.retry_interval;
  session_->inflight.for_each([&](Inflight& f) {
    if (f.awaiting_resend || now - f.sent_at < interval) return;
    f.sent_at = now;
    resend(f);
  });
  return !session_->inflight.empty();
}

void Channel::resend_inflight() {
  // [MQTT-4.4.0-1]: on a resumed session, resend unacknowledged PUBLISH (DUP set,
  // [MQTT-3.3.1-1]) and PUBREL packets in their original order, within the new
  // connection's Receive Maximum; pump_queue() sends them all.
  session_->inflight.for_each([](Inflight& f) { f.awaiting_resend = true; });
  owed_resends_ = session_->inflight.size();
}

}  // namespace emqxd::session
