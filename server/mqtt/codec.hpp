#pragma once
// The MQTT codec: framing, decoding and encoding of every packet for 3.1, 3.1.1 and 5.0.
// No I/O and no allocation beyond what the decoded values own. Decoding never throws:
// errors come back as Errc::MalformedPacket, Errc::ProtocolError or Errc::PacketTooLarge,
// exactly as the spec classifies them, so the channel can answer with the right reason code.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/result.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::mqtt {

struct FrameHeader {
  std::uint8_t first_byte = 0;  // packet type << 4 | flags
  std::uint32_t remaining_length = 0;
  std::uint32_t header_length = 0;  // 1 + bytes of the Remaining Length varint
  PacketType type() const { return static_cast<PacketType>(first_byte >> 4); }
  std::uint8_t flags() const { return first_byte & 0x0F; }
  std::size_t total() const { return std::size_t{header_length} + remaining_length; }
};

// Looks at the start of `in`. Errc::NeedMoreData while the fixed header is incomplete;
// Errc::MalformedPacket for a Remaining Length of more than 4 bytes; Errc::PacketTooLarge
// when the whole packet would exceed max_packet_size. Does not check that the body is
// complete: the caller compares total() with what it has.
Result<FrameHeader> peek_frame(std::string_view in, std::uint32_t max_packet_size);

// Checks the first byte alone: a reserved packet type, reserved flag bits that are wrong
// [MQTT-2.1.3-1] or PUBLISH QoS 3 -> Errc::MalformedPacket, else Errc::Ok. Lets a
// connection reject garbage without waiting for the body it announces.
Errc check_fixed_header(std::uint8_t first_byte, ProtocolVersion version);

// Decodes one complete packet whose body (remaining_length bytes after the fixed header)
// is `body`. `version` is the connection's protocol version (ignored for CONNECT, which
// carries its own). A Publish result holds views into `body`. Which checks decode makes and
// which it leaves to the channel (topic aliases, topic syntax, ...): see codec.cpp's essay.
Result<Packet> decode(const FrameHeader& h, std::string_view body, ProtocolVersion version);

// Appends the encoding of `p` for a connection of `version` to `out`. Fields that do not
// exist in the version (properties, reason codes in v3.1.1) are left out.
void encode(const Packet& p, ProtocolVersion version, std::string& out);

// The per-subscriber part of an outgoing PUBLISH.
struct PublishDelivery {
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;
  std::optional<std::uint32_t> message_expiry_interval;  // already decremented
  std::span<const std::uint32_t> subscription_identifiers;
  std::uint16_t topic_alias = 0;  // 0 = none
  bool omit_topic = false;        // send an empty topic name with the alias
};

// Appends a PUBLISH of `m` as delivered with `d`. The message's topic, payload and extra
// properties are written verbatim; returns the number of bytes appended.
std::size_t encode_publish(const Message& m, const PublishDelivery& d, ProtocolVersion version,
                           std::string& out);

// Helpers the channel and tests use.
bool is_valid_utf8_string(std::string_view s);  // [MQTT-1.5.4-1..3]: well formed, no U+0000
std::size_t varint_size(std::uint32_t v);

}  // namespace emqxd::mqtt
