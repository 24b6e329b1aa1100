// Who the client is (its auth::Subject) and what it may publish and subscribe to: the
// channel's side of authorization (auth/authorization.hpp), with its cache and metrics.
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

bool Channel::authorized(const auth::AclAction& action, std::string_view topic) {
  const auto& az = hub_.authorization();
  auto& m = hub_.metrics();
  // Rules from the database sources older than cache.ttl: fetched again in the background;
  // these stay in use until the new ones arrive (auth/authorization.hpp).
  if (subject_.source_rules && az.stale(*subject_.source_rules, std::chrono::steady_clock::now())) {
    hub_.refresh_rules(*this);
  }
  if (!authz_cache_) authz_cache_ = az.make_cache();  // null while caching is off
  auto d = az.authorize(subject_, action, topic, authz_cache_.get(), hub_.now());
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
  return d.allow;
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
