// Codec: every way a packet can be wrong, and the error class the spec gives it. See the
// essay at the top of server/mqtt/codec.cpp for the classification and the choices made.
#include <catch2/catch.hpp>
#include <string>

#include "codec_test_util.hpp"
#include "mqtt/codec.hpp"

namespace emqxd::mqtt {
namespace {

using namespace test;

constexpr auto kMalformed = Errc::MalformedPacket;
constexpr auto kProtocol = Errc::ProtocolError;

std::string str(std::string_view s) {  // a UTF-8 string or Binary Data field
  return bytes({static_cast<int>(s.size() >> 8), static_cast<int>(s.size() & 0xFF)}) +
         std::string(s);
}

std::string props(std::string_view p) {  // Property Length (< 128) and the properties
  return bytes({static_cast<int>(p.size())}) + std::string(p);
}

// A 3.1.1 CONNECT with the given flags and payload.
std::string connect311(int flags, std::string_view payload) {
  return frame(0x10, str("MQTT") + bytes({0x04, flags, 0x00, 0x3C}) + std::string(payload));
}

// A 5.0 CONNECT with the given properties and client id "c".
std::string connect5(std::string_view p) {
  return frame(0x10, str("MQTT") + bytes({0x05, 0x02, 0x00, 0x3C}) + props(p) + str("c"));
}

// A 5.0 QoS 1 PUBLISH to "t" with the given properties.
std::string publish5(std::string_view p) {
  return frame(0x32, str("t") + bytes({0x00, 0x01}) + props(p) + "payload");
}

// A 5.0 CONNACK (success) with the given properties.
std::string connack5(std::string_view p) {
  return frame(0x20, bytes({0x00, 0x00}) + props(p));
}

// A 5.0 SUBSCRIBE with the given properties and one filter "t" with `options`.
std::string subscribe5(std::string_view p, int options = 0x01) {
  return frame(0x82, bytes({0x00, 0x01}) + props(p) + str("t") + bytes({options}));
}

// --- Fixed header --------------------------------------------------------------------------

TEST_CASE("reserved fixed-header flags must have their listed values",
          "[codec][errors][MQTT-2.1.3-1][MQTT-3.6.1-1][MQTT-3.8.1-1][MQTT-3.10.1-1]"
          "[MQTT-3.14.1-1][MQTT-3.15.1-1]") {
  // Valid packets of each type with wrong flags; each decodes with the right ones.
  struct Case {
    std::string good;
    std::uint8_t bad_first_byte;
  };
  const Case cases[] = {
      {encoded(Connect{.client_id = "c"}, V5), 0x11},
      {encoded(ConnAck{}, V5), 0x28},
      {encoded(PubAck{.packet_id = 1}, V5), 0x42},
      {encoded(PubRec{.packet_id = 1}, V5), 0x58},
      {encoded(PubRel{.packet_id = 1}, V5), 0x60},  // PUBREL needs 0b0010
      {encoded(PubRel{.packet_id = 1}, V5), 0x63},
      {encoded(PubComp{.packet_id = 1}, V5), 0x71},
      {encoded(Subscribe{.packet_id = 1, .subscriptions = {{"t", {}}}}, V5), 0x80},
      {encoded(Subscribe{.packet_id = 1, .subscriptions = {{"t", {}}}}, V5), 0x8A},
      {encoded(SubAck{.packet_id = 1, .reason_codes = {ReasonCode::Success}}, V5), 0x92},
      {encoded(Unsubscribe{.packet_id = 1, .topic_filters = {"t"}}, V5), 0xA0},
      {encoded(Unsubscribe{.packet_id = 1, .topic_filters = {"t"}}, V5), 0xA3},
      {encoded(UnsubAck{.packet_id = 1, .reason_codes = {ReasonCode::Success}}, V5), 0xB4},
      {encoded(PingReq{}, V5), 0xC2},
      {encoded(PingResp{}, V5), 0xD1},
      {encoded(Disconnect{}, V5), 0xE8},
      {encoded(Auth{}, V5), 0xF1},
  };
  for (const auto& c : cases) {
    (void)decode_ok(c.good, V5);
    std::string bad = c.good;
    bad[0] = static_cast<char>(c.bad_first_byte);
    CHECK(decode_error(bad, V5) == kMalformed);
    if (c.bad_first_byte >> 4 != 15) CHECK(decode_error(bad, V311) == kMalformed);
  }
}

TEST_CASE("reserved packet types are malformed", "[codec][errors]") {
  CHECK(decode_error(bytes({0x00, 0x00}), V5) == kMalformed);
  CHECK(decode_error(bytes({0x00, 0x00}), V311) == kMalformed);
  // AUTH exists only in 5.0.
  CHECK(decode_error(bytes({0xF0, 0x00}), V311) == kMalformed);
}

TEST_CASE("PUBLISH with QoS 3 is malformed", "[codec][errors][publish][MQTT-3.3.1-4]") {
  const auto body = str("t") + bytes({0x00, 0x01});
  CHECK(decode_error(frame(0x36, body), V311) == kMalformed);
  CHECK(decode_error(frame(0x36, body + bytes({0x00})), V5) == kMalformed);
}

TEST_CASE("PUBLISH with DUP and QoS 0 is malformed", "[codec][errors][publish][MQTT-3.3.1-2]") {
  CHECK(decode_error(frame(0x38, str("t") + "x"), V311) == kMalformed);
  CHECK(decode_error(frame(0x38, str("t") + bytes({0x00}) + "x"), V5) == kMalformed);
  (void)decode_ok(frame(0x3A, str("t") + bytes({0x00, 0x01}) + "x"), V311);  // DUP on QoS 1
}

TEST_CASE("a body of the wrong size is malformed", "[codec][errors]") {
  auto h = peek_frame(bytes({0xC0, 0x00}), kNoLimit);
  REQUIRE(h.has_value());
  CHECK(decode(*h, "x", V5).error() == kMalformed);
}

// --- Truncation and trailing bytes -------------------------------------------------------

TEST_CASE("every truncation of a valid packet is malformed", "[codec][errors]") {
  // Cutting a packet's body short and fixing up the Remaining Length must never decode into
  // something else silently, except where a shorter form is itself valid.
  const std::string wire =
      encoded(Subscribe{.packet_id = 9, .subscriptions = {{"a/b", {}}, {"c", {}}}}, V311);
  for (std::size_t cut = 1; cut < wire.size() - 2; ++cut) {
    const std::string body = wire.substr(2, wire.size() - 2 - cut);
    INFO("cut " << cut);
    auto r = decode_one(frame(0x82, body), V311);
    if (body.size() == 8) {  // ends right after the first filter: valid
      CHECK(r.has_value());
    } else if (body.size() == 2) {  // packet id only: no filters
      CHECK(r.error() == kProtocol);
    } else {
      CHECK(r.error() == kMalformed);
    }
  }
}

TEST_CASE("bytes after the end of a packet are malformed", "[codec][errors]") {
  CHECK(decode_error(bytes({0x40, 0x03, 0x00, 0x01, 0x00}), V311) == kMalformed);  // PUBACK
  CHECK(decode_error(bytes({0x62, 0x03, 0x00, 0x01, 0x00}), V311) == kMalformed);  // PUBREL
  CHECK(decode_error(bytes({0xB0, 0x03, 0x00, 0x01, 0x00}), V311) == kMalformed);  // UNSUBACK
  CHECK(decode_error(bytes({0xE0, 0x01, 0x00}), V311) == kMalformed);              // DISCONNECT
  CHECK(decode_error(bytes({0xC0, 0x01, 0x00}), V5) == kMalformed);                // PINGREQ
  CHECK(decode_error(bytes({0xD0, 0x01, 0x00}), V5) == kMalformed);                // PINGRESP
  CHECK(decode_error(bytes({0x20, 0x03, 0x00, 0x00, 0x00}), V311) == kMalformed);  // CONNACK
  CHECK(decode_error(bytes({0x40, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00}), V5) == kMalformed);
  CHECK(decode_error(bytes({0xE0, 0x03, 0x00, 0x00, 0x00}), V5) == kMalformed);
  CHECK(decode_error(bytes({0xF0, 0x03, 0x00, 0x00, 0x00}), V5) == kMalformed);
  CHECK(decode_error(connect311(0x02, str("c") + "x"), V311) == kMalformed);
  CHECK(decode_error(frame(0x20, bytes({0x00, 0x00, 0x00}) + "x"), V5) == kMalformed);
}

TEST_CASE("short forms that are too short are malformed", "[codec][errors]") {
  CHECK(decode_error(bytes({0x40, 0x01, 0x00}), V5) == kMalformed);  // half a packet id
  CHECK(decode_error(bytes({0x40, 0x00}), V311) == kMalformed);
  CHECK(decode_error(bytes({0x20, 0x02, 0x00, 0x00}), V5) == kMalformed);  // CONNACK: no props
  CHECK(decode_error(bytes({0x20, 0x01, 0x00}), V311) == kMalformed);
}

// --- UTF-8 ---------------------------------------------------------------------------------

TEST_CASE("ill-formed UTF-8 or U+0000 in a string is malformed",
          "[codec][errors][utf8][MQTT-1.5.4-1][MQTT-1.5.4-2][MQTT-1.5.7-1][MQTT-3.3.2-1]"
          "[MQTT-3.1.3-4][MQTT-3.8.3-1][MQTT-3.10.3-1]") {
  const std::string bads[] = {std::string("a\0b", 3), "\xC0\x80", "\xED\xA0\x80", "\xFF"};
  for (const auto& bad : bads) {
    INFO("string " << hex(bad));
    CHECK(decode_error(frame(0x30, str(bad) + "x"), V311) == kMalformed);  // topic name
    CHECK(decode_error(frame(0x10, str("MQTT") + bytes({0x04, 0x02, 0x00, 0x3C}) + str(bad)),
                       V311) == kMalformed);  // client id
    CHECK(decode_error(frame(0x82, bytes({0x00, 0x01}) + str(bad) + bytes({0x00})), V311) ==
          kMalformed);  // topic filter
    CHECK(decode_error(frame(0xA2, bytes({0x00, 0x01}) + str(bad)), V311) == kMalformed);
    CHECK(decode_error(publish5(bytes({0x26}) + str(bad) + str("v")), V5) == kMalformed);
    CHECK(decode_error(publish5(bytes({0x26}) + str("k") + str(bad)), V5) == kMalformed);
    CHECK(decode_error(publish5(bytes({0x03}) + str(bad)), V5) == kMalformed);  // content type
  }
  // Binary Data is not UTF-8: any bytes go.
  (void)decode_ok(publish5(bytes({0x09}) + str(std::string("\xFF\0", 2))), V5);
  (void)decode_ok(frame(0x30, str("t") + std::string("\xFF\0", 2)), V311);  // payload
}

// --- CONNECT --------------------------------------------------------------------------------

TEST_CASE("CONNECT reserved flag must be 0", "[codec][errors][connect][MQTT-3.1.2-3]") {
  CHECK(decode_error(connect311(0x03, str("c")), V311) == kMalformed);
  CHECK(decode_error(frame(0x10, str("MQTT") + bytes({0x05, 0x03, 0x00, 0x3C, 0x00}) + str("c")),
                     V5) == kMalformed);
}

TEST_CASE("Will QoS and Will Retain need the Will flag",
          "[codec][errors][connect][MQTT-3.1.2-11][MQTT-3.1.2-13]") {
  CHECK(decode_error(connect311(0x0A, str("c")), V311) == kMalformed);  // Will QoS 1
  CHECK(decode_error(connect311(0x12, str("c")), V311) == kMalformed);  // Will QoS 2
  CHECK(decode_error(connect311(0x22, str("c")), V311) == kMalformed);  // Will Retain
  CHECK(decode_error(frame(0x10, str("MQTT") + bytes({0x05, 0x22, 0x00, 0x3C, 0x00}) + str("c")),
                     V5) == kMalformed);
}

TEST_CASE("Will QoS 3 is malformed", "[codec][errors][connect][MQTT-3.1.2-12]") {
  CHECK(decode_error(connect311(0x1E, str("c") + str("w") + str("p")), V311) == kMalformed);
  CHECK(decode_ok(connect311(0x16, str("c") + str("w") + str("p")), V311) ==
        Packet{Connect{.client_id = "c",
                       .will = Will{.topic = "w", .payload = "p", .qos = QoS::ExactlyOnce}}});
}

TEST_CASE("3.1.1: a password needs a user name", "[codec][errors][connect][MQTT-3.1.2-22]") {
  CHECK(decode_error(connect311(0x42, str("c") + str("pw")), V311) == kMalformed);
  // 5.0 allows it (3.1.2.9).
  const auto v5 =
      frame(0x10, str("MQTT") + bytes({0x05, 0x42, 0x00, 0x3C, 0x00}) + str("c") + str("pw"));
  CHECK(std::get<Connect>(decode_ok(v5, V5)).password == "pw");
}

TEST_CASE("CONNECT fields the flags promise must be there",
          "[codec][errors][connect][MQTT-3.1.2-9][MQTT-3.1.2-17][MQTT-3.1.2-19]") {
  CHECK(decode_error(connect311(0x02, ""), V311) == kMalformed);                   // no client id
  CHECK(decode_error(connect311(0x06, str("c") + str("w")), V311) == kMalformed);  // no payload
  CHECK(decode_error(connect311(0x82, str("c")), V311) == kMalformed);             // no user name
  CHECK(decode_error(connect311(0xC2, str("c") + str("u")), V311) == kMalformed);  // password
  CHECK(decode_error(frame(0x10, str("MQTT") + bytes({0x04, 0x02, 0x00})), V311) == kMalformed);
  CHECK(decode_error(frame(0x10, str("MQTT")), V311) == kMalformed);  // no level
  CHECK(decode_error(frame(0x10, bytes({0x00, 0x04, 'M'})), V311) == kMalformed);
}

TEST_CASE("an unknown protocol name or level is an unsupported version",
          "[codec][errors][connect][MQTT-3.1.2-1][MQTT-3.1.2-2]") {
  auto connect = [](std::string_view name, int level) {
    return frame(0x10, str(name) + bytes({level, 0x02, 0x00, 0x3C}) + str("c"));
  };
  CHECK(decode_error(connect("MQTT", 6), V311) == Errc::UnsupportedProtocolVersion);
  CHECK(decode_error(connect("MQTT", 3), V311) == Errc::UnsupportedProtocolVersion);
  CHECK(decode_error(connect("MQIsdp", 4), V311) == Errc::UnsupportedProtocolVersion);
  CHECK(decode_error(connect("MQTX", 4), V311) == Errc::UnsupportedProtocolVersion);
  CHECK(decode_error(connect("mqtt", 4), V5) == Errc::UnsupportedProtocolVersion);
  // Nothing after the level is looked at.
  CHECK(decode_error(frame(0x10, str("MQTT") + bytes({0x07})), V5) ==
        Errc::UnsupportedProtocolVersion);
  CHECK(std::get<Connect>(decode_ok(connect("MQIsdp", 3), V311)).version == ProtocolVersion::V3_1);
  CHECK(std::get<Connect>(decode_ok(connect("MQTT", 4), V5)).version == V311);
}

// --- Packet identifiers ---------------------------------------------------------------------

TEST_CASE("packet identifier 0 is a protocol error", "[codec][errors][MQTT-2.2.1-3]") {
  for (auto v : {V311, V5}) {
    const std::string p = v == V5 ? bytes({0x00}) : "";  // empty property set in 5.0
    INFO("version " << static_cast<int>(v));
    CHECK(decode_error(frame(0x32, str("t") + bytes({0x00, 0x00}) + p + "x"), v) == kProtocol);
    CHECK(decode_error(frame(0x34, str("t") + bytes({0x00, 0x00}) + p + "x"), v) == kProtocol);
    CHECK(decode_error(frame(0x82, bytes({0x00, 0x00}) + p + str("t") + bytes({0x00})), v) ==
          kProtocol);
    CHECK(decode_error(frame(0xA2, bytes({0x00, 0x00}) + p + str("t")), v) == kProtocol);
    for (int first : {0x40, 0x50, 0x62, 0x70}) {
      CHECK(decode_error(frame(static_cast<std::uint8_t>(first), bytes({0x00, 0x00})), v) ==
            kProtocol);
    }
    CHECK(decode_error(frame(0x90, bytes({0x00, 0x00}) + p + bytes({0x00})), v) == kProtocol);
    CHECK(decode_error(frame(0xB0, bytes({0x00, 0x00}) + (v == V5 ? p + bytes({0x00}) : "")), v) ==
          kProtocol);
  }
  // QoS 0 has no packet identifier at all [MQTT-2.2.1-2]: these bytes are the payload.
  const auto wire = frame(0x30, str("t") + bytes({0x00, 0x00}));
  const Packet packet = decode_ok(wire, V311);
  CHECK(std::get<Publish>(packet).payload == bytes({0x00, 0x00}));
}

// --- SUBSCRIBE and UNSUBSCRIBE -------------------------------------------------------------

TEST_CASE("SUBSCRIBE and UNSUBSCRIBE need at least one filter",
          "[codec][errors][subscribe][MQTT-3.8.3-2][MQTT-3.8.3-3][MQTT-3.10.3-2]") {
  CHECK(decode_error(frame(0x82, bytes({0x00, 0x01})), V311) == kProtocol);
  CHECK(decode_error(frame(0x82, bytes({0x00, 0x01, 0x00})), V5) == kProtocol);
  CHECK(decode_error(frame(0xA2, bytes({0x00, 0x01})), V311) == kProtocol);
  CHECK(decode_error(frame(0xA2, bytes({0x00, 0x01, 0x00})), V5) == kProtocol);
}

TEST_CASE("5.0 subscription options", "[codec][errors][subscribe][MQTT-3.8.3-5]") {
  CHECK(decode_error(subscribe5("", 0x40), V5) == kMalformed);  // reserved bit 6
  CHECK(decode_error(subscribe5("", 0x81), V5) == kMalformed);  // reserved bit 7
  CHECK(decode_error(subscribe5("", 0x03), V5) == kProtocol);   // Maximum QoS 3
  CHECK(decode_error(subscribe5("", 0x30), V5) == kProtocol);   // Retain Handling 3
  (void)decode_ok(subscribe5("", 0x2E), V5);
}

TEST_CASE("3.1.1 requested QoS", "[codec][errors][subscribe][MQTT-3.8.3-4]") {
  auto sub = [](int options) {
    return frame(0x82, bytes({0x00, 0x01}) + str("t") + bytes({options}));
  };
  CHECK(decode_error(sub(0x03), V311) == kMalformed);
  CHECK(decode_error(sub(0x04), V311) == kMalformed);  // 5.0's No Local is reserved here
  CHECK(decode_error(sub(0x80), V311) == kMalformed);
  (void)decode_ok(sub(0x02), V311);
}

TEST_CASE("a Malformed Packet wins over a Protocol Error", "[codec][errors]") {
  // Packet id 0 comes first, the reserved option bits later: still malformed.
  CHECK(decode_error(frame(0x82, bytes({0x00, 0x00, 0x00}) + str("t") + bytes({0xC0})), V5) ==
        kMalformed);
  CHECK(decode_error(publish5(bytes({0x01, 0x01, 0x01, 0x01, 0x05})), V5) == kMalformed);
}

// --- Acknowledgements ---------------------------------------------------------------------

TEST_CASE("reason codes outside the packet's table are protocol errors",
          "[codec][errors][MQTT-3.2.2-8][MQTT-3.4.2-1][MQTT-3.5.2-1][MQTT-3.6.2-1][MQTT-3.7.2-1]"
          "[MQTT-3.9.3-2][MQTT-3.11.3-2][MQTT-3.14.2-1][MQTT-3.15.2-1]") {
  CHECK(decode_error(bytes({0x20, 0x03, 0x00, 0x8B, 0x00}), V5) == kProtocol);  // CONNACK
  CHECK(decode_error(bytes({0x20, 0x02, 0x00, 0x06}), V311) == kProtocol);
  CHECK(decode_error(bytes({0x40, 0x03, 0x00, 0x01, 0x92}), V5) == kProtocol);  // PUBACK
  CHECK(decode_error(bytes({0x50, 0x03, 0x00, 0x01, 0x01}), V5) == kProtocol);  // PUBREC
  CHECK(decode_error(bytes({0x62, 0x03, 0x00, 0x01, 0x10}), V5) == kProtocol);  // PUBREL
  CHECK(decode_error(bytes({0x70, 0x03, 0x00, 0x01, 0x80}), V5) == kProtocol);  // PUBCOMP
  CHECK(decode_error(bytes({0x90, 0x04, 0x00, 0x01, 0x00, 0x03}), V5) == kProtocol);
  CHECK(decode_error(bytes({0x90, 0x03, 0x00, 0x01, 0x8F}), V311) == kProtocol);
  CHECK(decode_error(bytes({0xB0, 0x04, 0x00, 0x01, 0x00, 0x01}), V5) == kProtocol);
  CHECK(decode_error(bytes({0xE0, 0x01, 0x01}), V5) == kProtocol);  // DISCONNECT
  CHECK(decode_error(bytes({0xF0, 0x01, 0x01}), V5) == kProtocol);  // AUTH
  // And the allowed ones decode.
  (void)decode_ok(bytes({0x90, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, 0x02, 0x80}), V311);
  (void)decode_ok(bytes({0x90, 0x06, 0x00, 0x01, 0x00, 0x9E, 0xA1, 0xA2}), V5);
  (void)decode_ok(bytes({0x50, 0x03, 0x00, 0x01, 0x99}), V5);
}

TEST_CASE("SUBACK and UNSUBACK need a code per filter", "[codec][errors][MQTT-3.8.4-6]") {
  CHECK(decode_error(bytes({0x90, 0x02, 0x00, 0x01}), V311) == kProtocol);
  CHECK(decode_error(bytes({0x90, 0x03, 0x00, 0x01, 0x00}), V5) == kProtocol);
  CHECK(decode_error(bytes({0xB0, 0x03, 0x00, 0x01, 0x00}), V5) == kProtocol);
}

TEST_CASE("CONNACK flags", "[codec][errors][connack][MQTT-3.2.2-1][MQTT-3.2.2-6]") {
  CHECK(decode_error(bytes({0x20, 0x02, 0x02, 0x00}), V311) == kMalformed);  // reserved bits
  CHECK(decode_error(bytes({0x20, 0x03, 0x80, 0x00, 0x00}), V5) == kMalformed);
  // A refusal has no session.
  CHECK(decode_error(bytes({0x20, 0x02, 0x01, 0x05}), V311) == kProtocol);
  CHECK(decode_error(bytes({0x20, 0x03, 0x01, 0x87, 0x00}), V5) == kProtocol);
}

// --- Properties ------------------------------------------------------------------------------

TEST_CASE("a Property Length overrunning the packet is malformed", "[codec][errors][properties]") {
  CHECK(decode_error(frame(0x32, str("t") + bytes({0x00, 0x01, 0x05, 0x01, 0x00})), V5) ==
        kMalformed);
  CHECK(decode_error(bytes({0x40, 0x04, 0x00, 0x01, 0x00, 0x01}), V5) == kMalformed);
  CHECK(decode_error(bytes({0xE0, 0x02, 0x00, 0x80}), V5) == kMalformed);  // bad varint
  // A property value running past the Property Length.
  CHECK(decode_error(publish5(bytes({0x02, 0x00, 0x00})), V5) == kMalformed);
  CHECK(decode_error(publish5(bytes({0x03, 0x00, 0x05, 'a'})), V5) == kMalformed);
  CHECK(decode_error(publish5(bytes({0x0B, 0x80})), V5) == kMalformed);
  CHECK(decode_error(publish5(bytes({0x26}) + str("k")), V5) == kMalformed);
}

TEST_CASE("an unknown property identifier is malformed", "[codec][errors][properties]") {
  for (int id : {0x00, 0x04, 0x0A, 0x10, 0x14, 0x1B, 0x20, 0x2B, 0x7F}) {
    INFO("id " << id);
    CHECK(decode_error(publish5(bytes({id, 0x00})), V5) == kMalformed);
  }
  CHECK(decode_error(publish5(bytes({0x81, 0x00, 0x00})), V5) == kMalformed);  // two bytes
}

TEST_CASE("a property not allowed in the packet is malformed", "[codec][errors][properties]") {
  CHECK(decode_error(connect5(bytes({0x23, 0x00, 0x01})), V5) == kMalformed);  // Topic Alias
  CHECK(decode_error(connect5(bytes({0x18, 0, 0, 0, 1})), V5) == kMalformed);  // Will Delay
  CHECK(decode_error(connect5(bytes({0x01, 0x01})), V5) == kMalformed);        // Payload Format
  CHECK(decode_error(publish5(bytes({0x11, 0, 0, 0, 1})), V5) == kMalformed);  // Session Exp.
  CHECK(decode_error(publish5(bytes({0x1F}) + str("r")), V5) == kMalformed);   // Reason String
  CHECK(decode_error(subscribe5(bytes({0x1F}) + str("r")), V5) == kMalformed);
  CHECK(decode_error(connack5(bytes({0x17, 0x01})), V5) == kMalformed);  // Request Problem
  CHECK(decode_error(frame(0xA2, bytes({0x00, 0x01}) + props(bytes({0x0B, 0x01})) + str("t")),
                     V5) == kMalformed);  // Subscription Identifier in UNSUBSCRIBE
  CHECK(decode_error(bytes({0x40, 0x06, 0x00, 0x01, 0x00, 0x02, 0x23, 0x00}), V5) == kMalformed);
  CHECK(decode_error(bytes({0xE0, 0x05, 0x00, 0x03, 0x15, 0x00, 0x00}), V5) == kMalformed);
  CHECK(decode_error(bytes({0xF0, 0x07, 0x18, 0x05, 0x11, 0, 0, 0, 0}), V5) == kMalformed);
  // Will properties: Will Delay yes, Session Expiry no.
  auto with_will = [](std::string_view will_props) {
    return frame(0x10, str("MQTT") + bytes({0x05, 0x06, 0x00, 0x3C, 0x00}) + str("c") +
                           props(will_props) + str("w") + str("p"));
  };
  (void)decode_ok(with_will(bytes({0x18, 0, 0, 0, 1})), V5);
  CHECK(decode_error(with_will(bytes({0x11, 0, 0, 0, 1})), V5) == kMalformed);
}

TEST_CASE("a property given twice is a protocol error", "[codec][errors][properties]") {
  CHECK(decode_error(publish5(bytes({0x01, 0x01, 0x01, 0x00})), V5) == kProtocol);
  CHECK(decode_error(publish5(bytes({0x23, 0x00, 0x01, 0x23, 0x00, 0x02})), V5) == kProtocol);
  CHECK(decode_error(connect5(bytes({0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2})), V5) == kProtocol);
  CHECK(decode_error(bytes({0x40, 0x0C, 0x00, 0x01, 0x00, 0x08, 0x1F, 0x00, 0x01, 'a', 0x1F, 0x00,
                            0x01, 'b'}),
                     V5) == kProtocol);
  CHECK(decode_error(subscribe5(bytes({0x0B, 0x01, 0x0B, 0x02})), V5) == kProtocol);
  CHECK(decode_error(connack5(bytes({0x24, 0x00, 0x24, 0x01})), V5) == kProtocol);
  // User Property may repeat, name and all; a PUBLISH may carry several Subscription
  // Identifiers, even equal ones (3.3.4).
  const auto wire = publish5(bytes({0x26}) + str("k") + str("1") + bytes({0x26}) + str("k") +
                             str("2") + bytes({0x0B, 0x05, 0x0B, 0x05}));
  const Packet packet = decode_ok(wire, V5);
  const auto& p = std::get<Publish>(packet);
  CHECK(p.props.user_properties == std::vector<UserProperty>{{"k", "1"}, {"k", "2"}});
  CHECK(p.props.subscription_identifiers == std::vector<std::uint32_t>{5, 5});
}

TEST_CASE("property values out of range", "[codec][errors][properties]") {
  CHECK(decode_error(publish5(bytes({0x0B, 0x00})), V5) == kProtocol);  // Subscription Id 0
  CHECK(decode_error(subscribe5(bytes({0x0B, 0x00})), V5) == kProtocol);
  CHECK(decode_error(connect5(bytes({0x21, 0x00, 0x00})), V5) == kProtocol);  // Receive Max 0
  CHECK(decode_error(connack5(bytes({0x21, 0x00, 0x00})), V5) == kProtocol);
  CHECK(decode_error(connect5(bytes({0x27, 0, 0, 0, 0})), V5) == kProtocol);  // Max Packet 0
  CHECK(decode_error(connect5(bytes({0x17, 0x02})), V5) == kProtocol);        // Request Problem 2
  CHECK(decode_error(connect5(bytes({0x19, 0x02})), V5) == kProtocol);        // Request Response 2
  for (int id : {0x24, 0x25, 0x28, 0x29, 0x2A}) {  // Maximum QoS and the "available" flags
    INFO("id " << id);
    CHECK(decode_error(connack5(bytes({id, 0x02})), V5) == kProtocol);
    (void)decode_ok(connack5(bytes({id, 0x01})), V5);
  }
  // No error class is named for the Payload Format Indicator; 0 and 1 are its only values.
  CHECK(decode_error(publish5(bytes({0x01, 0x02})), V5) == kMalformed);
  // Authentication Data needs an Authentication Method (3.1.2.11.10).
  CHECK(decode_error(connect5(bytes({0x16}) + str("d")), V5) == kProtocol);
  (void)decode_ok(connect5(bytes({0x15}) + str("m") + bytes({0x16}) + str("d")), V5);
  // Fine: Topic Alias Maximum 0, the largest Subscription Identifier.
  (void)decode_ok(connect5(bytes({0x22, 0x00, 0x00})), V5);
  (void)decode_ok(subscribe5(bytes({0x0B, 0xFF, 0xFF, 0xFF, 0x7F})), V5);
}

TEST_CASE("Topic Alias 0 is left to the channel", "[codec][properties][MQTT-3.3.2-8]") {
  // 3.3.4 answers an alias of 0 or above the maximum with 0x94 Topic Alias invalid; the
  // maximum is connection state, so the channel checks both.
  const auto wire = publish5(bytes({0x23, 0x00, 0x00}));
  const Packet packet = decode_ok(wire, V5);
  const auto& p = std::get<Publish>(packet);
  CHECK(p.props.topic_alias == std::uint16_t{0});
}

}  // namespace
}  // namespace emqxd::mqtt

TEST_CASE("check_fixed_header judges the first byte alone", "[codec][MQTT-2.1.3-1]") {
  using emqxd::Errc;
  using emqxd::mqtt::check_fixed_header;
  using emqxd::mqtt::ProtocolVersion;
  auto v5 = ProtocolVersion::V5;
  auto v311 = ProtocolVersion::V3_1_1;
  CHECK(check_fixed_header(0x10, v5) == Errc::Ok);               // CONNECT
  CHECK(check_fixed_header(0x3D, v5) == Errc::Ok);               // PUBLISH dup qos2 retain
  CHECK(check_fixed_header(0x36, v5) == Errc::MalformedPacket);  // PUBLISH QoS 3
  CHECK(check_fixed_header(0x62, v5) == Errc::Ok);               // PUBREL 0b0010
  CHECK(check_fixed_header(0x60, v5) == Errc::MalformedPacket);  // PUBREL 0b0000
  CHECK(check_fixed_header(0x82, v5) == Errc::Ok);               // SUBSCRIBE
  CHECK(check_fixed_header(0x80, v5) == Errc::MalformedPacket);
  CHECK(check_fixed_header(0x47, v5) == Errc::MalformedPacket);  // 'G' of "GET": PUBACK 0b0111
  CHECK(check_fixed_header(0x00, v5) == Errc::MalformedPacket);  // reserved type 0
  CHECK(check_fixed_header(0xF0, v5) == Errc::Ok);               // AUTH in 5.0
  CHECK(check_fixed_header(0xF0, v311) == Errc::MalformedPacket);
}
