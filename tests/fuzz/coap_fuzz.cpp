// libFuzzer entry point for the CoAP gateway's parsing (gateways/coap/): the message codec
// and the adapter's state machine. scripts/fuzz.sh builds and runs it (tests/fuzz/README.md);
// every build replays its seeds and regressions as the unit test fuzz:coap.
//
//  1. The whole input is one datagram through decode: whatever decodes must encode to a
//     datagram that decodes to an equal message, and the option accessors hold on anything.
//  2. The input is also a conversation: records of [length octet][datagram], each decoded
//     and given to an Adapter whose host answers as the broker's channel would (CONNACK,
//     PUBACK, SUBACK, UNSUBACK) and, on a record of length 0, delivers a message to every
//     subscription (large ones too, for Block2), or lets the retransmission timer fire.
//     Every message the adapter makes must encode to a datagram that decodes again, and
//     its observations stay within their bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "gateways/coap/adapter.hpp"
#include "gateways/coap/message.hpp"

namespace coap = emqxd::gateways::coap;
namespace mqtt = emqxd::mqtt;

namespace {

struct Broker : coap::AdapterHost {
  std::deque<mqtt::Packet> answers;
  std::vector<std::uint32_t> sub_ids;
  std::uint32_t seed = 1;
  void to_broker(const mqtt::Packet& p) override {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, mqtt::Connect>) {
            answers.push_back(mqtt::ConnAck{});
          } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
            if (m.qos != mqtt::QoS::AtMostOnce) answers.push_back(mqtt::PubAck{m.packet_id});
          } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
            for (auto id : m.props.subscription_identifiers)
              sub_ids.push_back(id);
            answers.push_back(mqtt::SubAck{m.packet_id, {}, {mqtt::ReasonCode::GrantedQoS1}});
          } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
            answers.push_back(mqtt::UnsubAck{m.packet_id});
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
  void keep_alive(std::chrono::milliseconds) override {}
  void retransmit_after(std::chrono::milliseconds) override {}
  std::uint32_t random() override { return seed = seed * 1103515245 + 12345; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto m = coap::decode(in)) {
    (void)m->path();
    (void)m->query("clientid");
    (void)m->uint_option(coap::kObserve);
    (void)m->block(coap::kBlock1);
    (void)m->block(coap::kBlock2);
    std::string again;
    coap::encode(*m, again);
    auto m2 = coap::decode(again);
    if (!m2 || !(*m2 == *m)) std::abort();
  }

  auto settings = std::make_shared<coap::Settings>();
  settings->block_szx = 2;  // 64-octet blocks, so that small inputs reach Block2
  settings->max_payload = 4096;
  Broker broker;
  coap::Adapter adapter(settings, broker);
  std::uint16_t packet_id = 1;
  auto now = std::chrono::steady_clock::now();
  while (!in.empty()) {
    const std::size_t n = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    const std::string_view record = in.substr(0, n);
    in.remove_prefix(record.size());
    if (n == 0) {
      // A message for every subscription, of a size the next octet picks; or time passes.
      const std::size_t len = in.empty() ? 10 : static_cast<std::uint8_t>(in[0]) * 3;
      const std::string payload(len, 'p');
      for (auto id : broker.sub_ids) {
        mqtt::Publish p;
        p.topic = "t";
        p.payload = payload;
        p.qos = packet_id % 2 == 0 ? mqtt::QoS::AtMostOnce : mqtt::QoS::AtLeastOnce;
        p.packet_id = p.qos == mqtt::QoS::AtMostOnce ? 0 : packet_id;
        packet_id = static_cast<std::uint16_t>(packet_id == 0xFFFF ? 1 : packet_id + 1);
        p.props.subscription_identifiers.push_back(id);
        adapter.from_broker(p);
      }
      now += std::chrono::seconds(3);
      adapter.retransmit(now);
    } else if (auto m = coap::decode(record)) {
      adapter.from_client(std::move(*m));
    }
    while (!broker.answers.empty()) {
      mqtt::Packet a = std::move(broker.answers.front());
      broker.answers.pop_front();
      adapter.from_broker(std::move(a));
    }
    if (adapter.observations() > coap::Adapter::kMaxObservations) std::abort();
  }
  return 0;
}
