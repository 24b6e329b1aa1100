// The MQTT-SN adapter (gateways/mqttsn/adapter.hpp) against a recording host: what goes to
// the channel and to the client for each message, and the bounds the integration tests
// cannot reach in reasonable time (the registry, the held messages, REGISTER retries).
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "gateways/mqttsn/adapter.hpp"

using namespace emqxd::gateways::mqttsn;
namespace mqtt = emqxd::mqtt;

namespace {

struct Recorder : AdapterHost {
  // Packets to the channel, with a Publish's views copied out.
  struct Sent {
    mqtt::Packet packet;
    std::string topic, payload;
  };
  std::vector<Sent> broker;
  std::vector<Packet> client;
  int sleeps = 0, wakes = 0;
  std::optional<mqtt::Will> will;

  void to_broker(const mqtt::Packet& p) override {
    Sent s{p, {}, {}};
    if (const auto* pub = std::get_if<mqtt::Publish>(&p)) {
      s.topic = pub->topic;
      s.payload = pub->payload;
    }
    broker.push_back(std::move(s));
  }
  void to_client(const Packet& p) override { client.push_back(p); }
  void sleep(std::chrono::seconds) override { ++sleeps; }
  void wake() override { ++wakes; }
  void set_will(const std::optional<mqtt::Will>& w) override { will = w; }
};

std::shared_ptr<Settings> settings() {
  auto s = std::make_shared<Settings>();
  s->add_predefined(1, "pre/one");
  return s;
}

// Connected: CONNECT, and the channel's CONNACK.
void connect(Adapter& a, Recorder& r) {
  Connect c;
  c.client_id = "dev";
  c.duration = 30;
  a.from_client(c);
  a.from_broker(mqtt::ConnAck{});
  REQUIRE(a.state() == Adapter::State::Connected);
  r.client.clear();
  r.broker.clear();
}

mqtt::Publish mqtt_publish(std::string_view topic, std::uint16_t id = 0) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = "x";
  p.qos = id == 0 ? mqtt::QoS::AtMostOnce : mqtt::QoS::AtLeastOnce;
  p.packet_id = id;
  return p;
}

}  // namespace

TEST_CASE("CONNECT becomes an MQTT 3.1.1 CONNECT, and its CONNACK an MQTT-SN CONNACK") {
  Recorder r;
  Adapter a(settings(), r);
  Connect c;
  c.flags.clean_session = true;
  c.duration = 45;
  c.client_id = "dev";
  a.from_client(c);
  REQUIRE(r.broker.size() == 1);
  const auto& mc = std::get<mqtt::Connect>(r.broker[0].packet);
  CHECK(mc.version == mqtt::ProtocolVersion::V3_1_1);
  CHECK(mc.client_id == "dev");
  CHECK(mc.keep_alive == 45);
  CHECK(mc.clean_start);
  CHECK_FALSE(mc.will);
  a.from_broker(mqtt::ConnAck{false, 5, {}});  // not authorized
  REQUIRE(r.client.size() == 1);
  CHECK(std::get<Connack>(r.client[0]).rc == ReturnCode::NotSupported);
  CHECK(a.state() == Adapter::State::Idle);
}

TEST_CASE("a client's REGISTERs are bounded: past the registry's size, rejected: congestion") {
  Recorder r;
  Adapter a(settings(), r);
  connect(a, r);
  for (std::size_t i = 0; i < Adapter::kMaxRegistered; ++i) {
    a.from_client(Register{0, static_cast<std::uint16_t>(i + 1), "t/" + std::to_string(i)});
  }
  CHECK(a.registered() == Adapter::kMaxRegistered);
  REQUIRE(r.client.size() == Adapter::kMaxRegistered);
  CHECK(std::get<Regack>(r.client.back()).rc == ReturnCode::Accepted);
  a.from_client(Register{0, 9999, "one/too/many"});
  const auto& last = std::get<Regack>(r.client.back());
  CHECK(last.rc == ReturnCode::Congestion);
  CHECK(last.topic_id == 0);
  CHECK(a.registered() == Adapter::kMaxRegistered);
}

TEST_CASE("past the registry's size the gateway reuses the oldest id it gave") {
  Recorder r;
  Adapter a(settings(), r);
  connect(a, r);
  // Fill the registry with the client's own ids, but one.
  for (std::size_t i = 0; i + 1 < Adapter::kMaxRegistered; ++i) {
    a.from_client(Register{0, 1, "c/" + std::to_string(i)});
  }
  // The gateway gives the last id (a SUBSCRIBE of a topic name) ...
  Subscribe s;
  s.msg_id = 7;
  s.topic.name = "given/one";
  a.from_client(s);
  a.from_broker(mqtt::SubAck{7, {}, {mqtt::ReasonCode::Success}});
  const auto given = std::get<Suback>(r.client.back()).topic_id;
  REQUIRE(given != 0);
  r.client.clear();
  // ... and when full, a PUBLISH of a new topic reuses it, announced by REGISTER.
  a.from_broker(mqtt_publish("fresh/topic"));
  REQUIRE(r.client.size() == 1);
  const auto& reg = std::get<Register>(r.client[0]);
  CHECK(reg.topic_id == given);
  CHECK(reg.topic_name == "fresh/topic");
  CHECK(a.registered() == Adapter::kMaxRegistered);
}

TEST_CASE(
    "a PUBLISH waits for the REGACK of its REGISTER, sent again unanswered and then given up") {
  Recorder r;
  Adapter a(settings(), r);
  connect(a, r);
  a.from_broker(mqtt_publish("a/b", 3));
  a.from_broker(mqtt_publish("pre/one"));  // needs no REGISTER, but waits behind it
  REQUIRE(r.client.size() == 1);
  const auto reg = std::get<Register>(r.client[0]);
  CHECK(a.awaiting_regack());
  CHECK(a.register_timeout());  // second try
  CHECK(a.register_timeout());  // third
  REQUIRE(r.client.size() == 3);
  CHECK(std::get<Register>(r.client[2]) == reg);
  CHECK_FALSE(a.register_timeout());  // no more: the caller ends the connection
  a.from_client(Regack{reg.topic_id, reg.msg_id, ReturnCode::Accepted});
  REQUIRE(r.client.size() == 5);
  const auto& first = std::get<Publish>(r.client[3]);
  CHECK(first.topic.id == reg.topic_id);
  CHECK(first.msg_id == 3);
  const auto& second = std::get<Publish>(r.client[4]);
  CHECK(second.flags.topic_id_type == TopicIdType::Predefined);
  CHECK(second.topic.id == 1);
}

TEST_CASE("what waits for a sleeping client is bounded, the oldest PUBLISH dropped first") {
  Recorder r;
  Adapter a(settings(), r);
  connect(a, r);
  a.from_client(Disconnect{std::uint16_t{60}});
  CHECK(a.state() == Adapter::State::Asleep);
  CHECK(r.sleeps == 1);
  r.client.clear();
  for (std::size_t i = 0; i < Adapter::kMaxHeld + 10; ++i) {
    mqtt::Publish p = mqtt_publish("pre/one");
    std::string payload = std::to_string(i);
    p.payload = payload;
    a.from_broker(std::move(p));
  }
  CHECK(r.client.empty());
  a.from_client(Pingreq{"dev"});
  CHECK(r.wakes == 1);
  REQUIRE(r.client.size() == Adapter::kMaxHeld);
  CHECK(std::get<Publish>(r.client.front()).data == "10");  // 0..9 were dropped
  // The channel answers the PINGREQ: PINGRESP goes last, and the client sleeps again.
  REQUIRE(std::holds_alternative<mqtt::PingReq>(r.broker.back().packet));
  a.from_broker(mqtt::PingResp{});
  CHECK(std::holds_alternative<Pingresp>(r.client.back()));
  CHECK(r.sleeps == 2);
  a.from_broker(mqtt_publish("pre/one"));
  CHECK(r.client.size() == Adapter::kMaxHeld + 1);  // held again
}

TEST_CASE("a PINGREQ with another client's id does not wake a sleeping client") {
  Recorder r;
  Adapter a(settings(), r);
  connect(a, r);
  a.from_client(Disconnect{std::uint16_t{60}});
  a.from_client(Pingreq{"someone-else"});
  CHECK(r.wakes == 0);
}

TEST_CASE("PUBACK with rejected: invalid topic ID forgets the id and leaves the message unacked") {
  Recorder r;
  Adapter a(settings(), r);
  connect(a, r);
  a.from_client(Register{0, 1, "x/y"});
  const auto id = std::get<Regack>(r.client.back()).topic_id;
  r.broker.clear();
  a.from_client(Puback{id, 4, ReturnCode::InvalidTopicId});
  CHECK(r.broker.empty());  // the channel sends it again later
  CHECK(a.registered() == 0);
  a.from_client(Puback{id, 5, ReturnCode::Accepted});
  REQUIRE(r.broker.size() == 1);
  CHECK(std::get<mqtt::PubAck>(r.broker[0].packet).packet_id == 5);
}

TEST_CASE("the mountpoint and clientinfo_override fill in the client id") {
  auto s = settings();
  s->mountpoint = "sn/${clientid}/";
  s->client_override.username = "u-${clientid}";
  s->client_override.password = "secret";
  Recorder r;
  Adapter a(s, r);
  Connect c;
  c.client_id = "dev7";
  a.from_client(c);
  const auto& mc = std::get<mqtt::Connect>(r.broker.at(0).packet);
  CHECK(mc.username == std::optional<std::string>("u-dev7"));
  CHECK(mc.password == std::optional<std::string>("secret"));
  a.from_broker(mqtt::ConnAck{});
  r.broker.clear();
  r.client.clear();
  Publish p;
  p.flags.topic_id_type = TopicIdType::Predefined;
  p.topic.id = 1;
  p.data = "v";
  a.from_client(p);
  REQUIRE(r.broker.size() == 1);
  CHECK(r.broker[0].topic == "sn/dev7/pre/one");
  a.from_broker(mqtt_publish("sn/dev7/pre/one"));
  const auto& out = std::get<Publish>(r.client.at(0));
  CHECK(out.flags.topic_id_type == TopicIdType::Predefined);
  CHECK(out.topic.id == 1);
}

TEST_CASE("messages before CONNECT do not reach the channel") {
  Recorder r;
  Adapter a(settings(), r);
  Publish p;
  p.flags.topic_id_type = TopicIdType::Short;
  p.topic.name = "ab";
  a.from_client(p);
  a.from_client(Register{0, 1, "a"});
  Subscribe s;
  s.topic.name = "a";
  a.from_client(s);
  CHECK(r.broker.empty());
}
