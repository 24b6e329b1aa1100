// One CoAP client address over an MQTT channel (adapter.hpp).
#include "gateways/coap/adapter.hpp"

#include <algorithm>
#include <charconv>

namespace emqxd::gateways::coap {

namespace {

std::optional<int> small_int(const std::optional<std::string>& v, int lo, int hi) {
  if (!v) return std::nullopt;
  int n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size() || n < lo || n > hi) return std::nullopt;
  return n;
}

}  // namespace

Adapter::Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host)
    : settings_(std::move(settings)), host_(host) {
  next_message_id_ = static_cast<std::uint16_t>(host_.random());
}

// ----------------------------------------------------------------------------- client

void Adapter::from_client(Message&& m) {
  if (m.type == Type::Ack || m.type == Type::Rst) {
    auto it = unacked_.find(m.id);
    std::string token;
    std::uint16_t packet_id = 0;
    if (it != unacked_.end()) {
      token = it->second.m.token;
      packet_id = it->second.packet_id;
      unacked_.erase(it);
    } else if (m.type == Type::Rst) {
      auto n = std::find_if(sent_non_.begin(), sent_non_.end(),
                            [&](const auto& s) { return s.first == m.id; });
      if (n == sent_non_.end()) return;
      token = n->second;
    } else {
      return;
    }
    if (packet_id != 0) host_.to_broker(mqtt::PubAck{packet_id, mqtt::ReasonCode::Success, {}});
    // RST: the client is not interested any more (RFC 7641 3.6).
    if (m.type == Type::Rst) end_observation(token, true);
    return;
  }
  if (m.code == kEmpty) {
    // A CON ping: RST (RFC 7252 4.3); a NON Empty message is ignored.
    if (m.type == Type::Con) host_.to_client(Message{Type::Rst, kEmpty, m.id, {}, {}, {}});
    return;
  }
  if (!m.is_request()) {
    // A response sent to a gateway: rejected (RFC 7252 4.2, 4.3).
    if (m.type == Type::Con) host_.to_client(Message{Type::Rst, kEmpty, m.id, {}, {}, {}});
    return;
  }
  // A duplicate (the ACK or answer was lost): the same answer again.
  for (const auto& [id, answer] : recent_) {
    if (id == m.id) {
      host_.to_client(answer);
      return;
    }
  }
  for (const auto& [id, p] : pending_) {
    if (p.request.id == m.id && p.request.token == m.token) return;  // still working on it
  }
  for (const auto& w : waiting_) {
    if (w.id == m.id && w.token == m.token) return;  // waits for the connection already
  }
  handle_request(m);
}

void Adapter::handle_request(Message& m) {
  const std::string path = m.path();
  if (path == "mqtt/connection") {
    handle_connection_resource(m);
    return;
  }
  if (!path.starts_with("ps/") || path.size() == 3) {
    answer(m, kNotFound, "no such resource: use ps/{topic} or mqtt/connection");
    return;
  }
  if (state_ == State::Closed) {
    answer(m, kServiceUnavailable, "the connection is closing");
    return;
  }
  if (settings_->connection_required) {
    if (!authorized_request(m)) {
      answer(m, kUnauthorized, "clientid and token of a connection are required");
      return;
    }
  } else if (state_ == State::Idle) {
    connect(m);  // connectionless: the first request connects this address
  }
  if (state_ == State::Connecting) {
    if (waiting_.size() >= kMaxPendingRequests) {
      answer(m, kServiceUnavailable, "too many requests before the connection is up");
      return;
    }
    waiting_.push_back(std::move(m));
    return;
  }
  if (pending_.size() >= kMaxPending) {
    answer(m, kServiceUnavailable);
    return;
  }
  handle_ps(m, path.substr(3));
}

void Adapter::handle_connection_resource(Message& m) {
  if (!settings_->connection_required) {
    answer(m, kMethodNotAllowed, "connection_required is false: no connections to manage");
    return;
  }
  switch (m.code) {
    case kPost: {
      if (state_ != State::Idle) {
        answer(m, kBadRequest, "this address is connected already");
        return;
      }
      if (!m.query("clientid") || m.query("clientid")->empty()) {
        answer(m, kBadRequest, "clientid is required");
        return;
      }
      connect_request_ = m;
      connect_request_->payload.clear();
      connect(m);
      return;
    }
    case kPut:
      if (!authorized_request(m)) {
        answer(m, kUnauthorized, "clientid and token of this connection are required");
        return;
      }
      host_.to_broker(mqtt::PingReq{});  // the heartbeat keeps the channel alive
      answer(m, kChanged);
      return;
    case kDelete:
      if (!authorized_request(m)) {
        answer(m, kUnauthorized, "clientid and token of this connection are required");
        return;
      }
      answer(m, kDeleted);
      state_ = State::Closed;
      host_.to_broker(mqtt::Disconnect{});
      return;
    default:
      answer(m, kMethodNotAllowed);
  }
}

bool Adapter::authorized_request(const Message& m) {
  return state_ == State::Connected && m.query("clientid") == std::optional(client_id_) &&
         m.query("token") == std::optional(token_);
}

void Adapter::connect(const Message& m) {
  mqtt::Connect c;
  c.version = mqtt::ProtocolVersion::V5;
  c.clean_start = true;
  // Connection mode: the client's heartbeats (PUT mqtt/connection) are its keep alive.
  // Connectionless: the gateway keeps the address while it observes something, and
  // heartbeat * 1.5 after its last request otherwise (update_keep_alive).
  c.keep_alive =
      settings_->connection_required
          ? static_cast<std::uint16_t>(std::min<std::uint32_t>(settings_->heartbeat_s, 65535))
          : 0;
  c.client_id = m.query("clientid").value_or("");
  if (auto u = m.query("username")) c.username = *u;
  if (auto p = m.query("password")) c.password = *p;
  const auto& st = *settings_;
  st.client_override.apply(c);
  client_id_ = m.query("clientid").value_or("");
  mountpoint_ = with_client_id(st.mountpoint, c.client_id);
  state_ = State::Connecting;
  host_.to_broker(c);
}

mqtt::QoS Adapter::qos_for(const Message& m, int configured) const {
  int q = m.type == Type::Con ? 1 : 0;
  if (auto asked = small_int(m.query("qos"), 0, 2)) {
    q = *asked;
  } else if (configured >= 0) {
    q = configured;
  }
  return q == 0 ? mqtt::QoS::AtMostOnce : mqtt::QoS::AtLeastOnce;  // 2 is taken as 1
}

void Adapter::handle_ps(Message& m, const std::string& topic) {
  if (m.code == kPost || m.code == kPut) {
    std::optional<Block> done_block;
    if (auto b = m.block(kBlock1)) {
      // The blocks of one body share the resource and its Request-Tag (RFC 7959 2.3,
      // RFC 9175), not the token: a client may change tokens between blocks.
      const auto* tag = m.first(kRequestTag);
      const std::string key = m.path() + '\0' + (tag != nullptr ? *tag : std::string());
      if (b->num == 0) uploads_.erase(key);
      if (!uploads_.contains(key) && uploads_.size() >= kMaxUploads) {
        answer(m, kServiceUnavailable, "too many block-wise transfers at once");
        return;
      }
      auto& u = uploads_[key];
      if (b->num != u.next) {
        uploads_.erase(key);
        answer(m, kRequestEntityIncomplete, "Block1 blocks out of order");
        return;
      }
      u.body += m.payload;
      if (u.body.size() > settings_->max_payload) {
        uploads_.erase(key);
        answer(m, kRequestEntityTooLarge, "payload over the gateway's limit",
               {{kSize1, uint_bytes(static_cast<std::uint32_t>(settings_->max_payload))}});
        return;
      }
      if (b->more) {
        ++u.next;
        Message echo;
        echo.add_block(kBlock1, *b);
        answer(m, kContinue, {}, echo.options);
        return;
      }
      m.payload = std::move(u.body);
      uploads_.erase(key);
      done_block = b;
    }
    mqtt::Publish p;
    p.qos = qos_for(m, settings_->publish_qos);
    p.retain = m.query("retain") == std::optional<std::string>("true");
    const std::string mounted = mount(topic);
    p.topic = mounted;
    p.payload = m.payload;
    std::vector<std::pair<std::uint16_t, std::string>> extra;
    if (done_block) {
      Message echo;
      echo.add_block(kBlock1, *done_block);
      extra = echo.options;
    }
    if (p.qos == mqtt::QoS::AtMostOnce) {
      host_.to_broker(p);
      answer(m, kChanged, {}, std::move(extra));
      return;
    }
    p.packet_id = next_packet_id();
    Message req = m;
    req.payload.clear();
    req.options.insert(req.options.end(), extra.begin(), extra.end());  // echoed in the answer
    pending_[p.packet_id] = Pending{Pending::Kind::Publish, std::move(req), {}, {}, 0};
    host_.to_broker(p);
    return;
  }
  if (m.code != kGet) {
    answer(m, kMethodNotAllowed, "POST or PUT publishes, GET with Observe subscribes");
    return;
  }
  const auto observe = m.uint_option(kObserve);
  if (!observe) {
    // A later block of a notification too large for one (RFC 7959 2.4).
    if (auto b = m.block(kBlock2); b && b->num > 0) {
      for (const auto& [token, o] : observes_) {
        if (o.uri_path != m.path() || o.representation.empty()) continue;
        const std::size_t size = std::min(b->size(), Block{0, false, settings_->block_szx}.size());
        const Block nb{b->num, (b->num + 1) * size < o.representation.size(),
                       static_cast<std::uint8_t>(std::min<int>(b->szx, settings_->block_szx))};
        if (b->num * size >= o.representation.size()) break;
        Message opts;
        opts.add_block(kBlock2, nb);
        answer(m, kContent, o.representation.substr(b->num * size, size), opts.options);
        return;
      }
      answer(m, kNotFound, "no representation of that resource is kept");
      return;
    }
    answer(m, kMethodNotAllowed, "GET needs Observe: 0 to subscribe or 1 to unsubscribe");
    return;
  }
  if (*observe == 0) {
    if (auto it = observes_.find(m.token); it != observes_.end()) {
      // The same token again: a re-registration (RFC 7641 4.1).
      Message opts;
      opts.add_uint(kObserve, it->second.seq);
      answer(m, kContent, {}, opts.options);
      return;
    }
    std::size_t pending_observes = 0;
    for (const auto& [id, p] : pending_) {
      if (p.kind != Pending::Kind::Subscribe) continue;
      ++pending_observes;
      if (p.token == m.token) return;  // its SUBACK is on its way: answered then
    }
    if (observes_.size() + pending_observes >= kMaxObservations) {
      answer(m, kServiceUnavailable, "too many observations");
      return;
    }
    mqtt::Subscribe s;
    s.packet_id = next_packet_id();
    const std::uint32_t sub_id = next_sub_id_++;
    s.props.subscription_identifiers.push_back(sub_id);
    mqtt::Subscription sub;
    sub.topic_filter = mount(topic);
    sub.options.max_qos = qos_for(m, settings_->subscribe_qos);
    const std::string filter = sub.topic_filter;
    s.subscriptions.push_back(std::move(sub));
    Message req = m;
    req.payload.clear();
    pending_[s.packet_id] =
        Pending{Pending::Kind::Subscribe, std::move(req), m.token, filter, sub_id};
    host_.to_broker(s);
    return;
  }
  // Observe: 1, deregistration: by token, or by the path.
  auto it = observes_.find(m.token);
  if (it == observes_.end()) {
    const std::string filter = mount(topic);
    it = std::find_if(observes_.begin(), observes_.end(),
                      [&](const auto& o) { return o.second.filter == filter; });
  }
  if (it == observes_.end()) {
    answer(m, kContent);
    return;
  }
  mqtt::Unsubscribe u;
  u.packet_id = next_packet_id();
  u.topic_filters.push_back(it->second.filter);
  Message req = m;
  req.payload.clear();
  pending_[u.packet_id] = Pending{Pending::Kind::Unsubscribe, std::move(req), {}, {}, 0};
  end_observation(it->first, false);
  host_.to_broker(u);
}

void Adapter::end_observation(const std::string& token, bool unsubscribe) {
  auto it = observes_.find(token);
  if (it == observes_.end()) return;
  if (unsubscribe) {
    mqtt::Unsubscribe u;
    u.packet_id = next_packet_id();
    u.topic_filters.push_back(it->second.filter);
    host_.to_broker(u);  // its UNSUBACK answers nobody
  }
  // What still waited for the client's ACK on it is settled.
  for (auto un = unacked_.begin(); un != unacked_.end();) {
    if (un->second.m.token == token) {
      if (un->second.packet_id != 0)
        host_.to_broker(mqtt::PubAck{un->second.packet_id, mqtt::ReasonCode::Success, {}});
      un = unacked_.erase(un);
    } else {
      ++un;
    }
  }
  observes_.erase(it);
  update_keep_alive();
}

// ----------------------------------------------------------------------------- broker

void Adapter::from_broker(mqtt::Packet&& p) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, mqtt::ConnAck>) {
          if (m.code != 0) {
            state_ = State::Closed;
            const std::string why =
                m.props.reason_string ? *m.props.reason_string : "connection refused";
            if (connect_request_) answer(*connect_request_, kUnauthorized, why);
            for (auto& w : waiting_)
              answer(w, kUnauthorized, why);
            waiting_.clear();
            connect_request_.reset();
            return;
          }
          state_ = State::Connected;
          if (client_id_.empty() && m.props.assigned_client_identifier)
            client_id_ = *m.props.assigned_client_identifier;
          if (connect_request_) {
            char buf[16];
            std::snprintf(buf, sizeof buf, "%u", host_.random());
            token_ = buf;
            answer(*connect_request_, kCreated, token_);
            connect_request_.reset();
          }
          update_keep_alive();
          auto waiting = std::move(waiting_);
          waiting_.clear();
          for (auto& w : waiting) {
            const std::string path = w.path();
            handle_ps(w, path.substr(3));
          }
        } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
          notify(m);
        } else if constexpr (std::is_same_v<T, mqtt::PubAck>) {
          auto it = pending_.find(m.packet_id);
          if (it == pending_.end()) return;
          Pending pend = std::move(it->second);
          pending_.erase(it);
          // Block1's final echo rode on the request's options.
          std::vector<std::pair<std::uint16_t, std::string>> echo;
          for (const auto& o : pend.request.options) {
            if (o.first == kBlock1) echo.push_back(o);
          }
          if (static_cast<std::uint8_t>(m.reason) >= 0x80) {
            answer(pend.request, kForbidden, "not authorized to publish there");
          } else {
            answer(pend.request, kChanged, {}, std::move(echo));
          }
        } else if constexpr (std::is_same_v<T, mqtt::SubAck>) {
          auto it = pending_.find(m.packet_id);
          if (it == pending_.end()) return;
          Pending pend = std::move(it->second);
          pending_.erase(it);
          const int code = m.reason_codes.empty() ? 0x80 : static_cast<int>(m.reason_codes[0]);
          if (code >= 0x80) {
            answer(pend.request, code == 0x87 ? kForbidden : kBadRequest,
                   code == 0x87 ? "not authorized to subscribe there" : "cannot subscribe");
            return;
          }
          Observation o;
          o.token = pend.token;
          o.filter = pend.filter;
          o.uri_path = pend.request.path();
          o.sub_id = pend.sub_id;
          Message opts;
          opts.add_uint(kObserve, o.seq);
          observes_[o.token] = std::move(o);
          answer(pend.request, kContent, {}, opts.options);
          update_keep_alive();
        } else if constexpr (std::is_same_v<T, mqtt::UnsubAck>) {
          auto it = pending_.find(m.packet_id);
          if (it == pending_.end()) return;
          Pending pend = std::move(it->second);
          pending_.erase(it);
          answer(pend.request, kContent);
        } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
          // Kicked, taken over, shut down: each observation ends with 5.03 (RFC 7641 3.2).
          state_ = State::Closed;
          for (const auto& [token, o] : observes_) {
            Message n{Type::Non, kServiceUnavailable, next_message_id(), token, {}, {}};
            host_.to_client(n);
          }
          observes_.clear();
          unacked_.clear();
        }
      },
      p);
}

void Adapter::notify(const mqtt::Publish& p) {
  Observation* o = nullptr;
  for (auto sid : p.props.subscription_identifiers) {
    for (auto& [token, x] : observes_) {
      if (x.sub_id == sid) o = &x;
    }
    if (o != nullptr) break;
  }
  if (o == nullptr) {
    if (p.qos != mqtt::QoS::AtMostOnce)
      host_.to_broker(mqtt::PubAck{p.packet_id, mqtt::ReasonCode::Success, {}});
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  bool con = settings_->notify == Settings::Notify::Con ||
             (settings_->notify == Settings::Notify::Qos && p.qos != mqtt::QoS::AtMostOnce) ||
             // Once per heartbeat a notification asks for an ACK, whatever its QoS: a client
             // that is gone (or an address that never asked: UDP sources can be forged)
             // stops getting them (retransmit()).
             now - last_con_ >= std::chrono::seconds(settings_->heartbeat_s);
  if (con && unacked_.size() >= kMaxUnacked) con = false;  // enough waiting: NON
  if (con) last_con_ = now;
  Message n;
  n.type = con ? Type::Con : Type::Non;
  n.code = kContent;
  n.id = next_message_id();
  n.token = o->token;
  o->seq = (o->seq + 1) & 0xFFFFFF;
  n.add_uint(kObserve, o->seq);
  const std::size_t block = Block{0, false, settings_->block_szx}.size();
  if (p.payload.size() > block) {
    o->representation.assign(p.payload);
    n.add_block(kBlock2, Block{0, true, settings_->block_szx});
    n.payload.assign(p.payload.substr(0, block));
  } else {
    o->representation.clear();
    n.payload.assign(p.payload);
  }
  if (con) {
    const auto timeout = std::chrono::milliseconds(
        std::chrono::duration_cast<std::chrono::milliseconds>(kAckTimeout).count() *
        (1000 + host_.random() % 500) / 1000);
    unacked_[n.id] = Unacked{n, p.qos != mqtt::QoS::AtMostOnce ? p.packet_id : std::uint16_t{0}, 1,
                             timeout, std::chrono::steady_clock::time_point{}};
    host_.retransmit_after(timeout);
    unacked_[n.id].due = now + timeout;
  } else {
    if (p.qos != mqtt::QoS::AtMostOnce)
      host_.to_broker(mqtt::PubAck{p.packet_id, mqtt::ReasonCode::Success, {}});
    sent_non_.emplace_back(n.id, n.token);
    if (sent_non_.size() > kRecentAnswers) sent_non_.erase(sent_non_.begin());
  }
  host_.to_client(n);
}

void Adapter::retransmit(std::chrono::steady_clock::time_point now) {
  std::vector<std::string> lost;
  std::optional<std::chrono::steady_clock::time_point> next;
  for (auto it = unacked_.begin(); it != unacked_.end();) {
    auto& u = it->second;
    if (u.due > now) {
      next = next ? std::min(*next, u.due) : u.due;
      ++it;
      continue;
    }
    if (u.sends > kMaxRetransmit) {
      // No ACK after every retransmission: the client is gone from this observation.
      if (u.packet_id != 0)
        host_.to_broker(mqtt::PubAck{u.packet_id, mqtt::ReasonCode::Success, {}});
      lost.push_back(u.m.token);
      it = unacked_.erase(it);
      continue;
    }
    ++u.sends;
    u.timeout *= 2;
    u.due = now + u.timeout;
    next = next ? std::min(*next, u.due) : u.due;
    host_.to_client(u.m);
    ++it;
  }
  for (const auto& token : lost)
    end_observation(token, true);
  if (next) {
    host_.retransmit_after(std::chrono::duration_cast<std::chrono::milliseconds>(*next - now) +
                           std::chrono::milliseconds(1));
  }
}

// ----------------------------------------------------------------------------- helpers

void Adapter::answer(const Message& req, std::uint8_t code, std::string payload,
                     std::vector<std::pair<std::uint16_t, std::string>> options) {
  Message r;
  if (req.type == Type::Con) {
    r.type = Type::Ack;
    r.id = req.id;
  } else {
    r.type = Type::Non;
    r.id = next_message_id();
  }
  r.code = code;
  r.token = req.token;
  for (auto& [n, v] : options)
    r.add(n, std::move(v));
  // A diagnostic text goes only if the answer stays no larger than the request: the
  // source of a datagram can be forged, and an answer must not amplify it.
  std::size_t request_size = 4 + req.token.size() + req.payload.size();
  for (const auto& [n, v] : req.options)
    request_size += 1 + v.size();
  if (code >= kBadRequest && payload.size() + 4 + r.token.size() > request_size) payload.clear();
  r.payload = std::move(payload);
  recent_.emplace_back(req.id, r);
  if (recent_.size() > kRecentAnswers) recent_.erase(recent_.begin());
  host_.to_client(r);
}

std::uint16_t Adapter::next_packet_id() {
  do {
    next_packet_id_ =
        static_cast<std::uint16_t>(next_packet_id_ == 0xFFFF ? 1 : next_packet_id_ + 1);
  } while (pending_.contains(next_packet_id_));
  return next_packet_id_;
}

std::uint16_t Adapter::next_message_id() {
  do {
    ++next_message_id_;
  } while (unacked_.contains(next_message_id_));
  return next_message_id_;
}

void Adapter::update_keep_alive() {
  if (settings_->connection_required || state_ != State::Connected) return;
  host_.keep_alive(observes_.empty()
                       ? std::chrono::milliseconds(std::uint64_t{settings_->heartbeat_s} * 1500)
                       : std::chrono::duration_cast<std::chrono::milliseconds>(kObserveLife));
}

std::string Adapter::mount(std::string_view topic) const {
  return mountpoint_ + std::string(topic);
}

}  // namespace emqxd::gateways::coap
