#pragma once
// The records storage keeps, as plain values (no RocksDB here), and the clock arithmetic
// that turns the broker's steady-clock times into wall-clock times that mean something
// after a restart. Layout and guarantees: storage/store.hpp.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::storage {

// The two clocks read at one moment. The broker times messages on the steady clock, which
// restarts with the machine; storage keeps Unix milliseconds. Taking "now" as a value
// keeps the conversions testable and lets one batch convert all its times alike.
struct ClockPair {
  mqtt::Message::Clock::time_point steady{};
  std::int64_t wall_ms = 0;  // Unix time in milliseconds

  static ClockPair now();
};

// `t` on the wall clock, in Unix ms.
std::int64_t to_wall_ms(mqtt::Message::Clock::time_point t, const ClockPair& now);
// Unix ms `wall_ms` on the steady clock. Saturates rather than overflow for absurd values.
mqtt::Message::Clock::time_point to_steady(std::int64_t wall_ms, const ClockPair& now);

// When `m` expires, in Unix ms: received_at + message_expiry_interval; nullopt = never.
std::optional<std::int64_t> wall_expiry_ms(const mqtt::Message& m, const ClockPair& now);

// The inverse: sets m.received_at and m.message_expiry_interval so that m.expired() and
// m.remaining_expiry() answer on the steady clock what the wall times say. An expiry
// before the receive time counts as already expired (interval 0).
void set_wall_times(mqtt::Message& m, std::int64_t received_at_ms,
                    std::optional<std::int64_t> expires_at_ms, const ClockPair& now);

// A session that outlives its connection. Keyed by uid, a node-unique serial the core
// assigns; a session replaced by a clean start gets a new uid (erase the old one in the
// same batch). uid 2^64-1 is reserved.
struct SessionRecord {
  std::string client_id;
  std::uint64_t uid = 0;
  std::uint32_t expiry_interval = 0;    // seconds; 0xFFFFFFFF never expires
  std::int64_t disconnected_at_ms = 0;  // Unix ms; 0 = connected (when the node stopped)
  std::uint8_t proto_ver = 0;           // mqtt::ProtocolVersion: 3, 4 or 5

  bool operator==(const SessionRecord&) const = default;
};

// One subscription of a session, keyed by (uid, filter as the client sent it, "$share/..."
// included).
struct SubscriptionRecord {
  std::uint64_t uid = 0;
  std::string filter;
  mqtt::SubscribeOptions options;
  std::uint32_t subscription_id = 0;  // 0 = none

  bool operator==(const SubscriptionRecord&) const = default;
};

// The subscription options in one byte, as MQTT 5 SUBSCRIBE writes them (section 3.8.3.1):
// bits 0-1 maximum QoS, 2 No Local, 3 Retain As Published, 4-5 Retain Handling; and bit 6,
// reserved by MQTT, for SubscribeOptions::exclusive.
std::uint8_t encode_options(const mqtt::SubscribeOptions& o);
// nullopt when bit 7 is set or QoS / Retain Handling is 3.
std::optional<mqtt::SubscribeOptions> decode_options(std::uint8_t byte);

// Where a delivery stands. Queued: not sent yet (packet_id 0). The others are the QoS 1/2
// handshake states of a message sent and not yet acknowledged.
enum class OutState : std::uint8_t { Queued = 0, WaitPubAck = 1, WaitPubRec = 2, WaitPubComp = 3 };

// One message on its way to a session's client: queued or in flight. Keyed by (uid, seq);
// seq comes from Store::next_seq(), so a session's deliveries load in the order queued.
struct DeliveryRecord {
  std::uint64_t uid = 0;
  std::uint64_t seq = 0;
  // Topic, payload, QoS and RETAIN as published, the v5 extras and the expiry. Shared,
  // not copied, when writing; a fresh message when loaded (publisher is not kept: No Local
  // was decided before the message was queued).
  mqtt::MessagePtr msg;
  mqtt::QoS qos = mqtt::QoS::AtMostOnce;  // effective QoS of this delivery
  bool retain = false;                    // the RETAIN flag to send
  std::vector<std::uint32_t> subscription_ids;
  std::string share;            // "$share/group/filter" when it came through one, else empty
  std::uint16_t packet_id = 0;  // 0 = not sent yet
  OutState state = OutState::Queued;
};

// A QoS 2 packet id received (PUBREC sent) and not yet released by PUBREL.
struct AwaitingRelRecord {
  std::uint64_t uid = 0;
  std::uint16_t packet_id = 0;
  std::int64_t received_at_ms = 0;  // Unix ms

  bool operator==(const AwaitingRelRecord&) const = default;
};

}  // namespace emqxd::storage
