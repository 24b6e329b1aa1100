// SELECT over one event (server/rules/eval.hpp): fields, aliases, paths into the payload,
// WHERE, CASE, IN, =~ and EMQX's undefined, with the results EMQX documents or its own
// tests (emqx_rule_engine_SUITE.erl) assert.
#include <catch2/catch.hpp>

#include "rules_test_util.hpp"

namespace {

using emqxd::rules::matches_from;
using emqxd::rules::test::columns;
using emqxd::rules::test::eval;
using emqxd::rules::test::eval_error;
using emqxd::rules::test::parse_ok;
using emqxd::rules::test::run_sql;
using Texts = std::vector<std::string>;

}  // namespace

TEST_CASE("select: the message.publish example of EMQX's documentation", "[rules][select]") {
  // rule-sql-events-and-fields.md, "MQTT Message":
  //   SELECT payload.msg as msg, clientid, username, payload, topic, qos FROM "t/#"
  //   -> {"username": "u_emqx", "topic": "t/a", "qos": 1,
  //       "payload": "{\"msg\":\"hello\"}", "msg": "hello", "clientid": "c_emqx"}
  auto o =
      run_sql("SELECT payload.msg as msg, clientid, username, payload, topic, qos FROM \"t/#\"",
              R"({"msg":"hello"})");
  CHECK(o.error.empty());
  CHECK(o.texts() == Texts{R"({"clientid":"c_emqx","msg":"hello","payload":"{\"msg\":\"hello\"}",)"
                           R"("qos":1,"topic":"t/a","username":"u_emqx"})"});
}

TEST_CASE("select: publish_columns names the columns as EMQX does", "[rules][select]") {
  emqxd::rules::PublishEvent e;
  e.id = "0005E27C1D24E44FF440000017520000";
  e.client_id = "c1";
  e.payload = "p";
  e.peerhost = "10.0.0.1";
  e.topic = "a/b";
  e.qos = 2;
  e.retain = true;
  e.timestamp_ms = 2;
  e.publish_received_at_ms = 1;
  e.node = "emqx@127.0.0.1";
  CHECK(emqxd::rules::json_encode(boost::json::value(emqxd::rules::publish_columns(e))) ==
        R"({"clientid":"c1","event":"message.publish","flags":{"dup":false,"retain":true},)"
        R"("id":"0005E27C1D24E44FF440000017520000","node":"emqx@127.0.0.1","payload":"p",)"
        R"("peerhost":"10.0.0.1","pub_props":{},"publish_received_at":1,"qos":2,"timestamp":2,)"
        R"("topic":"a/b"})");  // no username: the column is undefined
}

TEST_CASE("select: * is every column, and fields after it add to them", "[rules][select]") {
  auto o = run_sql("SELECT *, 1 as one FROM \"t/#\"");
  REQUIRE(o.out.size() == 1);
  const auto& r = o.out[0];
  CHECK(r.at("clientid") == "c_emqx");
  CHECK(r.at("event") == "message.publish");
  CHECK(r.at("flags").at("retain") == false);
  CHECK(r.at("one") == 1);
  CHECK(r.at("publish_received_at") == 1645002753259);
}

TEST_CASE("select: WHERE filters, and later fields and WHERE see earlier aliases",
          "[rules][select]") {
  // rule-sql-syntax.md: "SELECT payload.x as x FROM "tests/test_topic_1" WHERE y = 1 ...
  // matches messages with the payload {"x": 1} but not {"x": 2}" (the example's WHERE
  // names y; the alias is x).
  CHECK(run_sql("SELECT payload.x as x FROM \"t/#\" WHERE x = 1", R"({"x": 1})").out.size() == 1);
  CHECK(run_sql("SELECT payload.x as x FROM \"t/#\" WHERE x = 1", R"({"x": 2})").out.empty());
  // "SELECT * FROM "#" WHERE payload.x.y = 1" matches {"x": {"y": 1}, "other": "field"}.
  CHECK(run_sql("SELECT * FROM \"#\" WHERE payload.x.y = 1", R"({"x": {"y": 1}, "other": "f"})")
            .out.size() == 1);
  CHECK(run_sql("SELECT * FROM \"t/#\" WHERE username = 'eric'").out.empty());
  CHECK(run_sql("SELECT * FROM \"t/#\" WHERE username = 'u_emqx'").out.size() == 1);
  // A later field reads an earlier one (EMQX's t_sqlparse_nested_get).
  auto o = run_sql("select payload as p, p.a.b as c from \"t/#\"", R"({"a": {"b": 0}})");
  CHECK(o.out.at(0).at("c") == 0);
}

TEST_CASE("select: expressions from the documentation", "[rules][select]") {
  // SELECT (upper(clientid) + '_UPPERCASE_LETTERS') as cid FROM "t/#"
  CHECK(run_sql("SELECT (upper(clientid) + '_UPPERCASE_LETTERS') as cid FROM \"t/#\"").texts() ==
        Texts{R"({"cid":"C_EMQX_UPPERCASE_LETTERS"})"});
  // SELECT (payload.integer_field + 2) * 2 as num FROM "t/#"
  CHECK(run_sql("SELECT (payload.integer_field + 2) * 2 as num FROM \"t/#\"",
                R"({"integer_field": 5})")
            .texts() == Texts{R"({"num":14})"});
  // SELECT payload.a.b.c.deep as my_field FROM "t/#"
  CHECK(run_sql("SELECT payload.a.b.c.deep as my_field FROM \"t/#\"",
                R"({"a":{"b":{"c":{"deep":[1]}}}})")
            .texts() == Texts{R"({"my_field":[1]})"});
  // SELECT pub_props.'User-Property'.foo as foo FROM "t/#"
  CHECK(run_sql("SELECT pub_props.'User-Property'.foo as foo FROM \"t/#\"").texts() ==
        Texts{R"({"foo":"bar"})"});
}

TEST_CASE("select: CASE as the documentation's example", "[rules][select]") {
  // rule-sql-syntax.md: CASE WHEN payload.x < 0 THEN 0 WHEN payload.x > 7 THEN 7
  // ELSE payload.x END as x, with {"x": 8} -> {"x": 7}.
  const char* sql =
      "SELECT CASE WHEN payload.x < 0 THEN 0 WHEN payload.x > 7 THEN 7 ELSE payload.x END as x "
      "FROM \"t/#\"";
  CHECK(run_sql(sql, R"({"x": 8})").texts() == Texts{R"({"x":7})"});
  CHECK(run_sql(sql, R"({"x": -1})").texts() == Texts{R"({"x":0})"});
  CHECK(run_sql(sql, R"({"x": 1})").texts() == Texts{R"({"x":1})"});
  // Without ELSE, no match is undefined: the field is left out (t_sqlparse_case_when_3).
  CHECK(run_sql("SELECT CASE WHEN payload.x < 0 THEN 0 END as y FROM \"t/#\"", R"({"x": 1})")
            .texts() == Texts{"{}"});
  // CASE x WHEN v: EMQX's switch (t_sqlparse_case_when_2).
  const char* sw = "SELECT CASE payload.x WHEN 1 THEN 2 WHEN 2 THEN 3 ELSE 4 END as y FROM \"t\"";
  CHECK(run_sql(sw, R"({"x": 1})").texts() == Texts{R"({"y":2})"});
  CHECK(run_sql(sw, R"({"x": 2})").texts() == Texts{R"({"y":3})"});
  CHECK(run_sql(sw, R"({"x": 7})").texts() == Texts{R"({"y":4})"});
  // A pattern match: 1.0 is not 1.
  CHECK(run_sql(sw, R"({"x": 1.0})").texts() == Texts{R"({"y":4})"});
}

TEST_CASE("select: comparisons with undefined, numbers, strings and atoms", "[rules][select]") {
  // t_sqlparse_undefined_variable, t_sqlparse_compare_null_null: undefined = undefined.
  CHECK(eval("a = b") == "true");
  CHECK(eval("a != b") == "false");
  CHECK(eval("a < b") == "false");
  CHECK(eval("a <= b") == "true");
  CHECK(eval("a < b", R"({"b":1})") == "false");
  CHECK(eval("payload.b > a", R"({"b":1})") == "false");
  CHECK(eval("payload.b != a", R"({"b":1})") == "false");
  CHECK(run_sql("select a, b from \"t/#\" where a = b").texts() == Texts{"{}"});
  CHECK(run_sql("select a, b from \"t/#\" where a > b", R"({"b":1})").out.empty());
  // 1 = 1.0 (Erlang's ==); a number against a string compares numbers.
  CHECK(eval("1 = 1.0") == "true");
  CHECK(eval("qos = '1'") == "true");
  CHECK(eval("qos < '1.5'") == "true");
  CHECK(eval_error("qos = 'one'") == "=: 'one' is not a number");
  // An atom against a string compares names: JSON null reads 'null'.
  CHECK(eval("payload.x = 'null'", R"({"x": null})") == "true");
  CHECK(eval("payload.x = 'true'", R"({"x": true})") == "true");
  CHECK(eval("'abc' < 'abd'") == "true");
  // Erlang's term order across types: number < atom < map < list < string.
  CHECK(eval("1 < true") == "true");
  CHECK(eval("[1] < 'a'") == "true");
  CHECK(eval("json_decode('{}') < [1]") == "true");
  // null and undefined are EMQX's undefined.
  CHECK(eval("null") == "undefined");
  CHECK(eval("is_null(undefined)") == "true");
  CHECK(eval("payload.nothing = null") == "true");
}

TEST_CASE("select: =~ matches a topic against a filter", "[rules][select]") {
  // rule-sql-syntax.md: ... WHERE topic =~ 't/#' and qos = 1
  CHECK(run_sql("SELECT clientid FROM \"t/#\" WHERE topic =~ 't/#' and qos = 1").texts() ==
        Texts{R"({"clientid":"c_emqx"})"});
  CHECK(eval("topic =~ 't/+'") == "true");
  CHECK(eval("topic =~ 't'") == "false");
  CHECK(eval("'a/b/c' =~ 'a/#'") == "true");
  CHECK(eval("'$SYS/x' =~ '#'") == "false");
  CHECK(eval("1 =~ '#'") == "false");
}

TEST_CASE("select: IN and NOT IN use exact equality", "[rules][select]") {
  CHECK(eval("qos IN (0, 1)") == "true");
  CHECK(eval("qos IN (0, 2)") == "false");
  CHECK(eval("qos NOT IN (0, 2)") == "true");
  CHECK(eval("qos IN (1.0)") == "false");
  CHECK(eval("clientid IN ('a', 'c_' + 'emqx')") == "true");
  CHECK(run_sql("SELECT 1 as x FROM \"t\" WHERE qos in (1, 2) and not (qos = 2)").out.size() == 1);
}

TEST_CASE("select: paths into the payload, indexes and slices", "[rules][select]") {
  const char* p = R"({"x": [1, {"y": 3}, 4], "a": [0,1,2,3,4,5], "i": 3, "k s": 9})";
  CHECK(eval("payload.x[2].y", p) == "3");  // 1-based
  CHECK(eval("payload.x[-2].y", p) == "3");
  CHECK(eval("payload.x[0]", p) == "undefined");
  CHECK(eval("payload.x[9]", p) == "undefined");
  CHECK(eval("payload.x[i]", p) == "4");  // the index is read from the payload
  CHECK(eval("payload.'k s'", p) == "9");
  CHECK(eval("payload.\"k s\"", p) == "9");
  CHECK(eval("payload.a[1..4]", p) == "[0,1,2,3]");  // t_sqlparse_array_range_1
  CHECK(eval("payload.a[-2..-1]", p) == "[4,5]");
  CHECK(eval_error("payload.x.y[1..2]", p) == "range_get: not a list");
  CHECK(eval("[1..4]") == "[1,2,3,4]");
  CHECK(eval("[3..2]") == "[]");  // lists:seq(3, 2)
  CHECK(eval_error("[3..1]") == "[3..1]: not a range of at most 100000 integers");
  CHECK(eval_error("[-9223372036854775808..9223372036854775807]") ==
        "[-9223372036854775808..9223372036854775807]: not a range of at most 100000 integers");
  CHECK(eval("payload.a[2..9223372036854775807]", p) == "[1,2,3,4,5]");
  CHECK(eval_error("payload.a[-9223372036854775808..2]", p) == "range_get: bad range");
  CHECK(eval_error("payload.a[0..2]", p) == "range_get: index 0");
  CHECK(eval("[21 + 21, abs(-abs(-2)), [1 + 1], 4]") == "[42,2,[2],4]");
  CHECK(eval("payload.nothing.deeper", p) == "undefined");
  CHECK(eval("payload.x.y", p) == "undefined");
  // A string holding JSON is read as JSON on a path (t_sqlparse_nested_get).
  CHECK(eval("payload.s.t", R"({"s": "{\"t\": 5}"})") == "5");
  CHECK(eval("clientid.x") == "undefined");
}

TEST_CASE("select: a payload that is not JSON fails paths into it", "[rules][select]") {
  // EMQX's t_sqlparse_invalid_json: {error, {decode_json_failed, _}}.
  auto o = run_sql("SELECT payload.a as a FROM \"t/#\"", "{\"x\":[0,1,2,3,}");
  CHECK(o.out.empty());
  CHECK(o.error == "decode_json_failed: the payload is not JSON");
  // The payload itself reads as the string it is.
  CHECK(run_sql("SELECT payload FROM \"t/#\"", "abc").texts() == Texts{R"({"payload":"abc"})"});
  CHECK(eval("payload", "123") == R"("123")");
  CHECK(eval("payload.a", "123") == "undefined");  // JSON, but not an object
}

TEST_CASE("select: fields without an alias keep their path, and aliases are paths",
          "[rules][select]") {
  // t_sqlparse_array_index_1: select payload.x[2] -> payload: {x: [3]}
  CHECK(run_sql("select payload.x[2] from \"t/#\"", R"({"x": [1, 3, 4]})").texts() ==
        Texts{R"({"payload":{"x":[3]}})"});
  // t_sqlparse_array_index_3
  CHECK(run_sql("select payload.x[2].y as b.c from \"t/#\"", R"({"x": [1,{"y": [1,2]},3]})")
            .texts() == Texts{R"({"b":{"c":[1,2]}})"});
  // t_sqlparse_array_index_4
  CHECK(
      run_sql("select payload.x, 0 as payload.x[2].y from \"t/#\"", R"({"x": [1,{"y": [1,2]},3]})")
          .texts() == Texts{R"({"payload":{"x":[1,{"y":0},3]}})"});
  CHECK(
      run_sql("select 0 as payload.x[2].y from \"t/#\"", R"({"x": [1,{"y": [1,2]},3]})").texts() ==
      Texts{R"({"payload":{"x":[{"y":0}]}})"});
  // t_sqlparse_array_index_2: [0] prepends, [-0] appends.
  CHECK(run_sql("select payload.x as b, 1 as c[-0], 2 as c[-0], b as c[0] from \"t/#\"",
                R"({"x": 0})")
            .texts() == Texts{R"({"b":0,"c":[0,1,2]})"});
  CHECK(run_sql("select [] as c, 1 as c[-0], 2 as c[-0], 0 as c[0] from \"t/#\"").texts() ==
        Texts{R"({"c":[0,1,2]})"});
  // t_sqlparse_array_range_1: [1..4] then appends and a prepend.
  CHECK(run_sql("select [1..4] as c, 5 as c[-0], 6 as c[-0], 0 as c[0] from \"t/#\"").texts() ==
        Texts{R"({"c":[0,1,2,3,4,5,6]})"});
  // t_sqlparse_true_false, t_sqlparse_new_map
  CHECK(run_sql("select true as a, false as b, false as x.y, true as c[-0] from \"t/#\"").texts() ==
        Texts{R"({"a":true,"b":false,"c":[true],"x":{"y":false}})"});
  CHECK(
      run_sql("select map_new() as a, map_new() as x.y, map_new() as c[-0] from \"t/#\"").texts() ==
      Texts{R"({"a":{},"c":[{}],"x":{"y":{}}})"});
  // t_sqlselect_as_put: writing into the payload writes into its JSON.
  auto o = run_sql("select payload, 'STEVE' as payload.data[1].name from \"t/#\"",
                   R"({"f1":"f1","data":[{"name":"n1","idx":1},{"name":"n2","idx":2}]})");
  CHECK(
      o.texts() ==
      Texts{R"({"payload":{"data":[{"idx":1,"name":"STEVE"},{"idx":2,"name":"n2"}],"f1":"f1"}})"});
  // A string constant names itself; other expressions get made-up names.
  CHECK(run_sql("select 'abc', 1 + 1 from \"t\"").texts() == Texts{R"({"_v_op_2":2,"abc":"abc"})"});
  // t_sqlparse_payload_as (EMQX issue 3866)
  CHECK(run_sql("SELECT payload, map_get('engineWorkTime', payload.params, -1) as "
                "payload.params.engineWorkTime FROM \"t/#\"",
                R"({"msgId": 1002, "params": {"convertTemp": 20}})")
            .texts() ==
        Texts{R"({"payload":{"msgId":1002,"params":{"convertTemp":20,"engineWorkTime":-1}}})"});
}

TEST_CASE("select: undefined fields are left out and hide columns", "[rules][select]") {
  CHECK(run_sql("SELECT payload.none as x, clientid FROM \"t\"").texts() ==
        Texts{R"({"clientid":"c_emqx"})"});
  // A field set to undefined hides the column of that name from WHERE, as in EMQX's
  // maps:merge(Columns, Selected).
  CHECK(
      run_sql("SELECT payload.none as clientid FROM \"t\" WHERE clientid = 'c_emqx'").out.empty());
  // ... but a later field falls through to the column (EMQX looks in each context).
  CHECK(run_sql("SELECT payload.none as clientid, clientid as c FROM \"t\"").texts() ==
        Texts{R"({"c":"c_emqx"})"});
}

TEST_CASE("select: arithmetic as Erlang's", "[rules][select]") {
  CHECK(eval("7 / 2") == "3.5");
  CHECK(eval("6 / 2") == "3.0");
  CHECK(eval("7 div 2") == "3");
  CHECK(eval("-7 div 2") == "-3");
  CHECK(eval("-7 mod 3") == "-1");
  CHECK(eval("1.5 + 1") == "2.5");
  CHECK(eval("9223372036854775807 + 1") == "9223372036854775808.0");  // a float, not a bignum
  // + concatenates when an operand is a string, the other as text.
  CHECK(eval("'a' + 1") == R"("a1")");
  CHECK(eval("1.5 + 'a'") == R"("1.5a")");
  CHECK(eval("'x' + payload.none") == R"("xundefined")");
  CHECK(eval_error("1 / 0") == "/: division by zero");
  CHECK(eval_error("1 mod 0") == "mod: division by zero");
  CHECK(eval_error("1.5 div 1") == "div: bad operands (float, integer)");
  CHECK(eval_error("1 - 'a'") == "-: bad operands (integer, string)");
  CHECK(eval_error("payload.none + 1") == "+: bad operands (undefined, integer)");
  CHECK(eval_error("-'a'") == "-: bad operand (string)");
}

TEST_CASE("select: FROM matches topics by filter and events by name", "[rules][select]") {
  auto st = parse_ok(R"(SELECT * FROM "t/#", "a/+/c", "$events/client_connected", 'x')");
  CHECK(matches_from(st, "t"));
  CHECK(matches_from(st, "t/a/b"));
  CHECK(matches_from(st, "a/b/c"));
  CHECK(matches_from(st, "x"));
  CHECK_FALSE(matches_from(st, "a/b"));
  CHECK(matches_from(st, "$events/client_connected"));
  CHECK_FALSE(matches_from(st, "$events/client_disconnected"));
  CHECK_FALSE(matches_from(parse_ok(R"(SELECT * FROM "#")"), "$events/client_connected"));
  CHECK_FALSE(matches_from(parse_ok(R"(SELECT * FROM "#")"), "$SYS/brokers"));
  CHECK(matches_from(parse_ok(R"(SELECT * FROM "$bridges/mqtt:b")"), "$bridges/mqtt:b"));
}

TEST_CASE("select: the run's budget bounds time and memory", "[rules][select]") {
  // A statement may ask for much; the run stops with an error, not the process.
  CHECK(eval_error("pad('a', 100000000)") == "pad/2: length too large");
  CHECK(eval_error("[1..1000000]").find("not a range of at most") != std::string::npos);
  auto o = run_sql("FOREACH [1..100000] as i DO pad('x', 1000) as p FROM \"t\"");
  CHECK(o.out.empty());
  CHECK(o.error.find("budget is spent") != std::string::npos);
  // Values nested past kMaxValueDepth are refused where they are built.
  std::string sql = "SELECT 1 as x";
  for (int i = 0; i < 300; ++i)
    sql += ", [x] as x";
  o = run_sql(sql + " FROM \"t\"");
  CHECK(o.error == "a selected value is nested too deep");
}

TEST_CASE("select: WHERE over columns only runs first, with the same outputs", "[rules][select]") {
  // Statement::where_first: WHERE reads no name a field sets.
  CHECK(parse_ok("SELECT payload.v AS v, clientid FROM \"t/#\" WHERE payload.v = 1").where_first);
  CHECK(parse_ok("SELECT * FROM \"t/#\" WHERE qos = 1").where_first);
  CHECK_FALSE(parse_ok("SELECT payload.v AS v FROM \"t/#\" WHERE v = 1").where_first);
  CHECK_FALSE(parse_ok("SELECT clientid FROM \"t/#\" WHERE clientid = 'c'").where_first);
  CHECK_FALSE(parse_ok("SELECT payload FROM \"t/#\" WHERE payload.x = 1").where_first);
  CHECK_FALSE(parse_ok("SELECT 1 AS n FROM \"t/#\" WHERE abs(n) = 1").where_first);
  CHECK_FALSE(parse_ok("FOREACH payload.l FROM \"t/#\" WHERE qos = 1").where_first);
  auto o =
      run_sql("SELECT payload.v AS v, clientid FROM \"t/#\" WHERE payload.v = 1", R"({"v":1})");
  CHECK(o.texts() == Texts{R"({"clientid":"c_emqx","v":1})"});
  CHECK(run_sql("SELECT payload.v AS v FROM \"t/#\" WHERE payload.v = 2", R"({"v":1})")
            .texts()
            .empty());
  // A payload that is not JSON still fails the run.
  CHECK_FALSE(run_sql("SELECT clientid FROM \"t/#\" WHERE payload.v = 2", "nope").error.empty());
}
