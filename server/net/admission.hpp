#pragma once
// Admission: who a listener lets in. Shared by the listener's acceptors (one per worker)
// and its connections, so every check is node-wide for that listener:
//
//  - max_connections: connections open at once (a relaxed atomic count);
//  - max_conn_rate (EMQX's key, "1000/s", "50/10s", infinity): a token bucket holding at
//    most one period's worth, refilled continuously; a connection that finds it empty is
//    closed at accept and counted (connections.refused.rate);
//  - max_conn_per_ip (emqxd's key, infinity by default): connections open at once from
//    one source address, counted in a map (connections.refused.per_ip).
//
// It also carries the listener's limits per client, messages_rate and bytes_rate, to the
// connections it admits (net/connection.cpp: each connection has its own buckets).
//
// The rate and the per-address count take one mutex, only when configured; accepting is
// rare next to publishing, and nothing on the publish path touches this.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "config/config.hpp"

namespace emqxd::net {

class Admission {
 public:
  enum class Verdict { Admitted, MaxConnections, Rate, PerIp };

  explicit Admission(const config::ListenerConfig& cfg);

  // A connection from `ip` (its source address as text, as in Connection::peer) was
  // accepted at `now`: Admitted counts it in (release() counts it out); anything else
  // refuses it and counts nothing. Any thread.
  Verdict admit(const std::string& ip, std::chrono::steady_clock::time_point now);
  // The connection admitted from `peer` ("ip:port", as Connection::peer) is gone.
  void release(const std::string& peer);

  std::uint32_t connections() const { return count_.load(std::memory_order_relaxed); }
  std::uint32_t max_connections() const { return max_connections_; }
  // The listener's enable_authn, for the connections it admits.
  config::AuthnMode authn_mode() const { return authn_mode_; }
  // The listener's messages_rate and bytes_rate, for each connection's own buckets.
  const config::Rate& messages_rate() const { return messages_rate_; }
  const config::Rate& bytes_rate() const { return bytes_rate_; }
  // "tcp:default": the listener's id, as the API names it.
  const std::string& listener() const { return listener_; }

 private:
  const std::uint32_t max_connections_;
  const std::uint32_t rate_count_;  // 0 = no rate limit
  const std::chrono::milliseconds rate_period_;
  const std::uint32_t max_per_ip_;  // 0 = no limit
  const config::AuthnMode authn_mode_;
  const config::Rate messages_rate_;
  const config::Rate bytes_rate_;
  const std::string listener_;
  std::atomic<std::uint32_t> count_{0};

  std::mutex mutex_;
  double tokens_ = 0;                                      // guarded by mutex_
  std::chrono::steady_clock::time_point refilled_{};       // guarded by mutex_
  std::unordered_map<std::string, std::uint32_t> per_ip_;  // guarded by mutex_
};

}  // namespace emqxd::net
