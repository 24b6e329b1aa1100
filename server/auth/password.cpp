#include "auth/password.hpp"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <vector>

namespace emqxd::auth {

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[p[i] >> 4];
    out[2 * i + 1] = kDigits[p[i] & 0xF];
  }
  return out;
}

const EVP_MD* digest_named(std::string_view name) {
  if (name == "md5") return EVP_md5();
  if (name == "sha") return EVP_sha1();
  if (name == "sha224") return EVP_sha224();
  if (name == "sha256") return EVP_sha256();
  if (name == "sha384") return EVP_sha384();
  if (name == "sha512") return EVP_sha512();
  if (name == "md4" || name == "ripemd160")  // only where OpenSSL's providers have them
    return EVP_get_digestbyname(std::string(name).c_str());
  return nullptr;
}

std::string digest_hex(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) return {};
  return hex(out, n);
}

std::string simple_hash(const PasswordAlgorithm& a, std::string_view salt,
                        std::string_view password) {
  std::string data;
  switch (a.salt_position) {
    case PasswordAlgorithm::SaltPosition::Disable:
      data = password;
      break;
    case PasswordAlgorithm::SaltPosition::Prefix:
      data.append(salt).append(password);
      break;
    case PasswordAlgorithm::SaltPosition::Suffix:
      data.append(password).append(salt);
      break;
  }
  switch (a.name) {
    case PasswordAlgorithm::Name::Plain:
      return data;
    case PasswordAlgorithm::Name::Md5:
      return digest_hex(EVP_md5(), data);
    case PasswordAlgorithm::Name::Sha:
      return digest_hex(EVP_sha1(), data);
    case PasswordAlgorithm::Name::Sha256:
      return digest_hex(EVP_sha256(), data);
    case PasswordAlgorithm::Name::Sha512:
      return digest_hex(EVP_sha512(), data);
    default:
      return {};
  }
}

std::string pbkdf2_hash(const PasswordAlgorithm& a, std::string_view salt,
                        std::string_view password) {
  const EVP_MD* md = digest_named(a.mac_fun);
  if (md == nullptr || a.iterations < 1) return {};
  const int len = a.dk_length > 0 ? a.dk_length : EVP_MD_get_size(md);
  std::vector<unsigned char> out(static_cast<std::size_t>(len));
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                        reinterpret_cast<const unsigned char*>(salt.data()),
                        static_cast<int>(salt.size()), a.iterations, md, len, out.data()) != 1)
    return {};
  return hex(out.data(), out.size());
}

// crypt(3) with `setting` (a salt "$2b$10$..." or a whole stored hash); empty on failure.
std::string bcrypt_hash(std::string_view password, std::string_view setting) {
  if (setting.rfind("$2", 0) != 0) return {};  // bcrypt only, never DES or MD5-crypt
  // crypt_r reads NUL-terminated strings: a password with a NUL in it cannot be hashed.
  if (password.find('\0') != std::string_view::npos) return {};
  auto data = std::make_unique<crypt_data>();
  std::memset(data.get(), 0, sizeof(crypt_data));
  const char* h = crypt_r(std::string(password).c_str(), std::string(setting).c_str(), data.get());
  if (h == nullptr || h[0] == '*') return {};  // "*0"/"*1": libxcrypt's failure tokens
  return h;
}

std::string random_hex_salt() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) throw std::runtime_error("RAND_bytes failed");
  return hex(b, sizeof b);
}

}  // namespace

std::optional<PasswordAlgorithm::Name> PasswordAlgorithm::name_of(std::string_view text) {
  if (text == "plain") return Name::Plain;
  if (text == "md5") return Name::Md5;
  if (text == "sha") return Name::Sha;
  if (text == "sha256") return Name::Sha256;
  if (text == "sha512") return Name::Sha512;
  if (text == "bcrypt") return Name::Bcrypt;
  if (text == "pbkdf2") return Name::Pbkdf2;
  return std::nullopt;
}

std::string PasswordAlgorithm::problem() const {
  if (name == Name::Pbkdf2) {
    if (digest_named(mac_fun) == nullptr)
      return "mac_fun " + mac_fun + " is not available (md5, sha, sha224, sha256, sha384, sha512)";
    if (iterations < 1) return "iterations must be at least 1";
    if (dk_length < 0 || dk_length > 1024) return "dk_length must be 1 to 1024 bytes";
  }
  if (name == Name::Bcrypt && (salt_rounds < 5 || salt_rounds > 10))
    return "salt_rounds must be 5 to 10";
  return {};
}

bool equal_secure(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool check_password(const PasswordAlgorithm& a, std::string_view salt, std::string_view stored_hash,
                    std::string_view password) {
  std::string computed;
  switch (a.name) {
    case PasswordAlgorithm::Name::Bcrypt:
      computed = bcrypt_hash(password, stored_hash);
      break;
    case PasswordAlgorithm::Name::Pbkdf2:
      computed = pbkdf2_hash(a, salt, password);
      break;
    default:
      computed = simple_hash(a, salt, password);
      break;
  }
  if (computed.empty() && !(a.name == PasswordAlgorithm::Name::Plain && stored_hash.empty()))
    return false;
  return equal_secure(computed, stored_hash);
}

StoredPassword hash_password(const PasswordAlgorithm& a, std::string_view password) {
  StoredPassword out;
  switch (a.name) {
    case PasswordAlgorithm::Name::Bcrypt: {
      char setting[CRYPT_GENSALT_OUTPUT_SIZE];
      const int rounds = std::clamp(a.salt_rounds, 5, 10);
      if (crypt_gensalt_rn("$2b$", static_cast<unsigned long>(rounds), nullptr, 0, setting,
                           sizeof setting) == nullptr)
        throw std::runtime_error("crypt_gensalt_rn failed");
      out.hash = bcrypt_hash(password, setting);
      if (out.hash.empty()) throw std::runtime_error("bcrypt cannot hash this password");
      out.salt = out.hash;  // as EMQX: the hash carries its salt
      return out;
    }
    case PasswordAlgorithm::Name::Pbkdf2:
      out.salt = random_hex_salt();
      out.hash = pbkdf2_hash(a, out.salt, password);
      return out;
    default:
      if (a.salt_position != PasswordAlgorithm::SaltPosition::Disable)
        out.salt = a.name == PasswordAlgorithm::Name::Plain ? std::string{} : random_hex_salt();
      out.hash = simple_hash(a, out.salt, password);
      return out;
  }
}

}  // namespace emqxd::auth
