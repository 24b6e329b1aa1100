#pragma once
// The built-in authentication database: EMQX's `password_based:built_in_database` and
// `scram:built_in_database` authenticators, their users kept in the replicated tables
// (tables/replicated_tables.hpp: every node holds them all, they survive restarts) and
// managed through /api/v5/authentication/{id}/users (api/access_api.cpp).
//
// Tables, one per authenticator id, keyed by user id; values are JSON:
//   authn/password_based:built_in_database  {"password_hash", "salt", "is_superuser"}
//   authn/scram:built_in_database           {"stored_key", "server_key", "salt" (base64),
//                                            "iterations", "is_superuser"}
// A password is hashed with the authenticator's password_hash_algorithm (SCRAM: its
// algorithm and iteration_count) by the node that takes it; only the hash is stored and
// replicated. bootstrap_file users are added at start-up where the database does not
// have them yet (one added through the API since is left as it is).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/password.hpp"
#include "auth/scram.hpp"

namespace emqxd::tables {
class ReplicatedTables;
}

namespace emqxd::auth {

inline constexpr std::string_view kPasswordUsersTable = "authn/password_based:built_in_database";
inline constexpr std::string_view kScramUsersTable = "authn/scram:built_in_database";
inline constexpr std::size_t kMaxUsers = 1'000'000;  // per table

// One user as stored (the password never is).
struct StoredUser {
  bool is_superuser = false;
  // password_based
  std::string password_hash;
  std::string salt;
  // scram
  ScramCredentials scram;
};
std::string encode_user(const StoredUser& u, bool scram);
std::optional<StoredUser> decode_user(std::string_view json, bool scram);

// What the API sees of a built-in database (an authenticator in the chain).
class UserDatabase {
 public:
  enum class Outcome : std::uint8_t { Ok, NotFound, Exists, Full };
  struct UserInfo {
    std::string user_id;
    bool is_superuser = false;
  };
  struct Page {
    std::vector<UserInfo> users;
    std::size_t count = 0;  // users matching the filter, all pages
  };
  struct Filter {
    std::string like_user_id;          // substring, empty: any
    std::optional<bool> is_superuser;  // nullopt: any
  };

  UserDatabase(tables::ReplicatedTables& tables, bool scram, PasswordAlgorithm algo,
               ScramAlgorithm scram_algo, int iterations);

  // "password_based:built_in_database" or "scram:built_in_database".
  std::string_view id() const;
  std::string_view table() const { return scram_ ? kScramUsersTable : kPasswordUsersTable; }
  bool scram() const { return scram_; }

  // Hash and store (may take milliseconds: bcrypt, pbkdf2, SCRAM iterations).
  Outcome add(const std::string& user_id, std::string_view password, bool is_superuser) const;
  Outcome update(const std::string& user_id, std::optional<std::string_view> password,
                 std::optional<bool> is_superuser) const;
  Outcome erase(const std::string& user_id) const;
  std::optional<UserInfo> get(const std::string& user_id) const;
  // Page `page` (1-based) of `limit` users in user id order.
  Page list(const Filter& f, std::size_t page, std::size_t limit) const;
  // The stored record, for the authenticator.
  std::optional<StoredUser> find(std::string_view user_id) const;

  // Adds each user the database does not hold yet; returns how many were added.
  std::size_t import_missing(const std::vector<std::pair<std::string, StoredUser>>& users) const;

  const PasswordAlgorithm& algorithm() const { return algo_; }
  ScramAlgorithm scram_algorithm() const { return scram_algo_; }

 private:
  StoredUser make(std::string_view password, bool is_superuser) const;

  tables::ReplicatedTables& tables_;
  bool scram_;
  PasswordAlgorithm algo_;
  ScramAlgorithm scram_algo_;
  int iterations_;
};

}  // namespace emqxd::auth
