// libFuzzer harness for what an operator or a client hands to authentication and
// authorization (server/auth/):
//   'a' + acl.conf text [NUL client NUL username NUL ip NUL topic]: the rules compiled
//        (erl_term.hpp, acl_rules.hpp), then matched against that client and topic;
//   'j' + a JWT, as a client sends it in its password: verified (jwt.hpp) against an HMAC
//        key and a JWKS, its claims checked;
//   'k' + a JWKS document, as an endpoint answers: its keys read;
//   's' + SCRAM client-first NUL client-final, as a client sends them in CONNECT and AUTH:
//        the exchange run (scram.hpp) against fixed credentials;
//   'c' / 'J' + a user bootstrap file, CSV or JSON (user_bootstrap.hpp), as type hash.
// Bad input must end in the documented refusal (AuthFileError, JwtError, a status), never a
// crash, a hang or another exception.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/acl_rules.hpp"
#include "auth/jwt.hpp"
#include "auth/scram.hpp"
#include "auth/user_bootstrap.hpp"

namespace auth = emqxd::auth;

namespace {

void acl(std::string_view in) {
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
  } catch (const auth::AuthFileError&) {
    // The documented way to refuse bad input.
  }
}

// A JWKS with one RSA and one EC key, for tokens that name them.
const auth::JwtKeys& jwks() {
  static const auth::JwtKeys k = auth::JwtKeys::from_jwks(
      R"({"keys":[{"kty":"RSA","kid":"r","n":"wXf2gGZ3u0lCCqO0wYq3Y_3eH9Yq8uE6w2h0rM4W1Zk","e":"AQAB"},)"
      R"({"kty":"EC","kid":"e","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",)"
      R"("y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]})");
  return k;
}

void jwt(std::string_view token) {
  static const auth::JwtKeys hmac = auth::JwtKeys::hmac("secret");
  for (const auth::JwtKeys* keys : {&hmac, &jwks()}) {
    auto v = auth::verify_jwt(token, *keys);
    (void)auth::check_claims(v.claims, {{"sub", "x"}, {"aud", "y"}}, 1700000000);
    (void)auth::claim_seconds(v.claims, "exp");
  }
}

void jwks_doc(std::string_view text) {
  try {
    auto k = auth::JwtKeys::from_jwks(text);
    (void)auth::verify_jwt("eyJhbGciOiJSUzI1NiIsImtpZCI6InIifQ.e30.AAAA", k);
  } catch (const auth::JwtError&) {
  }
}

void scram(std::string_view in) {
  static const auth::ScramCredentials creds =
      auth::scram_credentials(auth::ScramAlgorithm::Sha256, "pencil", 16, "salt");
  auto nul = in.find('\0');
  auth::ScramServer s(auth::ScramAlgorithm::Sha256);
  std::string user, error;
  if (!s.client_first(in.substr(0, nul), user, error)) return;
  (void)s.server_first(creds, "servernonce");
  if (nul != std::string_view::npos) (void)s.client_final(in.substr(nul + 1));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0]) {
    case 'j':
      jwt(in);
      break;
    case 'k':
      jwks_doc(in);
      break;
    case 's':
      scram(in);
      break;
    case 'c':
    case 'J':
      try {
        (void)auth::parse_user_bootstrap(in, data[0] == 'c' ? "f.csv" : "f.json",
                                         auth::BootstrapType::Hash, auth::PasswordAlgorithm{});
      } catch (const auth::AuthFileError&) {
      }
      break;
    default:
      acl(in);
      break;
  }
  return 0;
}
