// EMQX's modules on the channel's path: topic rewrite (session/rewrite.hpp), delayed
// publish (session/delayed.hpp) and auto subscribe (auto_subscribe.topics). Each costs
// the channel one branch when it is not configured.
#include "broker/topic.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"
#include "session/delayed.hpp"
#include "session/rewrite.hpp"

namespace emqxd::session {

using mqtt::ReasonCode;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("channel");
  return l;
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) {
    s.replace(at, what.size(), with);
  }
}

}  // namespace

std::string_view Channel::rewrite_publish(std::string_view topic, std::string& storage) const {
  if (!rewrite_->rewrites_publish()) return topic;
  auto to = rewrite_->publish(topic, client_id_, username_);
  if (!to) return topic;
  if (!broker::validate_topic_name(*to, hub_.config().mqtt.max_topic_levels)) {
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->warn(
          "client_id={} topic {} rewritten to {}, not a topic name: kept as it is "
          "({} similar lines suppressed)",
          client_id_, topic, *to, held);
    }
    return topic;
  }
  storage = std::move(*to);
  return storage;
}

void Channel::rewrite_filter(std::string& filter) const {
  if (!rewrite_->rewrites_subscribe()) return;
  if (auto to = rewrite_->subscribe(filter, client_id_, username_)) filter = std::move(*to);
}

ReasonCode Channel::delay_publish(const mqtt::Publish& p, std::string_view topic, bool& stored) {
  auto& m = hub_.metrics();
  const std::int64_t now_ms = mqtt::wall_ms_now();
  DelayedMessage d;
  std::string_view real;
  static thread_local log::Throttle throttle;
  std::uint64_t held = 0;
  if (!Delayed::parse(topic, now_ms, d.at_ms, d.interval, real) ||
      !broker::validate_topic_name(real, hub_.config().mqtt.max_topic_levels)) {
    // EMQX drops it: the publisher is told no more than for a message nobody receives.
    metrics::inc(m.messages_dropped);
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->warn(
          "client_id={} delayed publish to {} dropped: expected $delayed/<seconds up to {} or a "
          "Unix time at most that far>/<topic> ({} similar lines suppressed)",
          client_id_, topic, Delayed::kMaxInterval, held);
    }
    return ReasonCode::NoMatchingSubscribers;
  }
  auto msg = message_of(p, real);
  msg->received_at_ms = now_ms;
  d.id = Delayed::new_id();
  d.from_clientid = client_id_;
  d.from_username = username_;
  d.msg = std::move(msg);
  if (!hub_.delay(std::move(d), stored)) {
    metrics::inc(m.messages_dropped);
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->error(
          "client_id={} delayed publish to {} dropped: delayed.max_delayed_messages ({}) "
          "reached ({} similar lines suppressed)",
          client_id_, topic, hub_.config().delayed.max_delayed_messages, held);
    }
  }
  // As EMQX: the message is not published now, so nobody matched it.
  return ReasonCode::NoMatchingSubscribers;
}

void Channel::auto_subscribe() {
  mqtt::Subscribe s;
  s.packet_id = 0;  // no client's (handle_subscribe sends no SUBACK for it)
  const std::string& peer = host_.peer();
  const auto colon = peer.rfind(':');
  const std::string host = peer_host();
  const std::string port = colon == std::string::npos ? std::string() : peer.substr(colon + 1);
  for (const auto& t : hub_.config().auto_subscribe) {
    std::string topic = t.topic;
    if (topic.find("${username}") != std::string::npos && !username_) {
      logger()->warn("client_id={} auto subscribe to {} ignored: no username", client_id_, t.topic);
      continue;
    }
    replace_all(topic, "${clientid}", client_id_);
    if (username_) replace_all(topic, "${username}", *username_);
    replace_all(topic, "${host}", host);
    replace_all(topic, "${port}", port);
    if (topic.empty()) continue;
    mqtt::Subscription sub;
    sub.topic_filter = std::move(topic);
    sub.options.max_qos = static_cast<mqtt::QoS>(t.qos);
    sub.options.retain_handling = t.rh;
    sub.options.retain_as_published = t.rap;
    sub.options.no_local = t.nl;
    s.subscriptions.push_back(std::move(sub));
  }
  if (s.subscriptions.empty()) return;
  // The same path as a client's SUBSCRIBE: authorization (remote sources asked off the
  // worker, the client's packets waiting meanwhile), rewrite, retained messages.
  mqtt::Packet packet = std::move(s);
  if (prepare_exclusive(packet)) return;
  admit(packet);
}

}  // namespace emqxd::session
