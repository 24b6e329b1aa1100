#pragma once
// Authentication: EMQX 5's chain (`authentication = [...]`), built once from the config
// and shared read-only by every worker.
//
// Each authenticator answers a client's credentials with ignore (not mine: the next one
// asks), allow (with is_superuser, an `acl` and an expiry) or deny (stop). The first that
// does not ignore decides; when every one ignores, the client is refused as "not
// authorized" (EMQX's emqx_authn_chains does the same). An empty chain lets everyone in.
//
//   password_based + built_in_database: users in the replicated tables (auth/builtin_db.hpp;
//     added through the API or from `bootstrap_file`), looked up by username or client id
//     (`user_id_type`); an unknown user is ignore, a wrong password deny 0x86 (bad user
//     name or password).
//   scram + built_in_database: MQTT 5 enhanced authentication, run by the channel with
//     the users of users(); a CONNECT without an Authentication Method is ignore.
//   password_based + http: a request to `url` (POST with a JSON or form body, or GET with
//     the body's fields in the query), placeholders ${clientid} ${username} ${password}
//     ${peerhost} ${cert_common_name} rendered (URL-encoded in the URL). 204: allow;
//     200 with JSON {"result": "allow" | "deny" | "ignore", "is_superuser", "acl",
//     "expire_at"}: as it says; anything else, a timeout or a backend that is down:
//     ignore, logged (rate-limited). One request per CONNECT, on pool_size kept
//     connections (https: TLS with the entry's ssl block; auth/http_backend.hpp).
//   jwt: the token in the password (or the username, `from`), checked with the `secret`
//     (HS*) or `public_key` (RS*, PS*, ES*; auth/jwt.hpp); no token or a signature no key
//     verifies is ignore; a bad claim (exp, nbf, verify_claims) is deny 0x86. The `acl`
//     claim (acl_claim_name) becomes the client's own rules; `exp` its expiry
//     (disconnect_after_expire).
//   password_based + postgresql | mysql | redis: a query per CONNECT (auth/db/db_auth.hpp):
//     no row is ignore, a wrong password deny 0x86, a server down or slow ignore (logged).
//
// authenticate() may take milliseconds (bcrypt, pbkdf2): blocking() says whether the
// chain holds such an authenticator, so that callers run it off their event loop. Any
// thread, concurrently.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/acl_rules.hpp"
#include "auth/builtin_db.hpp"
#include "auth/http_backend.hpp"
#include "auth/subject.hpp"
#include "config/config.hpp"
#include "mqtt/types.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::auth {

// What a client presents at CONNECT.
struct Credentials {
  std::string client_id;
  std::optional<std::string> username;
  std::optional<std::string> password;  // binary; never logged
  std::string peerhost;                 // the client's address, without the port
  std::optional<std::string> cert_common_name;
  std::optional<std::string> cert_subject;  // the certificate's DN (${cert_subject})
  // The listener's enable_authn = false: the chain is not asked, the client is let in
  // (authorization still fetches its rules).
  bool skip_chain = false;

  Credentials() = default;
  Credentials(Credentials&&) = default;
  Credentials& operator=(Credentials&&) = default;
  ~Credentials();  // wipes the password
};

struct AuthnOutcome {
  bool allowed = false;
  // Why not, as an MQTT 5 reason code: 0x86 Bad User Name or Password, 0x87 Not
  // authorized (the channel maps it to 3.1.1's return codes 4 and 5).
  mqtt::ReasonCode reason = mqtt::ReasonCode::NotAuthorized;
  bool is_superuser = false;
  std::shared_ptr<const AclRules> acl;        // the JWT's acl claim
  std::optional<std::int64_t> expires_at_ms;  // the JWT's exp, with disconnect_after_expire
  std::string by;                             // "authentication[2]": who decided, for logs
  // The client's rules from the database authorization sources, fetched right after it
  // was let in (auth/authorization.hpp, Authorization::fetch).
  std::shared_ptr<const SourceRules> source_rules;
};

class Authenticator {
 public:
  enum class Kind { Ignore, Decided };
  struct Result {
    Kind kind = Kind::Ignore;
    AuthnOutcome outcome;
  };
  virtual ~Authenticator() = default;
  virtual Result authenticate(const Credentials& c) const = 0;
  virtual bool blocking() const { return false; }
  // A built-in database's users (the API manages them; SCRAM reads them), else null.
  virtual const UserDatabase* users() const { return nullptr; }
  // Adds its bootstrap_file's users where the database lacks them; how many.
  virtual std::size_t import_bootstrap() const { return 0; }
};

class Authentication {
 public:
  // Builds the chain of `cfg.authentication` (disabled entries left out): reads bootstrap
  // files and keys. Throws AuthFileError or std::runtime_error naming the entry and what
  // is wrong: start-up stops. `http` serves the http backends (required when one is
  // configured).
  // `tables` holds the built-in databases' users (declare_tables() first); null: a
  // private in-memory copy, with the bootstrap users imported at once (tests).
  static std::unique_ptr<Authentication> from_config(const config::Config& cfg,
                                                     HttpClient http = {},
                                                     tables::ReplicatedTables* tables = nullptr);
  // The tables the built-in databases keep their users in.
  static void declare_tables(tables::ReplicatedTables& t);
  // After the tables are loaded: bootstrap_file users the databases lack are added.
  std::size_t import_bootstrap() const;
  // The built-in database of authenticator `id` ("password_based:built_in_database",
  // "scram:built_in_database") when the chain has it enabled, else null.
  const UserDatabase* users(std::string_view id) const;
  // Threads the chain wants for its blocking checks: the http backends' pool_size.
  std::size_t concurrency() const { return concurrency_; }

  bool empty() const { return chain_.empty(); }
  bool blocking() const { return blocking_; }
  AuthnOutcome authenticate(const Credentials& c) const;

  // For tests: a chain of these.
  explicit Authentication(
      std::vector<std::pair<std::string, std::unique_ptr<Authenticator>>> chain);
  ~Authentication();

 private:
  std::unique_ptr<tables::ReplicatedTables> own_tables_;  // from_config without tables
  std::vector<std::pair<std::string, std::unique_ptr<Authenticator>>> chain_;
  bool blocking_ = false;
  std::size_t concurrency_ = 0;
};

}  // namespace emqxd::auth
