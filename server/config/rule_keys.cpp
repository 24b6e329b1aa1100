// rule_engine.rules.<id>: each rule read and compiled by the reader the API uses
// (rules/rule.hpp), so that a rule the API would refuse stops start-up, naming the file
// and line of the field at fault.
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "config/schema.hpp"
#include "rules/rule.hpp"

namespace emqxd::config::detail {

void rule_engine_rule(const In& in) {
  in.object();
  const std::string& id = in.parts.back();
  boost::system::error_code ec;
  auto v = boost::json::parse(in.v.to_json(), ec);
  if (ec || !v.is_object()) in.fail("not a rule object");
  // HOCON has no integer/float distinction in to_json's numbers: as JSON reads them.
  auto r = rules::read_rule(id, v.get_object(), 0);
  if (auto* e = std::get_if<rules::RuleError>(&r)) {
    // Point at the field's own line when it is one of the rule's fields.
    const auto top = e->field.substr(0, e->field.find_first_of(".["));
    const Value* where = in.v.find(top);
    fail(where != nullptr ? *where : in.v, in.key + "." + e->field, e->message);
  }
  auto& rules = in.cfg().rule_engine.rules;
  std::erase_if(rules, [&](const auto& x) { return x.first == id; });
  rules.emplace_back(id, boost::json::serialize(v));
}

}  // namespace emqxd::config::detail
