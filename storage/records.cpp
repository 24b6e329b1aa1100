#include "storage/records.hpp"

#include <algorithm>
#include <limits>

namespace emqxd::storage {
namespace {

using Clock = mqtt::Message::Clock;

// A century either side of now: beyond it a stored time is corrupt, and clamping keeps the
// steady-clock arithmetic (signed nanoseconds) far from overflow.
constexpr std::int64_t kMaxSkewMs = 100LL * 366 * 24 * 3600 * 1000;

std::int64_t clamp_skew(std::int64_t delta_ms) {
  return std::clamp(delta_ms, -kMaxSkewMs, kMaxSkewMs);
}

// a - b without signed overflow, clamped to the skew window.
std::int64_t diff_ms(std::int64_t a, std::int64_t b) {
  std::int64_t d = 0;
  if (__builtin_sub_overflow(a, b, &d)) return a < b ? -kMaxSkewMs : kMaxSkewMs;
  return clamp_skew(d);
}

}  // namespace

ClockPair ClockPair::now() {
  ClockPair p;
  p.steady = Clock::now();
  p.wall_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  return p;
}

std::int64_t to_wall_ms(Clock::time_point t, const ClockPair& now) {
  auto delta = std::chrono::duration_cast<std::chrono::milliseconds>(t - now.steady).count();
  return now.wall_ms + clamp_skew(delta);
}

Clock::time_point to_steady(std::int64_t wall_ms, const ClockPair& now) {
  return now.steady + std::chrono::milliseconds(diff_ms(wall_ms, now.wall_ms));
}

std::optional<std::int64_t> wall_expiry_ms(const mqtt::Message& m, const ClockPair& now) {
  if (!m.message_expiry_interval) return std::nullopt;
  return to_wall_ms(m.received_at, now) +
         static_cast<std::int64_t>(*m.message_expiry_interval) * 1000;
}

void set_wall_times(mqtt::Message& m, std::int64_t received_at_ms,
                    std::optional<std::int64_t> expires_at_ms, const ClockPair& now) {
  m.received_at = to_steady(received_at_ms, now);
  if (!expires_at_ms) {
    m.message_expiry_interval.reset();
    return;
  }
  std::int64_t span = diff_ms(*expires_at_ms, received_at_ms);
  // Whole seconds, rounded up: an interval written by us is whole already.
  std::int64_t seconds = span <= 0 ? 0 : (span + 999) / 1000;
  constexpr std::int64_t kMax = std::numeric_limits<std::uint32_t>::max();
  m.message_expiry_interval = static_cast<std::uint32_t>(std::min(seconds, kMax));
}

// A bit that MQTT reserves in the options byte: ours, in the store and between nodes.
constexpr unsigned kExclusiveBit = 0x40u;

std::uint8_t encode_options(const mqtt::SubscribeOptions& o) {
  return static_cast<std::uint8_t>(static_cast<unsigned>(o.max_qos) | (o.no_local ? 0x04u : 0u) |
                                   (o.retain_as_published ? 0x08u : 0u) |
                                   (static_cast<unsigned>(o.retain_handling & 0x03u) << 4) |
                                   (o.exclusive ? kExclusiveBit : 0u));
}

std::optional<mqtt::SubscribeOptions> decode_options(std::uint8_t byte) {
  unsigned qos = byte & 0x03u;
  unsigned rh = (byte >> 4) & 0x03u;
  if (qos == 3 || rh == 3 || (byte & 0x80u) != 0) return std::nullopt;
  mqtt::SubscribeOptions o;
  o.max_qos = static_cast<mqtt::QoS>(qos);
  o.no_local = (byte & 0x04u) != 0;
  o.retain_as_published = (byte & 0x08u) != 0;
  o.retain_handling = static_cast<std::uint8_t>(rh);
  o.exclusive = (byte & kExclusiveBit) != 0;
  return o;
}

}  // namespace emqxd::storage
