#include "broker/broker.hpp"

#include <algorithm>

#include "broker/topic.hpp"

namespace emqxd::broker {

namespace {
// Splits "$share/g/f" / "$queue/f" into group and filter; a plain filter has no group.
// Filters reaching the broker were validated by the channel.
struct Parsed {
  std::string_view group;
  std::string_view filter;
  bool shared = false;
};
Parsed parse(std::string_view filter) {
  auto s = parse_shared(filter);
  if (s && *s) return {(*s)->group, (*s)->filter, true};
  return {{}, filter, false};
}

void erase_node(std::vector<NodeIndex>& nodes, NodeIndex n) {
  auto it = std::find(nodes.begin(), nodes.end(), n);
  if (it != nodes.end()) nodes.erase(it);
}
}  // namespace

std::string share_name(std::string_view group, std::string_view filter) {
  std::string s;
  if (group == kQueueGroup) {
    s.reserve(kQueuePrefix.size() + filter.size());
    s.append(kQueuePrefix).append(filter);
  } else {
    s.reserve(kSharePrefix.size() + group.size() + 1 + filter.size());
    s.append(kSharePrefix).append(group).append("/").append(filter);
  }
  return s;
}

// ---------------------------------------------------------------- DirectList

Broker::Entry* Broker::DirectList::find(SubscriberRef ref) {
  if (index_) {
    auto it = index_->find(ref);
    return it == index_->end() ? nullptr : &entries_[it->second];
  }
  for (auto& e : entries_) {
    if (e.ref == ref) return &e;
  }
  return nullptr;
}

void Broker::DirectList::push(Entry e) {
  entries_.push_back(std::move(e));
  if (index_) {
    index_->emplace(entries_.back().ref, entries_.size() - 1);
  } else if (entries_.size() >= kIndexFrom) {
    index_ = std::make_unique<std::unordered_map<SubscriberRef, std::size_t, RefHash>>();
    for (std::size_t i = 0; i < entries_.size(); ++i)
      index_->emplace(entries_[i].ref, i);
  }
}

bool Broker::DirectList::erase(SubscriberRef ref) {
  Entry* e = find(ref);
  if (e == nullptr) return false;
  auto i = static_cast<std::size_t>(e - entries_.data());
  if (index_) index_->erase(ref);
  if (i + 1 != entries_.size()) {
    entries_[i] = std::move(entries_.back());
    if (index_) (*index_)[entries_[i].ref] = i;
  }
  entries_.pop_back();
  if (entries_.empty()) index_.reset();
  return true;
}

void Broker::DirectList::repoint(SubscriberRef from, SubscriberRef to) {
  Entry* e = find(from);
  if (e == nullptr) return;
  e->ref = to;
  if (index_) {
    auto i = static_cast<std::size_t>(e - entries_.data());
    index_->erase(from);
    (*index_)[to] = i;
  }
}

// ---------------------------------------------------------------- local subscriptions

Broker::Broker(SharedStrategy strategy, RouteSink* routes) : strategy_(strategy), routes_(routes) {}

Broker::Group* Broker::find_group(Subscribers& subs, std::string_view name) {
  auto g = std::find_if(subs.groups.begin(), subs.groups.end(),
                        [&](const Group& x) { return x.name == name; });
  return g == subs.groups.end() ? nullptr : &*g;
}

Broker::Group& Broker::group_at(Subscribers& subs, std::string_view name, std::string_view filter) {
  if (Group* g = find_group(subs, name)) return *g;
  subs.groups.push_back(Group{std::string(name),
                              std::make_shared<const std::string>(share_name(name, filter)),
                              {},
                              {},
                              std::make_unique<SharedPicker>(strategy_)});
  return subs.groups.back();
}

void Broker::erase_if_empty(std::string_view filter, Subscribers& subs) {
  std::erase_if(subs.groups, [](const Group& g) { return g.empty(); });
  if (subs.empty()) trie_.erase(filter);
}

namespace {
template <class S>
bool has_local(const S& subs) {
  if (!subs.direct.empty()) return true;
  for (const auto& g : subs.groups) {
    if (!g.members.empty()) return true;
  }
  return false;
}
}  // namespace

bool Broker::subscribe(std::string_view filter, SubscriberRef ref,
                       const mqtt::SubscribeOptions& opts, std::uint32_t subscription_id,
                       std::shared_ptr<Pressure> pressure, std::uint64_t store_uid) {
  auto p = parse(filter);
  std::unique_lock lock(mutex_);
  Subscribers& subs = trie_.at(p.filter);
  const bool had_local = has_local(subs);
  Entry entry{ref, opts, subscription_id, std::move(pressure), store_uid};
  bool inserted = false;
  bool new_route = false;
  if (!p.shared) {
    if (Entry* e = subs.direct.find(ref)) {
      *e = std::move(entry);
    } else {
      new_route = subs.direct.empty();
      subs.direct.push(std::move(entry));
      ++subscriptions_;
      inserted = true;
    }
  } else {
    Group& g = group_at(subs, p.group, p.filter);
    auto it = std::find_if(g.members.begin(), g.members.end(),
                           [&](const Entry& e) { return e.ref == ref; });
    if (it == g.members.end()) {
      new_route = g.members.empty();
      g.members.push_back(std::move(entry));
      {
        std::lock_guard pl(picker_mutex_);
        g.picker->member_inserted(g.members.size() - 1);
      }
      ++subscriptions_;
      ++shared_subscriptions_;
      inserted = true;
    } else {
      *it = std::move(entry);
    }
  }
  if (!had_local) ++local_topics_;
  if (new_route) {
    ++local_routes_;
    if (routes_ != nullptr) routes_->add(p.filter, p.group);
  }
  return inserted;
}

bool Broker::unsubscribe(std::string_view filter, SubscriberRef ref) {
  auto p = parse(filter);
  std::unique_lock lock(mutex_);
  Subscribers* subs = trie_.find(p.filter);
  if (subs == nullptr) return false;
  const bool had_local = has_local(*subs);
  bool removed = false;
  bool route_gone = false;
  if (!p.shared) {
    removed = subs->direct.erase(ref);
    route_gone = removed && subs->direct.empty();
    if (removed) --subscriptions_;
  } else if (Group* g = find_group(*subs, p.group)) {
    auto it = std::find_if(g->members.begin(), g->members.end(),
                           [&](const Entry& e) { return e.ref == ref; });
    if (it != g->members.end()) {
      auto index = static_cast<std::size_t>(it - g->members.begin());
      g->members.erase(it);
      {
        std::lock_guard pl(picker_mutex_);
        g->picker->member_removed(index);
      }
      --subscriptions_;
      --shared_subscriptions_;
      removed = true;
      route_gone = g->members.empty();
    }
  }
  if (had_local && !has_local(*subs)) --local_topics_;
  if (route_gone) {
    --local_routes_;
    if (routes_ != nullptr) routes_->remove(p.filter, p.group);
  }
  erase_if_empty(p.filter, *subs);
  return removed;
}

// ---------------------------------------------------------------- matching

void Broker::match(const mqtt::Message& m, std::string_view publisher_client_id,
                   std::vector<Match>& out, std::vector<RemoteMatch>* remote,
                   bool direct_only) const {
  std::size_t from = out.size();
  const std::size_t remote_from = remote != nullptr ? remote->size() : 0;
  auto remote_for = [&](NodeIndex n) -> RemoteMatch& {
    for (auto it = remote->begin() + static_cast<std::ptrdiff_t>(remote_from); it != remote->end();
         ++it) {
      if (it->node == n) return *it;
    }
    auto& r = remote->emplace_back();
    r.node = n;
    return r;
  };
  auto local = [&](const Entry& e) -> Match& {
    Match& x = out.emplace_back();
    x.ref = e.ref;
    x.qos = e.opts.max_qos;
    x.retain_as_published = e.opts.retain_as_published;
    if (e.subscription_id != 0) x.subscription_ids.push_back(e.subscription_id);
    if (e.pressure) x.pressure = &e.pressure;
    x.store_uid = e.store_uid;
    return x;
  };
  {
    std::shared_lock lock(mutex_);
    trie_.match(m.topic, [&](const Subscribers& subs) {
      for (const auto& e : subs.direct.entries()) {
        // [MQTT-3.8.3-3]: No Local keeps a client's own messages from coming back.
        if (e.opts.no_local && m.publisher != 0 && e.ref.session == m.publisher) continue;
        local(e);
      }
      if (direct_only) return;
      if (remote != nullptr) {
        for (NodeIndex n : subs.remote)
          remote_for(n).direct = true;
      }
      for (const auto& g : subs.groups) {
        const std::size_t n_local = g.members.size();
        const std::size_t n_remote = remote != nullptr ? g.remote.size() : 0;
        if (n_local + n_remote == 0) continue;
        std::optional<std::size_t> pick;
        {
          std::lock_guard pl(picker_mutex_);
          PickInput in;
          in.client_id = publisher_client_id;
          in.topic = m.topic;
          auto is_local = [n_local](std::size_t i) { return i < n_local; };
          in.is_local = is_local;
          pick = g.picker->pick(n_local + n_remote, in);
        }
        if (!pick) continue;
        if (*pick < n_local) {
          local(g.members[*pick]).share = g.share;  // one member per group [MQTT-4.8.2-?]
        } else {
          remote_for(g.remote[*pick - n_local]).shares.push_back(g.share);
        }
      }
    });
    merge_per_session(out, from);
    for (auto it = out.begin() + static_cast<std::ptrdiff_t>(from); it != out.end(); ++it) {
      if (it->pressure == nullptr) continue;
      const auto& p = *it->pressure;
      it->pressure = nullptr;
      if (std::min(m.qos, it->qos) == mqtt::QoS::AtMostOnce) {
        it->saturated = p->qos0_saturated();
        continue;
      }
      it->counted = true;
      auto depth = p->in_transit.fetch_add(1, std::memory_order_relaxed) + 1 +
                   p->queued.load(std::memory_order_relaxed);
      if (depth >= p->high && p->holds()) it->congested = p;
    }
  }
}

// Overlapping plain subscriptions of one session deliver once, with the highest QoS and
// every Subscription Identifier [MQTT-3.3.4-3..5]. Shared deliveries stay separate.
void Broker::merge_per_session(std::vector<Match>& out, std::size_t from) const {
  if (out.size() - from < 2) return;
  auto first = out.begin() + static_cast<std::ptrdiff_t>(from);
  std::stable_sort(first, out.end(), [](const Match& a, const Match& b) {
    if (a.ref != b.ref) return a.ref < b.ref;
    return (a.share != nullptr) < (b.share != nullptr);
  });
  auto keep = first;
  for (auto it = std::next(first); it != out.end(); ++it) {
    if (!it->share && !keep->share && it->ref == keep->ref) {
      keep->qos = std::max(keep->qos, it->qos);
      keep->retain_as_published = keep->retain_as_published || it->retain_as_published;
      keep->subscription_ids.insert(keep->subscription_ids.end(), it->subscription_ids.begin(),
                                    it->subscription_ids.end());
    } else {
      ++keep;
      if (keep != it) *keep = std::move(*it);
    }
  }
  out.erase(std::next(keep), out.end());
}

bool Broker::redispatch(const std::string& share, const mqtt::Message& m, SubscriberRef except,
                        Match& out) const {
  auto p = parse(share);
  std::shared_lock lock(mutex_);
  const Subscribers* subs = trie_.find(p.filter);
  if (subs == nullptr) return false;
  const Group* g = find_group(*subs, p.group);
  if (g == nullptr || g->members.empty()) return false;
  auto others = [&](std::size_t i) { return i < g->members.size() && g->members[i].ref != except; };
  std::optional<std::size_t> pick;
  {
    std::lock_guard pl(picker_mutex_);
    PickInput in;
    in.available = others;
    in.topic = m.topic;
    pick = g->picker->pick(g->members.size() + g->remote.size(), in);
  }
  if (!pick || *pick >= g->members.size()) return false;
  const Entry& e = g->members[*pick];
  out.ref = e.ref;
  out.qos = e.opts.max_qos;
  out.retain_as_published = e.opts.retain_as_published;
  out.subscription_ids.clear();
  if (e.subscription_id != 0) out.subscription_ids.push_back(e.subscription_id);
  out.share = g->share;
  out.store_uid = e.store_uid;
  return true;
}

void Broker::move(const std::vector<std::string>& filters, SubscriberRef from, SubscriberRef to) {
  std::unique_lock lock(mutex_);
  for (const auto& f : filters) {
    auto p = parse(f);
    Subscribers* subs = trie_.find(p.filter);
    if (subs == nullptr) continue;
    if (!p.shared) {
      subs->direct.repoint(from, to);
    } else if (Group* g = find_group(*subs, p.group)) {
      for (auto& e : g->members) {
        if (e.ref == from) e.ref = to;
      }
    }
  }
}

BrokerStats Broker::stats() const {
  std::shared_lock lock(mutex_);
  return {subscriptions_, shared_subscriptions_, local_topics_, local_routes_,
          remote_total_.load(std::memory_order_relaxed)};
}

// ---------------------------------------------------------------- routes of peers

void Broker::add_remote_locked(NodeIndex node, const Route& r) {
  Subscribers& subs = trie_.at(r.filter);
  if (r.group.empty()) {
    if (std::find(subs.remote.begin(), subs.remote.end(), node) == subs.remote.end()) {
      subs.remote.push_back(node);
    }
    return;
  }
  Group& g = group_at(subs, r.group, r.filter);
  if (std::find(g.remote.begin(), g.remote.end(), node) != g.remote.end()) return;
  g.remote.push_back(node);
  std::lock_guard pl(picker_mutex_);
  g.picker->member_inserted(g.members.size() + g.remote.size() - 1);
}

void Broker::remove_remote_locked(NodeIndex node, const Route& r) {
  Subscribers* subs = trie_.find(r.filter);
  if (subs == nullptr) return;
  if (r.group.empty()) {
    erase_node(subs->remote, node);
  } else if (Group* g = find_group(*subs, r.group)) {
    auto it = std::find(g->remote.begin(), g->remote.end(), node);
    if (it != g->remote.end()) {
      auto index = g->members.size() + static_cast<std::size_t>(it - g->remote.begin());
      g->remote.erase(it);
      std::lock_guard pl(picker_mutex_);
      g->picker->member_removed(index);
    }
  }
  erase_if_empty(r.filter, *subs);
}

void Broker::begin_remote_snapshot(NodeIndex node) {
  std::unique_lock lock(mutex_);
  ++remote_[node].generation;
}

void Broker::add_remote_routes(NodeIndex node, const std::vector<Route>& routes) {
  std::unique_lock lock(mutex_);
  RemoteShard& shard = remote_[node];
  for (const Route& r : routes) {
    auto [it, inserted] = shard.routes.try_emplace(r, shard.generation);
    if (!inserted) {
      it->second = shard.generation;
      continue;
    }
    add_remote_locked(node, r);
    remote_total_.fetch_add(1, std::memory_order_relaxed);
  }
}

void Broker::end_remote_snapshot(NodeIndex node) {
  std::unique_lock lock(mutex_);
  RemoteShard& shard = remote_[node];
  for (auto it = shard.routes.begin(); it != shard.routes.end();) {
    if (it->second == shard.generation) {
      ++it;
      continue;
    }
    remove_remote_locked(node, it->first);
    remote_total_.fetch_sub(1, std::memory_order_relaxed);
    it = shard.routes.erase(it);
  }
}

void Broker::remove_remote_route(NodeIndex node, const Route& route) {
  std::unique_lock lock(mutex_);
  auto s = remote_.find(node);
  if (s == remote_.end() || s->second.routes.erase(route) == 0) return;
  remove_remote_locked(node, route);
  remote_total_.fetch_sub(1, std::memory_order_relaxed);
}

void Broker::drop_remote_routes(NodeIndex node) {
  std::unique_lock lock(mutex_);
  auto s = remote_.find(node);
  if (s == remote_.end()) return;
  for (const auto& [r, gen] : s->second.routes)
    remove_remote_locked(node, r);
  remote_total_.fetch_sub(s->second.routes.size(), std::memory_order_relaxed);
  remote_.erase(s);
}

std::size_t Broker::remote_route_count(NodeIndex node) const {
  std::shared_lock lock(mutex_);
  auto s = remote_.find(node);
  return s == remote_.end() ? 0 : s->second.routes.size();
}

std::vector<Route> Broker::local_routes() const {
  std::vector<Route> out;
  std::shared_lock lock(mutex_);
  out.reserve(local_routes_);
  trie_.for_each([&](std::string_view filter, const Subscribers& subs) {
    if (!subs.direct.empty()) out.push_back({std::string(filter), {}});
    for (const auto& g : subs.groups) {
      if (!g.members.empty()) out.push_back({std::string(filter), g.name});
    }
  });
  return out;
}

void Broker::list_routes(std::string_view filter, std::size_t limit,
                         const std::function<void(const Route&, NodeIndex)>& f) const {
  std::size_t n = 0;
  std::shared_lock lock(mutex_);
  auto visit = [&](std::string_view at, const Subscribers& subs) {
    auto emit = [&](std::string_view group, NodeIndex node) {
      if (n >= limit) return;
      ++n;
      f(Route{std::string(at), std::string(group)}, node);
    };
    if (!subs.direct.empty()) emit({}, 0);
    for (NodeIndex r : subs.remote)
      emit({}, r);
    for (const auto& g : subs.groups) {
      if (!g.members.empty()) emit(g.name, 0);
      for (NodeIndex r : g.remote)
        emit(g.name, r);
    }
  };
  if (!filter.empty()) {
    if (const Subscribers* subs = trie_.find(filter)) visit(filter, *subs);
    return;
  }
  trie_.for_each(visit);
}

}  // namespace emqxd::broker
