#pragma once
// Admins: who may use the HTTP API, kept in replicated tables (tables/replicated_tables.hpp)
// so that every node of the cluster knows them and they survive restarts, as EMQX keeps
// them in its database:
//
//   dashboard_users   username -> {"role", "description"}
//   dashboard_passwords username -> Credentials::encode() (its own key, so that a change
//                     of role and a change of password never undo each other)
//   api_keys          name -> {"api_key", "secret": Credentials::encode(), "desc", "enable",
//                              "expired_at", "created_at", "role"}
//   dashboard_tokens  hex SHA-256 of a token -> {"username", "expires" (Unix ms), "pw"}
//
// The default user (dashboard.default_username / default_password) has the config's
// password until one is set through the API or `emqxd ctl admins passwd`, which writes it
// into dashboard_passwords: from then on that one wins over the config. It cannot be
// deleted (it is how an operator gets back in) and stays an administrator.
//
// Tokens: POST /api/v5/login gives a random 256-bit token; only its SHA-256 is stored, so
// the tables (on disk, on every node) never hold a usable token. A token names its user
// and the fingerprint of the user's password as it was ("pw": "config", or a digest of
// the stored hash): the role is read when the token is used, and a token whose user is
// gone or whose password changed since (a new salt each time) is refused on every node,
// whatever reached which node first. A user holds at most kMaxTokensPerUser live tokens
// (a new login revokes the oldest). Expired tokens and old tombstones are forgotten when
// someone logs in (ReplicatedTables::forget_if), so logins never fill the table.
//
// Secrets (passwords, API secrets) are hashed as the dashboard user's (credentials.hpp:
// salted PBKDF2); never logged. Any thread: the tables lock.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_keys.hpp"
#include "api/credentials.hpp"

namespace emqxd::tables {
class ReplicatedTables;
}

namespace emqxd::api {

std::string_view role_name(Role r);
std::optional<Role> parse_role(std::string_view s);

class Admins {
 public:
  static constexpr std::string_view kUsersTable = "dashboard_users";
  static constexpr std::string_view kPasswordsTable = "dashboard_passwords";
  static constexpr std::string_view kKeysTable = "api_keys";
  static constexpr std::string_view kTokensTable = "dashboard_tokens";
  static constexpr std::size_t kMaxUsers = 100;     // live; the table holds tombstones too
  static constexpr std::size_t kMaxKeys = 100;      // EMQX's limit
  static constexpr std::size_t kMaxTokens = 20000;  // live, and revoked within a token's life
  static constexpr std::size_t kMaxTokensPerUser = 20;

  // Before the tables are loaded.
  static void declare(tables::ReplicatedTables& t);

  struct Options {
    std::string default_username = "admin";
    // The config's hash of the default password; null when the API is off (tests).
    const Credentials* default_credentials = nullptr;
    // The default password is still "public": taken from loopback only (router.hpp).
    bool default_password = false;
    std::chrono::milliseconds token_life{60 * 60'000};
    int iterations = Credentials::kIterations;
    std::function<std::int64_t()> now_ms;  // Unix milliseconds; the system clock if empty
    // Names no user may take: the bootstrap file's API keys (HTTP Basic would be ambiguous).
    std::vector<std::string> reserved_names;
  };
  Admins(tables::ReplicatedTables& tables, Options options);

  enum class Error {
    None,
    Exists,
    NotFound,
    BadName,
    BadPassword,  // EMQX's rules: 8 to 64 characters, two kinds of letters, digits, others
    WrongPassword,
    Full,
    DefaultUser,  // the default user cannot be deleted nor demoted
  };
  static std::string_view message(Error e);

  // --- dashboard users
  struct User {
    std::string username;
    Role role = Role::Administrator;
    std::string description;
  };
  std::vector<User> users() const;  // in name order, the default user included
  std::optional<User> user(std::string_view name) const;
  Error add_user(const std::string& name, std::string_view password, Role role,
                 const std::string& description);
  Error update_user(const std::string& name, std::optional<Role> role,
                    std::optional<std::string> description);
  Error delete_user(const std::string& name);
  // Sets the password (the caller has checked the old one when it must: admin_api.cpp,
  // through the login guard).
  Error set_password(const std::string& name, std::string_view new_password);

  struct Verified {
    bool exists = false;  // the name is a user (for the per-user login guard)
    bool passed = false;
    bool default_password = false;  // passed with the bootstrap "public" (loopback only)
    Role role = Role::Viewer;
  };
  // A user's name and password (PBKDF2: slow on purpose; the same time for an unknown name).
  Verified verify_user(std::string_view name, std::string_view password) const;

  // --- tokens
  // A new token for `name`; nullopt when the token table is full.
  std::optional<std::string> issue_token(const std::string& name);
  struct TokenOwner {
    std::string username;
    Role role;
  };
  enum class TokenState { Valid, Unknown, Expired };
  // The live token's user and their role now; nullopt with `state` Unknown (never issued,
  // revoked, its user gone or their password changed) or Expired.
  std::optional<TokenOwner> check_token(std::string_view token, TokenState* state = nullptr) const;
  void revoke_token(std::string_view token);

  // --- API keys made through the API (the bootstrap file's are the router's own)
  struct Key {
    std::string name;
    std::string api_key;
    std::string desc;
    bool enable = true;
    std::int64_t expired_at = 0;  // Unix seconds; 0: never
    std::int64_t created_at = 0;
    Role role = Role::Administrator;
  };
  std::vector<Key> keys() const;
  std::optional<Key> key(std::string_view name) const;
  // A new key; `secret` receives the generated secret (shown once).
  Error add_key(Key& key, std::string& secret);
  Error update_key(const std::string& name, std::optional<bool> enable,
                   std::optional<std::string> desc, std::optional<std::int64_t> expired_at);
  Error delete_key(const std::string& name);
  struct KeyCheck {
    bool exists = false;
    bool passed = false;  // the secret matches, the key is enabled and not expired
    Role role = Role::Viewer;
  };
  bool has_api_key(std::string_view api_key) const;
  KeyCheck verify_key(std::string_view api_key, std::string_view secret) const;

  // c.verify(), remembered for a while when it passes (credentials.hpp: VerifyMemo): the
  // router's bootstrap keys go through it too.
  bool verify(const Credentials& c, std::string_view name, std::string_view password) const {
    return memo_.verify(c, name, password);
  }

  static bool valid_name(std::string_view name);
  static bool valid_password(std::string_view password);

 private:
  std::int64_t now_ms() const;
  std::optional<std::string> user_record(std::string_view name) const;
  // The user's stored password, or the config's for the default user without one.
  std::optional<Credentials> password_of(std::string_view name, bool& from_config) const;
  // What a token remembers of its user's password: "config", or a digest of the hash.
  std::string fingerprint(std::string_view name) const;
  void revoke_all(const std::string& name);
  // Forgets expired tokens and tombstones that can no longer matter; and, for `name`,
  // revokes the oldest tokens past kMaxTokensPerUser - 1.
  void tidy_tokens(const std::string& name);
  // Forgets tombstones of `table` older than `age` (microseconds).
  void forget_tombstones(std::string_view table, std::uint64_t age);

  tables::ReplicatedTables& tables_;
  Options options_;
  mutable VerifyMemo memo_;
};

}  // namespace emqxd::api
