#pragma once
// Membership: who is in the cluster, by SWIM-style gossip, as a sans-I/O state machine.
//
// Problem. Every node must learn which nodes are up, notice a crashed node within seconds
// (its routes are purged, its sessions taken over), tell a crash from a slow link, and do
// it with no master and no fixed leader, in messages per node that do not grow with the
// cluster. After a network partition both sides keep serving; once it heals the views
// must converge with no operator action.
//
// Idea (SWIM, Das et al. 2002, with the refinements of hashicorp/memberlist):
// - Failure detection. Every probe_interval a node pings one member, taken round-robin from
//   a shuffled list (reshuffled each round; a new member goes in at a random place), so
//   each member is probed by someone every period and by a given node at least once every
//   2n-3 periods. No Ack within probe_timeout: it asks indirect_probes other members to
//   ping the target for it (PingReq), so one bad link (A->B) is not taken for a dead B.
//   No Ack, direct or relayed, by the end of the period: the target becomes Suspect.
// - Suspicion. Every node that suspects a member, or hears it suspected or declared dead,
//   starts a timer (suspicion_multiplier x max(1, log10 n) x probe_interval); if it
//   expires before the member refutes, the member is Dead on that node, which says so by
//   gossip. Only a node's own timer makes a member Dead there: another node's verdict only
//   starts the suspicion. That costs a real failure at most one more timeout on a node
//   that missed the Suspect gossip, and it means a node that was cut off, whose stale
//   verdicts leak out once it is back, causes a suspicion the member refutes, not a Down.
// - Refutation must arrive, or a lost message costs a live node its membership. So every
//   message to a suspected member carries the suspicion (as memberlist's pings of a suspect
//   do); while it lasts the suspecter repeats it every gossip_interval to the member and to
//   one other member; a node answers a claim it knows to be stale (the member already
//   refuted) by sending the refutation back to the claimant; a suspected node answers each
//   accuser directly; and every message's header (from, from_incarnation) counts as the
//   sender's own Alive, so any word from the member clears the suspicion.
// - Incarnations. Each member owns a counter only it increases. Hearing itself suspected or
//   declared dead at incarnation i, a live node takes i+1 and gossips Alive(i+1), which
//   overrides Suspect(i) and Dead(i) everywhere. Precedence at equal incarnation: Alive <
//   Suspect < Dead; Left ends an incarnation like Dead. A node starts at an incarnation
//   given by its host (wall-clock milliseconds at start), so a restarted node outranks its
//   old self; if the clock went back, it is told its old incarnation and refutes above it.
// - Tombstones. Dead and Left members stay in the table for `autoclean` (24h), so stale
//   gossip about an old incarnation cannot bring them back; only a higher one can.
// - Dissemination. Every accepted change is queued once per member and piggybacked, at most
//   max_piggyback per message and fewest-sent first, on every message this node sends,
//   each up to retransmit_multiplier x ceil(log10(n+1)) times: infection-style spread in
//   O(log n) rounds. Probes alone make about two messages a period, so, as memberlist
//   does, a node with news also sends it (Gossip) to gossip_fanout random members every
//   gossip_interval (200ms) until the news is used up; with none, it sends nothing.
// - Join: the joiner sends Join to its seeds (again every probe_interval while it knows
//   nobody); the first contact that answers sends its full list (JoinAck) and gossips the
//   newcomer. Leave: the node tells every member (Leave) and gossips Left about itself.
// - Anti-entropy (push-pull): every push_pull_interval a node swaps full lists with one
//   random live member, repairing whatever gossip lost.
// - Partition healing (autoheal): every reconnect_interval a node sends Sync to one random
//   Dead member it still remembers and to each seed it does not see alive. Across a healed
//   partition that Sync reaches a live node that believes the sender's side dead: it
//   refutes for itself, answers with its list, the sender refutes in turn, and the
//   refutations spread by gossip both ways. A full list saying "X is dead" when we see X
//   alive at the same incarnation is not believed (the other side is stale, not X): we
//   forward the claim to X alone (Gossip) and X refutes, so a heal causes no false
//   suspicion on the side that kept talking to X. A node we think dead that sends us
//   anything is told so, and refutes. Bound: after the heal, the first of the n nodes to
//   reach its reconnect tick starts it (within reconnect_interval, 10 s, and in about
//   reconnect_interval / n on average), then refutations spread in a few gossip rounds.
//   Tested bound reconnect_interval + 8 periods (18 s); measured over 300 random runs of a
//   {2}|{3} partition of 20 s to 10 min: 4.1 to 8.5 s, whatever the partition's length. A
//   partition longer than autoclean heals the same way through the seeds.
// - Bounds. The table holds at most max_members nodes (cluster.max_nodes, this node
//   included): news of one more is ignored (counted in stats().refused), so gossip naming
//   invented members costs neither memory nor connections. Incarnations saturate at
//   kMaxIncarnation (below). Who may send a message at all is the transport's business:
//   every one is authenticated, and its `from` is the node that proved itself
//   (cluster/auth.hpp).
//
// Cost: per node per period one Ping and its Ack (plus k PingReqs on a miss), each carrying
// at most max_piggyback updates; while there is news, gossip_fanout Gossip messages per
// gossip_interval; while a member is suspected, 2 small messages per gossip_interval; one
// full-list exchange per push_pull_interval. State is O(members), each tick O(members).
//
// With the defaults (1 s, 500 ms, k = 3, x4), measured in the simulation (300 runs each):
// a joiner is seen by all within 0.2 s (3 nodes) to 0.8 s (10 nodes), at worst n-1
// periods (the joiner's own first round of pings); a crashed node is declared dead by all
// 5 to 11 s after the crash (first probe of it + 1 period + the 4 s suspicion + gossip).
//
// Sans-I/O, like session::Channel: no threads, no sockets, no clock. The host feeds it
// messages (handle) and time (tick at next_deadline()), and takes out what to send
// (take_outgoing) and what changed (take_events). Not thread-safe: one owner calls it all.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "cluster/membership_messages.hpp"
#include "cluster/node_address.hpp"

namespace emqxd::cluster {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Duration = std::chrono::milliseconds;

struct MembershipOptions {
  std::string cluster_name = "emqxdcl";     // cluster.name
  Duration probe_interval{1000};            // cluster.probe_interval: one probe per period
  Duration probe_timeout{500};              // cluster.probe_timeout: then indirect probes
  std::uint32_t indirect_probes = 3;        // cluster.indirect_probes (k)
  std::uint32_t suspicion_multiplier = 4;   // cluster.suspicion_multiplier
  std::uint32_t retransmit_multiplier = 4;  // cluster.retransmit_multiplier (lambda)
  std::size_t max_piggyback = 16;           // updates carried by one message at most
  Duration gossip_interval{200};            // cluster.gossip_interval; 0 = piggyback only
  std::uint32_t gossip_fanout = 3;          // cluster.gossip_fanout
  Duration push_pull_interval{30000};       // cluster.push_pull_interval; 0 = never
  Duration reconnect_interval{10000};       // cluster.reconnect_interval
  bool autoheal = true;                     // cluster.autoheal: reconnect to the dead
  Duration autoclean{24LL * 3600 * 1000};   // cluster.autoclean: tombstones kept this long
  std::size_t max_members = 256;            // cluster.max_nodes: the table, self included
};

// Incarnations are wall-clock milliseconds at start plus refutations, far below this. A
// claim at or above it is dropped, and this node's own incarnation saturates here, so a
// forged "Left at 2^64-1" can neither wrap a counter nor outrank every refutation: a
// member can always answer any claim it receives with a higher incarnation.
inline constexpr std::uint64_t kMaxIncarnation = UINT64_MAX - (std::uint64_t{1} << 32);

// What the rest of the node acts on.
struct MemberEvent {
  enum class Kind : std::uint8_t {
    Up,         // a member is alive: new, restarted, or back after Dead/Left
    Suspect,    // failed a probe; still a member (keep routing to it)
    Recovered,  // refuted the suspicion
    Down,       // confirmed dead: purge its routes, take over its sessions
    Left,       // left gracefully: the same, without alarm
    Moved,      // alive at a new RPC address (restarted on another port): reconnect
  };
  Kind kind = Kind::Up;
  NodeAddress node;
  std::uint64_t incarnation = 0;

  friend bool operator==(const MemberEvent&, const MemberEvent&) = default;
};

std::string_view to_string(MemberEvent::Kind k);

// One member as this node sees it.
struct Member {
  NodeAddress address;
  std::uint64_t incarnation = 0;
  MemberState state = MemberState::Alive;
  TimePoint since{};  // when this node saw the state begin
};

// Counters for metrics and tests.
struct MembershipStats {
  std::uint64_t probes = 0;           // direct pings of the probe loop
  std::uint64_t indirect_probes = 0;  // PingReqs sent
  std::uint64_t relayed_pings = 0;    // pings sent for another node's PingReq
  std::uint64_t probe_failures = 0;   // periods that ended with no Ack
  std::uint64_t refutations = 0;      // times this node raised its incarnation
  std::uint64_t syncs = 0;            // Sync sent (push-pull and reconnects)
  std::uint64_t dropped = 0;          // messages not handled (see Handled)
  std::uint64_t refused = 0;          // updates not applied: implausible, or the table full
};

class Membership {
 public:
  enum class Handled : std::uint8_t {
    Ok,
    OtherCluster,  // Message::cluster is not ours
    NotForUs,      // Message::to names another node (it moved; we took its address)
    FromSelf,      // a node talking to itself: a seed list naming this node, say
    AfterLeave,    // this node has left
  };

  // `self` is this node's identity and RPC address; `incarnation` should grow across
  // restarts (wall-clock milliseconds at start); `seed` drives every random choice, so a
  // simulation replays exactly.
  Membership(NodeAddress self, std::uint64_t incarnation, MembershipOptions options,
             std::uint64_t seed, TimePoint now);

  // Contacts `seeds` (this node's own address among them is skipped) with Join, again every
  // probe_interval while no other member is known, and remembers them for autoheal. An
  // empty list makes a cluster of one that others may join.
  void join(std::span<const NodeAddress> seeds, TimePoint now);
  // A discovery's latest answer (cluster.discovery_strategy = dns | etcd | k8s): `seeds`
  // replace the seeds (a set that follows the deployment, so addresses that went are not
  // tried forever), and each one not seen alive is sent Join now. A node alone keeps
  // trying them every probe_interval, as with join(). Neither knocks on a member known to
  // have left (`emqxd cluster leave`): it stays out until it asks to join again (it
  // restarts, or is told to join), though discovery still lists it.
  void rediscover(std::span<const NodeAddress> seeds, TimePoint now);
  // Leaves for good: tells every member, then ignores everything. The host should keep
  // delivering take_outgoing() for a moment before it stops.
  void leave(TimePoint now);
  // Whether `seed` is a member known Left (rediscover()).
  bool left_on_purpose(const NodeAddress& seed) const;

  // Declares the member `id` (name@host) gone for good on its behalf (an operator's
  // force-leave of a node that will not come back): Left at its incarnation here, and by
  // gossip everywhere. A node that is in fact alive refutes it and stays. False if `id` is
  // unknown, this node, or already Left.
  bool force_leave(const std::string& id, TimePoint now);

  // One message from the network.
  Handled handle(const Message& message, TimePoint now);
  // Runs the timers due at `now`; call it at next_deadline() (earlier is harmless).
  void tick(TimePoint now);
  // When tick() next has something to do.
  TimePoint next_deadline() const;

  // Output, in the order produced; each call empties its buffer.
  std::vector<Outgoing> take_outgoing();
  std::vector<MemberEvent> take_events();

  const NodeAddress& self() const { return self_; }
  std::uint64_t incarnation() const { return incarnation_; }
  bool has_left() const { return left_; }
  // The member `id` (name@host), this node excluded; nullptr if unknown.
  const Member* find(const std::string& id) const;
  // Every member this node knows, tombstones included, this node excluded, by id.
  std::vector<Member> members() const;
  // Alive and Suspect members, this node included.
  std::size_t live_count() const;
  const MembershipStats& stats() const { return stats_; }
  const MembershipOptions& options() const { return options_; }

 private:
  struct Entry {
    Member member;
    TimePoint suspect_deadline{};  // Suspect only
    TimePoint last_notice{};       // last Gossip/Sync sent to tell it what others believe
  };
  struct Probe {
    std::string target_id;
    NodeAddress target;
    std::uint64_t incarnation = 0;  // the target's when the probe started
    std::uint64_t seq = 0;
    TimePoint started{};
    bool indirect_sent = false;
  };
  struct Relay {  // a ping sent for another node's PingReq
    NodeAddress requester;
    std::uint64_t requester_seq = 0;
    TimePoint expires{};
  };
  struct Broadcast {
    MemberUpdate update;
    std::uint32_t transmits = 0;
    std::uint64_t order = 0;  // newer is larger
  };
  enum class Merge : std::uint8_t { Gossip, FullState };

  // membership.cpp: state changes
  bool apply(const MemberUpdate& u, Merge how, TimePoint now);
  void apply_about_self(const MemberUpdate& u);
  void correct(const MemberUpdate& u);
  void set_state(Entry& e, const MemberUpdate& u, TimePoint now);
  void emit(MemberEvent::Kind kind, const Member& m);
  void enqueue(const MemberUpdate& u);
  void notice(Entry& e, const MemberUpdate& claim, TimePoint now);
  std::vector<MemberUpdate> full_state() const;
  MemberUpdate self_update() const;
  Duration suspicion_timeout() const;

  // membership_probe.cpp: timers and probing
  void probe_tick(TimePoint now);
  void start_probe(TimePoint now);
  void end_probe(TimePoint now);
  std::optional<std::string> next_probe_target();
  void suspicion_tick(TimePoint now);
  void gossip_tick(TimePoint now);
  void sync_tick(TimePoint now);
  void reap(TimePoint now);
  std::vector<const Entry*> random_alive(std::size_t k, const std::string& exclude);
  void handle_ack(const Ack& a, TimePoint now);
  void handle_ping_req(const Message& m, const PingReq& r, TimePoint now);

  // Queues a message to `to`: `first` (updates meant for it), then the piggyback.
  void send(const NodeAddress& to, MessageBody body, std::vector<MemberUpdate> first = {});
  bool send_if(const NodeAddress& to, MessageBody body, std::vector<MemberUpdate> first,
               bool even_empty);
  void piggyback(const std::string& to_id, std::vector<MemberUpdate>& out);
  std::uint32_t retransmit_limit() const;
  std::uint64_t random(std::uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  NodeAddress self_;
  std::string self_id_;
  std::uint64_t incarnation_;
  MembershipOptions options_;
  std::mt19937_64 rng_;
  bool left_ = false;
  // What the message being handled got wrong (a refuted suspicion), to tell its sender.
  std::vector<MemberUpdate> corrections_;

  std::map<std::string, Entry> members_;  // by id; ordered, so runs replay exactly
  std::vector<NodeAddress> seeds_;

  std::vector<std::string> probe_order_;
  std::size_t probe_index_ = 0;
  std::optional<Probe> probe_;
  TimePoint next_probe_;
  std::uint64_t next_seq_;
  std::map<std::uint64_t, Relay> relays_;  // by our seq

  TimePoint next_gossip_;
  TimePoint next_push_pull_;
  TimePoint next_reconnect_;
  TimePoint next_join_;  // while alone with seeds to try

  std::vector<Broadcast> queue_;  // at most one per member id
  std::uint64_t broadcast_order_ = 0;

  std::vector<Outgoing> out_;
  std::vector<MemberEvent> events_;
  MembershipStats stats_;
};

}  // namespace emqxd::cluster
