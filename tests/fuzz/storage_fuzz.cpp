// libFuzzer harness for durable storage's value decoding (storage/encoding.hpp): what is
// read back from RocksDB after a crash, a disk error or an older or newer emqxd. Decoding
// must never crash, read past its input or allocate absurdly; whatever decodes must
// encode and decode again to an equal record.
//
// The first input byte picks the decoder; the rest is the stored value (or key).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "storage/encoding.hpp"

namespace enc = emqxd::storage::encoding;
using emqxd::storage::ClockPair;

namespace {

// A fixed "now", so that runs replay alike: 2026-01-01 on the wall clock.
ClockPair fixed_now() {
  ClockPair c;
  c.steady = emqxd::mqtt::Message::Clock::time_point(std::chrono::hours(1000));
  c.wall_ms = 1'767'225'600'000;
  return c;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const ClockPair now = fixed_now();
  switch (data[0] % 8) {
    case 0: {
      emqxd::mqtt::MessagePtr m;
      if (enc::decode_message(in, now, m).ok()) {
        check(m != nullptr);
        std::string again;
        enc::encode_message(*m, now, again);
        emqxd::mqtt::MessagePtr m2;
        check(enc::decode_message(again, now, m2).ok());
      }
      break;
    }
    case 1: {
      emqxd::storage::SessionRecord s;
      if (enc::decode_session(in, s).ok()) {
        std::string again;
        enc::encode_session(s, again);
        emqxd::storage::SessionRecord s2;
        check(enc::decode_session(again, s2).ok() && s2 == s);
      }
      break;
    }
    case 2: {
      emqxd::storage::SubscriptionRecord s;
      if (enc::decode_subscription(in, s).ok()) {
        std::string again;
        enc::encode_subscription(s, again);
        emqxd::storage::SubscriptionRecord s2;
        check(enc::decode_subscription(again, s2).ok() && s2 == s);
      }
      break;
    }
    case 3: {
      emqxd::storage::DeliveryRecord d;
      if (enc::decode_delivery(in, now, d).ok()) {
        check(d.msg != nullptr);
        std::string again;
        enc::encode_delivery(d, now, again);
        emqxd::storage::DeliveryRecord d2;
        check(enc::decode_delivery(again, now, d2).ok());
        check(d2.qos == d.qos && d2.retain == d.retain && d2.packet_id == d.packet_id &&
              d2.state == d.state && d2.share == d.share &&
              d2.subscription_ids == d.subscription_ids);
      }
      break;
    }
    case 4: {
      std::uint16_t packet_id = 0;
      emqxd::storage::OutState state{};
      if (enc::decode_delivery_state(in, packet_id, state).ok()) {
        std::string again;
        enc::encode_delivery_state(packet_id, state, again);
        std::uint16_t p2 = 0;
        emqxd::storage::OutState s2{};
        check(enc::decode_delivery_state(again, p2, s2).ok() && p2 == packet_id && s2 == state);
      }
      break;
    }
    case 5: {
      std::int64_t at = 0;
      if (enc::decode_awaiting_rel(in, at).ok()) {
        std::string again;
        enc::encode_awaiting_rel(at, again);
        std::int64_t at2 = 0;
        check(enc::decode_awaiting_rel(again, at2).ok() && at2 == at);
      }
      break;
    }
    case 6: {
      // Keys: the loader takes the uid off every key it scans.
      if (auto uid = enc::key_uid(in)) {
        check(in.size() >= enc::kUidSize && enc::get_be64(in) == *uid);
      }
      break;
    }
    default: {
      // The subscription options byte, as stored and as a peer sends it.
      if (!in.empty()) {
        if (auto o = emqxd::storage::decode_options(static_cast<std::uint8_t>(in[0]))) {
          check(emqxd::storage::decode_options(emqxd::storage::encode_options(*o)) == o);
        }
      }
      break;
    }
  }
  return 0;
}
