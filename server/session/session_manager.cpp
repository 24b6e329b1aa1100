#include "session/session_manager.hpp"

#include <algorithm>

#include "common/log.hpp"
#include "session/channel.hpp"
#include "session/routing.hpp"
#include "session/session_records.hpp"
#include "session/sys_events.hpp"
#include "session/worker_core.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("session");
  return l;
}
}  // namespace

SessionManager::SessionManager(WorkerCore& core)
    : core_(core), node_(core.node()), sched_(core.scheduler()) {}

SessionManager::~SessionManager() = default;

SessionManager* SessionManager::on(std::uint32_t worker) {
  return &node_.cores[worker]->sessions();
}

Session* SessionManager::find(std::uint64_t sid) {
  auto it = sessions_.find(sid);
  return it == sessions_.end() ? nullptr : it->second.session.get();
}

Session* SessionManager::create(const std::string& client_id) {
  auto sid = node_.next_session_id.fetch_add(1, std::memory_order_relaxed);
  auto& slot = sessions_[sid];
  slot.session = std::make_unique<Session>(sid, client_id);
  auto& m = core_.metrics();
  metrics::inc(m.session_created);
  m.sessions.fetch_add(1, std::memory_order_relaxed);
  return slot.session.get();
}

std::unique_ptr<Session> SessionManager::extract(std::uint64_t sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return nullptr;
  auto s = std::move(it->second.session);
  if (it->second.timer) it->second.timer->cancel();
  sessions_.erase(it);
  core_.metrics().sessions.fetch_sub(1, std::memory_order_relaxed);
  return s;
}

void SessionManager::connected_event(const Channel& ch) {
  core_.rule_event(rules::Event::ClientConnected, ch);
  if (!node_.config.sys_topics.client_connected) return;
  if (auto m = sys_events::connected(ch, node_.config.node.name)) core_.publish(m, {});
}

void SessionManager::disconnected_event(const Channel& ch) {
  core_.rule_event(rules::Event::ClientDisconnected, ch);
  if (!node_.config.sys_topics.client_disconnected) return;
  if (auto m = sys_events::disconnected(ch, node_.config.node.name)) core_.publish(m, {});
}

// ---------------------------------------------------------------- open

void SessionManager::open(Channel& ch, const std::string& client_id, bool clean_start) {
  SessionDirectory* dir = node_.directory;
  if (dir == nullptr || !dir->active()) {
    open_local(ch, client_id, clean_start);
    return;
  }
  // The cluster first: another node may hold the session, or the connection, of this id.
  auto token = next_claim_++;
  claiming_[&ch] = token;
  const std::uint32_t self = sched_.id();
  WorkerCore* core = &core_;
  dir->claim(client_id, clean_start,
             [core, self, ch = &ch, token, client_id, clean_start](Claim c) {
               core->scheduler().post(
                   self, [core, ch, token, client_id, clean_start, c = std::move(c)]() mutable {
                     core->sessions().on_claimed(ch, token, client_id, clean_start, std::move(c));
                   });
             });
}

void SessionManager::on_claimed(Channel* ch, std::uint64_t token, const std::string& client_id,
                                bool clean_start, Claim claim) {
  auto it = claiming_.find(ch);
  const bool waiting = it != claiming_.end() && it->second == token;
  if (waiting) claiming_.erase(it);
  if (claim.session && !clean_start) install(std::move(*claim.session));
  if (waiting) open_local(*ch, client_id, clean_start);
  // else the channel closed meanwhile: a session handed over waits here, offline.
}

void SessionManager::open_local(Channel& ch, const std::string& client_id, bool clean_start) {
  std::unique_lock lock(node_.registry.mutex);
  auto it = node_.registry.entries.find(client_id);
  if (it == node_.registry.entries.end()) {
    Session* s = create(client_id);
    node_.registry.entries[client_id] = {s->id(), sched_.id(), false};
    lock.unlock();  // the channel may publish: never call out under the registry lock
    ch.on_session_ready(s, false);
    connected_event(ch);
    return;
  }
  if (it->second.moving || connecting_.count(client_id) != 0) {
    // Another connect of this client id is being served: try again shortly.
    lock.unlock();
    retry_open(&ch, client_id, clean_start, 0);
    return;
  }
  SessionRegistry::Entry old = it->second;
  it->second.moving = true;
  lock.unlock();
  connecting_[client_id] = &ch;
  arriving_[old.session];  // deliveries may come here before the session does
  SessionManager* holder = on(old.worker);
  sched_.post(old.worker, [holder, client_id, sid = old.session, to = sched_.id(), clean_start] {
    holder->takeover(client_id, sid, to, clean_start);
  });
}

void SessionManager::retry_open(Channel* ch, std::string client_id, bool clean_start, int attempt) {
  retrying_.insert(ch);
  sched_.after(std::chrono::milliseconds(5), [this, ch, client_id, clean_start, attempt] {
    if (retrying_.erase(ch) == 0) return;  // the channel closed meanwhile
    if (attempt >= 400) {                  // two seconds of contention
      ch->kick(mqtt::ReasonCode::ServerBusy);
      return;
    }
    bool busy = connecting_.count(client_id) != 0;
    if (!busy) {
      std::lock_guard lock(node_.registry.mutex);
      auto it = node_.registry.entries.find(client_id);
      busy = it != node_.registry.entries.end() && it->second.moving;
    }
    if (busy) {
      retry_open(ch, client_id, clean_start, attempt + 1);
    } else {
      open_local(*ch, client_id, clean_start);
    }
  });
}

// ---------------------------------------------------------------- takeover between workers

void SessionManager::kick_for_takeover(Session& s) {
  if (s.channel == nullptr) return;
  metrics::inc(core_.metrics().client_takeover);
  Channel* old = s.channel;
  old->kick(mqtt::ReasonCode::SessionTakenOver);  // [MQTT-3.1.4-3]
  old->detach();
  disconnected_event(*old);
}

// Runs on the worker that holds session `sid` (A); `to` (B) holds the new connection.
//
// Moving a session between workers must not reorder its messages. Publishers on any
// worker may have matched the old route (A) and not yet handed the deliveries over. So A
// first re-points the session's subscriptions to B (after that, new matches go to B,
// which buffers them in arriving_), then asks every worker to ship its outboxes and
// acknowledge. Each worker posts its deliveries before its ack, so when the last ack
// arrives A holds every delivery made under the old route, in order; only then does the
// session, with them, go to B, which appends what it buffered. On one worker the
// session simply changes hands.
void SessionManager::takeover(std::string client_id, std::uint64_t sid, std::uint32_t to,
                              bool clean_start) {
  SessionManager* target = on(to);
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) {  // expired or discarded meanwhile
    sched_.post(to, [target, client_id, sid] { target->takeover_done(client_id, sid, nullptr); });
    return;
  }
  Session& s = *it->second.session;
  logger()->debug("client_id={} session={} taken over by worker {} (clean_start={})", client_id,
                  sid, to, clean_start);
  kick_for_takeover(s);
  if (it->second.timer) it->second.timer->cancel();
  if (clean_start || s.expiry_interval == 0) {
    // [MQTT-3.1.2-4]: Clean Start discards the old session; and one whose expiry is 0 ended
    // with the connection just closed, so there is nothing to resume either.
    discard(sid);
    sched_.post(to, [target, client_id, sid] { target->takeover_done(client_id, sid, nullptr); });
    return;
  }
  if (to == sched_.id()) {
    takeover_done(client_id, sid, extract(sid));
    return;
  }
  node_.broker.move(s.filters(), {sched_.id(), sid}, {to, sid});
  auto move_id = next_move_++;
  moves_[move_id] = Move{sid, client_id, to, sched_.workers()};
  const std::uint32_t self = sched_.id();
  for (std::uint32_t w = 0; w < sched_.workers(); ++w) {
    WorkerCore* peer = node_.cores[w];
    sched_.post(w, [peer, self, move_id, holder = this] {
      // What it matched under the old route, stored first if it must be, reaches the
      // holder before the ack.
      peer->ship_then([peer, self, move_id, holder] {
        peer->scheduler().post(self, [holder, move_id] { holder->barrier_ack(move_id); });
      });
    });
  }
}

void SessionManager::barrier_ack(std::uint64_t move_id) {
  auto it = moves_.find(move_id);
  if (it == moves_.end() || --it->second.acks_left > 0) return;
  Move mv = std::move(it->second);
  moves_.erase(it);
  SessionManager* target = on(mv.to);
  sched_.post(mv.to, [target, mv, moving = extract(mv.session)]() mutable {
    target->takeover_done(mv.client_id, mv.session, std::move(moving));
  });
}

// On B: the session (or nullptr: start afresh) has arrived.
void SessionManager::takeover_done(std::string client_id, std::uint64_t sid,
                                   std::unique_ptr<Session> owned) {
  Channel* ch = nullptr;
  if (auto c = connecting_.find(client_id); c != connecting_.end()) {
    ch = c->second;
    connecting_.erase(c);
  }
  std::vector<Delivery> buffered;
  if (auto a = arriving_.find(sid); a != arriving_.end()) {
    buffered = std::move(a->second);
    arriving_.erase(a);
  }
  bool present = owned != nullptr;
  Session* s = nullptr;
  if (owned) {
    s = owned.get();
    auto& slot = sessions_[sid];
    slot.session = std::move(owned);
    core_.metrics().sessions.fetch_add(1, std::memory_order_relaxed);
    s->pending_will.reset();  // resumed before the will delay ended [MQTT-3.1.3-9]
    s->pending_will_publish = nullptr;
    SessionLimits limits{node_.config.mqtt.max_mqueue_len, true};
    for (auto& d : buffered) {
      s->arrived(d);
      if (d.refused) continue;
      s->enqueue(std::move(d), limits, true, core_.store_batch());
    }
    metrics::inc(core_.metrics().session_resumed);
  } else if (ch != nullptr) {
    s = create(client_id);
  }
  {
    std::lock_guard lock(node_.registry.mutex);
    if (s != nullptr) {
      node_.registry.entries[client_id] = {s->id(), sched_.id(), false};
    } else {
      node_.registry.entries.erase(client_id);
    }
  }
  if (s == nullptr) return;
  if (ch != nullptr) {
    ch->on_session_ready(s, present);
    connected_event(*ch);
  } else {
    go_offline(sessions_[s->id()]);  // the new connection died meanwhile
  }
}

// ---------------------------------------------------------------- closed, offline, expiry

void SessionManager::closed(Channel& ch, Session* s) {
  if (s == nullptr) {
    // Forget a pending open for this channel, wherever it waits.
    retrying_.erase(&ch);
    claiming_.erase(&ch);
    for (auto it = connecting_.begin(); it != connecting_.end();) {
      it = it->second == &ch ? connecting_.erase(it) : std::next(it);
    }
    return;
  }
  disconnected_event(ch);
  auto it = sessions_.find(s->id());
  if (it == sessions_.end()) return;
  go_offline(it->second);
}

void SessionManager::restore(SessionState&& st, std::uint64_t store_uid,
                             Scheduler::Clock::time_point went_offline) {
  const auto sid = node_.next_session_id.fetch_add(1, std::memory_order_relaxed);
  auto& slot = sessions_[sid];
  slot.session = std::make_unique<Session>(sid, st.client_id);
  slot.went_offline = went_offline;
  core_.metrics().sessions.fetch_add(1, std::memory_order_relaxed);
  Session& s = *slot.session;
  fill(s, std::move(st), sched_.now());
  s.store_uid = store_uid;
  if (node_.config.mqtt.backpressure)
    s.enable_pressure(node_.config.mqtt.max_mqueue_len,
                      node_.config.mqtt.backpressure_stall_timeout);
  for (const auto& [filter, sub] : s.subscriptions) {
    node_.broker.subscribe(filter, {sched_.id(), sid}, sub.opts, sub.subscription_id, s.pressure,
                           store_uid);
    if (sub.opts.exclusive) core_.assert_exclusive(s.client_id(), filter);
  }
  {
    std::lock_guard lock(node_.registry.mutex);
    node_.registry.entries[s.client_id()] = {sid, sched_.id(), false};
  }
  // The first check runs once the worker runs: it expires the session or sleeps.
  sched_.post(sched_.id(), [this, sid] { on_offline_timer(sid); });
}

void SessionManager::go_offline(Slot& slot) {
  Session& s = *slot.session;
  slot.went_offline = sched_.now();
  if (s.expiry_interval == 0) {
    bool discard_now = false;
    {
      std::lock_guard lock(node_.registry.mutex);
      auto it = node_.registry.entries.find(s.client_id());
      if (it != node_.registry.entries.end() && it->second.session == s.id()) {
        if (!it->second.moving) {
          node_.registry.entries.erase(it);
          discard_now = true;
        }
      } else {
        discard_now = true;
      }
    }
    if (discard_now) discard(s.id());  // else a takeover is on its way for it
    return;
  }
  on_offline_timer(s.id());
}

// Publishes a pending will when its delay is over, ends the session when it expires, and
// otherwise sleeps until the nearer of the two.
void SessionManager::on_offline_timer(std::uint64_t sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  auto& slot = it->second;
  Session& s = *slot.session;
  if (s.channel != nullptr) return;
  auto offline = sched_.now() - slot.went_offline;
  using std::chrono::seconds;
  if (s.pending_will && offline >= seconds(s.will_delay)) publish_pending_will(s);
  bool never = s.expiry_interval == 0xFFFFFFFFu;
  if (!never && offline >= seconds(s.expiry_interval)) {
    {
      std::lock_guard lock(node_.registry.mutex);
      auto r = node_.registry.entries.find(s.client_id());
      if (r != node_.registry.entries.end() && r->second.session == sid) {
        if (r->second.moving) return;  // the takeover owns it now
        node_.registry.entries.erase(r);
      }
    }
    metrics::inc(core_.metrics().session_expired);
    discard(sid);
    return;
  }
  Scheduler::Clock::duration next = std::chrono::hours(24);
  if (!never) next = seconds(s.expiry_interval) - offline;
  if (s.pending_will) {
    next = std::min<Scheduler::Clock::duration>(next, seconds(s.will_delay) - offline);
  }
  if (slot.timer) slot.timer->cancel();
  slot.timer = sched_.after(next, [this, sid] { on_offline_timer(sid); });
}

void SessionManager::discard(std::uint64_t sid) {
  auto owned = extract(sid);
  if (!owned) return;
  Session& s = *owned;
  if (node_.directory != nullptr && node_.directory->active())
    node_.directory->release(s.client_id());
  if (s.store_uid != 0) {
    if (auto* b = core_.store_batch()) b->erase_session(s.store_uid);
  }
  broker::SubscriberRef ref{sched_.id(), sid};
  for (const auto& [filter, state] : s.subscriptions) {
    node_.broker.unsubscribe(filter, ref);
    if (state.opts.exclusive) core_.release_exclusive(s.client_id(), filter);
  }
  redispatch_shared(s);
  publish_pending_will(s);
  metrics::inc(core_.metrics().session_discarded);
}

// The Will's Message Expiry Interval counts from when the will is published, not from
// when the connection closed (section 3.1.3.2), so it is stamped now.
void SessionManager::publish_pending_will(Session& s) {
  if (!s.pending_will) return;
  auto will = std::make_shared<mqtt::Message>(**s.pending_will);
  s.pending_will.reset();
  will->received_at = sched_.now();
  if (will->retain) will->received_at_ms = mqtt::wall_ms_now();
  if (auto publish = std::move(s.pending_will_publish)) {
    s.pending_will_publish = nullptr;
    publish(will);  // counted and published once a remote source allowed it
    return;
  }
  metrics::inc(core_.metrics().wills_published);
  core_.publish(will, s.client_id());
}

void SessionManager::publish_pending_wills() {
  for (auto& [sid, slot] : sessions_)
    publish_pending_will(*slot.session);
}

// A member of a shared group went away with QoS 1/2 messages it never acknowledged:
// they go to another member of the same group, as EMQX does, instead of being lost.
void SessionManager::redispatch_shared(Session& s) {
  std::vector<Delivery> todo;
  s.inflight.for_each([&](Inflight& f) {
    // A QoS 2 message already sent may have reached its client: sending it to another
    // member could deliver it twice [MQTT-4.8.2-5]. QoS 1 goes on, as EMQX does.
    if (f.d.share && f.d.msg && f.d.qos == mqtt::QoS::AtLeastOnce) todo.push_back(std::move(f.d));
  });
  s.queue.for_each([&](Delivery& d) {
    if (d.share && d.qos != mqtt::QoS::AtMostOnce) todo.push_back(std::move(d));
  });
  for (auto& d : todo) {
    broker::Match m;
    if (!node_.broker.redispatch(*d.share, *d.msg, {sched_.id(), s.id()}, m)) {
      metrics::inc(core_.metrics().messages_dropped);
      continue;
    }
    auto worker = m.ref.worker;
    core_.outbox(worker).push_back(make_delivery(d.msg, std::move(m)));
  }
  if (!todo.empty()) sched_.end_of_turn_needed();
}

// ---------------------------------------------------------------- between nodes

bool SessionManager::redirect(Delivery& d) {
  auto a = arriving_.find(d.session);
  if (a != arriving_.end()) {
    a->second.push_back(std::move(d));  // the session is on its way here
    return true;
  }
  auto mv = moved_.find(d.session);
  if (mv == moved_.end() || d.refused) return false;
  // The session went to another node: so does this delivery.
  auto t = std::make_shared<broker::SessionTarget>();
  t->client_id = mv->second.client_id;
  t->qos = d.qos;
  t->retain = d.retain;
  t->subscription_ids = std::move(d.subscription_ids);
  core_.forward_outbox(mv->second.to).push_back({d.msg, false, {}, false, std::move(t)});
  sched_.end_of_turn_needed();
  return true;
}

void SessionManager::install(SessionState&& st) {
  {
    std::lock_guard lock(node_.registry.mutex);
    if (node_.registry.entries.count(st.client_id) != 0) {
      // This node holds a session of the id too (a split brain healed): it stays.
      logger()->warn(
          "client_id={} a session handed over from another node is dropped: this "
          "node holds one already",
          st.client_id);
      return;
    }
  }
  const std::string client_id = st.client_id;
  const auto protocol_version = st.protocol_version;
  Session* s = create(client_id);
  fill(*s, std::move(st), sched_.now());
  if (node_.config.mqtt.backpressure)
    s->enable_pressure(node_.config.mqtt.max_mqueue_len,
                       node_.config.mqtt.backpressure_stall_timeout);
  if (s->expiry_interval != 0) {
    // Stored afresh under this node's uid: its QoS 1/2 deliveries from now on are stored.
    if (storage::Batch* b = core_.store_batch()) {
      store_all(*s, protocol_version, *b, [this] { return core_.next_store_seq(); });
    }
  }
  for (const auto& [filter, sub] : s->subscriptions) {
    node_.broker.subscribe(filter, {sched_.id(), s->id()}, sub.opts, sub.subscription_id,
                           s->pressure, s->store_uid);
    if (sub.opts.exclusive) core_.assert_exclusive(client_id, filter);
  }
  std::vector<SessionRegistry::Early> early;
  {
    std::lock_guard lock(node_.registry.mutex);
    node_.registry.entries[client_id] = {s->id(), sched_.id(), false};
    if (auto e = node_.registry.early.find(client_id); e != node_.registry.early.end()) {
      early = std::move(e->second);
      node_.registry.early.erase(e);
    }
  }
  metrics::inc(core_.metrics().session_taken_over_in);
  go_offline(sessions_[s->id()]);
  for (auto& x : early)
    deliver_moved(x.msg, *x.target);
}

void SessionManager::deliver_moved(const mqtt::MessagePtr& m, const broker::SessionTarget& t) {
  std::uint64_t sid = 0;
  {
    std::lock_guard lock(node_.registry.mutex);
    auto e = node_.registry.entries.find(t.client_id);
    if (e == node_.registry.entries.end() || e->second.worker != sched_.id()) {
      metrics::inc(core_.metrics().messages_dropped_no_session);
      return;
    }
    sid = e->second.session;
  }
  Session* s = find(sid);
  if (s == nullptr) {
    metrics::inc(core_.metrics().messages_dropped_no_session);
    return;
  }
  // As the broker would have matched it for this session: the delivery's own QoS, RETAIN
  // flag and subscription identifiers.
  broker::Match match;
  match.ref = {sched_.id(), sid};
  match.qos = t.qos;
  match.retain_as_published = t.retain;
  match.subscription_ids = t.subscription_ids;
  match.store_uid = s->store_uid;
  auto msg = m;
  if (t.retain != m->retain || m->qos < t.qos) {
    auto copy = std::make_shared<mqtt::Message>(*m);
    copy->retain = t.retain;
    copy->qos = std::max(copy->qos, t.qos);
    msg = std::move(copy);
  }
  PublishResult ignored;
  route(msg, std::move(match), core_.outbox(sched_.id()), ignored, core_);
  metrics::inc(core_.metrics().messages_delivered);
  sched_.end_of_turn_needed();
}

std::optional<SessionState> SessionManager::hand_over(std::uint64_t sid, bool clean_start,
                                                      broker::NodeIndex to, bool& found) {
  auto it = sessions_.find(sid);
  found = it != sessions_.end();
  if (!found) return std::nullopt;
  Session& s = *it->second.session;
  kick_for_takeover(s);
  if (it->second.timer) it->second.timer->cancel();
  {
    std::lock_guard lock(node_.registry.mutex);
    auto r = node_.registry.entries.find(s.client_id());
    if (r != node_.registry.entries.end() && r->second.session == sid)
      node_.registry.entries.erase(r);
  }
  if (clean_start || s.expiry_interval == 0) {
    discard(sid);  // [MQTT-3.1.2-4]: it ends here, will and all
    return std::nullopt;
  }
  // It goes on elsewhere: a will waiting for its delay is not published
  // [MQTT-3.1.3-9], and nothing is handed to other members of its shared groups.
  s.pending_will.reset();
  SessionState st = to_state(s);
  broker::SubscriberRef ref{sched_.id(), sid};
  for (const auto& [filter, state] : s.subscriptions) {
    node_.broker.unsubscribe(filter, ref);
    if (state.opts.exclusive) core_.hand_over_exclusive(s.client_id(), filter);  // goes along
  }
  if (s.store_uid != 0) {
    if (auto* b = core_.store_batch()) b->erase_session(s.store_uid);
  }
  extract(sid);
  // What publishers matched before the subscriptions went is still on its way here
  // (deferred for its commit, in a peer's stream): it follows the session.
  auto now = sched_.now();
  std::erase_if(moved_, [&](const auto& kv) { return now - kv.second.at > kMovedFor; });
  moved_[sid] = Moved{st.client_id, to, now};
  metrics::inc(core_.metrics().session_taken_over_out);
  return st;
}

bool SessionManager::kick(std::uint64_t sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end() || !it->second.session) return false;
  Session& s = *it->second.session;
  s.expiry_interval = 0;  // it ends when its connection closes (go_offline)
  if (s.channel != nullptr) {
    s.channel->kick(mqtt::ReasonCode::AdministrativeAction);
    return true;
  }
  {
    std::lock_guard lock(node_.registry.mutex);
    auto r = node_.registry.entries.find(s.client_id());
    if (r != node_.registry.entries.end() && r->second.session == sid) {
      if (r->second.moving) return false;
      node_.registry.entries.erase(r);
    }
  }
  discard(sid);
  return true;
}

void SessionManager::revoke(const std::string& client_id) {
  std::uint64_t sid = 0;
  {
    std::lock_guard lock(node_.registry.mutex);
    auto r = node_.registry.entries.find(client_id);
    if (r == node_.registry.entries.end() || r->second.worker != sched_.id()) return;
    sid = r->second.session;
  }
  Session* s = find(sid);
  if (s != nullptr && s->channel != nullptr) s->channel->kick(mqtt::ReasonCode::SessionTakenOver);
}

}  // namespace emqxd::session
