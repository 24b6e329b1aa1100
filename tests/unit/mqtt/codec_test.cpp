// Codec: framing, byte-exact packets from the spec, round trips of every packet type and
// property, encode_publish. Error classification is in codec_errors_test.cpp.
#include "mqtt/codec.hpp"

#include <array>
#include <catch2/catch.hpp>
#include <memory>
#include <set>
#include <variant>

#include "codec_samples.hpp"
#include "codec_test_util.hpp"
#include "common/run_in_child.hpp"
#include "mqtt/codec_properties.hpp"

namespace emqxd::mqtt {
namespace {

using namespace test;

// --- Framing ------------------------------------------------------------------------------

TEST_CASE("peek_frame reads Remaining Lengths of one to four bytes", "[codec][frame][MQTT-2.1.4]") {
  struct Case {
    std::string len;
    std::uint32_t value;
  };
  const std::array<Case, 9> cases = {{
      {bytes({0x00}), 0},
      {bytes({0x7F}), 127},
      {bytes({0x80, 0x01}), 128},
      {bytes({0xFF, 0x7F}), 16'383},
      {bytes({0x80, 0x80, 0x01}), 16'384},
      {bytes({0xFF, 0xFF, 0x7F}), 2'097'151},
      {bytes({0x80, 0x80, 0x80, 0x01}), 2'097'152},
      {bytes({0xFF, 0xFF, 0xFF, 0x7F}), 268'435'455},
      {bytes({0xC1, 0x02}), 321},
  }};
  for (const auto& c : cases) {
    INFO("length bytes " << hex(c.len));
    auto h = peek_frame("\x30" + c.len, kNoLimit);
    REQUIRE(h.has_value());
    CHECK(h->first_byte == 0x30);
    CHECK(h->type() == PacketType::Publish);
    CHECK(h->remaining_length == c.value);
    CHECK(h->header_length == 1 + c.len.size());
    CHECK(h->total() == 1 + c.len.size() + c.value);
    CHECK(varint_size(c.value) == c.len.size());
  }
}

TEST_CASE("peek_frame accepts a longer than necessary Remaining Length", "[codec][frame]") {
  auto h = peek_frame(bytes({0xC0, 0x80, 0x80, 0x00}), kNoLimit);
  REQUIRE(h.has_value());
  CHECK(h->remaining_length == 0);
  CHECK(h->header_length == 4);
}

TEST_CASE("a five-byte Remaining Length is malformed", "[codec][frame][MQTT-1.5.5]") {
  CHECK(peek_frame(bytes({0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F}), kNoLimit).error() ==
        Errc::MalformedPacket);
  // The fourth byte's continuation bit already says so; no need to wait for a fifth.
  CHECK(peek_frame(bytes({0x30, 0x80, 0x80, 0x80, 0x80}), kNoLimit).error() ==
        Errc::MalformedPacket);
}

TEST_CASE("peek_frame wants more data until the Remaining Length ends", "[codec][frame]") {
  CHECK(peek_frame("", kNoLimit).error() == Errc::NeedMoreData);
  CHECK(peek_frame(bytes({0x30}), kNoLimit).error() == Errc::NeedMoreData);
  CHECK(peek_frame(bytes({0x30, 0x80}), kNoLimit).error() == Errc::NeedMoreData);
  CHECK(peek_frame(bytes({0x30, 0xFF, 0xFF}), kNoLimit).error() == Errc::NeedMoreData);
  CHECK(peek_frame(bytes({0x30, 0xFF, 0xFF, 0xFF}), kNoLimit).error() == Errc::NeedMoreData);
}

TEST_CASE("peek_frame does not wait for the body", "[codec][frame]") {
  const std::string wire = encoded(Publish{.topic = "a/b", .payload = "payload"}, V311);
  for (std::size_t n = 2; n < wire.size(); ++n) {
    auto h = peek_frame(std::string_view(wire).substr(0, n), kNoLimit);
    REQUIRE(h.has_value());
    CHECK(h->total() == wire.size());  // the caller waits for total() bytes
  }
}

TEST_CASE("a packet above the maximum size is too large", "[codec][frame][MQTT-3.2.2-15]") {
  // Remaining Length 98 + 2 bytes of fixed header = 100.
  const std::string header = bytes({0x30, 98});
  CHECK(peek_frame(header, 100).has_value());
  CHECK(peek_frame(header, 99).error() == Errc::PacketTooLarge);
  // Decided from the fixed header alone, before any of the body arrives.
  CHECK(peek_frame(bytes({0x30, 0xFF, 0xFF, 0xFF, 0x7F}), 1 << 20).error() == Errc::PacketTooLarge);
}

TEST_CASE("consecutive packets in one buffer are framed one by one", "[codec][frame]") {
  std::string wire;
  encode(PingReq{}, V311, wire);
  encode(Publish{.topic = "t", .payload = "p"}, V311, wire);
  encode(Disconnect{}, V311, wire);
  std::string_view in = wire;
  std::vector<std::size_t> kinds;
  while (!in.empty()) {
    auto h = peek_frame(in, kNoLimit);
    REQUIRE(h.has_value());
    REQUIRE(h->total() <= in.size());
    auto p = decode(*h, in.substr(h->header_length, h->remaining_length), V311);
    REQUIRE(p.has_value());
    kinds.push_back(p->index());
    in.remove_prefix(h->total());
  }
  CHECK(kinds == std::vector<std::size_t>{Packet{PingReq{}}.index(), Packet{Publish{}}.index(),
                                          Packet{Disconnect{}}.index()});
}

// --- Byte-exact packets -------------------------------------------------------------------

void check_bytes(const Packet& p, ProtocolVersion v, const std::string& wire) {
  INFO("expected " << hex(wire));
  CHECK(hex(encoded(p, v)) == hex(wire));
  CHECK(decode_ok(wire, v) == p);
}

TEST_CASE("3.1.1 CONNECT, minimal and full", "[codec][bytes][connect][MQTT-3.1.2-1]") {
  check_bytes(Connect{.client_id = "test"}, V311,
              bytes({0x10, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x04,
                     't', 'e', 's', 't'}));

  Connect full{.clean_start = true, .keep_alive = 30, .client_id = "cid"};
  full.will = Will{.topic = "w/t", .payload = "bye", .qos = QoS::AtLeastOnce, .retain = true};
  full.username = "u";
  full.password = "p";
  check_bytes(full, V311,
              bytes({0x10, 0x1F, 0x00, 0x04, 'M', 'Q',  'T',  'T',  0x04,
                     0xEE,  // user name, password, will retain, will QoS 1, will, clean
                     0x00, 0x1E, 0x00, 0x03, 'c', 'i',  'd',  0x00, 0x03, 'w',  '/', 't',
                     0x00, 0x03, 'b',  'y',  'e', 0x00, 0x01, 'u',  0x00, 0x01, 'p'}));
}

TEST_CASE("3.1 CONNECT uses MQIsdp and level 3", "[codec][bytes][connect]") {
  Connect c{.protocol_name = "MQIsdp", .version = ProtocolVersion::V3_1, .client_id = "id"};
  const auto wire = bytes({0x10, 0x10, 0x00, 0x06, 'M', 'Q', 'I', 's', 'd', 'p', 0x03, 0x02, 0x00,
                           0x3C, 0x00, 0x02, 'i', 'd'});
  check_bytes(c, V311, wire);
  // CONNECT carries its own version: the connection's does not matter.
  CHECK(decode_ok(wire, V5) == Packet{c});
}

TEST_CASE("5.0 CONNECT with a Session Expiry Interval", "[codec][bytes][connect]") {
  Connect c{.version = ProtocolVersion::V5, .keep_alive = 10, .client_id = "c"};
  c.props.session_expiry_interval = 10;
  check_bytes(c, V5, bytes({0x10, 0x13, 0x00, 0x04, 'M',  'Q',  'T',  'T',  0x05, 0x02, 0x00,
                            0x0A, 0x05, 0x11, 0x00, 0x00, 0x00, 0x0A, 0x00, 0x01, 'c'}));
}

TEST_CASE("CONNACK in both versions", "[codec][bytes][connack]") {
  check_bytes(ConnAck{.session_present = true, .code = 0}, V311, bytes({0x20, 0x02, 0x01, 0x00}));
  check_bytes(ConnAck{.code = 0x04}, V311, bytes({0x20, 0x02, 0x00, 0x04}));
  check_bytes(ConnAck{}, V5, bytes({0x20, 0x03, 0x00, 0x00, 0x00}));
  ConnAck refused{.code = 0x84};
  refused.props.reason_string = "v";
  check_bytes(refused, V5, bytes({0x20, 0x07, 0x00, 0x84, 0x04, 0x1F, 0x00, 0x01, 'v'}));
}

TEST_CASE("PUBLISH in both versions", "[codec][bytes][publish]") {
  check_bytes(Publish{.qos = QoS::AtLeastOnce, .topic = "a/b", .packet_id = 10, .payload = "hi"},
              V311, bytes({0x32, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'}));
  check_bytes(Publish{.retain = true, .topic = "a/b", .payload = "hi"}, V5,
              bytes({0x31, 0x08, 0x00, 0x03, 'a', '/', 'b', 0x00, 'h', 'i'}));
  Publish p{.dup = true, .qos = QoS::ExactlyOnce, .topic = "a/b", .packet_id = 10, .payload = "hi"};
  p.props.payload_format_indicator = 1;
  p.props.topic_alias = 5;
  check_bytes(p, V5,
              bytes({0x3C, 0x0F, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 0x05, 0x01, 0x01, 0x23,
                     0x00, 0x05, 'h', 'i'}));
}

TEST_CASE("PUBACK family: 3.1.1 and the 5.0 short forms", "[codec][bytes][puback][MQTT-3.4.2-1]") {
  check_bytes(PubAck{.packet_id = 7}, V311, bytes({0x40, 0x02, 0x00, 0x07}));
  check_bytes(PubRec{.packet_id = 7}, V311, bytes({0x50, 0x02, 0x00, 0x07}));
  check_bytes(PubRel{.packet_id = 7}, V311, bytes({0x62, 0x02, 0x00, 0x07}));
  check_bytes(PubComp{.packet_id = 7}, V311, bytes({0x70, 0x02, 0x00, 0x07}));
  // Success without properties: Remaining Length 2, as clients send it.
  check_bytes(PubAck{.packet_id = 7}, V5, bytes({0x40, 0x02, 0x00, 0x07}));
  check_bytes(PubRel{.packet_id = 0x1234}, V5, bytes({0x62, 0x02, 0x12, 0x34}));
  // Another reason without properties: Remaining Length 3, no Property Length.
  check_bytes(PubAck{.packet_id = 7, .reason = ReasonCode::NoMatchingSubscribers}, V5,
              bytes({0x40, 0x03, 0x00, 0x07, 0x10}));
  check_bytes(PubComp{.packet_id = 7, .reason = ReasonCode::PacketIdentifierNotFound}, V5,
              bytes({0x70, 0x03, 0x00, 0x07, 0x92}));
  PubRec rec{.packet_id = 7, .reason = ReasonCode::Success};
  rec.props.reason_string = "ok";
  check_bytes(rec, V5, bytes({0x50, 0x09, 0x00, 0x07, 0x00, 0x05, 0x1F, 0x00, 0x02, 'o', 'k'}));
}

TEST_CASE("5.0 PUBACK long forms decode as the short ones", "[codec][puback]") {
  CHECK(decode_ok(bytes({0x40, 0x03, 0x00, 0x07, 0x00}), V5) == Packet{PubAck{.packet_id = 7}});
  CHECK(decode_ok(bytes({0x40, 0x04, 0x00, 0x07, 0x00, 0x00}), V5) ==
        Packet{PubAck{.packet_id = 7}});
  CHECK(decode_ok(bytes({0x40, 0x04, 0x00, 0x07, 0x10, 0x00}), V5) ==
        Packet{PubAck{.packet_id = 7, .reason = ReasonCode::NoMatchingSubscribers}});
}

TEST_CASE("SUBSCRIBE and SUBACK", "[codec][bytes][subscribe][suback]") {
  // The spec's example (3.8.3, figure 3-21): "a/b" QoS 1 and "c/d" QoS 2, packet id 10.
  Subscribe s{.packet_id = 10,
              .subscriptions = {{"a/b", {.max_qos = QoS::AtLeastOnce}},
                                {"c/d", {.max_qos = QoS::ExactlyOnce}}}};
  check_bytes(s, V311,
              bytes({0x82, 0x0E, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b', 0x01, 0x00, 0x03, 'c', '/',
                     'd', 0x02}));
  Subscribe s5{.packet_id = 10,
               .subscriptions = {{"a/b",
                                  {.max_qos = QoS::AtLeastOnce,
                                   .no_local = true,
                                   .retain_as_published = true,
                                   .retain_handling = 2}}}};
  check_bytes(s5, V5, bytes({0x82, 0x09, 0x00, 0x0A, 0x00, 0x00, 0x03, 'a', '/', 'b', 0x2D}));

  SubAck a{.packet_id = 10,
           .reason_codes = {ReasonCode::GrantedQoS1, ReasonCode::UnspecifiedError}};
  check_bytes(a, V311, bytes({0x90, 0x04, 0x00, 0x0A, 0x01, 0x80}));
  check_bytes(a, V5, bytes({0x90, 0x05, 0x00, 0x0A, 0x00, 0x01, 0x80}));
}

TEST_CASE("UNSUBSCRIBE and UNSUBACK", "[codec][bytes][unsubscribe][unsuback]") {
  check_bytes(Unsubscribe{.packet_id = 10, .topic_filters = {"a/b"}}, V311,
              bytes({0xA2, 0x07, 0x00, 0x0A, 0x00, 0x03, 'a', '/', 'b'}));
  // 3.1.1 UNSUBACK has no payload.
  check_bytes(UnsubAck{.packet_id = 10}, V311, bytes({0xB0, 0x02, 0x00, 0x0A}));
  check_bytes(UnsubAck{.packet_id = 10, .reason_codes = {ReasonCode::NoSubscriptionExisted}}, V5,
              bytes({0xB0, 0x04, 0x00, 0x0A, 0x00, 0x11}));
}

TEST_CASE("PINGREQ, PINGRESP, DISCONNECT, AUTH", "[codec][bytes]") {
  check_bytes(PingReq{}, V311, bytes({0xC0, 0x00}));
  check_bytes(PingResp{}, V5, bytes({0xD0, 0x00}));
  check_bytes(Disconnect{}, V311, bytes({0xE0, 0x00}));
  // 5.0 short forms (3.14.2.1, 3.15.2.1).
  check_bytes(Disconnect{}, V5, bytes({0xE0, 0x00}));
  check_bytes(Disconnect{.reason = ReasonCode::DisconnectWithWillMessage}, V5,
              bytes({0xE0, 0x01, 0x04}));
  check_bytes(Auth{}, V5, bytes({0xF0, 0x00}));
  Auth a{.reason = ReasonCode::ReAuthenticate};
  a.props.authentication_method = "m";
  check_bytes(a, V5, bytes({0xF0, 0x06, 0x19, 0x04, 0x15, 0x00, 0x01, 'm'}));
  CHECK(decode_ok(bytes({0xE0, 0x02, 0x00, 0x00}), V5) == Packet{Disconnect{}});
  CHECK(decode_ok(bytes({0xF0, 0x01, 0x00}), V5) == Packet{Auth{}});
}

TEST_CASE("a decoded PUBLISH points into the body", "[codec][publish]") {
  const std::string wire = encoded(Publish{.topic = "a/b", .payload = "xyz"}, V311);
  auto h = peek_frame(wire, kNoLimit);
  REQUIRE(h.has_value());
  auto p = decode(*h, std::string_view(wire).substr(h->header_length), V311);
  REQUIRE(p.has_value());
  const auto& pub = std::get<Publish>(*p);
  CHECK(pub.topic.data() == wire.data() + 4);
  CHECK(pub.payload.data() == wire.data() + 7);
}

TEST_CASE("encode appends to what the buffer holds", "[codec]") {
  std::string out = "prefix";
  encode(PubAck{.packet_id = 1}, V5, out);
  encode(Subscribe{.packet_id = 2, .subscriptions = {{"t", {}}}}, V5, out);
  CHECK(out.substr(0, 6) == "prefix");
  CHECK(hex(out.substr(6)) ==
        hex(bytes({0x40, 0x02, 0x00, 0x01, 0x82, 0x07, 0x00, 0x02, 0x00, 0x00, 0x01, 't', 0x00})));
}

// --- Round trips --------------------------------------------------------------------------

TEST_CASE("every packet type round-trips in 3.1.1", "[codec][roundtrip]") {
  for (const auto& p : sample_packets_v311())
    check_round_trip(p, V311);
}

TEST_CASE("every packet type round-trips in 5.0", "[codec][roundtrip]") {
  for (const auto& p : sample_packets_v5())
    check_round_trip(p, V5);
}

TEST_CASE("3.1 connections code packets as 3.1.1", "[codec][roundtrip]") {
  for (const auto& p : sample_packets_v311()) {
    check_round_trip(p, ProtocolVersion::V3_1);
    CHECK(encoded(p, ProtocolVersion::V3_1) == encoded(p, V311));
  }
}

TEST_CASE("5.0-only fields are left out in 3.1.1", "[codec]") {
  Publish p = sample_publish_v5();
  const std::string wire = encoded(p, V311);
  const Packet decoded = decode_ok(wire, V311);
  p.props = {};
  CHECK(decoded == Packet{p});
  SubAck a{.packet_id = 3, .reason_codes = {ReasonCode::GrantedQoS0}};
  a.props.reason_string = "dropped";
  CHECK(encoded(a, V311) == bytes({0x90, 0x03, 0x00, 0x03, 0x00}));
  CHECK(encoded(UnsubAck{.packet_id = 3, .reason_codes = {ReasonCode::Success}}, V311) ==
        bytes({0xB0, 0x02, 0x00, 0x03}));
  CHECK(encoded(Auth{}, V311).empty());  // AUTH does not exist before 5.0
}

// Records which identifiers emit_properties writes.
struct IdCollector {
  std::set<int>& seen;
  void add(PropertyId id) { seen.insert(static_cast<int>(id)); }
  void byte(PropertyId id, std::uint8_t) { add(id); }
  void two(PropertyId id, std::uint16_t) { add(id); }
  void four(PropertyId id, std::uint32_t) { add(id); }
  void varint(PropertyId id, std::uint32_t) { add(id); }
  void str(PropertyId id, std::string_view) { add(id); }
  void pair(PropertyId id, std::string_view, std::string_view) { add(id); }
};

// Each property identifier at least once, in a packet (or Will) that may carry it.
TEST_CASE("every property identifier round-trips", "[codec][properties][roundtrip]") {
  SECTION("CONNECT and Will") {
    const Connect c = sample_connect_v5();
    check_round_trip(c, V5);
    const Packet decoded = decode_ok(encoded(c, V5), V5);
    const auto& back = std::get<Connect>(decoded);
    CHECK(back.props.authentication_data == std::string("\x01\x00\xff", 3));
    CHECK(back.will->props.will_delay_interval == 5u);
  }
  SECTION("CONNACK") {
    for (const auto& p : sample_packets_v5()) {
      if (auto* a = std::get_if<ConnAck>(&p); a && a->props.server_reference) {
        check_round_trip(p, V5);
      }
    }
  }
  SECTION("PUBLISH, with several Subscription Identifiers") {
    check_round_trip(sample_publish_v5(), V5);
  }
  SECTION("acks, SUBSCRIBE, DISCONNECT, AUTH") {
    for (const auto& p : sample_packets_v5())
      check_round_trip(p, V5);
  }
  SECTION("every identifier appears in the samples") {
    std::set<int> seen;
    auto collect = [&](const Properties& props) {
      IdCollector c{seen};
      detail::emit_properties(props, c);
    };
    for (const auto& p : sample_packets_v5()) {
      std::visit(
          [&](const auto& pkt) {
            if constexpr (requires { pkt.props; }) collect(pkt.props);
            if constexpr (requires { pkt.will; }) {
              if (pkt.will) collect(pkt.will->props);
            }
          },
          p);
    }
    const std::set<int> all = {0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x11, 0x12, 0x13,
                               0x15, 0x16, 0x17, 0x18, 0x19, 0x1A, 0x1C, 0x1F, 0x21,
                               0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2A};
    CHECK(seen == all);
  }
}

// --- encode_publish -----------------------------------------------------------------------

Message message(std::string topic, std::string payload) {
  Message m;
  m.topic = std::move(topic);
  m.payload = std::move(payload);
  return m;
}

TEST_CASE("encode_publish writes a 3.1.1 PUBLISH", "[codec][encode_publish]") {
  const Message m = message("a/b", "hi");
  std::string out = "x";
  const auto n = encode_publish(
      m, PublishDelivery{.qos = QoS::AtLeastOnce, .retain = true, .packet_id = 10}, V311, out);
  CHECK(n == 11);
  CHECK(hex(out) ==
        hex("x" + bytes({0x33, 0x09, 0x00, 0x03, 'a', '/', 'b', 0x00, 0x0A, 'h', 'i'})));
}

TEST_CASE("encode_publish matches encode(Publish) byte for byte", "[codec][encode_publish]") {
  auto extra = std::make_shared<MessageExtra>();
  extra->payload_format_indicator = 1;
  extra->content_type = "application/json";
  extra->response_topic = "replies/1";
  extra->correlation_data = std::string("\x00\x01", 2);
  extra->user_properties = {{"trace", "abc"}, {"trace", "def"}};
  Message m = message("sensors/1/temp", std::string(300, 'p'));  // two-byte Remaining Length
  m.message_expiry_interval = 500;  // as published; the delivery carries what is left
  m.extra = extra;
  const std::array<std::uint32_t, 3> sub_ids = {1, 268'435'455, 1};
  PublishDelivery d{.qos = QoS::ExactlyOnce,
                    .dup = true,
                    .packet_id = 42,
                    .message_expiry_interval = 120,
                    .subscription_identifiers = sub_ids,
                    .topic_alias = 3};

  Publish expected{.dup = true,
                   .qos = QoS::ExactlyOnce,
                   .topic = m.topic,
                   .packet_id = 42,
                   .payload = m.payload};
  expected.props.payload_format_indicator = 1;
  expected.props.message_expiry_interval = 120;
  expected.props.topic_alias = 3;
  expected.props.response_topic = "replies/1";
  expected.props.correlation_data = std::string("\x00\x01", 2);
  expected.props.user_properties = {{"trace", "abc"}, {"trace", "def"}};
  expected.props.subscription_identifiers = {1, 268'435'455, 1};
  expected.props.content_type = "application/json";

  std::string out;
  const auto n = encode_publish(m, d, V5, out);
  CHECK(n == out.size());
  CHECK(hex(out) == hex(encoded(expected, V5)));
  CHECK(decode_ok(out, V5) == Packet{expected});

  SECTION("the alias alone replaces the topic") {
    d.omit_topic = true;
    out.clear();
    encode_publish(m, d, V5, out);
    expected.topic = "";
    CHECK(decode_ok(out, V5) == Packet{expected});
  }
  SECTION("3.1.1 has neither properties nor aliases") {
    d.omit_topic = true;
    out.clear();
    encode_publish(m, d, V311, out);
    expected.props = {};
    CHECK(decode_ok(out, V311) == Packet{expected});
  }
}

TEST_CASE("encode_publish without extra properties", "[codec][encode_publish]") {
  const Message m = message("t", "");
  std::string out;
  encode_publish(m, PublishDelivery{}, V5, out);
  CHECK(hex(out) == hex(bytes({0x30, 0x04, 0x00, 0x01, 't', 0x00})));
}

// --- UTF-8 --------------------------------------------------------------------------------

TEST_CASE("UTF-8 strings must be well formed and free of U+0000",
          "[codec][utf8][MQTT-1.5.4-1][MQTT-1.5.4-2][MQTT-1.5.4-3]") {
  CHECK(is_valid_utf8_string(""));
  CHECK(is_valid_utf8_string("plain/ascii/topic/longer/than/eight/bytes"));
  CHECK(is_valid_utf8_string("caf\xC3\xA9"));       // U+00E9
  CHECK(is_valid_utf8_string("\xE2\x82\xAC"));      // U+20AC
  CHECK(is_valid_utf8_string("\xF0\xAA\x9B\x94"));  // U+2A6D4, the spec's example
  CHECK(is_valid_utf8_string("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  CHECK(
      is_valid_utf8_string("\xEF\xBB\xBF"
                           "bom"));                                // U+FEFF is kept
  CHECK(is_valid_utf8_string("\x01\x7F\xEF\xBF\xBF"));             // disallowed, but allowed
  CHECK_FALSE(is_valid_utf8_string(std::string_view("a\0b", 3)));  // U+0000
  CHECK_FALSE(is_valid_utf8_string(std::string_view("abcdefgh\0", 9)));
  CHECK_FALSE(is_valid_utf8_string("\xC0\x80"));          // overlong U+0000
  CHECK_FALSE(is_valid_utf8_string("\xC1\xBF"));          // overlong
  CHECK_FALSE(is_valid_utf8_string("\xE0\x9F\xBF"));      // overlong
  CHECK_FALSE(is_valid_utf8_string("\xF0\x8F\xBF\xBF"));  // overlong
  CHECK_FALSE(is_valid_utf8_string("\xED\xA0\x80"));      // U+D800, a surrogate
  CHECK_FALSE(is_valid_utf8_string("\xED\xBF\xBF"));      // U+DFFF
  CHECK_FALSE(is_valid_utf8_string("\xF4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(is_valid_utf8_string("\xF5\x80\x80\x80"));
  CHECK_FALSE(is_valid_utf8_string("\xFF"));
  CHECK_FALSE(is_valid_utf8_string("\x80"));  // lone continuation
  CHECK_FALSE(is_valid_utf8_string("\xC3"));  // truncated
  CHECK_FALSE(is_valid_utf8_string("\xE2\x82"));
  CHECK_FALSE(
      is_valid_utf8_string("abc\xE2\x82"
                           "d"));
  CHECK_FALSE(is_valid_utf8_string("\xC3\x28"));  // bad continuation
}

// A field too long for its two-byte length is a caller bug: in a release build too, the
// codec stops there (EMQXD_CHECK) instead of writing a length that lies.
TEST_CASE("encoding a topic over 65,535 bytes aborts instead of truncating its length",
          "[codec][encode_publish][check]") {
  auto outcome = emqxd::test::run_in_child([] {
    std::string out;
    encode_publish(message(std::string(70'000, 't'), "x"), {}, ProtocolVersion::V5, out);
  });
  INFO(outcome.output);
  CHECK(outcome.aborted);
  CHECK(outcome.output.find("codec_wire.hpp:") != std::string::npos);
  CHECK(outcome.output.find("a string or binary field over 65,535 bytes") != std::string::npos);
}

}  // namespace
}  // namespace emqxd::mqtt
