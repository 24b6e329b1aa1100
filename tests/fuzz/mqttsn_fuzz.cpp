// libFuzzer entry point for the MQTT-SN gateway's parsing (gateways/mqttsn/): the frame
// codec and the adapter's state machine. scripts/fuzz.sh builds and runs it
// (tests/fuzz/README.md); every build replays its seeds and regressions as the unit test
// fuzz:mqttsn.
//
//  1. The whole input is one datagram through decode: whatever decodes must encode back to
//     a datagram that decodes to an equal message.
//  2. The input is also a conversation: records of [length octet][datagram], each decoded
//     and given to an Adapter whose host answers as the broker's channel would (CONNACK,
//     PUBACK, SUBACK, PINGRESP, ...) and, on a record of length 0, sends a PUBLISH of a
//     topic made from the input. Every message the adapter makes must encode to a datagram
//     that decodes again, and the registry stays within its bound.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <string>
#include <string_view>

#include "gateways/mqttsn/adapter.hpp"
#include "gateways/mqttsn/frame.hpp"

namespace sn = emqxd::gateways::mqttsn;
namespace mqtt = emqxd::mqtt;

namespace {

void check_round_trip(const sn::Packet& p) {
  std::string bytes;
  sn::encode(p, bytes);
  auto again = sn::decode(bytes);
  if (!again) std::abort();
}

// Answers as session::Channel would, one turn later (queued, like its output).
struct Broker : sn::AdapterHost {
  std::deque<mqtt::Packet> answers;
  void to_broker(const mqtt::Packet& p) override {
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, mqtt::Connect>) {
            answers.push_back(mqtt::ConnAck{});
          } else if constexpr (std::is_same_v<T, mqtt::Publish>) {
            if (m.qos == mqtt::QoS::AtLeastOnce) answers.push_back(mqtt::PubAck{m.packet_id});
            if (m.qos == mqtt::QoS::ExactlyOnce) answers.push_back(mqtt::PubRec{m.packet_id});
          } else if constexpr (std::is_same_v<T, mqtt::PubRel>) {
            answers.push_back(mqtt::PubComp{m.packet_id});
          } else if constexpr (std::is_same_v<T, mqtt::Subscribe>) {
            answers.push_back(mqtt::SubAck{m.packet_id, {}, {mqtt::ReasonCode::GrantedQoS1}});
          } else if constexpr (std::is_same_v<T, mqtt::Unsubscribe>) {
            answers.push_back(mqtt::UnsubAck{m.packet_id});
          } else if constexpr (std::is_same_v<T, mqtt::PingReq>) {
            answers.push_back(mqtt::PingResp{});
          }
        },
        p);
  }
  void to_client(const sn::Packet& p) override { check_round_trip(p); }
  void sleep(std::chrono::seconds) override {}
  void wake() override {}
  void set_will(const std::optional<mqtt::Will>&) override {}
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  if (auto p = sn::decode(in)) {
    std::string again;
    sn::encode(*p, again);
    auto p2 = sn::decode(again);
    if (!p2 || !(*p2 == *p)) std::abort();
  }

  auto settings = std::make_shared<sn::Settings>();
  settings->add_predefined(1, "pre/one");
  settings->mountpoint = "m/${clientid}/";
  Broker broker;
  sn::Adapter adapter(settings, broker);
  std::uint16_t next_id = 1;
  while (!in.empty()) {
    const std::size_t n = static_cast<std::uint8_t>(in[0]);
    in.remove_prefix(1);
    const std::string_view record = in.substr(0, n);
    in.remove_prefix(record.size());
    if (n == 0) {
      // The broker has a message for the client, on a topic made of the next octets.
      mqtt::Publish pub;
      const std::string topic = "m/" + adapter.client_id() + "/" +
                                std::string(in.substr(0, in.empty() ? 0 : in[0] & 0x0F));
      pub.topic = topic;
      pub.payload = "x";
      pub.qos = next_id % 3 == 0 ? mqtt::QoS::AtMostOnce : mqtt::QoS::AtLeastOnce;
      pub.packet_id = pub.qos == mqtt::QoS::AtMostOnce ? 0 : next_id;
      next_id = static_cast<std::uint16_t>(next_id + 1 == 0 ? 1 : next_id + 1);
      adapter.from_broker(pub);
    } else if (auto p = sn::decode(record)) {
      adapter.from_client(std::move(*p));
    }
    while (!broker.answers.empty()) {
      mqtt::Packet a = std::move(broker.answers.front());
      broker.answers.pop_front();
      adapter.from_broker(std::move(a));
    }
    if (adapter.awaiting_regack() && n == 1) adapter.register_timeout();
    if (adapter.registered() > sn::Adapter::kMaxRegistered) std::abort();
  }
  return 0;
}
