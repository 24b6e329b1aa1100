#pragma once
// The messages of the membership protocol (membership.hpp), as plain structs. The RPC layer
// maps them one to one onto protobuf (proto/cluster.proto: MembershipMessage and its oneof
// body); nothing here knows the encoding. Every message is one-way: an Ack is a message of
// its own, matched to its Ping by `seq`, so the protocol runs the same over a unary call,
// a stream, or the simulated network of the tests.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "cluster/node_address.hpp"

namespace emqxd::cluster {

// Ordered by precedence at equal incarnation: Alive < Suspect < Dead, and Left (said by the
// member itself) ends an incarnation like Dead.
enum class MemberState : std::uint8_t { Alive = 0, Suspect = 1, Dead = 2, Left = 3 };

std::string_view to_string(MemberState s);

// What one node believes about one member: the unit of gossip. Updates ride on every
// message (Message::updates) and make up the full state of Join/Sync exchanges.
struct MemberUpdate {
  NodeAddress node;
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::Alive;

  friend bool operator==(const MemberUpdate&, const MemberUpdate&) = default;
};

// Are you alive? Answered by an Ack with the same seq, to Message::from.
struct Ping {
  std::uint64_t seq = 0;
};
// Please ping `target` for me (the direct ping timed out): the receiver pings it with a seq
// of its own and, on its Ack, sends the requester Ack{seq}.
struct PingReq {
  std::uint64_t seq = 0;
  NodeAddress target;
};
struct Ack {
  std::uint64_t seq = 0;
};
// Let me in: the sender (Message::from, from_incarnation) joins; answered by JoinAck with
// the contact's full member list.
struct Join {};
struct JoinAck {
  std::vector<MemberUpdate> members;
};
// Push-pull anti-entropy: the sender's full member list; answered by SyncAck with the
// receiver's (taken after merging the push). Periodic with a random live member, and with
// dead members and unreached seeds to heal partitions.
struct Sync {
  std::vector<MemberUpdate> members;
};
struct SyncAck {
  std::vector<MemberUpdate> members;
};
// Nothing but the piggybacked updates: tells one member what another believes about it.
struct Gossip {};
// The sender leaves the cluster for good (this incarnation); not answered.
struct Leave {};

using MessageBody = std::variant<Ping, PingReq, Ack, Join, JoinAck, Sync, SyncAck, Gossip, Leave>;

struct Message {
  std::string cluster;  // cluster.name; a message of another cluster is dropped
  NodeAddress from;     // where to answer, and who speaks
  std::uint64_t from_incarnation = 0;
  std::string to;  // the receiver's id (name@host): a node now at that address with
                   // another name drops it
  MessageBody body;
  std::vector<MemberUpdate> updates;  // piggybacked gossip, at most Options::max_piggyback
};

// A message to send: the transport delivers it to `to` (its endpoint()) or drops it.
struct Outgoing {
  NodeAddress to;
  Message message;
};

// The name of the body's type ("ping", "ack", ...), for logs and counters.
std::string_view body_name(const MessageBody& body);

}  // namespace emqxd::cluster
