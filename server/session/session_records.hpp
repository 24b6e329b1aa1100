#pragma once
// The one conversion between a live Session and its plain form (SessionState): used when a
// session leaves for another node (SessionManager::hand_over), arrives from one
// (SessionManager::install) and comes back from storage (session/restore.cpp); and the
// records that store a whole session (a session arriving from another node is stored
// afresh under this node's uid).
#include <chrono>
#include <cstdint>
#include <functional>

#include "session/session.hpp"
#include "session/session_state.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

// What `s` holds, in plain values: subscriptions, the deliveries in flight (in the order
// sent) then the queued ones, and the QoS 2 packet ids awaiting PUBREL. The messages are
// shared, not copied.
SessionState to_state(Session& s);

// Fills an empty session from `st` (moved from): subscriptions (not routed: the caller
// subscribes them to the broker), queue, in-flight window, awaiting PUBREL (received
// `now`) and the expiry interval. Deliveries keep st's store_seq. A delivery whose packet
// id is already in flight is dropped.
void fill(Session& s, SessionState&& st, std::chrono::steady_clock::time_point now);

// Writes `s` whole into `batch` as a new stored session: it gets a store uid and each
// QoS 1/2 delivery a seq from `next_seq`. `protocol_version` as in SessionRecord.
void store_all(Session& s, std::uint8_t protocol_version, storage::Batch& batch,
               const std::function<std::uint64_t()>& next_seq);

}  // namespace emqxd::session
