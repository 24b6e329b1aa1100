#pragma once
// The byte layout of storage keys and values (format version 1; store.hpp has the table).
// Keys sort as the loader needs them: uids and seqs are big-endian, so a session's records
// are one contiguous range and its deliveries come in seq order.
//
// Values start with a version byte, then varints (LEB128; signed ones zigzagged) and
// length-prefixed bytes. Decoding checks every length against what is left and every
// enum and reserved bit, and wants the value used up exactly: a truncated or corrupt
// value is a Status::Corruption naming what is wrong, never a crash or a huge allocation.
// A newer version is refused the same way, so an older emqxd never misreads it.
//
// Encoders append to `out`; decoders fill `out` only as far as the value is good.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "storage/records.hpp"
#include "storage/status.hpp"

namespace emqxd::storage::encoding {

inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kUidSize = 8;
inline constexpr char kStateSuffix = 's';  // delivery key + 's' = its state update

// ------------------------------------------------------------------------------ keys

void put_be64(std::string& out, std::uint64_t v);
void put_be16(std::string& out, std::uint16_t v);
std::uint64_t get_be64(std::string_view in);  // in.size() >= 8
std::uint16_t get_be16(std::string_view in);  // in.size() >= 2

// sessions: uid.
void session_key(std::string& out, std::uint64_t uid);
// subscriptions: uid + filter bytes.
void subscription_key(std::string& out, std::uint64_t uid, std::string_view filter);
// deliveries: uid + seq; the state update of a delivery: uid + seq + 's'.
void delivery_key(std::string& out, std::uint64_t uid, std::uint64_t seq);
void delivery_state_key(std::string& out, std::uint64_t uid, std::uint64_t seq);
// awaiting_rel: uid + packet id.
void awaiting_rel_key(std::string& out, std::uint64_t uid, std::uint16_t packet_id);
// kv: one byte of namespace length, the namespace, the key. Namespaces are short names
// chosen in code ("authn", "banned"); longer than 255 bytes is a programming error.
void kv_key(std::string& out, std::string_view ns, std::string_view key);
void kv_prefix(std::string& out, std::string_view ns);

// The uid a sessions/subscriptions/deliveries/awaiting_rel key starts with; nullopt if the
// key is too short to hold one.
std::optional<std::uint64_t> key_uid(std::string_view key);

// ---------------------------------------------------------------------------- values

// A message: topic, payload, QoS, RETAIN, v5 extras; received_at and the expiry on the
// wall clock (converted with `now`). Used for deliveries and retained messages.
void encode_message(const mqtt::Message& m, const ClockPair& now, std::string& out);
Status decode_message(std::string_view in, const ClockPair& now, mqtt::MessagePtr& out);

void encode_session(const SessionRecord& s, std::string& out);
Status decode_session(std::string_view in, SessionRecord& out);  // all but uid (the key)

void encode_subscription(const SubscriptionRecord& s, std::string& out);
Status decode_subscription(std::string_view in, SubscriptionRecord& out);  // options, id

void encode_delivery(const DeliveryRecord& d, const ClockPair& now, std::string& out);
Status decode_delivery(std::string_view in, const ClockPair& now,
                       DeliveryRecord& out);  // all but uid and seq

void encode_delivery_state(std::uint16_t packet_id, OutState state, std::string& out);
Status decode_delivery_state(std::string_view in, std::uint16_t& packet_id, OutState& state);

void encode_awaiting_rel(std::int64_t received_at_ms, std::string& out);
Status decode_awaiting_rel(std::string_view in, std::int64_t& received_at_ms);

}  // namespace emqxd::storage::encoding
