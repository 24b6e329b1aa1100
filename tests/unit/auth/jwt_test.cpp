// JWT verification (server/auth/jwt.hpp). The tokens were signed by another
// implementation (Python's `cryptography`, by a one-off script; the HS256 one is RFC 7515
// appendix A.1's), so these tests check interoperability, not a round trip through
// ourselves.
#include "auth/jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <string>

#include "auth/jwt_fixtures.hpp"

namespace {

using namespace emqxd::auth;
using namespace emqxd::auth::test;

// RFC 7515 appendix A.1.
const std::string kRfcHs256 =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
    "fQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const std::string kRfcKey = [] {
  // The JWK "k" of appendix A.1, base64url-decoded by hand into bytes.
  const unsigned char k[] = {3,   35,  53,  75,  43,  15,  165, 188, 131, 126, 6,   101, 119,
                             123, 166, 143, 90,  179, 40,  230, 240, 84,  201, 40,  169, 15,
                             132, 178, 210, 80,  46,  191, 211, 251, 90,  146, 210, 6,   71,
                             239, 150, 138, 180, 195, 119, 98,  61,  34,  61,  46,  33,  114,
                             5,   46,  79,  8,   192, 205, 154, 245, 103, 208, 128, 163};
  return std::string(reinterpret_cast<const char*>(k), sizeof k);
}();

std::string tamper(std::string t) {
  char& c = t[t.rfind('.') + 5];  // one character of the signature, still base64url
  c = c == 'A' ? 'B' : 'A';
  return t;
}

}  // namespace

TEST_CASE("jwt: RFC 7515's HS256 example verifies with its key, and only with it") {
  auto v = verify_jwt(kRfcHs256, JwtKeys::hmac(kRfcKey));
  REQUIRE(v.status == JwtStatus::Ok);
  CHECK(v.claims.at("iss").as_string() == "joe");
  CHECK(claim_seconds(v.claims, "exp") == 1300819380);
  CHECK(verify_jwt(kRfcHs256, JwtKeys::hmac("other")).status == JwtStatus::InvalidSignature);
  CHECK(verify_jwt(tamper(kRfcHs256), JwtKeys::hmac(kRfcKey)).status != JwtStatus::Ok);
  // The example expired in 2011.
  CHECK(check_claims(v.claims, {}, 1300819379).status == ClaimStatus::Ok);
  CHECK(check_claims(v.claims, {}, 1300819380).status == ClaimStatus::Expired);
}

TEST_CASE("jwt: RS, PS and ES tokens from another implementation verify with PEM keys") {
  auto rsa = JwtKeys::public_key_pem(kRSA_PEM);
  auto ec256 = JwtKeys::public_key_pem(kEC256_PEM);
  auto ec384 = JwtKeys::public_key_pem(kEC384_PEM);
  for (const auto* t : {&kRS256, &kRS512, &kPS256}) {
    auto v = verify_jwt(*t, rsa);
    REQUIRE(v.status == JwtStatus::Ok);
    CHECK(v.claims.at("sub").as_string() == "dev1");
    CHECK(verify_jwt(tamper(*t), rsa).status == JwtStatus::InvalidSignature);
    CHECK(verify_jwt(*t, ec256).status == JwtStatus::InvalidSignature);
  }
  CHECK(verify_jwt(kES256, ec256).status == JwtStatus::Ok);
  CHECK(verify_jwt(kES384, ec384).status == JwtStatus::Ok);
  CHECK(verify_jwt(kES256, ec384).status == JwtStatus::InvalidSignature);  // wrong curve
  CHECK(verify_jwt(kES384, ec256).status == JwtStatus::InvalidSignature);
  CHECK(verify_jwt(tamper(kES256), ec256).status == JwtStatus::InvalidSignature);
}

TEST_CASE("jwt: no algorithm confusion, no alg none") {
  // An HS256 token "signed" with the RSA public key's PEM as the secret: the classic
  // confusion attack. Public-key verifiers refuse HS*; HMAC verifiers refuse RS*.
  auto rsa = JwtKeys::public_key_pem(kRSA_PEM);
  CHECK(verify_jwt(kRfcHs256, rsa).status == JwtStatus::InvalidSignature);
  CHECK(verify_jwt(kRS256, JwtKeys::hmac(kRSA_PEM)).status == JwtStatus::InvalidSignature);
  // {"alg":"none"}.{"sub":"x"}.
  CHECK(verify_jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", JwtKeys::hmac("")).status ==
        JwtStatus::InvalidSignature);
}

TEST_CASE("jwt: a JWKS picks keys by kid, skips what it cannot use") {
  auto keys = JwtKeys::from_jwks(kJWKS);
  CHECK(keys.size() == 2);  // the RSA and EC signing keys; not oct, not the "enc" one
  CHECK(verify_jwt(kRS256_KID, keys).status == JwtStatus::Ok);
  CHECK(verify_jwt(kES256_KID, keys).status == JwtStatus::Ok);
  CHECK(verify_jwt(kRS256, keys).status == JwtStatus::Ok);  // no kid: every key is tried
  CHECK(verify_jwt(kES384, keys).status == JwtStatus::InvalidSignature);
  CHECK_THROWS_AS(JwtKeys::from_jwks("[]"), JwtError);
  CHECK_THROWS_AS(JwtKeys::from_jwks("{\"keys\": 3}"), JwtError);
  CHECK_THROWS_AS(JwtKeys::public_key_pem("not a key"), JwtError);
}

TEST_CASE("jwt: malformed tokens are Malformed, never a crash") {
  auto k = JwtKeys::hmac("s");
  for (const char* t : {"", ".", "..", "a.b", "a.b.c.d", "!!.e30.", "e30.e30.", "e30.!.",
                        "bm90IGpzb24.e30.", "W10.e30.", "eyJhbGciOjF9.e30."})
    CHECK(verify_jwt(t, k).status == JwtStatus::Malformed);
}

TEST_CASE("jwt: claims: exp, nbf and verify_claims as EMQX checks them") {
  auto obj = [](std::string_view json) { return boost::json::parse(json).as_object(); };
  CHECK(check_claims(obj(R"({"exp": 100})"), {}, 99).status == ClaimStatus::Ok);
  CHECK(check_claims(obj(R"({"exp": "100"})"), {}, 100).status == ClaimStatus::Expired);
  CHECK(check_claims(obj(R"({"exp": "soon"})"), {}, 1).status == ClaimStatus::Expired);
  CHECK(check_claims(obj(R"({"nbf": 50.5})"), {}, 50).status == ClaimStatus::Ok);
  CHECK(check_claims(obj(R"({"nbf": 51})"), {}, 50).status == ClaimStatus::NotYetValid);
  CHECK(check_claims(obj(R"({})"), {}, 50).status == ClaimStatus::Ok);  // neither: fine

  std::vector<std::pair<std::string, std::string>> want{{"sub", "dev1"}, {"aud", "mqtt"}};
  CHECK(check_claims(obj(R"({"sub": "dev1", "aud": "mqtt"})"), want, 0).status == ClaimStatus::Ok);
  CHECK(check_claims(obj(R"({"sub": "dev1", "aud": ["web", "mqtt"]})"), want, 0).status ==
        ClaimStatus::Ok);
  auto c = check_claims(obj(R"({"sub": "dev1", "aud": []})"), want, 0);
  CHECK(c.status == ClaimStatus::Mismatch);
  CHECK(c.claim == "aud");
  c = check_claims(obj(R"({"aud": "mqtt"})"), want, 0);
  CHECK(c.status == ClaimStatus::Missing);
  CHECK(c.claim == "sub");
  CHECK(check_claims(obj(R"({"sub": 1, "aud": "mqtt"})"), {{"sub", "1"}, {"aud", "mqtt"}}, 0)
            .status == ClaimStatus::Mismatch);
}
