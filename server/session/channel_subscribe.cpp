// SUBSCRIBE and UNSUBSCRIBE (sections 3.8-3.11), and retained messages on subscribe.
#include <algorithm>

#include "broker/broker.hpp"
#include "broker/retainer.hpp"
#include "broker/topic.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"
#include "session/exclusive.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

using mqtt::QoS;
using mqtt::ReasonCode;

ReasonCode Channel::validate_subscription(const mqtt::Subscription& sub, bool& is_shared,
                                          std::string_view& filter) const {
  const auto& cfg = hub_.config().mqtt;
  filter = sub.topic_filter;
  // "$exclusive/<filter>" (session/exclusive.hpp) is checked as its filter; off, or of a
  // shared subscription, it is no valid filter, as EMQX answers.
  const bool exclusive = filter.starts_with(kExclusivePrefix);
  if (exclusive) {
    if (!cfg.exclusive_subscription) return ReasonCode::TopicFilterInvalid;
    filter.remove_prefix(kExclusivePrefix.size());
  }
  auto shared = broker::parse_shared(filter);
  if (!shared || (exclusive && *shared)) return ReasonCode::TopicFilterInvalid;
  if (*shared) {
    if (!cfg.shared_subscription) return ReasonCode::SharedSubscriptionsNotSupported;
    is_shared = true;
    filter = (*shared)->filter;
  }
  if (!broker::validate_topic_filter(filter, cfg.max_topic_levels)) {
    return ReasonCode::TopicFilterInvalid;
  }
  if (!cfg.wildcard_subscription && broker::has_wildcard(filter)) {
    return ReasonCode::WildcardSubscriptionsNotSupported;
  }
  return static_cast<ReasonCode>(
      std::min<std::uint8_t>(static_cast<std::uint8_t>(sub.options.max_qos), cfg.max_qos_allowed));
}

ReasonCode Channel::check_subscription(const mqtt::Subscription& sub, bool& is_shared) {
  std::string_view filter;
  const ReasonCode granted = validate_subscription(sub, is_shared, filter);
  if (mqtt::is_error(granted)) return granted;
  // With the QoS asked; a shared subscription ("$share/g/t", "$queue/t") as its topic
  // filter "t", as EMQX does (emqx_topic:get_shared_real_topic), and "$exclusive/t" as "t".
  if (!authorized({auth::AclActionType::Subscribe, static_cast<int>(sub.options.max_qos), false},
                  filter)) {
    return ReasonCode::NotAuthorized;
  }
  return granted;
}

namespace {

// The claim made for `filter` (prepare_exclusive) as a SUBACK reason code: `granted`, or
// Quota exceeded when another client holds it (as EMQX), or Unspecified error when its
// home did not answer.
ReasonCode claimed(const std::vector<std::pair<std::string, ClaimAnswer>>& claims,
                   std::string_view filter, ReasonCode granted) {
  for (const auto& [f, answer] : claims) {
    if (f != filter) continue;
    if (answer == ClaimAnswer::Granted) return granted;
    return answer == ClaimAnswer::Taken ? ReasonCode::QuotaExceeded : ReasonCode::UnspecifiedError;
  }
  return ReasonCode::UnspecifiedError;
}

}  // namespace

bool Channel::prepare_exclusive(mqtt::Packet& packet) {
  auto* sub = std::get_if<mqtt::Subscribe>(&packet);
  if (sub == nullptr || !hub_.config().mqtt.exclusive_subscription) return false;
  std::vector<std::string> filters;
  for (const auto& one : sub->subscriptions) {
    if (!one.topic_filter.starts_with(kExclusivePrefix)) continue;
    bool shared = false;
    std::string_view filter;
    if (mqtt::is_error(validate_subscription(one, shared, filter))) continue;
    if (std::find(filters.begin(), filters.end(), filter) == filters.end()) {
      filters.emplace_back(filter);
    }
  }
  if (filters.empty()) return false;
  if (auto answers = hub_.claim_exclusive(*this, filters)) {
    for (std::size_t i = 0; i < filters.size(); ++i)
      exclusive_answers_.emplace_back(std::move(filters[i]), (*answers)[i]);
    return false;
  }
  exclusive_wait_ = std::make_unique<ExclusiveWait>(ExclusiveWait{std::move(packet), filters});
  return true;
}

void Channel::on_exclusive_answers(std::vector<ClaimAnswer> answers) {
  if (!exclusive_wait_) return;
  std::unique_ptr<ExclusiveWait> wait = std::move(exclusive_wait_);
  for (std::size_t i = 0; i < wait->filters.size(); ++i) {
    exclusive_answers_.emplace_back(std::move(wait->filters[i]),
                                    i < answers.size() ? answers[i] : ClaimAnswer::Failed);
  }
  if (state_ != State::Connected) {
    release_unused_claims();
    return;
  }
  admit(wait->packet);
  if (accepting_input()) host_.resume_input();
}

void Channel::release_unused_claims() {
  for (const auto& [filter, answer] : exclusive_answers_) {
    if (answer != ClaimAnswer::Granted) continue;
    if (session_ != nullptr) {
      auto it = session_->subscriptions.find(filter);
      if (it != session_->subscriptions.end() && it->second.opts.exclusive) continue;  // held
    }
    hub_.release_exclusive(client_id_, filter);
  }
  exclusive_answers_.clear();
}

void Channel::handle_subscribe(mqtt::Subscribe& s) {
  std::uint32_t sub_id = 0;
  if (is_v5() && !s.props.subscription_identifiers.empty()) {
    sub_id = s.props.subscription_identifiers.front();
  }
  mqtt::SubAck ack;
  ack.packet_id = s.packet_id;  // [MQTT-3.8.4-2]
  std::vector<const std::string*> send_retained_for;
  bool stored = false;  // the SUBACK waits until the subscriptions are stored

  // Every filter is checked (and authorized) before any is subscribed: a protocol error or
  // a denial with authorization.deny_action = disconnect ends the connection with none of
  // them taken, as EMQX does.
  std::vector<std::pair<ReasonCode, bool>> checked;  // reason code, shared
  checked.reserve(s.subscriptions.size());
  for (auto& sub : s.subscriptions) {
    bool shared = false;
    ReasonCode rc = check_subscription(sub, shared);
    if (shared && sub.options.no_local) {
      close_with(ReasonCode::ProtocolError, "No Local on a shared subscription");  // [MQTT-3.8.3-4]
      return;
    }
    if (rc == ReasonCode::NotAuthorized && hub_.authorization().disconnect_on_deny()) {
      disconnect_not_authorized("subscribe", sub.topic_filter);  // no SUBACK
      return;
    }
    checked.emplace_back(rc, shared);
  }

  for (std::size_t i = 0; i < s.subscriptions.size(); ++i) {
    auto& sub = s.subscriptions[i];
    auto [rc, shared] = checked[i];
    if (!mqtt::is_error(rc) && sub.topic_filter.starts_with(kExclusivePrefix)) [[unlikely]] {
      // Subscribed as its filter, holding the claim made before the packet; not
      // rewritten (the claim is the filter's as the client wrote it).
      rc = claimed(exclusive_answers_, exclusive_filter(sub.topic_filter), rc);
      sub.topic_filter.erase(0, kExclusivePrefix.size());
      sub.options.exclusive = true;
    } else if (!mqtt::is_error(rc) && rewrite_ != nullptr) [[unlikely]] {
      // Rewritten once authorized, as EMQX does; the new filter must be one too.
      rewrite_filter(sub.topic_filter);
      std::string_view plain;
      const ReasonCode again = validate_subscription(sub, shared, plain);
      if (mqtt::is_error(again)) rc = again;
    }
    if (!mqtt::is_error(rc)) {
      bool retained = false;
      rc = take_subscription(sub, static_cast<QoS>(rc), sub_id, shared, stored, retained);
      if (retained)
        send_retained_for.push_back(&session_->subscriptions.find(sub.topic_filter)->first);
    }
    if (!is_v5() && mqtt::is_error(rc)) rc = ReasonCode::UnspecifiedError;  // v3.1.1: 0x80
    ack.reason_codes.push_back(rc);
  }
  release_unused_claims();
  // [MQTT-3.8.4-1]: SUBACK before the retained messages. Packet id 0 is no client's
  // [MQTT-2.2.1-3]: auto_subscribe's, answered by nobody.
  if (s.packet_id != 0) respond(ack, stored);
  for (const auto* filter : send_retained_for) {
    if (state_ != State::Connected) break;  // force_shutdown: nothing after the DISCONNECT
    send_retained(*filter, session_->subscriptions.at(*filter));
  }
}

// Subscribes the session to `sub` (checked already), granted `granted`: QuotaExceeded past
// mqtt.max_subscriptions or the memory account, else the granted QoS. `stored`: a record
// went to the store batch; `retained`: the retained messages are due (Retain Handling).
ReasonCode Channel::take_subscription(const mqtt::Subscription& sub, QoS granted,
                                      std::uint32_t sub_id, bool shared, bool& stored,
                                      bool& retained) {
  const auto& cfg = hub_.config().mqtt;
  auto existing = session_->subscriptions.find(sub.topic_filter);
  const auto& fs = hub_.config().force_shutdown;
  if (existing == session_->subscriptions.end() &&
      ((cfg.max_subscriptions != 0 && session_->subscriptions.size() >= cfg.max_subscriptions) ||
       (fs.enable && memory() + subscription_charge(sub.topic_filter) >
                         static_cast<std::int64_t>(fs.max_heap_size)))) {
    // Past mqtt.max_subscriptions, or a subscription that would take the connection's
    // memory account past force_shutdown.max_heap_size: refused, the connection stays.
    return ReasonCode::QuotaExceeded;
  }
  broker::SubscriberRef ref{hub_.worker_id(), session_->id()};
  mqtt::SubscribeOptions opts = sub.options;
  opts.max_qos = granted;
  // [MQTT-3.8.4-3]: a repeated filter replaces the subscription.
  if (cfg.backpressure && !session_->pressure) {
    session_->enable_pressure(cfg.max_mqueue_len, cfg.backpressure_stall_timeout);
    session_->pressure->online.store(true, std::memory_order_relaxed);
  }
  const bool was_exclusive =
      existing != session_->subscriptions.end() && existing->second.opts.exclusive;
  bool is_new = hub_.broker().subscribe(sub.topic_filter, ref, opts, sub_id, session_->pressure,
                                        session_->store_uid);
  session_->subscribe(sub.topic_filter, SubscriptionState{opts, sub_id});
  if (auto* b = session_batch()) {
    b->put_subscription({session_->store_uid, sub.topic_filter, opts, sub_id});
    stored = true;
  }
  hub_.subscribed(*this, sub.topic_filter, opts);
  // A plain subscription replaced an exclusive one: the claim goes.
  if (was_exclusive && !opts.exclusive) hub_.release_exclusive(client_id_, sub.topic_filter);
  // Retained messages are not sent to shared subscriptions (section 4.8.2), and Retain
  // Handling decides for the others [MQTT-3.3.1-9..11].
  retained = !shared && (opts.retain_handling == 0 || (opts.retain_handling == 1 && is_new));
  return static_cast<ReasonCode>(granted);
}

ReasonCode Channel::admin_subscribe(const mqtt::Subscription& sub) {
  if (state_ != State::Connected || session_ == nullptr) return ReasonCode::UnspecifiedError;
  // The API cannot wait for a claim's answer from another node: "$exclusive/" is a
  // client's (docs/modules.md).
  if (sub.topic_filter.starts_with(kExclusivePrefix)) return ReasonCode::TopicFilterInvalid;
  bool shared = false;
  std::string_view filter;
  const ReasonCode granted = validate_subscription(sub, shared, filter);
  if (mqtt::is_error(granted)) return granted;
  if (shared && sub.options.no_local) return ReasonCode::ProtocolError;  // [MQTT-3.8.3-4]
  bool stored = false, retained = false;
  auto rc = take_subscription(sub, static_cast<QoS>(granted), 0, shared, stored, retained);
  if (retained) send_retained(sub.topic_filter, session_->subscriptions.at(sub.topic_filter));
  return rc;
}

bool Channel::admin_unsubscribe(const std::string& filter) {
  if (state_ != State::Connected || session_ == nullptr) return false;
  if (auto plain = exclusive_filter(filter); !plain.empty())
    return drop_subscription(std::string(plain));
  return drop_subscription(filter);
}

bool Channel::drop_subscription(const std::string& filter) {
  auto it = session_->subscriptions.find(filter);
  if (it == session_->subscriptions.end()) return false;
  const bool exclusive = it->second.opts.exclusive;
  session_->unsubscribe(filter);
  hub_.broker().unsubscribe(filter, broker::SubscriberRef{hub_.worker_id(), session_->id()});
  if (auto* b = session_batch()) b->erase_subscription(session_->store_uid, filter);
  hub_.unsubscribed(*this, filter);
  if (exclusive) hub_.release_exclusive(client_id_, filter);
  return true;
}

void Channel::send_retained(const std::string& filter, const SubscriptionState& sub) {
  std::vector<mqtt::MessagePtr> found;
  hub_.retainer().match(filter, hub_.now(), found);
  for (auto& msg : found) {
    if (state_ != State::Connected) return;  // force_shutdown (deliver): the rest is moot
    Delivery d;
    d.session = session_->id();
    d.qos = std::min(msg->qos, sub.opts.max_qos);
    d.retain = true;  // [MQTT-3.3.1-9]
    if (sub.subscription_id != 0) d.subscription_ids.push_back(sub.subscription_id);
    d.msg = std::move(msg);
    deliver(std::move(d));
  }
}

void Channel::handle_unsubscribe(mqtt::Unsubscribe& u) {
  const auto& cfg = hub_.config().mqtt;
  if (rewrite_ != nullptr) [[unlikely]] {
    for (auto& filter : u.topic_filters) {
      if (!filter.starts_with(kExclusivePrefix)) rewrite_filter(filter);  // as subscribed
    }
  }
  mqtt::UnsubAck ack;
  ack.packet_id = u.packet_id;  // [MQTT-3.10.4-4]
  bool stored = false;
  for (auto& filter : u.topic_filters) {
    ReasonCode rc = ReasonCode::Success;
    // "$exclusive/t" unsubscribes "t", as EMQX.
    if (filter.starts_with(kExclusivePrefix)) filter.erase(0, kExclusivePrefix.size());
    auto shared = broker::parse_shared(filter);
    std::string_view plain = filter;
    if (shared && *shared) plain = (*shared)->filter;
    if (!shared || !broker::validate_topic_filter(plain, cfg.max_topic_levels)) {
      rc = ReasonCode::TopicFilterInvalid;
    } else if (drop_subscription(filter)) {  // [MQTT-3.10.4-1]
      stored = stored || session_batch() != nullptr;
    } else {
      rc = ReasonCode::NoSubscriptionExisted;
    }
    ack.reason_codes.push_back(rc);
  }
  respond(ack, stored);  // [MQTT-3.10.4-5]
}

}  // namespace emqxd::session
