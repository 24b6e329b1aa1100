// STOMP frames (gateways/stomp/frame.hpp), against the STOMP 1.2 specification's frame
// syntax and its examples.
#include <catch2/catch.hpp>
#include <string>

#include "gateways/stomp/frame.hpp"

using namespace emqxd::gateways::stomp;
using emqxd::Errc;

namespace {

using namespace std::string_literals;

Parsed parse_ok(std::string_view in, const Limits& limits = {}) {
  std::string why;
  auto p = parse(in, limits, why);
  INFO(why);
  REQUIRE(p);
  return *p;
}

std::string why_refused(std::string_view in, const Limits& limits = {}) {
  std::string why;
  auto p = parse(in, limits, why);
  REQUIRE_FALSE(p);
  CHECK(p.error() == Errc::MalformedPacket);
  return why;
}

}  // namespace

TEST_CASE("the specification's SEND example, with LF and with CR LF") {
  for (std::string eol : {"\n", "\r\n"}) {
    const std::string wire = "SEND" + eol + "destination:/queue/a" + eol +
                             "content-type:text/plain" + eol + eol + "hello queue a\0"s;
    auto p = parse_ok(wire);
    REQUIRE(p.kind == Parsed::Kind::Frame);
    CHECK(p.consumed == wire.size());
    CHECK(p.frame.command == "SEND");
    REQUIRE(p.frame.header("destination") != nullptr);
    CHECK(*p.frame.header("destination") == "/queue/a");
    CHECK(*p.frame.header("content-type") == "text/plain");
    CHECK(p.frame.body == "hello queue a");
  }
}

TEST_CASE("a frame in pieces needs more until the NUL, then parses whole") {
  const std::string wire = "SEND\ndestination:a\n\nbody\0"s;
  for (std::size_t n = 0; n < wire.size(); ++n) {
    INFO(n);
    CHECK(parse_ok(wire.substr(0, n)).kind == Parsed::Kind::NeedMore);
  }
  CHECK(parse_ok(wire).kind == Parsed::Kind::Frame);
}

TEST_CASE("EOLs between frames are heart-beats") {
  auto p = parse_ok("\n");
  CHECK(p.kind == Parsed::Kind::Heartbeat);
  CHECK(p.consumed == 1);
  p = parse_ok("\r\nSEND");
  CHECK(p.kind == Parsed::Kind::Heartbeat);
  CHECK(p.consumed == 2);
}

TEST_CASE("content-length bodies may hold NULs") {
  const std::string wire = "SEND\ndestination:a\ncontent-length:5\n\na\0b\0c\0"s;
  auto p = parse_ok(wire);
  REQUIRE(p.kind == Parsed::Kind::Frame);
  CHECK(p.frame.body == "a\0b\0c"s);
  CHECK(p.consumed == wire.size());
  CHECK(why_refused("SEND\ncontent-length:2\n\nabc\0"s) == "no NUL after content-length octets");
  CHECK(why_refused("SEND\ncontent-length:x\n\n\0"s) == "content-length is not a number");
}

TEST_CASE("header escapes: decoded in 1.1/1.2 frames, kept as written in CONNECT") {
  auto p = parse_ok("SEND\nk\\cey:a\\nb\\\\c\\rd\n\n\0"s);
  REQUIRE(p.kind == Parsed::Kind::Frame);
  CHECK(p.frame.headers[0] == std::pair<std::string, std::string>{"k:ey", "a\nb\\c\rd"});
  CHECK(why_refused("SEND\nk:a\\tb\n\n\0"s) == "an undefined escape sequence in a header");
  p = parse_ok("CONNECT\npasscode:a\\b:c\n\n\0"s);
  CHECK(*p.frame.header("passcode") == "a\\b:c");
}

TEST_CASE("a repeated header: the first value counts") {
  auto p = parse_ok("MESSAGE\nfoo:World\nfoo:Hello\n\n\0"s);
  CHECK(*p.frame.header("foo") == "World");
}

TEST_CASE("limits: headers, header length, body") {
  Limits l;
  l.max_headers = 2;
  l.max_headers_length = 16;
  l.max_body_length = 4;
  CHECK(why_refused("SEND\na:1\nb:2\nc:3\n\n\0"s, l) == "more headers than max_headers");
  CHECK(why_refused("SEND\na:0123456789abcdef\n\n\0"s, l) ==
        "a header longer than max_headers_length");
  CHECK(why_refused("SEND\n\n12345\0"s, l) == "a body longer than max_body_length");
  CHECK(why_refused("SEND\ncontent-length:5\n\n"s, l) == "a body longer than max_body_length");
  // A body with no NUL yet is refused once it passes the limit, not held forever.
  CHECK(why_refused("SEND\n\n123456"s, l) == "a body longer than max_body_length");
  CHECK(why_refused(std::string(100, 'A'), l) == "a command line longer than 64 octets");
  CHECK(why_refused("BOGUS\n\n\0"s) == "unknown command");
  CHECK(why_refused("SEND\nno-colon\n\n\0"s) == "a header line without a name and a colon");
}

TEST_CASE("encode escapes headers but CONNECTED's, and ends with NUL") {
  std::string out;
  encode(Frame{"MESSAGE", {{"destination", "a:b"}, {"x", "l1\nl2"}}, "body"}, out);
  CHECK(out == "MESSAGE\ndestination:a\\cb\nx:l1\\nl2\n\nbody\0"s);
  out.clear();
  encode(Frame{"CONNECTED", {{"version", "1.2"}, {"server", "a:b"}}, ""}, out);
  CHECK(out == "CONNECTED\nversion:1.2\nserver:a:b\n\n\0"s);
  // What encode writes parses back to the same frame.
  out.clear();
  Frame f{"ERROR", {{"message", "a\\b"}, {"receipt-id", "77"}}, "details"};
  encode(f, out);
  auto p = parse_ok(out);
  CHECK(p.frame == f);
}
