// One LwM2M client over an MQTT channel (adapter.hpp).
#include "gateways/lwm2m/adapter.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "gateways/lwm2m/content.hpp"
#include "mqtt/codec.hpp"

namespace emqxd::gateways::lwm2m {

namespace json = boost::json;
using coap::Type;

namespace {

// EMQX's names of CoAP response codes ("codeMsg").
const char* code_msg(std::uint8_t code) {
  switch (code) {
    case coap::kCreated:
      return "created";
    case coap::kDeleted:
      return "deleted";
    case coap::kValid:
      return "valid";
    case coap::kChanged:
      return "changed";
    case coap::kContent:
      return "content";
    case coap::kContinue:
      return "continue";
    case coap::kBadRequest:
      return "bad_request";
    case coap::kUnauthorized:
      return "unauthorized";
    case coap::kBadOption:
      return "bad_option";
    case coap::kForbidden:
      return "forbidden";
    case coap::kNotFound:
      return "not_found";
    case coap::kMethodNotAllowed:
      return "method_not_allowed";
    case coap::code(4, 6):
      return "not_acceptable";
    case coap::kRequestEntityIncomplete:
      return "request_entity_incomplete";
    case coap::code(4, 12):
      return "precondition_failed";
    case coap::kRequestEntityTooLarge:
      return "request_entity_too_large";
    case coap::code(4, 15):
      return "unsupported_content_format";
    case coap::kInternalServerError:
      return "internal_server_error";
    case coap::code(5, 1):
      return "not_implemented";
    case coap::code(5, 2):
      return "bad_gateway";
    case coap::kServiceUnavailable:
      return "service_unavailable";
    case coap::code(5, 4):
      return "gateway_timeout";
    case coap::code(5, 5):
      return "proxying_not_supported";
    default:
      return "unknown";
  }
}

std::string code_text(std::uint8_t code) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%u.%02u", static_cast<unsigned>(code >> 5),
                static_cast<unsigned>(code & 31));
  return buf;
}

std::string replaced(std::string text, std::string_view what, std::string_view with) {
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + with.size()))
    text.replace(at, what.size(), with);
  return text;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The objects of a link-format payload (RFC 6690; TS 1.0 5.3.1): "</1/0>,</3/0>" ->
// ["/1/0", "/3/0"], the link with rt="oma.lwm2m" being the alternate path (its prefix is
// taken off the others).
void parse_links(std::string_view payload, json::array& objects, std::string& alternate) {
  std::vector<std::string> paths;
  alternate = "/";
  while (!payload.empty()) {
    const auto comma = payload.find(',');
    std::string_view link = trim(payload.substr(0, comma));
    payload.remove_prefix(comma == std::string_view::npos ? payload.size() : comma + 1);
    if (link.empty()) continue;
    const auto semi = link.find(';');
    std::string_view target = trim(link.substr(0, semi));
    const std::string_view attrs = semi == std::string_view::npos ? "" : link.substr(semi);
    if (target.size() >= 2 && target.front() == '<' && target.back() == '>')
      target = target.substr(1, target.size() - 2);
    if (attrs.find("rt=\"oma.lwm2m\"") != std::string_view::npos ||
        attrs.find("rt=oma.lwm2m") != std::string_view::npos) {
      alternate = utf8_text(target);
      continue;
    }
    paths.emplace_back(target);
  }
  std::string prefix = alternate;
  while (prefix.size() > 1 && prefix.back() == '/')
    prefix.pop_back();
  for (auto& p : paths) {
    if (prefix != "/" && p.starts_with(prefix)) p.erase(0, prefix.size());
    objects.emplace_back(json::string(utf8_text(p)));
  }
}

std::optional<std::int64_t> integer(std::string_view s) {
  std::int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

const json::value* field(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it == o.end() ? nullptr : &it->value();
}

std::string string_field(const json::object& o, std::string_view k) {
  const auto* v = field(o, k);
  if (v == nullptr) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_number()) return json::serialize(*v);
  return {};
}

}  // namespace

bool valid_endpoint(std::string_view ep) {
  // It is the client id and a level of the mountpoint: no wildcard, no level separator.
  return !ep.empty() && ep.size() <= 256 &&
         ep.find_first_of(std::string_view("+#/\0", 4)) == std::string_view::npos &&
         mqtt::is_valid_utf8_string(ep);
}

Adapter::Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host)
    : settings_(std::move(settings)), host_(host) {
  next_message_id_ = static_cast<std::uint16_t>(host_.random());
}

bool Adapter::registers_other(const Message& m) const {
  if (!m.is_request() || m.code != coap::kPost || m.path() != "rd" || state_ == State::Idle)
    return false;
  const auto ep = m.query("ep");
  return ep && valid_endpoint(*ep) && *ep != endpoint_;
}

// ----------------------------------------------------------------------------- client

void Adapter::from_client(Message&& m, Clock::time_point now) {
  if (state_ == State::Closed) return;
  last_seen_ = now;
  if (m.type == Type::Ack || m.type == Type::Rst) {
    if (!out_ || m.id != out_->request.id) return;  // late, or for nothing of ours
    // A piggybacked response carries the request's token (RFC 7252 5.3.2).
    if (m.type == Type::Ack && m.code != coap::kEmpty && m.token != out_->request.token) return;
    if (m.type == Type::Rst) {
      fail("coap_reset", now);
    } else if (m.code == coap::kEmpty) {
      if (!separate_) {
        separate_ = true;
        report(*out_, nullptr, "ack");
        due_ = now + kSeparateWait;
        arm(now);
      }
    } else {
      handle_response(m, now);
    }
    return;
  }
  if (m.code == coap::kEmpty) {
    if (m.type == Type::Con) host_.to_client(Message{Type::Rst, coap::kEmpty, m.id, {}, {}, {}});
    return;
  }
  if (!m.is_request()) {
    // A separate response, or a notification (RFC 7641 3.2); anything else is refused
    // with RST (RFC 7641 3.6), which ends an observation the gateway has forgotten.
    // A separate response may come before its empty ACK (which may be lost).
    const bool ours = out_ && m.token == out_->request.token;
    const bool observed = std::any_of(observations_.begin(), observations_.end(),
                                      [&](const Observation& o) { return o.token == m.token; });
    if (!ours && !observed) {
      // RST for a NON too: the client stops notifying what nobody observes (RFC 7641 3.6).
      host_.to_client(Message{Type::Rst, coap::kEmpty, m.id, {}, {}, {}});
      return;
    }
    if (m.type == Type::Con) {
      host_.to_client(Message{Type::Ack, coap::kEmpty, m.id, {}, {}, {}});
      // A CON sent again (our ACK was lost) is acknowledged, not published twice.
      if (std::find(recent_notifications_.begin(), recent_notifications_.end(), m.id) !=
          recent_notifications_.end())
        return;
      if (recent_notifications_.size() >= kRecentAnswers)
        recent_notifications_.erase(recent_notifications_.begin());
      recent_notifications_.push_back(m.id);
    }
    if (ours) {
      handle_response(m, now);
    } else {
      notification(m);
    }
    send_next(now);  // queue mode: the client shows itself
    return;
  }
  for (const auto& [id, answer] : recent_) {
    if (id == m.id) {
      host_.to_client(answer);  // a duplicate: its answer again (RFC 7252 4.5)
      return;
    }
  }
  if (register_request_ && register_request_->id == m.id) return;  // still connecting
  handle_request(m, now);
  send_next(now);  // queue mode: the client shows itself
}

void Adapter::handle_request(Message& m, Clock::time_point now) {
  const std::string path = m.path();
  if (path == "rd") {
    if (m.code != coap::kPost) {
      answer(m, coap::kMethodNotAllowed);
      return;
    }
    do_register(m, now);
    return;
  }
  if (state_ != State::Registered || path != "rd/" + endpoint_) {
    // No registration at this location: the client registers again (TS 1.0 5.3.2).
    answer(m, coap::kNotFound);
    return;
  }
  if (m.code == coap::kPost) {
    do_update(m, now);
  } else if (m.code == coap::kDelete) {
    answer(m, coap::kDeleted);
    end();
  } else {
    answer(m, coap::kMethodNotAllowed);
  }
}

void Adapter::registration_info(const Message& m, bool is_register) {
  if (is_register) reg_info_.clear();
  for (auto q : m.all(coap::kUriQuery)) {
    const auto eq = q.find('=');
    const std::string key = utf8_text(q.substr(0, eq));  // published as JSON
    if (key.empty() || key == "password") continue;      // never published
    // An Update changes lt, b and sms only (TS 1.0 5.3.2); a Register keeps a few more.
    if (!is_register && key != "lt" && key != "b" && key != "sms") continue;
    if (!reg_info_.contains(key) && reg_info_.size() >= kMaxRegInfo) continue;
    const std::string value(eq == std::string_view::npos ? "" : q.substr(eq + 1));
    if (key == "lt") {
      if (auto n = integer(value)) reg_info_[key] = *n;
      continue;
    }
    reg_info_[key] = utf8_text(value);
  }
  if (!m.payload.empty()) {
    json::array objects;
    parse_links(m.payload, objects, alternate_path_);
    if (objects.size() > kMaxObjects) objects.resize(kMaxObjects);
    reg_info_["objectList"] = std::move(objects);
    reg_info_["alternatePath"] = alternate_path_;
  }
  const std::string b = string_field(reg_info_, "b");
  queue_mode_ = b.find('Q') != std::string::npos;
}

void Adapter::do_register(Message& m, Clock::time_point now) {
  if (state_ == State::Registering) return;  // one at a time
  const auto ep = m.query("ep");
  if (!ep || !valid_endpoint(*ep)) {
    answer(m, coap::kBadRequest, "ep is required (no +, #, /)");
    return;
  }
  const std::string version = m.query("lwm2m").value_or("1.0");
  if (version != "1.0" && version != "1.1" && version != "1") {
    answer(m, coap::kBadRequest, "lwm2m 1.0 or 1.1");
    return;
  }
  std::chrono::seconds lt{86400};
  if (auto q = m.query("lt")) {
    auto n = integer(*q);
    if (!n || *n < settings_->lifetime_min.count() || *n > settings_->lifetime_max.count()) {
      answer(m, coap::kBadRequest, "lt out of range");
      return;
    }
    lt = std::chrono::seconds(*n);
  }
  lifetime_ = lt;
  registration_info(m, true);
  if (!reg_info_.contains("lt")) reg_info_["lt"] = lt.count();
  if (!reg_info_.contains("lwm2m")) reg_info_["lwm2m"] = version;
  if (!reg_info_.contains("b")) reg_info_["b"] = "U";
  if (state_ == State::Registered) {
    // The same endpoint again, from the same address: a fresh registration on the same
    // channel (commands waiting stay). The client has started afresh: its observations
    // are gone.
    observations_.clear();
    accept_registration(m, now);
    return;
  }
  endpoint_ = *ep;
  mountpoint_ =
      replaced(with_client_id(settings_->mountpoint, endpoint_), "${endpoint_name}", endpoint_);
  state_ = State::Registering;
  register_request_ = m;
  register_request_->payload.clear();
  mqtt::Connect c;
  c.version = mqtt::ProtocolVersion::V5;
  c.clean_start = true;
  c.keep_alive = 0;  // the registration's lifetime rules (tick())
  c.client_id = endpoint_;
  // EMQX's: the username is the imei query, else the endpoint name; a password query is
  // the password.
  c.username = m.query("imei").value_or(endpoint_);
  if (auto p = m.query("password")) c.password = *p;
  settings_->client_override.apply(c);
  host_.to_broker(c);
}

void Adapter::accept_registration(const Message& req, Clock::time_point now) {
  expires_ = now + lifetime_;
  Message opts;
  opts.add(coap::kLocationPath, "rd");
  opts.add(coap::kLocationPath, endpoint_);
  answer(req, coap::kCreated, {}, opts.options);
  json::object body;
  body["msgType"] = "register";
  body["data"] = reg_info_;
  publish(settings_->reg, body);
  auto_observe(now);
  send_next(now);
  arm(now);
}

void Adapter::do_update(Message& m, Clock::time_point now) {
  if (auto q = m.query("lt")) {
    auto n = integer(*q);
    if (!n || *n < settings_->lifetime_min.count() || *n > settings_->lifetime_max.count()) {
      answer(m, coap::kBadRequest, "lt out of range");
      return;
    }
    lifetime_ = std::chrono::seconds(*n);
  }
  registration_info(m, false);
  expires_ = now + lifetime_;
  answer(m, coap::kChanged);
  if (settings_->update_always || !m.payload.empty()) {
    json::object body;
    body["msgType"] = "update";
    body["data"] = reg_info_;
    publish(settings_->update, body);
  }
  arm(now);
}

void Adapter::answer(const Message& req, std::uint8_t code, std::string payload,
                     std::vector<std::pair<std::uint16_t, std::string>> options) {
  Message a{req.type == Type::Con ? Type::Ack : Type::Non,
            code,
            req.type == Type::Con ? req.id : next_message_id(),
            req.token,
            std::move(options),
            std::move(payload)};
  // An answer is never larger than what asked for it (the source may be forged).
  if (a.payload.size() > req.payload.size() + 16) a.payload.clear();
  host_.to_client(a);
  if (recent_.size() >= kRecentAnswers) recent_.erase(recent_.begin());
  recent_.emplace_back(req.id, std::move(a));
}

// ----------------------------------------------------------------------------- broker

void Adapter::from_broker(mqtt::Packet&& p, Clock::time_point now) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, mqtt::ConnAck>) {
          if (state_ != State::Registering || !register_request_) return;
          Message req = std::move(*register_request_);
          register_request_.reset();
          if (m.code != 0) {
            state_ = State::Closed;
            using R = mqtt::ReasonCode;
            const auto rc = static_cast<R>(m.code);
            // TS 1.0 5.3.1: 4.03 Forbidden when the endpoint may not register.
            const std::uint8_t code =
                rc == R::NotAuthorized || rc == R::BadUserNameOrPassword || rc == R::Banned
                    ? coap::kForbidden
                : rc == R::ServerBusy || rc == R::ServerUnavailable || rc == R::QuotaExceeded
                    ? coap::kServiceUnavailable
                    : coap::kBadRequest;
            answer(req, code);
            return;
          }
          state_ = State::Registered;
          host_.keep_alive(std::chrono::milliseconds(0));
          mqtt::Subscribe s;
          s.packet_id = next_packet_id();
          mqtt::SubscribeOptions so;
          // QoS 2 is taken as 1: a command is one CoAP exchange.
          so.max_qos = std::min(settings_->command.qos, mqtt::QoS::AtLeastOnce);
          s.subscriptions.push_back({mount(settings_->command.topic), so});
          host_.to_broker(s);
          accept_registration(req, now);
        } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
          if (m.qos == mqtt::QoS::AtLeastOnce) {
            host_.to_broker(mqtt::PubAck{m.packet_id, mqtt::ReasonCode::Success, {}});
          } else if (m.qos == mqtt::QoS::ExactlyOnce) {
            host_.to_broker(mqtt::PubRec{m.packet_id, mqtt::ReasonCode::Success, {}});
          }
          if (state_ == State::Registered) command(m.payload, now);
        } else if constexpr (std::is_same_v<T, mqtt::PubRel>) {
          host_.to_broker(mqtt::PubComp{m.packet_id, mqtt::ReasonCode::Success, {}});
        } else if constexpr (std::is_same_v<T, mqtt::PubRec>) {
          host_.to_broker(mqtt::PubRel{m.packet_id, mqtt::ReasonCode::Success, {}});
        } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
          state_ = State::Closed;  // kicked or taken over: the channel ends the connection
        }
      },
      p);
}

void Adapter::auto_observe(Clock::time_point now) {
  if (!settings_->auto_observe && settings_->auto_observe_paths.empty()) return;
  const auto* list = reg_info_.if_contains("objectList");
  if (list == nullptr || !list->is_array()) return;
  std::size_t made = 0;
  for (const auto& o : list->as_array()) {
    if (made >= kMaxAutoObserve) break;
    const std::string path(o.as_string());
    std::vector<std::uint16_t> ids;
    try {
      ids = parse_path(path);
    } catch (const ContentError&) {
      continue;
    }
    bool wanted = false;
    if (!settings_->auto_observe_paths.empty()) {
      wanted = std::find(settings_->auto_observe_paths.begin(), settings_->auto_observe_paths.end(),
                         path) != settings_->auto_observe_paths.end();
    } else {
      // EMQX's: not the objects of the device's own housekeeping.
      constexpr std::uint16_t kSkip[] = {0, 1, 2, 4, 5, 6, 7, 9, 15};
      wanted = std::find(std::begin(kSkip), std::end(kSkip), ids[0]) == std::end(kSkip) &&
               settings_->model->object(ids[0]) != nullptr;
    }
    if (!wanted) continue;
    json::object cmd;
    cmd["msgType"] = "observe";
    cmd["data"] = json::object{{"path", path}};
    cmd["is_auto_observe"] = true;
    std::uint8_t code = 0;
    if (auto c = build(std::move(cmd), code)) {
      enqueue(std::move(*c), now);
      ++made;
    }
  }
}

void Adapter::command(std::string_view payload, Clock::time_point now) {
  json::value doc;
  try {
    doc = json::parse(payload);
  } catch (const std::exception&) {
    return;  // not a command: nothing to answer to (EMQX drops it too)
  }
  if (!doc.is_object()) return;
  std::uint8_t code = coap::kBadRequest;
  json::object cmd = std::move(doc.as_object());
  std::optional<Command> c;
  if (payload.size() > kMaxCommand) {
    code = coap::kRequestEntityTooLarge;
  } else {
    c = build(cmd, code);
  }
  if (c) c->size = payload.size();
  if (!c) {
    // Answered at once: 4.00 on the response topic.
    Command bad;
    bad.ctx = std::move(cmd);
    bad.msg_type = string_field(bad.ctx, "msgType");
    if (const auto* d = field(bad.ctx, "data"); d != nullptr && d->is_object()) {
      bad.req_path = string_field(d->as_object(), "path");
      if (bad.req_path.empty()) bad.req_path = string_field(d->as_object(), "basePath");
    }
    bad.ctx.erase("data");  // it may be what was too large
    Message r;
    r.code = code;
    report(bad, &r, bad.msg_type.empty() ? "unknown" : bad.msg_type);
    return;
  }
  enqueue(std::move(*c), now);
}

std::optional<Adapter::Command> Adapter::build(json::object cmd, std::uint8_t& code) {
  code = coap::kBadRequest;
  Command c;
  c.msg_type = string_field(cmd, "msgType");
  const auto* d = field(cmd, "data");
  if (d == nullptr || !d->is_object()) {
    return std::nullopt;
  }
  const auto& data = d->as_object();
  const std::string base_path = string_field(data, "basePath");
  const std::string path_field = string_field(data, "path");
  c.req_path = path_field.empty() ? base_path : path_field;
  c.ctx = std::move(cmd);
  Message& r = c.request;
  r.type = Type::Con;
  try {
    auto target = [&](const std::string& full) {
      // "/3/0/1?pmin=10": Uri-Path after the alternate path, then Uri-Query.
      const auto q = full.find('?');
      auto ids = parse_path(full.substr(0, q));
      std::string_view alt = alternate_path_;
      while (!alt.empty()) {
        const auto slash = alt.find('/');
        if (slash != 0) r.add(coap::kUriPath, std::string(alt.substr(0, slash)));
        if (slash == std::string_view::npos) break;
        alt.remove_prefix(slash + 1);
      }
      for (auto id : ids)
        r.add(coap::kUriPath, std::to_string(id));
      if (q != std::string::npos) {
        std::string_view rest = std::string_view(full).substr(q + 1);
        while (!rest.empty()) {
          const auto amp = rest.find('&');
          if (amp != 0) r.add(coap::kUriQuery, std::string(rest.substr(0, amp)));
          if (amp == std::string_view::npos) break;
          rest.remove_prefix(amp + 1);
        }
      }
      return ids;
    };
    if (c.msg_type == "read") {
      r.code = coap::kGet;
      target(path_field);
    } else if (c.msg_type == "discover") {
      r.code = coap::kGet;
      target(path_field);
      r.add_uint(coap::kAccept, kLinkFormat);
    } else if (c.msg_type == "observe" || c.msg_type == "cancel-observe") {
      if (c.msg_type == "observe" && observations_.size() >= kMaxObservations) {
        return std::nullopt;
      }
      r.code = coap::kGet;
      target(path_field);
      r.add_uint(coap::kObserve, c.msg_type == "observe" ? 0 : 1);
    } else if (c.msg_type == "write") {
      if (!base_path.empty() && base_path != "/") {
        const auto* content = field(data, "content");
        if (content == nullptr || !content->is_array()) throw ContentError("no content");
        auto ids = target(base_path);
        if (ids.size() < 2) throw ContentError("a write names an instance or a resource");
        r.code = ids.size() == 2 ? coap::kPost : coap::kPut;
        r.payload = items_to_tlv(ids, content->as_array());
      } else {
        auto ids = target(path_field);
        if (ids.size() < 3) throw ContentError("a write names a resource");
        json::array one;
        one.push_back(json::value(data));
        r.code = coap::kPut;
        r.payload = items_to_tlv(ids, one);
      }
      r.add_uint(coap::kContentFormat, kTlv);
    } else if (c.msg_type == "write-attr") {
      r.code = coap::kPut;
      target(path_field);
      for (const char* k : {"pmin", "pmax", "gt", "lt", "st"}) {
        const std::string v = string_field(data, k);
        if (!v.empty()) r.add(coap::kUriQuery, std::string(k) + "=" + v);
      }
    } else if (c.msg_type == "execute") {
      r.code = coap::kPost;
      if (target(path_field).size() != 3) throw ContentError("execute names a resource");
      std::string args = string_field(data, "args");
      if (args == "undefined") args.clear();
      if (!args.empty()) {
        r.add_uint(coap::kContentFormat, kTextPlain);
        r.payload = std::move(args);
      }
    } else if (c.msg_type == "create") {
      const auto* content = field(data, "content");
      if (content == nullptr || !content->is_array()) throw ContentError("no content");
      auto ids = target(base_path.empty() ? path_field : base_path);
      if (ids.size() != 1) throw ContentError("create names an object");
      r.code = coap::kPost;
      r.payload = items_to_tlv(ids, content->as_array());
      r.add_uint(coap::kContentFormat, kTlv);
    } else if (c.msg_type == "delete") {
      r.code = coap::kDelete;
      if (target(path_field).size() != 2) throw ContentError("delete names an instance");
    } else {
      return std::nullopt;
    }
  } catch (const ContentError&) {
    return std::nullopt;
  }
  if (c.msg_type == "cancel-observe") {
    // The observation's own token (RFC 7641 3.6), when the gateway has it.
    for (const auto& o : observations_) {
      if (o.path == c.req_path) c.token = o.token;
    }
  }
  std::string encoded;
  coap::encode(r, encoded);
  if (encoded.size() > kMaxRequest) {
    code = coap::kRequestEntityTooLarge;  // one datagram; Block1 is not sent
    return std::nullopt;
  }
  return c;
}

void Adapter::enqueue(Command c, Clock::time_point now) {
  if (queue_.size() >= kMaxQueued || queued_bytes_ + c.size > kMaxQueuedBytes) {
    Message r;
    r.code = coap::kServiceUnavailable;
    report(c, &r, c.msg_type);
    return;
  }
  queued_bytes_ += c.size;
  queue_.push_back(std::move(c));
  send_next(now);
}

bool Adapter::awake(Clock::time_point now) const {
  return !queue_mode_ || now - last_seen_ < settings_->qmode_time_window;
}

void Adapter::send_next(Clock::time_point now) {
  if (out_ || queue_.empty() || state_ != State::Registered || !awake(now)) return;
  out_ = std::move(queue_.front());
  queue_.erase(queue_.begin());
  queued_bytes_ -= out_->size;
  out_->request.id = next_message_id();
  out_->request.token = out_->token.empty() ? new_token() : out_->token;
  send_request(now);
}

void Adapter::send_request(Clock::time_point now) {
  sends_ = 1;
  separate_ = false;
  // ACK_TIMEOUT * [1, ACK_RANDOM_FACTOR 1.5] (RFC 7252 4.8).
  timeout_ =
      std::chrono::milliseconds(kAckTimeout) + std::chrono::milliseconds(host_.random() % 1000);
  due_ = now + timeout_;
  host_.to_client(out_->request);
  arm(now);
}

void Adapter::tick(Clock::time_point now) {
  if (state_ == State::Registered && now >= expires_) {
    end();  // the lifetime passed without an Update (TS 1.0 5.3.1)
    return;
  }
  if (out_ && now >= due_) {
    if (separate_ || sends_ > kMaxRetransmit) {
      fail("coap_timeout", now);
    } else {
      ++sends_;
      timeout_ *= 2;
      due_ = now + timeout_;
      host_.to_client(out_->request);
    }
  }
  arm(now);
}

void Adapter::arm(Clock::time_point now) {
  if (state_ == State::Closed) return;
  std::optional<Clock::time_point> next;
  if (state_ == State::Registered) next = expires_;
  if (out_ && (!next || due_ < *next)) next = due_;
  if (!next) return;
  host_.wake_after(std::chrono::duration_cast<std::chrono::milliseconds>(
      std::max(Clock::duration::zero(), *next - now)));
}

void Adapter::fail(const char* msg_type, Clock::time_point now) {
  report(*out_, nullptr, msg_type);
  done(now);
}

void Adapter::done(Clock::time_point now) {
  out_.reset();
  separate_ = false;
  send_next(now);
  arm(now);
}

void Adapter::handle_response(Message& m, Clock::time_point now) {
  Command& c = *out_;
  const auto asked = c.request.block(coap::kBlock2);
  if (auto b = m.block(coap::kBlock2); b && asked && b->num != asked->num) {
    fail("coap_timeout", now);  // not the block asked for: the exchange is lost
    return;
  }
  if (auto b = m.block(coap::kBlock2); b && b->more && m.code == coap::kContent) {
    // Block2 (RFC 7959 2.4): ask for the next block, keep what came.
    if (c.body.size() + m.payload.size() > settings_->max_body || b->num >= 0xFFFFF) {
      Message r;
      r.code = coap::kRequestEntityTooLarge;
      report(c, &r, c.msg_type);
      done(now);
      return;
    }
    c.body += m.payload;
    // Only the first block carries Observe (RFC 7959 3.4).
    if (!c.observe) c.observe = m.uint_option(coap::kObserve);
    Message& req = c.request;
    // The next block, without Observe: an observation is registered by the first request.
    std::erase_if(req.options, [](const auto& o) {
      return o.first == coap::kBlock2 || o.first == coap::kObserve;
    });
    req.add_block(coap::kBlock2, coap::Block{b->num + 1, false, b->szx});
    req.id = next_message_id();
    send_request(now);
    return;
  }
  if (!c.body.empty()) m.payload = c.body + m.payload;
  if (c.observe && !m.uint_option(coap::kObserve)) m.add_uint(coap::kObserve, *c.observe);
  if (c.msg_type == "observe" && m.code == coap::kContent && m.uint_option(coap::kObserve)) {
    std::erase_if(observations_, [&](const Observation& o) { return o.path == c.req_path; });
    if (observations_.size() < kMaxObservations)
      observations_.push_back({c.request.token, c.req_path, c.ctx});
  } else if (c.msg_type == "cancel-observe") {
    std::erase_if(observations_, [&](const Observation& o) { return o.path == c.req_path; });
  }
  report(c, &m, c.msg_type);
  done(now);
}

void Adapter::notification(Message& m) {
  auto it = std::find_if(observations_.begin(), observations_.end(),
                         [&](const Observation& o) { return o.token == m.token; });
  if (it == observations_.end()) return;
  Command c;
  c.ctx = it->ctx;
  c.req_path = it->path;
  c.msg_type = "observe";
  const bool ended = (m.code >> 5) >= 4;  // an error ends it (RFC 7641 3.2)
  report(c, &m, "notify");
  if (ended) observations_.erase(it);
}

void Adapter::report(Command& c, const Message* response, std::string msg_type) {
  json::object body = c.ctx;
  body["msgType"] = msg_type;
  if (response != nullptr) {
    json::object data;
    data["reqPath"] = c.req_path;
    std::uint8_t code = response->code;
    const bool content =
        code == coap::kContent && (c.msg_type == "read" || c.msg_type == "observe" ||
                                   c.msg_type == "cancel-observe" || c.msg_type == "discover");
    json::array values;
    if (content) {
      const auto* f = response->first(coap::kContentFormat);
      std::uint16_t format = kTextPlain;  // no Content-Format: text (EMQX's)
      if (c.msg_type == "discover") {
        format = kLinkFormat;
      } else if (f != nullptr) {
        format =
            static_cast<std::uint16_t>(response->uint_option(coap::kContentFormat).value_or(0));
      }
      try {
        std::string path = c.req_path.substr(0, c.req_path.find('?'));
        values = content_to_json(response->payload, format, parse_path(path), *settings_->model);
      } catch (const ContentError&) {
        code = coap::kBadRequest;  // as EMQX: what does not parse is a bad answer
        values.clear();
      }
    }
    data["code"] = code_text(code);
    data["codeMsg"] = code_msg(code);
    if (content && code == coap::kContent) data["content"] = std::move(values);
    body["data"] = std::move(data);
    // A notification's Observe number (an observe's first answer: when not 0).
    const auto seq = response->uint_option(coap::kObserve);
    if (msg_type == "notify" || (c.msg_type == "observe" && seq.value_or(0) > 0))
      body["seqNum"] = seq.value_or(0);
  }
  publish(msg_type == "notify" ? settings_->notify : settings_->response, body);
}

void Adapter::publish(const Settings::Translator& t, const json::object& body) {
  const std::string topic = mount(t.topic);
  const std::string payload = json::serialize(body);
  mqtt::Publish p;
  // QoS 2 is taken as 1: its PUBREC/PUBREL round would hold the channel's awaiting-release
  // slots across a burst of answers.
  p.qos = std::min(t.qos, mqtt::QoS::AtLeastOnce);
  p.topic = topic;
  p.payload = payload;
  if (p.qos != mqtt::QoS::AtMostOnce) p.packet_id = next_packet_id();
  host_.to_broker(p);
}

void Adapter::end() {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  out_.reset();
  queue_.clear();
  queued_bytes_ = 0;
  host_.to_broker(mqtt::Disconnect{});
}

std::string Adapter::mount(std::string_view topic) const {
  return mountpoint_ + std::string(topic);
}

std::uint16_t Adapter::next_packet_id() {
  return ++next_packet_id_ == 0 ? ++next_packet_id_ : next_packet_id_;
}

std::uint16_t Adapter::next_message_id() {
  return ++next_message_id_;
}

std::string Adapter::new_token() {
  const std::uint32_t v = host_.random();
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
}

}  // namespace emqxd::gateways::lwm2m
