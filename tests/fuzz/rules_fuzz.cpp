// libFuzzer harness for the rule engine's SQL (server/rules/), what an operator (or a
// caller of the HTTP API) writes and what a client publishes:
//   input = SQL [NUL payload]
// The SQL is parsed (sql.hpp); when it parses, it runs (eval.hpp) against a fixed
// message.publish event whose payload is the bytes after the first NUL ("{}" when there
// is none), and the FROM clause is matched against the event's topic.
// Any input must end in a Statement or a SqlError, then in outputs or an error string:
// never a crash, a hang or an exception. The parser bounds nesting (kMaxDepth) and the
// length of a statement (kMaxSqlBytes); a run is bounded by its Budget.
#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "publish_event.hpp"
#include "rules/eval.hpp"
#include "rules/sql.hpp"

namespace rules = emqxd::rules;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view sql = in.substr(0, nul);
  const std::string_view payload =
      nul == std::string_view::npos ? std::string_view("{}") : in.substr(nul + 1);

  auto parsed = rules::parse(sql);
  if (auto* error = std::get_if<rules::SqlError>(&parsed)) {
    if (error->message.empty()) __builtin_trap();  // an error always says what
    return 0;
  }
  const auto& st = std::get<rules::Statement>(parsed);

  const boost::json::object columns = emqxd::fuzz::publish_columns(payload);

  (void)rules::matches_from(st, "t/a");
  (void)rules::matches_from(st, "$events/client_connected");
  std::string error;
  auto out = rules::run(st, columns, error);
  if (!error.empty() && !out.empty()) __builtin_trap();  // an error yields nothing
  return 0;
}
