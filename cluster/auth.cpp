#include "cluster/auth.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <charconv>
#include <stdexcept>

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

}  // namespace emqxd::cluster
