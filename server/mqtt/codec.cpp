// The MQTT codec for 3.1 ("MQIsdp", level 3), 3.1.1 (level 4) and 5.0 (level 5).
//
// Files: codec.cpp (this essay, framing, UTF-8), codec_decode.cpp, codec_encode.cpp,
// codec_properties.{hpp,cpp} (MQTT 5 properties), codec_wire.hpp (Reader, put_* helpers).
//
// Framing. A packet is a first byte (type and flags), a Remaining Length of one to four
// bytes (a Variable Byte Integer), and Remaining Length bytes of body. peek_frame looks only
// at the first two fields: NeedMoreData until the Remaining Length ends, MalformedPacket if
// it would need a fifth byte, PacketTooLarge if the whole packet would exceed the limit, so
// the connection can refuse a huge packet before buffering it. The connection then waits for
// total() bytes and hands decode() exactly one body. Everything decode() reads goes through
// detail::Reader, which checks every length against what is left of that body: no read can
// pass the end, and running out of bytes inside a complete frame is a Malformed Packet.
// Bytes left over after the last field are malformed too. Encodings of a Variable Byte
// Integer longer than necessary are accepted: [MQTT-1.5.5-1] binds the sender, and emqx and
// mosquitto accept them as well; our encoder always writes the shortest.
//
// Error classes. Section 1.2 defines a Malformed Packet as one that "cannot be parsed
// according to this specification", and a Protocol Error as one "detected after the packet
// has been parsed" that contains data the protocol does not allow. The decoders follow that
// literally: they return MalformedPacket at the first byte they cannot parse, record a
// Protocol Error (detail::Verdict) and keep parsing, and report it only once the whole packet
// parsed. So a packet with both kinds of error is always Malformed, whatever their order.
// Where the spec names the class we use it; where it does not, we decide:
//
//   spec says Malformed: bad Remaining Length, truncated fields, ill-formed UTF-8 or U+0000
//     [MQTT-1.5.4-1/2], reserved fixed-header flags [MQTT-2.1.3-1], QoS 3 [MQTT-3.3.1-4],
//     CONNECT reserved flag [MQTT-3.1.2-3], Will QoS 3 [MQTT-3.1.2-12], SUBSCRIBE options
//     reserved bits [MQTT-3.8.3-5], property length overrunning, a property identifier that
//     is unknown or not valid for the packet (2.2.2.2), 3.1.1 password without user name
//     [MQTT-3.1.2-22], 3.1.1 requested QoS 3 [MQTT-3.8.3-4].
//   spec says Protocol Error: a property other than User Property (or a PUBLISH's
//     Subscription Identifiers) more than once, Receive Maximum 0, Maximum Packet Size 0,
//     Subscription Identifier 0, a 0/1 property with another value, Authentication Data
//     without Authentication Method in CONNECT, SUBSCRIBE or UNSUBSCRIBE without filters
//     [MQTT-3.8.3-2] [MQTT-3.10.3-2], requested QoS 3 and Retain Handling 3 in 5.0 (3.8.3.1).
//   we decide Malformed (a field's encoding is wrong): DUP with QoS 0 [MQTT-3.3.1-2] (a bad
//     flag combination, 2.1.3), Will QoS or Will Retain without Will [MQTT-3.1.2-11/13] (the
//     CONNECT does not match section 3.1, [MQTT-3.1.4-1]), Payload Format Indicator other
//     than 0 or 1 (the only values of its type).
//   we decide Protocol Error (it parses, but is not allowed): packet identifier 0
//     [MQTT-2.2.1-3], a reason code outside its packet's table ([MQTT-3.4.2-1] and siblings;
//     for 3.1.1, CONNACK codes 6-255 and SUBACK codes other than 0, 1, 2, 0x80
//     [MQTT-3.9.3-2]), an empty SUBACK/UNSUBACK list, CONNACK with Session Present and a
//     failure code [MQTT-3.2.2-6].
//   UnsupportedProtocolVersion: a CONNECT whose protocol name and level are not ("MQTT", 4),
//     ("MQTT", 5) or ("MQIsdp", 3); nothing after the level is parsed [MQTT-3.1.2-1/2].
//
// Left to the channel, because they need connection state or the direction of the packet:
// Topic Alias 0 or above the maximum (3.3.4 answers both with 0x94 Topic Alias invalid, so
// the codec passes 0 through), an empty topic name without a known alias, wildcards in a
// topic name [MQTT-3.3.2-2] and topic filter syntax (0x90/0x8F), a Subscription Identifier
// in a PUBLISH from a Client [MQTT-3.3.4-6], client identifier rules, AUTH without (or with
// a different) Authentication Method (3.15.2.2.2, 4.12), a DISCONNECT Session Expiry
// Interval after 0 in CONNECT, QoS or retain beyond what CONNACK offered, No Local on a
// shared subscription, payload format validation (0x99). Disallowed code points in strings
// (U+0001..U+001F, non-characters: "MAY treat as malformed", 1.5.4) are accepted.
//
// 3.1 differs from 3.1.1 only in CONNECT's protocol name and level here; every other
// packet is coded as for 3.1.1.
//
// Encoding writes what the packet holds, in the version given (CONNECT: its own version),
// using the shortest form the spec allows: v5 PUBACK/PUBREC/PUBREL/PUBCOMP with Remaining
// Length 2 for Success without properties (3 for another reason without properties),
// DISCONNECT/AUTH with 0 (or 1), as clients do. Properties go out in one fixed order
// (codec_properties.hpp). encode_publish runs once per delivery: it sizes the packet first,
// reserves once and appends, with no temporaries.
#include "mqtt/codec.hpp"

#include <cstring>

#include "mqtt/codec_wire.hpp"

namespace emqxd::mqtt {

Result<FrameHeader> peek_frame(std::string_view in, std::uint32_t max_packet_size) {
  if (in.empty()) return Errc::NeedMoreData;
  FrameHeader h;
  h.first_byte = static_cast<std::uint8_t>(in[0]);
  std::uint32_t value = 0;
  for (std::uint32_t i = 1; i <= 4; ++i) {
    if (i >= in.size()) return Errc::NeedMoreData;
    const auto b = static_cast<std::uint8_t>(in[i]);
    value |= std::uint32_t{b & 0x7Fu} << (7 * (i - 1));
    if ((b & 0x80) == 0) {
      h.remaining_length = value;
      h.header_length = i + 1;
      if (h.total() > max_packet_size) return Errc::PacketTooLarge;
      return h;
    }
  }
  return Errc::MalformedPacket;  // a continuation bit on the fourth length byte
}

std::size_t varint_size(std::uint32_t v) {
  return detail::varint_size_of(v);
}

namespace {

bool is_continuation(unsigned char c) {
  return (c & 0xC0) == 0x80;
}

}  // namespace

// Well-formed UTF-8 per RFC 3629 (no overlong forms, no surrogates U+D800..U+DFFF, nothing
// above U+10FFFF) [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2]. ASCII, the common case for
// topics, is checked eight bytes at a time.
bool is_valid_utf8_string(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* const end = p + s.size();
  constexpr std::uint64_t kHigh = 0x8080808080808080ull;
  constexpr std::uint64_t kOnes = 0x0101010101010101ull;
  while (p < end) {
    while (end - p >= 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      if (w & kHigh) break;
      if ((w - kOnes) & ~w & kHigh) return false;  // some byte is zero
      p += 8;
    }
    if (p == end) break;
    const unsigned char c = *p;
    if (c < 0x80) {
      if (c == 0) return false;
      ++p;
      continue;
    }
    std::size_t n = 0;                   // continuation bytes
    unsigned char lo = 0x80, hi = 0xBF;  // range of the first continuation byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0) lo = 0xA0;  // overlong
      if (c == 0xED) hi = 0x9F;  // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0) lo = 0x90;  // overlong
      if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
    } else {
      return false;  // continuation byte, overlong lead 0xC0/0xC1, or 0xF5..0xFF
    }
    if (static_cast<std::size_t>(end - p) <= n) return false;
    if (p[1] < lo || p[1] > hi) return false;
    for (std::size_t i = 2; i <= n; ++i) {
      if (!is_continuation(p[i])) return false;
    }
    p += n + 1;
  }
  return true;
}

}  // namespace emqxd::mqtt
