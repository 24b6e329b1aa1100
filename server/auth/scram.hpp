#pragma once
// SCRAM (RFC 5802) with SHA-256 (RFC 7677) or SHA-512, the server's side, as EMQX's
// `mechanism = scram` authenticator runs it over MQTT 5 enhanced authentication: the
// client names "SCRAM-SHA-256" or "SCRAM-SHA-512" as its Authentication Method and sends
// client-first in CONNECT's Authentication Data; server-first goes back in AUTH (0x18,
// continue), client-final comes in AUTH, and server-final rides on the CONNACK.
//
// The users' stored form is EMQX's: salt, iteration count, StoredKey and ServerKey; the
// password itself is never kept. No channel binding ("n,," or "y,," only), no extensions.
//
// One ScramServer per connection attempt; not thread-safe, no I/O.
#include <optional>
#include <string>
#include <string_view>

namespace emqxd::auth {

enum class ScramAlgorithm { Sha256, Sha512 };

// "SCRAM-SHA-256" / "SCRAM-SHA-512" -> the algorithm; nullopt for any other method.
std::optional<ScramAlgorithm> scram_method(std::string_view authentication_method);

struct ScramCredentials {
  std::string salt;  // raw bytes
  int iterations = 4096;
  std::string stored_key;  // H(ClientKey), raw bytes
  std::string server_key;  // HMAC(SaltedPassword, "Server Key"), raw bytes
};

// What a user's record holds, from its password (a new random salt when `salt` is empty).
ScramCredentials scram_credentials(ScramAlgorithm a, std::string_view password, int iterations,
                                   std::string salt = {});

class ScramServer {
 public:
  explicit ScramServer(ScramAlgorithm a) : algo_(a) {}

  // client-first-message ("n,,n=user,r=nonce"): true and the username, or false and why.
  bool client_first(std::string_view message, std::string& username, std::string& error);

  // server-first-message ("r=...,s=...,i=...") for this user's credentials, with a fresh
  // nonce (or `nonce` appended to the client's, for tests).
  std::string server_first(const ScramCredentials& c, std::string_view nonce = {});

  // client-final-message ("c=biws,r=...,p=..."): server-final-message ("v=...") when the
  // proof holds; nullopt when it does not or the message is malformed.
  std::optional<std::string> client_final(std::string_view message);

 private:
  ScramAlgorithm algo_;
  std::string gs2_header_;
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client's + server's
  ScramCredentials creds_;
  int step_ = 0;
};

}  // namespace emqxd::auth
