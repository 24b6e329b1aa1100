#pragma once
// SessionState: a session in plain values, what MQTT says outlives a connection: the form
// in which it moves between nodes in a takeover (proto/cluster.proto, SessionState) and in
// which it comes back from storage (session/session_records.hpp converts). And the
// SessionDirectory, which the cluster implements: who owns a client id in the cluster.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"
#include "session/exclusive.hpp"
#include "storage/records.hpp"

namespace emqxd::session {

struct SessionState {
  struct Subscription {
    std::string filter;  // as subscribed, $share/... included
    mqtt::SubscribeOptions options;
    std::uint32_t subscription_id = 0;
  };
  struct Delivery {
    // Queued (not sent), WaitPubAck / WaitPubRec (sent, not acknowledged: resent with DUP
    // and this packet id), or WaitPubComp (PUBREC received: only the PUBREL is owed).
    storage::OutState state = storage::OutState::Queued;
    std::uint16_t packet_id = 0;
    mqtt::QoS qos = mqtt::QoS::AtMostOnce;
    bool retain = false;
    std::vector<std::uint32_t> subscription_ids;
    std::string share;
    mqtt::MessagePtr msg;  // null for WaitPubComp
    // Where this node's storage keeps it (restore only); never sent to another node.
    std::uint64_t store_seq = 0;
  };

  std::string client_id;
  std::uint8_t protocol_version = 4;
  std::uint32_t expiry_interval = 0;
  std::vector<Subscription> subscriptions;
  std::vector<Delivery> deliveries;  // in flight first, in the order sent, then queued
  std::vector<std::uint16_t> awaiting_rel;
};

// What a node learns about a client id before it serves its CONNECT.
struct Claim {
  // The session handed over by its previous owner, or nothing (none there, clean start,
  // or the owner could not be reached in time).
  std::optional<SessionState> session;
  bool previous_owner = false;  // another node owned the id (and was told)
};

// The cluster-wide session registry (docs/architecture.md, "Sessions across nodes"), as
// the workers use it.
class SessionDirectory {
 public:
  virtual ~SessionDirectory() = default;
  // Whether other nodes are live: without them no claim is needed. Any thread.
  virtual bool active() const = 0;
  // Registers `client_id` to this node and takes its session over from the previous
  // owner, if another node; `done` runs on another thread with the outcome. Any thread.
  virtual void claim(const std::string& client_id, bool clean_start,
                     std::function<void(Claim)> done) = 0;
  // The session of `client_id` ended on this node (expired, discarded). Any thread.
  virtual void release(const std::string& client_id) = 0;
  // Exclusive subscriptions (exclusive.hpp): asks the home member of `filter` for the
  // claim and waits for the answer (Failed when it does not come in time): run it off the
  // workers. Any thread.
  virtual ClaimAnswer claim_exclusive(const std::string& filter, const std::string& client_id) = 0;
  // Gives the claim back at the filter's home (queued). Any thread.
  virtual void release_exclusive(const std::string& filter, const std::string& client_id) = 0;
};

}  // namespace emqxd::session
