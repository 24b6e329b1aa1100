// FOREACH ... DO ... INCASE (server/rules/eval.hpp), with the examples of EMQX's
// documentation (rule-sql-syntax.md) and its tests (t_sqlparse_foreach_*).
#include <catch2/catch.hpp>

#include "rules_test_util.hpp"

namespace {

using emqxd::rules::test::run_sql;
using Texts = std::vector<std::string>;

const char* kSensors = R"({"date": "2020-04-24", "sensors": [
    {"name": "a", "idx":0}, {"name": "b", "idx":1}, {"name": "c", "idx":2}]})";

}  // namespace

TEST_CASE("foreach: DO and INCASE, as the documentation's sensors", "[rules][foreach]") {
  // FOREACH payload.sensors as sensor DO timestamp, clientid, upper(sensor.name) as name,
  // sensor.idx as idx INCASE sensor.idx >= 1 FROM "t/#"
  auto o = run_sql(
      "FOREACH payload.sensors as sensor DO timestamp, clientid, upper(sensor.name) as name, "
      "sensor.idx as idx INCASE sensor.idx >= 1 FROM \"t/#\"",
      kSensors);
  CHECK(o.error.empty());
  CHECK(o.texts() ==
        Texts{R"({"clientid":"c_emqx","idx":1,"name":"B","timestamp":1645002753259})",
              R"({"clientid":"c_emqx","idx":2,"name":"C","timestamp":1645002753259})"});
  // Example 2: "item" names the element when FOREACH gives it no alias.
  o = run_sql(
      "FOREACH payload.sensors DO clientid, item.name as name, item.idx as idx "
      "INCASE item.idx >= 1 FROM \"t/#\"",
      kSensors);
  CHECK(o.texts() == Texts{R"({"clientid":"c_emqx","idx":1,"name":"b"})",
                           R"({"clientid":"c_emqx","idx":2,"name":"c"})"});
  // Example 3: nth(2, tokens(clientid,'_')) as clientid turns c_emqx into emqx.
  o = run_sql(
      "FOREACH payload.sensors as s DO nth(2, tokens(clientid,'_')) as clientid, s.name as name "
      "INCASE s.idx >= 2 FROM \"t/#\"",
      kSensors);
  CHECK(o.texts() == Texts{R"({"clientid":"emqx","name":"c"})"});
}

TEST_CASE("foreach: without DO, the whole context with the element", "[rules][foreach]") {
  // t_sqlparse_foreach_1: [#{<<"s">> := 1}, #{<<"s">> := 2}], and with no alias
  // [#{item := 1}, ...], each with the columns (clientid, ...).
  auto o = run_sql("foreach payload.sensors as s from \"t/#\"", R"({"sensors": [1, 2]})");
  REQUIRE(o.out.size() == 2);
  CHECK(o.out[0].at("s") == 1);
  CHECK(o.out[1].at("s") == 2);
  CHECK(o.out[0].at("clientid") == "c_emqx");
  o = run_sql("foreach payload.sensors from \"t/#\"",
              R"({"sensors": [{"cmd":"1"}, {"cmd":"2","name":"ct"}]})");
  REQUIRE(o.out.size() == 2);
  CHECK(o.out[1].at("item").at("name") == "ct");
  CHECK(o.out[1].at("clientid") == "c_emqx");
  // The field's own path puts its value in the output: payload is {sensors: [...]}.
  CHECK(o.out[0].at("payload").at("sensors").as_array().size() == 2);
}

TEST_CASE("foreach: INCASE with and without an alias", "[rules][foreach]") {
  // t_sqlparse_foreach_3
  auto o = run_sql("foreach payload.sensors as s incase s.cmd != 1 from \"t/#\"",
                   R"({"sensors": [{"cmd":1}, {"cmd":2}, {"cmd":3}]})");
  REQUIRE(o.out.size() == 2);
  CHECK(o.out[0].at("s").at("cmd") == 2);
  CHECK(o.out[1].at("s").at("cmd") == 3);
  // t_sqlparse_foreach_4: incase is_not_null(s.cmd)
  o = run_sql(
      "foreach payload.sensors as s do s.cmd as msg_type, s.name as name "
      "incase is_not_null(s.cmd) from \"t/#\"",
      R"({"sensors": [{"cmd":"1", "name":"n1"}, {"cmd":"2"}, {"name":"n3"}]})");
  CHECK(o.texts() == Texts{R"({"msg_type":"1","name":"n1"})", R"({"msg_type":"2"})"});
}

TEST_CASE("foreach: cascaded fields, WHERE over them", "[rules][foreach]") {
  // t_sqlparse_foreach_7
  const char* payload =
      R"({"sensors": {"page": 2, "collection": {"info":[{"name":"cmd1", "cmd":"1"}, {"cmd":"2"}]}}})";
  const char* sql =
      "foreach json_decode(payload) as p, p.sensors as s, s.collection as c, c.info as info "
      "do info.cmd as msg_type, info.name as name incase is_not_null(info.cmd) "
      "from \"t/#\" where s.page = '2'";
  CHECK(run_sql(sql, payload).texts() ==
        Texts{R"({"msg_type":"1","name":"cmd1"})", R"({"msg_type":"2"})"});
  std::string page3 = sql;
  page3.replace(page3.find("'2'"), 3, "'3'");
  auto o = run_sql(page3, payload);
  CHECK(o.out.empty());
  CHECK(o.error.empty());
  // t_sqlparse_foreach_8: DO sees the FOREACH fields (s, c).
  o = run_sql(
      "foreach json_decode(payload) as p, p.sensors as s, s.collection as c, c.info as info "
      "do info.cmd as msg_type, c incase is_map(info) from \"t/#\"",
      R"({"sensors": {"page": 2, "collection": {"info":["haha", {"name":"cmd1", "cmd":"1"}]}}})");
  REQUIRE(o.out.size() == 1);
  CHECK(o.out[0].at("msg_type") == "1");
  CHECK(o.out[0].at("c").at("info").as_array().size() == 2);
}

TEST_CASE("foreach: over what is not an array, nothing", "[rules][foreach]") {
  // t_sqlparse_foreach_5 and _9
  CHECK(run_sql("foreach payload.sensors as s do s.cmd as m from \"t/#\"", R"({"sensors": 1})")
            .out.empty());
  CHECK(run_sql("foreach payload.sensors from \"t/#\"", R"({"sensors": []})").out.empty());
  CHECK(run_sql("foreach payload as p do p.ts as ts from \"t/#\"", R"([{"ts": 1}])").out.empty());
  CHECK(run_sql("foreach json_decode(payload) as p do p.ts as ts from \"t/#\"", R"([{"ts": 1}])")
            .texts() == Texts{R"({"ts":1})"});
  // t_sqlparse_foreach_6: DO reads the columns too.
  auto o = run_sql("foreach json_decode(payload) do item.id as zid, timestamp as t from \"t/#\"",
                   R"([{"id": 5},{"id": 15}])");
  CHECK(o.texts() == Texts{R"({"t":1645002753259,"zid":5})", R"({"t":1645002753259,"zid":15})"});
}

TEST_CASE("foreach: DO * copies the context, and an error stops the run", "[rules][foreach]") {
  auto o = run_sql("foreach [1, 2] as n do *, n * 10 as m from \"t/#\"");
  REQUIRE(o.out.size() == 2);
  CHECK(o.out[1].at("m") == 20);
  CHECK(o.out[1].at("n") == 2);
  CHECK(o.out[1].at("topic") == "t/a");
  o = run_sql("foreach [1, 'x'] as n do n * 10 as m from \"t/#\"");
  CHECK(o.out.empty());
  CHECK(o.error == "*: bad operands (string, integer)");
}
