#include "auth/scram.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cctype>
#include <stdexcept>
#include <vector>

#include "auth/base64.hpp"

namespace emqxd::auth {

namespace {

const EVP_MD* md(ScramAlgorithm a) {
  return a == ScramAlgorithm::Sha256 ? EVP_sha256() : EVP_sha512();
}

std::string hmac(ScramAlgorithm a, std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  HMAC(md(a), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &n);
  return std::string(reinterpret_cast<char*>(out), n);
}

std::string hash(ScramAlgorithm a, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out, &n, md(a), nullptr);
  return std::string(reinterpret_cast<char*>(out), n);
}

// Splits "a=1,b=2" into attributes; false when an attribute is not "x=...".
bool attributes(std::string_view msg, std::vector<std::pair<char, std::string_view>>& out) {
  while (true) {
    auto comma = msg.find(',');
    std::string_view part = msg.substr(0, comma);
    if (part.size() < 2 || part[1] != '=' || !std::isalpha(static_cast<unsigned char>(part[0])))
      return false;
    out.emplace_back(part[0], part.substr(2));
    if (comma == std::string_view::npos) return true;
    msg.remove_prefix(comma + 1);
  }
}

// saslname: "=2C" is ',' and "=3D" is '='; any other '=' is malformed (RFC 5802 5.1).
std::optional<std::string> unescape_name(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '=') {
      out.push_back(s[i]);
      continue;
    }
    if (s.substr(i, 3) == "=2C")
      out.push_back(',');
    else if (s.substr(i, 3) == "=3D")
      out.push_back('=');
    else
      return std::nullopt;
    i += 2;
  }
  return out;
}

bool printable_nonce(std::string_view n) {
  if (n.empty()) return false;
  for (char c : n)
    if (c < 0x21 || c > 0x7E || c == ',') return false;
  return true;
}

}  // namespace

std::optional<ScramAlgorithm> scram_method(std::string_view m) {
  if (m == "SCRAM-SHA-256") return ScramAlgorithm::Sha256;
  if (m == "SCRAM-SHA-512") return ScramAlgorithm::Sha512;
  return std::nullopt;
}

ScramCredentials scram_credentials(ScramAlgorithm a, std::string_view password, int iterations,
                                   std::string salt) {
  if (salt.empty()) {
    salt.resize(16);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), 16) != 1)
      throw std::runtime_error("RAND_bytes failed");
  }
  const int len = EVP_MD_get_size(md(a));
  std::string salted(static_cast<std::size_t>(len), '\0');
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(salt.data()),
                    static_cast<int>(salt.size()), iterations, md(a), len,
                    reinterpret_cast<unsigned char*>(salted.data()));
  ScramCredentials c;
  c.salt = std::move(salt);
  c.iterations = iterations;
  c.stored_key = hash(a, hmac(a, salted, "Client Key"));
  c.server_key = hmac(a, salted, "Server Key");
  return c;
}

bool ScramServer::client_first(std::string_view message, std::string& username,
                               std::string& error) {
  if (step_ != 0) {
    error = "client-first sent twice";
    return false;
  }
  // gs2-header: "n," or "y," (no channel binding), an optional "a=authzid", then ','.
  if (message.size() < 3 || (message[0] != 'n' && message[0] != 'y') || message[1] != ',') {
    error = message.substr(0, 2) == "p=" ? "channel binding is not supported"
                                         : "client-first must start with \"n,\" or \"y,\"";
    return false;
  }
  auto second = message.find(',', 2);
  if (second == std::string_view::npos) {
    error = "client-first has no gs2 header end";
    return false;
  }
  gs2_header_ = std::string(message.substr(0, second + 1));
  client_first_bare_ = std::string(message.substr(second + 1));
  std::vector<std::pair<char, std::string_view>> attrs;
  if (!attributes(client_first_bare_, attrs) || attrs.size() < 2 || attrs[0].first != 'n' ||
      attrs[1].first != 'r') {
    error = "client-first must be n=<user>,r=<nonce>";
    return false;
  }
  auto name = unescape_name(attrs[0].second);
  if (!name || name->empty()) {
    error = "bad username in client-first";
    return false;
  }
  if (!printable_nonce(attrs[1].second)) {
    error = "bad nonce in client-first";
    return false;
  }
  nonce_ = std::string(attrs[1].second);
  username = std::move(*name);
  step_ = 1;
  return true;
}

std::string ScramServer::server_first(const ScramCredentials& c, std::string_view nonce) {
  creds_ = c;
  if (nonce.empty()) {
    unsigned char b[18];
    if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
    nonce_ += base64(std::string_view(reinterpret_cast<char*>(b), sizeof b));
  } else {
    nonce_ += nonce;
  }
  server_first_ = "r=" + nonce_ + ",s=" + base64(c.salt) + ",i=" + std::to_string(c.iterations);
  step_ = 2;
  return server_first_;
}

std::optional<std::string> ScramServer::client_final(std::string_view message) {
  if (step_ != 2) return std::nullopt;
  step_ = 3;  // one try
  auto p = message.rfind(",p=");
  if (p == std::string_view::npos) return std::nullopt;
  const std::string_view without_proof = message.substr(0, p);
  std::vector<std::pair<char, std::string_view>> attrs;
  if (!attributes(without_proof, attrs) || attrs.size() < 2 || attrs[0].first != 'c' ||
      attrs[1].first != 'r')
    return std::nullopt;
  auto cbind = unbase64(attrs[0].second);
  if (!cbind || *cbind != gs2_header_) return std::nullopt;
  if (attrs[1].second != nonce_) return std::nullopt;
  auto proof = unbase64(message.substr(p + 3));
  if (!proof || proof->size() != creds_.stored_key.size()) return std::nullopt;

  const std::string auth_message =
      client_first_bare_ + "," + server_first_ + "," + std::string(without_proof);
  const std::string signature = hmac(algo_, creds_.stored_key, auth_message);
  std::string client_key(proof->size(), '\0');
  for (std::size_t i = 0; i < client_key.size(); ++i)
    client_key[i] = static_cast<char>((*proof)[i] ^ signature[i]);
  const std::string stored = hash(algo_, client_key);
  if (CRYPTO_memcmp(stored.data(), creds_.stored_key.data(), stored.size()) != 0)
    return std::nullopt;
  return "v=" + base64(hmac(algo_, creds_.server_key, auth_message));
}

}  // namespace emqxd::auth
