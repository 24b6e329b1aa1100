// The grammar of rule SQL (server/rules/sql.hpp): what parses, into what, and where a bad
// statement is reported.
#include "rules/sql.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "rules_test_util.hpp"

namespace {

using emqxd::rules::Expr;
using emqxd::rules::kMaxDepth;
using emqxd::rules::parse;
using emqxd::rules::PathSegment;
using emqxd::rules::SqlError;
using emqxd::rules::Statement;
using emqxd::rules::test::parse_ok;

std::string error_of(const std::string& sql) {
  auto r = parse(sql);
  if (auto* e = std::get_if<SqlError>(&r)) return e->message;
  return "(parsed)";
}

}  // namespace

TEST_CASE("sql: statements EMQX's documentation writes parse", "[rules][sql]") {
  const char* ok[] = {
      // rule-sql-syntax.md
      R"(SELECT clientid, payload.clientid as myclientid FROM "t/#", "my/other/topic")",
      R"(SELECT peername as ip_port FROM "$events/client_connected" WHERE clientid = 'c1')",
      R"(SELECT * FROM "t/#" WHERE username = 'eric')",
      R"(SELECT (upper(clientid) + '_UPPERCASE_LETTERS') as cid FROM "t/#")",
      R"(SELECT (payload.integer_field + 2) * 2 as num FROM "t/#")",
      R"(SELECT payload.a.b.c.deep as my_field FROM "t/#")",
      R"(SELECT * FROM "t/#" WHERE payload.name = "sensor_1" and payload.temprature > 39)",
      "FOREACH payload.sensors as sensor\nDO\n  timestamp,\n  clientid,\n  upper(sensor.name) as "
      "name,\n  sensor.idx as idx\nINCASE\n  sensor.idx >= 1\nFROM \"t/#\"",
      R"(FOREACH payload.sensors FROM "t/#")",
      "SELECT\n  CASE WHEN payload.x < 0 THEN 0\n       WHEN payload.x > 7 THEN 7\n       ELSE "
      "payload.x\n  END as x\nFROM \"t/#\"",
      R"(SELECT clientid FROM "$events/session_subscribed" WHERE topic =~ 't/#' and qos = 1)",
      R"(SELECT pub_props.'User-Property'.foo as foo FROM "t/#")",
      "FOREACH payload.sensors as s DO nth(2, tokens(clientid,'_')) as clientid, s.name as name, "
      "s.idx as idx INCASE s.idx >= 1 FROM \"t/#\"",
      // EMQX's own tests (emqx_rule_engine_SUITE.erl)
      "select payload, 'STEVE' as payload.data[1].name from \"t/#\"",
      "select payload.x as b, 1 as c[-0], 2 as c[-0], b as c[0] from \"t/#\"",
      "select payload.a[1..4] as c, [1..4] as d from \"t/#\"",
      "select true as a, false as b, false as x.y, true as c[-0] from \"t/#\"",
      "select clientid, topic as tp from 't/tt', \"$events/client_connected\"",
      "select 1 from topic",
      // Keywords in any case, comments, NOT IN, mod, div, implicit aliases.
      "select qos mod 2 as m, qos DIV 1 d From \"t\" -- a comment\n Where qos Not In (0, 2)",
  };
  for (const char* sql : ok) {
    INFO(sql);
    auto r = parse(sql);
    if (auto* e = std::get_if<SqlError>(&r)) FAIL(e->message);
  }
}

TEST_CASE("sql: the tree of a SELECT", "[rules][sql]") {
  Statement st = parse_ok(
      R"(SELECT *, payload.x[2].'a b' AS y.z, upper(clientid) FROM "t/#", "$events/x" WHERE qos > 0)");
  CHECK_FALSE(st.foreach);
  REQUIRE(st.fields.size() == 3);
  CHECK(st.fields[0].star);
  const auto& f = st.fields[1];
  CHECK(f.aliased);
  REQUIRE(f.key.size() == 2);
  CHECK(f.key[0].key == "y");
  CHECK(f.key[1].key == "z");
  REQUIRE(f.expr->kind == Expr::Kind::Lookup);
  const auto& p = f.expr->path;
  REQUIRE(p.size() == 4);
  CHECK(p[0].key == "payload");
  CHECK(p[2].kind == PathSegment::Kind::Index);
  CHECK(p[2].index == 2);
  CHECK(p[3].key == "a b");
  // A field without an alias gets a made-up name, as EMQX's ephemeral aliases.
  CHECK(st.fields[2].key[0].key == "_v_fun_3");
  CHECK(st.from == std::vector<std::string>{"t/#", "$events/x"});
  REQUIRE(st.where);
  CHECK(st.where->kind == Expr::Kind::Binary);
}

TEST_CASE("sql: FOREACH's clauses and its element's name", "[rules][sql]") {
  Statement st = parse_ok("FOREACH payload.a as p, p.b as s DO s.x, 1 INCASE s.x > 1 FROM \"t\"");
  CHECK(st.foreach);
  CHECK(st.fields.size() == 2);
  CHECK(st.do_fields.size() == 2);
  CHECK(st.item_name == "s");
  CHECK(st.incase);
  CHECK_FALSE(st.where);
  CHECK(parse_ok("FOREACH payload.a FROM \"t\"").item_name == "item");
}

TEST_CASE("sql: operator precedence", "[rules][sql]") {
  using emqxd::rules::test::eval;
  CHECK(eval("1 + 2 * 3") == "7");
  CHECK(eval("(1 + 2) * 3") == "9");
  CHECK(eval("10 - 4 - 3") == "3");
  CHECK(eval("- 2 * 3") == "-6");
  CHECK(eval("7 div 2 * 2") == "6");
  CHECK(eval("1 + 1 = 2") == "true");
  CHECK(eval("not 1 = 2") == "true");
  CHECK(eval("true or false and false") == "true");
  CHECK(eval("(true or false) and false") == "false");
  CHECK(eval("1 < 2 and 2 < 3") == "true");
  CHECK(eval(".5 + 1") == "1.5");  // after a keyword, .5 is a number; after a name, a segment
  CHECK(eval("payload.5", R"({"5": "five"})") == R"("five")");
}

TEST_CASE("sql: bad statements name the place and the problem", "[rules][sql]") {
  struct Case {
    const char* sql;
    const char* error;
  };
  const Case cases[] = {
      {"", "1:1: expected SELECT or FOREACH, found end of input"},
      {"SELEC * FROM \"t\"", "1:1: expected SELECT or FOREACH, found 'SELEC'"},
      {"SELECT * \"t\"", "1:10: expected FROM, found \"t\""},
      {"SELECT * FROM", "1:14: expected a topic or event in FROM, found end of input"},
      {"SELECT FROM \"t\"", "1:8: expected an expression, found 'FROM'"},
      {"SELECT a FROM \"t\" WHERE", "1:24: expected an expression, found end of input"},
      {"SELECT a,\n  b +\n FROM \"t\"", "3:2: expected an expression, found 'FROM'"},
      {"SELECT 'abc FROM \"t\"", "1:8: unterminated string"},
      {"SELECT \"abc FROM t", "1:8: unterminated quoted name"},
      {"SELECT a # b FROM \"t\"", "1:10: unexpected character '#'"},
      {"SELECT nosuch(1) FROM \"t\"", "1:8: unknown function 'nosuch'"},
      {"SELECT (1 FROM \"t\"", "1:11: expected ')', found 'FROM'"},
      {"SELECT a FROM \"t\" x", "1:19: unexpected 'x'"},
      {"SELECT a AS 1 FROM \"t\"", "1:13: expected an alias, found '1'"},
      {"SELECT a. , b FROM \"t\"", "1:11: expected a name after '.', found ','"},
      {"SELECT a[] FROM \"t\"", "1:10: expected an index, found ']'"},
      {"SELECT CASE 1 END FROM \"t\"", "1:15: expected WHEN, found 'END'"},
      {"SELECT CASE WHEN 1 2 END FROM \"t\"", "1:20: expected THEN, found '2'"},
      {"SELECT 1 = 2 = 3 FROM \"t\"", "1:14: expected FROM, found '='"},
      {"SELECT 99999999999999999999 FROM \"t\"", "1:8: integer 99999999999999999999 out of range"},
      {"FOREACH * FROM \"t\"", "1:11: FOREACH needs an expression, not *"},
      {"SELECT a FROM \"t\" WHERE a IN 1", "1:30: expected '(', found '1'"},
  };
  for (const Case& c : cases) {
    INFO(c.sql);
    CHECK(error_of(c.sql) == c.error);
  }
}

TEST_CASE("sql: nesting is bounded, so any input ends", "[rules][sql]") {
  auto nested = [](int n) {
    return "SELECT " + std::string(static_cast<std::size_t>(n), '(') + "1" +
           std::string(static_cast<std::size_t>(n), ')') + " FROM \"t\"";
  };
  CHECK(error_of(nested(kMaxDepth / 2)) == "(parsed)");
  CHECK(error_of(nested(1000)).find("nested deeper than") != std::string::npos);
  std::string chain = "SELECT 1";
  for (int i = 0; i < 10000; ++i)
    chain += " + 1";
  CHECK(error_of(chain + " FROM \"t\"").find("nested deeper than") != std::string::npos);
  std::string minus = "SELECT ";
  for (int i = 0; i < 1000; ++i)
    minus += "- ";  // "--" would start a comment
  minus += "1 FROM \"t\"";
  CHECK(error_of(minus).find("nested deeper than") != std::string::npos);
  std::string path = "SELECT a";
  for (int i = 0; i < 1000; ++i)
    path += ".a";
  CHECK(error_of(path + " FROM \"t\"").find("a path longer than") != std::string::npos);
  CHECK(error_of("SELECT '" + std::string(100000, 'x') + "' FROM \"t\"").find("longer than") !=
        std::string::npos);
}

TEST_CASE("sql: strings and quoted names", "[rules][sql]") {
  using emqxd::rules::test::eval;
  CHECK(eval("'it''s'") == R"("it's")");
  // No escapes in strings: EMQX offers unescape() for them.
  CHECK(eval(R"('a\nb')") == R"("a\\nb")");
  // "..." is a name, not a string: EMQX reads the column.
  CHECK(eval(R"("topic")") == R"("t/a")");
  CHECK(eval(R"("no such column")") == "undefined");
}
