// One STOMP client over an MQTT channel (adapter.hpp).
#include "gateways/stomp/adapter.hpp"

#include <algorithm>
#include <charconv>

namespace emqxd::gateways::stomp {

namespace {

// "cx,cy" -> {cx, cy}; nullopt when malformed.
std::optional<std::pair<std::uint32_t, std::uint32_t>> heart_beat(const std::string& v) {
  const auto comma = v.find(',');
  if (comma == std::string::npos) return std::nullopt;
  std::uint32_t a = 0, b = 0;
  auto r1 = std::from_chars(v.data(), v.data() + comma, a);
  auto r2 = std::from_chars(v.data() + comma + 1, v.data() + v.size(), b);
  if (r1.ec != std::errc() || r1.ptr != v.data() + comma || r2.ec != std::errc() ||
      r2.ptr != v.data() + v.size()) {
    return std::nullopt;
  }
  return std::pair{a, b};
}

const std::string* receipt_of(const Frame& f) {
  return f.header("receipt");
}

}  // namespace

Adapter::Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host)
    : settings_(std::move(settings)), host_(host) {}

void Adapter::from_client(Frame&& f) {
  if (state_ == State::Closed) return;
  const std::string& c = f.command;
  if (state_ == State::Idle) {
    if (c == "CONNECT" || c == "STOMP") {
      handle_connect(f);
    } else {
      fatal("expected CONNECT or STOMP first, got " + c, &f);
    }
    return;
  }
  if (state_ == State::Connecting) {
    // Sent right behind CONNECT, before CONNECTED came: handled once it has.
    std::size_t bytes = f.command.size() + f.body.size();
    for (const auto& [k, v] : f.headers)
      bytes += k.size() + v.size() + 2;
    if (early_.size() >= kMaxEarlyFrames || early_bytes_ + bytes > kMaxEarlyBytes) {
      fatal("too much sent before CONNECTED", &f);
      return;
    }
    early_bytes_ += bytes;
    early_.push_back(std::move(f));
    return;
  }
  if (c == "CONNECT" || c == "STOMP") {
    fatal("already connected", &f);
  } else if (c == "SEND" || c == "ACK" || c == "NACK") {
    if (const auto* tx = f.header("transaction")) {
      auto it = transactions_.find(*tx);
      if (it == transactions_.end()) {
        fatal("transaction " + *tx + " not found", &f);
        return;
      }
      std::size_t bytes = f.command.size() + f.body.size() + 64;
      for (const auto& [k, v] : f.headers)
        bytes += k.size() + v.size() + 64;
      if (transaction_bytes_ + bytes > kMaxTransactionBytes) {
        fatal("transactions hold more than 1 MiB", &f);
        return;
      }
      transaction_bytes_ += bytes;
      it->second.bytes += bytes;
      it->second.frames.push_back(std::move(f));
      return;
    }
    if (c == "SEND") {
      handle_send(f);
    } else {
      handle_ack(f, c == "NACK");
    }
  } else if (c == "SUBSCRIBE") {
    handle_subscribe(f);
  } else if (c == "UNSUBSCRIBE") {
    handle_unsubscribe(f);
  } else if (c == "BEGIN") {
    const auto* tx = f.header("transaction");
    if (tx == nullptr) {
      fatal("BEGIN without a transaction header", &f);
    } else if (transactions_.contains(*tx)) {
      fatal("transaction " + *tx + " already started", &f);
    } else if (transactions_.size() >= kMaxTransactions) {
      fatal("too many transactions", &f);
    } else {
      transactions_.emplace(*tx, Transaction{});
      receipt(f);
    }
  } else if (c == "COMMIT" || c == "ABORT") {
    const auto* tx = f.header("transaction");
    auto it = tx == nullptr ? transactions_.end() : transactions_.find(*tx);
    if (it == transactions_.end()) {
      fatal("transaction " + (tx ? *tx : std::string()) + " not found", &f);
      return;
    }
    Transaction t = std::move(it->second);
    transactions_.erase(it);
    transaction_bytes_ -= t.bytes;
    if (c == "COMMIT") {
      for (auto& held : t.frames) {
        held.headers.erase(std::remove_if(held.headers.begin(), held.headers.end(),
                                          [](const auto& h) { return h.first == "transaction"; }),
                           held.headers.end());
        from_client(std::move(held));
        if (state_ != State::Connected) return;
      }
    }
    receipt(f);
  } else if (c == "DISCONNECT") {
    receipt(f);
    state_ = State::Closed;
    host_.to_broker(mqtt::Disconnect{});  // the channel ends the session and closes
  } else {
    fatal("a client does not send " + c, &f);
  }
}

void Adapter::handle_connect(const Frame& f) {
  // Version: the highest both speak (1.0 when the client names none).
  std::string version = "1.0";
  if (const auto* accept = f.header("accept-version")) {
    version.clear();
    for (const char* v : {"1.2", "1.1", "1.0"}) {
      if (accept->find(v) != std::string::npos) {
        version = v;
        break;
      }
    }
    if (version.empty()) {
      Frame e{"ERROR",
              {{"version", "1.0,1.1,1.2"},
               {"content-type", "text/plain"},
               {"message", "Supported protocol versions are 1.0,1.1,1.2"}},
              {}};
      host_.to_client(e);
      state_ = State::Closed;
      host_.end_after_output();
      return;
    }
  }
  version_ = version;
  std::uint32_t cx = 0, cy = 0;
  if (const auto* hb = f.header("heart-beat")) {
    auto v = heart_beat(*hb);
    if (!v) {
      fatal("heart-beat must be two numbers: cx,cy", &f);
      return;
    }
    std::tie(cx, cy) = *v;
  }
  // What we can do: not more often than a second, and at least every hour.
  send_heartbeat_ms_ = cy == 0 ? 0 : std::clamp(cy, kMinHeartbeatMs, kMaxHeartbeatMs);
  expect_heartbeat_ms_ = cx;
  mqtt::Connect c;
  c.version = mqtt::ProtocolVersion::V5;
  c.clean_start = true;  // STOMP has no sessions to come back to
  // The client's heart-beats are its keep alive (the channel allows half as much again).
  c.keep_alive = static_cast<std::uint16_t>(std::min<std::uint32_t>(65535, (cx + 999) / 1000));
  if (const auto* id = f.header("client-id")) c.client_id = *id;
  if (const auto* login = f.header("login")) c.username = *login;
  if (const auto* pass = f.header("passcode")) c.password = *pass;
  const auto& st = *settings_;
  st.client_override.apply(c);
  mountpoint_ = with_client_id(st.mountpoint, c.client_id);
  state_ = State::Connecting;
  host_.to_broker(c);
}

void Adapter::handle_send(Frame& f) {
  const auto* dest = f.header("destination");
  if (dest == nullptr || dest->empty()) {
    fatal("SEND without a destination", &f);
    return;
  }
  mqtt::Publish p;
  p.qos = mqtt::QoS::AtLeastOnce;
  const std::uint16_t id = next_packet_id();
  p.packet_id = id;
  const std::string topic = mount(*dest);
  p.topic = topic;
  p.payload = f.body;
  if (const auto* ct = f.header("content-type")) p.props.content_type = *ct;
  Pending pend{Pending::Kind::Send, std::nullopt, {}, *dest};
  if (const auto* r = receipt_of(f)) pend.receipt = *r;
  pending_[id] = std::move(pend);
  host_.to_broker(p);
}

void Adapter::handle_subscribe(const Frame& f) {
  const auto* dest = f.header("destination");
  if (dest == nullptr || dest->empty()) {
    fatal("SUBSCRIBE without a destination", &f);
    return;
  }
  const auto* id = f.header("id");
  if (id == nullptr && version_ != "1.0") {
    fatal("SUBSCRIBE without an id", &f);
    return;
  }
  Subscription s;
  s.id = id != nullptr ? *id : *dest;
  s.filter = mount(*dest);
  const auto* ack = f.header("ack");
  s.ack = ack != nullptr ? *ack : "auto";
  if (s.ack != "auto" && s.ack != "client" && s.ack != "client-individual") {
    fatal("ack must be auto, client or client-individual", &f);
    return;
  }
  std::size_t pending_subs = 0;
  auto clash = [&](const Subscription& other) {
    if (other.id == s.id) {
      fatal("subscription id " + s.id + " is in use", &f);
      return true;
    }
    if (other.filter == s.filter) {
      fatal("already subscribed to " + *dest, &f);
      return true;
    }
    return false;
  };
  for (const auto& other : subs_) {
    if (clash(other)) return;
  }
  for (const auto& [id, p] : pending_) {
    if (p.kind != Pending::Kind::Subscribe) continue;
    ++pending_subs;
    if (clash(p.sub)) return;
  }
  if (subs_.size() + pending_subs >= kMaxSubscriptions) {
    fatal("too many subscriptions", &f);
    return;
  }
  s.sub_id = next_sub_id_++;
  mqtt::Subscribe out;
  out.packet_id = next_packet_id();
  out.props.subscription_identifiers.push_back(s.sub_id);
  mqtt::Subscription sub;
  sub.topic_filter = s.filter;
  sub.options.max_qos = s.ack == "auto" ? mqtt::QoS::AtMostOnce : mqtt::QoS::AtLeastOnce;
  out.subscriptions.push_back(std::move(sub));
  Pending pend{Pending::Kind::Subscribe, std::nullopt, std::move(s), *dest};
  if (const auto* r = receipt_of(f)) pend.receipt = *r;
  pending_[out.packet_id] = std::move(pend);
  host_.to_broker(out);
}

void Adapter::handle_unsubscribe(const Frame& f) {
  const auto* id = f.header("id");
  if (id == nullptr) id = f.header("destination");  // 1.0
  auto it = id == nullptr ? subs_.end()
                          : std::find_if(subs_.begin(), subs_.end(),
                                         [&](const Subscription& s) { return s.id == *id; });
  if (it == subs_.end()) {
    receipt(f);  // nothing to undo (EMQX answers the same)
    return;
  }
  // What waited for an ACK of this subscription is settled: nobody can ACK it any more.
  for (const auto& [ack_id, packet_id] : it->unacked)
    host_.to_broker(mqtt::PubAck{packet_id, mqtt::ReasonCode::Success, {}});
  mqtt::Unsubscribe out;
  out.packet_id = next_packet_id();
  out.topic_filters.push_back(it->filter);
  Pending pend{Pending::Kind::Unsubscribe, std::nullopt, {}, {}};
  if (const auto* r = receipt_of(f)) pend.receipt = *r;
  pending_[out.packet_id] = std::move(pend);
  subs_.erase(it);
  host_.to_broker(out);
}

void Adapter::handle_ack(const Frame& f, bool nack) {
  // 1.2: id; 1.1 and 1.0: message-id (and subscription).
  const auto* id = f.header(version_ == "1.2" ? "id" : "message-id");
  if (id == nullptr) id = f.header("id");
  if (id == nullptr) {
    fatal(std::string(nack ? "NACK" : "ACK") + " without an id", &f);
    return;
  }
  for (auto& s : subs_) {
    auto it = std::find_if(s.unacked.begin(), s.unacked.end(),
                           [&](const auto& u) { return u.first == *id; });
    if (it == s.unacked.end()) continue;
    // client: this one and every earlier one of the subscription; client-individual: it.
    auto first = s.ack == "client" ? s.unacked.begin() : it;
    for (auto u = first; u != it + 1; ++u)
      host_.to_broker(mqtt::PubAck{u->second, mqtt::ReasonCode::Success, {}});
    s.unacked.erase(first, it + 1);
    break;
  }
  receipt(f);  // an unknown id is no error: it may have been settled already
}

void Adapter::from_broker(mqtt::Packet&& p) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, mqtt::ConnAck>) {
          if (m.code != 0) {
            const std::string why =
                m.props.reason_string ? *m.props.reason_string : "code " + std::to_string(m.code);
            state_ = State::Closed;
            host_.to_client(Frame{"ERROR",
                                  {{"version", version_},
                                   {"content-type", "text/plain"},
                                   {"message", "Login Failed: " + why}},
                                  {}});
            return;  // the channel closes the connection after a refused CONNACK
          }
          state_ = State::Connected;
          Frame c{"CONNECTED",
                  {{"version", version_},
                   {"heart-beat", std::to_string(send_heartbeat_ms_) + "," +
                                      std::to_string(expect_heartbeat_ms_)},
                   {"server", settings_->server}},
                  {}};
          if (m.props.assigned_client_identifier)
            c.headers.emplace_back("session", *m.props.assigned_client_identifier);
          host_.to_client(c);
          host_.send_heartbeats(send_heartbeat_ms_);
          auto early = std::move(early_);
          early_.clear();
          early_bytes_ = 0;
          for (auto& e : early) {
            if (state_ != State::Connected) break;
            from_client(std::move(e));
          }
        } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
          Subscription* s = nullptr;
          for (auto sid : m.props.subscription_identifiers) {
            for (auto& x : subs_) {
              if (x.sub_id == sid) s = &x;
            }
            if (s != nullptr) break;
          }
          if (s == nullptr) {
            // Not ours any more (unsubscribed while it was on its way): settled, dropped.
            if (m.qos != mqtt::QoS::AtMostOnce)
              host_.to_broker(mqtt::PubAck{m.packet_id, mqtt::ReasonCode::Success, {}});
            return;
          }
          Frame f{"MESSAGE", {}, std::string(m.payload)};
          const std::string message_id = std::to_string(next_message_id_++);
          f.headers.emplace_back("subscription", s->id);
          f.headers.emplace_back("message-id", message_id);
          f.headers.emplace_back("destination", std::string(unmount(m.topic)));
          if (m.props.content_type) f.headers.emplace_back("content-type", *m.props.content_type);
          f.headers.emplace_back("content-length", std::to_string(m.payload.size()));
          if (s->ack != "auto") {
            if (version_ == "1.2") f.headers.emplace_back("ack", message_id);
            if (m.qos != mqtt::QoS::AtMostOnce) {
              if (s->unacked.size() >= kMaxUnacked) {
                // More unacknowledged than packet ids: the oldest is settled.
                host_.to_broker(mqtt::PubAck{s->unacked.front().second, {}, {}});
                s->unacked.pop_front();
              }
              s->unacked.emplace_back(message_id, m.packet_id);
            }
          } else if (m.qos != mqtt::QoS::AtMostOnce) {
            host_.to_broker(mqtt::PubAck{m.packet_id, mqtt::ReasonCode::Success, {}});
          }
          host_.to_client(f);
        } else if constexpr (std::is_same_v<T, mqtt::PubAck>) {
          auto it = pending_.find(m.packet_id);
          if (it == pending_.end()) return;
          Pending pend = std::move(it->second);
          pending_.erase(it);
          if (static_cast<std::uint8_t>(m.reason) >= 0x80) {
            fatal("Insufficient permissions for " + pend.destination, nullptr);
            return;
          }
          if (pend.receipt) host_.to_client(Frame{"RECEIPT", {{"receipt-id", *pend.receipt}}, {}});
        } else if constexpr (std::is_same_v<T, mqtt::SubAck>) {
          auto it = pending_.find(m.packet_id);
          if (it == pending_.end()) return;
          Pending pend = std::move(it->second);
          pending_.erase(it);
          const auto code = m.reason_codes.empty() ? 0x80 : static_cast<int>(m.reason_codes[0]);
          if (code >= 0x80) {
            Frame cause{"SUBSCRIBE", {}, {}};
            if (pend.receipt) cause.headers.emplace_back("receipt", *pend.receipt);
            fatal(code == 0x87 ? "Insufficient permissions for " + pend.destination
                               : "cannot subscribe to " + pend.destination,
                  &cause);
            return;
          }
          subs_.push_back(std::move(pend.sub));
          if (pend.receipt) host_.to_client(Frame{"RECEIPT", {{"receipt-id", *pend.receipt}}, {}});
        } else if constexpr (std::is_same_v<T, mqtt::UnsubAck>) {
          auto it = pending_.find(m.packet_id);
          if (it == pending_.end()) return;
          Pending pend = std::move(it->second);
          pending_.erase(it);
          if (pend.receipt) host_.to_client(Frame{"RECEIPT", {{"receipt-id", *pend.receipt}}, {}});
        } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
          // The server ends it (a kick, a takeover, shutdown): an ERROR says why.
          if (state_ == State::Closed) return;
          state_ = State::Closed;
          host_.to_client(Frame{"ERROR",
                                {{"content-type", "text/plain"},
                                 {"message", "disconnected by the server (reason 0x" +
                                                 [&] {
                                                   char b[3];
                                                   std::snprintf(b, sizeof b, "%02x",
                                                                 static_cast<unsigned>(m.reason));
                                                   return std::string(b);
                                                 }() +
                                                 ")"}},
                                {}});
        }
        // PINGRESP: the answer to a heart-beat, nothing to say to a STOMP client.
      },
      p);
}

void Adapter::fatal(const std::string& message, const Frame* cause) {
  if (state_ == State::Closed) return;
  Frame e{"ERROR", {{"content-type", "text/plain"}, {"message", message}}, message};
  if (cause != nullptr) {
    if (const auto* r = receipt_of(*cause)) e.headers.emplace_back("receipt-id", *r);
  }
  e.headers.emplace_back("content-length", std::to_string(e.body.size()));
  host_.to_client(e);
  state_ = State::Closed;
  host_.end_after_output();
}

void Adapter::receipt(const Frame& cause) {
  if (const auto* r = receipt_of(cause))
    host_.to_client(Frame{"RECEIPT", {{"receipt-id", *r}}, {}});
}

std::uint16_t Adapter::next_packet_id() {
  do {
    next_packet_id_ =
        static_cast<std::uint16_t>(next_packet_id_ == 0xFFFF ? 1 : next_packet_id_ + 1);
  } while (pending_.contains(next_packet_id_));
  return next_packet_id_;
}

std::string Adapter::mount(std::string_view topic) const {
  return mountpoint_ + std::string(topic);
}

std::string_view Adapter::unmount(std::string_view topic) const {
  if (!mountpoint_.empty() && topic.starts_with(mountpoint_))
    topic.remove_prefix(mountpoint_.size());
  return topic;
}

}  // namespace emqxd::gateways::stomp
