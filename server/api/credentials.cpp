#include "api/credentials.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/random.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace emqxd::api {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

bool pbkdf2(std::string_view password, const std::array<unsigned char, 16>& salt, int iterations,
            std::array<unsigned char, 32>& out) {
  return PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), salt.data(),
                           static_cast<int>(salt.size()), iterations, EVP_sha256(),
                           static_cast<int>(out.size()), out.data()) == 1;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

Credentials Credentials::make(std::string username, std::string_view password, int iterations) {
  Credentials c;
  c.username_ = std::move(username);
  c.iterations_ = iterations;
  // The kernel's CSPRNG first: OpenSSL's own generator would cost ~0.3 MiB of resident
  // memory to set up on a node that otherwise never needs it.
  bool salted =
      ::getrandom(c.salt_.data(), c.salt_.size(), 0) == static_cast<ssize_t>(c.salt_.size());
  if (!salted) salted = RAND_bytes(c.salt_.data(), static_cast<int>(c.salt_.size())) == 1;
  if (!salted) throw std::runtime_error("HTTP API: no random bytes for the password salt");
  if (!pbkdf2(password, c.salt_, iterations, c.hash_)) {
    throw std::runtime_error("HTTP API: PBKDF2-HMAC-SHA256 is not available");
  }
  return c;
}

bool Credentials::verify(std::string_view username, std::string_view password) const {
  // The hash is computed whether or not the username matches, so that a wrong username
  // answers as slowly as a wrong password.
  std::array<unsigned char, 32> candidate{};
  bool hashed = pbkdf2(password, salt_, iterations_, candidate);
  bool password_ok = CRYPTO_memcmp(candidate.data(), hash_.data(), hash_.size()) == 0;
  bool username_ok = username.size() == username_.size() &&
                     CRYPTO_memcmp(username.data(), username_.data(), username.size()) == 0;
  OPENSSL_cleanse(candidate.data(), candidate.size());
  return hashed & password_ok & username_ok;
}

std::string Credentials::encode() const {
  return "pbkdf2-sha256$" + std::to_string(iterations_) + "$" +
         base64_encode(
             std::string_view(reinterpret_cast<const char*>(salt_.data()), salt_.size())) +
         "$" +
         base64_encode(std::string_view(reinterpret_cast<const char*>(hash_.data()), hash_.size()));
}

std::optional<Credentials> Credentials::decode(std::string username, std::string_view text) {
  constexpr std::string_view kScheme = "pbkdf2-sha256$";
  if (text.substr(0, kScheme.size()) != kScheme) return std::nullopt;
  text.remove_prefix(kScheme.size());
  auto d1 = text.find('$');
  if (d1 == std::string_view::npos) return std::nullopt;
  auto d2 = text.find('$', d1 + 1);
  if (d2 == std::string_view::npos) return std::nullopt;
  int iterations = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + d1, iterations);
  if (ec != std::errc() || p != text.data() + d1 || iterations < 1 || iterations > 10'000'000) {
    return std::nullopt;
  }
  auto salt = base64_decode(text.substr(d1 + 1, d2 - d1 - 1));
  auto hash = base64_decode(text.substr(d2 + 1));
  Credentials c;
  if (!salt || !hash || salt->size() != c.salt_.size() || hash->size() != c.hash_.size()) {
    return std::nullopt;
  }
  c.username_ = std::move(username);
  c.iterations_ = iterations;
  std::copy(salt->begin(), salt->end(), c.salt_.begin());
  std::copy(hash->begin(), hash->end(), c.hash_.begin());
  return c;
}

VerifyMemo::VerifyMemo() {
  if (::getrandom(key_.data(), key_.size(), 0) != static_cast<ssize_t>(key_.size()) &&
      RAND_bytes(key_.data(), static_cast<int>(key_.size())) != 1) {
    throw std::runtime_error("HTTP API: no random bytes for the credentials memo");
  }
}

std::string VerifyMemo::digest(const Credentials& c, std::string_view username,
                               std::string_view password) const {
  std::string text = c.encode();
  text += '\0';
  text.append(username);
  text += '\0';
  text.append(password);
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), out, &len);
  OPENSSL_cleanse(text.data(), text.size());
  return std::string(reinterpret_cast<const char*>(out), len);
}

bool VerifyMemo::verify(const Credentials& c, std::string_view username,
                        std::string_view password) {
  const std::string d = digest(c, username, password);
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mutex_);
    auto it = passed_.find(d);
    if (it != passed_.end()) {
      if (now - it->second < kLife) return true;
      passed_.erase(it);
    }
  }
  if (!c.verify(username, password)) return false;
  std::lock_guard lock(mutex_);
  if (passed_.size() >= kMaxEntries) {
    // The oldest half goes: the entries' ages, sorted, give the cut.
    std::vector<std::chrono::steady_clock::time_point> ages;
    ages.reserve(passed_.size());
    for (const auto& [k, t] : passed_)
      ages.push_back(t);
    std::nth_element(ages.begin(), ages.begin() + static_cast<std::ptrdiff_t>(ages.size() / 2),
                     ages.end());
    const auto cut = ages[ages.size() / 2];
    std::erase_if(passed_, [&](const auto& kv) { return kv.second <= cut; });
  }
  passed_[d] = now;
  return true;
}

std::optional<BasicCredentials> parse_basic_authorization(std::string_view header) {
  auto space = header.find(' ');
  if (space == std::string_view::npos || !iequals(header.substr(0, space), "basic")) {
    return std::nullopt;
  }
  std::string_view token = header.substr(space + 1);
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
    token.remove_suffix(1);
  auto decoded = base64_decode(token);
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) {
    wipe(*decoded);
    return std::nullopt;
  }
  BasicCredentials out{decoded->substr(0, colon), decoded->substr(colon + 1)};
  wipe(*decoded);
  return out;
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                      static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                      static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += kAlphabet[v >> 6 & 63];
    out += kAlphabet[v & 63];
  }
  if (std::size_t rest = in.size() - i; rest > 0) {
    std::uint32_t v = static_cast<std::uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (rest == 2) v |= static_cast<std::uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    out += kAlphabet[v >> 18 & 63];
    out += kAlphabet[v >> 12 & 63];
    out += rest == 2 ? kAlphabet[v >> 6 & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(in.size() / 4 * 3);
  for (std::size_t i = 0; i < in.size(); i += 4) {
    const bool last = i + 4 == in.size();
    int pad = 0;
    if (last && in[i + 3] == '=') pad = in[i + 2] == '=' ? 2 : 1;
    std::uint32_t v = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      if (k >= 4 - static_cast<std::size_t>(pad)) {
        v <<= 6;
        continue;
      }
      int s = sextet(in[i + k]);
      if (s < 0) {
        wipe(out);
        return std::nullopt;  // includes '=' before the end
      }
      v = v << 6 | static_cast<std::uint32_t>(s);
    }
    // Canonical: the bits the padding leaves over must be zero ("QQ==" not "QR==").
    if ((pad == 2 && (v & 0xFFFF) != 0) || (pad == 1 && (v & 0xFF) != 0)) {
      wipe(out);
      return std::nullopt;
    }
    out += static_cast<char>(v >> 16 & 0xFF);
    if (pad < 2) out += static_cast<char>(v >> 8 & 0xFF);
    if (pad < 1) out += static_cast<char>(v & 0xFF);
  }
  return out;
}

void wipe(std::string& secret) {
  if (!secret.empty()) OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace emqxd::api
