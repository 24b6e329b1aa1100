// Hashes, encodings and UUIDs (emqx_rule_funcs.erl, emqx_variform_bif.erl): hashes as
// lower-case hex, bin2hexstr in upper case, base64 with padding, JSON as EMQX's encoder
// writes it (value.hpp).
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>

#include "rules/functions.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string hex(std::string_view bytes, bool upper) {
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out.push_back(digits[b >> 4]);
    out.push_back(digits[b & 15]);
  }
  return out;
}

bool digest(Call& c, Value& out, const EVP_MD* md, std::string_view data) {
  unsigned char buf[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), buf, &n, md, nullptr) != 1) {
    return c.fail("digest failed");
  }
  return c.text_out(out, hex(std::string_view(reinterpret_cast<const char*>(buf), n), false));
}

bool digest(Call& c, Value& out, const EVP_MD* md) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  return digest(c, out, md, *s);
}

// Erlang crypto's names for hash/2, as OpenSSL names them.
const EVP_MD* named_digest(std::string_view name) {
  static constexpr std::pair<std::string_view, const char*> kNames[] = {{"md4", "MD4"},
                                                                        {"md5", "MD5"},
                                                                        {"sha", "SHA1"},
                                                                        {"sha1", "SHA1"},
                                                                        {"sha224", "SHA224"},
                                                                        {"sha256", "SHA256"},
                                                                        {"sha384", "SHA384"},
                                                                        {"sha512", "SHA512"},
                                                                        {"sha3_224", "SHA3-224"},
                                                                        {"sha3_256", "SHA3-256"},
                                                                        {"sha3_384", "SHA3-384"},
                                                                        {"sha3_512", "SHA3-512"},
                                                                        {"shake128", "SHAKE128"},
                                                                        {"shake256", "SHAKE256"},
                                                                        {"blake2b", "BLAKE2B-512"},
                                                                        {"blake2s", "BLAKE2S-256"}};
  for (const auto& [erlang, openssl] : kNames) {
    if (erlang == name) return EVP_get_digestbyname(openssl);
  }
  return nullptr;
}

int hex_value(char h) {
  if (h >= '0' && h <= '9') return h - '0';
  if (h >= 'a' && h <= 'f') return h - 'a' + 10;
  if (h >= 'A' && h <= 'F') return h - 'A' + 10;
  return -1;
}

bool uuid(Call& c, Value& out, bool hyphens) {
  std::array<unsigned char, 16> b{};
  if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1) return c.fail("no randomness");
  b[6] = static_cast<unsigned char>((b[6] & 0x0F) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3F) | 0x80);  // RFC 4122 variant
  std::string h = hex(std::string_view(reinterpret_cast<const char*>(b.data()), b.size()), false);
  if (hyphens) {
    for (std::size_t at : {8, 13, 18, 23})
      h.insert(at, 1, '-');
  }
  return c.text_out(out, std::move(h));
}

}  // namespace

bool md5_(Call& c, Value& out) {
  return digest(c, out, EVP_md5());
}
bool sha_(Call& c, Value& out) {
  return digest(c, out, EVP_sha1());
}
bool sha256_(Call& c, Value& out) {
  return digest(c, out, EVP_sha256());
}

// hash(Algorithm, Data): any of crypto's hashes, lower-case hex; an atom hashes its name.
bool hash_(Call& c, Value& out) {
  auto name = c.str(0);
  auto data = c.text(1);
  if (!name || !data) return c.badarg();
  const EVP_MD* md = named_digest(*name);
  if (md == nullptr) return c.fail("unknown hash algorithm");
  return digest(c, out, md, *data);
}

bool base64_encode_(Call& c, Value& out) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  std::string r;
  r.reserve((s->size() + 2) / 3 * 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : *s) {
    acc = (acc << 8) | static_cast<unsigned char>(ch);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      r.push_back(kAlphabet[(acc >> bits) & 63]);
    }
  }
  if (bits > 0) r.push_back(kAlphabet[(acc << (6 - bits)) & 63]);
  while (r.size() % 4 != 0)
    r.push_back('=');
  return c.text_out(out, std::move(r));
}

// Erlang's base64:decode/1: the standard alphabet, padded to a multiple of 4.
bool base64_decode_(Call& c, Value& out) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  std::string_view in(*s);
  if (in.size() % 4 != 0) return c.badarg();
  std::size_t pad = 0;
  while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=')
    ++pad;
  in.remove_suffix(pad);
  std::string r;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : in) {
    const std::size_t v = kAlphabet.find(ch);
    if (v == std::string_view::npos) return c.badarg();
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      r.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return c.text_out(out, std::move(r));
}

bool json_encode_(Call& c, Value& out) {
  return c.text_out(out, json_encode(c[0]));
}

bool json_decode_(Call& c, Value& out) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  if (!c.charge(s->size())) return false;
  auto v = json_decode(*s);
  if (!v) return c.fail("not JSON");
  out = std::move(*v);
  return true;
}

bool bin2hexstr_(Call& c, Value& out) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  return c.text_out(out, hex(*s, true));
}

// An odd count of digits reads as if led by a 0 (EMQX would keep a 4-bit bitstring).
bool hexstr2bin_(Call& c, Value& out) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  std::string_view in(*s);
  std::string r;
  std::size_t i = 0;
  if (in.size() % 2 == 1) {
    const int v = hex_value(in[0]);
    if (v < 0) return c.badarg();
    r.push_back(static_cast<char>(v));
    i = 1;
  }
  for (; i < in.size(); i += 2) {
    const int hi = hex_value(in[i]);
    const int lo = hex_value(in[i + 1]);
    if (hi < 0 || lo < 0) return c.badarg();
    r.push_back(static_cast<char>(hi * 16 + lo));
  }
  return c.text_out(out, std::move(r));
}

bool uuid_v4_(Call& c, Value& out) {
  return uuid(c, out, true);
}
bool uuid_v4_no_hyphen_(Call& c, Value& out) {
  return uuid(c, out, false);
}

}  // namespace emqxd::rules::fn
