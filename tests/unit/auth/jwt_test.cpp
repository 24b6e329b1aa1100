// JWT verification (server/auth/jwt.hpp). The tokens were signed by another
// implementation (Python's `cryptography`, by a one-off script; the HS256 one is RFC 7515
// appendix A.1's), so these tests check interoperability, not a round trip through
// ourselves.
#include "auth/jwt.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <string>

namespace {

using namespace emqxd::auth;

const std::string kRSA_PEM = R"(-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAlczqZ6iS+jL7OIFEbb7T
Cpkm6gbUsJOm865jW9BouFnTG85vuMylzbsVRg/p3rOZsdArLYBKzN/ybzNNCGr8
M4OnlASU9TdeU4iJpZ3BzgRb/ZJ2pR8R71kP/YvTM5JSTdX2XrLgMuAocAMND/tv
jERQjWhlQ0NOwB/mSIleJqj7+9L2HTHJ7kcjMcoVV6nIGWByzRCt3GsfmXntkrCx
ru8dLPguHu5PBWjDaRAp/TNmHIiZjPTURdKbtzoRskmUAdy9d8/6t2DkY8g9ay4Q
bLp6sRzkmMv3xq+dYvjhPJ2rYNOcR/KQotPdsuUy6NRvrJUelX1x/Z87CQQmkceZ
9wIDAQAB
-----END PUBLIC KEY-----
)";
const std::string kEC256_PEM = R"(-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAET/QSHgADa7wvn1envGKugAMBfFsE
RozkzbBslqd0svmnII7tDW5ubkwHSV2m4RakZOMSPh7m4xTj8WAhzFmT9w==
-----END PUBLIC KEY-----
)";
const std::string kEC384_PEM = R"(-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEMbggyKtTMnC3YBc6evf4IEi0hT3FK2c+
xhoN1Y0nYNI5wix1y1rExYH44OeTuwz9HD3rEnm1oX81bWa9ck2WFxdX7WypDtay
+dXNsLI5aiKd7Imoa0bwC4UtYig7xUEr
-----END PUBLIC KEY-----
)";
const std::string kRS256 =
    R"(eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.PSh_HW135MsEumgqvNM2ebI_QR8JGSKm2dcqyJOCZSvliFAR8HYMpEOf3-Kidm5le0ondTLZYfYDXj9AvgXZeHo2DiDlM2Dk2KRb-w3vbsSS_T6p2zyY0cRx_QsIg4yzI1bf5v7BEbz7fU3dhZ1HgJbVDND9j36ChSWDnn8uANVHosz146RVQoSqnYh7XaPkwL82sbKsPdT0tcR-Eme8gBfYQmSF23n8eVLKkWeeSYOO3c53j6dgqbB2cniFH3rzxrVLiN62aeuSAI0S-VJYDOgYILikapZAxIxVqN4JrT9z2AUnfPmE5cqinCzimMvOknYZhbBde52UvBRX7NfGIQ)";
const std::string kRS512 =
    R"(eyJhbGciOiJSUzUxMiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.g8EvGpCJZ-VVYBEs9G3n52Hkx_UaYVfffl7Kp_1fRP0sfyBoEPn1zHocr-KuQH1K4QUSAn75FE2DTZr3Az_87P8qDeopNWszEtEkWYa5t_pTWY_ktcV3NNF09x_zRCxnOAkM3eTUkze25BA61wClJRb-aeqL4vZlNC2-RTZtaHNM32v7fHfN4WIHdREHjjLR39lhEPmeNXVtr1arnqxlQpTmKtCCs7ihd9CPMAydDeKDC9WmwLOj_O8HvXPiy6XyQDYaEs5MXzWXtRMtzliwX4oX6DxqRS9Mtxcw46ynw4c_m9ZcuRAJ9g0p9U9iK-5H20TFOQzqb56kjj-4Sos_lA)";
const std::string kPS256 =
    R"(eyJhbGciOiJQUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.fvcweH6dAnmKtHQlEpOuDjr0SfolfICTMC4J9by7PxJcQhtdac8hjVZmhmd1VOS6jeyntptBqZPxWIJ8ymBYYXbrYlM2SRKRgXply74BPD2grmhvA9_wJNu_dQGJWCHOt-HZwjzktV4cLugE6hQrS9dFN02CY9GZDu08BOZiDw9rNs-hW_2ERbsB5aexK6AAK3nVFJO1cVWKidVGrI3VumUC-TFVJRGwoEmSmsh5797cumCBkWGdLakEJcHuLAmuUfIT1__rlRKNVZ-T8bicu8lDFNTmnk7-mfY1zbQ6z_DF0pYzOrNxMi6IRXVdAMUEUx6PDO85zMj2lj6EgMowqw)";
const std::string kES256 =
    R"(eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.BWC2OsRuV3hRSXZZuWouTkr7SZOkomK5ZNxvbqEbPSZjaE7aztMShrWrXO-NNwMlGc7Pc71uES09rGyhtw_GcA)";
const std::string kES384 =
    R"(eyJhbGciOiJFUzM4NCIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.5hAQgrQU0QZlgMWBe4bnoaQVndavZJb7z_9jnqW7rixR5FzKJWUMGwnK6crxtacoXWc6QHkPQKwQ3kANC3pawEGUGciC29au1C-kVh4K8KS86yGfLveoA899UkanUj4f)";
const std::string kRS256_KID =
    R"(eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6InIxIn0.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.BG1YdrR41lap1bLH5GngIsDxSLK4DW2aCWdUrbErTIk1HrUhU3nAcx1P_uGN20BEgcOYZqAzHMSF7yM7CsB7CfoPeXQzgM2ARlzYzyFHtY8Eku_63pjFjltUPpsLaBRuLl8a4FGYbzd8uhWaFAImntIE53Che_5-s1at7AubspfN9zW12KCljwGaUPE1NutQmckwd1hm7Rok2_n1uwOrwCPb4JqqUaGibVRy5ZyvAzBHPb874cdJqpOJHND8KEVpGwoxNsGbuzKj5XbsfkQfqKUfJM8mSQBerETFNg-DBJ3T7b5A08_PqZLfXG1_PufJdenekHlkz8KkUCQh1xjROg)";
const std::string kES256_KID =
    R"(eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6ImUxIn0.eyJzdWIiOiJkZXYxIiwiZXhwIjo0MTAyNDQ0ODAwLCJhY2wiOnsicHViIjpbImEvIyJdfX0.bqbDOSveQAwpuKh2MhYMMeLQ0xBA4aJZE8gjdYYv0byLNqC0agOwiEsCggWpVU9aG6yBNJ5u_tcbTdigT2Gh4Q)";
const std::string kJWKS =
    R"({"keys": [{"kty": "RSA", "kid": "r1", "use": "sig", "n": "lczqZ6iS-jL7OIFEbb7TCpkm6gbUsJOm865jW9BouFnTG85vuMylzbsVRg_p3rOZsdArLYBKzN_ybzNNCGr8M4OnlASU9TdeU4iJpZ3BzgRb_ZJ2pR8R71kP_YvTM5JSTdX2XrLgMuAocAMND_tvjERQjWhlQ0NOwB_mSIleJqj7-9L2HTHJ7kcjMcoVV6nIGWByzRCt3GsfmXntkrCxru8dLPguHu5PBWjDaRAp_TNmHIiZjPTURdKbtzoRskmUAdy9d8_6t2DkY8g9ay4QbLp6sRzkmMv3xq-dYvjhPJ2rYNOcR_KQotPdsuUy6NRvrJUelX1x_Z87CQQmkceZ9w", "e": "AQAB"}, {"kty": "EC", "kid": "e1", "crv": "P-256", "x": "T_QSHgADa7wvn1envGKugAMBfFsERozkzbBslqd0svk", "y": "pyCO7Q1ubm5MB0ldpuEWpGTjEj4e5uMU4_FgIcxZk_c"}, {"kty": "oct", "kid": "o1", "k": "c2VjcmV0"}, {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"}]})";

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
