#pragma once
// The header every bench payload starts with, in network byte order:
//
//   ["EQB1"][stream u32][sequence u64][send time u64]  then padding up to the payload size
//
// The magic tells bench messages from anything else on the same topics (another
// generator's payloads are counted as foreign, never parsed as sequence numbers).
// `stream` is the publisher's client sequence number (the %i of its topic); its top bit marks
// the last message of the stream, so a subscriber in another process learns how many
// messages the stream had and can count losses at the tail too. `sequence` counts from 0 per
// stream. `send time` is CLOCK_REALTIME in nanoseconds when the message was written.
//
// With --json-payload the payload is a JSON object that rules and other JSON readers can
// take apart, carrying the same header in hex:
//
//   {"h":"<the 24 header bytes, 48 hex digits>","v":<sequence mod 100>,"p":"000..."}
//
// "p" pads the object to the payload size (at least kJsonPayloadMinSize).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace emqxd::bench {

inline constexpr std::size_t kPayloadHeaderSize = 24;
inline constexpr std::string_view kPayloadMagic = "EQB1";
inline constexpr std::uint32_t kFinalFlag = 0x8000'0000u;
inline constexpr std::uint32_t kMaxStreamId = kFinalFlag - 1;

struct PayloadHeader {
  std::uint32_t stream = 0;
  std::uint64_t sequence = 0;
  std::int64_t sent_ns = 0;
  bool final = false;
};

namespace detail {
inline void put_be(char* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<char>(v & 0xFF);
    v >>= 8;
  }
}
inline std::uint64_t get_be(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v = v << 8 | static_cast<unsigned char>(p[i]);
  return v;
}
}  // namespace detail

// Writes the header at `p`, which must have kPayloadHeaderSize bytes.
inline void write_payload_header(char* p, const PayloadHeader& h) {
  kPayloadMagic.copy(p, kPayloadMagic.size());
  p += kPayloadMagic.size();
  detail::put_be(p, h.stream | (h.final ? kFinalFlag : 0u), 4);
  detail::put_be(p + 4, h.sequence, 8);
  detail::put_be(p + 12, static_cast<std::uint64_t>(h.sent_ns), 8);
}

inline constexpr std::string_view kJsonPayloadPrefix = "{\"h\":\"";
// The prefix, 48 hex digits, ",\"v\":NN,\"p\":\"" and "\"}".
inline constexpr std::size_t kJsonPayloadMinSize = 6 + 48 + 6 + 2 + 6 + 2;

// The JSON form (above) of `h`, `size` bytes (at least kJsonPayloadMinSize), into `out`.
inline void append_json_payload(std::string& out, const PayloadHeader& h, std::size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  char raw[kPayloadHeaderSize];
  write_payload_header(raw, h);
  const std::size_t start = out.size();
  out += kJsonPayloadPrefix;
  for (unsigned char c : raw) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  const unsigned v = static_cast<unsigned>(h.sequence % 100);
  out += "\",\"v\":";
  out += static_cast<char>('0' + v / 10);
  out += static_cast<char>('0' + v % 10);
  out += ",\"p\":\"";
  const std::size_t used = out.size() - start + 2;
  if (size > used) out.append(size - used, '0');
  out += "\"}";
}

// False if the payload is not a bench message (too short, or no magic), in either form.
inline bool read_payload_header(std::string_view payload, PayloadHeader& h) {
  char raw[kPayloadHeaderSize];
  if (payload.starts_with(kJsonPayloadPrefix) &&
      payload.size() >= kJsonPayloadPrefix.size() + 2 * kPayloadHeaderSize) {
    auto nibble = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      return -1;
    };
    const char* x = payload.data() + kJsonPayloadPrefix.size();
    for (std::size_t i = 0; i < kPayloadHeaderSize; ++i) {
      const int hi = nibble(x[2 * i]), lo = nibble(x[2 * i + 1]);
      if (hi < 0 || lo < 0) return false;
      raw[i] = static_cast<char>(hi << 4 | lo);
    }
    payload = std::string_view(raw, sizeof raw);
  }
  if (payload.size() < kPayloadHeaderSize || !payload.starts_with(kPayloadMagic)) return false;
  const char* p = payload.data() + kPayloadMagic.size();
  const auto stream = static_cast<std::uint32_t>(detail::get_be(p, 4));
  h.stream = stream & ~kFinalFlag;
  h.final = (stream & kFinalFlag) != 0;
  h.sequence = detail::get_be(p + 4, 8);
  h.sent_ns = static_cast<std::int64_t>(detail::get_be(p + 12, 8));
  return true;
}

}  // namespace emqxd::bench
