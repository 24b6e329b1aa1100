#include "cluster/auth.hpp"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>
#include <stdexcept>
#include <vector>

namespace emqxd::cluster {

namespace {

constexpr std::string_view kKeyLabel = "emqxd cluster v1";

std::string hex(const unsigned char* p, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out(n * 2, '0');
  for (std::size_t i = 0; i < n; ++i) {
    out[2 * i] = digits[p[i] >> 4];
    out[2 * i + 1] = digits[p[i] & 0xF];
  }
  return out;
}

bool is_hex(std::string_view s, std::size_t len) {
  if (s.size() != len) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// Two hex MACs of the same length, compared in constant time.
bool same_mac(std::string_view a, std::string_view b) {
  return a.size() == b.size() && a.size() == 64 && CRYPTO_memcmp(a.data(), b.data(), 64) == 0;
}

}  // namespace

std::string_view to_string(CallAuth::Verdict v) {
  switch (v) {
    case CallAuth::Verdict::Ok:
      return "ok";
    case CallAuth::Verdict::Malformed:
      return "no or malformed credentials";
    case CallAuth::Verdict::Stale:
      return "timestamp outside the window (clocks apart?)";
    case CallAuth::Verdict::BadMac:
      return "bad MAC (another node.cookie?)";
    case CallAuth::Verdict::NotForUs:
      return "signed for another node";
    case CallAuth::Verdict::Replayed:
      return "replayed nonce";
  }
  return "?";
}

CallAuth::CallAuth(std::string_view cookie, std::string cluster, std::string self_id,
                   std::chrono::milliseconds window, std::size_t max_nonces)
    : cluster_(std::move(cluster)),
      self_(std::move(self_id)),
      window_ms_(window.count()),
      max_nonces_(std::max<std::size_t>(max_nonces, 1)) {
  unsigned int len = sizeof key_;
  // A zero-length key is valid HMAC; OpenSSL wants a non-null pointer for it.
  static const unsigned char none = 0;
  const void* k = cookie.empty() ? static_cast<const void*>(&none) : cookie.data();
  if (HMAC(EVP_sha256(), k, static_cast<int>(cookie.size()),
           reinterpret_cast<const unsigned char*>(kKeyLabel.data()), kKeyLabel.size(), key_,
           &len) == nullptr ||
      len != sizeof key_) {
    throw std::runtime_error("cluster: HMAC-SHA256 is not available");
  }
}

// HMAC(K, each field as a 4-byte big-endian length and its bytes): no two lists of
// fields give the same input.
std::string CallAuth::mac(std::initializer_list<std::string_view> fields) const {
  std::string input;
  for (auto f : fields) {
    const auto n = static_cast<std::uint32_t>(f.size());
    input.push_back(static_cast<char>(n >> 24));
    input.push_back(static_cast<char>(n >> 16));
    input.push_back(static_cast<char>(n >> 8));
    input.push_back(static_cast<char>(n));
    input.append(f);
  }
  unsigned char out[32];
  unsigned int len = sizeof out;
  HMAC(EVP_sha256(), key_, sizeof key_, reinterpret_cast<const unsigned char*>(input.data()),
       input.size(), out, &len);
  return hex(out, sizeof out);
}

CallProof CallAuth::sign(std::string_view method, std::string_view to, std::int64_t now_ms) const {
  CallProof p;
  p.node = self_;
  p.to = std::string(to);
  p.time = std::to_string(now_ms);
  unsigned char nonce[16];
  if (RAND_bytes(nonce, sizeof nonce) != 1) {
    // No randomness: a nonce the server refuses as malformed, so the call fails cleanly.
    p.nonce = "unavailable";
  } else {
    p.nonce = hex(nonce, sizeof nonce);
  }
  p.mac = mac({"call", cluster_, method, p.node, p.to, p.time, p.nonce});
  return p;
}

CallAuth::Verdict CallAuth::verify(std::string_view method, const CallProof& p,
                                   std::int64_t now_ms) {
  std::int64_t t = 0;
  auto [end, ec] = std::from_chars(p.time.data(), p.time.data() + p.time.size(), t);
  if (p.node.empty() || p.time.empty() || ec != std::errc{} ||
      end != p.time.data() + p.time.size() || !is_hex(p.nonce, 32) || !is_hex(p.mac, 64)) {
    return Verdict::Malformed;
  }
  if (t < now_ms - window_ms_ || t > now_ms + window_ms_) return Verdict::Stale;
  if (!same_mac(mac({"call", cluster_, method, p.node, p.to, p.time, p.nonce}), p.mac)) {
    return Verdict::BadMac;
  }
  if (p.to != self_) return Verdict::NotForUs;
  std::lock_guard lock(mutex_);
  if (t <= floor_ms_) return Verdict::Stale;
  while (!order_.empty() && order_.front().time_ms < now_ms - window_ms_) {
    seen_.erase(order_.front().nonce);
    order_.pop_front();
  }
  if (seen_.count(p.nonce) != 0) return Verdict::Replayed;
  while (order_.size() >= max_nonces_) {
    floor_ms_ = std::max(floor_ms_, order_.front().time_ms);
    seen_.erase(order_.front().nonce);
    order_.pop_front();
  }
  if (t <= floor_ms_) return Verdict::Stale;
  seen_.insert(p.nonce);
  order_.push_back({t, p.nonce});
  return Verdict::Ok;
}

std::string CallAuth::server_proof(std::string_view method, std::string_view caller_nonce) const {
  return mac({"server", cluster_, method, self_, caller_nonce});
}

bool CallAuth::check_server_proof(std::string_view method, std::string_view expected,
                                  std::string_view server_node, std::string_view caller_nonce,
                                  std::string_view m) const {
  if (server_node != expected || !is_hex(m, 64)) return false;
  return same_mac(mac({"server", cluster_, method, server_node, caller_nonce}), m);
}

std::size_t CallAuth::nonces_for_test() const {
  std::lock_guard lock(mutex_);
  return seen_.size();
}

namespace {

std::string asn1_text(const ASN1_STRING* s) {
  if (s == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool cert_names_node(std::string_view pem, std::string_view node_id) {
  const auto at = node_id.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= node_id.size()) return false;
  const std::string host(node_id.substr(at + 1));
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(std::min<std::size_t>(pem.size(), INT32_MAX))),
      &BIO_free);
  if (!bio) return false;
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), &X509_free);
  if (!cert) return false;

  // The full node names it carries: CN and email SANs that hold an '@'.
  std::vector<std::string> names;
  std::vector<std::string> hosts;  // DNS SANs, and IP SANs as text
  std::string cn;
  if (X509_NAME* subject = X509_get_subject_name(cert.get())) {
    int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) cn = asn1_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
  }
  if (cn.find('@') != std::string::npos) names.push_back(cn);
  bool has_san = false;
  std::unique_ptr<GENERAL_NAMES, void (*)(GENERAL_NAMES*)> sans(
      static_cast<GENERAL_NAMES*>(
          X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)),
      [](GENERAL_NAMES* g) { GENERAL_NAMES_free(g); });
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans.get()); ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(sans.get(), i);
      has_san = true;
      if (g->type == GEN_EMAIL) {
        names.push_back(asn1_text(g->d.rfc822Name));
      } else if (g->type == GEN_DNS) {
        hosts.push_back(asn1_text(g->d.dNSName));
      }
    }
  }
  if (!names.empty()) {
    return std::any_of(names.begin(), names.end(),
                       [&](const std::string& n) { return iequal(n, node_id); });
  }
  // By host: an IP SAN through OpenSSL's own comparison (any textual form of the address),
  // a DNS SAN exactly (no wildcards: a node certificate names its machine).
  if (X509_check_ip_asc(cert.get(), host.c_str(), 0) == 1) return true;
  if (std::any_of(hosts.begin(), hosts.end(),
                  [&](const std::string& h) { return iequal(h, host); })) {
    return true;
  }
  return !has_san && !cn.empty() && iequal(cn, host);
}

}  // namespace emqxd::cluster
