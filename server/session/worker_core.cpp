#include "session/worker_core.hpp"

#include <algorithm>

#include "auth/db/db_auth.hpp"
#include "common/log.hpp"
#include "session/channel.hpp"
#include "session/routing.hpp"
#include "session/sys_events.hpp"
#include "storage/store.hpp"

namespace emqxd::session {

WorkerCore::WorkerCore(NodeState& node, Scheduler& scheduler)
    : node_(node), sched_(scheduler), commits_(node.durable), sessions_(*this) {
  topic_view_ = &topic_view_own_;
  slow_subs_ = &node.slow_subs;
}

// ---------------------------------------------------------------- end of turn

void WorkerCore::end_of_turn() {
  ship();
}

void WorkerCore::start() {
  turn_ = Outboxes(sched_.workers());
  // Delayed messages read back from the store are due from now on.
  if (sched_.id() == 0) sched_.post(0, [this] { arm_delayed(); });
}

void WorkerCore::ship() {
  const bool committed = commit_batch();
  if (commits_.ship(turn_, committed)) post_outboxes(turn_);
}

void WorkerCore::ship_then(Task f) {
  ship();
  commits_.after_shipped(std::move(f));
}

bool WorkerCore::commit_batch() {
  if (!node_.durable) return false;
  return commits_.commit(*node_.store, [this](std::uint64_t ticket, storage::Status st) {
    sched_.post(sched_.id(), [this, ticket, st = std::move(st)] { on_committed(ticket, st); });
  });
}

void WorkerCore::on_committed(std::uint64_t ticket, const storage::Status& status) {
  auto done = commits_.on_committed(ticket, status);
  for (auto* ch : done.channels)
    ch->committed(ticket, status);
  if (!done.channels.empty()) sched_.end_of_turn_needed();
  metrics::inc(metrics_.messages_dropped, done.refused);
  for (auto& r : done.released) {
    post_outboxes(r.out);
    for (auto& f : r.after)
      f();
  }
}

void WorkerCore::post_outboxes(Outboxes& out) {
  for (std::size_t n = 0; n < out.remote.size(); ++n) {
    if (out.remote[n].empty()) continue;
    auto batch = std::move(out.remote[n]);
    out.remote[n].clear();
    node_.forwarder->forward(static_cast<broker::NodeIndex>(n), std::move(batch));
  }
  for (std::uint32_t w = 0; w < out.local.size(); ++w) {
    if (out.local[w].empty()) continue;
    auto batch = std::move(out.local[w]);
    out.local[w].clear();
    if (w == sched_.id()) {
      deliver(batch);
    } else {
      sched_.post_deliveries(w, std::move(batch));
    }
  }
}

void WorkerCore::deliver(std::vector<Delivery>& batch) {
  SessionLimits limits{config().mqtt.max_mqueue_len, config().mqtt.mqueue_store_qos0};
  for (auto& d : batch) {
    Session* s = sessions_.find(d.session);
    if (s == nullptr) {
      if (!sessions_.redirect(d)) {
        metrics::inc(metrics_.messages_dropped_no_session);
        count_dropped(*this, d.msg);
      }
      continue;
    }
    if (d.refused) {
      s->arrived(d);
      continue;
    }
    deliver_to(*s, std::move(d), limits, *this, store_batch());
  }
}

// ---------------------------------------------------------------- storage

storage::Batch* WorkerCore::store_batch() {
  auto* b = commits_.batch();
  if (b != nullptr) sched_.end_of_turn_needed();  // whoever records gets it committed this turn
  return b;
}

std::uint64_t WorkerCore::next_store_seq() {
  return node_.store->next_seq();
}

std::uint64_t WorkerCore::await_commit(Channel& ch, const mqtt::Message* published) {
  sched_.end_of_turn_needed();
  return commits_.await(ch, published);
}

// ---------------------------------------------------------------- publish

bool WorkerCore::apply_retained(const mqtt::MessagePtr& m, bool merge, mqtt::MessagePtr* kept) {
  // [MQTT-3.3.1-5..7]: store, replace, or (empty payload) clear the retained message.
  mqtt::MessagePtr stored;
  auto r = node_.retainer.retain(m, merge, &stored);
  if (kept != nullptr) *kept = stored;
  if (r == broker::Retainer::RetainResult::Stored) metrics::inc(metrics_.messages_retained);
  if (r != broker::Retainer::RetainResult::Stored && r != broker::Retainer::RetainResult::Cleared) {
    return false;
  }
  auto* b = store_batch();
  if (b == nullptr) return false;
  if (stored->payload.empty()) {
    b->erase_retained(stored->topic);
  } else {
    b->put_retained(*stored);
  }
  return true;
}

bool WorkerCore::clear_retained(const std::string& topic) {
  if (!node_.retainer.get(topic)) return false;
  auto m = std::make_shared<mqtt::Message>();
  m->topic = topic;
  m->retain = true;
  m->received_at = now();
  m->received_at_ms = mqtt::wall_ms_now();
  mqtt::MessagePtr cleared = m;
  mqtt::MessagePtr replicate = cleared;
  apply_retained(cleared, false, &replicate);
  if (broker::Forwarder* forwarder = node_.forwarder;
      forwarder != nullptr && replicate && !topic.starts_with("$SYS/")) {
    peers_.clear();
    forwarder->peers(peers_);
    for (auto n : peers_)
      turn_.to_peer(n).push_back({replicate, false, {}, true, {}});
  }
  sched_.end_of_turn_needed();
  return true;
}

PublishResult WorkerCore::publish(const mqtt::MessagePtr& m, const Publisher& from) {
  if (publish_observer_) publish_observer_(m);
  if (rules_.any_on_publish()) [[unlikely]]
    run_rules(m, from);
  const std::string_view publisher_client_id = from.client_id;
  PublishResult result;
  matches_.clear();
  remote_matches_.clear();
  broker::Forwarder* forwarder = node_.forwarder;
  node_.broker.match(*m, publisher_client_id, matches_, forwarder ? &remote_matches_ : nullptr);
  const bool retain = m->retain && config().retainer.enable;
  if (node_.durable && m->qos != mqtt::QoS::AtMostOnce &&
      node_.store->health() != storage::Health::Ok) {
    // The disk is full: what would have to be stored is refused whole (0x97), so that
    // nothing is acknowledged that a restart would lose. The rest goes on in memory.
    bool needs_store = retain;
    for (const auto& x : matches_) {
      if (x.store_uid != 0 && x.qos != mqtt::QoS::AtMostOnce) needs_store = true;
    }
    if (needs_store) {
      result.refused = true;
      return result;
    }
  }
  mqtt::MessagePtr replicate = m;  // the retained message as stored, for the peers
  if (retain) result.stored = apply_retained(m, false, &replicate);
  for (auto& match : matches_) {
    auto worker = match.ref.worker;
    route(m, std::move(match), turn_.local[worker], result, *this);
  }
  if (!result.congested && !matches_.empty()) hold_for_inboxes(result);
  if (forwarder != nullptr) {
    const bool hold = m->qos != mqtt::QoS::AtMostOnce && config().mqtt.backpressure;
    for (auto& r : remote_matches_) {
      if (hold && !result.congested) result.congested = forwarder->congestion(r.node);
      turn_.to_peer(r.node).push_back({m, r.direct, std::move(r.shares), false, {}});
    }
    result.matched += remote_matches_.size();
    if (retain && !m->topic.starts_with("$SYS/")) {
      // Every node keeps every retained message (last writer wins, Retainer::retain).
      peers_.clear();
      forwarder->peers(peers_);
      if (!replicate) replicate = m;  // refused by the retainer: the peers decide alike
      for (auto n : peers_) {
        auto& box = turn_.to_peer(n);
        if (replicate == m && !box.empty() && box.back().msg == m) {
          box.back().store_retained = true;  // the delivery carries it
        } else {
          box.push_back({replicate, false, {}, true, {}});
        }
      }
    }
    if (!remote_matches_.empty() || retain) sched_.end_of_turn_needed();
  }
  if (!matches_.empty()) sched_.end_of_turn_needed();
  metrics::inc(metrics_.messages_delivered, matches_.size());
  if (auto* tc = topic_counters(m->topic)) [[unlikely]] {
    tc->in(m->qos);
    if (result.matched == 0) tc->inc(TopicMetrics::Dropped);  // EMQX's no_subscribers
  }
  if (result.matched == 0 && rules_.listens(rules::Event::MessageDropped)) [[unlikely]]
    message_dropped(*m, from);
  return result;
}

// A worker this turn routes to whose inbox is over its byte bound holds the publisher
// (net/worker.hpp): one relaxed load per worker with deliveries waiting.
void WorkerCore::hold_for_inboxes(PublishResult& result) {
  for (std::uint32_t w = 0; w < turn_.local.size(); ++w) {
    if (w == sched_.id() || turn_.local[w].empty()) continue;
    if (auto p = sched_.inbox_congestion(w)) {
      result.congested = std::move(p);
      return;
    }
  }
}

// ---------------------------------------------------------------- from peers

void WorkerCore::from_peer(std::uint32_t lane, std::vector<broker::ForwardItem>&& items,
                           broker::PeerReport report) {
  auto it = parked_.find(lane);
  if (it != parked_.end()) {
    // Behind what waits, in order.
    for (auto& x : items)
      it->second.items.push_back(std::move(x));
    return;
  }
  std::deque<broker::ForwardItem> queue(std::make_move_iterator(items.begin()),
                                        std::make_move_iterator(items.end()));
  std::shared_ptr<broker::Pressure> congested;
  auto routed = dispatch_from_peer(queue, congested);
  report(static_cast<std::int64_t>(routed), congested);
  if (queue.empty()) return;
  parked_[lane] = Parked{std::move(queue), std::move(congested), now(), std::move(report)};
  start_pressure_tick();
}

// Parked messages of peers go on once their subscriber caught up (or stalled).
void WorkerCore::retry_parked(mqtt::Message::Clock::time_point t) {
  for (auto it = parked_.begin(); it != parked_.end();) {
    Parked& pk = it->second;
    if (!pk.by->releases(pk.since, t)) {
      ++it;
      continue;
    }
    std::shared_ptr<broker::Pressure> congested;
    auto routed = dispatch_from_peer(pk.items, congested);
    pk.report(static_cast<std::int64_t>(routed), congested);
    if (pk.items.empty()) {
      it = parked_.erase(it);
      continue;
    }
    pk.by = std::move(congested);
    pk.since = t;
    ++it;
  }
}

std::size_t WorkerCore::dispatch_from_peer(std::deque<broker::ForwardItem>& items,
                                           std::shared_ptr<broker::Pressure>& congested) {
  std::size_t routed = 0;
  while (!items.empty()) {
    PublishResult result;
    route_from_peer(items.front(), result);
    items.pop_front();
    ++routed;
    if (result.congested && config().mqtt.backpressure) {
      congested = std::move(result.congested);
      break;
    }
    result.congested = nullptr;
    hold_for_inboxes(result);  // a full inbox parks the stream whatever the setting
    if (result.congested) {
      congested = std::move(result.congested);
      break;
    }
  }
  sched_.end_of_turn_needed();
  return routed;
}

// A peer's messages are this node's to deliver as if published here, except that the
// peer already chose the shared-group members: here only plain subscribers match, and
// each group the peer picked this node for gets one local member.
void WorkerCore::route_from_peer(broker::ForwardItem& item, PublishResult& result) {
  const mqtt::MessagePtr& m = item.msg;
  metrics::inc(metrics_.messages_forward_received);
  if (item.store_retained && config().retainer.enable) apply_retained(m, true);
  if (item.to_session) {
    std::unique_lock lock(node_.registry.mutex);
    auto e = node_.registry.entries.find(item.to_session->client_id);
    if (e == node_.registry.entries.end()) {
      // Ahead of the session itself: it takes it when installed (SessionManager::install).
      auto& early = node_.registry.early[item.to_session->client_id];
      auto t = now();
      std::erase_if(early, [&](const auto& x) { return t - x.at > std::chrono::seconds(10); });
      early.push_back({m, item.to_session, t});
    } else {
      const std::uint32_t w = e->second.worker;
      lock.unlock();
      if (w == sched_.id()) {
        sessions_.deliver_moved(m, *item.to_session);
      } else {
        WorkerCore* target = node_.cores[w];
        sched_.post(w,
                    [target, m, t = item.to_session] { target->sessions().deliver_moved(m, *t); });
      }
    }
  }
  if (item.direct) {
    matches_.clear();
    node_.broker.match(*m, {}, matches_, nullptr, true);
    for (auto& match : matches_) {
      auto worker = match.ref.worker;
      route(m, std::move(match), turn_.local[worker], result, *this);
    }
    metrics::inc(metrics_.messages_delivered, matches_.size());
  }
  for (const auto& share : item.shares) {
    broker::Match match;
    if (!node_.broker.redispatch(*share, *m, {}, match)) {
      metrics::inc(metrics_.messages_dropped_no_subscribers);  // the member went meanwhile
      continue;
    }
    auto worker = match.ref.worker;
    route(m, std::move(match), turn_.local[worker], result, *this);
    metrics::inc(metrics_.messages_delivered);
  }
}

// ---------------------------------------------------------------- back-pressure

void WorkerCore::hold(Channel& ch, std::shared_ptr<broker::Pressure> p) {
  metrics::inc(metrics_.publishers_held);
  held_[&ch] = Held{std::move(p), now()};
  start_pressure_tick();
}

void WorkerCore::start_pressure_tick() {
  if (pressure_timer_) return;
  pressure_timer_ = sched_.after(std::chrono::milliseconds(1), [this] { on_pressure_tick(); });
}

// Every millisecond while something waits for a subscriber to catch up (mqtt.backpressure):
// release the publishers held here whose subscriber caught up, went offline or stalled
// (Pressure::releases), and route what peers' messages were parked for the same reason.
// Releasing reads what waited in the socket, which may hold the publisher again at once.
void WorkerCore::on_pressure_tick() {
  auto t = now();
  std::vector<Channel*> ready;
  for (auto& [ch, h] : held_) {
    if (h.by->releases(h.since, t)) ready.push_back(ch);
  }
  for (auto* ch : ready) {
    held_.erase(ch);
    ch->release();
  }
  retry_parked(t);
  if (held_.empty() && parked_.empty()) {
    pressure_timer_.reset();
    return;
  }
  pressure_timer_ = sched_.after(std::chrono::milliseconds(1), [this] { on_pressure_tick(); });
}

// ---------------------------------------------------------------- sessions and channels

void WorkerCore::open_session(Channel& ch, const std::string& client_id, bool clean_start) {
  sessions_.open(ch, client_id, clean_start);
}

void WorkerCore::channel_closed(Channel& ch, Session* s) {
  authenticating_.erase(&ch);
  authorizing_.erase(&ch);
  refreshing_.erase(&ch);
  claiming_.erase(&ch);
  if (ch.connected_at_ms() != 0) {
    const auto now = mqtt::wall_ms_now();
    if (node_.flapping.ended(ch.client_id(), now)) {
      const auto& f = config().flapping_detect;
      // Seconds, as the banned table keeps them; rounded up, so never shorter than ban_time.
      node_.banned.ban(Banned::As::ClientId, ch.client_id(),
                       (now + f.ban_time.count() + 999) / 1000, "flapping detector",
                       "flapping is detected");
      metrics::inc(metrics_.client_flapping_banned);
      static thread_local log::Throttle throttle;
      std::uint64_t held = 0;
      if (throttle.allow(std::chrono::steady_clock::now(), held)) {
        log::get("channel")->warn(
            "client_id={} flapping: its connections ended {} times within {} ms; "
            "banned for {} ms ({} similar lines suppressed)",
            ch.client_id(), f.max_count, f.window_time.count(), f.ban_time.count(), held);
      }
    }
  }
  if (auto it = expiring_.find(&ch); it != expiring_.end()) {
    it->second->cancel();
    expiring_.erase(it);
  }
  retrying_channels_.erase(&ch);
  held_.erase(&ch);
  commits_.forget(ch);
  sessions_.closed(ch, s);
}

void WorkerCore::kick_banned() {
  const auto now = mqtt::wall_ms_now() / 1000;
  std::vector<Channel*> kick;
  sessions_.for_each_connected([&](Channel& ch) {
    if (node_.banned.banned(ch.client_id(), ch.username(), ch.peer_host(), now)) {
      kick.push_back(&ch);
    }
  });
  for (Channel* ch : kick)
    ch->kick(mqtt::ReasonCode::Banned);
}

const auth::UserDatabase* WorkerCore::scram_database(std::string_view method) const {
  auto algorithm = auth::scram_method(method);
  if (!algorithm || !node_.authentication) return nullptr;
  const auto* db = node_.authentication->users("scram:built_in_database");
  return db != nullptr && db->scram_algorithm() == *algorithm ? db : nullptr;
}

// The chain runs here when it is cheap (no chain, a JWT, a sha256 password); a bcrypt or
// pbkdf2 check, a query to a database, and the fetch of the client's rules from the
// database authorization sources run on the node's blocking pool, together, and their
// answer comes back as a task.
void WorkerCore::authenticate(Channel& ch, auth::Credentials credentials) {
  const auth::Authentication* chain = node_.authentication.get();
  const auth::Authorization* authz = &node_.authorization;
  if (chain == nullptr && !authz->fetches()) {
    auth::AuthnOutcome anyone;
    anyone.allowed = true;
    anyone.reason = mqtt::ReasonCode::Success;
    ch.on_authenticated(anyone);
    return;
  }
  auto run = [chain, authz](const auth::Credentials& c) {
    auth::AuthnOutcome outcome;
    if (chain == nullptr) {
      outcome.allowed = true;
      outcome.reason = mqtt::ReasonCode::Success;
    } else {
      outcome = chain->authenticate(c);
    }
    if (outcome.allowed && !outcome.is_superuser && authz->fetches()) {
      outcome.source_rules = authz->fetch(auth::db::vars_of(c, false));
    }
    return outcome;
  };
  const bool blocking = authz->fetches() || (chain != nullptr && !credentials.skip_chain &&
                                             !chain->empty() && chain->blocking());
  if (!blocking || !node_.offload) {
    ch.on_authenticated(run(credentials));
    return;
  }
  const std::uint64_t serial = ++auth_serial_;
  authenticating_[&ch] = serial;
  Channel* target = &ch;
  const std::uint32_t home = sched_.id();
  Scheduler* sched = &sched_;
  const bool queued =
      node_.offload([this, run, sched, home, target, serial, c = std::move(credentials)]() mutable {
        auto outcome = run(c);
        sched->post(home, [this, target, serial, outcome = std::move(outcome)]() mutable {
          auto it = authenticating_.find(target);
          if (it == authenticating_.end() || it->second != serial) return;  // closed meanwhile
          authenticating_.erase(it);
          target->on_authenticated(outcome);
        });
      });
  if (!queued) {
    authenticating_.erase(&ch);
    auth::AuthnOutcome busy;
    busy.reason = mqtt::ReasonCode::ServerBusy;
    busy.by = "authentication (too many checks waiting)";
    ch.on_authenticated(busy);
  }
}

void WorkerCore::refresh_rules(Channel& ch) {
  auto old = ch.subject().source_rules;
  if (!old || refreshing_.contains(&ch)) return;
  const auth::Authorization* authz = &node_.authorization;
  if (!node_.offload) {
    ch.on_rules_refreshed(authz->fetch(old->vars));
    return;
  }
  const std::uint64_t serial = ++auth_serial_;
  refreshing_[&ch] = serial;
  Channel* target = &ch;
  const std::uint32_t home = sched_.id();
  Scheduler* sched = &sched_;
  const bool queued = node_.offload([this, authz, sched, home, target, serial, old] {
    auto rules = authz->fetch(old->vars);
    sched->post(home, [this, target, serial, rules = std::move(rules)]() mutable {
      auto it = refreshing_.find(target);
      if (it == refreshing_.end() || it->second != serial) return;  // closed meanwhile
      refreshing_.erase(it);
      target->on_rules_refreshed(std::move(rules));
    });
  });
  if (!queued) refreshing_.erase(&ch);  // the pool is full: the old rules stay, asked again later
}

void WorkerCore::expire_at(Channel& ch, std::int64_t wall_ms) {
  const auto wait =
      std::chrono::milliseconds(std::max<std::int64_t>(0, wall_ms - mqtt::wall_ms_now()));
  Channel* target = &ch;
  if (auto it = expiring_.find(target); it != expiring_.end()) it->second->cancel();
  expiring_[target] = sched_.after(wait, [this, target] {
    if (expiring_.erase(target) == 0) return;
    target->credentials_expired();
  });
}

std::string WorkerCore::assign_client_id() {
  auto n = node_.next_client_id.fetch_add(1, std::memory_order_relaxed);
  return "emqxd-" + std::to_string(mqtt::wall_ms_now()) + "-" + std::to_string(sched_.id()) + "-" +
         std::to_string(n);
}

void WorkerCore::subscribed(const Channel& ch, std::string_view filter,
                            const mqtt::SubscribeOptions& opts) {
  rule_event(rules::Event::SessionSubscribed, ch, filter, &opts);
  if (!config().sys_topics.client_subscribed) return;
  if (auto m = sys_events::subscribed(ch, node_name(), filter, opts)) publish(m, {});
}

void WorkerCore::unsubscribed(const Channel& ch, std::string_view filter) {
  rule_event(rules::Event::SessionUnsubscribed, ch, filter);
  if (!config().sys_topics.client_unsubscribed) return;
  if (auto m = sys_events::unsubscribed(ch, node_name(), filter)) publish(m, {});
}

// ---------------------------------------------------------------- 3.1.1 retry

// One timer per worker, running only while some 3.1.1 channel has messages in flight;
// each tick resends what waited longer than retry_interval. The tick is a fraction of
// the interval, so a resend is at most that much late.
void WorkerCore::watch_retry(Channel& ch) {
  retrying_channels_.insert(&ch);
  if (retry_timer_) return;
  on_retry_timer();
}

void WorkerCore::on_retry_timer() {
  auto t = now();
  for (auto it = retrying_channels_.begin(); it != retrying_channels_.end();) {
    it = (*it)->retry(t) ? std::next(it) : retrying_channels_.erase(it);
  }
  if (retrying_channels_.empty()) {
    retry_timer_.reset();
    return;
  }
  auto tick = std::clamp<std::chrono::milliseconds>(config().mqtt.retry_interval / 4,
                                                    std::chrono::milliseconds(100),
                                                    std::chrono::milliseconds(1000));
  retry_timer_ = sched_.after(tick, [this] { on_retry_timer(); });
}

}  // namespace emqxd::session
