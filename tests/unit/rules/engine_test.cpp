// A rule's definition (server/rules/rule.hpp), its action templates (template.hpp) and the
// engine that runs the rules and counts (engine.hpp), without a table or a worker.
#include "rules/engine.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "rules/rule.hpp"
#include "rules/template.hpp"
#include "rules_test_util.hpp"

namespace {

namespace json = boost::json;
using emqxd::rules::Republish;
using emqxd::rules::Rule;
using emqxd::rules::RuleEngine;
using emqxd::rules::RuleError;
using emqxd::rules::Template;

Template tmpl(std::string_view text) {
  std::string err;
  auto t = Template::parse(text, err);
  REQUIRE(t);
  return std::move(*t);
}

json::object obj(std::string_view text) {
  return json::parse(text).as_object();
}

// The error of reading `body` as rule "r1", or "" when it is read.
std::string read_error(std::string_view body) {
  auto r = emqxd::rules::read_rule("r1", obj(body), 0);
  if (auto* e = std::get_if<RuleError>(&r)) return e->field + ": " + e->message;
  return "";
}

struct Recorder : RuleEngine::Actions {
  std::vector<std::string> republished, consoled;
  bool accept = true;
  bool republish(const Rule& rule, const Republish& a, const json::object& out,
                 const json::object&) override {
    republished.push_back(rule.id + " " + a.topic.render(out) + " " + a.payload.render(out));
    return accept;
  }
  bool console(const Rule& rule, const json::object& out, const json::object&) override {
    consoled.push_back(rule.id + " " + json::serialize(out));
    return accept;
  }
  std::vector<std::string> sent;
  bool connector(const Rule& rule, const std::string& ref, const json::object& out,
                 const json::object&) override {
    sent.push_back(rule.id + " " + ref + " " + json::serialize(out));
    return ref == "http:known";
  }
};

}  // namespace

TEST_CASE("template: placeholders render as EMQX's text, read into JSON strings",
          "[rules][template]") {
  auto data = obj(R"({"clientid":"c1","qos":1,"payload":"{\"a\":{\"b\":[1,2]}}",)"
                  R"("m":{"k":"v"},"f":1.5})");
  CHECK(tmpl("t/${clientid}/x").render(data) == "t/c1/x");
  CHECK(tmpl("${payload.a.b}").render(data) == "[1,2]");
  CHECK(tmpl("${m}").render(data) == R"({"k":"v"})");
  CHECK(tmpl("${ qos }-${f}").render(data) == "1-1.5");
  CHECK(tmpl("${nope}").render(data) == "undefined");
  CHECK(tmpl("${nope}").render(data, "") == "");
  CHECK(tmpl("no placeholders").render(data) == "no placeholders");
  CHECK(tmpl("$ {x} $x {y}").render(data) == "$ {x} $x {y}");
  CHECK(tmpl("a$${clientid}b").render(data) == "a${clientid}b");
  CHECK(tmpl("${.m.k}").render(data) == "v");
  CHECK(tmpl("${.}").value(data) == emqxd::rules::Value(json::value(data)));
  // One placeholder alone gives the value itself.
  CHECK(tmpl("${qos}").value(data) == emqxd::rules::Value(json::value(1)));
  CHECK(tmpl("${m}").value(data)->is_object());
  CHECK_FALSE(tmpl("${nope}").value(data));
  CHECK(tmpl("q${qos}").value(data)->as_string() == "q1");
  std::string err;
  CHECK_FALSE(Template::parse("a/${clientid", err));
  CHECK(err.find("missing '}'") != std::string::npos);
  CHECK_FALSE(Template::parse("${}", err));
  CHECK_FALSE(Template::parse("${a..b}", err));
}

TEST_CASE("rule: definitions are read with EMQX's defaults and refused field by field",
          "[rules][rule]") {
  auto r = emqxd::rules::read_rule(
      "r1",
      obj(R"({"sql":"SELECT * FROM \"t/#\", \"$events/client_connected\"",)"
          R"("actions":[{"function":"republish","args":{"topic":"a/${clientid}"}},)"
          R"({"function":"console"}],"description":"d"})"),
      1234);
  REQUIRE(std::holds_alternative<std::shared_ptr<const Rule>>(r));
  const Rule& rule = *std::get<std::shared_ptr<const Rule>>(r);
  CHECK(rule.enable);
  CHECK(rule.on_publish);
  CHECK(rule.created_at_ms == 1234);
  REQUIRE(rule.actions.size() == 2);
  CHECK(rule.actions[0].republish.qos.source() == "${qos}");
  CHECK(rule.actions[0].republish.retain.source() == "${retain}");
  CHECK(rule.actions[0].republish.payload.source() == "${payload}");
  // It round-trips through its stored definition.
  auto def = emqxd::rules::rule_definition(rule);
  CHECK(def.at("metadata").at("created_at") == 1234);
  auto again = emqxd::rules::read_rule("r1", def, 0);
  REQUIRE(std::holds_alternative<std::shared_ptr<const Rule>>(again));
  CHECK(std::get<std::shared_ptr<const Rule>>(again)->created_at_ms == 1234);

  CHECK(read_error(R"({"actions":[]})") == "sql: required");
  CHECK(read_error(R"({"sql":"SELECT FROM"})").starts_with("sql: 1:"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","enable":"yes"})").starts_with("enable:"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","bogus":1})").starts_with("bogus: unknown"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":[{"function":"republish"}]})") ==
        "actions[1].args: required: the republish action needs args with a topic");
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":[{"function":"republish",)"
                   R"("args":{"topic":"x","qos":3}}]})")
            .starts_with("actions[1].args.qos:"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":[{"function":"republish",)"
                   R"("args":{"topic":"x/${a"}}]})")
            .starts_with("actions[1].args.topic: unclosed"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":[{"function":"m:f"}]})")
            .starts_with("actions[1].function:"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":["http:hook"]})").empty());
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":["hook"]})")
            .starts_with("actions[1]: an action reference"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"$events/nope\""})").starts_with("sql: FROM"));
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","actions":[{"function":"republish",)"
                   R"("args":{"topic":"x","qos":"a${qos}"}}]})")
            .starts_with("actions[1].args.qos: must be one"));
  // EMQX's API shape of an action: every argument, defaults filled in.
  CHECK(json::serialize(emqxd::rules::action_json(rule.actions[0])) ==
        R"({"function":"republish","args":{"topic":"a/${clientid}","qos":"${qos}",)"
        R"("retain":"${retain}","payload":"${payload}","user_properties":"${user_properties}",)"
        R"("mqtt_properties":{},"direct_dispatch":false}})");
  CHECK(json::serialize(emqxd::rules::action_json(rule.actions[1])) ==
        R"({"function":"console","args":{}})");
  CHECK(read_error(R"({"sql":"SELECT * FROM \"t\"","id":"other"})").starts_with("id:"));
  CHECK(emqxd::rules::valid_rule_id("rule_1-a"));
  CHECK_FALSE(emqxd::rules::valid_rule_id("_x"));
  CHECK_FALSE(emqxd::rules::valid_rule_id("a b"));
  CHECK_FALSE(emqxd::rules::valid_rule_id(""));
}

TEST_CASE("engine: rules run on matching events and count as EMQX's", "[rules][engine]") {
  RuleEngine e;
  RuleEngine::View view(e);
  CHECK_FALSE(view.any_on_publish());
  auto add = [&](std::string id, std::string body) {
    auto r = e.create(id, obj(body));
    INFO(r.error.field << ": " << r.error.message);
    REQUIRE(r.outcome == RuleEngine::Outcome::Ok);
  };
  add("r1",
      R"({"sql":"SELECT payload.x AS x FROM \"t/#\" WHERE payload.x > 1",)"
      R"("actions":[{"function":"republish","args":{"topic":"out/${x}","payload":"${x}"}}]})");
  add("r2", R"({"sql":"SELECT topic FROM \"$events/client_connected\"","actions":[]})");
  add("r3", R"({"sql":"SELECT clientid FROM \"t/a\"","actions":[{"function":"console"}],)"
            R"("enable":false})");
  CHECK(e.create("r1", obj(R"({"sql":"SELECT * FROM \"x\""})")).outcome ==
        RuleEngine::Outcome::Exists);
  CHECK(view.any_on_publish());
  CHECK(view.rules().size() == 2);  // r3 is disabled

  Recorder rec;
  auto run = [&](std::string payload, std::string topic) {
    auto c = emqxd::rules::test::columns(payload, topic);
    RuleEngine::run(
        view, topic, [&]() -> const json::object& { return c; }, rec);
  };
  run(R"({"x":5})", "t/a");
  run(R"({"x":0})", "t/a");
  run("not json", "t/a");
  run(R"({"x":7})", "other");
  CHECK(rec.republished == std::vector<std::string>{"r1 out/5 5"});
  auto m = e.metrics("r1");
  REQUIRE(m);
  CHECK(m->count[RuleEngine::Matched] == 3);
  CHECK(m->count[RuleEngine::Passed] == 1);
  CHECK(m->count[RuleEngine::Failed] == 2);
  CHECK(m->count[RuleEngine::FailedNoResult] == 1);
  CHECK(m->count[RuleEngine::FailedException] == 1);
  CHECK(m->count[RuleEngine::ActionsTotal] == 1);
  CHECK(m->count[RuleEngine::ActionsSuccess] == 1);

  // Enabling r3 through an update keeps r1's counts; the console runs; a refused action
  // counts as failed.
  REQUIRE(e.update("r3", obj(R"({"enable":true})")).outcome == RuleEngine::Outcome::Ok);
  rec.accept = false;
  run(R"({"x":2})", "t/a");
  CHECK(rec.consoled == std::vector<std::string>{R"(r3 {"clientid":"c_emqx"})"});
  CHECK(e.metrics("r3")->count[RuleEngine::ActionsFailed] == 1);
  CHECK(e.metrics("r1")->count[RuleEngine::Matched] == 4);
  CHECK(e.metrics("r1")->count[RuleEngine::ActionsFailed] == 1);
  // EMQX's PUT of an unknown id makes the rule (when the body is a whole rule).
  CHECK(e.update("nope", obj("{}")).outcome == RuleEngine::Outcome::Invalid);
  CHECK(e.update("nope", obj(R"({"sql":"SELECT * FROM \"z\""})")).outcome ==
        RuleEngine::Outcome::Ok);
  CHECK(e.remove("nope") == RuleEngine::Outcome::Ok);
  CHECK(e.update("r3", obj(R"({"sql":"SELECT"})")).outcome == RuleEngine::Outcome::Invalid);

  CHECK(e.reset_metrics("r1"));
  CHECK(e.metrics("r1")->count[RuleEngine::Matched] == 0);
  CHECK(e.remove("r1") == RuleEngine::Outcome::Ok);
  CHECK(e.remove("r1") == RuleEngine::Outcome::NotFound);
  CHECK_FALSE(e.metrics("r1"));
  REQUIRE(e.remove("r3") == RuleEngine::Outcome::Ok);
  CHECK_FALSE(view.any_on_publish());  // r2 reads an event, not publishes
  CHECK(view.rules().size() == 1);
  CHECK(view.listens(emqxd::rules::Event::ClientConnected));

  // Connector actions: queued is a success, an unknown one is discarded.
  add("r4", R"({"sql":"SELECT clientid FROM \"c/#\"","actions":["http:known","http:nope"]})");
  run("{}", "c/1");
  CHECK(rec.sent == std::vector<std::string>{R"(r4 http:known {"clientid":"c_emqx"})",
                                             R"(r4 http:nope {"clientid":"c_emqx"})"});
  auto m4 = e.metrics("r4");
  CHECK(m4->count[RuleEngine::ActionsTotal] == 2);
  CHECK(m4->count[RuleEngine::ActionsSuccess] == 1);
  CHECK(m4->count[RuleEngine::ActionsDiscarded] == 1);
  CHECK_FALSE(view.listens(emqxd::rules::Event::SessionSubscribed));
}
