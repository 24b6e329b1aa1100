#pragma once
// WorkerStats: what one worker counts, written only by its thread and read by the main
// thread for progress lines and the summary. Counter is a relaxed atomic bumped with
// load+store: one writer, so no locked instruction on the hot path.
#include <atomic>
#include <cstdint>

#include "histogram.hpp"

namespace emqxd::bench {

class Counter {
 public:
  void add(std::uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { v_.store(n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct alignas(64) WorkerStats {
  // Connections.
  Counter connecting;                // TCP connect started
  Counter connected;                 // CONNACK accepted
  Counter conn_failed;               // refused, timed out, or TCP failed before CONNACK
  Counter conn_lost;                 // closed by the broker or the network after CONNACK
  Counter subscribed;                // SUBACK with every filter granted
  Counter sub_failed;                // SUBACK refused a filter
  Counter subs_settled;              // subscribers that are subscribed or failed for good
  Counter pubs_settled;              // publishers done (limit reached / stopped) or failed
  LatencyHistogram connect_latency;  // TCP connect start -> CONNACK

  // Publishing.
  Counter sent;            // PUBLISH written to the socket buffer
  Counter acked;           // PUBACK / PUBCOMP received
  Counter pub_errors;      // acks with a failure reason code
  Counter inflight;        // QoS 1/2 PUBLISH awaiting their ack (gauge)
  Counter unsettled_pubs;  // gauge during the drain: publishers with acks or bytes pending
  std::atomic<std::int64_t> first_sent_ns{0};  // monotonic
  std::atomic<std::int64_t> last_sent_ns{0};

  // Receiving.
  Counter received;          // PUBLISH received (every copy)
  Counter foreign;           // payloads without a bench header
  Counter negative_latency;  // send time after receive time: clocks differ across hosts
  LatencyHistogram latency;  // end to end, CLOCK_REALTIME
  std::atomic<std::int64_t> first_recv_ns{0};  // monotonic
  std::atomic<std::int64_t> last_recv_ns{0};

  Counter finals_expected;  // pubsub: sum of matching_subs of publishers that sent a final
  Counter finals_received;  // first final message of a stream, per subscriber
  Counter protocol_errors;  // unexpected packet ids, malformed packets from the broker
};

}  // namespace emqxd::bench
