#include "storage/encoding.hpp"

#include <limits>
#include <memory>
#include <utility>

#include "common/check.hpp"

namespace emqxd::storage::encoding {
namespace {

// Message flags.
constexpr std::uint8_t kQoSMask = 0x03;
constexpr std::uint8_t kRetain = 0x04;
constexpr std::uint8_t kHasExpiry = 0x08;
constexpr std::uint8_t kHasExtra = 0x10;
constexpr std::uint8_t kMessageReserved = 0xE0;

// MessageExtra fields present.
constexpr std::uint8_t kPayloadFormat = 0x01;
constexpr std::uint8_t kContentType = 0x02;
constexpr std::uint8_t kResponseTopic = 0x04;
constexpr std::uint8_t kCorrelationData = 0x08;
constexpr std::uint8_t kUserProperties = 0x10;
constexpr std::uint8_t kExtraReserved = 0xE0;

// Delivery flags (the effective QoS in bits 0-1).
constexpr std::uint8_t kDeliveryRetain = 0x04;
constexpr std::uint8_t kDeliveryReserved = 0xF8;

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

void put_svarint(std::string& out, std::int64_t v) {
  // Zigzag: small magnitudes of either sign stay short.
  auto u = static_cast<std::uint64_t>(v);
  put_varint(out, (u << 1) ^ (v < 0 ? ~std::uint64_t{0} : 0));
}

void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

// Reads a value front to back. The first failure sticks: later reads fail too, and
// error() names what was being read and where.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool u8(std::uint8_t& v, const char* what) {
    if (!need(1, what)) return false;
    v = static_cast<std::uint8_t>(in_[pos_++]);
    return true;
  }
  bool be16(std::uint16_t& v, const char* what) {
    if (!need(2, what)) return false;
    v = get_be16(in_.substr(pos_));
    pos_ += 2;
    return true;
  }
  bool varint(std::uint64_t& v, const char* what) {
    v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      std::uint8_t b = 0;
      if (!u8(b, what)) return false;
      if (shift == 63 && b > 1) return fail("varint overflow in", what);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return fail("varint overflow in", what);
  }
  bool varint32(std::uint32_t& v, const char* what) {
    std::uint64_t w = 0;
    if (!varint(w, what)) return false;
    if (w > std::numeric_limits<std::uint32_t>::max()) return fail("out of range:", what);
    v = static_cast<std::uint32_t>(w);
    return true;
  }
  bool svarint(std::int64_t& v, const char* what) {
    std::uint64_t u = 0;
    if (!varint(u, what)) return false;
    v = static_cast<std::int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool bytes(std::string& s, const char* what) {
    std::uint64_t n = 0;
    if (!varint(n, what)) return false;
    if (n > in_.size() - pos_) return fail("truncated", what);
    s.assign(in_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  // A count of items each at least `min_size` bytes long: bounded by what is left, so a
  // corrupt count cannot make the caller reserve gigabytes.
  bool count(std::uint64_t& n, std::size_t min_size, const char* what) {
    if (!varint(n, what)) return false;
    if (n > (in_.size() - pos_) / min_size) return fail("truncated", what);
    return true;
  }
  bool version(const char* what) {
    std::uint8_t v = 0;
    if (!u8(v, what)) return false;
    if (v != kVersion) {
      return fail(("unsupported format version " + std::to_string(v) + " of").c_str(), what);
    }
    return true;
  }
  bool fail(const char* problem, const char* what) {
    if (error_.empty()) {
      error_ = std::string(problem) + " " + what + " at byte " + std::to_string(pos_);
    }
    pos_ = in_.size();
    return false;
  }
  // The value must be used up exactly.
  Status finish(const char* what) {
    if (error_.empty() && pos_ != in_.size()) {
      error_ = std::to_string(in_.size() - pos_) + " trailing bytes after " + what;
    }
    if (error_.empty()) return {};
    return Status::corruption(error_);
  }

 private:
  bool need(std::size_t n, const char* what) {
    if (in_.size() - pos_ >= n) return true;
    return fail("truncated", what);
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  std::string error_;
};

void encode_extra(const mqtt::MessageExtra& x, std::string& out) {
  std::uint8_t fields = 0;
  if (x.payload_format_indicator) fields |= kPayloadFormat;
  if (x.content_type) fields |= kContentType;
  if (x.response_topic) fields |= kResponseTopic;
  if (x.correlation_data) fields |= kCorrelationData;
  if (!x.user_properties.empty()) fields |= kUserProperties;
  out.push_back(static_cast<char>(fields));
  if (x.payload_format_indicator) out.push_back(static_cast<char>(*x.payload_format_indicator));
  if (x.content_type) put_bytes(out, *x.content_type);
  if (x.response_topic) put_bytes(out, *x.response_topic);
  if (x.correlation_data) put_bytes(out, *x.correlation_data);
  if (!x.user_properties.empty()) {
    put_varint(out, x.user_properties.size());
    for (const auto& [k, v] : x.user_properties) {
      put_bytes(out, k);
      put_bytes(out, v);
    }
  }
}

bool decode_extra(Reader& r, mqtt::MessageExtra& x) {
  std::uint8_t fields = 0;
  if (!r.u8(fields, "message extra fields")) return false;
  if ((fields & kExtraReserved) != 0) return r.fail("reserved bits set in", "message extra");
  if ((fields & kPayloadFormat) != 0) {
    std::uint8_t pfi = 0;
    if (!r.u8(pfi, "payload format indicator")) return false;
    x.payload_format_indicator = pfi;
  }
  auto opt_bytes = [&](std::uint8_t bit, std::optional<std::string>& field, const char* what) {
    if ((fields & bit) == 0) return true;
    field.emplace();
    return r.bytes(*field, what);
  };
  if (!opt_bytes(kContentType, x.content_type, "content type") ||
      !opt_bytes(kResponseTopic, x.response_topic, "response topic") ||
      !opt_bytes(kCorrelationData, x.correlation_data, "correlation data")) {
    return false;
  }
  if ((fields & kUserProperties) != 0) {
    std::uint64_t n = 0;
    if (!r.count(n, 2, "user property count")) return false;
    if (n == 0) return r.fail("empty", "user properties");
    x.user_properties.resize(static_cast<std::size_t>(n));
    for (auto& [k, v] : x.user_properties) {
      if (!r.bytes(k, "user property name") || !r.bytes(v, "user property value")) return false;
    }
  }
  return true;
}

bool decode_message_fields(Reader& r, const ClockPair& now, mqtt::MessagePtr& out) {
  if (!r.version("message")) return false;
  std::uint8_t flags = 0;
  if (!r.u8(flags, "message flags")) return false;
  if ((flags & kQoSMask) == 3) return r.fail("QoS 3 in", "message flags");
  if ((flags & kMessageReserved) != 0) return r.fail("reserved bits set in", "message flags");
  auto m = std::make_shared<mqtt::Message>();
  m->qos = static_cast<mqtt::QoS>(flags & kQoSMask);
  m->retain = (flags & kRetain) != 0;
  std::int64_t received_at_ms = 0;
  std::optional<std::int64_t> expires_at_ms;
  if (!r.svarint(received_at_ms, "message received-at")) return false;
  if ((flags & kHasExpiry) != 0) {
    std::int64_t e = 0;
    if (!r.svarint(e, "message expiry")) return false;
    expires_at_ms = e;
  }
  if (!r.bytes(m->topic, "message topic") || !r.bytes(m->payload, "message payload")) {
    return false;
  }
  if ((flags & kHasExtra) != 0) {
    auto x = std::make_shared<mqtt::MessageExtra>();
    if (!decode_extra(r, *x)) return false;
    m->extra = std::move(x);
  }
  set_wall_times(*m, received_at_ms, expires_at_ms, now);
  m->received_at_ms = received_at_ms;
  out = std::move(m);
  return true;
}

}  // namespace

// ------------------------------------------------------------------------------ keys

void put_be64(std::string& out, std::uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8)
    out.push_back(static_cast<char>(v >> shift));
}

void put_be16(std::string& out, std::uint16_t v) {
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

std::uint64_t get_be64(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < 8; ++i)
    v = (v << 8) | static_cast<std::uint8_t>(in[i]);
  return v;
}

std::uint16_t get_be16(std::string_view in) {
  return static_cast<std::uint16_t>((static_cast<std::uint8_t>(in[0]) << 8) |
                                    static_cast<std::uint8_t>(in[1]));
}

void session_key(std::string& out, std::uint64_t uid) {
  put_be64(out, uid);
}

void subscription_key(std::string& out, std::uint64_t uid, std::string_view filter) {
  put_be64(out, uid);
  out.append(filter);
}

void delivery_key(std::string& out, std::uint64_t uid, std::uint64_t seq) {
  put_be64(out, uid);
  put_be64(out, seq);
}

void delivery_state_key(std::string& out, std::uint64_t uid, std::uint64_t seq) {
  delivery_key(out, uid, seq);
  out.push_back(kStateSuffix);
}

void awaiting_rel_key(std::string& out, std::uint64_t uid, std::uint16_t packet_id) {
  put_be64(out, uid);
  put_be16(out, packet_id);
}

void kv_prefix(std::string& out, std::string_view ns) {
  EMQXD_CHECK(ns.size() <= 255, "storage: kv namespace longer than 255 bytes");
  out.push_back(static_cast<char>(static_cast<std::uint8_t>(ns.size())));
  out.append(ns);
}

void kv_key(std::string& out, std::string_view ns, std::string_view key) {
  kv_prefix(out, ns);
  out.append(key);
}

std::optional<std::uint64_t> key_uid(std::string_view key) {
  if (key.size() < kUidSize) return std::nullopt;
  return get_be64(key);
}

// ---------------------------------------------------------------------------- values

void encode_message(const mqtt::Message& m, const ClockPair& now, std::string& out) {
  auto expires = wall_expiry_ms(m, now);
  std::uint8_t flags = static_cast<std::uint8_t>(static_cast<unsigned>(m.qos) & kQoSMask);
  if (m.retain) flags |= kRetain;
  if (expires) flags |= kHasExpiry;
  if (m.extra) flags |= kHasExtra;
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(flags));
  put_svarint(out, m.received_at_ms != 0 ? m.received_at_ms : to_wall_ms(m.received_at, now));
  if (expires) put_svarint(out, *expires);
  put_bytes(out, m.topic);
  put_bytes(out, m.payload);
  if (m.extra) encode_extra(*m.extra, out);
}

Status decode_message(std::string_view in, const ClockPair& now, mqtt::MessagePtr& out) {
  Reader r(in);
  decode_message_fields(r, now, out);
  return r.finish("message");
}

void encode_session(const SessionRecord& s, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  put_bytes(out, s.client_id);
  put_varint(out, s.expiry_interval);
  put_svarint(out, s.disconnected_at_ms);
  out.push_back(static_cast<char>(s.proto_ver));
}

Status decode_session(std::string_view in, SessionRecord& out) {
  Reader r(in);
  (void)(r.version("session") && r.bytes(out.client_id, "session client id") &&
         r.varint32(out.expiry_interval, "session expiry interval") &&
         r.svarint(out.disconnected_at_ms, "session disconnected-at") &&
         r.u8(out.proto_ver, "session protocol version"));
  return r.finish("session");
}

void encode_subscription(const SubscriptionRecord& s, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(encode_options(s.options)));
  put_varint(out, s.subscription_id);
}

Status decode_subscription(std::string_view in, SubscriptionRecord& out) {
  Reader r(in);
  std::uint8_t byte = 0;
  if (r.version("subscription") && r.u8(byte, "subscription options")) {
    if (auto o = decode_options(byte)) {
      out.options = *o;
      r.varint32(out.subscription_id, "subscription identifier");
    } else {
      r.fail("invalid", "subscription options");
    }
  }
  return r.finish("subscription");
}

void encode_delivery(const DeliveryRecord& d, const ClockPair& now, std::string& out) {
  EMQXD_CHECK(d.msg != nullptr, "storage: a delivery without a message");
  std::uint8_t flags = static_cast<std::uint8_t>(static_cast<unsigned>(d.qos) & kQoSMask);
  if (d.retain) flags |= kDeliveryRetain;
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(flags));
  out.push_back(static_cast<char>(d.state));
  put_be16(out, d.packet_id);
  put_varint(out, d.subscription_ids.size());
  for (std::uint32_t id : d.subscription_ids)
    put_varint(out, id);
  put_bytes(out, d.share);
  encode_message(*d.msg, now, out);
}

Status decode_delivery(std::string_view in, const ClockPair& now, DeliveryRecord& out) {
  Reader r(in);
  std::uint8_t flags = 0;
  std::uint8_t state = 0;
  std::uint64_t n = 0;
  if (!r.version("delivery") || !r.u8(flags, "delivery flags") || !r.u8(state, "delivery state") ||
      !r.be16(out.packet_id, "delivery packet id")) {
    return r.finish("delivery");
  }
  if ((flags & kQoSMask) == 3 || (flags & kDeliveryReserved) != 0) {
    r.fail("invalid", "delivery flags");
    return r.finish("delivery");
  }
  if (state > static_cast<std::uint8_t>(OutState::WaitPubComp)) {
    r.fail("invalid", "delivery state");
    return r.finish("delivery");
  }
  out.qos = static_cast<mqtt::QoS>(flags & kQoSMask);
  out.retain = (flags & kDeliveryRetain) != 0;
  out.state = static_cast<OutState>(state);
  if (!r.count(n, 1, "subscription id count")) return r.finish("delivery");
  out.subscription_ids.resize(static_cast<std::size_t>(n));
  for (auto& id : out.subscription_ids) {
    if (!r.varint32(id, "subscription id")) return r.finish("delivery");
  }
  if (!r.bytes(out.share, "delivery share")) return r.finish("delivery");
  decode_message_fields(r, now, out.msg);
  return r.finish("delivery");
}

void encode_delivery_state(std::uint16_t packet_id, OutState state, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(state));
  put_be16(out, packet_id);
}

Status decode_delivery_state(std::string_view in, std::uint16_t& packet_id, OutState& state) {
  Reader r(in);
  std::uint8_t s = 0;
  if (r.version("delivery state") && r.u8(s, "delivery state") &&
      r.be16(packet_id, "delivery state packet id")) {
    if (s > static_cast<std::uint8_t>(OutState::WaitPubComp)) {
      r.fail("invalid", "delivery state");
    } else {
      state = static_cast<OutState>(s);
    }
  }
  return r.finish("delivery state");
}

void encode_awaiting_rel(std::int64_t received_at_ms, std::string& out) {
  out.push_back(static_cast<char>(kVersion));
  put_svarint(out, received_at_ms);
}

Status decode_awaiting_rel(std::string_view in, std::int64_t& received_at_ms) {
  Reader r(in);
  (void)(r.version("awaiting_rel") && r.svarint(received_at_ms, "awaiting_rel received-at"));
  return r.finish("awaiting_rel");
}

}  // namespace emqxd::storage::encoding
