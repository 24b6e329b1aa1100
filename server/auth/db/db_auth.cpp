#include "auth/db/db_auth.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <chrono>

#include "auth/file_error.hpp"
#include "auth/password.hpp"
#include "common/log.hpp"

namespace emqxd::auth::db {
namespace {

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// At most one line every 10 s per authenticator or source: a server that is down would
// otherwise log once per CONNECT.
bool may_warn(std::atomic<std::int64_t>& last_ms) {
  const auto now = steady_ms();
  auto prev = last_ms.load(std::memory_order_relaxed);
  return now - prev >= 10'000 && last_ms.compare_exchange_strong(prev, now);
}

Kind kind_of(const std::string& name) {
  if (name == "postgresql") return Kind::Postgres;
  if (name == "mysql") return Kind::Mysql;
  return Kind::Redis;
}

bool truthy(const std::optional<std::string>& v) {
  if (!v) return false;
  std::string s;
  for (char ch : *v)
    s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s == "true" || s == "t" || s == "1";
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

class DbAuthenticator final : public Authenticator {
 public:
  explicit DbAuthenticator(const config::AuthenticatorConfig& c)
      : key_(c.key),
        kind_(kind_of(c.backend)),
        algo_(algorithm_of(c.password_hash_algorithm, c.key)),
        statement_(Statement::compile(kind_, c.db.query)),
        pool_(endpoint_of(c.db, kind_, c.key), c.db.pool_size, c.db.query_timeout) {
    if (kind_ == db::Kind::Redis) {
      // HMGET key field...: the reply's values in the order of these fields.
      for (std::size_t i = 2; i < statement_.words.size(); ++i)
        fields_.push_back(statement_.words[i]);
    }
  }

  bool blocking() const override { return true; }

  Result authenticate(const Credentials& c) const override {
    Reply r = pool_.query(statement_, bind_args(statement_, vars_of(c, true)));
    if (!r.ok) return trouble(r.error);
    std::optional<std::string> hash, salt, superuser;
    if (kind_ == db::Kind::Redis) {
      for (std::size_t i = 0; i < fields_.size() && i < r.rows.rows.size(); ++i) {
        const auto& v = r.rows.rows[i].empty() ? std::nullopt : r.rows.rows[i][0];
        if (fields_[i] == "password_hash" || (fields_[i] == "password" && !hash)) hash = v;
        if (fields_[i] == "salt") salt = v;
        if (fields_[i] == "is_superuser") superuser = v;
      }
      if (!hash) return {};  // no such user
    } else {
      if (r.rows.rows.empty()) return {};  // no such user
      const auto& row = r.rows.rows.front();
      auto get = [&](std::string_view name) -> std::optional<std::string> {
        int i = r.rows.column(name);
        return i < 0 ? std::nullopt : row[static_cast<std::size_t>(i)];
      };
      hash = get("password_hash");
      if (!hash) hash = get("password");
      salt = get("salt");
      superuser = get("is_superuser");
    }
    Result out;
    out.kind = Authenticator::Kind::Decided;
    if (!hash || !c.password ||
        !check_password(algo_, salt.value_or(""), *hash, std::string_view(*c.password))) {
      out.outcome.allowed = false;
      out.outcome.reason = mqtt::ReasonCode::BadUserNameOrPassword;
      return out;
    }
    out.outcome.allowed = true;
    out.outcome.reason = mqtt::ReasonCode::Success;
    out.outcome.is_superuser = truthy(superuser);
    return out;
  }

 private:
  Result trouble(const std::string& what) const {
    if (may_warn(last_warning_ms_)) {
      const auto& e = pool_.endpoint();
      log::get("authn")->warn("{} ({} {}:{}): {}; the chain goes on (ignore)", key_,
                              kind_name(kind_), e.host, e.port, what);
    }
    return {};
  }

  std::string key_;
  db::Kind kind_;
  PasswordAlgorithm algo_;
  Statement statement_;
  std::vector<std::string> fields_;
  mutable Pool pool_;
  mutable std::atomic<std::int64_t> last_warning_ms_{-1'000'000};
};

namespace json = boost::json;

}  // namespace

Endpoint endpoint_of(const config::DbConfig& d, Kind kind, const std::string& key) {
  const std::uint16_t port = kind == Kind::Postgres ? 5432 : kind == Kind::Mysql ? 3306 : 6379;
  Endpoint e;
  e.kind = kind;
  e.database = d.database;
  e.username = d.username;
  e.password = d.password;
  if (d.ssl.enable) {
    Endpoint::Tls t;
    t.verify = d.ssl.verify == "verify_peer";
    t.check_name = d.ssl.server_name_indication != "disable";
    t.cacertfile = d.ssl.cacertfile;
    t.certfile = d.ssl.certfile;
    t.keyfile = d.ssl.keyfile;
    t.versions = d.ssl.versions;
    t.ciphers = d.ssl.ciphers;
    e.tls = std::move(t);
  }
  if (kind == Kind::Redis && d.redis_type != "single") {
    const bool sentinel = d.redis_type == "sentinel";
    e.redis_mode = sentinel ? RedisMode::Sentinel : RedisMode::Cluster;
    auto servers = split_servers(d.servers, sentinel ? 26379 : 6379);
    if (!servers)
      throw std::runtime_error(key + ".servers: expected host[:port],..., got " + d.servers);
    e.servers = std::move(*servers);
    e.sentinel = d.sentinel;
    return e;
  }
  auto hp = split_server(d.server, port);
  if (!hp) throw std::runtime_error(key + ".server: expected host[:port], got " + d.server);
  e.host = hp->first;
  e.port = hp->second;
  return e;
}

Vars vars_of(const Credentials& c, bool with_password) {
  Vars v;
  v["username"] = c.username.value_or("");
  v["clientid"] = c.client_id;
  v["peerhost"] = c.peerhost;
  v["cert_common_name"] = c.cert_common_name.value_or("");
  v["cert_subject"] = c.cert_subject.value_or("");
  if (with_password) v["password"] = c.password.value_or("");
  return v;
}

std::unique_ptr<Authenticator> make_authenticator(const config::AuthenticatorConfig& c) {
  return std::make_unique<DbAuthenticator>(c);
}

RuleSource::RuleSource(const config::AuthzSourceConfig& c)
    : key_(c.key),
      kind_(kind_of(c.type)),
      statement_(Statement::compile(kind_, c.db.query)),
      pool_size_(c.db.pool_size),
      pool_(endpoint_of(c.db, kind_, c.key), c.db.pool_size, c.db.query_timeout) {}

std::shared_ptr<const AclRules> RuleSource::fetch(const Vars& vars) const {
  Reply r = pool_.query(statement_, bind_args(statement_, vars));
  if (!r.ok) {
    if (may_warn(last_warning_ms_)) {
      const auto& e = pool_.endpoint();
      log::get("authz")->warn("{} ({} {}:{}): {}; no rules from it for now (nomatch)", key_,
                              kind_name(kind_), e.host, e.port, r.error);
    }
    return nullptr;
  }
  // Each row as one of EMQX's raw rules, checked on its own so that a bad row costs only
  // itself.
  std::vector<json::object> rules;
  if (kind_ == Kind::Redis) {
    for (std::size_t i = 0; i + 1 < r.rows.rows.size(); i += 2) {
      const auto& topic = r.rows.rows[i][0];
      const auto& value = r.rows.rows[i + 1][0];
      if (!topic || !value) continue;
      json::object o;
      boost::system::error_code ec;
      if (!value->empty() && value->front() == '{') {
        auto v = json::parse(*value, ec);
        if (!ec && v.is_object()) o = v.as_object();
      } else {
        o["action"] = *value;
      }
      o["permission"] = "allow";  // EMQX: Redis holds allow rules only
      o["topic"] = *topic;
      rules.push_back(std::move(o));
    }
  } else {
    for (const auto& row : r.rows.rows) {
      json::object o;
      for (std::string_view col : {"permission", "action", "topic", "qos", "retain"}) {
        int i = r.rows.column(col);
        if (i < 0 || !row[static_cast<std::size_t>(i)]) continue;
        std::string v = *row[static_cast<std::size_t>(i)];
        if (col == "retain" && (v == "t" || v == "f")) v = v == "t" ? "true" : "false";  // bool
        o[col] = v;
      }
      rules.push_back(std::move(o));
    }
  }
  json::array good;
  for (auto& o : rules) {
    json::array one;
    one.push_back(o);
    try {
      (void)AclRules::from_raw(one, key_);
      good.push_back(std::move(o));
    } catch (const AuthFileError& e) {
      if (may_warn(last_warning_ms_)) {
        log::get("authz")->warn("{}: a rule left out: {}", key_, e.what());
      }
    }
  }
  return std::make_shared<const AclRules>(AclRules::from_raw(good, key_));
}

}  // namespace emqxd::auth::db
