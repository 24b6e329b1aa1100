#pragma once
// Counters. Each worker owns one Metrics and is its only writer (relaxed atomics, no
// shared cache line on the hot path); readers sum the workers' copies.
#include <atomic>
#include <cstdint>

namespace emqxd::metrics {

#define EMQXD_COUNTERS(X)               \
  X(bytes_received)                     \
  X(bytes_sent)                         \
  X(packets_received)                   \
  X(packets_sent)                       \
  X(messages_received)                  \
  X(messages_sent)                      \
  X(messages_qos0_received)             \
  X(messages_qos1_received)             \
  X(messages_qos2_received)             \
  X(messages_retained)                  \
  X(messages_delayed)                   \
  X(messages_dropped)                   \
  X(messages_dropped_no_subscribers)    \
  X(messages_dropped_queue_full)        \
  X(messages_dropped_expired)           \
  X(messages_dropped_too_large)         \
  X(messages_dropped_qos0_offline)      \
  X(messages_dropped_no_session)        \
  X(messages_delivered)                 \
  X(messages_forward_received)          \
  X(messages_acked)                     \
  X(publishers_held)                    \
  X(client_connected)                   \
  X(client_disconnected)                \
  X(client_auth_failure)                \
  X(client_takeover)                    \
  X(client_disconnected_force_shutdown) \
  X(client_disconnected_slow_packet)    \
  X(client_rate_limited)                \
  X(session_taken_over_in)              \
  X(session_taken_over_out)             \
  X(connections_refused)                \
  X(connections_refused_rate)           \
  X(connections_refused_per_ip)         \
  X(packets_malformed)                  \
  X(protocol_errors)                    \
  X(session_created)                    \
  X(session_resumed)                    \
  X(session_discarded)                  \
  X(session_expired)                    \
  X(wills_published)                    \
  X(client_flapping_banned)             \
  X(client_banned)                      \
  X(authorization_allow)                \
  X(authorization_deny)                 \
  X(authorization_nomatch)              \
  X(authorization_superuser)            \
  X(authorization_cache_hit)            \
  X(authorization_cache_miss)           \
  X(authorization_matched_allow)        \
  X(authorization_matched_deny)

struct Metrics {
#define EMQXD_DECLARE(name) std::atomic<std::uint64_t> name{0};
  EMQXD_COUNTERS(EMQXD_DECLARE)
#undef EMQXD_DECLARE

  // Gauges the owning worker keeps current.
  std::atomic<std::int64_t> connections{0};
  std::atomic<std::int64_t> sessions{0};
};

inline void inc(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);  // single writer
}

}  // namespace emqxd::metrics
