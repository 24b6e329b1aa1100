// libFuzzer harness for a rule's definition (server/rules/rule.hpp) and its actions'
// templates (template.hpp): what an operator writes in rule_engine.rules.<id> or POSTs to
// /api/v5/rules, then what a client publishes:
//   input = JSON of a rule [NUL payload]
// When the JSON is an object, read_rule() must end in a rule or a RuleError that names a
// field and says what; a rule then runs in a RuleEngine over a message.publish event with
// that payload, and every republish action renders its templates over each output.
#include <boost/json.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "publish_event.hpp"
#include "rules/engine.hpp"
#include "rules/eval.hpp"
#include "rules/rule.hpp"

namespace rules = emqxd::rules;
namespace json = boost::json;

namespace {

struct Render : rules::RuleEngine::Actions {
  bool republish(const rules::Rule&, const rules::Republish& a, const json::object& out,
                 const json::object&) override {
    std::string s = a.topic.render(out) + a.payload.render(out);
    (void)a.qos.value(out);
    (void)a.retain.value(out);
    (void)a.user_properties.value(out);
    for (const auto& [name, t] : a.mqtt_properties)
      (void)t.render_strict(out, s);
    return !s.empty();
  }
  bool console(const rules::Rule&, const json::object& out, const json::object&) override {
    return !json::serialize(out).empty();
  }
  bool connector(const rules::Rule&, const std::string& ref, const json::object& out,
                 const json::object&) override {
    return !ref.empty() && !json::serialize(out).empty();
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view text = in.substr(0, nul);
  const std::string_view payload =
      nul == std::string_view::npos ? std::string_view("{}") : in.substr(nul + 1);

  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return 0;
  auto r = rules::read_rule("r1", v.get_object(), 0);
  if (auto* e = std::get_if<rules::RuleError>(&r)) {
    if (e->field.empty() || e->message.empty()) __builtin_trap();  // it says where and what
    return 0;
  }
  const auto& rule = std::get<std::shared_ptr<const rules::Rule>>(r);
  // What is stored reads back as the same rule.
  auto again = rules::read_rule("r1", rules::rule_definition(*rule), 0);
  if (!std::holds_alternative<std::shared_ptr<const rules::Rule>>(again)) __builtin_trap();

  rules::RuleEngine engine;
  if (engine.create("r1", v.get_object()).outcome != rules::RuleEngine::Outcome::Ok)
    __builtin_trap();  // read_rule took it: so does the engine
  rules::RuleEngine::View view(engine);
  const boost::json::object columns = emqxd::fuzz::publish_columns(payload);
  Render actions;
  rules::RuleEngine::run(
      view, "t/a", [&]() -> const json::object& { return columns; }, actions);
  for (auto ev : {rules::Event::ClientConnected, rules::Event::SessionSubscribed}) {
    rules::RuleEngine::run(
        view, rules::event_source(ev), [&]() -> const json::object& { return columns; }, actions);
  }
  return 0;
}
