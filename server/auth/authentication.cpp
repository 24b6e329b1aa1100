#include "auth/authentication.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <boost/json.hpp>
#include <chrono>
#include <stdexcept>
#include <unordered_map>

#include "auth/file_error.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/user_bootstrap.hpp"

namespace emqxd::auth {
namespace {

using Kind = Authenticator::Kind;
using Result = Authenticator::Result;

Result ignore() {
  return {};
}

Result deny(mqtt::ReasonCode reason) {
  Result r;
  r.kind = Kind::Decided;
  r.outcome.allowed = false;
  r.outcome.reason = reason;
  return r;
}

Result allow(bool superuser) {
  Result r;
  r.kind = Kind::Decided;
  r.outcome.allowed = true;
  r.outcome.reason = mqtt::ReasonCode::Success;
  r.outcome.is_superuser = superuser;
  return r;
}

PasswordAlgorithm algorithm_of(const config::PasswordHashConfig& h, const std::string& key) {
  PasswordAlgorithm a;
  auto name = PasswordAlgorithm::name_of(h.name);
  if (!name) throw std::runtime_error(key + ".password_hash_algorithm.name: unknown " + h.name);
  a.name = *name;
  a.salt_position = h.salt_position == "disable"  ? PasswordAlgorithm::SaltPosition::Disable
                    : h.salt_position == "suffix" ? PasswordAlgorithm::SaltPosition::Suffix
                                                  : PasswordAlgorithm::SaltPosition::Prefix;
  a.salt_rounds = h.salt_rounds;
  a.mac_fun = h.mac_fun;
  a.iterations = h.iterations;
  a.dk_length = h.dk_length;
  if (auto why = a.problem(); !why.empty()) {
    throw std::runtime_error(key + ".password_hash_algorithm: " + why);
  }
  return a;
}

// ------------------------------------------------------------ built-in database

class BuiltInDatabase final : public Authenticator {
 public:
  BuiltInDatabase(const config::AuthenticatorConfig& c)
      : algo_(algorithm_of(c.password_hash_algorithm, c.key)),
        by_client_id_(c.user_id_type == "clientid") {
    if (c.bootstrap_file.empty()) return;
    auto type = c.bootstrap_type == "hash" ? BootstrapType::Hash : BootstrapType::Plain;
    for (auto& u : load_user_bootstrap(c.bootstrap_file, type, algo_)) {
      std::string id = u.user_id;
      users_.insert_or_assign(std::move(id), std::move(u));
    }
  }

  Result authenticate(const Credentials& c) const override {
    const std::string* id = by_client_id_ ? &c.client_id : (c.username ? &*c.username : nullptr);
    if (id == nullptr) return ignore();
    auto it = users_.find(*id);
    if (it == users_.end()) return ignore();
    const UserRecord& u = it->second;
    if (!c.password ||
        !check_password(algo_, u.salt, u.password_hash, std::string_view(*c.password))) {
      return deny(mqtt::ReasonCode::BadUserNameOrPassword);
    }
    return allow(u.is_superuser);
  }

  bool blocking() const override {
    return algo_.name == PasswordAlgorithm::Name::Bcrypt ||
           algo_.name == PasswordAlgorithm::Name::Pbkdf2;
  }

  std::size_t size() const { return users_.size(); }

 private:
  PasswordAlgorithm algo_;
  bool by_client_id_;
  std::unordered_map<std::string, UserRecord> users_;
};

// ------------------------------------------------------------ jwt

std::string base64_decode(const std::string& in, const std::string& key) {
  std::string out((in.size() / 4 + 1) * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0 || in.size() % 4 != 0) {
    throw std::runtime_error(key + ".secret: not base64 (secret_base64_encoded = true)");
  }
  std::size_t len = static_cast<std::size_t>(n);
  if (!in.empty() && in.back() == '=') --len;
  if (in.size() > 1 && in[in.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

// ${clientid} and ${username} in an expected claim value.
std::string render(const std::string& text, const Credentials& c) {
  std::string out;
  std::size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 11, "${clientid}") == 0) {
      out += c.client_id;
      i += 11;
    } else if (text.compare(i, 11, "${username}") == 0) {
      out += c.username.value_or("");
      i += 11;
    } else {
      out += text[i++];
    }
  }
  return out;
}

class Jwt final : public Authenticator {
 public:
  Jwt(const config::AuthenticatorConfig& c)
      : from_username_(c.from == "username"),
        claims_(c.verify_claims),
        acl_claim_(c.acl_claim_name),
        disconnect_after_expire_(c.disconnect_after_expire),
        key_(c.key) {
    try {
      if (c.algorithm == "hmac-based") {
        keys_ = JwtKeys::hmac(c.secret_base64_encoded ? base64_decode(c.secret, c.key) : c.secret);
      } else {
        keys_ = JwtKeys::public_key_pem(c.public_key);
      }
    } catch (const JwtError& e) {
      throw std::runtime_error(c.key + ".public_key: " + e.what());
    }
  }

  Result authenticate(const Credentials& c) const override {
    const std::optional<std::string>& token = from_username_ ? c.username : c.password;
    if (!token || token->empty()) return ignore();
    auto v = verify_jwt(*token, keys_);
    if (v.status != JwtStatus::Ok) return ignore();  // not a token for these keys
    std::vector<std::pair<std::string, std::string>> expected;
    expected.reserve(claims_.size());
    for (const auto& [name, value] : claims_)
      expected.emplace_back(name, render(value, c));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    if (check_claims(v.claims, expected, now).status != ClaimStatus::Ok) {
      return deny(mqtt::ReasonCode::BadUserNameOrPassword);
    }
    Result r = allow(false);
    if (auto it = v.claims.find(acl_claim_); it != v.claims.end()) {
      try {
        r.outcome.acl = std::make_shared<const AclRules>(
            AclRules::from_acl_claim(it->value(), key_ + " claim " + acl_claim_));
      } catch (const AuthFileError&) {
        return deny(mqtt::ReasonCode::NotAuthorized);  // rules we cannot read: nothing
      }
    }
    if (disconnect_after_expire_) {
      if (auto exp = claim_seconds(v.claims, "exp")) r.outcome.expires_at_ms = *exp * 1000;
    }
    if (auto it = v.claims.find("is_superuser"); it != v.claims.end()) {
      r.outcome.is_superuser = it->value().is_bool() && it->value().as_bool();
    }
    return r;
  }

 private:
  JwtKeys keys_;
  bool from_username_;
  std::vector<std::pair<std::string, std::string>> claims_;
  std::string acl_claim_;
  bool disconnect_after_expire_;
  std::string key_;
};

}  // namespace

Credentials::~Credentials() {
  if (password && !password->empty()) OPENSSL_cleanse(password->data(), password->size());
}

Authentication::Authentication(
    std::vector<std::pair<std::string, std::unique_ptr<Authenticator>>> chain)
    : chain_(std::move(chain)) {
  for (const auto& [key, a] : chain_) {
    if (a->blocking()) blocking_ = true;
  }
}

Authentication::~Authentication() = default;

std::unique_ptr<Authentication> Authentication::from_config(const config::Config& cfg) {
  std::vector<std::pair<std::string, std::unique_ptr<Authenticator>>> chain;
  for (const auto& c : cfg.authentication) {
    if (!c.enable) continue;
    std::unique_ptr<Authenticator> a;
    if (c.mechanism == "password_based" && c.backend == "built_in_database") {
      a = std::make_unique<BuiltInDatabase>(c);
    } else if (c.mechanism == "jwt") {
      a = std::make_unique<Jwt>(c);
    } else {
      throw std::runtime_error(c.origin + ": " + c.key + ": mechanism " + c.mechanism +
                               " is not implemented yet");
    }
    chain.emplace_back(c.key, std::move(a));
  }
  return std::make_unique<Authentication>(std::move(chain));
}

AuthnOutcome Authentication::authenticate(const Credentials& c) const {
  for (const auto& [key, a] : chain_) {
    auto r = a->authenticate(c);
    if (r.kind == Kind::Ignore) continue;
    r.outcome.by = key;
    return std::move(r.outcome);
  }
  AuthnOutcome none;
  if (chain_.empty()) {
    none.allowed = true;
    none.reason = mqtt::ReasonCode::Success;
  } else {
    none.reason = mqtt::ReasonCode::NotAuthorized;  // every authenticator ignored it
    none.by = "authentication";
  }
  return none;
}

}  // namespace emqxd::auth
