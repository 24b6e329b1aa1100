// Who the client is (its auth::Subject) and what it may publish and subscribe to: the
// channel's side of authorization (auth/authorization.hpp), with its cache and metrics.
#include <algorithm>

#include "broker/topic.hpp"
#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"

namespace emqxd::session {

using mqtt::ReasonCode;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("channel");
  return l;
}

// "10.0.0.1:5000", "::1:5000", "::ffff:10.0.0.1:5000" (net::Connection's peer()) -> the
// address; nullopt for anything else ("unknown").
std::optional<auth::IpAddress> peer_address(std::string_view peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = peer.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return auth::IpAddress::parse(host);
}

}  // namespace

void Channel::set_subject() {
  subject_.client_id = client_id_;
  subject_.username = username_;
  subject_.peer = peer_address(host_.peer());
  subject_.cert_common_name = host_.peer_cert_common_name();
}

bool Channel::may_publish(std::string_view topic, mqtt::QoS qos, bool retain) {
  if (topic.starts_with("$SYS/")) return false;  // the broker's own namespace
  return authorized({auth::AclActionType::Publish, static_cast<int>(qos), retain}, topic);
}

void count_authz_decision(metrics::Metrics& m, const auth::AuthzDecision& d) {
  switch (d.via) {
    case auth::AuthzVia::Superuser:
      metrics::inc(m.authorization_superuser);
      break;
    case auth::AuthzVia::Matched:
      metrics::inc(d.allow ? m.authorization_matched_allow : m.authorization_matched_deny);
      break;
    case auth::AuthzVia::NoMatch:
      metrics::inc(m.authorization_nomatch);
      break;
    case auth::AuthzVia::Cache:
      metrics::inc(m.authorization_cache_hit);
      break;
  }
  if (d.cache_miss) metrics::inc(m.authorization_cache_miss);
  metrics::inc(d.allow ? m.authorization_allow : m.authorization_deny);
}

bool Channel::authorized(const auth::AclAction& action, std::string_view topic) {
  const auto& az = hub_.authorization();
  refresh_stale_rules();
  if (!authz_cache_) authz_cache_ = az.make_cache();  // null while caching is off
  auth::AuthzDecision d;
  auto answer = std::find_if(authz_answers_.begin(), authz_answers_.end(), [&](const auto& a) {
    return a.action.type == action.type && a.action.qos == action.qos &&
           a.action.retain == action.retain && a.topic == topic;
  });
  if (answer != authz_answers_.end()) {
    d = answer->decision;
    if (answer->cache_answer && authz_cache_) {
      d.cache_miss = true;
      authz_cache_->put(action, topic, d.allow, hub_.now());
      answer->cache_answer = false;  // a repeated filter finds it in the cache's place
    }
  } else {
    // No remote source, or nothing asked before the packet (unreachable with one: then
    // this may block the worker for a remote source's request_timeout).
    d = az.authorize(subject_, action, topic, authz_cache_.get(), hub_.now());
  }
  count_decision(action, topic, d);
  return d.allow;
}

void Channel::count_decision(const auth::AclAction& action, std::string_view topic,
                             const auth::AuthzDecision& d) {
  count_authz_decision(hub_.metrics(), d);
  if (hub_.listens(rules::Event::ClientCheckAuthzComplete)) [[unlikely]] {
    hub_.channel_event(rules::Event::ClientCheckAuthzComplete, *this,
                       {mqtt::ReasonCode::Success, &action, topic, &d});
  }
  if (tracing()) [[unlikely]] {
    trace_event(d.allow ? "authorization_permission_allowed" : "authorization_permission_denied",
                {{"action", action.type == auth::AclActionType::Publish ? "publish" : "subscribe"},
                 {"topic", std::string(topic)}});
  }
  if (!d.allow) {
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->info(
          "client_id={} username={} peer={} {} to {} not authorized ({} similar lines "
          "suppressed)",
          client_id_, username_.value_or(""), host_.peer(),
          action.type == auth::AclActionType::Publish ? "publish" : "subscribe", topic, held);
    }
  }
}

// ------------------------------------------------------------ waiting for a remote source
//
// A remote source (auth/authz_http.hpp) may take its request_timeout to answer, and the
// worker serves thousands of other clients, so the channel decides before it handles a
// PUBLISH or SUBSCRIBE: everything it can decide here (the cache, superuser, the sources
// before the remote one) is decided now; the rest goes to Hub::authorize_remote, and the
// packet waits with its own copy of its bytes. accepting_input() is false meanwhile, so
// the connection keeps the client's later packets unread (as for back-pressure) and the
// order of its packets holds. When the answers come, the packet is handled with them
// (authorized() takes each decision from authz_answers_ instead of asking again), the
// cache gets them, and reading resumes. Other clients on the worker never wait.

void Channel::refresh_stale_rules() {
  // Rules from the database sources older than cache.ttl: fetched again in the background;
  // these stay in use until the new ones arrive (auth/authorization.hpp).
  const auto& az = hub_.authorization();
  if (subject_.source_rules && az.stale(*subject_.source_rules, std::chrono::steady_clock::now())) {
    hub_.refresh_rules(*this);
  }
}

bool Channel::prepare_authz(mqtt::Packet& packet) {
  const auto& az = hub_.authorization();
  refresh_stale_rules();
  std::vector<AuthzAnswer> answers;
  auto ask = [&](const auth::AclAction& action, std::string_view topic) {
    if (!authz_cache_) authz_cache_ = az.make_cache();
    auto l = az.authorize_local(subject_, action, topic, authz_cache_.get(), hub_.now());
    AuthzAnswer a;
    a.action = action;
    a.topic.assign(topic);
    if (l.decided) {
      a.decision = *l.decided;
    } else {
      a.remote = true;
      a.cache_answer = l.cache_answer;
      a.from = l.remote_from;
    }
    answers.push_back(std::move(a));
  };
  if (auto* p = std::get_if<mqtt::Publish>(&packet)) {
    std::string_view topic = p->topic;
    if (topic.empty() && is_v5() && p->props.topic_alias) {
      auto known = alias_in_.find(*p->props.topic_alias);
      if (known == alias_in_.end()) return false;  // handle_publish closes the connection
      topic = known->second;
    }
    if (topic.empty() || topic.starts_with("$SYS/")) return false;  // decided without sources
    ask({auth::AclActionType::Publish, static_cast<int>(p->qos), p->retain}, topic);
  } else if (auto* sub = std::get_if<mqtt::Subscribe>(&packet)) {
    for (const auto& one : sub->subscriptions) {
      auto shared = broker::parse_shared(one.topic_filter);
      if (!shared) continue;  // refused before authorization
      std::string_view filter = *shared ? std::string_view((*shared)->filter) : one.topic_filter;
      ask({auth::AclActionType::Subscribe, static_cast<int>(one.options.max_qos), false}, filter);
    }
  } else {
    return false;
  }
  std::vector<AuthzQuery> queries;
  for (const auto& a : answers) {
    if (a.remote) queries.push_back({a.action, a.topic, a.from});
  }
  if (queries.empty()) {
    authz_answers_ = std::move(answers);  // the packet is handled now, with these
    return false;
  }
  auto wait = std::make_unique<AuthzWait>();
  if (auto* p = std::get_if<mqtt::Publish>(&packet)) {
    wait->topic.assign(p->topic);
    wait->payload.assign(p->payload);
    mqtt::Publish copy = std::move(*p);
    copy.topic = wait->topic;
    copy.payload = wait->payload;
    wait->packet = std::move(copy);
  } else {
    wait->packet = std::move(packet);
  }
  wait->answers = std::move(answers);
  authz_wait_bytes_ =
      static_cast<std::int64_t>(wait->topic.size() + wait->payload.size() + sizeof(AuthzWait));
  authz_wait_ = std::move(wait);
  hub_.authorize_remote(*this, std::move(queries));
  return true;
}

void Channel::on_authz_answers(std::vector<auth::AuthzDecision> answers) {
  if (!authz_wait_) return;
  std::unique_ptr<AuthzWait> wait = std::move(authz_wait_);
  authz_wait_bytes_ = 0;
  if (state_ != State::Connected) return;  // closing: the packet is dropped with it
  std::size_t next = 0;
  for (auto& a : wait->answers) {
    if (!a.remote) continue;
    // The hub answers every query; were one missing, it would be no source's decision.
    a.decision = next < answers.size() ? answers[next] : auth::AuthzDecision{};
    ++next;
  }
  authz_answers_ = std::move(wait->answers);
  dispatch(wait->packet);
  authz_answers_.clear();
  if (accepting_input()) host_.resume_input();
}

std::optional<AuthzQuery> Channel::authorize_will(const mqtt::Message& will, bool& allowed) {
  if (will.topic.starts_with("$SYS/")) {
    allowed = false;
    return std::nullopt;
  }
  const auth::AclAction action{auth::AclActionType::Publish, static_cast<int>(will.qos),
                               will.retain};
  const auto& az = hub_.authorization();
  if (!az.has_remote()) {
    allowed = authorized(action, will.topic);
    return std::nullopt;
  }
  if (!authz_cache_) authz_cache_ = az.make_cache();
  auto l = az.authorize_local(subject_, action, will.topic, authz_cache_.get(), hub_.now());
  if (l.decided) {
    count_decision(action, will.topic, *l.decided);
    allowed = l.decided->allow;
    return std::nullopt;
  }
  return AuthzQuery{action, will.topic, l.remote_from};
}

void Channel::on_rules_refreshed(std::shared_ptr<const auth::SourceRules> rules) {
  if (state_ != State::Connected || !rules) return;
  subject_.source_rules = std::move(rules);
  authz_cache_.reset();  // its decisions came from the old rules
}

void Channel::disconnect_not_authorized(std::string_view what, std::string_view topic) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  logger()->debug("client_id={} peer={} {} to {} not authorized: disconnected (deny_action)",
                  client_id_, host_.peer(), what, topic);
  disconnect_reason_ = "not_authorized";
  if (is_v5() && state_ == State::Connected) {
    send_now(mqtt::Disconnect{ReasonCode::NotAuthorized, {}});
  }
  state_ = State::Closing;
  host_.close();
}

}  // namespace emqxd::session
