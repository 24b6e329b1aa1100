#pragma once
// MQTT-SN 1.2 messages (MQTT For Sensor Networks, Protocol Specification Version 1.2,
// section 5): decoding one datagram into a message and encoding one back. Sans-I/O: the
// gateway's UDP listener hands a datagram in, the gateway's channel gets a Packet (a
// std::variant of the message structs) or Errc::MalformedPacket.
//
// The wire format (5.2): a Length of one octet, or 0x01 and two octets (big-endian) when
// the message is 256 octets or longer; then MsgType, then the type's variable part. A
// datagram carries exactly one message (5.2.1): its Length must be the datagram's size.
// Flags (5.3.4) are one octet: DUP, QoS (00 = 0, 01 = 1, 10 = 2, 11 = -1), Retain, Will,
// CleanSession, TopicIdType (00 normal topic id / name, 01 pre-defined id, 10 short name).
//
// What decode checks: the lengths each message type has (fixed parts present, nothing
// missing), the reserved TopicIdType 11, QoS -1 outside PUBLISH; what it leaves to the
// channel: whether a topic id is registered, topic syntax, the message ids' state. Text
// fields (client id, topic names) are octets as sent; the channel checks UTF-8 where MQTT
// needs it. The Encapsulated message of forwarders (5.5) is refused as not supported.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "common/result.hpp"

namespace emqxd::gateways::mqttsn {

enum class MsgType : std::uint8_t {
  Advertise = 0x00,
  SearchGw = 0x01,
  GwInfo = 0x02,
  Connect = 0x04,
  Connack = 0x05,
  WillTopicReq = 0x06,
  WillTopic = 0x07,
  WillMsgReq = 0x08,
  WillMsg = 0x09,
  Register = 0x0A,
  Regack = 0x0B,
  Publish = 0x0C,
  Puback = 0x0D,
  Pubcomp = 0x0E,
  Pubrec = 0x0F,
  Pubrel = 0x10,
  Subscribe = 0x12,
  Suback = 0x13,
  Unsubscribe = 0x14,
  Unsuback = 0x15,
  Pingreq = 0x16,
  Pingresp = 0x17,
  Disconnect = 0x18,
  WillTopicUpd = 0x1A,
  WillTopicResp = 0x1B,
  WillMsgUpd = 0x1C,
  WillMsgResp = 0x1D,
  Encapsulated = 0xFE,
};

// 5.3.10
enum class ReturnCode : std::uint8_t {
  Accepted = 0x00,
  Congestion = 0x01,
  InvalidTopicId = 0x02,
  NotSupported = 0x03,
};

// 5.3.4: TopicIdType
enum class TopicIdType : std::uint8_t { Normal = 0, Predefined = 1, Short = 2 };

struct Flags {
  bool dup = false;
  std::int8_t qos = 0;  // -1, 0, 1, 2
  bool retain = false;
  bool will = false;
  bool clean_session = false;
  TopicIdType topic_id_type = TopicIdType::Normal;
  bool operator==(const Flags&) const = default;
};
std::uint8_t encode_flags(const Flags& f);
// nullopt for the reserved TopicIdType 3.
std::optional<Flags> decode_flags(std::uint8_t b);

// A topic as PUBLISH, SUBSCRIBE and UNSUBSCRIBE name it (by TopicIdType): a normal topic
// id or pre-defined id (`id`), a short name (two characters in `name`), or, in SUBSCRIBE
// and UNSUBSCRIBE with TopicIdType Normal, a topic name or filter (`name`).
struct Topic {
  std::uint16_t id = 0;
  std::string name;
  bool operator==(const Topic&) const = default;
};

struct Advertise {  // 5.4.1
  std::uint8_t gw_id = 0;
  std::uint16_t duration = 0;
  bool operator==(const Advertise&) const = default;
};
struct SearchGw {  // 5.4.2
  std::uint8_t radius = 0;
  bool operator==(const SearchGw&) const = default;
};
struct GwInfo {  // 5.4.3: gw_add only when a client answers for a gateway
  std::uint8_t gw_id = 0;
  std::string gw_add;
  bool operator==(const GwInfo&) const = default;
};
struct Connect {  // 5.4.4
  Flags flags;    // Will, CleanSession
  std::uint8_t protocol_id = 0x01;
  std::uint16_t duration = 0;  // keep alive, seconds
  std::string client_id;
  bool operator==(const Connect&) const = default;
};
struct Connack {  // 5.4.5
  ReturnCode rc = ReturnCode::Accepted;
  bool operator==(const Connack&) const = default;
};
struct WillTopicReq {  // 5.4.6
  bool operator==(const WillTopicReq&) const = default;
};
struct WillTopic {  // 5.4.7: empty (no flags, no topic) deletes the will
  bool empty = false;
  Flags flags;  // QoS, Retain
  std::string topic;
  bool operator==(const WillTopic&) const = default;
};
struct WillMsgReq {  // 5.4.8
  bool operator==(const WillMsgReq&) const = default;
};
struct WillMsg {  // 5.4.9
  std::string msg;
  bool operator==(const WillMsg&) const = default;
};
struct Register {  // 5.4.10
  std::uint16_t topic_id = 0;
  std::uint16_t msg_id = 0;
  std::string topic_name;
  bool operator==(const Register&) const = default;
};
struct Regack {  // 5.4.11
  std::uint16_t topic_id = 0;
  std::uint16_t msg_id = 0;
  ReturnCode rc = ReturnCode::Accepted;
  bool operator==(const Regack&) const = default;
};
struct Publish {  // 5.4.12: a topic id, pre-defined id or short name (two octets)
  Flags flags;
  Topic topic;
  std::uint16_t msg_id = 0;
  std::string data;
  bool operator==(const Publish&) const = default;
};
struct Puback {  // 5.4.13
  std::uint16_t topic_id = 0;
  std::uint16_t msg_id = 0;
  ReturnCode rc = ReturnCode::Accepted;
  bool operator==(const Puback&) const = default;
};
struct Pubrec {  // 5.4.14
  std::uint16_t msg_id = 0;
  bool operator==(const Pubrec&) const = default;
};
struct Pubrel {
  std::uint16_t msg_id = 0;
  bool operator==(const Pubrel&) const = default;
};
struct Pubcomp {
  std::uint16_t msg_id = 0;
  bool operator==(const Pubcomp&) const = default;
};
struct Subscribe {  // 5.4.15
  Flags flags;      // DUP, QoS, TopicIdType
  std::uint16_t msg_id = 0;
  Topic topic;
  bool operator==(const Subscribe&) const = default;
};
struct Suback {  // 5.4.16
  Flags flags;   // QoS granted
  std::uint16_t topic_id = 0;
  std::uint16_t msg_id = 0;
  ReturnCode rc = ReturnCode::Accepted;
  bool operator==(const Suback&) const = default;
};
struct Unsubscribe {  // 5.4.17
  Flags flags;        // TopicIdType
  std::uint16_t msg_id = 0;
  Topic topic;
  bool operator==(const Unsubscribe&) const = default;
};
struct Unsuback {  // 5.4.18
  std::uint16_t msg_id = 0;
  bool operator==(const Unsuback&) const = default;
};
struct Pingreq {  // 5.4.19: a sleeping client's id when it wakes
  std::string client_id;
  bool operator==(const Pingreq&) const = default;
};
struct Pingresp {  // 5.4.20
  bool operator==(const Pingresp&) const = default;
};
struct Disconnect {  // 5.4.21: a duration asks to sleep
  std::optional<std::uint16_t> duration;
  bool operator==(const Disconnect&) const = default;
};
struct WillTopicUpd {  // 5.4.22: empty deletes the will
  bool empty = false;
  Flags flags;
  std::string topic;
  bool operator==(const WillTopicUpd&) const = default;
};
struct WillMsgUpd {  // 5.4.23
  std::string msg;
  bool operator==(const WillMsgUpd&) const = default;
};
struct WillTopicResp {  // 5.4.24
  ReturnCode rc = ReturnCode::Accepted;
  bool operator==(const WillTopicResp&) const = default;
};
struct WillMsgResp {  // 5.4.25
  ReturnCode rc = ReturnCode::Accepted;
  bool operator==(const WillMsgResp&) const = default;
};

using Packet = std::variant<Advertise, SearchGw, GwInfo, Connect, Connack, WillTopicReq, WillTopic,
                            WillMsgReq, WillMsg, Register, Regack, Publish, Puback, Pubrec, Pubrel,
                            Pubcomp, Subscribe, Suback, Unsubscribe, Unsuback, Pingreq, Pingresp,
                            Disconnect, WillTopicUpd, WillMsgUpd, WillTopicResp, WillMsgResp>;

// The largest message: a three-octet Length can say 65535.
inline constexpr std::size_t kMaxMessage = 65535;

// One datagram, one message. Errc::MalformedPacket when the Length is not the datagram's,
// the type is unknown or reserved, or the message's fields do not fit; Errc::ProtocolError
// for an Encapsulated message (forwarders are not supported).
Result<Packet> decode(std::string_view datagram);

// Appends the encoding of `p` to `out`. Fields longer than the format allows are the
// caller's mistake: encode writes at most kMaxMessage octets and cuts the last field.
void encode(const Packet& p, std::string& out);

}  // namespace emqxd::gateways::mqttsn
