// Membership: the member table, merging what others say, and the messages (see the essay
// in membership.hpp). Timers and probing are in membership_probe.cpp.
#include "cluster/membership.hpp"

#include <algorithm>
#include <cmath>

namespace emqxd::cluster {

std::string_view to_string(MemberState s) {
  switch (s) {
    case MemberState::Alive:
      return "alive";
    case MemberState::Suspect:
      return "suspect";
    case MemberState::Dead:
      return "dead";
    case MemberState::Left:
      return "left";
  }
  return "?";
}

std::string_view to_string(MemberEvent::Kind k) {
  switch (k) {
    case MemberEvent::Kind::Up:
      return "up";
    case MemberEvent::Kind::Suspect:
      return "suspect";
    case MemberEvent::Kind::Recovered:
      return "recovered";
    case MemberEvent::Kind::Down:
      return "down";
    case MemberEvent::Kind::Left:
      return "left";
    case MemberEvent::Kind::Moved:
      return "moved";
  }
  return "?";
}

std::string_view body_name(const MessageBody& body) {
  static constexpr std::string_view kNames[] = {"ping", "ping_req", "ack",    "join", "join_ack",
                                                "sync", "sync_ack", "gossip", "leave"};
  static_assert(std::size(kNames) == std::variant_size_v<MessageBody>);
  return kNames[body.index()];
}

Membership::Membership(NodeAddress self, std::uint64_t incarnation, MembershipOptions options,
                       std::uint64_t seed, TimePoint now)
    : self_(std::move(self)),
      self_id_(self_.id()),
      incarnation_(incarnation),
      options_(std::move(options)),
      rng_(seed),
      next_probe_(now + options_.probe_interval),
      next_seq_(rng_() >> 16),  // a restarted node does not reuse its old sequence numbers
      next_gossip_(now),
      next_join_(now) {
  // Spread the periodic exchanges over their interval, so that nodes started together do
  // not all sync in the same instant.
  auto jitter = [&](Duration d) {
    if (d.count() <= 0) return d;
    return Duration(static_cast<Duration::rep>(random(static_cast<std::uint64_t>(d.count()))));
  };
  next_push_pull_ = now + options_.push_pull_interval + jitter(options_.push_pull_interval);
  next_reconnect_ = now + options_.reconnect_interval / 2 + jitter(options_.reconnect_interval / 2);
}

// ----------------------------------------------------------------------------- input

void Membership::join(std::span<const NodeAddress> seeds, TimePoint now) {
  if (left_) return;
  for (const NodeAddress& s : seeds) {
    if (s.id() == self_id_) continue;
    if (std::find(seeds_.begin(), seeds_.end(), s) == seeds_.end()) seeds_.push_back(s);
  }
  enqueue(self_update());  // the first messages announce this node
  for (const NodeAddress& s : seeds_)
    send(s, Join{});
  next_join_ = now + options_.probe_interval;
}

void Membership::rediscover(std::span<const NodeAddress> seeds, TimePoint now) {
  if (left_) return;
  seeds_.clear();
  for (const NodeAddress& s : seeds) {
    if (s.id() == self_id_) continue;
    if (std::find(seeds_.begin(), seeds_.end(), s) == seeds_.end()) seeds_.push_back(s);
  }
  for (const NodeAddress& s : seeds_) {
    if (!left_on_purpose(s)) {
      auto it = members_.find(s.id());
      const bool up = it != members_.end() && (it->second.member.state == MemberState::Alive ||
                                               it->second.member.state == MemberState::Suspect);
      if (!up) send(s, Join{});
    }
  }
  next_join_ = now + options_.probe_interval;
}

bool Membership::left_on_purpose(const NodeAddress& seed) const {
  auto it = members_.find(seed.id());
  return it != members_.end() && it->second.member.state == MemberState::Left;
}

void Membership::leave(TimePoint now) {
  if (left_) return;
  (void)now;
  MemberUpdate me{self_, incarnation_, MemberState::Left};
  for (const auto& [id, e] : members_) {
    if (e.member.state == MemberState::Alive || e.member.state == MemberState::Suspect) {
      send(e.member.address, Leave{}, {me});
    }
  }
  left_ = true;
  probe_.reset();
  relays_.clear();
  queue_.clear();
}

bool Membership::force_leave(const std::string& id, TimePoint now) {
  if (left_) return false;
  auto it = members_.find(id);
  if (it == members_.end() || it->second.member.state == MemberState::Left) return false;
  MemberUpdate u{it->second.member.address, it->second.member.incarnation, MemberState::Left};
  const bool was_up = it->second.member.state == MemberState::Alive ||
                      it->second.member.state == MemberState::Suspect;
  apply(u, Merge::Gossip, now);
  if (!was_up) enqueue(u);  // a dead member's tombstone turns Left everywhere too
  return true;
}

Membership::Handled Membership::handle(const Message& m, TimePoint now) {
  if (m.cluster != options_.cluster_name) {
    ++stats_.dropped;
    return Handled::OtherCluster;
  }
  if (left_) {
    ++stats_.dropped;
    return Handled::AfterLeave;
  }
  if (!m.to.empty() && m.to != self_id_) {
    ++stats_.dropped;
    return Handled::NotForUs;
  }
  std::string from_id = m.from.id();
  if (from_id == self_id_) {
    ++stats_.dropped;
    return Handled::FromSelf;
  }
  // The header is the sender's own word that it is alive at from_incarnation: as good as
  // its Alive gossip, and it lets a node learn of a newcomer from the newcomer's first
  // ping. (A Leave says Left instead, below.)
  if (!std::holds_alternative<Leave>(m.body)) {
    apply(MemberUpdate{m.from, m.from_incarnation, MemberState::Alive}, Merge::Gossip, now);
  }
  corrections_.clear();
  for (const MemberUpdate& u : m.updates)
    apply(u, Merge::Gossip, now);

  auto full = [&](const std::vector<MemberUpdate>& members) {
    for (const MemberUpdate& u : members)
      apply(u, Merge::FullState, now);
  };
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, Ping>) {
          send(m.from, Ack{body.seq});
        } else if constexpr (std::is_same_v<T, PingReq>) {
          handle_ping_req(m, body, now);
        } else if constexpr (std::is_same_v<T, Ack>) {
          handle_ack(body, now);
        } else if constexpr (std::is_same_v<T, Join>) {
          send(m.from, JoinAck{full_state()});  // the joiner is in it: see the header above
        } else if constexpr (std::is_same_v<T, JoinAck> || std::is_same_v<T, SyncAck>) {
          full(body.members);
        } else if constexpr (std::is_same_v<T, Sync>) {
          full(body.members);
          send(m.from, SyncAck{full_state()});
        } else if constexpr (std::is_same_v<T, Leave>) {
          apply(MemberUpdate{m.from, m.from_incarnation, MemberState::Left}, Merge::Gossip, now);
        }
      },
      m.body);

  // The sender said something we know to be out of date: a member it suspects (this node
  // among them) has refuted. Tell it, or it may declare a live member dead because the
  // refutation's gossip happened to miss it. About this node, a reply above is enough: its
  // header carries our incarnation.
  bool replied = std::holds_alternative<Ping>(m.body) || std::holds_alternative<Join>(m.body) ||
                 std::holds_alternative<Sync>(m.body);
  if (replied) std::erase(corrections_, self_update());
  if (!corrections_.empty()) send(m.from, Gossip{}, std::move(corrections_));
  corrections_.clear();

  // A node we suspect or believe dead is talking to us (ping, ack, gossip): it may not
  // know, so tell it, and it refutes. Full-state exchanges tell it already.
  bool carries_state =
      std::holds_alternative<Join>(m.body) || std::holds_alternative<JoinAck>(m.body) ||
      std::holds_alternative<Sync>(m.body) || std::holds_alternative<SyncAck>(m.body) ||
      std::holds_alternative<Leave>(m.body);
  if (!carries_state) {
    auto it = members_.find(from_id);
    if (it != members_.end() && m.from_incarnation <= it->second.member.incarnation &&
        (it->second.member.state == MemberState::Suspect ||
         it->second.member.state == MemberState::Dead)) {
      const Member& d = it->second.member;
      notice(it->second, MemberUpdate{d.address, d.incarnation, d.state}, now);
    }
  }
  return Handled::Ok;
}

// ----------------------------------------------------------------------------- merging

// The precedence rules of the essay in membership.hpp. Returns whether the table changed.
bool Membership::apply(const MemberUpdate& u, Merge how, TimePoint now) {
  if (u.incarnation >= kMaxIncarnation) {
    ++stats_.refused;
    return false;
  }
  std::string id = u.node.id();
  if (id == self_id_) {
    apply_about_self(u);
    return false;
  }
  auto it = members_.find(id);
  if (it == members_.end()) {
    if (members_.size() + 1 >= options_.max_members) {  // + 1: this node
      ++stats_.refused;
      return false;
    }
    Entry& e = members_[id];
    set_state(e, u, now);
    if (u.state == MemberState::Alive || u.state == MemberState::Suspect) {
      emit(MemberEvent::Kind::Up, e.member);
      if (u.state == MemberState::Suspect) emit(MemberEvent::Kind::Suspect, e.member);
      enqueue(u);
      // Probed in this round still, at a random place among those not yet probed.
      auto pos = probe_index_ + random(probe_order_.size() - probe_index_ + 1);
      probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(pos), id);
    }
    // A tombstone learned from others needs no event: this node never saw it up.
    return true;
  }

  Entry& e = it->second;
  Member& m = e.member;
  const MemberState old = m.state;
  switch (u.state) {
    case MemberState::Alive: {
      if (u.incarnation <= m.incarnation) return false;
      bool moved = !(u.node == m.address);
      set_state(e, u, now);
      if (old == MemberState::Suspect) emit(MemberEvent::Kind::Recovered, m);
      if (old == MemberState::Dead || old == MemberState::Left) {
        emit(MemberEvent::Kind::Up, m);
        if (std::find(probe_order_.begin() + static_cast<std::ptrdiff_t>(probe_index_),
                      probe_order_.end(), id) == probe_order_.end()) {
          auto pos = probe_index_ + random(probe_order_.size() - probe_index_ + 1);
          probe_order_.insert(probe_order_.begin() + static_cast<std::ptrdiff_t>(pos), id);
        }
      } else if (moved) {
        emit(MemberEvent::Kind::Moved, m);
      }
      enqueue(u);
      return true;
    }
    case MemberState::Suspect: {
      if (old == MemberState::Dead || old == MemberState::Left) return false;
      if (u.incarnation < m.incarnation) {
        if (old == MemberState::Alive) correct(MemberUpdate{m.address, m.incarnation, old});
        return false;
      }
      if (old == MemberState::Suspect) {
        if (u.incarnation == m.incarnation) return false;
        m.incarnation = u.incarnation;  // the timer keeps running
        m.address = u.node;
        enqueue(u);
        return true;
      }
      if (how == Merge::FullState && u.incarnation == m.incarnation) {
        notice(e, u, now);  // another node's stale view; let the member answer for itself
        return false;
      }
      set_state(e, u, now);
      emit(MemberEvent::Kind::Suspect, m);
      enqueue(u);
      return true;
    }
    case MemberState::Dead: {
      if (u.incarnation < m.incarnation) {
        if (old == MemberState::Alive) correct(MemberUpdate{m.address, m.incarnation, old});
        return false;
      }
      if (old == MemberState::Dead || old == MemberState::Left) {
        if (u.incarnation == m.incarnation) return false;
        set_state(e, u, now);  // a later incarnation died too; it was never up here
        return true;
      }
      if (how == Merge::FullState && u.incarnation == m.incarnation) {
        notice(e, u, now);  // another node's stale view; let the member answer for itself
        return false;
      }
      // Someone else's verdict starts our own suspicion; only our timer declares a member
      // dead. So a node cut off for a while, whose stale verdicts leak out once it is
      // back, costs a suspicion the member refutes, not a false Down.
      if (old == MemberState::Alive || u.incarnation > m.incarnation) {
        return apply(MemberUpdate{u.node, u.incarnation, MemberState::Suspect}, Merge::Gossip, now);
      }
      return false;
    }
    case MemberState::Left: {
      // Only the member itself says Left, so it is believed even from a full list.
      if (u.incarnation < m.incarnation) return false;
      if (old == MemberState::Left && u.incarnation == m.incarnation) return false;
      set_state(e, u, now);
      if (old == MemberState::Alive || old == MemberState::Suspect) {
        emit(MemberEvent::Kind::Left, m);
        enqueue(u);
      }
      return true;
    }
  }
  return false;
}

// Anything that says this node is less than alive at its incarnation, or that knows a
// higher one (an earlier run of this node, or another process under our name), is
// answered by raising the incarnation above it and gossiping Alive.
//
// The accuser is answered too (handle(), corrections_), even about an incarnation already
// refuted: its claims keep coming until it hears the refutation, which may have been lost.
void Membership::apply_about_self(const MemberUpdate& u) {
  if (left_) return;
  bool refute =
      u.incarnation > incarnation_ ||
      (u.incarnation == incarnation_ && (u.state != MemberState::Alive || !(u.node == self_)));
  if (refute) {
    // u.incarnation < kMaxIncarnation (apply): no wrap, and the answer outranks the claim.
    incarnation_ = std::min(std::max(incarnation_, u.incarnation) + 1, kMaxIncarnation);
    ++stats_.refutations;
    enqueue(self_update());
  }
  if (refute || u.state != MemberState::Alive) correct(self_update());
}

void Membership::correct(const MemberUpdate& u) {
  if (std::find(corrections_.begin(), corrections_.end(), u) == corrections_.end()) {
    corrections_.push_back(u);
  }
}

void Membership::set_state(Entry& e, const MemberUpdate& u, TimePoint now) {
  Member& m = e.member;
  m.address = u.node;
  m.incarnation = u.incarnation;
  if (m.state != u.state || m.since == TimePoint{}) m.since = now;
  m.state = u.state;
  if (u.state == MemberState::Suspect) e.suspect_deadline = now + suspicion_timeout();
}

void Membership::emit(MemberEvent::Kind kind, const Member& m) {
  events_.push_back(MemberEvent{kind, m.address, m.incarnation});
}

// Tells the member alone what another node claims about it, at most once a probe period.
void Membership::notice(Entry& e, const MemberUpdate& claim, TimePoint now) {
  if (e.last_notice != TimePoint{} && now - e.last_notice < options_.probe_interval) return;
  e.last_notice = now;
  send(e.member.address, Gossip{}, {claim});
}

MemberUpdate Membership::self_update() const {
  return MemberUpdate{self_, incarnation_, MemberState::Alive};
}

std::vector<MemberUpdate> Membership::full_state() const {
  std::vector<MemberUpdate> all;
  all.reserve(members_.size() + 1);
  all.push_back(self_update());
  for (const auto& [id, e] : members_) {
    all.push_back(MemberUpdate{e.member.address, e.member.incarnation, e.member.state});
  }
  return all;
}

Duration Membership::suspicion_timeout() const {
  double scale = std::max(1.0, std::log10(static_cast<double>(live_count())));
  return Duration(static_cast<Duration::rep>(options_.suspicion_multiplier * scale *
                                             static_cast<double>(options_.probe_interval.count())));
}

// ----------------------------------------------------------------------------- output

void Membership::enqueue(const MemberUpdate& u) {
  std::string id = u.node.id();
  std::erase_if(queue_, [&](const Broadcast& b) { return b.update.node.id() == id; });
  queue_.push_back(Broadcast{u, 0, ++broadcast_order_});
}

std::uint32_t Membership::retransmit_limit() const {
  double scale = std::ceil(std::log10(static_cast<double>(live_count() + 1)));
  return options_.retransmit_multiplier * static_cast<std::uint32_t>(std::max(1.0, scale));
}

// The least-sent updates, newest first among equals, except a member's own Alive to that
// member (it knows; its Suspect and Dead do go to it, so that it refutes); each counts one
// transmission and is dropped once it reaches the limit.
// Appends them to `out`, skipping what `out` already holds.
void Membership::piggyback(const std::string& to_id, std::vector<MemberUpdate>& out) {
  if (queue_.empty() || options_.max_piggyback == 0) return;
  std::sort(queue_.begin(), queue_.end(), [](const Broadcast& a, const Broadcast& b) {
    return a.transmits != b.transmits ? a.transmits < b.transmits : a.order > b.order;
  });
  const std::size_t first = out.size();
  for (Broadcast& b : queue_) {
    if (out.size() - first == options_.max_piggyback) break;
    if (b.update.state == MemberState::Alive && b.update.node.id() == to_id) continue;
    if (std::find(out.begin(), out.end(), b.update) != out.end()) continue;
    out.push_back(b.update);
    ++b.transmits;
  }
  const std::uint32_t limit = retransmit_limit();
  std::erase_if(queue_, [&](const Broadcast& b) { return b.transmits >= limit; });
}

void Membership::send(const NodeAddress& to, MessageBody body, std::vector<MemberUpdate> first) {
  send_if(to, std::move(body), std::move(first), /*even_empty=*/true);
}

// Queues the message unless it would carry no update and even_empty is false (gossip with
// nothing to say). Returns whether it did.
bool Membership::send_if(const NodeAddress& to, MessageBody body, std::vector<MemberUpdate> first,
                         bool even_empty) {
  Message m;
  m.cluster = options_.cluster_name;
  m.from = self_;
  m.from_incarnation = incarnation_;
  m.to = to.id();
  m.body = std::move(body);
  m.updates = std::move(first);
  // Whatever goes to a member we suspect says so (as memberlist's probes of a suspect do):
  // the gossip about it may be used up, and it cannot refute what it never hears.
  auto it = members_.find(m.to);
  if (it != members_.end() && it->second.member.state == MemberState::Suspect) {
    const Member& s = it->second.member;
    MemberUpdate claim{s.address, s.incarnation, MemberState::Suspect};
    if (std::find(m.updates.begin(), m.updates.end(), claim) == m.updates.end()) {
      m.updates.insert(m.updates.begin(), claim);
    }
  }
  piggyback(m.to, m.updates);
  if (m.updates.empty() && !even_empty) return false;
  out_.push_back(Outgoing{to, std::move(m)});
  return true;
}

std::vector<Outgoing> Membership::take_outgoing() {
  std::vector<Outgoing> out;
  out.swap(out_);
  return out;
}

std::vector<MemberEvent> Membership::take_events() {
  std::vector<MemberEvent> out;
  out.swap(events_);
  return out;
}

// ----------------------------------------------------------------------------- queries

const Member* Membership::find(const std::string& id) const {
  auto it = members_.find(id);
  return it == members_.end() ? nullptr : &it->second.member;
}

std::vector<Member> Membership::members() const {
  std::vector<Member> all;
  all.reserve(members_.size());
  for (const auto& [id, e] : members_)
    all.push_back(e.member);
  return all;
}

std::size_t Membership::live_count() const {
  std::size_t n = 1;
  for (const auto& [id, e] : members_) {
    if (e.member.state == MemberState::Alive || e.member.state == MemberState::Suspect) ++n;
  }
  return n;
}

}  // namespace emqxd::cluster
