// The rule engine on a worker (rules/engine.hpp): the columns of a message.publish event,
// and the actions' work, which never blocks the worker: a republished message is published
// in a later turn of this worker, a console entry goes to the console's thread.
#include <spdlog/spdlog.h>

#include <boost/json/serialize.hpp>
#include <charconv>
#include <cstdio>

#include "broker/topic.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "mqtt/codec.hpp"
#include "rules/eval.hpp"
#include "session/channel.hpp"
#include "session/node_state.hpp"
#include "session/worker_core.hpp"

namespace emqxd::session {

namespace json = boost::json;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("rules");
  return l;
}

// A chain of rules republishing each other's messages ends here: EMQX stops only a rule
// republishing its own output, so that two rules feeding each other loop for ever there.
constexpr std::uint8_t kMaxRuleDepth = 8;
// Republished messages waiting for the worker's next turn: at most this many, and this
// many payload bytes (past either, the republish fails and is counted).
constexpr std::size_t kMaxRepublished = 65536;
constexpr std::size_t kMaxRepublishedBytes = 64u << 20;

// EMQX's pub_props column: the message's MQTT 5 properties under their names.
json::object pub_props(const mqtt::Message& m) {
  json::object p;
  if (m.message_expiry_interval) p["Message-Expiry-Interval"] = *m.message_expiry_interval;
  const mqtt::MessageExtra* x = m.extra.get();
  if (x == nullptr) return p;
  if (x->payload_format_indicator) p["Payload-Format-Indicator"] = *x->payload_format_indicator;
  if (x->content_type) p["Content-Type"] = *x->content_type;
  if (x->response_topic) p["Response-Topic"] = *x->response_topic;
  if (x->correlation_data) p["Correlation-Data"] = *x->correlation_data;
  if (!x->user_properties.empty()) {
    json::object map;
    json::array pairs;
    for (const auto& [k, v] : x->user_properties) {
      map[k] = v;
      pairs.push_back(json::object{{"key", k}, {"value", v}});
    }
    p["User-Property"] = std::move(map);
    p["User-Property-Pairs"] = std::move(pairs);
  }
  return p;
}

bool valid_topic(std::string_view t) {
  return t.size() <= 65535 && mqtt::is_valid_utf8_string(t) &&
         static_cast<bool>(broker::validate_topic_name(t));
}

std::optional<mqtt::QoS> qos_of(const rules::Value& v) {
  if (!v) return std::nullopt;
  std::optional<std::int64_t> n = rules::as_int(*v);
  if (!n && v->is_string()) {
    const auto& s = v->get_string();
    if (s == "0" || s == "1" || s == "2") n = s[0] - '0';
  }
  if (!n || *n < 0 || *n > 2) return std::nullopt;
  return static_cast<mqtt::QoS>(*n);
}

std::optional<bool> flag_of(const rules::Value& v) {
  if (!v) return std::nullopt;
  if (v->is_bool()) return v->get_bool();
  if (v->is_string()) {
    if (v->get_string() == "true") return true;
    if (v->get_string() == "false") return false;
  }
  if (auto n = rules::as_int(*v); n && (*n == 0 || *n == 1)) return *n == 1;
  return std::nullopt;
}

// A map {"k": v}, or a list of {"key", "value"} objects or [k, v] pairs; nothing else.
bool user_properties_of(const rules::Value& v, std::vector<mqtt::UserProperty>& out) {
  if (!v) return true;  // none
  if (v->is_object()) {
    for (const auto& kv : v->get_object())
      out.emplace_back(std::string(kv.key()), rules::to_text(kv.value()));
    return true;
  }
  if (v->is_array()) {
    for (const auto& e : v->get_array()) {
      if (e.is_object() && e.get_object().contains("key") && e.get_object().contains("value")) {
        out.emplace_back(rules::to_text(e.get_object().at("key")),
                         rules::to_text(e.get_object().at("value")));
      } else if (e.is_array() && e.get_array().size() == 2) {
        out.emplace_back(rules::to_text(e.get_array()[0]), rules::to_text(e.get_array()[1]));
      } else {
        return false;
      }
    }
    return true;
  }
  // A template rendered to text: "undefined" (nothing there) is none, else refused.
  return v->is_string() && (v->get_string().empty() || v->get_string() == "undefined");
}

}  // namespace

class WorkerCore::RuleActions final : public rules::RuleEngine::Actions {
 public:
  explicit RuleActions(WorkerCore& core) : core_(core) {}
  // The message the rules run on: how many republishes deep, and by which rule.
  std::uint8_t depth = 0;
  std::string_view republished_by;

  bool republish(const rules::Rule& rule, const rules::Republish& a, const json::object& out,
                 const json::object& columns) override {
    if (rule.id == republished_by) {
      // A rule republishing what it republished itself would loop: EMQX's guard (the
      // action counts as a success there too).
      logger()->error(
          "rule_id={} topic={} recursive republish detected: not republished", rule.id,
          columns.contains("topic") ? rules::to_text(columns.at("topic")) : std::string());
      return true;
    }
    if (core_.republished_.size() >= kMaxRepublished ||
        core_.republished_bytes_ >= kMaxRepublishedBytes)
      return false;
    auto m = std::make_shared<mqtt::Message>();
    m->topic = a.topic.render(out);
    if (!valid_topic(m->topic)) return false;
    // A placeholder that reads nothing: 0 and false, as EMQX.
    auto qv = a.qos.value(out);
    auto rv = a.retain.value(out);
    auto qos = qv ? qos_of(qv) : std::optional(mqtt::QoS::AtMostOnce);
    auto retain = rv ? flag_of(rv) : std::optional(false);
    if (!qos || !retain) return false;
    m->qos = *qos;
    m->retain = *retain;
    m->payload = a.payload_whole ? json::serialize(out) : a.payload.render(out);
    auto extra = std::make_shared<mqtt::MessageExtra>();
    rules::Value props;
    if (a.user_properties_from_event) {
      if (const auto* p = columns.if_contains("pub_props"); p != nullptr && p->is_object()) {
        if (const auto* u = p->get_object().if_contains("User-Property")) props = *u;
      }
    } else if (a.user_properties.single()) {
      props = a.user_properties.value(out);
    }
    if (!user_properties_of(props, extra->user_properties)) return false;
    bool has_extra = !extra->user_properties.empty();
    for (const auto& [name, t] : a.mqtt_properties) {
      std::string v;
      if (!t.render_strict(out, v)) continue;  // reads nothing: left out
      if (name == "Message-Expiry-Interval" || name == "Payload-Format-Indicator") {
        std::uint32_t n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (ec != std::errc{} || end != v.data() + v.size()) continue;  // not a number: left out
        if (name == "Message-Expiry-Interval") {
          m->message_expiry_interval = n;
        } else if (n <= 1) {
          extra->payload_format_indicator = static_cast<std::uint8_t>(n);
          has_extra = true;
        }
        continue;
      }
      if (name == "Response-Topic" && !valid_topic(v)) continue;
      if (!mqtt::is_valid_utf8_string(v) && name != "Correlation-Data") continue;
      if (name == "Content-Type") extra->content_type = std::move(v);
      if (name == "Response-Topic") extra->response_topic = std::move(v);
      if (name == "Correlation-Data") extra->correlation_data = std::move(v);
      has_extra = true;
    }
    if (has_extra) m->extra = std::move(extra);
    m->received_at = core_.sched_.now();
    m->received_at_ms = mqtt::wall_ms_now();
    m->rule_depth = static_cast<std::uint8_t>(depth + 1);
    if (auto o = core_.origin(rule.id, std::nullopt)) {  // a rule reads delivery events
      auto mine = std::make_shared<mqtt::MessageOrigin>(*o);
      mine->republished_by = rule.id;  // so that they skip this rule (EMQX's guard)
      m->origin = std::move(mine);
    }
    if (core_.republished_.empty()) {
      core_.sched_.post(core_.sched_.id(), [c = &core_] { c->publish_republished(); });
    }
    core_.republished_bytes_ += m->payload.size() + m->topic.size();
    core_.republished_.push_back(
        {std::move(m), rule.id, static_cast<std::uint8_t>(depth + 1), a.direct_dispatch});
    return true;
  }

  bool connector(const rules::Rule&, const std::string& ref, const json::object& out,
                 const json::object& columns) override {
    connectors::Integrations* in = core_.node_.integrations.get();
    if (in == nullptr) return false;
    // The buffer worker is chosen by the client id, so that one client's messages keep
    // their order (EMQX's pick key).
    const json::value* id = out.if_contains("clientid");
    if (id == nullptr || !id->is_string()) id = columns.if_contains("clientid");
    const std::string_view key =
        id != nullptr && id->is_string() ? std::string_view(id->get_string()) : std::string_view();
    return in->enqueue(ref, out, key) == connectors::Integrations::Sent::Queued;
  }

  bool console(const rules::Rule& rule, const json::object& out,
               const json::object& columns) override {
    return core_.node_.rule_console.push("[rule action] " + rule.id +
                                         "\n\tAction Data: " + json::serialize(out) +
                                         "\n\tEnvs: " + json::serialize(columns) + "\n");
  }

 private:
  WorkerCore& core_;
};

WorkerCore::~WorkerCore() = default;

WorkerCore::RuleActions& WorkerCore::rule_actions(std::uint8_t depth,
                                                  std::string_view republished_by) {
  if (!rule_actions_) rule_actions_ = std::make_unique<RuleActions>(*this);
  auto& a = static_cast<RuleActions&>(*rule_actions_);
  a.depth = depth;
  a.republished_by = republished_by;
  return a;
}

void WorkerCore::run_rules(const mqtt::MessagePtr& m, const Publisher& from) {
  if (from.rule_depth >= kMaxRuleDepth || from.direct_dispatch) return;
  // The broker's own $SYS messages (published by no client).
  const bool sys =
      from.channel == nullptr && from.client_id.empty() && m->topic.starts_with("$SYS/");
  if (sys && node_.config.rule_engine.ignore_sys_message) return;
  auto& actions = rule_actions(from.rule_depth, from.republished_by);
  // The columns are made once, when the first rule matches.
  std::optional<json::object> columns;
  auto make = [&]() -> const json::object& {
    if (columns) return *columns;
    const std::string id = m->origin ? m->origin->id : new_message_id();
    std::string peerhost;
    std::optional<std::string_view> username;
    if (from.channel != nullptr) {
      peerhost = from.channel->peer_host();
      if (const auto& u = from.channel->username()) username = *u;
    }
    rules::PublishEvent e;
    e.id = id;
    e.client_id = from.client_id;
    e.username = username;
    e.payload = m->payload;
    e.peerhost = peerhost;
    e.topic = m->topic;
    e.qos = static_cast<int>(m->qos);
    e.retain = m->retain;
    e.pub_props = pub_props(*m);
    e.timestamp_ms = mqtt::wall_ms_now();
    e.publish_received_at_ms = m->received_at_ms != 0 ? m->received_at_ms : e.timestamp_ms;
    e.node = node_.config.node.name;
    columns = rules::publish_columns(e);
    if (from.channel == nullptr) columns->erase("peerhost");  // not a client's: undefined
    return *columns;
  };
  rules::RuleEngine::run(rules_, m->topic, make, actions);
}

// EMQX's message ids: 128 bits in hex, time first.
std::string WorkerCore::new_message_id() {
  char id[33];
  std::snprintf(id, sizeof id, "%016llX%04X%012llX",
                static_cast<unsigned long long>(mqtt::wall_ms_now()) * 1000ull,
                static_cast<unsigned>(sched_.id() & 0xffff),
                static_cast<unsigned long long>(++rule_event_seq_ & 0xffffffffffffull));
  return id;
}

std::shared_ptr<const mqtt::MessageOrigin> WorkerCore::origin(
    std::string_view client_id, const std::optional<std::string>& username) {
  if (!rules_.listens(rules::Event::MessageDelivered) &&
      !rules_.listens(rules::Event::MessageAcked) && !rules_.listens(rules::Event::DeliveryDropped))
      [[likely]]
    return nullptr;
  auto o = std::make_shared<mqtt::MessageOrigin>();
  o->id = new_message_id();
  o->client_id = client_id;
  o->username = username;
  return o;
}

namespace {

// The columns every message event has (EMQX's emqx_rule_events: eventmsg_delivered, ...).
void message_columns(const mqtt::Message& m, mqtt::QoS qos, bool retain, json::object& c) {
  c["payload"] = m.payload;
  c["topic"] = m.topic;
  c["qos"] = static_cast<int>(qos);
  c["flags"] = json::object{{"retain", retain}, {"dup", false}};
  c["pub_props"] = pub_props(m);
  c["publish_received_at"] =
      m.received_at_ms != 0
          ? m.received_at_ms
          : mqtt::wall_ms_now() - std::chrono::duration_cast<std::chrono::milliseconds>(
                                      mqtt::Message::Clock::now() - m.received_at)
                                      .count();
}

bool ignored_sys(const mqtt::Message& m, const config::Config& cfg) {
  return cfg.rule_engine.ignore_sys_message && m.topic.starts_with("$SYS/");
}

}  // namespace

void WorkerCore::delivery_event(rules::Event ev, const DeliveryEvent& what) {
  message_event(ev, what.msg, what.qos, what.retain, what.client_id, what.channel, what.reason);
}

void WorkerCore::message_dropped(const mqtt::Message& m, const Publisher& from) {
  message_event(rules::Event::MessageDropped, m, m.qos, m.retain, from.client_id, from.channel,
                "no_subscribers");
}

// The message events' columns (EMQX's eventmsg_delivered, _acked, _delivery_dropped and
// _dropped): `client_id` on `ch` (may be null) is the subscriber, or for message_dropped
// the publisher.
void WorkerCore::message_event(rules::Event ev, const mqtt::Message& m, mqtt::QoS qos, bool retain,
                               std::string_view client_id, const Channel* ch,
                               std::string_view reason) {
  // A rule that republishes on its message's events would loop (delivered, then
  // republished, delivered again): a rule skips what it republished itself
  // (republished_by, checked by RuleActions::republish) and the depth bounds chains.
  if (ignored_sys(m, node_.config) || m.rule_depth >= kMaxRuleDepth) return;
  auto& actions =
      rule_actions(m.rule_depth, m.origin ? std::string_view(m.origin->republished_by) : "");
  std::optional<json::object> columns;
  auto make = [&]() -> const json::object& {
    if (columns) return *columns;
    json::object c;
    c["event"] = rules::event_name(ev);
    c["id"] = m.origin ? m.origin->id : new_message_id();
    if (ev == rules::Event::DeliveryDropped || ev == rules::Event::MessageDropped)
      c["reason"] = reason;
    if (m.origin && ev != rules::Event::MessageDropped) {
      c["from_clientid"] = m.origin->client_id;
      if (m.origin->username) c["from_username"] = *m.origin->username;
    }
    c["clientid"] = client_id;
    if (ch != nullptr) {
      if (ch->username()) c["username"] = *ch->username();
      c["peerhost"] = ch->peer_host();
      c["peername"] = ch->host().peer();
    }
    message_columns(m, qos, retain, c);
    if (ev == rules::Event::MessageAcked) c["puback_props"] = json::object{};
    c["timestamp"] = mqtt::wall_ms_now();
    c["node"] = node_.config.node.name;
    columns = std::move(c);
    return *columns;
  };
  rules::RuleEngine::run(rules_, rules::event_source(ev), make, actions);
}

namespace {

// EMQX's names of reason codes (emqx_reason_codes:name/1), as client_connack's reason_code.
std::string_view reason_name(mqtt::ReasonCode rc) {
  using R = mqtt::ReasonCode;
  switch (rc) {
    case R::Success:
      return "success";
    case R::UnspecifiedError:
      return "unspecified_error";
    case R::MalformedPacket:
      return "malformed_packet";
    case R::ProtocolError:
      return "protocol_error";
    case R::ImplementationSpecificError:
      return "implementation_specific_error";
    case R::UnsupportedProtocolVersion:
      return "unsupported_protocol_version";
    case R::ClientIdentifierNotValid:
      return "client_identifier_not_valid";
    case R::BadUserNameOrPassword:
      return "bad_username_or_password";
    case R::NotAuthorized:
      return "not_authorized";
    case R::ServerUnavailable:
      return "server_unavailable";
    case R::ServerBusy:
      return "server_busy";
    case R::Banned:
      return "banned";
    case R::BadAuthenticationMethod:
      return "bad_authentication_method";
    case R::TopicNameInvalid:
      return "topic_name_invalid";
    case R::PacketTooLarge:
      return "packet_too_large";
    case R::QuotaExceeded:
      return "quota_exceeded";
    case R::PayloadFormatInvalid:
      return "payload_format_invalid";
    case R::RetainNotSupported:
      return "retain_not_supported";
    case R::QoSNotSupported:
      return "qos_not_supported";
    case R::UseAnotherServer:
      return "use_another_server";
    case R::ServerMoved:
      return "server_moved";
    case R::ConnectionRateExceeded:
      return "connection_rate_exceeded";
    default:
      return "unknown_error";
  }
}

// Which source decided (EMQX's authz_source): the source's type, or how else.
std::string_view authz_source(const auth::AuthzDecision& d) {
  switch (d.via) {
    case auth::AuthzVia::Superuser:
      return "superuser";
    case auth::AuthzVia::Cache:
      return "cache";
    case auth::AuthzVia::NoMatch:
      return "default";
    case auth::AuthzVia::Matched:
      return d.source;
  }
  return "default";
}

}  // namespace

void WorkerCore::channel_event(rules::Event e, const Channel& ch, const ChannelEvent& what) {
  rule_event(e, ch, what.topic, nullptr, &what);
}

void WorkerCore::rule_event(rules::Event ev, const Channel& ch, std::string_view filter,
                            const mqtt::SubscribeOptions* opts, const ChannelEvent* what) {
  if (!rules_.listens(ev)) [[likely]]
    return;
  auto& actions = rule_actions(0, {});
  std::optional<json::object> columns;
  auto make = [&]() -> const json::object& {
    if (columns) return *columns;
    json::object c;
    c["event"] = rules::event_name(ev);
    c["clientid"] = ch.client_id();
    if (ch.username()) c["username"] = *ch.username();
    const std::int64_t now = mqtt::wall_ms_now();
    // The connection's columns, and the CONNECT's (client_connected, client_connack).
    auto connection = [&] {
      c["peername"] = ch.host().peer();
      c["sockport"] = ch.host().local_port();
      c["proto_name"] = ch.version() == mqtt::ProtocolVersion::V3_1 ? "MQIsdp" : "MQTT";
      c["proto_ver"] = static_cast<int>(ch.version());
    };
    auto connect = [&] {
      connection();
      c["keepalive"] = ch.keep_alive();
      c["clean_start"] = ch.clean_start();
      c["expiry_interval"] = ch.session_expiry();
      c["conn_props"] = json::object{};
    };
    switch (ev) {
      case rules::Event::ClientConnected:
        connect();
        c["is_bridge"] = false;
        c["connected_at"] = ch.connected_at_ms();
        break;
      case rules::Event::ClientDisconnected: {
        const std::string_view reason = ch.disconnect_reason();
        c["reason"] = reason.empty() ? std::string_view("normal") : reason;
        connection();
        c["disconn_props"] = json::object{};
        c["connected_at"] = ch.connected_at_ms();
        c["disconnected_at"] = now;
        break;
      }
      case rules::Event::ClientConnack:
        c["reason_code"] = reason_name(what != nullptr ? what->reason : mqtt::ReasonCode::Success);
        connect();
        break;
      case rules::Event::ClientCheckAuthzComplete:
        c["peerhost"] = ch.peer_host();
        c["topic"] = filter;
        if (what != nullptr && what->action != nullptr && what->decision != nullptr) {
          c["action"] =
              what->action->type == auth::AclActionType::Publish ? "publish" : "subscribe";
          c["authz_source"] = authz_source(*what->decision);
          c["result"] = what->decision->allow ? "allow" : "deny";
        }
        break;
      case rules::Event::SessionSubscribed:
      case rules::Event::SessionUnsubscribed:
        c["peerhost"] = ch.peer_host();
        c["topic"] = filter;
        if (opts != nullptr) {
          c["qos"] = static_cast<int>(opts->max_qos);
          c["sub_props"] = json::object{};
        } else {
          c["unsub_props"] = json::object{};
        }
        break;
      case rules::Event::MessageDelivered:  // delivery_event() and message_dropped()
      case rules::Event::MessageAcked:
      case rules::Event::MessageDropped:
      case rules::Event::DeliveryDropped:
        break;
    }
    c["timestamp"] = now;
    c["node"] = node_.config.node.name;
    columns = std::move(c);
    return *columns;
  };
  rules::RuleEngine::run(rules_, rules::event_source(ev), make, actions);
}

void WorkerCore::rule_source(const std::string& hookpoint, json::object columns) {
  auto& actions = rule_actions(0, {});
  bool filled = false;
  auto make = [&]() -> const json::object& {
    if (!filled) {
      filled = true;
      columns["event"] = hookpoint;
      columns["timestamp"] = mqtt::wall_ms_now();
      columns["node"] = node_.config.node.name;
    }
    return columns;
  };
  rules::RuleEngine::run(rules_, hookpoint, make, actions);
}

void WorkerCore::publish_republished() {
  auto batch = std::move(republished_);
  republished_.clear();
  republished_bytes_ = 0;
  for (auto& r : batch) {
    Publisher from(r.rule_id);
    from.republished_by = r.rule_id;
    from.rule_depth = r.depth;
    from.direct_dispatch = r.direct_dispatch;
    publish(r.msg, from);
  }
}

}  // namespace emqxd::session
