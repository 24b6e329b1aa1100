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
#include <cstddef>
#include <cstdint>
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

// False if the payload is not a bench message (too short, or no magic).
inline bool read_payload_header(std::string_view payload, PayloadHeader& h) {
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
