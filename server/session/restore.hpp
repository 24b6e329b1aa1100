#pragma once
// Restoring a node from its storage at start-up: durable sessions come back offline on the
// workers, with their subscriptions routed, their queued and in-flight deliveries, and the
// QoS 2 packet ids awaiting PUBREL; retained messages go back to the retainer. Expired
// sessions and messages are erased instead. Runs before the workers start.
#include "session/node_state.hpp"
#include "storage/store.hpp"

namespace emqxd::session {

storage::LoadSummary restore(NodeState& node);
// The delayed messages kept in the store (session/delayed.hpp), back into node.delayed,
// all on worker 0 (late ones fire as soon as the workers run); unreadable records are
// erased. Returns how many came back.
std::size_t restore_delayed(NodeState& node);

}  // namespace emqxd::session
