#pragma once
// Internal to the codec (codec*.cpp): a bounds-checked reader over one packet body and the
// append helpers the encoders share. Not part of the module's interface.
//
// Every Reader method either consumes exactly what it returns or returns false and leaves
// the position undefined; callers stop at the first false and report MalformedPacket, since
// inside a complete frame running out of bytes means the packet cannot be parsed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/check.hpp"
#include "common/errc.hpp"
#include "mqtt/codec.hpp"

namespace emqxd::mqtt::detail {

// The largest value a Variable Byte Integer can carry (four bytes) [MQTT-1.5.5].
inline constexpr std::uint32_t kMaxVarint = 268'435'455;

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  std::size_t remaining() const { return in_.size() - pos_; }
  bool at_end() const { return pos_ == in_.size(); }

  bool u8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = byte(pos_);
    pos_ += 1;
    return true;
  }

  bool u16(std::uint16_t& v) {
    if (remaining() < 2) return false;
    v = static_cast<std::uint16_t>(byte(pos_) << 8 | byte(pos_ + 1));
    pos_ += 2;
    return true;
  }

  bool u32(std::uint32_t& v) {
    if (remaining() < 4) return false;
    v = std::uint32_t{byte(pos_)} << 24 | std::uint32_t{byte(pos_ + 1)} << 16 |
        std::uint32_t{byte(pos_ + 2)} << 8 | std::uint32_t{byte(pos_ + 3)};
    pos_ += 4;
    return true;
  }

  // At most four bytes; a continuation bit on the fourth is malformed [MQTT-1.5.5]. Encodings
  // longer than necessary are accepted (see the essay in codec.cpp).
  bool varint(std::uint32_t& v) {
    std::uint32_t value = 0;
    for (unsigned i = 0; i < 4; ++i) {
      std::uint8_t b = 0;
      if (!u8(b)) return false;
      value |= std::uint32_t{b & 0x7Fu} << (7 * i);
      if ((b & 0x80) == 0) {
        v = value;
        return true;
      }
    }
    return false;
  }

  // The next n bytes, as a view into the input.
  bool take(std::size_t n, std::string_view& v) {
    if (remaining() < n) return false;
    v = in_.substr(pos_, n);
    pos_ += n;
    return true;
  }

  // Binary Data: a Two Byte Integer length and that many bytes [MQTT-1.5.6].
  bool binary(std::string_view& v) {
    std::uint16_t len = 0;
    return u16(len) && take(len, v);
  }

  // UTF-8 Encoded String: Binary Data that is well-formed UTF-8 without U+0000
  // [MQTT-1.5.4-1] [MQTT-1.5.4-2]. The bytes are returned untouched, BOM included
  // [MQTT-1.5.4-3].
  bool utf8(std::string_view& v) { return binary(v) && is_valid_utf8_string(v); }

  bool utf8(std::string& v) {
    std::string_view sv;
    if (!utf8(sv)) return false;
    v.assign(sv);
    return true;
  }

  bool binary(std::string& v) {
    std::string_view sv;
    if (!binary(sv)) return false;
    v.assign(sv);
    return true;
  }

  // Everything left, consumed.
  std::string_view rest() {
    auto v = in_.substr(pos_);
    pos_ = in_.size();
    return v;
  }

 private:
  std::uint8_t byte(std::size_t i) const { return static_cast<std::uint8_t>(in_[i]); }

  std::string_view in_;
  std::size_t pos_ = 0;
};

// Collects the first Protocol Error while decoding goes on. A Protocol Error is by definition
// "detected after the packet has been parsed" (section 1.2), so a decoder keeps parsing after
// one and a Malformed Packet found later still wins.
class Verdict {
 public:
  void protocol_error() { protocol_error_ = true; }
  bool has_protocol_error() const { return protocol_error_; }

 private:
  bool protocol_error_ = false;
};

// --- Encoding ---------------------------------------------------------------------------

inline void put_u8(std::string& out, std::uint8_t v) {
  out.push_back(static_cast<char>(v));
}

inline void put_u16(std::string& out, std::uint16_t v) {
  const char b[2] = {static_cast<char>(v >> 8), static_cast<char>(v & 0xFF)};
  out.append(b, 2);
}

inline void put_u32(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>((v >> 16) & 0xFF),
                     static_cast<char>((v >> 8) & 0xFF), static_cast<char>(v & 0xFF)};
  out.append(b, 4);
}

inline std::size_t varint_size_of(std::uint32_t v) {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x20'0000 ? 3 : 4;
}

// Writes the minimum number of bytes [MQTT-1.5.5-1] into b; returns how many.
inline std::size_t varint_bytes(std::uint32_t v, char* b) {
  EMQXD_CHECK(v <= kMaxVarint, "a variable byte integer over 268,435,455");
  std::size_t n = 0;
  do {
    auto digit = static_cast<std::uint8_t>(v & 0x7F);
    v >>= 7;
    if (v > 0) digit |= 0x80;
    b[n++] = static_cast<char>(digit);
  } while (v > 0);
  return n;
}

inline void put_varint(std::string& out, std::uint32_t v) {
  char b[4];
  out.append(b, varint_bytes(v, b));
}

// Binary Data or a UTF-8 string; the length prefix is two bytes, so at most 65,535 bytes.
// Decoded values always fit; anything longer is a caller bug.
inline void put_binary(std::string& out, std::string_view v) {
  EMQXD_CHECK(v.size() <= 0xFFFF, "a string or binary field over 65,535 bytes");
  put_u16(out, static_cast<std::uint16_t>(v.size()));
  out.append(v);
}

inline std::size_t binary_size(std::string_view v) {
  return 2 + v.size();
}

// The fixed header: the first byte and the Remaining Length.
inline void put_fixed_header(std::string& out, std::uint8_t first_byte,
                             std::size_t remaining_length) {
  EMQXD_CHECK(remaining_length <= kMaxVarint, "a packet over 256 MB");
  put_u8(out, first_byte);
  put_varint(out, static_cast<std::uint32_t>(remaining_length));
}

// For packets small enough that writing the body first and moving it is cheaper than
// computing its size twice: open_frame reserves room for the largest fixed header,
// close_frame writes the real one and closes the gap.
inline std::size_t open_frame(std::string& out) {
  auto start = out.size();
  out.append(5, '\0');
  return start;
}

inline void close_frame(std::string& out, std::size_t start, std::uint8_t first_byte) {
  auto body = out.size() - start - 5;
  EMQXD_CHECK(body <= kMaxVarint, "a packet over 256 MB");
  char header[5];
  header[0] = static_cast<char>(first_byte);
  auto len = 1 + varint_bytes(static_cast<std::uint32_t>(body), header + 1);
  out.replace(start, 5, header, len);
}

}  // namespace emqxd::mqtt::detail
