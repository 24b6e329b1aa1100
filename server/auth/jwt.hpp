#pragma once
// JSON Web Tokens as EMQX's `mechanism = jwt` authenticator checks them (RFC 7519, RFC 7515
// compact serialization):
//
// - keys: `algorithm = hmac-based` with `secret` (HS256/384/512 only), or
//   `algorithm = public-key` with `public_key` in PEM (RS*, PS*, ES* 256/384/512 only),
//   or the keys of a JWKS document (RFC 7517: "RSA" and "EC" keys, P-256/384/521).
//   `alg: none` and an algorithm of the other family are refused (no key confusion).
// - signature: every key is tried (a JWKS "kid" first picks the key); none verifying is
//   InvalidSignature, which EMQX's chain treats as `ignore` (the next authenticator asks).
// - claims (check_claims): `exp` must be after now and `nbf` not after now, when present,
//   as numbers or numeric strings; each `verify_claims` entry must be present and equal
//   (`aud` may also be an array holding it). A failure is a refusal, not `ignore`.
//
// Pure functions over immutable keys: any thread, no I/O. Fetching a JWKS endpoint is the
// caller's (it hands the document to JwtKeys::from_jwks).
#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace emqxd::auth {

class JwtError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class JwtKeys {
 public:
  // HS256/384/512 with this secret (bytes: decode base64 first where configured so).
  static JwtKeys hmac(std::string secret);
  // RS/PS/ES with one public key or certificate in PEM. Throws JwtError when unreadable.
  static JwtKeys public_key_pem(std::string_view pem);
  // The keys of a JWKS document {"keys": [...]}; keys of other types or uses are skipped.
  // Throws JwtError when the document is not JSON with a "keys" array.
  static JwtKeys from_jwks(std::string_view json);

  std::size_t size() const;

  struct Key;
  JwtKeys();
  JwtKeys(const JwtKeys&);
  JwtKeys& operator=(const JwtKeys&);
  ~JwtKeys();

 private:
  friend struct JwtVerifyAccess;
  std::vector<std::shared_ptr<const Key>> keys_;
  bool hmac_ = false;
};

enum class JwtStatus {
  Ok,
  Malformed,         // not three base64url parts of JSON, or a header without alg
  InvalidSignature,  // no key verifies it, or an algorithm these keys may not use
};

struct JwtVerified {
  JwtStatus status = JwtStatus::Malformed;
  boost::json::object claims;  // the payload, when Ok
};

// Checks the signature of a compact JWS; the claims are not checked here.
JwtVerified verify_jwt(std::string_view token, const JwtKeys& keys);

enum class ClaimStatus { Ok, Expired, NotYetValid, Missing, Mismatch };

struct ClaimCheck {
  ClaimStatus status = ClaimStatus::Ok;
  std::string claim;  // which one failed
};

// exp and nbf against `now` (seconds since the epoch), then each expected claim (already
// rendered: ${clientid} and friends replaced by the caller) present and equal.
ClaimCheck check_claims(const boost::json::object& claims,
                        const std::vector<std::pair<std::string, std::string>>& expected,
                        std::int64_t now);

// A claim as seconds when it is a number or a numeric string (exp, nbf), else nullopt.
std::optional<std::int64_t> claim_seconds(const boost::json::object& claims, std::string_view name);

}  // namespace emqxd::auth
