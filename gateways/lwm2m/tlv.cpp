// LwM2M TLV (tlv.hpp).
#include "gateways/lwm2m/tlv.hpp"

#include <bit>
#include <cstring>

namespace emqxd::gateways::lwm2m {

namespace {

Result<std::vector<Tlv>> decode_level(std::string_view in, int depth) {
  std::vector<Tlv> out;
  while (!in.empty()) {
    const auto type = static_cast<std::uint8_t>(in[0]);
    Tlv t;
    t.kind = static_cast<Tlv::Kind>(type >> 6);
    const std::size_t id_len = (type & 0x20) ? 2 : 1;
    const std::size_t len_len = (type >> 3) & 0x03;
    std::size_t at = 1;
    if (in.size() < at + id_len + len_len) return Errc::MalformedPacket;
    t.id = static_cast<std::uint8_t>(in[at]);
    if (id_len == 2)
      t.id = static_cast<std::uint16_t>(t.id << 8 | static_cast<std::uint8_t>(in[at + 1]));
    at += id_len;
    std::size_t length = type & 0x07;
    if (len_len != 0) {
      length = 0;
      for (std::size_t i = 0; i < len_len; ++i)
        length = length << 8 | static_cast<std::uint8_t>(in[at + i]);
      at += len_len;
    }
    if (in.size() - at < length) return Errc::MalformedPacket;
    const std::string_view value = in.substr(at, length);
    in.remove_prefix(at + length);
    switch (t.kind) {
      case Tlv::Kind::ObjectInstance:
      case Tlv::Kind::MultipleResource: {
        if (depth >= 2) return Errc::MalformedPacket;
        auto inner = decode_level(value, depth + 1);
        if (!inner) return inner.error();
        for (const auto& c : *inner) {
          const bool fits =
              t.kind == Tlv::Kind::ObjectInstance
                  ? (c.kind == Tlv::Kind::Resource || c.kind == Tlv::Kind::MultipleResource)
                  : c.kind == Tlv::Kind::ResourceInstance;
          if (!fits) return Errc::MalformedPacket;
        }
        t.children = std::move(*inner);
        break;
      }
      case Tlv::Kind::ResourceInstance:
      case Tlv::Kind::Resource:
        t.value = std::string(value);
        break;
    }
    out.push_back(std::move(t));
  }
  return out;
}

void encode_one(const Tlv& t, std::string& out) {
  std::string inner;
  const std::string* value = &t.value;
  if (t.kind == Tlv::Kind::ObjectInstance || t.kind == Tlv::Kind::MultipleResource) {
    encode_tlv(t.children, inner);
    value = &inner;
  }
  const std::size_t n = value->size();
  std::uint8_t type = static_cast<std::uint8_t>(static_cast<std::uint8_t>(t.kind) << 6);
  if (t.id > 0xFF) type |= 0x20;
  std::size_t len_len = 0;
  if (n <= 7) {
    type |= static_cast<std::uint8_t>(n);
  } else {
    len_len = n <= 0xFF ? 1 : n <= 0xFFFF ? 2 : 3;
    type |= static_cast<std::uint8_t>(len_len << 3);
  }
  out.push_back(static_cast<char>(type));
  if (t.id > 0xFF) out.push_back(static_cast<char>(t.id >> 8));
  out.push_back(static_cast<char>(t.id & 0xFF));
  for (std::size_t i = len_len; i > 0; --i)
    out.push_back(static_cast<char>((n >> (8 * (i - 1))) & 0xFF));
  out += *value;
}

}  // namespace

Result<std::vector<Tlv>> decode_tlv(std::string_view in) {
  if (in.size() > 0xFFFFFF + 5) return Errc::MalformedPacket;
  return decode_level(in, 0);
}

void encode_tlv(const std::vector<Tlv>& items, std::string& out) {
  for (const auto& t : items)
    encode_one(t, out);
}

std::string tlv_integer(std::int64_t v) {
  std::size_t n = 8;
  if (v >= INT8_MIN && v <= INT8_MAX) {
    n = 1;
  } else if (v >= INT16_MIN && v <= INT16_MAX) {
    n = 2;
  } else if (v >= INT32_MIN && v <= INT32_MAX) {
    n = 4;
  }
  std::string out(n, '\0');
  const auto u = static_cast<std::uint64_t>(v);
  for (std::size_t i = 0; i < n; ++i)
    out[n - 1 - i] = static_cast<char>((u >> (8 * i)) & 0xFF);
  return out;
}

std::string tlv_float(double v) {
  const auto u = std::bit_cast<std::uint64_t>(v);
  std::string out(8, '\0');
  for (std::size_t i = 0; i < 8; ++i)
    out[7 - i] = static_cast<char>((u >> (8 * i)) & 0xFF);
  return out;
}

Result<std::int64_t> integer_of(std::string_view v) {
  if (v.size() != 1 && v.size() != 2 && v.size() != 4 && v.size() != 8)
    return Errc::MalformedPacket;
  std::uint64_t u = 0;
  for (char c : v)
    u = u << 8 | static_cast<std::uint8_t>(c);
  const unsigned shift = static_cast<unsigned>(64 - 8 * v.size());
  // Sign-extend from the value's width.
  return static_cast<std::int64_t>(u << shift) >> shift;
}

Result<double> float_of(std::string_view v) {
  std::uint64_t u = 0;
  for (char c : v)
    u = u << 8 | static_cast<std::uint8_t>(c);
  if (v.size() == 4)
    return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(u)));
  if (v.size() == 8) return std::bit_cast<double>(u);
  return Errc::MalformedPacket;
}

}  // namespace emqxd::gateways::lwm2m
