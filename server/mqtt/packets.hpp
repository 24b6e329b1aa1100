#pragma once
// The 15 MQTT control packets as plain values. A decoded Publish holds views into the
// connection's read buffer (valid until the next read); everything else owns its data.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mqtt/properties.hpp"
#include "mqtt/types.hpp"

namespace emqxd::mqtt {

struct Will {
  std::string topic;
  std::string payload;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  Properties props;  // will properties (v5)
  bool operator==(const Will&) const = default;
};

struct Connect {
  std::string protocol_name = "MQTT";  // "MQIsdp" for 3.1
  ProtocolVersion version = ProtocolVersion::V3_1_1;
  bool clean_start = true;  // Clean Session in 3.1.1
  std::uint16_t keep_alive = 60;
  Properties props;
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary
  bool operator==(const Connect&) const = default;
};

struct ConnAck {
  bool session_present = false;
  std::uint8_t code = 0;  // v5: ReasonCode; v3.1.1: ConnectReturnCode
  Properties props;
  bool operator==(const ConnAck&) const = default;
};

struct Publish {
  bool dup = false;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  std::string_view topic;
  std::uint16_t packet_id = 0;  // present only for QoS 1 and 2
  Properties props;
  std::string_view payload;
  bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP share one shape (section 3.4-3.7).
template <PacketType T>
struct PubResponse {
  static constexpr PacketType kType = T;
  std::uint16_t packet_id = 0;
  ReasonCode reason = ReasonCode::Success;
  Properties props;
  bool operator==(const PubResponse&) const = default;
};
using PubAck = PubResponse<PacketType::PubAck>;
using PubRec = PubResponse<PacketType::PubRec>;
using PubRel = PubResponse<PacketType::PubRel>;
using PubComp = PubResponse<PacketType::PubComp>;

struct SubscribeOptions {
  QoS max_qos = QoS::AtMostOnce;
  bool no_local = false;             // v5
  bool retain_as_published = false;  // v5
  std::uint8_t retain_handling = 0;  // v5: 0 send, 1 send if new, 2 do not send
  // Not on the wire: the subscription was made as "$exclusive/<filter>" and holds the
  // filter's claim (session/exclusive.hpp). Stored as bit 6 (storage/records.cpp).
  bool exclusive = false;
  bool operator==(const SubscribeOptions&) const = default;
};

struct Subscription {
  std::string topic_filter;
  SubscribeOptions options;
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;
  Properties props;
  std::vector<Subscription> subscriptions;
  bool operator==(const Subscribe&) const = default;
};

struct SubAck {
  std::uint16_t packet_id = 0;
  Properties props;
  std::vector<ReasonCode> reason_codes;  // v3.1.1: 0,1,2 or 0x80
  bool operator==(const SubAck&) const = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;
  Properties props;
  std::vector<std::string> topic_filters;
  bool operator==(const Unsubscribe&) const = default;
};

struct UnsubAck {
  std::uint16_t packet_id = 0;
  Properties props;
  std::vector<ReasonCode> reason_codes;  // v5 only; v3.1.1 UNSUBACK has no payload
  bool operator==(const UnsubAck&) const = default;
};

struct PingReq {
  bool operator==(const PingReq&) const = default;
};
struct PingResp {
  bool operator==(const PingResp&) const = default;
};

struct Disconnect {
  ReasonCode reason = ReasonCode::NormalDisconnection;
  Properties props;
  bool operator==(const Disconnect&) const = default;
};

struct Auth {
  ReasonCode reason = ReasonCode::Success;
  Properties props;
  bool operator==(const Auth&) const = default;
};

using Packet = std::variant<Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe,
                            SubAck, Unsubscribe, UnsubAck, PingReq, PingResp, Disconnect, Auth>;

}  // namespace emqxd::mqtt
