#include "net/admission.hpp"

#include <algorithm>

namespace emqxd::net {

Admission::Admission(const config::ListenerConfig& cfg)
    : max_connections_(cfg.max_connections),
      rate_count_(cfg.max_conn_rate_count),
      rate_period_(cfg.max_conn_rate_period),
      max_per_ip_(cfg.max_conn_per_ip),
      authn_mode_(cfg.enable_authn),
      messages_rate_(cfg.messages_rate),
      bytes_rate_(cfg.bytes_rate),
      listener_(cfg.type + ":" + cfg.name),
      tokens_(static_cast<double>(cfg.max_conn_rate_count)) {}

Admission::Verdict Admission::admit(const std::string& ip,
                                    std::chrono::steady_clock::time_point now) {
  if (count_.fetch_add(1, std::memory_order_relaxed) >= max_connections_) {
    count_.fetch_sub(1, std::memory_order_relaxed);
    return Verdict::MaxConnections;
  }
  if (rate_count_ == 0 && max_per_ip_ == 0) return Verdict::Admitted;
  std::lock_guard lock(mutex_);
  if (rate_count_ != 0) {
    if (refilled_ == std::chrono::steady_clock::time_point{}) refilled_ = now;
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    const double per_second = rate_count_ / std::chrono::duration<double>(rate_period_).count();
    tokens_ = std::min<double>(rate_count_, tokens_ + elapsed * per_second);
    refilled_ = now;
    if (tokens_ < 1) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      return Verdict::Rate;
    }
  }
  if (max_per_ip_ != 0) {
    auto& n = per_ip_[ip];
    if (n >= max_per_ip_) {
      count_.fetch_sub(1, std::memory_order_relaxed);
      return Verdict::PerIp;
    }
    ++n;
  }
  if (rate_count_ != 0) tokens_ -= 1;
  return Verdict::Admitted;
}

void Admission::release(const std::string& peer) {
  count_.fetch_sub(1, std::memory_order_relaxed);
  if (max_per_ip_ == 0) return;
  // "ip:port", or "unknown" (the listener used the same text as the key).
  std::string ip = peer.substr(0, peer.rfind(':'));
  std::lock_guard lock(mutex_);
  auto it = per_ip_.find(ip);
  if (it == per_ip_.end()) return;
  if (--it->second == 0) per_ip_.erase(it);
}

}  // namespace emqxd::net
