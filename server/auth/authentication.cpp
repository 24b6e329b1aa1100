#include "auth/authentication.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <atomic>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <unordered_map>

#include "auth/base64.hpp"
#include "auth/builtin_db.hpp"
#include "auth/db/db_auth.hpp"
#include "auth/file_error.hpp"
#include "auth/jwt.hpp"
#include "auth/password.hpp"
#include "auth/user_bootstrap.hpp"
#include "common/log.hpp"

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
  BuiltInDatabase(const config::AuthenticatorConfig& c, tables::ReplicatedTables& tables)
      : db_(tables, false, algorithm_of(c.password_hash_algorithm, c.key), ScramAlgorithm::Sha256,
            0),
        by_client_id_(c.user_id_type == "clientid") {
    if (c.bootstrap_file.empty()) return;
    auto type = c.bootstrap_type == "hash" ? BootstrapType::Hash : BootstrapType::Plain;
    for (auto& u : load_user_bootstrap(c.bootstrap_file, type, db_.algorithm())) {
      StoredUser s;
      s.is_superuser = u.is_superuser;
      s.password_hash = std::move(u.password_hash);
      s.salt = std::move(u.salt);
      bootstrap_.emplace_back(std::move(u.user_id), std::move(s));
    }
  }

  Result authenticate(const Credentials& c) const override {
    const std::string* id = by_client_id_ ? &c.client_id : (c.username ? &*c.username : nullptr);
    if (id == nullptr) return ignore();
    auto u = db_.find(*id);
    if (!u) return ignore();
    if (!c.password || !check_password(db_.algorithm(), u->salt, u->password_hash,
                                       std::string_view(*c.password))) {
      return deny(mqtt::ReasonCode::BadUserNameOrPassword);
    }
    return allow(u->is_superuser);
  }

  bool blocking() const override {
    return db_.algorithm().name == PasswordAlgorithm::Name::Bcrypt ||
           db_.algorithm().name == PasswordAlgorithm::Name::Pbkdf2;
  }
  const UserDatabase* users() const override { return &db_; }
  std::size_t import_bootstrap() const override { return db_.import_missing(bootstrap_); }

 private:
  UserDatabase db_;
  bool by_client_id_;
  std::vector<std::pair<std::string, StoredUser>> bootstrap_;  // added where missing at start
};

// SCRAM runs over MQTT 5 enhanced authentication (the channel drives it with the users of
// users()); a plain CONNECT is not its business.
class ScramDatabase final : public Authenticator {
 public:
  ScramDatabase(const config::AuthenticatorConfig& c, tables::ReplicatedTables& tables)
      : db_(tables, true, PasswordAlgorithm{},
            c.scram_algorithm == "sha512" ? ScramAlgorithm::Sha512 : ScramAlgorithm::Sha256,
            c.iteration_count) {}
  Result authenticate(const Credentials&) const override { return ignore(); }
  const UserDatabase* users() const override { return &db_; }

 private:
  UserDatabase db_;
};

// ------------------------------------------------------------ jwt

std::string base64_decode(const std::string& in, const std::string& key) {
  auto out = unbase64(in);
  if (!out) throw std::runtime_error(key + ".secret: not base64 (secret_base64_encoded = true)");
  return std::move(*out);
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

// use_jwks: the keys of the JWKS document at `endpoint`, fetched at start and every
// refresh_interval on a thread of its own (every 10 s while it fails); until the first
// fetch succeeds there are no keys, so every token is ignored (the chain goes on).
class JwksKeys {
 public:
  JwksKeys(const config::AuthenticatorConfig& c, HttpClient client)
      : key_(c.key),
        url_(split_http_url(c.endpoint, c.key + ".endpoint")),
        client_(std::move(client)),
        every_(c.refresh_interval) {
    if (!client_) throw std::runtime_error(c.key + ": no HTTP client");
    const bool ok = fetch();
    thread_ = std::thread([this, ok] { run(ok); });
  }
  ~JwksKeys() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  std::shared_ptr<const JwtKeys> keys() const {
    std::lock_guard lock(mutex_);
    return keys_;
  }

 private:
  bool fetch() {
    HttpCall call;
    call.backend = key_;
    call.method = "GET";
    call.host = url_.host;
    call.port = url_.port;
    call.target = url_.target;
    HttpAnswer a = client_(call);
    std::string why;
    if (!a.reached) {
      why = "unreachable: " + a.error;
    } else if (a.status != 200) {
      why = "answered HTTP " + std::to_string(a.status);
    } else {
      try {
        auto k = std::make_shared<const JwtKeys>(JwtKeys::from_jwks(a.body));
        log::get("authn")->info("{}: {} keys from {}{}", key_, k->size(), url_.origin(),
                                url_.target);
        std::lock_guard lock(mutex_);
        keys_ = std::move(k);
        return true;
      } catch (const JwtError& e) {
        why = std::string("is not a JWKS document: ") + e.what();
      }
    }
    log::get("authn")->warn("{}: JWKS from {}{}: {}; {} keys kept", key_, url_.origin(),
                            url_.target, why, keys() ? "the previous" : "no");
    return false;
  }
  void run(bool ok) {
    std::unique_lock lock(mutex_);
    for (;;) {
      auto wait =
          ok ? every_ : std::min<std::chrono::milliseconds>(every_, std::chrono::seconds(10));
      if (cv_.wait_for(lock, wait, [this] { return stopping_; })) return;
      lock.unlock();
      ok = fetch();
      lock.lock();
    }
  }

  std::string key_;
  HttpUrl url_;
  HttpClient client_;
  std::chrono::milliseconds every_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;                // guarded by mutex_
  std::shared_ptr<const JwtKeys> keys_;  // guarded by mutex_
  std::thread thread_;
};

class Jwt final : public Authenticator {
 public:
  Jwt(const config::AuthenticatorConfig& c, HttpClient http)
      : from_username_(c.from == "username"),
        claims_(c.verify_claims),
        acl_claim_(c.acl_claim_name),
        disconnect_after_expire_(c.disconnect_after_expire),
        key_(c.key) {
    if (c.use_jwks) {
      jwks_ = std::make_unique<JwksKeys>(c, std::move(http));
      return;
    }
    try {
      if (c.algorithm == "hmac-based") {
        keys_ = std::make_shared<const JwtKeys>(
            JwtKeys::hmac(c.secret_base64_encoded ? base64_decode(c.secret, c.key) : c.secret));
      } else {
        keys_ = std::make_shared<const JwtKeys>(JwtKeys::public_key_pem(c.public_key));
      }
    } catch (const JwtError& e) {
      throw std::runtime_error(c.key + ".public_key: " + e.what());
    }
  }

  Result authenticate(const Credentials& c) const override {
    const std::optional<std::string>& token = from_username_ ? c.username : c.password;
    if (!token || token->empty()) return ignore();
    std::shared_ptr<const JwtKeys> keys = jwks_ ? jwks_->keys() : keys_;
    if (!keys) return ignore();  // no JWKS fetched yet
    auto v = verify_jwt(*token, *keys);
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
  std::shared_ptr<const JwtKeys> keys_;  // secret or public key
  std::unique_ptr<JwksKeys> jwks_;       // use_jwks
  bool from_username_;
  std::vector<std::pair<std::string, std::string>> claims_;
  std::string acl_claim_;
  bool disconnect_after_expire_;
  std::string key_;
};

// ------------------------------------------------------------ http

// The value of each placeholder for one client.
std::string render_all(std::string_view text, const Credentials& c, bool encode) {
  auto enc = [&](std::string_view v) { return encode ? url_encode(v) : std::string(v); };
  std::string out;
  std::size_t i = 0;
  auto take = [&](std::string_view name, std::string_view value) {
    if (text.compare(i, name.size(), name) != 0) return false;
    out += enc(value);
    i += name.size();
    return true;
  };
  while (i < text.size()) {
    if (text[i] == '$' &&
        (take("${clientid}", c.client_id) || take("${username}", c.username.value_or("")) ||
         take("${password}", c.password.value_or("")) || take("${peerhost}", c.peerhost) ||
         take("${cert_common_name}", c.cert_common_name.value_or("")))) {
      continue;
    }
    out += text[i++];
  }
  return out;
}

class Http final : public Authenticator {
 public:
  Http(const config::AuthenticatorConfig& c, HttpClient client)
      : client_(std::move(client)),
        key_(c.key),
        get_(c.method == "get"),
        headers_(c.headers),
        body_(c.body),
        timeout_(c.request_timeout) {
    auto u = split_http_url(c.url, c.key + ".url");
    origin_ = u.origin();
    host_ = std::move(u.host);
    port_ = std::move(u.port);
    target_ = std::move(u.target);
    for (auto& [name, value] : headers_) {
      std::string lower;
      for (char ch : name)
        lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (lower == "content-type") {
        content_type_ = value;
        value.clear();
      }
    }
    std::erase_if(headers_, [](const auto& h) { return h.second.empty(); });
    if (!client_) throw std::runtime_error(c.key + ": no HTTP client");
  }

  Result authenticate(const Credentials& c) const override {
    HttpCall call;
    call.backend = key_;
    call.method = get_ ? "GET" : "POST";
    call.host = host_;
    call.port = port_;
    call.target = render_all(target_, c, true);
    call.timeout = timeout_;
    for (const auto& [name, value] : headers_)
      call.headers.emplace_back(name, render_all(value, c, false));
    const bool form = content_type_.starts_with("application/x-www-form-urlencoded");
    if (get_ || form) {
      std::string q;
      for (const auto& [name, value] : body_) {
        if (!q.empty()) q += '&';
        q += render_all(name, c, true) + "=" + render_all(value, c, true);
      }
      if (get_) {
        if (!q.empty()) call.target += (call.target.find('?') == std::string::npos ? "?" : "&") + q;
      } else {
        call.body = std::move(q);
        call.content_type = content_type_;
      }
    } else {
      boost::json::object o;
      for (const auto& [name, value] : body_)
        o[name] = render_all(value, c, false);
      call.body = boost::json::serialize(o);
      call.content_type = "application/json";
    }
    HttpAnswer a = client_(call);
    if (!call.body.empty()) OPENSSL_cleanse(call.body.data(), call.body.size());
    if (!a.reached) return trouble("unreachable: " + a.error);
    if (a.status == 204) return allow(false);
    if (a.status != 200) return trouble("answered HTTP " + std::to_string(a.status));
    boost::system::error_code ec;
    auto v = boost::json::parse(a.body, ec);
    if (ec || !v.is_object()) return trouble("answered 200 without a JSON object");
    const auto& o = v.as_object();
    const auto* result = o.if_contains("result");
    std::string_view r = result && result->is_string() ? std::string_view(result->as_string()) : "";
    if (r == "ignore") return ignore();
    if (r == "deny") return deny(mqtt::ReasonCode::NotAuthorized);
    if (r != "allow") return trouble("answered a result other than allow, deny or ignore");
    const auto* su = o.if_contains("is_superuser");
    Result out = allow(su != nullptr && ((su->is_bool() && su->as_bool()) ||
                                         (su->is_string() && su->as_string() == "true")));
    if (const auto* acl = o.if_contains("acl")) {
      try {
        out.outcome.acl =
            std::make_shared<const AclRules>(AclRules::from_acl_claim(*acl, key_ + " acl"));
      } catch (const AuthFileError&) {
        return deny(mqtt::ReasonCode::NotAuthorized);
      }
    }
    if (const auto* exp = o.if_contains("expire_at"); exp != nullptr && exp->is_int64()) {
      out.outcome.expires_at_ms = exp->as_int64() * 1000;
    }
    return out;
  }

  bool blocking() const override { return true; }

 private:
  // The backend did not decide: the chain goes on (EMQX's ignore), and the operator hears.
  Result trouble(const std::string& what) const {
    static std::atomic<std::int64_t> last_ms{0};
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::steady_clock::now().time_since_epoch())
                         .count();
    auto prev = last_ms.load(std::memory_order_relaxed);
    if (now - prev >= 10'000 && last_ms.compare_exchange_strong(prev, now)) {
      log::get("authn")->warn("{} ({}): {}; the chain goes on (ignore)", key_, origin_, what);
    }
    return ignore();
  }

  HttpClient client_;
  std::string key_;
  bool get_;
  std::string origin_, host_, port_, target_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<std::pair<std::string, std::string>> body_;
  std::string content_type_ = "application/json";
  std::chrono::milliseconds timeout_;
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

std::unique_ptr<Authentication> Authentication::from_config(const config::Config& cfg,
                                                            HttpClient http,
                                                            tables::ReplicatedTables* tables) {
  std::unique_ptr<tables::ReplicatedTables> own;
  if (tables == nullptr) {
    own = std::make_unique<tables::ReplicatedTables>(nullptr, "local");
    declare_tables(*own);
    tables = own.get();
  }
  std::vector<std::pair<std::string, std::unique_ptr<Authenticator>>> chain;
  std::size_t concurrency = 0;
  for (const auto& c : cfg.authentication) {
    if (!c.enable) continue;
    std::unique_ptr<Authenticator> a;
    if (c.mechanism == "password_based" && c.backend == "built_in_database") {
      a = std::make_unique<BuiltInDatabase>(c, *tables);
    } else if (c.mechanism == "scram") {
      a = std::make_unique<ScramDatabase>(c, *tables);
    } else if (c.mechanism == "password_based" && c.backend == "http") {
      a = std::make_unique<Http>(c, http);
      concurrency += c.pool_size;
    } else if (c.mechanism == "password_based" &&
               (c.backend == "postgresql" || c.backend == "mysql" || c.backend == "redis")) {
      a = db::make_authenticator(c);
      concurrency += c.db.pool_size;
    } else if (c.mechanism == "jwt") {
      a = std::make_unique<Jwt>(c, http);
    } else {
      throw std::runtime_error(c.origin + ": " + c.key + ": mechanism " + c.mechanism +
                               " is not implemented yet");
    }
    chain.emplace_back(c.key, std::move(a));
  }
  auto out = std::make_unique<Authentication>(std::move(chain));
  out->concurrency_ = concurrency;
  if (own) {
    out->own_tables_ = std::move(own);
    out->import_bootstrap();
  }
  return out;
}

void Authentication::declare_tables(tables::ReplicatedTables& t) {
  t.declare(std::string(kPasswordUsersTable), kMaxUsers);
  t.declare(std::string(kScramUsersTable), kMaxUsers);
}

std::size_t Authentication::import_bootstrap() const {
  std::size_t n = 0;
  for (const auto& [key, a] : chain_)
    n += a->import_bootstrap();
  return n;
}

const UserDatabase* Authentication::users(std::string_view id) const {
  for (const auto& [key, a] : chain_) {
    if (const auto* db = a->users(); db != nullptr && db->id() == id) return db;
  }
  return nullptr;
}

AuthnOutcome Authentication::authenticate(const Credentials& c) const {
  if (c.skip_chain) {
    AuthnOutcome anyone;
    anyone.allowed = true;
    anyone.reason = mqtt::ReasonCode::Success;
    return anyone;
  }
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
