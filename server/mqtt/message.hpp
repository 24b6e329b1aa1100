#pragma once
// Message: one application message inside the broker. Created once per inbound PUBLISH
// (or will, or $SYS), immutable after that and shared by reference among all the
// sessions it is delivered to; each delivery adds its own packet id, QoS and flags.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/properties.hpp"
#include "mqtt/types.hpp"

namespace emqxd::mqtt {

// v5 properties carried end to end. Absent (nullptr) for most messages, so a plain
// message costs no more than its topic and payload.
struct MessageExtra {
  std::optional<std::uint8_t> payload_format_indicator;
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::string> correlation_data;
  std::vector<UserProperty> user_properties;
};

// Who published a message, for the rules' per-delivery events (message_delivered,
// message_acked, delivery_dropped: from_clientid, from_username and the message's id).
// Attached only while some rule reads one of them, so a message costs nothing more
// otherwise; it travels to peers with the message (proto/cluster.proto: Origin).
struct MessageOrigin {
  std::string id;         // EMQX's message id: 32 hex digits, the same in every event of it
  std::string client_id;  // a rule's republish: the rule's id, as EMQX's `from`
  std::optional<std::string> username;
  std::string republished_by;  // the rule that republished it: its events skip that rule
};

struct Message {
  using Clock = std::chrono::steady_clock;

  std::string topic;
  std::string payload;
  QoS qos = QoS::AtMostOnce;
  bool retain = false;
  // Republished by a rule from a message this many republishes deep (0: not by a rule):
  // the rules' loop guard, for the events of its delivery too (session/worker_rules.cpp).
  std::uint8_t rule_depth = 0;
  std::optional<std::uint32_t> message_expiry_interval;  // seconds, as published
  Clock::time_point received_at{};                       // for expiry arithmetic
  // Unix ms when its origin node received it, for messages whose order must agree across
  // nodes and restarts (retained: last writer wins); 0 = not stamped.
  std::int64_t received_at_ms = 0;
  std::uint64_t publisher = 0;  // session serial of the publisher (No Local); 0 = none
  std::shared_ptr<const MessageExtra> extra;
  std::shared_ptr<const MessageOrigin> origin;  // see MessageOrigin; usually null

  // Seconds left before expiry, or nullopt if the message never expires.
  // Returns 0 when it has expired.
  std::optional<std::uint32_t> remaining_expiry(Clock::time_point now) const {
    if (!message_expiry_interval) return std::nullopt;
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - received_at).count();
    if (elapsed >= static_cast<std::int64_t>(*message_expiry_interval)) return 0u;
    return static_cast<std::uint32_t>(*message_expiry_interval - elapsed);
  }
  bool expired(Clock::time_point now) const {
    auto r = remaining_expiry(now);
    return r && *r == 0;
  }
};

using MessagePtr = std::shared_ptr<const Message>;

// Unix time in milliseconds, for Message::received_at_ms.
inline std::int64_t wall_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace emqxd::mqtt
