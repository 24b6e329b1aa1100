// CONNECT, DISCONNECT, AUTH, PINGREQ and the error paths of the channel.
#include <algorithm>
#include <cstdint>
#include <variant>

#include "broker/topic.hpp"
#include "common/log.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "session/channel.hpp"

namespace emqxd::session {

using mqtt::ReasonCode;

namespace {
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("channel");
  return l;
}

// "10.0.0.1:5000" -> "10.0.0.1", "::1:5000" -> "::1" (ChannelHost::peer writes no brackets).
std::string peer_host(const std::string& peer) {
  auto colon = peer.rfind(':');
  return colon == std::string::npos ? peer : peer.substr(0, colon);
}
}  // namespace

mqtt::ConnectReturnCode to_v3_connack(ReasonCode rc) {
  switch (rc) {
    case ReasonCode::Success:
      return mqtt::ConnectReturnCode::Accepted;
    case ReasonCode::UnsupportedProtocolVersion:
      return mqtt::ConnectReturnCode::UnacceptableProtocolVersion;
    case ReasonCode::ClientIdentifierNotValid:
      return mqtt::ConnectReturnCode::IdentifierRejected;
    case ReasonCode::BadUserNameOrPassword:
      return mqtt::ConnectReturnCode::BadUserNameOrPassword;
    case ReasonCode::NotAuthorized:
    case ReasonCode::Banned:
      return mqtt::ConnectReturnCode::NotAuthorized;
    default:
      return mqtt::ConnectReturnCode::ServerUnavailable;
  }
}

ReasonCode to_reason_code(Errc e) {
  switch (e) {
    case Errc::MalformedPacket:
      return ReasonCode::MalformedPacket;
    case Errc::ProtocolError:
      return ReasonCode::ProtocolError;
    case Errc::PacketTooLarge:
      return ReasonCode::PacketTooLarge;
    case Errc::UnsupportedProtocolVersion:
      return ReasonCode::UnsupportedProtocolVersion;
    case Errc::ClientIdNotValid:
      return ReasonCode::ClientIdentifierNotValid;
    case Errc::BadUsernameOrPassword:
      return ReasonCode::BadUserNameOrPassword;
    case Errc::NotAuthorized:
      return ReasonCode::NotAuthorized;
    case Errc::TopicNameInvalid:
      return ReasonCode::TopicNameInvalid;
    case Errc::TopicFilterInvalid:
      return ReasonCode::TopicFilterInvalid;
    case Errc::TopicAliasInvalid:
      return ReasonCode::TopicAliasInvalid;
    case Errc::ReceiveMaximumExceeded:
      return ReasonCode::ReceiveMaximumExceeded;
    case Errc::QuotaExceeded:
      return ReasonCode::QuotaExceeded;
    case Errc::BadAuthenticationMethod:
      return ReasonCode::BadAuthenticationMethod;
    case Errc::QosNotSupported:
      return ReasonCode::QoSNotSupported;
    case Errc::RetainNotSupported:
      return ReasonCode::RetainNotSupported;
    case Errc::PacketIdInUse:
      return ReasonCode::PacketIdentifierInUse;
    case Errc::PacketIdNotFound:
      return ReasonCode::PacketIdentifierNotFound;
    case Errc::ServerBusy:
      return ReasonCode::ServerBusy;
    case Errc::KeepAliveTimeout:
      return ReasonCode::KeepAliveTimeout;
    case Errc::SessionTakenOver:
      return ReasonCode::SessionTakenOver;
    case Errc::ServerShuttingDown:
      return ReasonCode::ServerShuttingDown;
    default:
      return ReasonCode::UnspecifiedError;
  }
}

struct Channel::ScramExchange {
  ScramExchange(const auth::UserDatabase& d, std::string m, std::string first)
      : db(d), server(d.scram_algorithm()), method(std::move(m)), client_first(std::move(first)) {}
  const auth::UserDatabase& db;
  auth::ScramServer server;
  std::string method;
  std::string client_first;
  std::string server_final;
  bool is_superuser = false;
};

Channel::Channel(Hub& hub, ChannelHost& host)
    : hub_(hub), host_(host), tracer_(hub.tracer()), rewrite_(hub.rewrite()) {}

std::string Channel::peer_host() const {
  return session::peer_host(host_.peer());
}

Channel::~Channel() = default;

void Channel::handle_in(mqtt::Packet&& packet) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  if (tracing()) [[unlikely]]
    trace_in(packet);
  metrics::inc(hub_.metrics().packets_received);
  ++stats_.recv_pkt;
  if (state_ == State::Idle) {
    if (auto* c = std::get_if<mqtt::Connect>(&packet)) {
      handle_connect(*c);
    } else {
      // [MQTT-3.1.0-1] the first packet from the client must be CONNECT.
      logger()->debug("peer={} first packet is not CONNECT; closing", host_.peer());
      metrics::inc(hub_.metrics().protocol_errors);
      state_ = State::Closing;
      host_.close();
    }
    return;
  }
  if (state_ == State::Connecting && !std::holds_alternative<mqtt::Auth>(packet) &&
      !std::holds_alternative<mqtt::Disconnect>(packet)) {
    // Only AUTH (or DISCONNECT) within an enhanced authentication exchange [MQTT-4.12.0-4].
    send_connack_error(ReasonCode::ProtocolError);
    return;
  }
  // The host keeps packets while a packet waits; not reached.
  if (authz_wait_ || exclusive_wait_) return;
  if (state_ == State::Connected && prepare_exclusive(packet)) return;  // on_exclusive_answers
  admit(packet);
}

void Channel::admit(mqtt::Packet& packet) {
  if (state_ == State::Connected && hub_.authorization().has_remote() &&
      (std::holds_alternative<mqtt::Publish>(packet) ||
       std::holds_alternative<mqtt::Subscribe>(packet))) {
    if (prepare_authz(packet)) return;  // on_authz_answers handles it
    dispatch(packet);
    authz_answers_.clear();
    return;
  }
  dispatch(packet);
}

void Channel::dispatch(mqtt::Packet& packet) {
  std::visit(Overloaded{
                 [&](mqtt::Connect&) {
                   close_with(ReasonCode::ProtocolError, "second CONNECT");
                 },  // [MQTT-3.1.0-2]
                 [&](mqtt::Publish& p) { handle_publish(p); },
                 [&](mqtt::PubAck& a) { handle_puback(a); },
                 [&](mqtt::PubRec& r) { handle_pubrec(r); },
                 [&](mqtt::PubRel& r) { handle_pubrel(r); },
                 [&](mqtt::PubComp& c) { handle_pubcomp(c); },
                 [&](mqtt::Subscribe& s) { handle_subscribe(s); },
                 [&](mqtt::Unsubscribe& u) { handle_unsubscribe(u); },
                 // [MQTT-3.12.4-1], in order behind answers that wait for storage
                 [&](mqtt::PingReq&) { respond(mqtt::PingResp{}, false); },
                 [&](mqtt::Disconnect& d) { handle_disconnect(d); },
                 [&](mqtt::Auth& a) { handle_auth(a); },
                 [&](auto&) {
                   close_with(ReasonCode::ProtocolError, "server-to-client packet from client");
                 },
             },
             packet);
}

void Channel::handle_decode_error(Errc e) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  metrics::inc(hub_.metrics().packets_malformed);
  if (state_ == State::Idle) {
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->info("peer={} bad CONNECT: {} ({} similar lines suppressed)", host_.peer(),
                     to_string(e), held);
    }
    if (e == Errc::UnsupportedProtocolVersion) {
      // The version is unknown, so answer in the 3.1.1 format every client can read.
      version_ = mqtt::ProtocolVersion::V3_1_1;
      send(mqtt::ConnAck{
          false,
          static_cast<std::uint8_t>(mqtt::ConnectReturnCode::UnacceptableProtocolVersion),
          {}});
      connack_event(ReasonCode::UnsupportedProtocolVersion);
    }
    state_ = State::Closing;
    host_.close();
    return;
  }
  // A second CONNECT of an unknown level is still just a second CONNECT [MQTT-3.1.0-2].
  close_with(e == Errc::UnsupportedProtocolVersion ? ReasonCode::ProtocolError : to_reason_code(e),
             to_string(e));
}

void Channel::handle_keepalive_timeout() {
  if (state_ != State::Connected) {
    logger()->debug("peer={} no CONNECT in time; closing", host_.peer());
    state_ = State::Closing;
    host_.close();
    return;
  }
  close_with(ReasonCode::KeepAliveTimeout, "keep alive timeout");
  disconnect_reason_ = "keepalive_timeout";
}

void Channel::handle_slow_input() {
  metrics::inc(hub_.metrics().client_disconnected_slow_packet);
  if (state_ != State::Connected) {
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->info("peer={} CONNECT too slow; closing ({} similar lines suppressed)",
                     host_.peer(), held);
    }
    state_ = State::Closing;
    host_.close();
    return;
  }
  // The packet never came whole: the closest the spec has is a keep alive that ran out.
  close_with(ReasonCode::KeepAliveTimeout, "packet too slow");
  disconnect_reason_ = "slow_packet";
}

void Channel::send_connack_error(ReasonCode rc, std::string server_reference) {
  mqtt::ConnAck ack;
  ack.session_present = false;  // [MQTT-3.2.2-6]
  ack.code = is_v5() ? static_cast<std::uint8_t>(rc) : static_cast<std::uint8_t>(to_v3_connack(rc));
  const auto& ref =
      server_reference.empty() ? hub_.config().mqtt.server_reference : server_reference;
  if (is_v5() && !ref.empty() &&
      (rc == ReasonCode::UseAnotherServer || rc == ReasonCode::ServerMoved)) {
    ack.props.server_reference = ref;
  }
  send(ack);
  connack_event(rc);
  state_ = State::Closing;
  host_.close();
}

void Channel::connack_event(ReasonCode rc) {
  if (hub_.listens(rules::Event::ClientConnack)) [[unlikely]]
    hub_.channel_event(rules::Event::ClientConnack, *this, {rc, nullptr, {}, nullptr});
}

void Channel::close_with(ReasonCode rc, std::string_view why) {
  if (state_ == State::Closing || state_ == State::Closed) return;
  if (mqtt::is_error(rc)) metrics::inc(hub_.metrics().protocol_errors);
  static thread_local log::Throttle throttle;
  std::uint64_t held = 0;
  if (throttle.allow(std::chrono::steady_clock::now(), held)) {
    logger()->info("client_id={} peer={} closing: {} (0x{:02x}; {} similar lines suppressed)",
                   client_id_, host_.peer(), why, static_cast<unsigned>(rc), held);
  }
  disconnect_reason_ = mqtt::is_error(rc) ? "protocol_error" : "normal";
  if (is_v5() && state_ == State::Connected) {
    mqtt::Disconnect d{rc, {}};
    if (problem_info_allowed() && !why.empty()) {
      d.props.reason_string = std::string(why);
      // The reason string is the first thing to go when the packet would exceed the
      // client's Maximum Packet Size [MQTT-3.14.2-3].
      std::string probe;
      mqtt::encode(d, version_, probe);
      if (client_max_packet_size_ != 0 && probe.size() > client_max_packet_size_) {
        d.props.reason_string.reset();
      }
    }
    send_now(d);  // what is held for a commit is not sent: the connection ends here
  }
  state_ = State::Closing;
  host_.close();
}

void Channel::set_input_bytes(std::size_t bytes) {
  input_bytes_ = static_cast<std::uint32_t>(std::min<std::size_t>(bytes, UINT32_MAX));
  if (over_memory_cap()) force_shutdown();
}

// force_shutdown (EMQX's key): the connection holds more than max_heap_size. EMQX kills the
// connection's process, and the session in it goes too; so here the connection is closed
// without waiting for the client to read (ChannelHost::abort) and its session is discarded
// whatever its expiry, so that everything it held is freed. The will is published as for
// any connection the server ends [MQTT-3.1.2-8].
void Channel::force_shutdown() {
  if (state_ == State::Closing || state_ == State::Closed) return;
  const auto used = memory();
  metrics::inc(hub_.metrics().client_disconnected_force_shutdown);
  static thread_local log::Throttle throttle;
  std::uint64_t held = 0;
  if (throttle.allow(std::chrono::steady_clock::now(), held)) {
    logger()->warn(
        "client_id={} peer={} force_shutdown: holds {} bytes, over force_shutdown.max_heap_size "
        "({}); disconnected, session discarded ({} similar lines suppressed)",
        client_id_, host_.peer(), used, hub_.config().force_shutdown.max_heap_size, held);
  }
  session_expiry_ = 0;
  if (session_ != nullptr) session_->expiry_interval = 0;
  disconnect_reason_ = "force_shutdown";
  if (is_v5() && state_ == State::Connected) {
    mqtt::Disconnect d{ReasonCode::QuotaExceeded, {}};
    if (problem_info_allowed() && (client_max_packet_size_ == 0 || client_max_packet_size_ >= 64)) {
      d.props.reason_string = "force_shutdown";  // short: fits any Maximum Packet Size >= 64
    }
    send_now(d);
  }
  state_ = State::Closing;
  host_.abort();
}

void Channel::handle_connect(mqtt::Connect& c) {
  version_ = c.version;
  const auto& cfg = hub_.config().mqtt;

  if (const ConnectGate* gate = hub_.gate(); gate != nullptr && gate->closed()) {
    // The node is evacuated (net/evacuation.hpp): MQTT 5 clients are sent elsewhere, 3.1.1
    // clients told the server is unavailable; either way they try another node.
    send_connack_error(ReasonCode::UseAnotherServer, gate->server_reference());
    return;
  }
  if (is_v5() && !cfg.server_reference.empty()) {
    // This node sends MQTT 5 clients elsewhere (mqtt.server_reference), e.g. while it is
    // being evacuated; 3.1.1 has no way to say so and is served [MQTT-4.11.0-1].
    send_connack_error(ReasonCode::UseAnotherServer);
    return;
  }
  if (is_v5() && c.props.authentication_method) {
    // Enhanced authentication: SCRAM-SHA-256/512 when the chain has a scram authenticator
    // of that algorithm, else 0x8C [MQTT-4.12.0-1].
    const auto* db = hub_.scram_database(*c.props.authentication_method);
    if (db == nullptr) {
      send_connack_error(ReasonCode::BadAuthenticationMethod);
      return;
    }
    scram_ = std::make_unique<ScramExchange>(*db, *c.props.authentication_method,
                                             c.props.authentication_data.value_or(""));
  }
  // EMQX's identity overrides, before the client id is checked: a TLS client's certificate
  // (mqtt.peer_cert_as_clientid / _as_username; none sent: what the client said stands),
  // then the username as client id.
  if (cfg.peer_cert_as_clientid != config::PeerCertField::Disabled) {
    if (auto v = host_.peer_cert(cfg.peer_cert_as_clientid)) c.client_id = std::move(*v);
  }
  if (cfg.peer_cert_as_username != config::PeerCertField::Disabled) {
    if (auto v = host_.peer_cert(cfg.peer_cert_as_username)) c.username = std::move(*v);
  }
  if (cfg.use_username_as_clientid && c.username && !c.username->empty()) {
    c.client_id = *c.username;
  }
  bool assigned = false;
  if (c.client_id.empty()) {
    if (!is_v5() && !c.clean_start) {
      send_connack_error(ReasonCode::ClientIdentifierNotValid);  // [MQTT-3.1.3-8]
      return;
    }
    c.client_id = hub_.assign_client_id();  // [MQTT-3.1.3-6], [MQTT-3.2.2-16]
    assigned = true;
  } else if (c.client_id.size() > cfg.max_clientid_len) {
    send_connack_error(ReasonCode::ClientIdentifierNotValid);  // [MQTT-3.1.3-5]
    return;
  }
  client_id_ = std::move(c.client_id);
  username_ = std::move(c.username);
  if (hub_.banned(client_id_, username_, peer_host())) {
    metrics::inc(hub_.metrics().client_banned);
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->info("client_id={} peer={} refused: banned ({} similar lines suppressed)",
                     client_id_, host_.peer(), held);
    }
    will_.reset();
    send_connack_error(ReasonCode::Banned);  // 3.1.1: return code 5
    return;
  }

  if (c.will) {
    auto& w = *c.will;
    if (static_cast<std::uint8_t>(w.qos) > cfg.max_qos_allowed) {
      send_connack_error(ReasonCode::QoSNotSupported);  // [MQTT-3.2.2-12]
      return;
    }
    if (w.retain && !cfg.retain_available) {
      send_connack_error(ReasonCode::RetainNotSupported);  // [MQTT-3.2.2-13]
      return;
    }
    if (!broker::validate_topic_name(w.topic, cfg.max_topic_levels)) {
      send_connack_error(ReasonCode::TopicNameInvalid);
      return;
    }
    if (w.props.response_topic && !broker::validate_topic_name(*w.props.response_topic, 0)) {
      send_connack_error(ReasonCode::ProtocolError);  // no wildcards, as [MQTT-3.3.2-14]
      return;
    }
    will_ = std::make_unique<mqtt::Will>(std::move(w));
  }

  clean_start_ = c.clean_start;
  if (is_v5()) {
    session_expiry_ = c.props.session_expiry_interval.value_or(0);
    client_receive_maximum_ = c.props.receive_maximum.value_or(65535);
    client_max_packet_size_ = c.props.maximum_packet_size.value_or(0);
    client_topic_alias_max_ = c.props.topic_alias_maximum.value_or(0);
    request_problem_information_ = c.props.request_problem_information.value_or(1) != 0;
    request_response_information_ = c.props.request_response_information.value_or(0) != 0;
  } else {
    session_expiry_ =
        c.clean_start ? 0
                      : static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                                       cfg.session_expiry_interval)
                                                       .count());
  }
  keep_alive_ = c.keep_alive;
  if (cfg.server_keepalive && is_v5()) {
    keep_alive_ = *cfg.server_keepalive;  // [MQTT-3.2.2-21]
    server_keep_alive_ = true;
  } else if (cfg.max_keepalive != 0 && (keep_alive_ == 0 || keep_alive_ > cfg.max_keepalive)) {
    // mqtt.max_keepalive, as mosquitto's: MQTT 5 clients are told the maximum in CONNACK
    // (Server Keep Alive); MQTT 3.1.1 has no way to say it, so the client is refused.
    if (!is_v5()) {
      logger()->info(
          "client_id={} peer={} refused: keep alive {} s is not within "
          "mqtt.max_keepalive ({} s)",
          client_id_, host_.peer(), keep_alive_, cfg.max_keepalive);
      send_connack_error(ReasonCode::ClientIdentifierNotValid);
      return;
    }
    keep_alive_ = cfg.max_keepalive;
    server_keep_alive_ = true;
  }
  if (keep_alive_ > 0) {
    host_.set_keepalive(std::chrono::milliseconds(
        static_cast<std::int64_t>(keep_alive_ * 1000.0 * cfg.keepalive_multiplier)));
  } else {
    host_.set_keepalive(std::chrono::milliseconds::zero());
  }
  assigned_client_id_ = assigned;
  state_ = State::Connecting;
  if (scram_) {
    start_scram();
    return;
  }
  const auto mode = host_.authn_mode();
  if (mode == config::AuthnMode::QuickDenyAnonymous && !username_) {
    auth::AuthnOutcome refused;
    refused.reason = ReasonCode::NotAuthorized;
    refused.by = "enable_authn = quick_deny_anonymous";
    on_authenticated(refused);
    return;
  }
  auth::Credentials cred;
  // enable_authn = false: no chain, but the hub still fetches the client's rules from the
  // database authorization sources.
  cred.skip_chain = mode == config::AuthnMode::Off;
  cred.client_id = client_id_;
  cred.username = username_;
  if (c.password) cred.password = std::string(*c.password);
  cred.peerhost = peer_host();
  cred.cert_common_name = host_.peer_cert_common_name();
  cred.cert_subject = host_.peer_cert(config::PeerCertField::Dn);
  hub_.authenticate(*this, std::move(cred));  // answers with on_authenticated
}

void Channel::on_authenticated(const auth::AuthnOutcome& outcome) {
  if (state_ != State::Connecting) return;
  if (tracing()) [[unlikely]] {
    trace_event(outcome.allowed ? "authentication_success" : "authentication_failure",
                {{"reason_code", std::to_string(static_cast<unsigned>(outcome.reason))},
                 {"by", outcome.by},
                 {"is_superuser", outcome.is_superuser ? "true" : "false"}});
  }
  if (!outcome.allowed) {
    metrics::inc(hub_.metrics().client_auth_failure);
    static thread_local log::Throttle throttle;
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->info(
          "client_id={} username={} peer={} authentication failed: 0x{:02x} by {} ({} similar "
          "lines suppressed)",
          client_id_, username_.value_or(""), host_.peer(), static_cast<unsigned>(outcome.reason),
          outcome.by, held);
    }
    will_.reset();  // a client that was never let in has no will
    send_connack_error(outcome.reason);
    return;
  }
  set_subject();  // who authorization sees from now on (channel_authz.cpp)
  subject_.is_superuser = outcome.is_superuser;
  subject_.acl = outcome.acl;
  subject_.expires_at_ms = outcome.expires_at_ms;
  subject_.source_rules = outcome.source_rules;
  if (outcome.expires_at_ms) hub_.expire_at(*this, *outcome.expires_at_ms);
  hub_.open_session(*this, client_id_, clean_start_);
}

void Channel::credentials_expired() {
  if (state_ == State::Closing || state_ == State::Closed) return;
  disconnect_reason_ = "credentials_expired";
  if (state_ != State::Connected) {
    state_ = State::Closing;
    host_.close();
    return;
  }
  close_with(ReasonCode::NotAuthorized, "credentials expired");
  disconnect_reason_ = "credentials_expired";
}

void Channel::on_session_ready(Session* session, bool session_present) {
  if (state_ != State::Connecting) return;
  const auto& cfg = hub_.config().mqtt;
  session_ = session;
  session_->channel = this;
  if (session_->pressure) session_->pressure->online.store(true, std::memory_order_relaxed);
  session_->expiry_interval = session_expiry_;
  store_session(true);
  state_ = State::Connected;
  connected_at_ms_ = mqtt::wall_ms_now();

  mqtt::ConnAck ack;
  ack.session_present = session_present;  // [MQTT-3.2.2-1..3]
  ack.code = 0;
  if (is_v5()) {
    auto& p = ack.props;
    if (assigned_client_id_) p.assigned_client_identifier = client_id_;
    if (cfg.max_awaiting_rel != 0 && cfg.max_awaiting_rel < 65535) {
      p.receive_maximum = static_cast<std::uint16_t>(cfg.max_awaiting_rel);
    }
    if (cfg.max_qos_allowed < 2) p.maximum_qos = cfg.max_qos_allowed;
    if (!cfg.retain_available) p.retain_available = 0;
    p.maximum_packet_size = cfg.max_packet_size;
    if (cfg.max_topic_alias > 0) p.topic_alias_maximum = cfg.max_topic_alias;
    if (!cfg.wildcard_subscription) p.wildcard_subscription_available = 0;
    if (!cfg.shared_subscription) p.shared_subscription_available = 0;
    if (server_keep_alive_) p.server_keep_alive = keep_alive_;
    if (request_response_information_ && !cfg.response_information.empty()) {
      p.response_information = cfg.response_information;  // only when asked [MQTT-3.1.2-28]
    }
    if (scram_) {  // server-final rides on the CONNACK [MQTT-4.12.0-2]
      p.authentication_method = scram_->method;
      p.authentication_data = std::move(scram_->server_final);
      scram_.reset();
    }
  }
  send(ack);
  connack_event(ReasonCode::Success);
  host_.resume_input();
  metrics::inc(hub_.metrics().client_connected);
  logger()->debug("client_id={} peer={} connected v{} session_present={}", client_id_, host_.peer(),
                  static_cast<int>(version_), session_present);
  resend_inflight();
  pump_queue();
  if (!hub_.config().auto_subscribe.empty()) [[unlikely]]
    auto_subscribe();
}

void Channel::handle_disconnect(const mqtt::Disconnect& d) {
  if (is_v5() && d.props.session_expiry_interval) {
    if (session_expiry_ == 0 && *d.props.session_expiry_interval != 0) {
      close_with(ReasonCode::ProtocolError, "session expiry set on DISCONNECT");  // [MQTT-3.14.2-2]
      return;
    }
    session_expiry_ = *d.props.session_expiry_interval;
    if (session_) session_->expiry_interval = session_expiry_;
  }
  if (d.reason == ReasonCode::NormalDisconnection) {
    // Only 0x00 discards the will [MQTT-3.1.2-10], [MQTT-3.14.4-3]; 0x04 asks for it and
    // any error code leaves it to be published as on an abnormal close.
    will_.reset();
    graceful_disconnect_ = true;
  }
  disconnect_reason_ = "normal";
  state_ = State::Closing;
  host_.close();  // [MQTT-3.14.4-1]: the server sends nothing back
}

void Channel::start_scram() {
  auto& x = *scram_;
  std::string user, error;
  auto refuse = [&](std::string why) {
    auth::AuthnOutcome no;
    no.reason = ReasonCode::NotAuthorized;  // EMQX's answer to a failed SCRAM exchange
    no.by = "scram: " + why;
    on_authenticated(no);
  };
  if (!x.server.client_first(x.client_first, user, error)) return refuse(error);
  auto u = x.db.find(user);
  if (!u) return refuse("no such user");  // every authenticator ignores it
  x.is_superuser = u->is_superuser;
  mqtt::Auth a;
  a.reason = ReasonCode::ContinueAuthentication;
  a.props.authentication_method = x.method;
  a.props.authentication_data = x.server.server_first(u->scram);
  x.client_first.clear();
  scram_waiting_ = true;
  send(a);
  host_.resume_input();  // for the client's AUTH (accepting_input)
}

void Channel::handle_auth(const mqtt::Auth& a) {
  if (!scram_ || !scram_waiting_) {
    // Only valid within an enhanced authentication exchange, which needs a method from
    // CONNECT [MQTT-3.15.2-1]; re-authentication (0x19) is not offered.
    close_with(ReasonCode::ProtocolError, "AUTH outside an authentication exchange");
    return;
  }
  auto& x = *scram_;
  scram_waiting_ = false;
  if (a.reason != ReasonCode::ContinueAuthentication || a.props.authentication_method != x.method) {
    send_connack_error(ReasonCode::ProtocolError);  // [MQTT-4.12.0-5]: the same method
    return;
  }
  auto final = x.server.client_final(a.props.authentication_data.value_or(""));
  auth::AuthnOutcome outcome;
  if (!final) {
    outcome.reason = ReasonCode::NotAuthorized;
    outcome.by = "scram: wrong proof";
  } else {
    x.server_final = std::move(*final);
    outcome.allowed = true;
    outcome.reason = ReasonCode::Success;
    outcome.is_superuser = x.is_superuser;
    outcome.by = "scram";
  }
  on_authenticated(outcome);
}

mqtt::MessagePtr Channel::make_will(const mqtt::Will& will) const {
  auto msg = std::make_shared<mqtt::Message>();
  msg->topic = will.topic;
  msg->payload = will.payload;
  msg->qos = will.qos;
  msg->retain = will.retain;
  msg->received_at = hub_.now();
  if (msg->retain) msg->received_at_ms = mqtt::wall_ms_now();  // see Retainer::retain
  msg->message_expiry_interval = will.props.message_expiry_interval;
  msg->origin = hub_.origin(client_id_, username_);
  const auto& p = will.props;
  if (p.payload_format_indicator || p.content_type || p.response_topic || p.correlation_data ||
      !p.user_properties.empty()) {
    auto extra = std::make_shared<mqtt::MessageExtra>();
    extra->payload_format_indicator = p.payload_format_indicator;
    extra->content_type = p.content_type;
    extra->response_topic = p.response_topic;
    extra->correlation_data = p.correlation_data;
    extra->user_properties = p.user_properties;
    msg->extra = std::move(extra);
  }
  return msg;
}

void Channel::kick(ReasonCode reason, std::string server_reference) {
  if (state_ == State::Closed) return;
  static thread_local log::Throttle throttle;
  std::uint64_t held = 0;
  if (throttle.allow(std::chrono::steady_clock::now(), held)) {
    logger()->info(
        "client_id={} peer={} disconnected by server (0x{:02x}; {} similar lines "
        "suppressed)",
        client_id_, host_.peer(), static_cast<unsigned>(reason), held);
  }
  if (is_v5() && state_ == State::Connected) {
    mqtt::Disconnect d{reason, {}};
    if (!server_reference.empty()) d.props.server_reference = std::move(server_reference);
    send_now(d);
  }
  disconnect_reason_ = reason == ReasonCode::SessionTakenOver     ? "takenover"
                       : reason == ReasonCode::ServerShuttingDown ? "shutdown"
                                                                  : "kicked";
  state_ = State::Closing;
  host_.close();
}

Session* Channel::detach() {
  if (session_ == nullptr) return nullptr;
  if (will_ && !graceful_disconnect_) {
    auto msg = make_will(*will_);
    std::uint32_t delay = will_->props.will_delay_interval.value_or(0);
    if (delay == 0 || session_->expiry_interval == 0) {
      publish_will(std::move(msg));  // [MQTT-3.1.2-8]
    } else {
      bool allowed = false;
      auto remote = authorize_will(*msg, allowed);
      if (remote) {
        // A remote source decides when the delay ends, as this client.
        session_->pending_will_publish = [hub = &hub_,
                                          subject = std::make_shared<const auth::Subject>(subject_),
                                          q = *remote, id = client_id_](const mqtt::MessagePtr& m) {
          hub->publish_will_after_authz(subject, q, m, id);
        };
      }
      if (remote || allowed) {
        session_->pending_will = std::move(msg);  // published when the delay ends [MQTT-3.1.3-9]
        session_->will_delay = delay;
      }  // else dropped: the client may not publish there
    }
  }
  will_.reset();
  metrics::inc(hub_.metrics().client_disconnected);
  store_session(false);
  // An offline session never holds publishers back: its queue drops instead.
  if (session_->pressure) session_->pressure->online.store(false, std::memory_order_relaxed);
  if (!session_->last) session_->last = std::make_unique<Session::LastConnection>();
  *session_->last = {username_,           host_.peer(), connected_at_ms_,
                     mqtt::wall_ms_now(), keep_alive_,  static_cast<std::uint8_t>(version_),
                     clean_start_};
  session_->channel = nullptr;
  auto* s = session_;
  session_ = nullptr;
  return s;
}

void Channel::set_will(const std::optional<mqtt::Will>& will) {
  if (state_ != State::Connected) return;
  if (!will) {
    will_.reset();
    return;
  }
  const auto& cfg = hub_.config().mqtt;
  if (!broker::validate_topic_name(will->topic, cfg.max_topic_levels) ||
      static_cast<std::uint8_t>(will->qos) > cfg.max_qos_allowed ||
      (will->retain && !cfg.retain_available)) {
    return;
  }
  will_ = std::make_unique<mqtt::Will>(*will);
}

void Channel::publish_will_now() {
  if (state_ == State::Connected && will_) {
    publish_will(make_will(*will_));
    will_.reset();
  }
}

void Channel::publish_will(mqtt::MessagePtr will) {
  bool allowed = false;
  if (auto remote = authorize_will(*will, allowed)) {
    // A remote source decides off the worker; the will goes out once it allows it.
    hub_.publish_will_after_authz(std::make_shared<const auth::Subject>(subject_), *remote,
                                  std::move(will), client_id_);
    return;
  }
  if (!allowed) {
    logger()->info("client_id={} will to {} not allowed; dropped", client_id_, will->topic);
    metrics::inc(hub_.metrics().messages_dropped);
    return;
  }
  metrics::inc(hub_.metrics().wills_published);
  hub_.publish(will, {client_id_, this});  // the connection is ending: nothing to hold back
}

void Channel::handle_closed() {
  if (state_ == State::Closed) return;
  if (disconnect_reason_.empty()) disconnect_reason_ = "closed";  // the peer went away
  state_ = State::Closed;
  if (tracing()) [[unlikely]]
    trace_event("connection_closed", {{"reason", std::string(disconnect_reason_)}});
  release_unused_claims();  // made for a SUBSCRIBE that closed with the connection
  // A channel that never got its session (or gave it up in a takeover) still tells the
  // hub, which forgets a pending open_session for it.
  hub_.channel_closed(*this, detach());
}

}  // namespace emqxd::session
