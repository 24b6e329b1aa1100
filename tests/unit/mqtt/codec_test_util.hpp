#pragma once
// Helpers shared by the codec tests: byte strings, one-packet decode, round trips.
#include <catch2/catch.hpp>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "common/errc.hpp"
#include "mqtt/codec.hpp"

namespace Catch {
template <>
struct StringMaker<emqxd::Errc> {
  static std::string convert(emqxd::Errc e) { return std::string(emqxd::to_string(e)); }
};
}  // namespace Catch

namespace emqxd::mqtt::test {

inline constexpr std::uint32_t kNoLimit = 0xFFFF'FFFF;
inline constexpr auto V311 = ProtocolVersion::V3_1_1;
inline constexpr auto V5 = ProtocolVersion::V5;

// bytes({0x10, 0x02, 'a'}): a byte string from integers and characters.
inline std::string bytes(std::initializer_list<int> b) {
  std::string s;
  s.reserve(b.size());
  for (int c : b)
    s.push_back(static_cast<char>(c));
  return s;
}

inline std::string hex(std::string_view s) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (char c : s) {
    auto b = static_cast<unsigned char>(c);
    if (!out.empty()) out.push_back(' ');
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xF]);
  }
  return out;
}

// A frame around `body`: first byte, the Remaining Length, the body.
inline std::string frame(std::uint8_t first_byte, std::string_view body) {
  std::string s(1, static_cast<char>(first_byte));
  auto n = static_cast<std::uint32_t>(body.size());
  do {
    auto digit = static_cast<std::uint8_t>(n & 0x7F);
    n >>= 7;
    if (n > 0) digit |= 0x80;
    s.push_back(static_cast<char>(digit));
  } while (n > 0);
  s.append(body);
  return s;
}

// Frames and decodes `wire`, which must hold exactly one complete packet. A decoded Publish
// points into `wire`.
inline Result<Packet> decode_one(std::string_view wire, ProtocolVersion v) {
  auto h = peek_frame(wire, kNoLimit);
  if (!h) return h.error();
  REQUIRE(h->total() == wire.size());
  return decode(*h, wire.substr(h->header_length), v);
}

// The error decode_one reports; fails the test if it decodes.
inline Errc decode_error(std::string_view wire, ProtocolVersion v) {
  INFO("wire: " << hex(wire));
  auto r = decode_one(wire, v);
  REQUIRE_FALSE(r.has_value());
  return r.error();
}

inline Packet decode_ok(std::string_view wire, ProtocolVersion v) {
  INFO("wire: " << hex(wire));
  auto r = decode_one(wire, v);
  if (!r) FAIL("decode failed: " << to_string(r.error()));
  return std::move(r).value();
}

inline std::string encoded(const Packet& p, ProtocolVersion v) {
  std::string out;
  encode(p, v, out);
  return out;
}

// encode, then decode: the same value must come back.
inline void check_round_trip(const Packet& p, ProtocolVersion v) {
  const std::string wire = encoded(p, v);
  INFO("version " << static_cast<int>(v) << ", packet index " << p.index() << ", wire "
                  << hex(wire));
  auto r = decode_one(wire, v);
  if (!r) FAIL("decode failed: " << to_string(r.error()));
  REQUIRE(*r == p);
}

}  // namespace emqxd::mqtt::test
