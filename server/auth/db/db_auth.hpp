#pragma once
// Authentication and authorization backed by a database (EMQX's `password_based` +
// `backend = postgresql | mysql | redis`, and `authorization.sources = [{type =
// postgresql | mysql | redis}]`), over the clients of db_client.hpp.
//
// Authentication, as EMQX: the query's first row (PostgreSQL, MySQL) or the HMGET's
// fields (Redis) give password_hash (or password), salt and is_superuser. No row (no
// hash) is ignore; a row whose hash the password does not match, or no password, is deny
// 0x86; a server that is down, slow or answers an error is ignore, logged at most every
// 10 s. It blocks for up to query_timeout: Authenticator::blocking() is true.
//
// Authorization: the rows of the query (permission, action, topic, and optionally qos
// and retain columns) or the Redis hash (topic -> action, or topic -> a JSON object with
// action, qos, retain; every rule allows) compiled into AclRules for one client
// (AclRules::from_raw); a row that does not compile is left out and logged. A server that
// is down gives no rules (nomatch), logged at most every 10 s.
//
// Threads: both are immutable after construction apart from their pools; any thread, at
// once (each blocks its caller).
#include <atomic>
#include <memory>
#include <string>

#include "auth/authentication.hpp"
#include "auth/db/db_client.hpp"
#include "config/config.hpp"

namespace emqxd::auth::db {

// The placeholders' values for a client. ${password} only when `with_password`.
Vars vars_of(const Credentials& c, bool with_password);

// Where `d` says the database is (`key` names it in errors: "authentication[1]",
// "connectors.redis.cache"): server, or for Redis sentinel and cluster, servers.
// Throws std::runtime_error when an address is malformed (the config reader checked).
Endpoint endpoint_of(const config::DbConfig& d, Kind kind, const std::string& key);

// Builds the authenticator of `c` (backend postgresql, mysql or redis). Connects lazily.
std::unique_ptr<Authenticator> make_authenticator(const config::AuthenticatorConfig& c);

class RuleSource {
 public:
  explicit RuleSource(const config::AuthzSourceConfig& c);
  // The client's rules; null when the server could not be asked (logged).
  std::shared_ptr<const AclRules> fetch(const Vars& vars) const;
  std::size_t pool_size() const { return pool_size_; }

 private:
  std::string key_;
  Kind kind_;
  Statement statement_;
  std::size_t pool_size_;
  mutable Pool pool_;
  mutable std::atomic<std::int64_t> last_warning_ms_{-1'000'000};
};

}  // namespace emqxd::auth::db
