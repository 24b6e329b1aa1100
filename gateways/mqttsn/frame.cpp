// MQTT-SN 1.2 messages (frame.hpp).
#include "gateways/mqttsn/frame.hpp"

namespace emqxd::gateways::mqttsn {

namespace {

// The variable part of a message, read front to back.
struct Reader {
  std::string_view s;
  bool ok = true;
  std::uint8_t u8() {
    if (s.empty()) {
      ok = false;
      return 0;
    }
    auto v = static_cast<std::uint8_t>(s[0]);
    s.remove_prefix(1);
    return v;
  }
  std::uint16_t u16() {
    if (s.size() < 2) {
      ok = false;
      s = {};
      return 0;
    }
    auto v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(s[0]) << 8) |
                                        static_cast<std::uint8_t>(s[1]));
    s.remove_prefix(2);
    return v;
  }
  std::string rest() {
    std::string v(s);
    s = {};
    return v;
  }
  bool done() const { return ok && s.empty(); }
};

void put16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v & 0xFF));
}

// A topic of PUBLISH: always two octets (a topic id, a pre-defined id, or a short name).
void put_topic2(std::string& out, const Flags& f, const Topic& t) {
  if (f.topic_id_type == TopicIdType::Short) {
    out.push_back(t.name.size() > 0 ? t.name[0] : '\0');
    out.push_back(t.name.size() > 1 ? t.name[1] : '\0');
  } else {
    put16(out, t.id);
  }
}

Topic read_topic2(Reader& r, const Flags& f) {
  Topic t;
  if (f.topic_id_type == TopicIdType::Short) {
    const char a = static_cast<char>(r.u8());
    const char b = static_cast<char>(r.u8());
    t.name = {a, b};
  } else {
    t.id = r.u16();
  }
  return t;
}

// SUBSCRIBE and UNSUBSCRIBE: a name (the rest) for Normal, else two octets.
void put_sub_topic(std::string& out, const Flags& f, const Topic& t) {
  if (f.topic_id_type == TopicIdType::Normal) {
    out += t.name;
  } else {
    put_topic2(out, f, t);
  }
}

Topic read_sub_topic(Reader& r, const Flags& f) {
  if (f.topic_id_type == TopicIdType::Normal) return Topic{0, r.rest()};
  return read_topic2(r, f);
}

template <class T>
Result<Packet> done(Reader& r, T value) {
  if (!r.done()) return Errc::MalformedPacket;
  return Packet(std::move(value));
}

}  // namespace

std::uint8_t encode_flags(const Flags& f) {
  const std::uint8_t qos = f.qos < 0 ? 3 : static_cast<std::uint8_t>(f.qos & 3);
  return static_cast<std::uint8_t>((f.dup ? 0x80 : 0) | (qos << 5) | (f.retain ? 0x10 : 0) |
                                   (f.will ? 0x08 : 0) | (f.clean_session ? 0x04 : 0) |
                                   static_cast<std::uint8_t>(f.topic_id_type));
}

std::optional<Flags> decode_flags(std::uint8_t b) {
  if ((b & 0x03) == 0x03) return std::nullopt;  // TopicIdType 11 is reserved
  Flags f;
  f.dup = (b & 0x80) != 0;
  const int q = (b >> 5) & 3;
  f.qos = static_cast<std::int8_t>(q == 3 ? -1 : q);
  f.retain = (b & 0x10) != 0;
  f.will = (b & 0x08) != 0;
  f.clean_session = (b & 0x04) != 0;
  f.topic_id_type = static_cast<TopicIdType>(b & 0x03);
  return f;
}

Result<Packet> decode(std::string_view d) {
  if (d.size() < 2) return Errc::MalformedPacket;
  std::size_t length = static_cast<std::uint8_t>(d[0]);
  std::size_t header = 1;
  if (length == 0x01) {  // 5.2.1: three octets
    if (d.size() < 4) return Errc::MalformedPacket;
    length = (static_cast<std::size_t>(static_cast<std::uint8_t>(d[1])) << 8) |
             static_cast<std::uint8_t>(d[2]);
    header = 3;
  }
  if (length != d.size() || length < header + 1) return Errc::MalformedPacket;
  const auto type = static_cast<std::uint8_t>(d[header]);
  Reader r{d.substr(header + 1)};
  auto flags = [&]() -> std::optional<Flags> {
    const std::uint8_t b = r.u8();
    if (!r.ok) return std::nullopt;
    return decode_flags(b);
  };
  auto rc = [&]() {
    return static_cast<ReturnCode>(r.u8());  // any value: the channel reads what it knows
  };
  switch (static_cast<MsgType>(type)) {
    case MsgType::Advertise: {
      Advertise m;
      m.gw_id = r.u8();
      m.duration = r.u16();
      return done(r, m);
    }
    case MsgType::SearchGw:
      return done(r, SearchGw{r.u8()});
    case MsgType::GwInfo: {
      GwInfo m;
      m.gw_id = r.u8();
      if (!r.ok) return Errc::MalformedPacket;
      m.gw_add = r.rest();
      return done(r, m);
    }
    case MsgType::Connect: {
      Connect m;
      auto f = flags();
      if (!f) return Errc::MalformedPacket;
      m.flags = *f;
      m.protocol_id = r.u8();
      m.duration = r.u16();
      if (!r.ok) return Errc::MalformedPacket;
      m.client_id = r.rest();
      return done(r, m);
    }
    case MsgType::Connack:
      return done(r, Connack{rc()});
    case MsgType::WillTopicReq:
      return done(r, WillTopicReq{});
    case MsgType::WillTopic:
    case MsgType::WillTopicUpd: {
      WillTopic m;
      if (r.s.empty()) {
        m.empty = true;  // 5.4.7: no flags, no topic: the will goes
      } else {
        auto f = flags();
        if (!f || f->qos < 0) return Errc::MalformedPacket;
        m.flags = *f;
        m.topic = r.rest();
      }
      if (static_cast<MsgType>(type) == MsgType::WillTopic) return done(r, m);
      return done(r, WillTopicUpd{m.empty, m.flags, std::move(m.topic)});
    }
    case MsgType::WillMsgReq:
      return done(r, WillMsgReq{});
    case MsgType::WillMsg:
      return done(r, WillMsg{r.rest()});
    case MsgType::WillMsgUpd:
      return done(r, WillMsgUpd{r.rest()});
    case MsgType::Register: {
      Register m;
      m.topic_id = r.u16();
      m.msg_id = r.u16();
      if (!r.ok) return Errc::MalformedPacket;
      m.topic_name = r.rest();
      return done(r, m);
    }
    case MsgType::Regack: {
      Regack m;
      m.topic_id = r.u16();
      m.msg_id = r.u16();
      m.rc = rc();
      return done(r, m);
    }
    case MsgType::Publish: {
      Publish m;
      auto f = flags();
      if (!f) return Errc::MalformedPacket;
      m.flags = *f;
      m.topic = read_topic2(r, m.flags);
      m.msg_id = r.u16();
      if (!r.ok) return Errc::MalformedPacket;
      m.data = r.rest();
      return done(r, m);
    }
    case MsgType::Puback: {
      Puback m;
      m.topic_id = r.u16();
      m.msg_id = r.u16();
      m.rc = rc();
      return done(r, m);
    }
    case MsgType::Pubrec:
      return done(r, Pubrec{r.u16()});
    case MsgType::Pubrel:
      return done(r, Pubrel{r.u16()});
    case MsgType::Pubcomp:
      return done(r, Pubcomp{r.u16()});
    case MsgType::Subscribe:
    case MsgType::Unsubscribe: {
      auto f = flags();
      if (!f) return Errc::MalformedPacket;
      const std::uint16_t msg_id = r.u16();
      if (!r.ok) return Errc::MalformedPacket;
      Topic t = read_sub_topic(r, *f);
      if (static_cast<MsgType>(type) == MsgType::Subscribe) {
        if (f->qos < 0) return Errc::MalformedPacket;  // QoS -1 is for PUBLISH only
        return done(r, Subscribe{*f, msg_id, std::move(t)});
      }
      return done(r, Unsubscribe{*f, msg_id, std::move(t)});
    }
    case MsgType::Suback: {
      Suback m;
      auto f = flags();
      if (!f) return Errc::MalformedPacket;
      m.flags = *f;
      m.topic_id = r.u16();
      m.msg_id = r.u16();
      m.rc = rc();
      return done(r, m);
    }
    case MsgType::Unsuback:
      return done(r, Unsuback{r.u16()});
    case MsgType::Pingreq:
      return done(r, Pingreq{r.rest()});
    case MsgType::Pingresp:
      return done(r, Pingresp{});
    case MsgType::Disconnect: {
      Disconnect m;
      if (!r.s.empty()) m.duration = r.u16();
      return done(r, m);
    }
    case MsgType::WillTopicResp:
      return done(r, WillTopicResp{rc()});
    case MsgType::WillMsgResp:
      return done(r, WillMsgResp{rc()});
    case MsgType::Encapsulated:
      return Errc::ProtocolError;
  }
  return Errc::MalformedPacket;  // a reserved or unknown type
}

namespace {

// The type and the variable part of `p`.
MsgType body(const Packet& p, std::string& b) {
  struct Visit {
    std::string& b;
    MsgType operator()(const Advertise& m) {
      b.push_back(static_cast<char>(m.gw_id));
      put16(b, m.duration);
      return MsgType::Advertise;
    }
    MsgType operator()(const SearchGw& m) {
      b.push_back(static_cast<char>(m.radius));
      return MsgType::SearchGw;
    }
    MsgType operator()(const GwInfo& m) {
      b.push_back(static_cast<char>(m.gw_id));
      b += m.gw_add;
      return MsgType::GwInfo;
    }
    MsgType operator()(const Connect& m) {
      b.push_back(static_cast<char>(encode_flags(m.flags)));
      b.push_back(static_cast<char>(m.protocol_id));
      put16(b, m.duration);
      b += m.client_id;
      return MsgType::Connect;
    }
    MsgType operator()(const Connack& m) {
      b.push_back(static_cast<char>(m.rc));
      return MsgType::Connack;
    }
    MsgType operator()(const WillTopicReq&) { return MsgType::WillTopicReq; }
    MsgType operator()(const WillTopic& m) {
      if (!m.empty) {
        b.push_back(static_cast<char>(encode_flags(m.flags)));
        b += m.topic;
      }
      return MsgType::WillTopic;
    }
    MsgType operator()(const WillMsgReq&) { return MsgType::WillMsgReq; }
    MsgType operator()(const WillMsg& m) {
      b += m.msg;
      return MsgType::WillMsg;
    }
    MsgType operator()(const Register& m) {
      put16(b, m.topic_id);
      put16(b, m.msg_id);
      b += m.topic_name;
      return MsgType::Register;
    }
    MsgType operator()(const Regack& m) {
      put16(b, m.topic_id);
      put16(b, m.msg_id);
      b.push_back(static_cast<char>(m.rc));
      return MsgType::Regack;
    }
    MsgType operator()(const Publish& m) {
      b.push_back(static_cast<char>(encode_flags(m.flags)));
      put_topic2(b, m.flags, m.topic);
      put16(b, m.msg_id);
      b += m.data;
      return MsgType::Publish;
    }
    MsgType operator()(const Puback& m) {
      put16(b, m.topic_id);
      put16(b, m.msg_id);
      b.push_back(static_cast<char>(m.rc));
      return MsgType::Puback;
    }
    MsgType operator()(const Pubrec& m) {
      put16(b, m.msg_id);
      return MsgType::Pubrec;
    }
    MsgType operator()(const Pubrel& m) {
      put16(b, m.msg_id);
      return MsgType::Pubrel;
    }
    MsgType operator()(const Pubcomp& m) {
      put16(b, m.msg_id);
      return MsgType::Pubcomp;
    }
    MsgType operator()(const Subscribe& m) {
      b.push_back(static_cast<char>(encode_flags(m.flags)));
      put16(b, m.msg_id);
      put_sub_topic(b, m.flags, m.topic);
      return MsgType::Subscribe;
    }
    MsgType operator()(const Suback& m) {
      b.push_back(static_cast<char>(encode_flags(m.flags)));
      put16(b, m.topic_id);
      put16(b, m.msg_id);
      b.push_back(static_cast<char>(m.rc));
      return MsgType::Suback;
    }
    MsgType operator()(const Unsubscribe& m) {
      b.push_back(static_cast<char>(encode_flags(m.flags)));
      put16(b, m.msg_id);
      put_sub_topic(b, m.flags, m.topic);
      return MsgType::Unsubscribe;
    }
    MsgType operator()(const Unsuback& m) {
      put16(b, m.msg_id);
      return MsgType::Unsuback;
    }
    MsgType operator()(const Pingreq& m) {
      b += m.client_id;
      return MsgType::Pingreq;
    }
    MsgType operator()(const Pingresp&) { return MsgType::Pingresp; }
    MsgType operator()(const Disconnect& m) {
      if (m.duration) put16(b, *m.duration);
      return MsgType::Disconnect;
    }
    MsgType operator()(const WillTopicUpd& m) {
      if (!m.empty) {
        b.push_back(static_cast<char>(encode_flags(m.flags)));
        b += m.topic;
      }
      return MsgType::WillTopicUpd;
    }
    MsgType operator()(const WillMsgUpd& m) {
      b += m.msg;
      return MsgType::WillMsgUpd;
    }
    MsgType operator()(const WillTopicResp& m) {
      b.push_back(static_cast<char>(m.rc));
      return MsgType::WillTopicResp;
    }
    MsgType operator()(const WillMsgResp& m) {
      b.push_back(static_cast<char>(m.rc));
      return MsgType::WillMsgResp;
    }
  };
  return std::visit(Visit{b}, p);
}

}  // namespace

void encode(const Packet& p, std::string& out) {
  std::string b;
  const MsgType type = body(p, b);
  // Length counts itself and MsgType: 1 + 1 + body below 256, else 3 + 1 + body.
  if (b.size() + 2 > kMaxMessage - 2) b.resize(kMaxMessage - 4);
  const std::size_t short_len = b.size() + 2;
  if (short_len < 256) {
    out.push_back(static_cast<char>(short_len));
  } else {
    const std::size_t len = b.size() + 4;
    out.push_back(0x01);
    put16(out, static_cast<std::uint16_t>(len));
  }
  out.push_back(static_cast<char>(type));
  out += b;
}

}  // namespace emqxd::gateways::mqttsn
