// libFuzzer harness for acl.conf (server/auth/erl_term.hpp, server/auth/acl_rules.hpp):
// what an operator's rule file can hold, then the compiled rules matched against a client
// and a topic taken from the same input. Bad input must end in a TermError naming where,
// never a crash, a hang or another exception.
//
// Input: the rule text, then optionally a NUL and "client\0username\0ip\0topic".
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/acl_rules.hpp"

namespace auth = emqxd::auth;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (std::size_t at = 0; parts.size() < 5;) {
    auto nul = in.find('\0', at);
    parts.push_back(in.substr(at, nul == std::string_view::npos ? in.npos : nul - at));
    if (nul == std::string_view::npos) break;
    at = nul + 1;
  }
  while (parts.size() < 5)
    parts.emplace_back();
  try {
    auth::AclRules rules = auth::AclRules::parse(parts[0], "fuzz.conf");
    auth::AclClient c;
    c.client_id = parts[1];
    if (!parts[2].empty()) c.username = parts[2];
    c.peer = auth::IpAddress::parse(parts[3]);
    c.cert_common_name = parts[2];
    const std::string_view topic = parts[4].empty() ? std::string_view("a/b") : parts[4];
    for (int q = 0; q < 3; ++q) {
      (void)rules.match(c, {auth::AclActionType::Publish, q, q == 1}, topic);
      (void)rules.match(c, {auth::AclActionType::Subscribe, q, false}, topic);
    }
    (void)auth::acl_topic_matches(topic, parts[1]);
    (void)auth::Cidr::parse(parts[1]);
  } catch (const auth::TermError&) {
    // The documented way to refuse bad input.
  }
  return 0;
}
