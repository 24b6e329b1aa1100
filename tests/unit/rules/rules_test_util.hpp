#pragma once
// Helpers for the rule engine's tests: the columns of a message.publish event, a statement
// run over them, and the value of one expression as JSON text.
#include <boost/json/object.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "rules/eval.hpp"
#include "rules/sql.hpp"
#include "rules/value.hpp"

namespace emqxd::rules::test {

// A message from client c_emqx (user u_emqx) on `topic`, as EMQX's examples have it.
inline boost::json::object columns(std::string_view payload = "{}",
                                   std::string_view topic = "t/a") {
  PublishEvent e;
  e.id = "0005E27C1D24E44FF440000017520000";
  e.client_id = "c_emqx";
  e.username = "u_emqx";
  e.payload = payload;
  e.peerhost = "127.0.0.1";
  e.topic = topic;
  e.qos = 1;
  e.pub_props = boost::json::object{{"User-Property", boost::json::object{{"foo", "bar"}}}};
  e.timestamp_ms = 1645002753259;
  e.publish_received_at_ms = 1645002753259;
  e.node = "emqx@127.0.0.1";
  return publish_columns(e);
}

inline Statement parse_ok(std::string_view sql) {
  auto r = parse(sql);
  if (auto* e = std::get_if<SqlError>(&r)) FAIL("parse error: " << e->message << "\n  in: " << sql);
  return std::move(std::get<Statement>(r));
}

struct Outcome {
  std::vector<boost::json::object> out;
  std::string error;
  // Each output as JSON text, keys sorted.
  std::vector<std::string> texts() const {
    std::vector<std::string> t;
    for (const auto& o : out)
      t.push_back(json_encode(boost::json::value(o)));
    return t;
  }
};

inline Outcome run_sql(std::string_view sql, const boost::json::object& cols) {
  Statement st = parse_ok(sql);
  Outcome o;
  o.out = run(st, cols, o.error);
  return o;
}

inline Outcome run_sql(std::string_view sql, std::string_view payload = "{}") {
  return run_sql(sql, columns(payload));
}

// The value of `expr` (`SELECT <expr> AS r FROM "t/#"`) as JSON text; "undefined" when it
// is undefined, "error: <message>" when the evaluation fails.
inline std::string eval(std::string_view expr, std::string_view payload = "{}") {
  Outcome o = run_sql("SELECT " + std::string(expr) + " AS r FROM \"t/#\"", payload);
  if (!o.error.empty()) return "error: " + o.error;
  if (o.out.size() != 1) return "no output";
  const boost::json::value* r = o.out[0].if_contains("r");
  return r == nullptr ? "undefined" : json_encode(*r);
}

// The error of `expr`'s evaluation ("" when it succeeds).
inline std::string eval_error(std::string_view expr, std::string_view payload = "{}") {
  std::string r = eval(expr, payload);
  return r.rfind("error: ", 0) == 0 ? r.substr(7) : std::string();
}

}  // namespace emqxd::rules::test
