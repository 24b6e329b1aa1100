// libFuzzer harness for InfluxDB write_syntax (server/rules/line_protocol.hpp), what an
// operator writes, rendered over what a client publishes:
//   input = write_syntax [NUL payload]
// The syntax is parsed; when it parses, it is rendered in each precision over a publish
// event whose payload is the bytes after the first NUL. Never a crash; a refused syntax
// says why; a failed render leaves the output as it was; a render writes exactly one line
// per line of the syntax, whatever the payload holds (no point added by a client).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "publish_event.hpp"
#include "rules/line_protocol.hpp"

namespace rules = emqxd::rules;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = in.find('\0');
  const std::string_view syntax = in.substr(0, nul);
  const std::string_view payload =
      nul == std::string_view::npos ? std::string_view("{}") : in.substr(nul + 1);

  std::string error;
  auto lp = rules::LineProtocol::parse(syntax, error);
  if (!lp) {
    if (error.empty()) __builtin_trap();  // an error always says what
    return 0;
  }
  const auto columns = emqxd::fuzz::publish_columns(payload);
  for (auto p :
       {rules::Precision::Ns, rules::Precision::Us, rules::Precision::Ms, rules::Precision::S}) {
    std::string out = "x";
    error.clear();
    if (!lp->render(columns, p, out, error)) {
      if (out != "x" || error.empty()) __builtin_trap();
      continue;
    }
    if (static_cast<std::size_t>(std::count(out.begin(), out.end(), '\n')) != lp->lines() ||
        out.back() != '\n') {
      __builtin_trap();  // a line break from the data, or a line lost
    }
  }
  return 0;
}
