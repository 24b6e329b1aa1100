// encode() and encode_publish(). Small control packets are written body first into room
// reserved for the largest fixed header, which is then filled in and the gap closed
// (open_frame/close_frame); PUBLISH, whose payload may be large, computes its size first and
// appends once.
#include <string>
#include <string_view>
#include <variant>

#include "mqtt/codec.hpp"
#include "mqtt/codec_properties.hpp"
#include "mqtt/codec_wire.hpp"

namespace emqxd::mqtt {
namespace {

using detail::binary_size;
using detail::close_frame;
using detail::open_frame;
using detail::properties_size;
using detail::put_binary;
using detail::put_fixed_header;
using detail::put_properties;
using detail::put_u16;
using detail::put_u8;

bool is_v5(ProtocolVersion v) {
  return v == ProtocolVersion::V5;
}

std::uint8_t first_byte(PacketType t, std::uint8_t flags = 0) {
  return static_cast<std::uint8_t>(static_cast<std::uint8_t>(t) << 4 | flags);
}

std::uint8_t publish_first_byte(bool dup, QoS qos, bool retain) {
  return first_byte(
      PacketType::Publish,
      static_cast<std::uint8_t>((dup ? 0x08 : 0) | static_cast<std::uint8_t>(qos) << 1 |
                                (retain ? 0x01 : 0)));
}

// The properties of an outgoing PUBLISH built from a Message and its delivery, in the order
// emit_properties uses for a Publish (so both encoders agree byte for byte).
template <class Sink>
void emit_delivery_properties(const MessageExtra* x, const PublishDelivery& d, Sink& s) {
  using Id = PropertyId;
  if (x && x->payload_format_indicator) {
    s.byte(Id::PayloadFormatIndicator, *x->payload_format_indicator);
  }
  if (d.message_expiry_interval) s.four(Id::MessageExpiryInterval, *d.message_expiry_interval);
  if (d.topic_alias != 0) s.two(Id::TopicAlias, d.topic_alias);
  if (x) {
    if (x->response_topic) s.str(Id::ResponseTopic, *x->response_topic);
    if (x->correlation_data) s.str(Id::CorrelationData, *x->correlation_data);
    for (const auto& [key, value] : x->user_properties)
      s.pair(Id::UserProperty, key, value);
  }
  for (auto id : d.subscription_identifiers)
    s.varint(Id::SubscriptionIdentifier, id);
  if (x && x->content_type) s.str(Id::ContentType, *x->content_type);
}

class Encoder {
 public:
  Encoder(ProtocolVersion v, std::string& out) : v5_(is_v5(v)), out_(out) {}

  void operator()(const Connect& c) {
    // CONNECT carries its own protocol name and level; `version` does not apply to it.
    const bool v5 = is_v5(c.version);
    auto start = open_frame(out_);
    put_binary(out_, c.protocol_name);
    put_u8(out_, static_cast<std::uint8_t>(c.version));
    std::uint8_t flags = c.clean_start ? 0x02 : 0x00;
    if (c.will) {
      flags |= static_cast<std::uint8_t>(0x04 | static_cast<std::uint8_t>(c.will->qos) << 3 |
                                         (c.will->retain ? 0x20 : 0));
    }
    if (c.password) flags |= 0x40;
    if (c.username) flags |= 0x80;
    put_u8(out_, flags);
    put_u16(out_, c.keep_alive);
    if (v5) put_properties(out_, c.props);
    put_binary(out_, c.client_id);
    if (c.will) {
      if (v5) put_properties(out_, c.will->props);
      put_binary(out_, c.will->topic);
      put_binary(out_, c.will->payload);
    }
    if (c.username) put_binary(out_, *c.username);
    if (c.password) put_binary(out_, *c.password);
    close_frame(out_, start, first_byte(PacketType::Connect));
  }

  void operator()(const ConnAck& a) {
    auto start = open_frame(out_);
    put_u8(out_, a.session_present ? 0x01 : 0x00);
    put_u8(out_, a.code);
    if (v5_) put_properties(out_, a.props);
    close_frame(out_, start, first_byte(PacketType::ConnAck));
  }

  void operator()(const Publish& p) {
    const std::size_t props = v5_ ? properties_size(p.props) : 0;
    std::size_t remaining = binary_size(p.topic) + p.payload.size();
    if (p.qos != QoS::AtMostOnce) remaining += 2;
    if (v5_) remaining += detail::varint_size_of(static_cast<std::uint32_t>(props)) + props;
    out_.reserve(out_.size() + 1 + varint_size(static_cast<std::uint32_t>(remaining)) + remaining);
    put_fixed_header(out_, publish_first_byte(p.dup, p.qos, p.retain), remaining);
    put_binary(out_, p.topic);
    if (p.qos != QoS::AtMostOnce) put_u16(out_, p.packet_id);
    if (v5_) put_properties(out_, p.props, props);
    out_.append(p.payload);
  }

  template <PacketType T>
  void operator()(const PubResponse<T>& a) {
    constexpr std::uint8_t flags = T == PacketType::PubRel ? 0x02 : 0x00;
    const std::size_t props = v5_ ? properties_size(a.props) : 0;
    const bool success = a.reason == ReasonCode::Success;
    // v5 short forms (3.4.2.1): Remaining Length 2 for Success without properties, 3 for
    // another reason without properties.
    std::size_t remaining = 2;
    if (v5_ && props > 0) {
      remaining = 3 + detail::varint_size_of(static_cast<std::uint32_t>(props)) + props;
    } else if (v5_ && !success) {
      remaining = 3;
    }
    put_fixed_header(out_, first_byte(T, flags), remaining);
    put_u16(out_, a.packet_id);
    if (remaining >= 3) put_u8(out_, static_cast<std::uint8_t>(a.reason));
    if (remaining > 3) put_properties(out_, a.props, props);
  }

  void operator()(const Subscribe& s) {
    auto start = open_frame(out_);
    put_u16(out_, s.packet_id);
    if (v5_) put_properties(out_, s.props);
    for (const auto& sub : s.subscriptions) {
      put_binary(out_, sub.topic_filter);
      auto options = static_cast<std::uint8_t>(sub.options.max_qos);
      if (v5_) {
        options |= static_cast<std::uint8_t>((sub.options.no_local ? 0x04 : 0) |
                                             (sub.options.retain_as_published ? 0x08 : 0) |
                                             (sub.options.retain_handling & 0x03) << 4);
      }
      put_u8(out_, options);
    }
    close_frame(out_, start, first_byte(PacketType::Subscribe, 0x02));
  }

  void operator()(const SubAck& a) {
    auto start = open_frame(out_);
    put_u16(out_, a.packet_id);
    if (v5_) put_properties(out_, a.props);
    for (auto code : a.reason_codes)
      put_u8(out_, static_cast<std::uint8_t>(code));
    close_frame(out_, start, first_byte(PacketType::SubAck));
  }

  void operator()(const Unsubscribe& u) {
    auto start = open_frame(out_);
    put_u16(out_, u.packet_id);
    if (v5_) put_properties(out_, u.props);
    for (const auto& filter : u.topic_filters)
      put_binary(out_, filter);
    close_frame(out_, start, first_byte(PacketType::Unsubscribe, 0x02));
  }

  void operator()(const UnsubAck& a) {
    auto start = open_frame(out_);
    put_u16(out_, a.packet_id);
    if (v5_) {  // 3.1.1 UNSUBACK has no payload
      put_properties(out_, a.props);
      for (auto code : a.reason_codes)
        put_u8(out_, static_cast<std::uint8_t>(code));
    }
    close_frame(out_, start, first_byte(PacketType::UnsubAck));
  }

  void operator()(const PingReq&) {
    put_u8(out_, first_byte(PacketType::PingReq));
    put_u8(out_, 0);
  }

  void operator()(const PingResp&) {
    put_u8(out_, first_byte(PacketType::PingResp));
    put_u8(out_, 0);
  }

  void operator()(const Disconnect& d) {
    if (!v5_) {  // 3.1.1 DISCONNECT has no variable header
      put_u8(out_, first_byte(PacketType::Disconnect));
      put_u8(out_, 0);
      return;
    }
    reason_and_props(PacketType::Disconnect, d.reason, d.props);
  }

  void operator()(const Auth& a) {
    if (!v5_) return;  // AUTH does not exist before 5.0
    reason_and_props(PacketType::Auth, a.reason, a.props);
  }

 private:
  // DISCONNECT and AUTH: Remaining Length 0 for Success without properties (3.14.2.1,
  // 3.15.2.1), 1 for another reason without properties.
  void reason_and_props(PacketType t, ReasonCode reason, const Properties& p) {
    const std::size_t props = properties_size(p);
    if (props == 0) {
      const bool success = reason == ReasonCode::Success;
      put_u8(out_, first_byte(t));
      put_u8(out_, success ? 0 : 1);
      if (!success) put_u8(out_, static_cast<std::uint8_t>(reason));
      return;
    }
    put_fixed_header(out_, first_byte(t),
                     1 + detail::varint_size_of(static_cast<std::uint32_t>(props)) + props);
    put_u8(out_, static_cast<std::uint8_t>(reason));
    put_properties(out_, p, props);
  }

  bool v5_;
  std::string& out_;
};

}  // namespace

void encode(const Packet& p, ProtocolVersion version, std::string& out) {
  std::visit(Encoder{version, out}, p);
}

std::size_t encode_publish(const Message& m, const PublishDelivery& d, ProtocolVersion version,
                           std::string& out) {
  const bool v5 = is_v5(version);
  // Topic aliases exist only in 5.0; a 3.1.1 PUBLISH always names its topic.
  const std::string_view topic = v5 && d.omit_topic ? std::string_view{} : m.topic;
  const MessageExtra* extra = m.extra.get();

  std::size_t props = 0;
  std::size_t remaining = binary_size(topic) + m.payload.size();
  if (d.qos != QoS::AtMostOnce) remaining += 2;
  if (v5) {
    detail::PropertySizer sizer;
    emit_delivery_properties(extra, d, sizer);
    props = sizer.n;
    remaining += detail::varint_size_of(static_cast<std::uint32_t>(props)) + props;
  }
  const std::size_t total =
      1 + detail::varint_size_of(static_cast<std::uint32_t>(remaining)) + remaining;

  out.reserve(out.size() + total);
  put_fixed_header(out, publish_first_byte(d.dup, d.qos, d.retain), remaining);
  put_binary(out, topic);
  if (d.qos != QoS::AtMostOnce) put_u16(out, d.packet_id);
  if (v5) {
    detail::put_varint(out, static_cast<std::uint32_t>(props));
    detail::PropertyWriter writer{out};
    emit_delivery_properties(extra, d, writer);
  }
  out.append(m.payload);
  return total;
}

}  // namespace emqxd::mqtt
