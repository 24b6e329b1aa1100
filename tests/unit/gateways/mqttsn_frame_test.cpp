// MQTT-SN 1.2 frames (gateways/mqttsn/frame.hpp), byte for byte as the specification's
// section 5 lays each message out.
#include <catch2/catch.hpp>
#include <string>

#include "gateways/mqttsn/frame.hpp"

using namespace emqxd::gateways::mqttsn;
using emqxd::Errc;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b)
    s.push_back(static_cast<char>(x));
  return s;
}

std::string encoded(const Packet& p) {
  std::string out;
  encode(p, out);
  return out;
}

// Decodes `wire`, checks it is `want`, and that `want` encodes to `wire` again.
void round_trip(const std::string& wire, const Packet& want) {
  auto p = decode(wire);
  REQUIRE(p);
  CHECK(*p == want);
  CHECK(encoded(want) == wire);
}

}  // namespace

TEST_CASE("mqtt-sn: CONNECT and CONNACK (5.4.4, 5.4.5)") {
  Connect c;
  c.flags.clean_session = true;
  c.flags.will = true;
  c.duration = 60;
  c.client_id = "client1";
  // Length 13, MsgType 0x04, Flags (Will 0x08 | CleanSession 0x04), ProtocolId 0x01,
  // Duration 60, ClientId.
  round_trip(bytes({13, 0x04, 0x0C, 0x01, 0x00, 0x3C, 'c', 'l', 'i', 'e', 'n', 't', '1'}), c);
  round_trip(bytes({3, 0x05, 0x00}), Connack{ReturnCode::Accepted});
  round_trip(bytes({3, 0x05, 0x03}), Connack{ReturnCode::NotSupported});
}

TEST_CASE("mqtt-sn: PUBLISH with each TopicIdType and QoS -1 (5.4.12, 5.3.4)") {
  Publish p;
  p.flags.qos = 1;
  p.topic.id = 1;
  p.msg_id = 7;
  p.data = "hey";
  round_trip(bytes({10, 0x0C, 0x20, 0x00, 0x01, 0x00, 0x07, 'h', 'e', 'y'}), p);
  Publish s;
  s.flags.qos = -1;  // QoS bits 11
  s.flags.topic_id_type = TopicIdType::Short;
  s.topic.name = "t1";
  s.data = "hi";
  round_trip(bytes({9, 0x0C, 0x62, 't', '1', 0x00, 0x00, 'h', 'i'}), s);
  Publish d;
  d.flags.dup = true;
  d.flags.retain = true;
  d.flags.qos = 2;
  d.flags.topic_id_type = TopicIdType::Predefined;
  d.topic.id = 0x0102;
  d.msg_id = 0xBEEF;
  round_trip(bytes({7, 0x0C, 0xD1, 0x01, 0x02, 0xBE, 0xEF}), d);
  round_trip(bytes({7, 0x0D, 0x00, 0x01, 0x00, 0x07, 0x02}),
             Puback{1, 7, ReturnCode::InvalidTopicId});
  round_trip(bytes({4, 0x0F, 0x00, 0x09}), Pubrec{9});
  round_trip(bytes({4, 0x10, 0x00, 0x09}), Pubrel{9});
  round_trip(bytes({4, 0x0E, 0x00, 0x09}), Pubcomp{9});
}

TEST_CASE("mqtt-sn: REGISTER and REGACK (5.4.10, 5.4.11)") {
  round_trip(bytes({11, 0x0A, 0x00, 0x00, 0x00, 0x02, 'a', '/', 'b', '/', 'c'}),
             Register{0, 2, "a/b/c"});
  round_trip(bytes({7, 0x0B, 0x00, 0x05, 0x00, 0x02, 0x00}), Regack{5, 2, ReturnCode::Accepted});
}

TEST_CASE("mqtt-sn: SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK (5.4.15 to 5.4.18)") {
  Subscribe s;
  s.flags.qos = 1;
  s.msg_id = 5;
  s.topic.name = "a/#";
  round_trip(bytes({8, 0x12, 0x20, 0x00, 0x05, 'a', '/', '#'}), s);
  Subscribe pre;
  pre.flags.topic_id_type = TopicIdType::Predefined;
  pre.msg_id = 6;
  pre.topic.id = 3;
  round_trip(bytes({7, 0x12, 0x01, 0x00, 0x06, 0x00, 0x03}), pre);
  Suback a;
  a.flags.qos = 1;
  a.topic_id = 9;
  a.msg_id = 5;
  round_trip(bytes({8, 0x13, 0x20, 0x00, 0x09, 0x00, 0x05, 0x00}), a);
  Unsubscribe u;
  u.flags.topic_id_type = TopicIdType::Short;
  u.msg_id = 4;
  u.topic.name = "ab";
  round_trip(bytes({7, 0x14, 0x02, 0x00, 0x04, 'a', 'b'}), u);
  round_trip(bytes({4, 0x15, 0x00, 0x04}), Unsuback{4});
}

TEST_CASE(
    "mqtt-sn: will, ping, sleep, gateway discovery (5.4.1 to 5.4.3, 5.4.6 to 5.4.9, 5.4.19 "
    "to 5.4.25)") {
  round_trip(bytes({2, 0x06}), WillTopicReq{});
  WillTopic wt;
  wt.flags.qos = 1;
  wt.flags.retain = true;
  wt.topic = "w";
  round_trip(bytes({4, 0x07, 0x30, 'w'}), wt);
  round_trip(bytes({2, 0x07}), WillTopic{true, {}, ""});  // empty: the will goes
  round_trip(bytes({2, 0x08}), WillMsgReq{});
  round_trip(bytes({5, 0x09, 'b', 'y', 'e'}), WillMsg{"bye"});
  round_trip(bytes({2, 0x16}), Pingreq{});
  round_trip(bytes({4, 0x16, 'c', '1'}), Pingreq{"c1"});
  round_trip(bytes({2, 0x17}), Pingresp{});
  round_trip(bytes({2, 0x18}), Disconnect{});
  round_trip(bytes({4, 0x18, 0x01, 0x2C}), Disconnect{300});  // sleep for 300 s
  round_trip(bytes({5, 0x00, 0x01, 0x03, 0x84}), Advertise{1, 900});
  round_trip(bytes({3, 0x01, 0x02}), SearchGw{2});
  round_trip(bytes({3, 0x02, 0x01}), GwInfo{1, ""});
  round_trip(bytes({4, 0x1A, 0x00, 'x'}), WillTopicUpd{false, {}, "x"});
  round_trip(bytes({3, 0x1C, 'm'}), WillMsgUpd{"m"});
  round_trip(bytes({3, 0x1B, 0x00}), WillTopicResp{ReturnCode::Accepted});
  round_trip(bytes({3, 0x1D, 0x01}), WillMsgResp{ReturnCode::Congestion});
}

TEST_CASE("mqtt-sn: a message of 256 octets or more has the three-octet Length (5.2.1)") {
  Publish p;
  p.topic.id = 1;
  p.data.assign(300, 'x');
  const std::string wire = encoded(p);
  REQUIRE(wire.size() == 3 + 1 + 1 + 2 + 2 + 300);
  CHECK(wire.substr(0, 4) == bytes({0x01, 0x01, 0x35, 0x0C}));  // 309
  auto back = decode(wire);
  REQUIRE(back);
  CHECK(*back == Packet(p));
  // 255 octets still fit the one-octet Length.
  p.data.assign(255 - 7, 'y');
  CHECK(static_cast<unsigned char>(encoded(p)[0]) == 255);
}

TEST_CASE("mqtt-sn: what is not a message is refused, whole") {
  CHECK(decode("").error() == Errc::MalformedPacket);
  CHECK(decode(bytes({2})).error() == Errc::MalformedPacket);
  // The Length must be the datagram's.
  CHECK(decode(bytes({5, 0x16})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({2, 0x16, 'x'})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({0x01, 0x00, 0x05, 0x16})).error() == Errc::MalformedPacket);
  // Reserved types, TopicIdType 11, a short PUBACK, QoS -1 in SUBSCRIBE, a one-octet
  // sleep duration, the forwarders' encapsulation.
  CHECK(decode(bytes({2, 0x03})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({2, 0x11})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({7, 0x0C, 0x03, 0x00, 0x01, 0x00, 0x01})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({6, 0x0D, 0x00, 0x01, 0x00, 0x07})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({6, 0x12, 0x60, 0x00, 0x01, 'a'})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({3, 0x18, 0x01})).error() == Errc::MalformedPacket);
  CHECK(decode(bytes({4, 0xFE, 0x00, 0x02})).error() == Errc::ProtocolError);
}
