// Membership: the timers. The probe loop (ping, ping-req, suspect), suspicion expiry,
// join retries, push-pull, reconnects to the dead and unreached seeds, tombstone reaping.
// See the essay in membership.hpp.
#include <algorithm>

#include "cluster/membership.hpp"

namespace emqxd::cluster {

void Membership::tick(TimePoint now) {
  if (left_) return;
  probe_tick(now);
  suspicion_tick(now);
  gossip_tick(now);
  sync_tick(now);
  reap(now);
}

TimePoint Membership::next_deadline() const {
  if (left_) return TimePoint::max();
  TimePoint t = next_probe_;
  if (probe_) {
    if (!probe_->indirect_sent) t = std::min(t, probe_->started + options_.probe_timeout);
    t = std::min(t, probe_->started + options_.probe_interval);
  }
  for (const auto& [seq, r] : relays_)
    t = std::min(t, r.expires);
  bool suspects = false;
  for (const auto& [id, e] : members_) {
    if (e.member.state == MemberState::Suspect) {
      suspects = true;
      t = std::min(t, e.suspect_deadline);
    } else if (e.member.state == MemberState::Dead || e.member.state == MemberState::Left) {
      t = std::min(t, e.member.since + options_.autoclean);
    }
  }
  if (options_.gossip_interval.count() > 0 && (suspects || !queue_.empty())) {
    t = std::min(t, next_gossip_);
  }
  if (options_.push_pull_interval.count() > 0) t = std::min(t, next_push_pull_);
  if (options_.autoheal && options_.reconnect_interval.count() > 0) {
    t = std::min(t, next_reconnect_);
  }
  if (!seeds_.empty() && live_count() == 1) t = std::min(t, next_join_);
  return t;
}

// ----------------------------------------------------------------------------- probing

void Membership::probe_tick(TimePoint now) {
  if (probe_) {
    if (!probe_->indirect_sent && now >= probe_->started + options_.probe_timeout) {
      probe_->indirect_sent = true;
      for (const Entry* helper : random_alive(options_.indirect_probes, probe_->target_id)) {
        ++stats_.indirect_probes;
        send(helper->member.address, PingReq{probe_->seq, probe_->target});
      }
    }
    if (now >= probe_->started + options_.probe_interval) end_probe(now);
  }
  if (now >= next_probe_) {
    start_probe(now);
    next_probe_ += options_.probe_interval;
    if (next_probe_ <= now) next_probe_ = now + options_.probe_interval;  // we slept
  }
}

void Membership::start_probe(TimePoint now) {
  auto id = next_probe_target();
  if (!id) return;
  const Member& m = members_.at(*id).member;
  probe_ = Probe{*id, m.address, m.incarnation, next_seq_++, now, false};
  ++stats_.probes;
  send(m.address, Ping{probe_->seq});
}

// The period ended with no Ack, direct or relayed: suspect the target, unless it changed
// meanwhile (refuted, moved, declared dead by others).
void Membership::end_probe(TimePoint now) {
  Probe p = std::move(*probe_);
  probe_.reset();
  ++stats_.probe_failures;
  auto it = members_.find(p.target_id);
  if (it == members_.end()) return;
  const Member& m = it->second.member;
  if (m.state == MemberState::Alive && m.incarnation == p.incarnation) {
    apply(MemberUpdate{m.address, m.incarnation, MemberState::Suspect}, Merge::Gossip, now);
  }
}

// Round-robin over a shuffled list of the live members; reshuffled when used up.
std::optional<std::string> Membership::next_probe_target() {
  for (int pass = 0; pass < 2; ++pass) {
    while (probe_index_ < probe_order_.size()) {
      const std::string& id = probe_order_[probe_index_++];
      auto it = members_.find(id);
      if (it != members_.end() && (it->second.member.state == MemberState::Alive ||
                                   it->second.member.state == MemberState::Suspect)) {
        return id;
      }
    }
    probe_order_.clear();
    probe_index_ = 0;
    for (const auto& [id, e] : members_) {
      if (e.member.state == MemberState::Alive || e.member.state == MemberState::Suspect) {
        probe_order_.push_back(id);
      }
    }
    for (std::size_t i = probe_order_.size(); i > 1; --i) {
      std::swap(probe_order_[i - 1], probe_order_[random(i)]);
    }
  }
  return std::nullopt;
}

void Membership::handle_ack(const Ack& a, TimePoint now) {
  (void)now;
  if (probe_ && a.seq == probe_->seq) {
    probe_.reset();  // alive: directly or through a helper
    return;
  }
  auto r = relays_.find(a.seq);
  if (r != relays_.end()) {
    Relay relay = std::move(r->second);
    relays_.erase(r);
    send(relay.requester, Ack{relay.requester_seq});
  }
  // Anything else is late: the period it belonged to is over.
}

void Membership::handle_ping_req(const Message& m, const PingReq& r, TimePoint now) {
  std::uint64_t seq = next_seq_++;
  relays_[seq] = Relay{m.from, r.seq, now + options_.probe_interval};
  ++stats_.relayed_pings;
  send(r.target, Ping{seq});
}

// Up to k Alive members other than `exclude`, at random.
std::vector<const Membership::Entry*> Membership::random_alive(std::size_t k,
                                                               const std::string& exclude) {
  std::vector<const Entry*> all;
  for (const auto& [id, e] : members_) {
    if (e.member.state == MemberState::Alive && id != exclude) all.push_back(&e);
  }
  std::size_t n = std::min(k, all.size());
  for (std::size_t i = 0; i < n; ++i) {
    std::swap(all[i], all[i + random(all.size() - i)]);
  }
  all.resize(n);
  return all;
}

// ----------------------------------------------------------------------------- timers

// Our own suspicion timer is the only way a member becomes Dead here (see apply).
void Membership::suspicion_tick(TimePoint now) {
  for (auto& [id, e] : members_) {
    Member& m = e.member;
    if (m.state != MemberState::Suspect || e.suspect_deadline > now) continue;
    MemberUpdate dead{m.address, m.incarnation, MemberState::Dead};
    set_state(e, dead, now);
    emit(MemberEvent::Kind::Down, m);
    enqueue(dead);
  }
}

// News goes out faster than the probes alone would take it: to a few random members, each
// gossip_interval, while there is any.
//
// And while this node suspects a member, it says so every gossip_interval both to the
// member (so that it refutes) and to one other member at random (who corrects us if it
// has seen the refutation): the suspicion's own gossip is soon used up, and one lost
// message, or one link down one way, must not cost a live node its membership. Suspicions
// are short and rare; this is 2 small messages per gossip_interval per suspicion.
void Membership::gossip_tick(TimePoint now) {
  if (options_.gossip_interval.count() <= 0 || now < next_gossip_) return;
  next_gossip_ = now + options_.gossip_interval;
  for (const Entry* peer : random_alive(options_.gossip_fanout, "")) {
    if (queue_.empty()) break;
    send_if(peer->member.address, Gossip{}, {}, /*even_empty=*/false);
  }
  std::vector<std::pair<std::string, MemberUpdate>> suspects;
  for (const auto& [id, e] : members_) {
    if (e.member.state == MemberState::Suspect) {
      suspects.emplace_back(
          id, MemberUpdate{e.member.address, e.member.incarnation, MemberState::Suspect});
    }
  }
  for (const auto& [id, claim] : suspects) {
    send(claim.node, Gossip{});  // send() adds the claim
    for (const Entry* other : random_alive(1, id))
      send(other->member.address, Gossip{}, {claim});
  }
}

void Membership::sync_tick(TimePoint now) {
  // Alone with seeds: knock on every seed again.
  if (!seeds_.empty() && live_count() == 1 && now >= next_join_) {
    for (const NodeAddress& s : seeds_) {
      if (!left_on_purpose(s)) send(s, Join{});
    }
    next_join_ = now + options_.probe_interval;
  }

  if (options_.push_pull_interval.count() > 0 && now >= next_push_pull_) {
    next_push_pull_ = now + options_.push_pull_interval;
    for (const Entry* peer : random_alive(1, "")) {
      ++stats_.syncs;
      send(peer->member.address, Sync{full_state()});
    }
  }

  if (options_.autoheal && options_.reconnect_interval.count() > 0 && now >= next_reconnect_) {
    next_reconnect_ = now + options_.reconnect_interval;
    // One Dead member at random: across a healed partition, it is alive and answers.
    std::vector<const Entry*> dead;
    for (const auto& [id, e] : members_) {
      if (e.member.state == MemberState::Dead) dead.push_back(&e);
    }
    std::string synced;
    if (!dead.empty()) {
      const Entry* d = dead[random(dead.size())];
      synced = d->member.address.id();
      ++stats_.syncs;
      send(d->member.address, Sync{full_state()});
    }
    // Seeds not seen alive: the way back once tombstones are reaped (autoclean). Not a
    // seed that left on purpose (rediscover()).
    if (live_count() > 1) {
      for (const NodeAddress& s : seeds_) {
        std::string id = s.id();
        const Member* m = find(id);
        bool live =
            m != nullptr && (m->state == MemberState::Alive || m->state == MemberState::Suspect);
        if (live || id == synced || (m != nullptr && m->state == MemberState::Left)) continue;
        ++stats_.syncs;
        send(m != nullptr && m->state == MemberState::Dead ? m->address : s, Sync{full_state()});
      }
    }
  }
}

void Membership::reap(TimePoint now) {
  std::erase_if(members_, [&](const auto& kv) {
    const Member& m = kv.second.member;
    return (m.state == MemberState::Dead || m.state == MemberState::Left) &&
           m.since + options_.autoclean <= now;
  });
  std::erase_if(relays_, [&](const auto& kv) { return kv.second.expires <= now; });
}

}  // namespace emqxd::cluster
