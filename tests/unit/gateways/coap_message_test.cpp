// CoAP messages (gateways/coap/message.hpp), byte for byte as RFC 7252 section 3 lays them
// out, with the examples of its Appendix A.
#include <catch2/catch.hpp>
#include <string>

#include "gateways/coap/message.hpp"

using namespace emqxd::gateways::coap;
using emqxd::Errc;

namespace {

std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b)
    s.push_back(static_cast<char>(x));
  return s;
}

std::string encoded(const Message& m) {
  std::string out;
  encode(m, out);
  return out;
}

}  // namespace

TEST_CASE("RFC 7252 Appendix A: a confirmable GET /temperature and its piggybacked answer") {
  const std::string get = bytes({0x40, 0x01, 0x7d, 0x34, 0xbb}) + "temperature";
  auto m = decode(get);
  REQUIRE(m);
  CHECK(m->type == Type::Con);
  CHECK(m->code == kGet);
  CHECK(m->id == 0x7d34);
  CHECK(m->token.empty());
  CHECK(m->path() == "temperature");
  CHECK(encoded(*m) == get);

  Message ack;
  ack.type = Type::Ack;
  ack.code = kContent;
  ack.id = 0x7d34;
  ack.payload = "22.3 C";
  CHECK(encoded(ack) == bytes({0x60, 0x45, 0x7d, 0x34, 0xff}) + "22.3 C");
}

TEST_CASE("tokens, several options, and the extended delta and length forms") {
  Message m;
  m.type = Type::Non;
  m.code = kPost;
  m.id = 1;
  m.token = "\x01\x02\x03\x04";
  m.add(kUriPath, "ps");
  m.add(kUriPath, "a");
  m.add(kUriQuery, "clientid=c1");
  m.add_uint(kSize1, 300);             // delta 60 - 15 = 45: 13 + one octet
  m.add(2000, std::string(300, 'x'));  // delta 1940: 14 + two octets; length 300 too
  m.add_uint(kContentFormat, 50);      // sorted in between
  m.payload = "body";
  const auto wire = encoded(m);
  auto back = decode(wire);
  REQUIRE(back);
  CHECK(*back == m);
  CHECK(back->path() == "ps/a");
  CHECK(back->query("clientid") == std::optional<std::string>("c1"));
  CHECK_FALSE(back->query("client"));
  CHECK(back->uint_option(kContentFormat) == std::optional<std::uint32_t>(50));
  CHECK(back->uint_option(kSize1) == std::optional<std::uint32_t>(300));
  // The Size1 option's header: delta 45 is 13 + 32, length 2.
  CHECK(wire.find(bytes({0xd2, 32, 0x01, 0x2c})) != std::string::npos);
}

TEST_CASE("uint options are the shortest big-endian form, and 0 is empty") {
  CHECK(uint_bytes(0).empty());
  CHECK(uint_bytes(1) == bytes({1}));
  CHECK(uint_bytes(0x1234) == bytes({0x12, 0x34}));
  CHECK(uint_bytes(0x01000000) == bytes({1, 0, 0, 0}));
  Message m;
  m.add_uint(kObserve, 0);
  CHECK(m.uint_option(kObserve) == std::optional<std::uint32_t>(0));
}

TEST_CASE("Block1 and Block2 (RFC 7959 2.2)") {
  Message m;
  m.add_block(kBlock2, Block{5, true, 2});  // 64-octet blocks
  auto b = m.block(kBlock2);
  REQUIRE(b);
  CHECK(b->num == 5);
  CHECK(b->more);
  CHECK(b->size() == 64);
  CHECK(*m.first(kBlock2) == bytes({0x5a}));
  Message r;
  r.add(kBlock1, bytes({0x0f}));  // szx 7 is reserved
  CHECK_FALSE(r.block(kBlock1));
}

TEST_CASE("message format errors") {
  CHECK(decode("").error() == Errc::MalformedPacket);
  CHECK(decode(bytes({0x40, 0x01, 0x00})).error() == Errc::MalformedPacket);        // short
  CHECK(decode(bytes({0x80, 0x01, 0x00, 0x01})).error() == Errc::MalformedPacket);  // version 2
  CHECK(decode(bytes({0x49, 0x01, 0x00, 0x01, 1, 2, 3, 4, 5, 6, 7, 8, 9})).error() ==
        Errc::MalformedPacket);                                                        // TKL 9
  CHECK(decode(bytes({0x42, 0x01, 0x00, 0x01, 1})).error() == Errc::MalformedPacket);  // token cut
  CHECK(decode(bytes({0x40, 0x01, 0x00, 0x01, 0xff})).error() ==
        Errc::MalformedPacket);  // no payload
  CHECK(decode(bytes({0x40, 0x01, 0x00, 0x01, 0xf1, 0})).error() ==
        Errc::MalformedPacket);  // delta 15
  CHECK(decode(bytes({0x40, 0x01, 0x00, 0x01, 0x1f})).error() ==
        Errc::MalformedPacket);  // length 15
  CHECK(decode(bytes({0x40, 0x01, 0x00, 0x01, 0xb5, 'a'})).error() ==
        Errc::MalformedPacket);  // past the end
  CHECK(decode(bytes({0x40, 0x01, 0x00, 0x01, 0xd0})).error() == Errc::MalformedPacket);  // ext cut
  CHECK(decode(bytes({0x41, 0x00, 0x00, 0x01, 7})).error() ==
        Errc::MalformedPacket);  // Empty + token
  // An Empty CON (a ping) and an RST are fine.
  auto ping = decode(bytes({0x40, 0x00, 0x12, 0x34}));
  REQUIRE(ping);
  CHECK(ping->code == kEmpty);
  CHECK(ping->id == 0x1234);
  auto rst = decode(bytes({0x70, 0x00, 0x12, 0x34}));
  REQUIRE(rst);
  CHECK(rst->type == Type::Rst);
}
