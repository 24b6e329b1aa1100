#pragma once
// Password hashes as EMQX's password-based authenticators store and check them
// (`password_hash_algorithm` of the built-in database, PostgreSQL, MySQL, Redis):
//
//   {name = plain | md5 | sha | sha256 | sha512, salt_position = disable | prefix | suffix}
//       lowercase hex of HASH(salt ++ password) (prefix) or HASH(password ++ salt)
//       (suffix); `plain` is the salted password itself.
//   {name = bcrypt, salt_rounds = 5..10}
//       the crypt(3) string "$2b$10$..." (libxcrypt); the stored hash is also its salt.
//   {name = pbkdf2, mac_fun = md5 | sha | sha224 | sha256 | sha384 | sha512 (| md4 |
//    ripemd160 where OpenSSL has them), iterations = N, dk_length = bytes (default: the
//    digest's size)}
//       lowercase hex of PBKDF2-HMAC(password, salt).
//
// New salts are 16 random bytes written as 32 hex digits, as EMQX writes them. Checks
// compare in constant time. Everything here may run on any thread at once; bcrypt and
// pbkdf2 cost milliseconds by design, so callers keep them off event loops.
#include <optional>
#include <string>
#include <string_view>

namespace emqxd::auth {

struct PasswordAlgorithm {
  enum class Name { Plain, Md5, Sha, Sha256, Sha512, Bcrypt, Pbkdf2 };
  enum class SaltPosition { Disable, Prefix, Suffix };
  Name name = Name::Sha256;  // EMQX's default: sha256 with the salt as prefix
  SaltPosition salt_position = SaltPosition::Prefix;
  int salt_rounds = 10;            // bcrypt, for new hashes (EMQX clamps to 5..10)
  std::string mac_fun = "sha256";  // pbkdf2
  int iterations = 4096;           // pbkdf2
  int dk_length = 0;               // pbkdf2; 0: the digest's size

  // "plain", "md5", ... -> Name; nullopt for an unknown name.
  static std::optional<Name> name_of(std::string_view text);
  // Empty when usable, else why not (an unknown pbkdf2 mac_fun, iterations < 1, ...).
  std::string problem() const;
};

struct StoredPassword {
  std::string hash;
  std::string salt;
};

// Does `password` match what is stored? False also for a malformed stored hash.
bool check_password(const PasswordAlgorithm& algo, std::string_view salt,
                    std::string_view stored_hash, std::string_view password);

// A new salt and the hash of `password` under it, for storing.
StoredPassword hash_password(const PasswordAlgorithm& algo, std::string_view password);

// Constant-time equality of two byte strings (different lengths: false, early).
bool equal_secure(std::string_view a, std::string_view b);

}  // namespace emqxd::auth
