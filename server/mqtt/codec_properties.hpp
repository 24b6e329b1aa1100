#pragma once
// Internal to the codec: MQTT 5 properties (section 2.2.2) on the wire.
//
// Decoding checks, per property: that its identifier exists and is allowed in the packet (or
// the Will) it appears in, and that its value has the specified data type (else Malformed
// Packet, section 2.2.2.2); that it appears at most once, User Property and a PUBLISH's
// Subscription Identifiers excepted, and that its value is in range (else Protocol Error, as
// each property's section says).
//
// Encoding writes whatever is set, in one fixed order (emit_properties below) so the output
// is deterministic and encode(Publish) matches encode_publish byte for byte.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "mqtt/codec_wire.hpp"
#include "mqtt/properties.hpp"

namespace emqxd::mqtt::detail {

// Where a property set sits; each property identifier is allowed in some of these.
enum class PropertyScope : std::uint8_t {
  Connect,
  Will,  // the Will Properties in the CONNECT payload
  ConnAck,
  Publish,
  PubResponse,  // PUBACK, PUBREC, PUBREL, PUBCOMP
  Subscribe,
  SubAck,
  Unsubscribe,
  UnsubAck,
  Disconnect,
  Auth,
};

// Reads a Property Length and the properties it covers into `out` (which should be empty).
// Returns false for a Malformed Packet; Protocol Errors are recorded in `verdict`.
bool decode_properties(Reader& r, PropertyScope scope, Properties& out, Verdict& verdict);

// The single definition of the order properties are written in. PUBLISH's own properties
// come first in the order encode_publish uses; the rest follow by identifier; user properties
// keep their order [MQTT-3.3.2-18].
template <class Sink>
void emit_properties(const Properties& p, Sink& s) {
  using Id = PropertyId;
  if (p.payload_format_indicator) s.byte(Id::PayloadFormatIndicator, *p.payload_format_indicator);
  if (p.message_expiry_interval) s.four(Id::MessageExpiryInterval, *p.message_expiry_interval);
  if (p.topic_alias) s.two(Id::TopicAlias, *p.topic_alias);
  if (p.response_topic) s.str(Id::ResponseTopic, *p.response_topic);
  if (p.correlation_data) s.str(Id::CorrelationData, *p.correlation_data);
  if (p.session_expiry_interval) s.four(Id::SessionExpiryInterval, *p.session_expiry_interval);
  if (p.assigned_client_identifier) {
    s.str(Id::AssignedClientIdentifier, *p.assigned_client_identifier);
  }
  if (p.server_keep_alive) s.two(Id::ServerKeepAlive, *p.server_keep_alive);
  if (p.authentication_method) s.str(Id::AuthenticationMethod, *p.authentication_method);
  if (p.authentication_data) s.str(Id::AuthenticationData, *p.authentication_data);
  if (p.request_problem_information) {
    s.byte(Id::RequestProblemInformation, *p.request_problem_information);
  }
  if (p.will_delay_interval) s.four(Id::WillDelayInterval, *p.will_delay_interval);
  if (p.request_response_information) {
    s.byte(Id::RequestResponseInformation, *p.request_response_information);
  }
  if (p.response_information) s.str(Id::ResponseInformation, *p.response_information);
  if (p.server_reference) s.str(Id::ServerReference, *p.server_reference);
  if (p.reason_string) s.str(Id::ReasonString, *p.reason_string);
  if (p.receive_maximum) s.two(Id::ReceiveMaximum, *p.receive_maximum);
  if (p.topic_alias_maximum) s.two(Id::TopicAliasMaximum, *p.topic_alias_maximum);
  if (p.maximum_qos) s.byte(Id::MaximumQoS, *p.maximum_qos);
  if (p.retain_available) s.byte(Id::RetainAvailable, *p.retain_available);
  if (p.maximum_packet_size) s.four(Id::MaximumPacketSize, *p.maximum_packet_size);
  if (p.wildcard_subscription_available) {
    s.byte(Id::WildcardSubscriptionAvailable, *p.wildcard_subscription_available);
  }
  if (p.subscription_identifier_available) {
    s.byte(Id::SubscriptionIdentifierAvailable, *p.subscription_identifier_available);
  }
  if (p.shared_subscription_available) {
    s.byte(Id::SharedSubscriptionAvailable, *p.shared_subscription_available);
  }
  for (const auto& [key, value] : p.user_properties)
    s.pair(Id::UserProperty, key, value);
  for (auto id : p.subscription_identifiers)
    s.varint(Id::SubscriptionIdentifier, id);
  if (p.content_type) s.str(Id::ContentType, *p.content_type);
}

// Counts the bytes emit_properties would write (without the Property Length).
struct PropertySizer {
  std::size_t n = 0;
  void byte(PropertyId, std::uint8_t) { n += 2; }
  void two(PropertyId, std::uint16_t) { n += 3; }
  void four(PropertyId, std::uint32_t) { n += 5; }
  void varint(PropertyId, std::uint32_t v) { n += 1 + varint_size_of(v); }
  void str(PropertyId, std::string_view v) { n += 1 + binary_size(v); }
  void pair(PropertyId, std::string_view k, std::string_view v) {
    n += 1 + binary_size(k) + binary_size(v);
  }
};

struct PropertyWriter {
  std::string& out;
  void id(PropertyId i) { put_u8(out, static_cast<std::uint8_t>(i)); }
  void byte(PropertyId i, std::uint8_t v) {
    id(i);
    put_u8(out, v);
  }
  void two(PropertyId i, std::uint16_t v) {
    id(i);
    put_u16(out, v);
  }
  void four(PropertyId i, std::uint32_t v) {
    id(i);
    put_u32(out, v);
  }
  void varint(PropertyId i, std::uint32_t v) {
    id(i);
    put_varint(out, v);
  }
  void str(PropertyId i, std::string_view v) {
    id(i);
    put_binary(out, v);
  }
  void pair(PropertyId i, std::string_view k, std::string_view v) {
    id(i);
    put_binary(out, k);
    put_binary(out, v);
  }
};

// Bytes of the properties alone, without their Property Length.
inline std::size_t properties_size(const Properties& p) {
  PropertySizer s;
  emit_properties(p, s);
  return s.n;
}

// The Property Length and the properties; `size` is properties_size(p).
inline void put_properties(std::string& out, const Properties& p, std::size_t size) {
  put_varint(out, static_cast<std::uint32_t>(size));
  PropertyWriter w{out};
  emit_properties(p, w);
}

inline void put_properties(std::string& out, const Properties& p) {
  put_properties(out, p, properties_size(p));
}

inline bool is_empty(const Properties& p) {
  return properties_size(p) == 0;
}

}  // namespace emqxd::mqtt::detail
