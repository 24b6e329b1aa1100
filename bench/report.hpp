#pragma once
// Summary: the result of a run, printed as text or as one line of JSON (--json), and the
// per-second progress line. The JSON keys are the same for every mode (zero where they do
// not apply), so scripts can read any run the same way; bench/README.md lists them.
#include <cstdint>
#include <string>

#include "histogram.hpp"
#include "options.hpp"

namespace emqxd::bench {

struct Summary {
  Mode mode = Mode::Pub;
  int version = 5;
  int qos = 0;
  int sub_qos = 0;
  std::uint32_t size = 0;
  std::uint32_t threads = 0;
  double elapsed_s = 0;
  std::string stop_reason;  // "limit", "duration", "idle", "interrupted", "failed"

  std::uint32_t publishers = 0;
  std::uint32_t subscribers = 0;
  std::uint32_t connections = 0;  // clients of every role
  std::uint64_t connected = 0;
  std::uint64_t conn_failed = 0;
  std::uint64_t conn_lost = 0;
  std::uint64_t sub_failed = 0;
  std::uint64_t not_connected = 0;  // neither connected nor failed when the run ended
  HistogramSnapshot connect_latency;

  std::uint64_t sent = 0;
  std::uint64_t acked = 0;
  std::uint64_t pub_errors = 0;
  std::uint64_t unacked = 0;
  double sent_rate = 0;  // msgs/s between the first and the last message sent

  std::uint64_t received = 0;
  double recv_rate = 0;  // msgs/s between the first and the last message received
  std::uint64_t foreign = 0;
  std::uint64_t negative_latency = 0;
  HistogramSnapshot latency;

  bool tracked = false;       // loss accounting ran (no shared subscription)
  std::uint64_t streams = 0;  // (subscriber, publisher stream) pairs
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t out_of_order = 0;
  std::uint64_t lost_qos0 = 0;        // part of `lost` delivered at QoS 0 (allowed)
  std::uint64_t duplicated_qos0 = 0;  // part of `duplicated` delivered at QoS 0
  std::uint64_t protocol_errors = 0;

  bool expect_no_loss = false;
  bool ok() const;
};

std::string to_json(const Summary& s);
std::string to_text(const Summary& s);

// "85.3us", "1.25ms", "2.0s": a latency for people.
std::string format_ns(std::uint64_t ns);

}  // namespace emqxd::bench
