// Decoding MQTT 5 properties; see codec_properties.hpp for the rules and codec.cpp for how
// errors are classified.
#include "mqtt/codec_properties.hpp"

#include <array>
#include <optional>

namespace emqxd::mqtt::detail {
namespace {

enum class Kind : std::uint8_t { None, Byte, TwoByte, FourByte, Varint, Utf8, Binary, Utf8Pair };

constexpr std::uint16_t bit(PropertyScope s) {
  return static_cast<std::uint16_t>(1u << static_cast<unsigned>(s));
}

struct Rule {
  Kind kind = Kind::None;
  std::uint16_t scopes = 0;  // bit(scope) for each scope the identifier is allowed in
};

// Table 2-4 (section 2.2.2.2): data type and the packets each identifier may appear in.
constexpr std::array<Rule, 0x2B> make_rules() {
  using S = PropertyScope;
  constexpr auto kPublishAndWill = bit(S::Publish) | bit(S::Will);
  constexpr auto kReasonString = bit(S::ConnAck) | bit(S::PubResponse) | bit(S::SubAck) |
                                 bit(S::UnsubAck) | bit(S::Disconnect) | bit(S::Auth);
  constexpr std::uint16_t kAll = 0x7FF;  // User Property: every property set, Will included
  // clang-format off
  std::array<Rule, 0x2B> r{};
  r[0x01] = {Kind::Byte, kPublishAndWill};                                   // Payload Format
  r[0x02] = {Kind::FourByte, kPublishAndWill};                               // Message Expiry
  r[0x03] = {Kind::Utf8, kPublishAndWill};                                   // Content Type
  r[0x08] = {Kind::Utf8, kPublishAndWill};                                   // Response Topic
  r[0x09] = {Kind::Binary, kPublishAndWill};                                 // Correlation Data
  r[0x0B] = {Kind::Varint, bit(S::Publish) | bit(S::Subscribe)};             // Subscription Id
  r[0x11] = {Kind::FourByte, bit(S::Connect) | bit(S::ConnAck) | bit(S::Disconnect)};
  r[0x12] = {Kind::Utf8, bit(S::ConnAck)};                                   // Assigned Client Id
  r[0x13] = {Kind::TwoByte, bit(S::ConnAck)};                                // Server Keep Alive
  r[0x15] = {Kind::Utf8, bit(S::Connect) | bit(S::ConnAck) | bit(S::Auth)};  // Auth Method
  r[0x16] = {Kind::Binary, bit(S::Connect) | bit(S::ConnAck) | bit(S::Auth)};  // Auth Data
  r[0x17] = {Kind::Byte, bit(S::Connect)};                    // Request Problem Information
  r[0x18] = {Kind::FourByte, bit(S::Will)};                   // Will Delay Interval
  r[0x19] = {Kind::Byte, bit(S::Connect)};                    // Request Response Information
  r[0x1A] = {Kind::Utf8, bit(S::ConnAck)};                    // Response Information
  r[0x1C] = {Kind::Utf8, bit(S::ConnAck) | bit(S::Disconnect)};  // Server Reference
  r[0x1F] = {Kind::Utf8, kReasonString};                         // Reason String
  r[0x21] = {Kind::TwoByte, bit(S::Connect) | bit(S::ConnAck)};  // Receive Maximum
  r[0x22] = {Kind::TwoByte, bit(S::Connect) | bit(S::ConnAck)};  // Topic Alias Maximum
  r[0x23] = {Kind::TwoByte, bit(S::Publish)};                    // Topic Alias
  r[0x24] = {Kind::Byte, bit(S::ConnAck)};                       // Maximum QoS
  r[0x25] = {Kind::Byte, bit(S::ConnAck)};                       // Retain Available
  r[0x26] = {Kind::Utf8Pair, kAll};                              // User Property
  r[0x27] = {Kind::FourByte, bit(S::Connect) | bit(S::ConnAck)};  // Maximum Packet Size
  r[0x28] = {Kind::Byte, bit(S::ConnAck)};  // Wildcard Subscription Available
  r[0x29] = {Kind::Byte, bit(S::ConnAck)};  // Subscription Identifier Available
  r[0x2A] = {Kind::Byte, bit(S::ConnAck)};  // Shared Subscription Available
  // clang-format on
  return r;
}

constexpr auto kRules = make_rules();

struct Value {
  std::uint32_t num = 0;
  std::string_view str;
  std::string_view str2;
};

bool read_value(Reader& r, Kind kind, Value& v) {
  switch (kind) {
    case Kind::Byte: {
      std::uint8_t b = 0;
      if (!r.u8(b)) return false;
      v.num = b;
      return true;
    }
    case Kind::TwoByte: {
      std::uint16_t n = 0;
      if (!r.u16(n)) return false;
      v.num = n;
      return true;
    }
    case Kind::FourByte:
      return r.u32(v.num);
    case Kind::Varint:
      return r.varint(v.num);
    case Kind::Utf8:
      return r.utf8(v.str);
    case Kind::Binary:
      return r.binary(v.str);
    case Kind::Utf8Pair:
      return r.utf8(v.str) && r.utf8(v.str2);  // [MQTT-1.5.7-1]
    case Kind::None:
      break;
  }
  return false;
}

// "It is a Protocol Error to include X more than once": keep the first, remember the error.
template <class T, class V>
void set_once(std::optional<T>& field, V v, Verdict& verdict) {
  if (field) {
    verdict.protocol_error();
    return;
  }
  field = static_cast<T>(v);
}

// The Byte properties whose only values are 0 and 1; anything else is a Protocol Error by
// their sections (3.1.2.11.6-7, 3.2.2.3.4-5, 3.2.2.3.11-13).
void set_flag(std::optional<std::uint8_t>& field, std::uint32_t v, Verdict& verdict) {
  if (v > 1) verdict.protocol_error();
  set_once(field, v, verdict);
}

// Stores one decoded property. Returns false only for a Malformed Packet.
bool store(PropertyId id, PropertyScope scope, const Value& v, Properties& p, Verdict& verdict) {
  using Id = PropertyId;
  switch (id) {
    case Id::PayloadFormatIndicator:
      // The spec names no error class for other values; 0 and 1 are the only values the
      // data type has, so we treat others as not of the specified type: malformed.
      if (v.num > 1) return false;
      set_once(p.payload_format_indicator, v.num, verdict);
      break;
    case Id::MessageExpiryInterval:
      set_once(p.message_expiry_interval, v.num, verdict);
      break;
    case Id::ContentType:
      set_once(p.content_type, v.str, verdict);
      break;
    case Id::ResponseTopic:
      set_once(p.response_topic, v.str, verdict);
      break;
    case Id::CorrelationData:
      set_once(p.correlation_data, v.str, verdict);
      break;
    case Id::SubscriptionIdentifier:
      // 1 to 268,435,455; 0 is a Protocol Error (3.3.2.3.8, 3.8.2.1.2). SUBSCRIBE carries at
      // most one; a PUBLISH from the Server may carry several (3.3.4). A PUBLISH from a Client
      // must carry none [MQTT-3.3.4-6]: the codec does not know the direction, the channel
      // checks that.
      if (v.num == 0) verdict.protocol_error();
      if (scope == PropertyScope::Subscribe && !p.subscription_identifiers.empty()) {
        verdict.protocol_error();
        break;
      }
      p.subscription_identifiers.push_back(v.num);
      break;
    case Id::SessionExpiryInterval:
      set_once(p.session_expiry_interval, v.num, verdict);
      break;
    case Id::AssignedClientIdentifier:
      set_once(p.assigned_client_identifier, v.str, verdict);
      break;
    case Id::ServerKeepAlive:
      set_once(p.server_keep_alive, v.num, verdict);
      break;
    case Id::AuthenticationMethod:
      set_once(p.authentication_method, v.str, verdict);
      break;
    case Id::AuthenticationData:
      set_once(p.authentication_data, v.str, verdict);
      break;
    case Id::RequestProblemInformation:
      set_flag(p.request_problem_information, v.num, verdict);
      break;
    case Id::WillDelayInterval:
      set_once(p.will_delay_interval, v.num, verdict);
      break;
    case Id::RequestResponseInformation:
      set_flag(p.request_response_information, v.num, verdict);
      break;
    case Id::ResponseInformation:
      set_once(p.response_information, v.str, verdict);
      break;
    case Id::ServerReference:
      set_once(p.server_reference, v.str, verdict);
      break;
    case Id::ReasonString:
      set_once(p.reason_string, v.str, verdict);
      break;
    case Id::ReceiveMaximum:
      if (v.num == 0) verdict.protocol_error();  // 3.1.2.11.3, 3.2.2.3.3
      set_once(p.receive_maximum, v.num, verdict);
      break;
    case Id::TopicAliasMaximum:
      set_once(p.topic_alias_maximum, v.num, verdict);
      break;
    case Id::TopicAlias:
      // 0 is not permitted [MQTT-3.3.2-8], but the receiver answers it, like an alias above
      // its maximum, with 0x94 Topic Alias invalid (3.3.4): the channel checks both.
      set_once(p.topic_alias, v.num, verdict);
      break;
    case Id::MaximumQoS:
      set_flag(p.maximum_qos, v.num, verdict);
      break;
    case Id::RetainAvailable:
      set_flag(p.retain_available, v.num, verdict);
      break;
    case Id::UserProperty:
      p.user_properties.emplace_back(v.str, v.str2);
      break;
    case Id::MaximumPacketSize:
      if (v.num == 0) verdict.protocol_error();  // 3.1.2.11.4, 3.2.2.3.6
      set_once(p.maximum_packet_size, v.num, verdict);
      break;
    case Id::WildcardSubscriptionAvailable:
      set_flag(p.wildcard_subscription_available, v.num, verdict);
      break;
    case Id::SubscriptionIdentifierAvailable:
      set_flag(p.subscription_identifier_available, v.num, verdict);
      break;
    case Id::SharedSubscriptionAvailable:
      set_flag(p.shared_subscription_available, v.num, verdict);
      break;
  }
  return true;
}

}  // namespace

bool decode_properties(Reader& r, PropertyScope scope, Properties& out, Verdict& verdict) {
  std::uint32_t length = 0;
  std::string_view bytes;
  if (!r.varint(length) || !r.take(length, bytes)) return false;  // overruns the packet
  Reader pr(bytes);
  while (!pr.at_end()) {
    // The identifier is a Variable Byte Integer, but every defined one is a single byte
    // below 0x80; a longer encoding cannot name a valid identifier.
    std::uint8_t raw = 0;
    if (!pr.u8(raw) || raw >= kRules.size()) return false;
    const Rule& rule = kRules[raw];
    if (rule.kind == Kind::None || (rule.scopes & bit(scope)) == 0) return false;  // 2.2.2.2
    Value v;
    if (!read_value(pr, rule.kind, v)) return false;
    if (!store(static_cast<PropertyId>(raw), scope, v, out, verdict)) return false;
  }
  // 3.1.2.11.10: Authentication Data without an Authentication Method.
  if (scope == PropertyScope::Connect && out.authentication_data && !out.authentication_method) {
    verdict.protocol_error();
  }
  return true;
}

}  // namespace emqxd::mqtt::detail
