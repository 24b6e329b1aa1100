// libFuzzer entry point for the STOMP gateway's parsing (gateways/stomp/): the input is a
// byte stream as a connection reads it, parsed frame by frame as the connection does, in
// pieces of varying size (the first octet picks them). Every frame parsed is given to an
// Adapter whose host answers as the channel would (CONNACK, PUBACK, SUBACK); every frame
// the adapter makes must encode to bytes that parse back to it; the parser must never
// ask for more input than the limits allow. scripts/fuzz.sh builds and runs it; every
// build replays its seeds and regressions as the unit test fuzz:stomp.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "gateways/stomp/adapter.hpp"
#include "gateways/stomp/frame.hpp"

namespace st = emqxd::gateways::stomp;
namespace mqtt = emqxd::mqtt;

namespace {

struct Broker : st::AdapterHost {
  std::deque<mqtt::Packet> answers;
  bool ended = false;
  void to_broker(const mqtt::Packet& p) override {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, mqtt::Connect>) {
            answers.push_back(mqtt::ConnAck{});
          } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
            answers.push_back(mqtt::PubAck{m.packet_id});
            // And back to the client, as a subscription would have it.
            answers.push_back(mqtt::Publish{false, mqtt::QoS::AtLeastOnce, false, "t", 9,
                                            mqtt::Properties{}, "x"});
          } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
            answers.push_back(mqtt::SubAck{m.packet_id, {}, {mqtt::ReasonCode::GrantedQoS1}});
          } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
            answers.push_back(mqtt::UnsubAck{m.packet_id});
          }
        },
        p);
  }
  void to_client(const st::Frame& f) override {
    std::string bytes;
    st::encode(f, bytes);
    std::string why;
    auto again = st::parse(bytes, st::Limits{1000, 1 << 20, 1 << 20}, why);
    if (!again || again->kind != st::Parsed::Kind::Frame || again->consumed != bytes.size()) {
      std::abort();
    }
  }
  void end_after_output() override { ended = true; }
  void send_heartbeats(std::uint32_t) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = 1 + data[0] % 64;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  const st::Limits limits;
  auto settings = std::make_shared<st::Settings>();
  Broker broker;
  st::Adapter adapter(settings, broker);
  std::string buffer;
  while (!input.empty() && !broker.ended) {
    const auto n = std::min(piece, input.size());
    buffer.append(input.substr(0, n));
    input.remove_prefix(n);
    std::string_view rest = buffer;
    while (!rest.empty()) {
      std::string why;
      auto p = st::parse(rest, limits, why);
      if (!p) return 0;  // the connection ends here
      if (p->kind == st::Parsed::Kind::NeedMore) break;
      rest.remove_prefix(p->consumed);
      if (p->kind == st::Parsed::Kind::Frame) adapter.from_client(std::move(p->frame));
      while (!broker.answers.empty()) {
        mqtt::Packet a = std::move(broker.answers.front());
        broker.answers.pop_front();
        adapter.from_broker(std::move(a));
      }
    }
    buffer.erase(0, buffer.size() - rest.size());
    // What waits for more must fit the limits (a head and a body).
    if (buffer.size() >
        64 + limits.max_headers * (limits.max_headers_length + 2) + limits.max_body_length + 64) {
      std::abort();
    }
  }
  return 0;
}
