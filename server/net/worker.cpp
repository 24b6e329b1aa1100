#include "net/worker.hpp"

#include <boost/asio/post.hpp>

#include <time.h>

#include <algorithm>

#include "common/log.hpp"
#include "net/connection.hpp"
#include "session/routing.hpp"

namespace emqxd::net {

namespace asio = boost::asio;
using session::Channel;
using session::Delivery;
using session::Session;

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("worker");
  return l;
}

std::string json_escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

Worker::Worker(std::uint32_t id, NodeState& node) : id_(id), node_(node), io_(1) {}

mqtt::Message::Clock::time_point Worker::now() const {
  // Same clock as std::chrono::steady_clock (CLOCK_MONOTONIC), read coarsely.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return mqtt::Message::Clock::time_point(std::chrono::seconds(ts.tv_sec) +
                                          std::chrono::nanoseconds(ts.tv_nsec));
}

Worker::~Worker() { join(); }

void Worker::start() {
  outbox_.resize(node_.workers.size());
  thread_ = std::thread([this] {
    auto guard = asio::make_work_guard(io_);
    io_.run();
  });
}

void Worker::stop() { io_.stop(); }

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

// ---------------------------------------------------------------- inbox (any thread)

void Worker::post(std::function<void()> task) {
  bool schedule = false;
  {
    std::lock_guard lock(inbox_mutex_);
    inbox_.push_back(std::move(task));
    schedule = !inbox_scheduled_;
    inbox_scheduled_ = true;
  }
  if (schedule) asio::post(io_, [this] { drain_inbox(); });
}

void Worker::post_deliveries(std::vector<Delivery>&& batch) {
  bool schedule = false;
  {
    std::lock_guard lock(inbox_mutex_);
    if (inbox_deliveries_.empty()) {
      inbox_deliveries_ = std::move(batch);
    } else {
      for (auto& d : batch) inbox_deliveries_.push_back(std::move(d));
    }
    schedule = !inbox_scheduled_;
    inbox_scheduled_ = true;
  }
  if (schedule) asio::post(io_, [this] { drain_inbox(); });
}

void Worker::drain_inbox() {
  std::vector<std::function<void()>> tasks;
  std::vector<Delivery> deliveries;
  {
    std::lock_guard lock(inbox_mutex_);
    tasks.swap(inbox_);
    deliveries.swap(inbox_deliveries_);
    inbox_scheduled_ = false;
  }
  // Deliveries first: a task may be a barrier acknowledging that everything its sender
  // had matched before it is already here (see takeover()). Both come from one lock
  // hold, and every sender posts its deliveries before its barrier acks.
  deliver_local(deliveries);
  for (auto& t : tasks) t();
}

// ---------------------------------------------------------------- end of turn

void Worker::mark_dirty(std::shared_ptr<Connection> c) {
  dirty_.push_back(std::move(c));
  schedule_end_of_turn();
}

void Worker::schedule_end_of_turn() {
  if (end_of_turn_scheduled_) return;
  end_of_turn_scheduled_ = true;
  asio::post(io_, [this] { end_of_turn(); });
}

void Worker::end_of_turn() {
  end_of_turn_scheduled_ = false;
  ship();
  // Writing may close connections, which may publish wills, which may dirty more.
  while (!dirty_.empty()) {
    auto batch = std::move(dirty_);
    dirty_.clear();
    for (auto& c : batch) c->flush();
    ship();
  }
}

void Worker::ship() {
  const bool stored = commit_batch();
  auto depends = std::move(depends_);
  depends_.clear();
  bool any = false;
  for (const auto& box : outbox_) any = any || !box.empty();
  for (const auto& box : forward_outbox_) any = any || !box.empty();
  if (!any) return;
  if (stored) {
    Deferred d;
    d.ticket = ticket_ - 1;
    d.outboxes = std::move(outbox_);
    d.forwards = std::move(forward_outbox_);
    d.depends = std::move(depends);
    outbox_.assign(node_.workers.size(), {});
    forward_outbox_.clear();
    deferred_.push_back(std::move(d));
  } else if (!deferred_.empty()) {
    auto& last = deferred_.back();  // behind what waits, in order
    for (std::size_t w = 0; w < outbox_.size(); ++w) {
      for (auto& x : outbox_[w]) last.outboxes[w].push_back(std::move(x));
      outbox_[w].clear();
    }
    if (last.forwards.size() < forward_outbox_.size()) last.forwards.resize(forward_outbox_.size());
    for (std::size_t n = 0; n < forward_outbox_.size(); ++n) {
      for (auto& x : forward_outbox_[n]) last.forwards[n].push_back(std::move(x));
      forward_outbox_[n].clear();
    }
  } else {
    flush_outboxes();
  }
}

void Worker::after_shipped(std::function<void()> f) {
  if (deferred_.empty()) {
    f();
  } else {
    deferred_.back().after.push_back(std::move(f));
  }
}

// ---------------------------------------------------------------- storage

storage::Batch* Worker::store_batch() {
  if (!node_.durable) return nullptr;
  schedule_end_of_turn();  // whoever records something gets it committed this turn
  return &batch_;
}

std::uint64_t Worker::next_store_seq() { return node_.store->next_seq(); }

std::uint64_t Worker::await_commit(Channel& ch, const mqtt::Message* published) {
  commit_waiters_[&ch] = ticket_;
  if (published != nullptr) depends_.push_back(published);
  schedule_end_of_turn();
  return ticket_;
}

bool Worker::commit_batch() {
  if (!node_.durable) return false;
  const std::uint64_t ticket = ticket_;
  bool waited = false;
  for (const auto& [ch, t] : commit_waiters_) waited = waited || t == ticket;
  if (batch_.empty() && !waited) return false;
  ++ticket_;
  storage::Batch batch = std::move(batch_);
  batch_ = storage::Batch();
  // Even an empty batch goes through the store: commits complete in the order made, so
  // the completions reach this worker in ticket order.
  node_.store->commit(std::move(batch), [this, ticket](storage::Status st) {
    post([this, ticket, st = std::move(st)] { on_committed(ticket, st); });
  });
  return true;
}

void Worker::on_committed(std::uint64_t ticket, const storage::Status& status) {
  std::vector<Channel*> ready;
  for (const auto& [ch, t] : commit_waiters_) {
    if (t <= ticket) ready.push_back(ch);
  }
  for (auto* ch : ready) {
    commit_waiters_.erase(ch);
    ch->committed(ticket, status);
  }
  if (!ready.empty()) schedule_end_of_turn();
  while (!deferred_.empty() && deferred_.front().ticket <= ticket) {
    Deferred d = std::move(deferred_.front());
    deferred_.pop_front();
    if (!status.ok() && d.ticket == ticket && !d.depends.empty()) {
      // Their publishers are answered 0x97: nobody may receive them. They still travel, as
      // refused, so that the target worker settles their back-pressure count.
      std::sort(d.depends.begin(), d.depends.end());
      auto refused = [&](const mqtt::MessagePtr& m) {
        return std::binary_search(d.depends.begin(), d.depends.end(), m.get());
      };
      for (auto& box : d.outboxes) {
        for (auto& x : box) {
          x.refused = refused(x.msg);
          if (x.refused) metrics::inc(metrics_.messages_dropped);
        }
      }
      for (auto& box : d.forwards) {
        std::erase_if(box, [&](const broker::ForwardItem& x) { return refused(x.msg); });
      }
    }
    post_outboxes(d.outboxes, d.forwards);
    for (auto& f : d.after) f();
  }
}

void Worker::flush_outboxes() { post_outboxes(outbox_, forward_outbox_); }

void Worker::post_outboxes(std::vector<std::vector<Delivery>>& boxes,
                           std::vector<std::vector<broker::ForwardItem>>& forwards) {
  for (std::size_t n = 0; n < forwards.size(); ++n) {
    if (forwards[n].empty()) continue;
    auto batch = std::move(forwards[n]);
    forwards[n].clear();
    node_.forwarder->forward(static_cast<broker::NodeIndex>(n), std::move(batch));
  }
  for (std::uint32_t w = 0; w < boxes.size(); ++w) {
    if (boxes[w].empty()) continue;
    auto batch = std::move(boxes[w]);
    boxes[w].clear();
    if (w == id_) {
      deliver_local(batch);
    } else {
      node_.workers[w]->post_deliveries(std::move(batch));
    }
  }
}

void Worker::deliver_local(std::vector<Delivery>& batch) {
  session::SessionLimits limits{config().mqtt.max_mqueue_len, config().mqtt.mqueue_store_qos0};
  for (auto& d : batch) {
    auto it = sessions_.find(d.session);
    if (it == sessions_.end()) {
      auto a = arriving_.find(d.session);
      if (a != arriving_.end()) {
        a->second.push_back(std::move(d));  // the session is on its way here
      } else if (auto mv = moved_.find(d.session); mv != moved_.end() && !d.refused) {
        // The session went to another node: so does this delivery.
        auto t = std::make_shared<broker::SessionTarget>();
        t->client_id = mv->second.client_id;
        t->qos = d.qos;
        t->retain = d.retain;
        t->subscription_ids = std::move(d.subscription_ids);
        forward_outbox(mv->second.to).push_back({d.msg, false, {}, false, std::move(t)});
        schedule_end_of_turn();
      } else {
        metrics::inc(metrics_.messages_dropped_no_session);
      }
      continue;
    }
    if (d.refused) {
      it->second.session->arrived(d);
      continue;
    }
    session::deliver_to(*it->second.session, std::move(d), limits, metrics_, store_batch());
  }
}

// ---------------------------------------------------------------- publish

std::vector<broker::ForwardItem>& Worker::forward_outbox(broker::NodeIndex node) {
  if (forward_outbox_.size() <= node) forward_outbox_.resize(node + 1u);
  return forward_outbox_[node];
}

bool Worker::apply_retained(const mqtt::MessagePtr& m, bool merge, mqtt::MessagePtr* kept) {
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

session::PublishResult Worker::publish(const mqtt::MessagePtr& m,
                                       std::string_view publisher_client_id) {
  session::PublishResult result;
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
    session::route(m, std::move(match), outbox_[worker], result, *this);
  }
  if (forwarder != nullptr) {
    const bool hold = m->qos != mqtt::QoS::AtMostOnce && config().mqtt.backpressure;
    for (auto& r : remote_matches_) {
      if (hold && !result.congested) result.congested = forwarder->congestion(r.node);
      forward_outbox(r.node).push_back({m, r.direct, std::move(r.shares), false});
    }
    result.matched += remote_matches_.size();
    if (retain && !m->topic.starts_with("$SYS/")) {
      // Every node keeps every retained message (last writer wins, Retainer::retain).
      peers_.clear();
      forwarder->peers(peers_);
      if (!replicate) replicate = m;  // refused by the retainer: the peers decide alike
      for (auto n : peers_) {
        auto& box = forward_outbox(n);
        if (replicate == m && !box.empty() && box.back().msg == m) {
          box.back().store_retained = true;  // the delivery carries it
        } else {
          box.push_back({replicate, false, {}, true});
        }
      }
    }
    if (!remote_matches_.empty() || retain) schedule_end_of_turn();
  }
  if (!matches_.empty()) schedule_end_of_turn();
  metrics::inc(metrics_.messages_delivered, matches_.size());
  return result;
}

void Worker::post_from_peer(std::uint32_t lane, std::vector<broker::ForwardItem>&& items,
                            broker::PeerReport report) {
  post([this, lane, items = std::move(items), report = std::move(report)]() mutable {
    auto it = parked_.find(lane);
    if (it != parked_.end()) {
      // Behind what waits, in order.
      for (auto& x : items) it->second.items.push_back(std::move(x));
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
  });
}

// Parked messages of peers go on once their subscriber caught up (or stalled).
void Worker::retry_parked(mqtt::Message::Clock::time_point t) {
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

std::size_t Worker::dispatch_from_peer(std::deque<broker::ForwardItem>& items,
                                       std::shared_ptr<broker::Pressure>& congested) {
  std::size_t routed = 0;
  while (!items.empty()) {
    session::PublishResult result;
    route_from_peer(items.front(), result);
    items.pop_front();
    ++routed;
    if (result.congested && config().mqtt.backpressure) {
      congested = std::move(result.congested);
      break;
    }
  }
  schedule_end_of_turn();
  return routed;
}

// A peer's messages are this node's to deliver as if published here, except that the
// peer already chose the shared-group members: here only plain subscribers match, and
// each group the peer picked this node for gets one local member.
void Worker::route_from_peer(broker::ForwardItem& item, session::PublishResult& result) {
  const mqtt::MessagePtr& m = item.msg;
  metrics::inc(metrics_.messages_forward_received);
  if (item.store_retained && config().retainer.enable) apply_retained(m, true);
  if (item.to_session) {
    std::unique_lock lock(node_.registry.mutex);
    auto e = node_.registry.entries.find(item.to_session->client_id);
    if (e == node_.registry.entries.end()) {
      // Ahead of the session itself: it takes it when installed (install()).
      auto& early = node_.registry.early[item.to_session->client_id];
      auto now = std::chrono::steady_clock::now();
      std::erase_if(early, [&](const auto& x) { return now - x.at > std::chrono::seconds(10); });
      early.push_back({m, item.to_session, now});
    } else {
      Worker* w = node_.workers[e->second.worker].get();
      lock.unlock();
      if (w == this) {
        deliver_moved(m, *item.to_session);
      } else {
        w->post([w, m, t = item.to_session] { w->deliver_moved(m, *t); });
      }
    }
  }
  if (item.direct) {
    matches_.clear();
    node_.broker.match(*m, {}, matches_, nullptr, true);
    for (auto& match : matches_) {
      auto worker = match.ref.worker;
      session::route(m, std::move(match), outbox_[worker], result, *this);
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
    session::route(m, std::move(match), outbox_[worker], result, *this);
    metrics::inc(metrics_.messages_delivered);
  }
}

void Worker::hold(Channel& ch, std::shared_ptr<broker::Pressure> p) {
  metrics::inc(metrics_.publishers_held);
  held_[&ch] = Held{std::move(p), now()};
  start_pressure_tick();
}

void Worker::start_pressure_tick() {
  if (pressure_timer_) return;
  pressure_timer_ = std::make_unique<asio::steady_timer>(io_);
  pressure_timer_->expires_after(std::chrono::milliseconds(1));
  pressure_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_pressure_tick();
  });
}

// Every millisecond while something waits for a subscriber to catch up (mqtt.backpressure):
// release the publishers held here whose subscriber caught up, went offline or stalled
// (Pressure::releases), and route what peers' messages were parked for the same reason.
// Releasing reads what waited in the socket, which may hold the publisher again at once.
void Worker::on_pressure_tick() {
  auto now = this->now();
  std::vector<Channel*> ready;
  for (auto& [ch, h] : held_) {
    if (h.by->releases(h.since, now)) ready.push_back(ch);
  }
  for (auto* ch : ready) {
    held_.erase(ch);
    ch->release();
  }
  retry_parked(now);
  if (held_.empty() && parked_.empty()) {
    pressure_timer_.reset();
    return;
  }
  pressure_timer_->expires_after(std::chrono::milliseconds(1));
  pressure_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_pressure_tick();
  });
}

// ---------------------------------------------------------------- sessions

std::string Worker::assign_client_id() {
  auto n = node_.next_client_id.fetch_add(1, std::memory_order_relaxed);
  return "emqxd-" + std::to_string(now_ms()) + "-" + std::to_string(id_) + "-" + std::to_string(n);
}

Session* Worker::create_session(const std::string& client_id) {
  auto sid = node_.next_session_id.fetch_add(1, std::memory_order_relaxed);
  auto& slot = sessions_[sid];
  slot.session = std::make_unique<Session>(sid, client_id);
  metrics::inc(metrics_.session_created);
  metrics_.sessions.fetch_add(1, std::memory_order_relaxed);
  return slot.session.get();
}

void Worker::open_session(Channel& ch, const std::string& client_id, bool clean_start) {
  session::SessionDirectory* dir = node_.directory;
  if (dir == nullptr || !dir->active()) {
    open_local(ch, client_id, clean_start);
    return;
  }
  // The cluster first: another node may hold the session, or the connection, of this id.
  auto token = next_claim_++;
  claiming_[&ch] = token;
  dir->claim(client_id, clean_start, [this, ch = &ch, token, client_id, clean_start](session::Claim c) {
    post([this, ch, token, client_id, clean_start, c = std::move(c)]() mutable {
      on_claimed(ch, token, client_id, clean_start, std::move(c));
    });
  });
}

void Worker::on_claimed(Channel* ch, std::uint64_t token, const std::string& client_id,
                        bool clean_start, session::Claim claim) {
  auto it = claiming_.find(ch);
  const bool waiting = it != claiming_.end() && it->second == token;
  if (waiting) claiming_.erase(it);
  if (claim.session && !clean_start) install(std::move(*claim.session));
  if (waiting) open_local(*ch, client_id, clean_start);
  // else the channel closed meanwhile: a session handed over waits here, offline.
}

void Worker::install(session::SessionState&& st) {
  {
    std::lock_guard lock(node_.registry.mutex);
    if (node_.registry.entries.count(st.client_id) != 0) {
      // This node holds a session of the id too (a split brain healed): it stays.
      logger()->warn("client_id={} a session handed over from another node is dropped: this "
                     "node holds one already", st.client_id);
      return;
    }
  }
  Session* s = create_session(st.client_id);
  s->expiry_interval = st.expiry_interval;
  if (config().mqtt.backpressure) s->enable_pressure(config().mqtt.max_mqueue_len);
  storage::Batch* b = st.expiry_interval != 0 ? store_batch() : nullptr;
  if (b != nullptr) {
    s->store_uid = next_store_seq();
    b->put_session({st.client_id, s->store_uid, st.expiry_interval, mqtt::wall_ms_now(),
                    st.protocol_version});
  }
  for (auto& sub : st.subscriptions) {
    node_.broker.subscribe(sub.filter, {id_, s->id()}, sub.options, sub.subscription_id,
                           s->pressure, s->store_uid);
    s->subscriptions[sub.filter] = session::SubscriptionState{sub.options, sub.subscription_id};
    if (b != nullptr) b->put_subscription({s->store_uid, sub.filter, sub.options, sub.subscription_id});
  }
  for (auto& x : st.deliveries) {
    Delivery d;
    d.session = s->id();
    d.msg = std::move(x.msg);
    d.qos = x.qos;
    d.retain = x.retain;
    d.subscription_ids = std::move(x.subscription_ids);
    if (!x.share.empty()) d.share = std::make_shared<const std::string>(std::move(x.share));
    using Kind = session::SessionState::Delivery::Kind;
    if (b != nullptr && d.qos != mqtt::QoS::AtMostOnce) {
      d.store_seq = next_store_seq();
      storage::DeliveryRecord r;
      r.uid = s->store_uid;
      r.seq = d.store_seq;
      // A PUBREL-only entry keeps no message; storage wants one: an empty stand-in.
      r.msg = d.msg ? d.msg : std::make_shared<const mqtt::Message>();
      r.qos = d.qos;
      r.retain = d.retain;
      r.subscription_ids = d.subscription_ids;
      if (d.share) r.share = *d.share;
      b->put_delivery(r);
      if (x.kind != Kind::Queued) {
        b->update_delivery_state(s->store_uid, d.store_seq, x.packet_id,
                                 x.kind == Kind::PubRel          ? storage::OutState::WaitPubComp
                                 : d.qos == mqtt::QoS::AtLeastOnce ? storage::OutState::WaitPubAck
                                                                   : storage::OutState::WaitPubRec);
      }
    }
    if (x.kind == Kind::Queued) {
      s->queue.push_back(std::move(d));
      continue;
    }
    session::Inflight f;
    f.packet_id = x.packet_id;
    f.state = x.kind == Kind::PubRel            ? session::OutState::WaitPubComp
              : d.qos == mqtt::QoS::AtLeastOnce ? session::OutState::WaitPubAck
                                                : session::OutState::WaitPubRec;
    if (s->inflight.in_use(f.packet_id)) continue;
    f.d = std::move(d);
    s->inflight.push_back(std::move(f));
  }
  auto now = this->now();
  for (auto id : st.awaiting_rel) {
    s->awaiting_rel[id] = now;
    if (b != nullptr) b->put_awaiting_rel({s->store_uid, id, mqtt::wall_ms_now()});
  }
  std::vector<net::SessionRegistry::Early> early;
  {
    std::lock_guard lock(node_.registry.mutex);
    node_.registry.entries[st.client_id] = {s->id(), id_, false};
    if (auto e = node_.registry.early.find(st.client_id); e != node_.registry.early.end()) {
      early = std::move(e->second);
      node_.registry.early.erase(e);
    }
  }
  metrics::inc(metrics_.session_taken_over_in);
  go_offline(sessions_[s->id()]);
  for (auto& x : early) deliver_moved(x.msg, *x.target);
}

void Worker::deliver_moved(const mqtt::MessagePtr& m, const broker::SessionTarget& t) {
  std::uint64_t sid = 0;
  {
    std::lock_guard lock(node_.registry.mutex);
    auto e = node_.registry.entries.find(t.client_id);
    if (e == node_.registry.entries.end() || e->second.worker != id_) {
      metrics::inc(metrics_.messages_dropped_no_session);
      return;
    }
    sid = e->second.session;
  }
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) {
    metrics::inc(metrics_.messages_dropped_no_session);
    return;
  }
  // As the broker would have matched it for this session: the delivery's own QoS, RETAIN
  // flag and subscription identifiers.
  broker::Match match;
  match.ref = {id_, sid};
  match.qos = t.qos;
  match.retain_as_published = t.retain;
  match.subscription_ids = t.subscription_ids;
  match.store_uid = it->second.session->store_uid;
  auto msg = m;
  if (t.retain != m->retain || m->qos < t.qos) {
    auto copy = std::make_shared<mqtt::Message>(*m);
    copy->retain = t.retain;
    copy->qos = std::max(copy->qos, t.qos);
    msg = std::move(copy);
  }
  session::PublishResult ignored;
  session::route(msg, std::move(match), outbox_[id_], ignored, *this);
  metrics::inc(metrics_.messages_delivered);
  schedule_end_of_turn();
}

std::optional<session::SessionState> Worker::hand_over(std::uint64_t sid, bool clean_start,
                                                       broker::NodeIndex to, bool& found) {
  auto it = sessions_.find(sid);
  found = it != sessions_.end();
  if (!found) return std::nullopt;
  Session& s = *it->second.session;
  if (s.channel != nullptr) {
    metrics::inc(metrics_.client_takeover);
    Channel* old = s.channel;
    old->kick(mqtt::ReasonCode::SessionTakenOver);  // [MQTT-3.1.4-3]
    old->detach();
    publish_event(*old, false);
  }
  if (it->second.timer) it->second.timer->cancel();
  {
    std::lock_guard lock(node_.registry.mutex);
    auto r = node_.registry.entries.find(s.client_id());
    if (r != node_.registry.entries.end() && r->second.session == sid) node_.registry.entries.erase(r);
  }
  if (clean_start || s.expiry_interval == 0) {
    discard(sid);  // [MQTT-3.1.2-4]: it ends here, will and all
    return std::nullopt;
  }
  // It goes on elsewhere: a will waiting for its delay is not published
  // [MQTT-3.1.3-9], and nothing is handed to other members of its shared groups.
  s.pending_will.reset();
  session::SessionState st;
  st.client_id = s.client_id();
  st.expiry_interval = s.expiry_interval;
  st.protocol_version = 5;
  for (const auto& [filter, sub] : s.subscriptions) {
    st.subscriptions.push_back({filter, sub.opts, sub.subscription_id});
  }
  using Kind = session::SessionState::Delivery::Kind;
  auto add = [&](Kind kind, std::uint16_t packet_id, const Delivery& d) {
    session::SessionState::Delivery x;
    x.kind = kind;
    x.packet_id = packet_id;
    x.qos = d.qos;
    x.retain = d.retain;
    x.subscription_ids = d.subscription_ids;
    if (d.share) x.share = *d.share;
    x.msg = d.msg;
    st.deliveries.push_back(std::move(x));
  };
  s.inflight.for_each([&](session::Inflight& f) {
    add(f.state == session::OutState::WaitPubComp ? Kind::PubRel : Kind::Inflight, f.packet_id, f.d);
  });
  s.queue.for_each([&](Delivery& d) { add(Kind::Queued, 0, d); });
  for (const auto& [id, at] : s.awaiting_rel) st.awaiting_rel.push_back(id);
  broker::SubscriberRef ref{id_, sid};
  for (const auto& [filter, state] : s.subscriptions) node_.broker.unsubscribe(filter, ref);
  if (s.store_uid != 0) {
    if (auto* b = store_batch()) b->erase_session(s.store_uid);
  }
  extract(sid);
  // What publishers matched before the subscriptions went is still on its way here
  // (deferred for its commit, in a peer's stream): it follows the session.
  auto now = std::chrono::steady_clock::now();
  std::erase_if(moved_, [&](const auto& kv) { return now - kv.second.at > kMovedFor; });
  moved_[sid] = Moved{st.client_id, to, now};
  metrics::inc(metrics_.session_taken_over_out);
  return st;
}

void Worker::revoke(const std::string& client_id) {
  std::uint64_t sid = 0;
  {
    std::lock_guard lock(node_.registry.mutex);
    auto r = node_.registry.entries.find(client_id);
    if (r == node_.registry.entries.end() || r->second.worker != id_) return;
    sid = r->second.session;
  }
  auto it = sessions_.find(sid);
  if (it != sessions_.end() && it->second.session->channel != nullptr) {
    it->second.session->channel->kick(mqtt::ReasonCode::SessionTakenOver);
  }
}

void Worker::open_local(Channel& ch, const std::string& client_id, bool clean_start) {
  std::unique_lock lock(node_.registry.mutex);
  auto it = node_.registry.entries.find(client_id);
  if (it == node_.registry.entries.end()) {
    Session* s = create_session(client_id);
    node_.registry.entries[client_id] = {s->id(), id_, false};
    lock.unlock();  // the channel may publish: never call out under the registry lock
    ch.on_session_ready(s, false);
    publish_event(ch, true);
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
  Worker* holder = node_.workers[old.worker].get();
  holder->post([holder, client_id, sid = old.session, to = id_, clean_start] {
    holder->takeover(client_id, sid, to, clean_start);
  });
}

void Worker::retry_open(Channel* ch, std::string client_id, bool clean_start, int attempt) {
  retrying_.insert(ch);
  auto timer = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(5));
  timer->async_wait([this, timer, ch, client_id, clean_start, attempt](const auto&) {
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

// Runs on the worker that holds session `sid` (A); `to` (B) holds the new connection.
//
// Moving a session between workers must not reorder its messages. Publishers on any
// worker may have matched the old route (A) and not yet handed the deliveries over. So A
// first re-points the session's subscriptions to B (after that, new matches go to B,
// which buffers them in arriving_), then asks every worker to flush its outboxes and
// acknowledge. Each worker posts its deliveries before its ack, so when the last ack
// arrives A holds every delivery made under the old route, in order; only then does the
// session, with them, go to B, which appends what it buffered. On one worker the
// session simply changes hands.
void Worker::takeover(std::string client_id, std::uint64_t sid, std::uint32_t to,
                      bool clean_start) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) {  // expired or discarded meanwhile
    node_.workers[to]->post([w = node_.workers[to].get(), client_id, sid] {
      w->takeover_done(client_id, sid, nullptr);
    });
    return;
  }
  Session& s = *it->second.session;
  logger()->debug("client_id={} session={} taken over by worker {} (clean_start={})", client_id,
                  sid, to, clean_start);
  if (s.channel != nullptr) {
    metrics::inc(metrics_.client_takeover);
    Channel* old = s.channel;
    old->kick(mqtt::ReasonCode::SessionTakenOver);  // [MQTT-3.1.4-3]
    old->detach();
    publish_event(*old, false);
  }
  if (it->second.timer) it->second.timer->cancel();
  if (clean_start || s.expiry_interval == 0) {
    // [MQTT-3.1.2-4]: Clean Start discards the old session; and one whose expiry is 0 ended
    // with the connection just closed, so there is nothing to resume either.
    discard(sid);
    node_.workers[to]->post([w = node_.workers[to].get(), client_id, sid] {
      w->takeover_done(client_id, sid, nullptr);
    });
    return;
  }
  if (to == id_) {
    takeover_done(client_id, sid, extract(sid).release());
    return;
  }
  node_.broker.move(s.filters(), {id_, sid}, {to, sid});
  auto move_id = next_move_++;
  moves_[move_id] = Move{sid, client_id, to, node_.workers.size()};
  for (auto& w : node_.workers) {
    Worker* target = w.get();
    target->post([target, self = this, move_id] {
      // What it matched under the old route, stored first if it must be, reaches us
      // before the ack.
      target->ship();
      target->after_shipped(
          [self, move_id] { self->post([self, move_id] { self->barrier_ack(move_id); }); });
    });
  }
}

void Worker::barrier_ack(std::uint64_t move_id) {
  auto it = moves_.find(move_id);
  if (it == moves_.end() || --it->second.acks_left > 0) return;
  Move mv = std::move(it->second);
  moves_.erase(it);
  Session* moving = extract(mv.session).release();
  node_.workers[mv.to]->post([w = node_.workers[mv.to].get(), mv, moving] {
    w->takeover_done(mv.client_id, mv.session, moving);
  });
}

std::unique_ptr<Session> Worker::extract(std::uint64_t sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return nullptr;
  auto s = std::move(it->second.session);
  sessions_.erase(it);
  metrics_.sessions.fetch_sub(1, std::memory_order_relaxed);
  return s;
}

// On B: the session (or nullptr: start afresh) has arrived.
void Worker::takeover_done(std::string client_id, std::uint64_t sid, Session* moved) {
  std::unique_ptr<Session> owned(moved);
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
    metrics_.sessions.fetch_add(1, std::memory_order_relaxed);
    s->pending_will.reset();  // resumed before the will delay ended [MQTT-3.1.3-9]
    session::SessionLimits limits{config().mqtt.max_mqueue_len, true};
    for (auto& d : buffered) {
      s->arrived(d);
      if (d.refused) continue;
      s->enqueue(std::move(d), limits, true, store_batch());
    }
    metrics::inc(metrics_.session_resumed);
  } else if (ch != nullptr) {
    s = create_session(client_id);
  }
  {
    std::lock_guard lock(node_.registry.mutex);
    if (s != nullptr) {
      node_.registry.entries[client_id] = {s->id(), id_, false};
    } else {
      node_.registry.entries.erase(client_id);
    }
  }
  if (s == nullptr) return;
  if (ch != nullptr) {
    ch->on_session_ready(s, present);
    publish_event(*ch, true);
  } else {
    go_offline(sessions_[s->id()]);  // the new connection died meanwhile
  }
}

void Worker::channel_closed(Channel& ch, Session* s) {
  retrying_channels_.erase(&ch);
  held_.erase(&ch);
  commit_waiters_.erase(&ch);
  if (s == nullptr) {
    // Forget a pending open for this channel, wherever it waits.
    retrying_.erase(&ch);
    claiming_.erase(&ch);
    for (auto it = connecting_.begin(); it != connecting_.end();) {
      it = it->second == &ch ? connecting_.erase(it) : std::next(it);
    }
    return;
  }
  publish_event(ch, false);
  auto it = sessions_.find(s->id());
  if (it == sessions_.end()) return;
  go_offline(it->second);
}

void Worker::adopt(std::unique_ptr<Session> s, std::chrono::steady_clock::time_point went_offline) {
  const auto sid = s->id();
  auto& slot = sessions_[sid];
  slot.session = std::move(s);
  slot.went_offline = went_offline;
  metrics_.sessions.fetch_add(1, std::memory_order_relaxed);
  // The first check runs once the worker runs: it expires the session or sleeps.
  asio::post(io_, [this, sid] { on_offline_timer(sid); });
}

void Worker::go_offline(SessionSlot& slot) {
  Session& s = *slot.session;
  slot.went_offline = std::chrono::steady_clock::now();
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
void Worker::on_offline_timer(std::uint64_t sid) {
  auto it = sessions_.find(sid);
  if (it == sessions_.end()) return;
  auto& slot = it->second;
  Session& s = *slot.session;
  if (s.channel != nullptr) return;
  auto now = std::chrono::steady_clock::now();
  auto offline = now - slot.went_offline;
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
    metrics::inc(metrics_.session_expired);
    discard(sid);
    return;
  }
  std::chrono::steady_clock::duration next = std::chrono::hours(24);
  if (!never) next = seconds(s.expiry_interval) - offline;
  if (s.pending_will) next = std::min<std::chrono::steady_clock::duration>(next, seconds(s.will_delay) - offline);
  if (!slot.timer) slot.timer = std::make_unique<asio::steady_timer>(io_);
  slot.timer->expires_after(next);
  slot.timer->async_wait([this, sid](const boost::system::error_code& ec) {
    if (!ec) on_offline_timer(sid);
  });
}

void Worker::discard(std::uint64_t sid) {
  auto owned = extract(sid);
  if (!owned) return;
  Session& s = *owned;
  if (node_.directory != nullptr && node_.directory->active()) node_.directory->release(s.client_id());
  if (s.store_uid != 0) {
    if (auto* b = store_batch()) b->erase_session(s.store_uid);
  }
  broker::SubscriberRef ref{id_, sid};
  for (const auto& [filter, state] : s.subscriptions) node_.broker.unsubscribe(filter, ref);
  redispatch_shared(s);
  publish_pending_will(s);
  metrics::inc(metrics_.session_discarded);
}

// The Will's Message Expiry Interval counts from when the will is published, not from
// when the connection closed (section 3.1.3.2), so it is stamped now.
void Worker::publish_pending_will(Session& s) {
  if (!s.pending_will) return;
  auto will = std::make_shared<mqtt::Message>(**s.pending_will);
  s.pending_will.reset();
  will->received_at = now();
  if (will->retain) will->received_at_ms = mqtt::wall_ms_now();
  metrics::inc(metrics_.wills_published);
  publish(will, s.client_id());
}

// A member of a shared group went away with QoS 1/2 messages it never acknowledged:
// they go to another member of the same group, as EMQX does, instead of being lost.
void Worker::redispatch_shared(Session& s) {
  std::vector<Delivery> todo;
  s.inflight.for_each([&](session::Inflight& f) {
    // A QoS 2 message already sent may have reached its client: sending it to another
    // member could deliver it twice [MQTT-4.8.2-5]. QoS 1 goes on, as EMQX does.
    if (f.d.share && f.d.msg && f.d.qos == mqtt::QoS::AtLeastOnce) {
      todo.push_back(std::move(f.d));
    }
  });
  s.queue.for_each([&](Delivery& d) {
    if (d.share && d.qos != mqtt::QoS::AtMostOnce) todo.push_back(std::move(d));
  });
  for (auto& d : todo) {
    broker::Match m;
    if (!node_.broker.redispatch(*d.share, *d.msg, {id_, s.id()}, m)) {
      metrics::inc(metrics_.messages_dropped);
      continue;
    }
    auto worker = m.ref.worker;
    outbox_[worker].push_back(session::make_delivery(d.msg, std::move(m)));
  }
  if (!todo.empty()) schedule_end_of_turn();
}

// ---------------------------------------------------------------- 3.1.1 retry

// One timer per worker, running only while some 3.1.1 channel has messages in flight;
// each tick resends what waited longer than retry_interval. The tick is a fraction of
// the interval, so a resend is at most that much late.
void Worker::watch_retry(Channel& ch) {
  retrying_channels_.insert(&ch);
  if (retry_timer_) return;
  retry_timer_ = std::make_unique<asio::steady_timer>(io_);
  on_retry_timer();
}

void Worker::on_retry_timer() {
  auto now = this->now();
  for (auto it = retrying_channels_.begin(); it != retrying_channels_.end();) {
    it = (*it)->retry(now) ? std::next(it) : retrying_channels_.erase(it);
  }
  if (retrying_channels_.empty()) {
    retry_timer_.reset();
    return;
  }
  auto tick = std::clamp<std::chrono::milliseconds>(config().mqtt.retry_interval / 4,
                                                    std::chrono::milliseconds(100),
                                                    std::chrono::milliseconds(1000));
  retry_timer_->expires_after(tick);
  retry_timer_->async_wait([this](const boost::system::error_code& ec) {
    if (!ec) on_retry_timer();
  });
}

// ---------------------------------------------------------------- events, shutdown

void Worker::publish_event(const Channel& ch, bool connected) {
  const auto& sys = config().sys_topics;
  if (connected ? !sys.client_connected : !sys.client_disconnected) return;
  // A client id may hold '+' or '#', a topic name we send may not [MQTT-3.3.2-2]: such a
  // client gets no event topic.
  if (ch.client_id().find_first_of("+#") != std::string::npos) return;
  auto msg = std::make_shared<mqtt::Message>();
  msg->topic = "$SYS/brokers/" + node_name() + "/clients/" + ch.client_id() +
               (connected ? "/connected" : "/disconnected");
  // The fields EMQX puts in its event messages, so tools written for EMQX read ours.
  std::string user = ch.username() ? "\"" + json_escape(*ch.username()) + "\"" : "null";
  std::string ts = std::to_string(now_ms());
  const std::string& peer = ch.host().peer();
  auto colon = peer.rfind(':');
  std::string ip = colon == std::string::npos ? peer : peer.substr(0, colon);
  std::string proto_name = ch.version() == mqtt::ProtocolVersion::V3_1 ? "MQIsdp" : "MQTT";
  std::string common = "\"clientid\":\"" + json_escape(ch.client_id()) + "\",\"username\":" + user +
                       ",\"ipaddress\":\"" + json_escape(ip) + "\",\"sockport\":" +
                       std::to_string(ch.host().local_port()) + ",\"proto_name\":\"" +
                       proto_name + "\",\"proto_ver\":" +
                       std::to_string(static_cast<int>(ch.version())) + ",\"ts\":" + ts;
  if (connected) {
    msg->payload = "{" + common + ",\"keepalive\":" + std::to_string(ch.keep_alive()) +
                   ",\"clean_start\":" + (ch.clean_start() ? "true" : "false") +
                   ",\"expiry_interval\":" + std::to_string(ch.session_expiry()) +
                   ",\"connack\":0,\"connected_at\":" + ts + "}";
  } else {
    std::string reason(ch.disconnect_reason().empty() ? "normal" : ch.disconnect_reason());
    msg->payload = "{" + common + ",\"reason\":\"" + reason + "\",\"disconnected_at\":" + ts + "}";
  }
  msg->qos = mqtt::QoS::AtMostOnce;
  msg->received_at = mqtt::Message::Clock::now();
  publish(msg, {});
}

void Worker::publish_wills_for_shutdown() {
  for (auto* c : connections_) c->channel().publish_will_now();
  for (auto& [sid, slot] : sessions_) publish_pending_will(*slot.session);
}

void Worker::kick_all(mqtt::ReasonCode reason) {
  std::vector<Connection*> all(connections_.begin(), connections_.end());
  for (auto* c : all) c->channel().kick(reason);
}

}  // namespace emqxd::net
