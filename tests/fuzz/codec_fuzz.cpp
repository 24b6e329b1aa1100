// libFuzzer entry point for the MQTT codec: the decode path a connection runs (peek_frame,
// then decode, packet after packet), plus the round trip the unit fuzz smoke test checks
// (tests/unit/mqtt/codec_fuzz_test.cpp): whatever decodes must re-encode and decode to an
// equal value. scripts/fuzz.sh builds and runs it (tests/fuzz/README.md); every build
// replays its seeds and regressions as the unit test fuzz:codec.
//
// The first input byte picks the connection's protocol version; the rest is the byte stream.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "mqtt/codec.hpp"

using emqxd::mqtt::ProtocolVersion;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ProtocolVersion version = data[0] % 3 == 0   ? ProtocolVersion::V3_1
                                  : data[0] % 3 == 1 ? ProtocolVersion::V3_1_1
                                                     : ProtocolVersion::V5;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  while (!in.empty()) {
    auto h = emqxd::mqtt::peek_frame(in, 1 << 20);
    if (!h || h->total() > in.size()) break;
    auto p = emqxd::mqtt::decode(*h, in.substr(h->header_length, h->remaining_length), version);
    if (p) {
      std::string again;
      emqxd::mqtt::encode(*p, version, again);
      auto h2 = emqxd::mqtt::peek_frame(again, 0xFFFF'FFFF);
      if (!h2 || h2->total() != again.size()) std::abort();
      auto p2 =
          emqxd::mqtt::decode(*h2, std::string_view(again).substr(h2->header_length), version);
      if (!p2 || !(*p2 == *p)) std::abort();
    }
    in.remove_prefix(h->total());
  }
  return 0;
}
