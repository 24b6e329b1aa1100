// libFuzzer harness for what a client hands to EMQX's modules (server/session/):
//   't' + a PUBLISH topic or a SUBSCRIBE filter [NUL client id NUL username]: read as
//        "$delayed/<n>/<topic>" (delayed.hpp) and rewritten by fixed rules with captures
//        and placeholders (rewrite.hpp);
//   'r' + a stored delayed-message record: read back (Delayed::decode) and, when good,
//        written again and read back the same.
// Bad input must end in the documented refusal (false, nullopt), never a crash or a hang.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "session/delayed.hpp"
#include "session/rewrite.hpp"

namespace session = emqxd::session;

namespace {

const session::TopicRewrite& rules() {
  using A = emqxd::config::RewriteRuleConfig::Action;
  static const session::TopicRewrite r({{A::All, "#", "a/$1/$2/$3/${clientid}", "^(.*)/(.*)/(.*)$"},
                                        {A::Publish, "+/+", "$2/$1/${username}", "^([^/]*)/(.*)$"},
                                        {A::Subscribe, "x/#", "y/$10$1", "^x/(a+)+b$"}});
  return r;
}

void topic(std::string_view in) {
  std::string_view parts[3];
  for (std::size_t i = 0, at = 0; i < 3 && at <= in.size(); ++i) {
    auto nul = in.find('\0', at);
    parts[i] = in.substr(at, nul == std::string_view::npos ? in.npos : nul - at);
    if (nul == std::string_view::npos) break;
    at = nul + 1;
  }
  const std::string t(parts[0]);
  if (t.starts_with(session::Delayed::kPrefix)) {
    std::int64_t at = 0, interval = 0;
    std::string_view real;
    if (session::Delayed::parse(t, 1'700'000'000'000, at, interval, real)) {
      if (real.empty() || real.data() < t.data() || real.data() + real.size() > t.data() + t.size())
        std::abort();
    }
  }
  const std::optional<std::string> user =
      parts[2].empty() ? std::nullopt : std::optional<std::string>(parts[2]);
  (void)rules().publish(t, parts[1], user);
  (void)rules().subscribe(t, parts[1], user);
}

void record(std::string_view in) {
  const auto now = emqxd::storage::ClockPair::now();
  auto m = session::Delayed::decode("ID", in, now);
  if (!m) return;
  std::string again;
  session::Delayed::encode(*m, now, again);
  auto back = session::Delayed::decode("ID", again, now);
  if (!back || back->at_ms != m->at_ms || back->from_clientid != m->from_clientid ||
      back->msg->topic != m->msg->topic || back->msg->payload != m->msg->payload) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 't':
      topic(in);
      break;
    case 'r':
      record(in);
      break;
    default:
      break;
  }
  return 0;
}
