// decode(): one function per packet type, each reading the body front to back with a
// bounds-checked Reader. How errors are classified is explained at the top of codec.cpp.
#include <cstdint>
#include <string_view>
#include <utility>

#include "mqtt/codec.hpp"
#include "mqtt/codec_properties.hpp"
#include "mqtt/codec_wire.hpp"

namespace emqxd::mqtt {
namespace {

using detail::PropertyScope;
using detail::Reader;
using detail::Verdict;

constexpr Errc kMalformed = Errc::MalformedPacket;

bool is_v5(ProtocolVersion v) {
  return v == ProtocolVersion::V5;
}

// The end of a decode: a Malformed Packet was returned earlier, so all that is left to
// report is the first Protocol Error, if any.
Result<Packet> finish(Packet&& p, const Verdict& verdict) {
  if (verdict.has_protocol_error()) return Errc::ProtocolError;
  return std::move(p);
}

// [MQTT-2.2.1-3], [MQTT-2.2.1-4]: packet identifiers are non-zero. The spec attaches no error
// class; a zero identifier parses fine, so it is a Protocol Error (section 1.2). The
// acknowledgements must echo an identifier that was sent [MQTT-2.2.1-5/6], so 0 is one there
// too.
void check_packet_id(std::uint16_t id, Verdict& verdict) {
  if (id == 0) verdict.protocol_error();
}

// --- Reason codes each packet may carry (tables 3-1, 3-4 to 3-11) -----------------------
// The sender MUST use one of them ([MQTT-3.2.2-8], [MQTT-3.4.2-1], ...); a value outside the
// table parses but is not allowed: Protocol Error.

// clang-format off
bool connack_code_ok(std::uint8_t c) {
  switch (c) {
    case 0x00: case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86:
    case 0x87: case 0x88: case 0x89: case 0x8A: case 0x8C: case 0x90: case 0x95: case 0x97:
    case 0x99: case 0x9A: case 0x9B: case 0x9C: case 0x9D: case 0x9F:
      return true;
    default:
      return false;
  }
}

bool pub_response_code_ok(PacketType t, std::uint8_t c) {
  if (t == PacketType::PubRel || t == PacketType::PubComp) return c == 0x00 || c == 0x92;
  switch (c) {  // PUBACK and PUBREC
    case 0x00: case 0x10: case 0x80: case 0x83: case 0x87: case 0x90: case 0x91: case 0x97:
    case 0x99:
      return true;
    default:
      return false;
  }
}

bool suback_code_ok(std::uint8_t c, ProtocolVersion v) {
  if (!is_v5(v)) return c <= 0x02 || c == 0x80;  // [MQTT-3.9.3-2] in 3.1.1
  switch (c) {
    case 0x00: case 0x01: case 0x02: case 0x80: case 0x83: case 0x87: case 0x8F: case 0x91:
    case 0x97: case 0x9E: case 0xA1: case 0xA2:
      return true;
    default:
      return false;
  }
}

bool unsuback_code_ok(std::uint8_t c) {
  switch (c) {
    case 0x00: case 0x11: case 0x80: case 0x83: case 0x87: case 0x8F: case 0x91:
      return true;
    default:
      return false;
  }
}

bool disconnect_code_ok(std::uint8_t c) {
  switch (c) {
    case 0x00: case 0x04: case 0x80: case 0x81: case 0x82: case 0x83: case 0x87: case 0x89:
    case 0x8B: case 0x8D: case 0x8E: case 0x8F: case 0x90: case 0x93: case 0x94: case 0x95:
    case 0x96: case 0x97: case 0x98: case 0x99: case 0x9A: case 0x9B: case 0x9C: case 0x9D:
    case 0x9E: case 0x9F: case 0xA0: case 0xA1: case 0xA2:
      return true;
    default:
      return false;
  }
}

// clang-format on

bool auth_code_ok(std::uint8_t c) {
  return c == 0x00 || c == 0x18 || c == 0x19;
}

// --- Packets ------------------------------------------------------------------------------

Result<Packet> decode_connect(Reader& r) {
  Verdict verdict;
  Connect c;
  std::string_view name;
  std::uint8_t level = 0;
  if (!r.binary(name) || !r.u8(level)) return kMalformed;
  // [MQTT-3.1.2-1], [MQTT-3.1.2-2]: an unknown name or level is not ours to parse further;
  // the channel answers CONNACK 0x84 (v5) or return code 0x01 (v3).
  if (name == "MQTT" && (level == 4 || level == 5)) {
    c.version = static_cast<ProtocolVersion>(level);
  } else if (name == "MQIsdp" && level == 3) {
    c.version = ProtocolVersion::V3_1;
  } else {
    return Errc::UnsupportedProtocolVersion;
  }
  c.protocol_name.assign(name);

  std::uint8_t flags = 0;
  if (!r.u8(flags) || !r.u16(c.keep_alive)) return kMalformed;
  if (flags & 0x01) return kMalformed;  // [MQTT-3.1.2-3]
  c.clean_start = (flags & 0x02) != 0;
  const bool will = (flags & 0x04) != 0;
  const auto will_qos = static_cast<std::uint8_t>((flags >> 3) & 0x03);
  const bool will_retain = (flags & 0x20) != 0;
  const bool password = (flags & 0x40) != 0;
  const bool username = (flags & 0x80) != 0;
  // [MQTT-3.1.2-11], [MQTT-3.1.2-13]: no Will, so no Will QoS and no Will Retain. The CONNECT
  // then does not match the format of section 3.1 [MQTT-3.1.4-1]: malformed.
  if (!will && (will_qos != 0 || will_retain)) return kMalformed;
  if (will_qos == 3) return kMalformed;  // [MQTT-3.1.2-12] (3.1.1: [MQTT-3.1.2-14])
  // 3.1.1 [MQTT-3.1.2-22]: a password needs a user name. 5.0 lifted this.
  if (!is_v5(c.version) && password && !username) return kMalformed;

  if (is_v5(c.version) && !decode_properties(r, PropertyScope::Connect, c.props, verdict)) {
    return kMalformed;
  }
  if (!r.utf8(c.client_id)) return kMalformed;  // [MQTT-3.1.3-4]
  if (will) {
    Will& w = c.will.emplace();
    w.qos = static_cast<QoS>(will_qos);
    w.retain = will_retain;
    if (is_v5(c.version) && !decode_properties(r, PropertyScope::Will, w.props, verdict)) {
      return kMalformed;
    }
    if (!r.utf8(w.topic) || !r.binary(w.payload)) return kMalformed;  // [MQTT-3.1.3-11]
  }
  if (username && !r.utf8(c.username.emplace())) return kMalformed;  // [MQTT-3.1.3-12]
  if (password && !r.binary(c.password.emplace())) return kMalformed;
  if (!r.at_end()) return kMalformed;
  return finish(std::move(c), verdict);
}

Result<Packet> decode_connack(Reader& r, ProtocolVersion v) {
  Verdict verdict;
  ConnAck a;
  std::uint8_t flags = 0;
  if (!r.u8(flags) || !r.u8(a.code)) return kMalformed;
  if (flags & 0xFE) return kMalformed;  // [MQTT-3.2.2-1]
  a.session_present = (flags & 0x01) != 0;
  if (is_v5(v)) {
    if (!connack_code_ok(a.code)) verdict.protocol_error();  // [MQTT-3.2.2-8]
    if (!decode_properties(r, PropertyScope::ConnAck, a.props, verdict)) return kMalformed;
  } else if (a.code > 5) {
    verdict.protocol_error();  // 3.1.1 table 3.1: 6-255 are reserved
  }
  // [MQTT-3.2.2-6] (3.1.1: [MQTT-3.2.2-4]): a refusal never has a session.
  if (a.code != 0 && a.session_present) verdict.protocol_error();
  if (!r.at_end()) return kMalformed;
  return finish(std::move(a), verdict);
}

// PUBLISH is the hot path and a Packet is over a kilobyte (Properties is large), so it is
// parsed straight into the Result that is returned (one move instead of three).
Errc parse_publish(Reader& r, std::uint8_t flags, ProtocolVersion v, Publish& p) {
  Verdict verdict;
  p.dup = (flags & 0x08) != 0;
  p.retain = (flags & 0x01) != 0;
  const auto qos = static_cast<std::uint8_t>((flags >> 1) & 0x03);
  if (qos == 3) return kMalformed;  // [MQTT-3.3.1-4]
  // [MQTT-3.3.1-2]: DUP is 0 for QoS 0. An invalid fixed-header flag combination is a
  // Malformed Packet (section 2.1.3).
  if (p.dup && qos == 0) return kMalformed;
  p.qos = static_cast<QoS>(qos);
  // [MQTT-3.3.2-1]. Wildcards [MQTT-3.3.2-2] and an empty name without an alias (3.3.2.1)
  // are the channel's to check: it resolves aliases and answers 0x90 Topic Name invalid.
  if (!r.utf8(p.topic)) return kMalformed;
  if (qos > 0) {
    if (!r.u16(p.packet_id)) return kMalformed;
    check_packet_id(p.packet_id, verdict);
  }
  if (is_v5(v) && !decode_properties(r, PropertyScope::Publish, p.props, verdict)) {
    return kMalformed;
  }
  p.payload = r.rest();  // 3.3.3: may be empty
  return verdict.has_protocol_error() ? Errc::ProtocolError : Errc::Ok;
}

Result<Packet> decode_publish(Reader& r, std::uint8_t flags, ProtocolVersion v) {
  Result<Packet> out{Packet{std::in_place_type<Publish>}};
  const Errc e = parse_publish(r, flags, v, std::get<Publish>(*out));
  if (e != Errc::Ok) out = e;
  return out;
}

template <class Response>
Result<Packet> decode_pub_response(Reader& r, ProtocolVersion v) {
  Verdict verdict;
  Response a;
  if (!r.u16(a.packet_id)) return kMalformed;
  check_packet_id(a.packet_id, verdict);
  // 3.4.2.1 and siblings: with a Remaining Length of 2 the reason is Success; below 4 there
  // is no Property Length. 3.1.1 has the packet identifier only.
  if (is_v5(v) && !r.at_end()) {
    std::uint8_t code = 0;
    if (!r.u8(code)) return kMalformed;
    if (!pub_response_code_ok(Response::kType, code)) verdict.protocol_error();
    a.reason = static_cast<ReasonCode>(code);
    if (!r.at_end() && !decode_properties(r, PropertyScope::PubResponse, a.props, verdict)) {
      return kMalformed;
    }
  }
  if (!r.at_end()) return kMalformed;
  return finish(std::move(a), verdict);
}

Result<Packet> decode_subscribe(Reader& r, ProtocolVersion v) {
  Verdict verdict;
  Subscribe s;
  if (!r.u16(s.packet_id)) return kMalformed;
  check_packet_id(s.packet_id, verdict);
  if (is_v5(v) && !decode_properties(r, PropertyScope::Subscribe, s.props, verdict)) {
    return kMalformed;
  }
  while (!r.at_end()) {
    Subscription& sub = s.subscriptions.emplace_back();
    std::uint8_t options = 0;
    if (!r.utf8(sub.topic_filter) || !r.u8(options)) return kMalformed;  // [MQTT-3.8.3-1]
    const auto qos = static_cast<std::uint8_t>(options & 0x03);
    if (is_v5(v)) {
      if (options & 0xC0) return kMalformed;  // [MQTT-3.8.3-5]
      const auto retain_handling = static_cast<std::uint8_t>((options >> 4) & 0x03);
      if (qos == 3 || retain_handling == 3) verdict.protocol_error();  // 3.8.3.1
      sub.options.no_local = (options & 0x04) != 0;
      sub.options.retain_as_published = (options & 0x08) != 0;
      sub.options.retain_handling = retain_handling;
    } else if ((options & 0xFC) != 0 || qos == 3) {
      return kMalformed;  // 3.1.1 [MQTT-3.8.3-4]
    }
    sub.options.max_qos = static_cast<QoS>(qos);
  }
  // [MQTT-3.8.3-2] (3.1.1: [MQTT-3.8.3-3]): at least one filter, else a Protocol Error.
  if (s.subscriptions.empty()) verdict.protocol_error();
  return finish(std::move(s), verdict);
}

Result<Packet> decode_suback(Reader& r, ProtocolVersion v) {
  Verdict verdict;
  SubAck a;
  if (!r.u16(a.packet_id)) return kMalformed;
  check_packet_id(a.packet_id, verdict);
  if (is_v5(v) && !decode_properties(r, PropertyScope::SubAck, a.props, verdict)) {
    return kMalformed;
  }
  auto codes = r.rest();
  // One code per filter of the SUBSCRIBE [MQTT-3.8.4-6], which has at least one.
  if (codes.empty()) verdict.protocol_error();
  a.reason_codes.reserve(codes.size());
  for (char c : codes) {
    const auto code = static_cast<std::uint8_t>(c);
    if (!suback_code_ok(code, v)) verdict.protocol_error();  // [MQTT-3.9.3-2]
    a.reason_codes.push_back(static_cast<ReasonCode>(code));
  }
  return finish(std::move(a), verdict);
}

Result<Packet> decode_unsubscribe(Reader& r, ProtocolVersion v) {
  Verdict verdict;
  Unsubscribe u;
  if (!r.u16(u.packet_id)) return kMalformed;
  check_packet_id(u.packet_id, verdict);
  if (is_v5(v) && !decode_properties(r, PropertyScope::Unsubscribe, u.props, verdict)) {
    return kMalformed;
  }
  while (!r.at_end()) {
    if (!r.utf8(u.topic_filters.emplace_back())) return kMalformed;  // [MQTT-3.10.3-1]
  }
  if (u.topic_filters.empty()) verdict.protocol_error();  // [MQTT-3.10.3-2]
  return finish(std::move(u), verdict);
}

Result<Packet> decode_unsuback(Reader& r, ProtocolVersion v) {
  Verdict verdict;
  UnsubAck a;
  if (!r.u16(a.packet_id)) return kMalformed;
  check_packet_id(a.packet_id, verdict);
  if (is_v5(v)) {
    if (!decode_properties(r, PropertyScope::UnsubAck, a.props, verdict)) return kMalformed;
    auto codes = r.rest();
    if (codes.empty()) verdict.protocol_error();  // one per filter [MQTT-3.11.3-1]
    a.reason_codes.reserve(codes.size());
    for (char c : codes) {
      const auto code = static_cast<std::uint8_t>(c);
      if (!unsuback_code_ok(code)) verdict.protocol_error();  // [MQTT-3.11.3-2]
      a.reason_codes.push_back(static_cast<ReasonCode>(code));
    }
  }
  if (!r.at_end()) return kMalformed;  // 3.1.1: no payload
  return finish(std::move(a), verdict);
}

// DISCONNECT and AUTH (v5): reason code and properties, both omitted when the Remaining
// Length is 0 (3.14.2.1, 3.15.2.1); a lone reason code means no properties (3.14.2.2.1).
template <class T>
Result<Packet> decode_reason_and_props(Reader& r, PropertyScope scope,
                                       bool (*code_ok)(std::uint8_t)) {
  Verdict verdict;
  T t;
  if (!r.at_end()) {
    std::uint8_t code = 0;
    if (!r.u8(code)) return kMalformed;
    if (!code_ok(code)) verdict.protocol_error();  // [MQTT-3.14.2-1], [MQTT-3.15.2-1]
    t.reason = static_cast<ReasonCode>(code);
    if (!r.at_end() && !decode_properties(r, scope, t.props, verdict)) return kMalformed;
  }
  if (!r.at_end()) return kMalformed;
  return finish(std::move(t), verdict);
}

// Which flags the fixed header must carry (section 2.1.3); PUBLISH's are checked apart.
constexpr std::uint8_t required_flags(PacketType t) {
  switch (t) {
    case PacketType::PubRel:       // [MQTT-3.6.1-1]
    case PacketType::Subscribe:    // [MQTT-3.8.1-1]
    case PacketType::Unsubscribe:  // [MQTT-3.10.1-1]
      return 0x02;
    default:
      return 0x00;
  }
}

}  // namespace

Errc check_fixed_header(std::uint8_t first_byte, ProtocolVersion version) {
  const auto raw_type = static_cast<std::uint8_t>(first_byte >> 4);
  // 0 is reserved in every version; 15 (AUTH) is reserved before 5.0.
  if (raw_type == 0 || (raw_type == 15 && !is_v5(version))) return Errc::MalformedPacket;
  const auto type = static_cast<PacketType>(raw_type);
  const auto flags = static_cast<std::uint8_t>(first_byte & 0x0F);
  if (type == PacketType::Publish) {
    if (((flags >> 1) & 0x03) == 3) return Errc::MalformedPacket;  // [MQTT-3.3.1-4]
    return Errc::Ok;
  }
  // [MQTT-2.1.3-1]: reserved flag bits must have their listed values, else malformed.
  return flags == required_flags(type) ? Errc::Ok : Errc::MalformedPacket;
}

Result<Packet> decode(const FrameHeader& h, std::string_view body, ProtocolVersion version) {
  if (body.size() != h.remaining_length) return kMalformed;
  if (check_fixed_header(h.first_byte, version) != Errc::Ok) return kMalformed;
  const PacketType type = h.type();

  Reader r(body);
  switch (type) {
    case PacketType::Connect:
      return decode_connect(r);
    case PacketType::ConnAck:
      return decode_connack(r, version);
    case PacketType::Publish:
      return decode_publish(r, h.flags(), version);
    case PacketType::PubAck:
      return decode_pub_response<PubAck>(r, version);
    case PacketType::PubRec:
      return decode_pub_response<PubRec>(r, version);
    case PacketType::PubRel:
      return decode_pub_response<PubRel>(r, version);
    case PacketType::PubComp:
      return decode_pub_response<PubComp>(r, version);
    case PacketType::Subscribe:
      return decode_subscribe(r, version);
    case PacketType::SubAck:
      return decode_suback(r, version);
    case PacketType::Unsubscribe:
      return decode_unsubscribe(r, version);
    case PacketType::UnsubAck:
      return decode_unsuback(r, version);
    case PacketType::PingReq:
      if (!r.at_end()) return kMalformed;
      return Packet{PingReq{}};
    case PacketType::PingResp:
      if (!r.at_end()) return kMalformed;
      return Packet{PingResp{}};
    case PacketType::Disconnect:
      if (!is_v5(version)) {
        if (!r.at_end()) return kMalformed;
        return Packet{Disconnect{}};
      }
      return decode_reason_and_props<Disconnect>(r, PropertyScope::Disconnect, disconnect_code_ok);
    case PacketType::Auth:
      return decode_reason_and_props<Auth>(r, PropertyScope::Auth, auth_code_ok);
  }
  return kMalformed;
}

}  // namespace emqxd::mqtt
