// libFuzzer entry point for the LwM2M gateway's parsing (gateways/lwm2m/): TLV, payloads as
// JSON, and the adapter's state machine. scripts/fuzz.sh builds and runs it
// (tests/fuzz/README.md); every build replays its seeds and regressions as the unit test
// fuzz:lwm2m.
//
//  1. The whole input is TLV: whatever decodes must encode to the same octets' meaning
//     (decode(encode(x)) == x), and reads as content of /3/0 and /3 (or a ContentError);
//     it is also read as every other payload format a client may send.
//  2. The input is a conversation: records of [length octet][datagram], each decoded as
//     CoAP and given to an Adapter whose host answers as the channel would (CONNACK,
//     SUBACK); a record of length 0 takes the next record as an MQTT command instead (the
//     JSON a user would publish), and lets time pass (retransmissions, lifetime). Every
//     message the adapter makes must encode to a datagram that decodes again, every
//     payload it publishes must be JSON, and its queue and observations stay within bounds.
#include <boost/json/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "gateways/lwm2m/adapter.hpp"
#include "gateways/lwm2m/content.hpp"
#include "gateways/lwm2m/tlv.hpp"

namespace lwm2m = emqxd::gateways::lwm2m;
namespace coap = emqxd::gateways::coap;
namespace mqtt = emqxd::mqtt;

namespace {

struct Channel : lwm2m::AdapterHost {
  std::deque<mqtt::Packet> answers;
  std::uint32_t seed = 1;
  void to_broker(const mqtt::Packet& p) override {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, mqtt::Connect>) {
            answers.push_back(mqtt::ConnAck{});
          } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
            answers.push_back(mqtt::SubAck{m.packet_id, {}, {mqtt::ReasonCode::GrantedQoS1}});
          } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
            boost::system::error_code ec;
            (void)boost::json::parse(m.payload, ec);
            if (ec) std::abort();
          }
        },
        p);
  }
  void to_client(const coap::Message& m) override {
    std::string bytes;
    coap::encode(m, bytes);
    auto again = coap::decode(bytes);
    if (!again || !(*again == m)) std::abort();
  }
  void wake_after(std::chrono::milliseconds) override {}
  void keep_alive(std::chrono::milliseconds) override {}
  std::uint32_t random() override { return seed = seed * 1103515245 + 12345; }
};

const std::shared_ptr<const lwm2m::ObjectModel>& model() {
  static const auto m = lwm2m::ObjectModel::load("");
  return m;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto t = lwm2m::decode_tlv(in)) {
    std::string again;
    lwm2m::encode_tlv(*t, again);
    auto t2 = lwm2m::decode_tlv(again);
    if (!t2 || !(*t2 == *t)) std::abort();
  }
  for (std::uint16_t format : {lwm2m::kTlv, lwm2m::kTextPlain, lwm2m::kLwm2mJson, lwm2m::kSenmlJson,
                               lwm2m::kLinkFormat, lwm2m::kOctetStream}) {
    for (const auto& path : {std::vector<std::uint16_t>{3, 0}, std::vector<std::uint16_t>{3},
                             std::vector<std::uint16_t>{3, 0, 7}}) {
      try {
        (void)lwm2m::content_to_json(in, format, path, *model());
      } catch (const lwm2m::ContentError&) {
      }
    }
  }

  auto settings = std::make_shared<lwm2m::Settings>();
  settings->model = model();
  settings->auto_observe = true;
  settings->max_body = 4096;
  Channel channel;
  lwm2m::Adapter adapter(settings, channel);
  auto now = std::chrono::steady_clock::now();
  bool command_next = false;
  while (!in.empty()) {
    const std::size_t n = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    const std::string_view record = in.substr(0, n);
    in.remove_prefix(record.size());
    if (n == 0) {
      command_next = true;
      now += std::chrono::seconds(5);
      adapter.tick(now);
    } else if (command_next) {
      command_next = false;
      mqtt::Publish p;
      p.topic = "lwm2m/e/dn/x";
      p.payload = record;
      adapter.from_broker(p, now);
    } else if (auto m = coap::decode(record)) {
      adapter.from_client(std::move(*m), now);
    }
    while (!channel.answers.empty()) {
      mqtt::Packet a = std::move(channel.answers.front());
      channel.answers.pop_front();
      adapter.from_broker(std::move(a), now);
    }
    if (adapter.queued() > lwm2m::Adapter::kMaxQueued ||
        adapter.observations() > lwm2m::Adapter::kMaxObservations)
      std::abort();
  }
  return 0;
}
