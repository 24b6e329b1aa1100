// The Erlang term reader of acl.conf (server/auth/erl_term.hpp): what file:consult reads,
// and errors that say where.
#include "auth/erl_term.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using emqxd::auth::AuthFileError;
using emqxd::auth::parse_terms;
using emqxd::auth::Term;

std::string error_of(std::string_view text) {
  try {
    parse_terms(text, "acl.conf");
  } catch (const AuthFileError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("terms: atoms, strings, binaries, integers, tuples and lists") {
  auto ts = parse_terms(
      "%% a comment\n"
      "{allow, 'and', \"a/#\", <<\"b/+\">>, -12, [1, [], {}]}. % trailing\n"
      "{deny, all}.",
      "acl.conf");
  REQUIRE(ts.size() == 2);
  const Term& t = ts[0];
  REQUIRE(t.is_tuple(6));
  CHECK(t.items[0].is_atom("allow"));
  CHECK(t.items[1].is_atom("and"));
  CHECK(t.items[2].kind == Term::Kind::String);
  CHECK(t.items[2].text == "a/#");
  CHECK(t.items[3].kind == Term::Kind::String);
  CHECK(t.items[3].text == "b/+");
  CHECK(t.items[4].integer == -12);
  REQUIRE(t.items[5].kind == Term::Kind::List);
  CHECK(t.items[5].items.size() == 3);
  CHECK(t.items[5].items[1].is_text());  // [] is ""
  CHECK(ts[1].line == 3);
  CHECK(ts[1].column == 1);
}

TEST_CASE("terms: escapes and adjacent strings as Erlang reads them") {
  auto ts = parse_terms(R"({"a\"b\\c\n\x41\x{e9}\101", "x" "y", 'it\'s'}.)", "f");
  REQUIRE(ts.size() == 1);
  CHECK(ts[0].items[0].text ==
        "a\"b\\c\nA\xC3\xA9"
        "A");
  CHECK(ts[0].items[1].text == "xy");
  CHECK(ts[0].items[2].is_atom("it's"));
}

TEST_CASE("terms: errors name the file, line and column") {
  CHECK(error_of("{allow, all}") == "acl.conf:1:13: expected '.' after a term");
  CHECK(error_of("{allow all}.") == "acl.conf:1:8: expected ',' or '}' in a tuple");
  CHECK(error_of("\n\n  {allow, \"open}.") == "acl.conf:3:11: unterminated string");
  CHECK(error_of("{allow, Who}.").find("acl.conf:1:9: variables are not allowed") == 0);
  CHECK(error_of("[a | b].").find("improper lists") != std::string::npos);
  CHECK(error_of("{1.5}.").find("floats are not allowed") != std::string::npos);
  CHECK(error_of("{a}.{b}.").find("expected a space or a new line after '.'") != std::string::npos);
  CHECK(error_of("{a, #{}}.").find("unexpected '#'") != std::string::npos);
  CHECK(error_of("99999999999999999999.").find("integer out of range") != std::string::npos);
  CHECK(error_of(std::string(100, '{')).find("nested too deeply") != std::string::npos);
  CHECK(error_of("<<\"a\"/utf8>>.").find("only <<\"text\">> binaries") != std::string::npos);
}

TEST_CASE("terms: an empty file or one of comments holds no term") {
  CHECK(parse_terms("", "f").empty());
  CHECK(parse_terms("%% nothing\n  % here\n", "f").empty());
}
