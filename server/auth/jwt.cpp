#include "auth/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <charconv>

namespace emqxd::auth {

namespace json = boost::json;

struct JwtKeys::Key {
  std::string kid;     // JWKS only
  std::string alg;     // JWKS "alg", when the key names its algorithm
  std::string secret;  // HMAC
  std::shared_ptr<EVP_PKEY> pkey;
};

struct JwtVerifyAccess {
  static const std::vector<std::shared_ptr<const JwtKeys::Key>>& keys(const JwtKeys& k) {
    return k.keys_;
  }
  static bool hmac(const JwtKeys& k) { return k.hmac_; }
};

JwtKeys::JwtKeys() = default;
JwtKeys::JwtKeys(const JwtKeys&) = default;
JwtKeys& JwtKeys::operator=(const JwtKeys&) = default;
JwtKeys::~JwtKeys() = default;
std::size_t JwtKeys::size() const {
  return keys_.size();
}

namespace {

std::shared_ptr<EVP_PKEY> own(EVP_PKEY* p) {
  return {p, EVP_PKEY_free};
}

// RFC 4648 section 5, padding optional. nullopt for any other character.
std::optional<std::string> base64url_decode(std::string_view in) {
  while (!in.empty() && in.back() == '=')
    in.remove_suffix(1);
  std::string out;
  out.reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone sixth of a byte: not base64
  return out;
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

const EVP_MD* digest_of(std::string_view bits) {
  if (bits == "256") return EVP_sha256();
  if (bits == "384") return EVP_sha384();
  if (bits == "512") return EVP_sha512();
  return nullptr;
}

bool verify_hmac(const EVP_MD* md, const std::string& secret, std::string_view input,
                 std::string_view sig) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (HMAC(md, secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &n) == nullptr)
    return false;
  return sig.size() == n && CRYPTO_memcmp(mac, sig.data(), n) == 0;
}

// ES*: the JWS signature is r || s, each as wide as the curve; OpenSSL verifies DER.
std::optional<std::string> ecdsa_der(std::string_view raw) {
  if (raw.empty() || raw.size() % 2 != 0) return std::nullopt;
  const std::size_t half = raw.size() / 2;
  BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), static_cast<int>(half),
                        nullptr);
  BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data() + half),
                        static_cast<int>(half), nullptr);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  if (r == nullptr || s == nullptr || sig == nullptr || ECDSA_SIG_set0(sig, r, s) != 1) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (len <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<std::size_t>(len));
  OPENSSL_free(der);
  return out;
}

// The curve an ES algorithm requires: ES256 P-256, ES384 P-384, ES512 P-521 (RFC 7518 3.4).
int es_field_bytes(std::string_view bits) {
  return bits == "256" ? 32 : bits == "384" ? 48 : bits == "512" ? 66 : 0;
}

bool verify_pkey(EVP_PKEY* key, std::string_view family, const EVP_MD* md, std::string_view bits,
                 std::string_view input, std::string_view sig) {
  const int type = EVP_PKEY_get_base_id(key);
  std::string der;
  if (family == "RS" || family == "PS") {
    if (type != EVP_PKEY_RSA) return false;
  } else {  // ES
    if (type != EVP_PKEY_EC) return false;
    const int field = es_field_bytes(bits);
    if ((EVP_PKEY_get_bits(key) + 7) / 8 != field ||
        sig.size() != static_cast<std::size_t>(2 * field))
      return false;
    auto d = ecdsa_der(sig);
    if (!d) return false;
    der = std::move(*d);
    sig = der;
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  if (ctx == nullptr) return false;
  EVP_PKEY_CTX* pctx = nullptr;
  bool ok = EVP_DigestVerifyInit(ctx, &pctx, md, nullptr, key) == 1;
  if (ok && family == "PS") {
    ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
  }
  ok = ok &&
       EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  return ok;
}

std::shared_ptr<EVP_PKEY> rsa_from_jwk(const json::object& k) {
  auto n = k.if_contains("n");
  auto e = k.if_contains("e");
  if (n == nullptr || e == nullptr || !n->is_string() || !e->is_string()) return nullptr;
  auto nb = base64url_decode(n->as_string());
  auto eb = base64url_decode(e->as_string());
  if (!nb || !eb || nb->empty() || eb->empty()) return nullptr;
  BIGNUM* bn = BN_bin2bn(reinterpret_cast<const unsigned char*>(nb->data()),
                         static_cast<int>(nb->size()), nullptr);
  BIGNUM* be = BN_bin2bn(reinterpret_cast<const unsigned char*>(eb->data()),
                         static_cast<int>(eb->size()), nullptr);
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM* params = nullptr;
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr);
  if (bn && be && bld && ctx && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
      OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1 &&
      (params = OSSL_PARAM_BLD_to_param(bld)) != nullptr && EVP_PKEY_fromdata_init(ctx) == 1) {
    if (EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1) key = nullptr;
  }
  OSSL_PARAM_free(params);
  OSSL_PARAM_BLD_free(bld);
  EVP_PKEY_CTX_free(ctx);
  BN_free(bn);
  BN_free(be);
  return key ? own(key) : nullptr;
}

std::shared_ptr<EVP_PKEY> ec_from_jwk(const json::object& k) {
  auto crv = k.if_contains("crv");
  auto x = k.if_contains("x");
  auto y = k.if_contains("y");
  if (!crv || !x || !y || !crv->is_string() || !x->is_string() || !y->is_string()) return nullptr;
  std::string group;
  std::size_t field = 0;
  if (crv->as_string() == "P-256")
    group = "prime256v1", field = 32;
  else if (crv->as_string() == "P-384")
    group = "secp384r1", field = 48;
  else if (crv->as_string() == "P-521")
    group = "secp521r1", field = 66;
  else
    return nullptr;
  auto xb = base64url_decode(x->as_string());
  auto yb = base64url_decode(y->as_string());
  if (!xb || !yb || xb->size() != field || yb->size() != field) return nullptr;
  std::string point = "\x04" + *xb + *yb;
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY* key = nullptr;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  if (ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
      EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
    key = nullptr;
  EVP_PKEY_CTX_free(ctx);
  return key ? own(key) : nullptr;
}

}  // namespace

JwtKeys JwtKeys::hmac(std::string secret) {
  JwtKeys k;
  k.hmac_ = true;
  auto key = std::make_shared<Key>();
  key->secret = std::move(secret);
  k.keys_.push_back(std::move(key));
  return k;
}

JwtKeys JwtKeys::public_key_pem(std::string_view pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), BIO_free);
  if (!bio) throw JwtError("out of memory reading a public key");
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr);
  if (key == nullptr) {  // a certificate holds one too
    BIO_reset(bio.get());
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert != nullptr) {
      key = X509_get_pubkey(cert);
      X509_free(cert);
    }
  }
  if (key == nullptr)
    throw JwtError(
        "public_key is not a PEM public key (\"-----BEGIN PUBLIC KEY-----\") or "
        "certificate");
  const int type = EVP_PKEY_get_base_id(key);
  if (type != EVP_PKEY_RSA && type != EVP_PKEY_EC) {
    EVP_PKEY_free(key);
    throw JwtError("public_key must be an RSA or EC key");
  }
  JwtKeys k;
  auto entry = std::make_shared<Key>();
  entry->pkey = own(key);
  k.keys_.push_back(std::move(entry));
  return k;
}

JwtKeys JwtKeys::from_jwks(std::string_view text) {
  auto doc = parse_object(text);
  const json::value* keys = doc ? doc->if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array())
    throw JwtError("a JWKS is a JSON object with a \"keys\" array");
  JwtKeys out;
  for (const auto& v : keys->as_array()) {
    if (!v.is_object()) continue;
    const auto& k = v.as_object();
    auto str = [&](std::string_view name) -> std::string {
      auto p = k.if_contains(name);
      return p && p->is_string() ? std::string(p->as_string()) : std::string{};
    };
    if (auto use = str("use"); !use.empty() && use != "sig") continue;  // encryption keys
    std::shared_ptr<EVP_PKEY> pkey;
    if (str("kty") == "RSA")
      pkey = rsa_from_jwk(k);
    else if (str("kty") == "EC")
      pkey = ec_from_jwk(k);
    if (!pkey) continue;
    auto entry = std::make_shared<Key>();
    entry->kid = str("kid");
    entry->alg = str("alg");
    entry->pkey = std::move(pkey);
    out.keys_.push_back(std::move(entry));
  }
  return out;
}

JwtVerified verify_jwt(std::string_view token, const JwtKeys& keys) {
  JwtVerified out;
  auto dot1 = token.find('.');
  auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos || token.find('.', dot2 + 1) != std::string_view::npos)
    return out;
  auto header_json = base64url_decode(token.substr(0, dot1));
  auto payload_json = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  auto sig = base64url_decode(token.substr(dot2 + 1));
  if (!header_json || !payload_json || !sig) return out;
  auto header = parse_object(*header_json);
  auto payload = parse_object(*payload_json);
  if (!header || !payload) return out;
  auto alg_v = header->if_contains("alg");
  if (alg_v == nullptr || !alg_v->is_string()) return out;
  const std::string alg(alg_v->as_string());
  std::string kid;
  if (auto k = header->if_contains("kid"); k && k->is_string()) kid = std::string(k->as_string());

  out.status = JwtStatus::InvalidSignature;
  if (alg.size() != 5) return out;  // "none" and anything unknown
  const std::string_view family = std::string_view(alg).substr(0, 2);
  const std::string_view bits = std::string_view(alg).substr(2);
  const EVP_MD* md = digest_of(bits);
  if (md == nullptr) return out;
  const bool hmac = JwtVerifyAccess::hmac(keys);
  if (hmac != (family == "HS")) return out;  // never an HMAC over a public key, or the reverse
  if (!hmac && family != "RS" && family != "PS" && family != "ES") return out;

  const std::string_view input = token.substr(0, dot2);
  const auto& all = JwtVerifyAccess::keys(keys);
  bool kid_known = false;
  for (const auto& k : all)
    kid_known = kid_known || (!kid.empty() && k->kid == kid);
  for (const auto& k : all) {
    if (kid_known && k->kid != kid) continue;
    if (!k->alg.empty() && k->alg != alg) continue;
    const bool ok = hmac ? verify_hmac(md, k->secret, input, *sig)
                         : verify_pkey(k->pkey.get(), family, md, bits, input, *sig);
    if (ok) {
      out.status = JwtStatus::Ok;
      out.claims = std::move(*payload);
      return out;
    }
  }
  return out;
}

std::optional<std::int64_t> claim_seconds(const json::object& claims, std::string_view name) {
  auto v = claims.if_contains(name);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) {
    return v->as_uint64() > static_cast<std::uint64_t>(INT64_MAX)
               ? INT64_MAX
               : static_cast<std::int64_t>(v->as_uint64());
  }
  if (v->is_double()) {
    double d = v->as_double();
    if (!(d > -9.2e18 && d < 9.2e18)) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  if (v->is_string()) {
    std::string_view s = v->as_string();
    std::int64_t n = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc{} && p == s.data() + s.size()) return n;
    double d = 0;
    auto [p2, ec2] = std::from_chars(s.data(), s.data() + s.size(), d);
    if (ec2 == std::errc{} && p2 == s.data() + s.size() && d > -9.2e18 && d < 9.2e18)
      return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

ClaimCheck check_claims(const json::object& claims,
                        const std::vector<std::pair<std::string, std::string>>& expected,
                        std::int64_t now) {
  if (claims.contains("exp")) {
    auto exp = claim_seconds(claims, "exp");
    if (!exp || now >= *exp) return {ClaimStatus::Expired, "exp"};
  }
  if (claims.contains("nbf")) {
    auto nbf = claim_seconds(claims, "nbf");
    if (!nbf || *nbf > now) return {ClaimStatus::NotYetValid, "nbf"};
  }
  for (const auto& [name, want] : expected) {
    auto v = claims.if_contains(name);
    if (v == nullptr) return {ClaimStatus::Missing, name};
    bool ok = false;
    if (v->is_string()) {
      ok = v->as_string() == want && !(name == "aud" && want.empty());
    } else if (name == "aud" && v->is_array()) {
      for (const auto& a : v->as_array())
        ok = ok || (a.is_string() && a.as_string() == want);
    }
    if (!ok) return {ClaimStatus::Mismatch, name};
  }
  return {};
}

}  // namespace emqxd::auth
