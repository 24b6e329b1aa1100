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
}  // namespace

Broker::Broker(SharedStrategy strategy, RouteSink* routes) : strategy_(strategy), routes_(routes) {}

bool Broker::subscribe(std::string_view filter, SubscriberRef ref,
                       const mqtt::SubscribeOptions& opts, std::uint32_t subscription_id,
                       std::shared_ptr<Pressure> pressure, std::uint64_t store_uid) {
  auto p = parse(filter);
  std::unique_lock lock(mutex_);
  bool new_route = trie_.find(p.filter) == nullptr;
  Subscribers& subs = trie_.at(p.filter);
  new_route = new_route || subs.empty();
  Entry entry{ref, opts, subscription_id, std::move(pressure), store_uid};
  bool inserted = false;
  if (!p.shared) {
    auto it = std::find_if(subs.direct.begin(), subs.direct.end(),
                           [&](const Entry& e) { return e.ref == ref; });
    if (it == subs.direct.end()) {
      subs.direct.push_back(entry);
      ++subscriptions_;
      inserted = true;
    } else {
      *it = entry;
    }
  } else {
    auto g = std::find_if(subs.groups.begin(), subs.groups.end(),
                          [&](const Group& x) { return x.name == p.group; });
    if (g == subs.groups.end()) {
      subs.groups.push_back(Group{std::string(p.group), std::make_shared<const std::string>(filter),
                                  {}, std::make_unique<SharedPicker>(strategy_)});
      g = std::prev(subs.groups.end());
    }
    auto it = std::find_if(g->members.begin(), g->members.end(),
                           [&](const Entry& e) { return e.ref == ref; });
    if (it == g->members.end()) {
      g->members.push_back(entry);
      {
        std::lock_guard pl(picker_mutex_);
        g->picker->member_inserted(g->members.size() - 1);
      }
      ++subscriptions_;
      ++shared_subscriptions_;
      inserted = true;
    } else {
      *it = entry;
    }
  }
  if (new_route && routes_ != nullptr) routes_->add(p.filter);
  return inserted;
}

bool Broker::unsubscribe(std::string_view filter, SubscriberRef ref) {
  auto p = parse(filter);
  std::unique_lock lock(mutex_);
  Subscribers* subs = trie_.find(p.filter);
  if (subs == nullptr) return false;
  bool removed = false;
  if (!p.shared) {
    auto it = std::find_if(subs->direct.begin(), subs->direct.end(),
                           [&](const Entry& e) { return e.ref == ref; });
    if (it != subs->direct.end()) {
      subs->direct.erase(it);
      --subscriptions_;
      removed = true;
    }
  } else {
    auto g = std::find_if(subs->groups.begin(), subs->groups.end(),
                          [&](const Group& x) { return x.name == p.group; });
    if (g != subs->groups.end()) {
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
      }
      if (g->members.empty()) subs->groups.erase(g);
    }
  }
  if (subs->empty()) {
    trie_.erase(p.filter);
    if (routes_ != nullptr) routes_->remove(p.filter);
  }
  return removed;
}

void Broker::match(const mqtt::Message& m, std::string_view publisher_client_id,
                   std::vector<Match>& out) const {
  std::size_t from = out.size();
  {
    std::shared_lock lock(mutex_);
    trie_.match(m.topic, [&](const Subscribers& subs) {
      for (const auto& e : subs.direct) {
        // [MQTT-3.8.3-3]: No Local keeps a client's own messages from coming back.
        if (e.opts.no_local && m.publisher != 0 && e.ref.session == m.publisher) continue;
        Match& x = out.emplace_back();
        x.ref = e.ref;
        x.qos = e.opts.max_qos;
        x.retain_as_published = e.opts.retain_as_published;
        if (e.subscription_id != 0) x.subscription_ids.push_back(e.subscription_id);
        if (e.pressure) x.pressure = &e.pressure;
        x.store_uid = e.store_uid;
      }
      for (const auto& g : subs.groups) {
        std::optional<std::size_t> pick;
        {
          std::lock_guard pl(picker_mutex_);
          PickInput in;
          in.client_id = publisher_client_id;
          in.topic = m.topic;
          pick = g.picker->pick(g.members.size(), in);
        }
        if (!pick) continue;
        const Entry& e = g.members[*pick];  // one member per group [MQTT-4.8.2-?]
        Match& x = out.emplace_back();
        x.ref = e.ref;
        x.qos = e.opts.max_qos;
        x.retain_as_published = e.opts.retain_as_published;
        x.share = g.share;
        if (e.subscription_id != 0) x.subscription_ids.push_back(e.subscription_id);
        if (e.pressure) x.pressure = &e.pressure;
        x.store_uid = e.store_uid;
      }
    });
    merge_per_session(out, from);
    for (auto it = out.begin() + static_cast<std::ptrdiff_t>(from); it != out.end(); ++it) {
      if (it->pressure == nullptr) continue;
      const auto& p = *it->pressure;
      it->pressure = nullptr;
      if (std::min(m.qos, it->qos) == mqtt::QoS::AtMostOnce) continue;
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
  for (const auto& g : subs->groups) {
    if (g.name != p.group) continue;
    auto others = [&](std::size_t i) { return g.members[i].ref != except; };
    std::optional<std::size_t> pick;
    {
      std::lock_guard pl(picker_mutex_);
      PickInput in;
      in.available = others;
      in.topic = m.topic;
      pick = g.picker->pick(g.members.size(), in);
    }
    if (!pick) return false;
    const Entry& e = g.members[*pick];
    out.ref = e.ref;
    out.qos = e.opts.max_qos;
    out.retain_as_published = e.opts.retain_as_published;
    out.subscription_ids.clear();
    if (e.subscription_id != 0) out.subscription_ids.push_back(e.subscription_id);
    out.share = g.share;
    out.store_uid = e.store_uid;
    return true;
  }
  return false;
}

void Broker::move(const std::vector<std::string>& filters, SubscriberRef from, SubscriberRef to) {
  std::unique_lock lock(mutex_);
  for (const auto& f : filters) {
    auto p = parse(f);
    Subscribers* subs = trie_.find(p.filter);
    if (subs == nullptr) continue;
    auto repoint = [&](std::vector<Entry>& entries) {
      for (auto& e : entries) {
        if (e.ref == from) e.ref = to;
      }
    };
    if (!p.shared) {
      repoint(subs->direct);
    } else {
      for (auto& g : subs->groups) {
        if (g.name == p.group) repoint(g.members);
      }
    }
  }
}

BrokerStats Broker::stats() const {
  std::shared_lock lock(mutex_);
  return {subscriptions_, shared_subscriptions_, trie_.size()};
}

std::vector<std::string> Broker::routes(std::string_view filter, std::size_t limit,
                                        std::size_t* total) const {
  std::vector<std::string> out;
  std::size_t matched = 0;
  std::shared_lock lock(mutex_);
  if (!filter.empty()) {
    const Subscribers* subs = trie_.find(filter);
    if (subs != nullptr && !subs->empty()) {
      matched = 1;
      if (limit > 0) out.emplace_back(filter);
    }
  } else {
    trie_.for_each([&](std::string_view f, const Subscribers& subs) {
      if (subs.empty()) return;
      ++matched;
      if (out.size() < limit) out.emplace_back(f);
    });
  }
  if (total != nullptr) *total = matched;
  return out;
}

}  // namespace emqxd::broker
