#pragma once
// The HTTP API's user and HTTP Basic authentication (RFC 7617).
//
// Only a salted hash of the password is kept: PBKDF2-HMAC-SHA256 over a random 16-byte
// salt, 10,000 iterations, through OpenSSL. Checking a password recomputes the hash (a few
// milliseconds, on an API handler thread, never the one that does I/O) and compares in constant
// time (CRYPTO_memcmp), so neither a memory dump nor response timing gives the password away.
// Nothing here logs.
#include <array>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace emqxd::api {

class Credentials {
 public:
  static constexpr int kIterations = 10000;

  // Hashes `password` with a fresh random salt; the caller wipes its own copy (wipe()).
  // Throws std::runtime_error when OpenSSL has no randomness or no PBKDF2 (start-up only).
  static Credentials make(std::string username, std::string_view password,
                          int iterations = kIterations);

  // Whether `username` and `password` are the user's. Takes as long whatever they are,
  // right or wrong, except for the length of a wrong username. Any thread.
  bool verify(std::string_view username, std::string_view password) const;

  // The stored form, without the username: "pbkdf2-sha256$<iterations>$<salt>$<hash>"
  // (salt and hash in base64). decode() is nullopt for anything else.
  std::string encode() const;
  static std::optional<Credentials> decode(std::string username, std::string_view text);

  const std::string& username() const { return username_; }
  const std::array<unsigned char, 16>& salt_for_test() const { return salt_; }

 private:
  Credentials() = default;
  std::string username_;
  std::array<unsigned char, 16> salt_{};
  std::array<unsigned char, 32> hash_{};
  int iterations_ = kIterations;
};

// Remembers, for a while, the credentials that verified, so that a client sending the same
// HTTP Basic credentials on every request (a Prometheus scrape, a script polling the API)
// pays PBKDF2 once, not each time (~2.5 ms of CPU). Only successes are kept, as
// HMAC-SHA256 under a random key of this process over the stored hash, the username and
// the password: nothing kept helps guess a password, and a changed password (a new stored
// hash) misses. Bounded (kMaxEntries; when full, the oldest half goes); entries last kLife.
// Thread-safe.
class VerifyMemo {
 public:
  static constexpr std::size_t kMaxEntries = 4096;
  static constexpr std::chrono::seconds kLife{300};

  VerifyMemo();
  // c.verify(username, password), remembered when it passes.
  bool verify(const Credentials& c, std::string_view username, std::string_view password);

 private:
  std::string digest(const Credentials& c, std::string_view username,
                     std::string_view password) const;
  std::array<unsigned char, 32> key_{};
  std::mutex mutex_;
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> passed_;  // guarded
};

struct BasicCredentials {
  std::string username;
  std::string password;  // wipe() it once checked
};

// "Basic dXNlcjpwYXNz" -> {"user", "pass"}. The scheme is case-insensitive; the password is
// everything after the first colon (it may hold colons). nullopt for another scheme,
// base64 that is not canonical RFC 4648 (padding required), or no colon.
std::optional<BasicCredentials> parse_basic_authorization(std::string_view header);

// RFC 4648 base64 with padding. decode: nullopt for a bad character, bad length, or
// padding anywhere but at the end.
std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);

// Overwrites the bytes of `secret` (OPENSSL_cleanse, which the optimiser keeps), then
// empties it.
void wipe(std::string& secret);

}  // namespace emqxd::api
