// InfluxDB write_syntax (rules/line_protocol.hpp): EMQX's syntax and typing, and escapes
// that keep what a client sends from adding points, tags or fields.
#include "rules/line_protocol.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <string>

using emqxd::rules::LineProtocol;
using emqxd::rules::Precision;

namespace {

boost::json::object data() {
  return boost::json::parse(R"({
    "topic": "t/1", "clientid": "c1", "timestamp": 1700000000123,
    "payload": "{\"temp\": 21.5, \"n\": 42, \"on\": true, \"word\": \"T\", \"s\": \"hi\", \"ts\": 99}",
    "id": 7, "odd": "a b,c=d\ne\\", "quote": "say \"x\"", "num_text": "12"
  })")
      .as_object();
}

std::string render(const std::string& syntax, Precision p = Precision::Ms) {
  std::string error;
  auto lp = LineProtocol::parse(syntax, error);
  INFO(syntax << " -> " << error);
  REQUIRE(lp);
  std::string out;
  REQUIRE(lp->render(data(), p, out, error));
  return out;
}

std::string parse_error(const std::string& syntax) {
  std::string error;
  auto lp = LineProtocol::parse(syntax, error);
  INFO(syntax);
  REQUIRE_FALSE(lp);
  REQUIRE_FALSE(error.empty());
  return error;
}

}  // namespace

TEST_CASE("line protocol: EMQX's example renders, the message's time in the precision") {
  CHECK(render("${topic},clientid=${clientid} temp=${payload.temp},n=${payload.n}i") ==
        "t/1,clientid=c1 temp=21.5,n=42i 1700000000123\n");
  CHECK(render("m f=1", Precision::Ns) == "m f=1 1700000000123000000\n");
  CHECK(render("m f=1", Precision::Us) == "m f=1 1700000000123000\n");
  CHECK(render("m f=1", Precision::S) == "m f=1 1700000000\n");
  CHECK(render("m f=1 ${timestamp}", Precision::S) == "m f=1 1700000000\n");
  // Written: taken as it is, in the precision.
  CHECK(render("m f=1 ${payload.ts}", Precision::S) == "m f=1 99\n");
  CHECK(render("m f=1 1234") == "m f=1 1234\n");
  // Several lines, several points.
  CHECK(render("a f=1\n  b g=2\n") == "a f=1 1700000000123\nb g=2 1700000000123\n");
}

TEST_CASE("line protocol: field values are typed as EMQX types them") {
  struct Row {
    const char* value;
    const char* written;
  } rows[] = {
      {"12", "12"},                                          // a float
      {"-1.5", "-1.5"},                                      // a float
      {"12i", "12i"},                                        // an integer
      {"7u", "7u"},                                          // unsigned
      {"1.9i", "1i"},                                        // rounded down
      {"-9223372036854775808i", "-9223372036854775808i"},    // the range's ends
      {"18446744073709551615u", "18446744073709551615u"},    //
      {"12345678901234567890.7u", "12345678901234567168u"},  // via a double, as EMQX
      {"t", "true"},                                         // booleans, every spelling
      {"FALSE", "false"},                                    //
      {"true", "true"},                                      // (EMQX: the string "true")
      {"abc", "\"abc\""},                                    // other text: a string
      {"\"q ${clientid}\"", "\"q c1\""},                     // quoted: a string
      {"${payload.n}", "42"},                                // reads a number: a float
      {"${payload.temp}", "21.5"},                           //
      {"${payload.on}", "true"},                             // a JSON boolean
      {"${payload.word}", "true"},                           // text spelling one
      {"${payload.s}", "\"hi\""},                            // text
      {"${payload.n}i", "42i"},                              // an integer
      {"${payload.n}u", "42u"},                              //
      {"${payload.temp}i", "\"21.5i\""},                     // not an integer: the text
      {"${num_text}i", "\"12i\""},                           // text is not read as a number
      {"${clientid}_x", "\"c1_x\""},                         // mixed: a string
      {"${quote}", "\"say \\\"x\\\"\""},                     // quotes escaped
  };
  for (const auto& r : rows) {
    INFO(r.value);
    CHECK(render(std::string("m f=") + r.value + " 1") == std::string("m f=") + r.written + " 1\n");
  }
}

TEST_CASE("line protocol: what reads nothing is left out, and nothing left is an error") {
  CHECK(render("m,a=${nope},b=${clientid} f=1,g=${nope},${nope}=2 1") == "m,b=c1 f=1 1\n");
  CHECK(render("m f=${nope},g=\"${nope}\",h=${id} 1") == "m h=7 1\n");
  std::string error;
  auto lp = LineProtocol::parse("m f=${nope} 1", error);
  REQUIRE(lp);
  std::string out = "kept";
  CHECK_FALSE(lp->render(data(), Precision::Ms, out, error));
  CHECK(out == "kept");
  CHECK(error.find("no field") != std::string::npos);
  lp = LineProtocol::parse("m f=1 ${clientid}", error);
  REQUIRE(lp);
  CHECK_FALSE(lp->render(data(), Precision::Ms, out, error));
  CHECK(error.find("timestamp") != std::string::npos);
  // An output without a timestamp (a rule selecting fields): the server's time.
  lp = LineProtocol::parse("m f=1", error);
  REQUIRE(lp);
  out.clear();
  CHECK(lp->render(boost::json::object{{"x", 1}}, Precision::Ms, out, error));
  CHECK(out == "m f=1\n");
}

TEST_CASE("line protocol: what clients send is escaped, never a new point or field") {
  // "a b,c=d\ne\\": space, comma, equals, a line break and a backslash.
  CHECK(
      render("${odd},t=${odd} ${odd}=\"${odd}\" 1") ==
      "a\\ b\\,c=d\\ne\\\\,t=a\\ b\\,c\\=d\\ne\\\\ a\\ b\\,c\\=d\\ne\\\\=\"a b,c=d\\ne\\\\\" 1\n");
}

TEST_CASE("line protocol: escapes in the syntax are EMQX's") {
  CHECK(render("my\\ m,my\\,tag=v\\=1 my\\=f=\"a\\\"b\" 1") ==
        "my\\ m,my\\,tag=v\\=1 my\\=f=\"a\\\"b\" 1\n");
}

TEST_CASE("line protocol: a bad write_syntax is refused, saying where") {
  CHECK(parse_error("").find("empty") != std::string::npos);
  CHECK(parse_error("   \n ").find("empty") != std::string::npos);
  CHECK(parse_error("m").find("after a space") != std::string::npos);
  CHECK(parse_error("m ").find("at least one field") != std::string::npos);
  CHECK(parse_error("m,t f=1").find("unexpected ' '") != std::string::npos);
  CHECK(parse_error("m,t=1, f=1").find("unexpected") != std::string::npos);
  CHECK(parse_error("m f=").find("unexpected '='") != std::string::npos);
  CHECK(parse_error("m f=1,").find("unexpected ','") != std::string::npos);
  CHECK(parse_error("m f=\"open").find("closing") != std::string::npos);
  CHECK(parse_error("m f=\"a\\n\"").find("no escape") != std::string::npos);
  CHECK(parse_error("m f=${oops").find("placeholder") != std::string::npos);
  CHECK(parse_error("m f=1 12ab").find("timestamp") != std::string::npos);
  CHECK(parse_error("m f=1 ${a}00").find("timestamp") != std::string::npos);
  CHECK(parse_error("m f=1\nn").find("line 2") != std::string::npos);
  // InfluxDB's integers are 64 bits; Erlang's would not stop there.
  CHECK(parse_error("m f=9223372036854775808i").find("64-bit") != std::string::npos);
  CHECK(render("m f=-0.5u 1") == "m f=0u 1\n");  // truncates to 0
  CHECK(parse_error("m f=-2.0u").find("64-bit") != std::string::npos);
  CHECK(parse_error("m f=18446744073709551616u").find("64-bit") != std::string::npos);
}
