// libFuzzer entry point for the MQTT-SN frame codec (gateways/mqttsn/frame.hpp): one
// datagram through decode; whatever decodes must encode back to a datagram that decodes
// to an equal message. scripts/fuzz.sh builds and runs it (tests/fuzz/README.md); every
// build replays its seeds and regressions as the unit test fuzz:mqttsn.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateways/mqttsn/frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace sn = emqxd::gateways::mqttsn;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto p = sn::decode(in);
  if (!p) return 0;
  std::string again;
  sn::encode(*p, again);
  auto p2 = sn::decode(again);
  if (!p2 || !(*p2 == *p)) std::abort();
  return 0;
}
