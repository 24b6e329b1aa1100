// One MQTT-SN client over an MQTT channel (adapter.hpp).
#include "gateways/mqttsn/adapter.hpp"

#include <algorithm>

namespace emqxd::gateways::mqttsn {

namespace {

mqtt::QoS qos_of(std::int8_t q) {
  return q == 2 ? mqtt::QoS::ExactlyOnce : q == 1 ? mqtt::QoS::AtLeastOnce : mqtt::QoS::AtMostOnce;
}

// A short topic name's two octets as the TopicId field of PUBACK carries them.
std::uint16_t short_id(const std::string& name) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(name[0]) << 8) |
                                    static_cast<std::uint8_t>(name[1]));
}

// A topic name a client may REGISTER: not empty, no wildcard, no U+0000 [MQTT-4.7.3-1/2].
bool valid_topic_name(std::string_view t) {
  return !t.empty() && t.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

bool has_wildcard(std::string_view f) {
  return f.find_first_of("+#") != std::string_view::npos;
}

}  // namespace

std::optional<std::string> anonymous_topic(const Settings& settings, const Publish& p) {
  const std::string mountpoint = with_client_id(settings.mountpoint, "");
  if (p.flags.topic_id_type == TopicIdType::Short) return mountpoint + p.topic.name;
  if (p.flags.topic_id_type == TopicIdType::Predefined) {
    auto it = settings.predefined.find(p.topic.id);
    if (it != settings.predefined.end()) return mountpoint + it->second;
  }
  return std::nullopt;
}

Adapter::Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host)
    : settings_(std::move(settings)), host_(host) {}

// ----------------------------------------------------------------------------- client

void Adapter::from_client(Packet&& p) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, Connect>) {
          handle_connect(m);
        } else if constexpr (std::is_same_v<T, WillTopic>) {
          if (state_ != State::WillTopic) return;
          if (m.empty) {
            will_.reset();
            connect_to_broker();
            return;
          }
          will_ = mqtt::Will{mount(m.topic), {}, qos_of(m.flags.qos), m.flags.retain, {}};
          state_ = State::WillMsg;
          host_.to_client(WillMsgReq{});
        } else if constexpr (std::is_same_v<T, WillMsg>) {
          if (state_ != State::WillMsg || !will_) return;
          will_->payload = std::move(m.msg);
          connect_to_broker();
        } else if constexpr (std::is_same_v<T, Register>) {
          handle_register(m);
        } else if constexpr (std::is_same_v<T, Regack>) {
          handle_regack(m);
        } else if constexpr (std::is_same_v<T, Publish>) {
          handle_publish(m);
        } else if constexpr (std::is_same_v<T, Puback>) {
          if (state_ != State::Connected && state_ != State::Asleep) return;
          if (m.rc == ReturnCode::InvalidTopicId) {
            // The client has lost the id (6.10): forget it, and leave the message unacked;
            // the channel sends it again after mqtt.retry_interval, under a new REGISTER.
            forget(m.topic_id);
            return;
          }
          host_.to_broker(mqtt::PubAck{m.msg_id, mqtt::ReasonCode::Success, {}});
        } else if constexpr (std::is_same_v<T, Pubrec>) {
          if (state_ == State::Connected || state_ == State::Asleep)
            host_.to_broker(mqtt::PubRec{m.msg_id, mqtt::ReasonCode::Success, {}});
        } else if constexpr (std::is_same_v<T, Pubrel>) {
          if (state_ == State::Connected || state_ == State::Asleep)
            host_.to_broker(mqtt::PubRel{m.msg_id, mqtt::ReasonCode::Success, {}});
        } else if constexpr (std::is_same_v<T, Pubcomp>) {
          if (state_ == State::Connected || state_ == State::Asleep)
            host_.to_broker(mqtt::PubComp{m.msg_id, mqtt::ReasonCode::Success, {}});
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          handle_subscribe(m, false);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          Subscribe s{m.flags, m.msg_id, std::move(m.topic)};
          handle_subscribe(s, true);
        } else if constexpr (std::is_same_v<T, Pingreq>) {
          handle_pingreq(m);
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          handle_disconnect(m);
        } else if constexpr (std::is_same_v<T, SearchGw>) {
          host_.to_client(GwInfo{settings_->gateway_id, {}});
        } else if constexpr (std::is_same_v<T, WillTopicUpd>) {
          if (state_ != State::Connected) return;
          if (m.empty) {
            will_.reset();
          } else {
            std::string payload = will_ ? std::move(will_->payload) : std::string();
            will_ = mqtt::Will{
                mount(m.topic), std::move(payload), qos_of(m.flags.qos), m.flags.retain, {}};
          }
          host_.set_will(will_);
          host_.to_client(WillTopicResp{ReturnCode::Accepted});
        } else if constexpr (std::is_same_v<T, WillMsgUpd>) {
          if (state_ != State::Connected) return;
          if (!will_) {
            host_.to_client(WillMsgResp{ReturnCode::NotSupported});
            return;
          }
          will_->payload = std::move(m.msg);
          host_.set_will(will_);
          host_.to_client(WillMsgResp{ReturnCode::Accepted});
        }
        // ADVERTISE and GWINFO from clients, and messages only a gateway sends: ignored.
      },
      p);
}

void Adapter::handle_connect(Connect& c) {
  // A CONNECT on a connected client is a new connection: the caller makes one (its
  // session is taken over as MQTT's would be). Here: the first, or a repeated one while
  // the will dialogue runs, which starts it again.
  if (state_ != State::Idle && state_ != State::WillTopic && state_ != State::WillMsg) return;
  if (c.protocol_id != 0x01) {
    host_.to_client(Connack{ReturnCode::NotSupported});
    return;
  }
  client_id_ = c.client_id;
  mountpoint_ = with_client_id(settings_->mountpoint, client_id_);
  connect_ = mqtt::Connect{};
  connect_.version = mqtt::ProtocolVersion::V3_1_1;
  connect_.clean_start = c.flags.clean_session;
  connect_.keep_alive = c.duration != 0 ? c.duration : settings_->idle_keep_alive_s;
  connect_.client_id = c.client_id;
  settings_->client_override.apply(connect_);
  will_.reset();
  if (c.flags.will) {
    state_ = State::WillTopic;
    host_.to_client(WillTopicReq{});
    return;
  }
  connect_to_broker();
}

void Adapter::connect_to_broker() {
  connect_.will = will_;
  state_ = State::Connecting;
  host_.to_broker(connect_);
}

void Adapter::handle_register(Register& r) {
  if (state_ != State::Connected) return;
  if (!valid_topic_name(r.topic_name)) {
    host_.to_client(Regack{0, r.msg_id, ReturnCode::NotSupported});
    return;
  }
  const std::uint16_t id = register_name(r.topic_name, false);
  host_.to_client(Regack{id, r.msg_id, id == 0 ? ReturnCode::Congestion : ReturnCode::Accepted});
}

void Adapter::handle_publish(Publish& p) {
  // QoS -1 from a client that is not connected is the connection's (anonymous_topic);
  // from a connected client it is QoS 0.
  if (state_ != State::Connected && state_ != State::Asleep) return;
  const auto topic = resolve(p.flags.topic_id_type, p.topic);
  const std::uint16_t topic_id =
      p.flags.topic_id_type == TopicIdType::Short ? short_id(p.topic.name) : p.topic.id;
  if (!topic) {
    host_.to_client(Puback{topic_id, p.msg_id, ReturnCode::InvalidTopicId});
    return;
  }
  const mqtt::QoS qos = qos_of(p.flags.qos);
  if (qos == mqtt::QoS::AtLeastOnce) puback_topic_[p.msg_id] = topic_id;
  mqtt::Publish out;
  out.dup = p.flags.dup && qos != mqtt::QoS::AtMostOnce;
  out.qos = qos;
  out.retain = p.flags.retain;
  out.topic = *topic;
  out.packet_id = qos == mqtt::QoS::AtMostOnce ? 0 : p.msg_id;
  out.payload = p.data;
  host_.to_broker(out);
}

void Adapter::handle_subscribe(Subscribe& s, bool unsubscribe) {
  if (state_ != State::Connected) return;
  std::optional<std::string> filter;
  std::uint16_t topic_id = 0;
  switch (s.flags.topic_id_type) {
    case TopicIdType::Normal:
      filter = mount(s.topic.name);
      // A topic name without wildcards gets its id now, for the PUBLISHes to come (6.9).
      if (!unsubscribe && valid_topic_name(s.topic.name) && !has_wildcard(s.topic.name)) {
        topic_id = register_name(s.topic.name, true);
      }
      break;
    case TopicIdType::Predefined:
      filter = resolve(TopicIdType::Predefined, s.topic);
      topic_id = s.topic.id;
      break;
    case TopicIdType::Short:
      filter = mount(s.topic.name);
      break;
  }
  if (unsubscribe) {
    if (!filter) {
      host_.to_client(Unsuback{s.msg_id});
      return;
    }
    host_.to_broker(mqtt::Unsubscribe{s.msg_id, {}, {*filter}});
    return;
  }
  if (!filter) {
    host_.to_client(Suback{Flags{}, topic_id, s.msg_id, ReturnCode::InvalidTopicId});
    return;
  }
  suback_topic_[s.msg_id] = topic_id;
  mqtt::Subscribe out;
  out.packet_id = s.msg_id;
  mqtt::Subscription sub;
  sub.topic_filter = std::move(*filter);
  sub.options.max_qos = qos_of(s.flags.qos);
  out.subscriptions.push_back(std::move(sub));
  host_.to_broker(out);
}

void Adapter::handle_pingreq(const Pingreq& p) {
  if (state_ == State::Asleep) {
    // 6.14: the client is awake for what waits for it, then PINGRESP, then asleep again.
    if (!p.client_id.empty() && p.client_id != client_id_) return;
    waking_ = true;
    host_.wake();
    drain();
    host_.to_broker(mqtt::PingReq{});
    return;
  }
  if (state_ == State::Connected) {
    host_.to_broker(mqtt::PingReq{});
    return;
  }
  host_.to_client(Disconnect{});  // not connected: it should CONNECT
}

void Adapter::handle_disconnect(const Disconnect& d) {
  if (state_ == State::Connected && d.duration && *d.duration > 0) {
    state_ = State::Asleep;
    sleep_duration_ = *d.duration;
    host_.to_client(Disconnect{});  // 6.14: acknowledged with a DISCONNECT
    host_.sleep(std::chrono::seconds(sleep_duration_));
    return;
  }
  if (state_ == State::Connected || state_ == State::Asleep || state_ == State::Connecting) {
    held_.clear();
    pending_register_.reset();
    host_.to_client(Disconnect{});
    host_.to_broker(mqtt::Disconnect{});  // the channel ends the session as MQTT's would
    state_ = State::Idle;
    return;
  }
  host_.to_client(Disconnect{});
}

void Adapter::handle_regack(const Regack& r) {
  if (!pending_register_ || r.msg_id != pending_register_->reg.msg_id) return;
  const std::uint16_t id = pending_register_->reg.topic_id;
  pending_register_.reset();
  if (r.rc != ReturnCode::Accepted) {
    // Refused: what waited for that id is not sent (its QoS 1/2 messages are sent again by
    // the channel later, under a new REGISTER).
    forget(id);
    std::erase_if(held_, [id](const Packet& p) {
      const auto* pub = std::get_if<Publish>(&p);
      return pub != nullptr && pub->flags.topic_id_type == TopicIdType::Normal &&
             pub->topic.id == id;
    });
  }
  drain();
}

bool Adapter::register_timeout() {
  if (!pending_register_) return true;
  if (pending_register_->tries >= kRegisterTries) return false;
  ++pending_register_->tries;
  host_.to_client(pending_register_->reg);
  return true;
}

// ----------------------------------------------------------------------------- broker

void Adapter::from_broker(mqtt::Packet&& p) {
  std::visit(
      [&](auto& m) {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, mqtt::ConnAck>) {
          if (m.code == 0) {
            state_ = State::Connected;
            host_.to_client(Connack{ReturnCode::Accepted});
            return;
          }
          state_ = State::Idle;
          const auto rc = static_cast<mqtt::ConnectReturnCode>(m.code);
          host_.to_client(Connack{rc == mqtt::ConnectReturnCode::ServerUnavailable
                                      ? ReturnCode::Congestion
                                      : ReturnCode::NotSupported});
        } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
          send_publish(m);
        } else if constexpr (std::is_same_v<T, mqtt::PubAck>) {
          std::uint16_t topic_id = 0;
          if (auto it = puback_topic_.find(m.packet_id); it != puback_topic_.end()) {
            topic_id = it->second;
            puback_topic_.erase(it);
          }
          send(Puback{topic_id, m.packet_id, ReturnCode::Accepted});
        } else if constexpr (std::is_same_v<T, mqtt::PubRec>) {
          send(Pubrec{m.packet_id});
        } else if constexpr (std::is_same_v<T, mqtt::PubRel>) {
          send(Pubrel{m.packet_id});
        } else if constexpr (std::is_same_v<T, mqtt::PubComp>) {
          send(Pubcomp{m.packet_id});
        } else if constexpr (std::is_same_v<T, mqtt::SubAck>) {
          std::uint16_t topic_id = 0;
          if (auto it = suback_topic_.find(m.packet_id); it != suback_topic_.end()) {
            topic_id = it->second;
            suback_topic_.erase(it);
          }
          const auto code = m.reason_codes.empty() ? 0x80 : static_cast<int>(m.reason_codes[0]);
          Suback s;
          s.msg_id = m.packet_id;
          s.topic_id = topic_id;
          if (code <= 2) {
            s.flags.qos = static_cast<std::int8_t>(code);
          } else {
            s.rc = ReturnCode::NotSupported;  // refused (not authorized, or a bad filter)
          }
          send(s);
        } else if constexpr (std::is_same_v<T, mqtt::UnsubAck>) {
          send(Unsuback{m.packet_id});
        } else if constexpr (std::is_same_v<T, mqtt::PingResp>) {
          // Waking: the messages that waited go first, then PINGRESP, and with it the
          // client is asleep again (drain).
          send(Pingresp{});
        } else if constexpr (std::is_same_v<T, mqtt::Disconnect>) {
          host_.to_client(Disconnect{});
        }
      },
      p);
}

void Adapter::send_publish(const mqtt::Publish& p) {
  const std::string topic(unmount(p.topic));
  Publish out;
  out.flags.dup = p.dup;
  out.flags.qos = static_cast<std::int8_t>(p.qos);
  out.flags.retain = p.retain;
  out.msg_id = p.packet_id;
  out.data.assign(p.payload);
  if (auto it = settings_->predefined_ids.find(topic); it != settings_->predefined_ids.end()) {
    out.flags.topic_id_type = TopicIdType::Predefined;
    out.topic.id = it->second;
  } else if (topic.size() == 2) {
    out.flags.topic_id_type = TopicIdType::Short;
    out.topic.name = topic;
  } else if (auto known = ids_.find(topic); known != ids_.end()) {
    out.topic.id = known->second;
  } else {
    // A topic this client has no id for: REGISTER it first (6.10); the PUBLISH waits.
    out.topic.id = register_name(topic, true);
    if (out.topic.id == 0) {
      // Every id is one the client registered itself: none can be given (0 is reserved).
      // Not sent; a QoS 1/2 message comes again from the channel.
      return;
    }
    send(Register{out.topic.id, next_msg_id_, topic});
    next_msg_id_ = static_cast<std::uint16_t>(next_msg_id_ == 0xFFFF ? 1 : next_msg_id_ + 1);
  }
  send(std::move(out));
}

// ----------------------------------------------------------------------------- helpers

void Adapter::send(Packet p) {
  held_.push_back(std::move(p));
  if (held_.size() > kMaxHeld) {
    // Bounded: the oldest PUBLISH goes (a QoS 1/2 one comes again from the channel).
    auto it = std::find_if(held_.begin(), held_.end(),
                           [](const Packet& q) { return std::holds_alternative<Publish>(q); });
    held_.erase(it == held_.end() ? held_.begin() : it);
  }
  drain();
}

void Adapter::drain() {
  std::size_t sent = 0;
  while (!pending_register_ && sent < held_.size() && (state_ != State::Asleep || waking_)) {
    const Packet& p = held_[sent++];
    if (const auto* r = std::get_if<Register>(&p)) pending_register_ = PendingRegister{*r, 1};
    host_.to_client(p);
    if (waking_ && std::holds_alternative<Pingresp>(p)) {
      waking_ = false;
      host_.sleep(std::chrono::seconds(sleep_duration_));
    }
  }
  held_.erase(held_.begin(), held_.begin() + static_cast<std::ptrdiff_t>(sent));
  if (held_.empty() && held_.capacity() > 64) std::vector<Packet>().swap(held_);
}

std::optional<std::string> Adapter::resolve(TopicIdType type, const Topic& t) const {
  switch (type) {
    case TopicIdType::Normal: {
      auto it = names_.find(t.id);
      if (it == names_.end()) return std::nullopt;
      return mount(it->second);
    }
    case TopicIdType::Predefined: {
      auto it = settings_->predefined.find(t.id);
      if (it == settings_->predefined.end()) return std::nullopt;
      return mount(it->second);
    }
    case TopicIdType::Short:
      return mount(t.name);
  }
  return std::nullopt;
}

void Adapter::forget(std::uint16_t id) {
  auto it = names_.find(id);
  if (it == names_.end()) return;
  ids_.erase(it->second);
  name_bytes_ -= it->second.size();
  names_.erase(it);
  std::erase(given_, id);
}

std::string Adapter::mount(std::string_view topic) const {
  std::string out;
  out.reserve(mountpoint_.size() + topic.size());
  out += mountpoint_;
  out += topic;
  return out;
}

std::string_view Adapter::unmount(std::string_view topic) const {
  if (!mountpoint_.empty() && topic.starts_with(mountpoint_))
    topic.remove_prefix(mountpoint_.size());
  return topic;
}

std::uint16_t Adapter::register_name(const std::string& name, bool reuse) {
  if (auto it = ids_.find(name); it != ids_.end()) return it->second;
  const bool full =
      names_.size() >= kMaxRegistered || name_bytes_ + name.size() > kMaxRegisteredBytes;
  std::uint16_t id = 0;
  if (full) {
    if (!reuse || given_.empty()) return 0;
    // The oldest id the gateway gave goes to the new name; a REGISTER tells the client.
    id = given_.front();  // forget() takes it out of given_
    forget(id);
  } else {
    // 0x0000 and 0xFFFF are reserved (5.3.11).
    while (next_id_ == 0 || next_id_ == 0xFFFF || names_.contains(next_id_))
      ++next_id_;
    id = next_id_++;
  }
  names_[id] = name;
  ids_[name] = id;
  name_bytes_ += name.size();
  if (reuse) given_.push_back(id);
  return id;
}

}  // namespace emqxd::gateways::mqttsn
