#include "cluster/cluster.hpp"

#include <chrono>
#include <future>
#include <random>
#include <system_error>

#include "broker/topic.hpp"
#include "cluster/peer_link.hpp"
#include "common/log.hpp"

namespace emqxd::cluster {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("cluster");
  return l;
}

std::uint64_t wall_ms() {
  return static_cast<std::uint64_t>(mqtt::wall_ms_now());
}

MembershipOptions options_from(const config::ClusterConfig& c) {
  MembershipOptions o;
  o.cluster_name = c.name;
  o.probe_interval = c.probe_interval;
  o.probe_timeout = c.probe_timeout;
  o.indirect_probes = c.indirect_probes;
  o.suspicion_multiplier = c.suspicion_multiplier;
  o.retransmit_multiplier = c.retransmit_multiplier;
  o.gossip_interval = c.gossip_interval;
  o.gossip_fanout = c.gossip_fanout;
  o.push_pull_interval = c.push_pull_interval;
  o.reconnect_interval = c.reconnect_interval;
  o.autoheal = c.autoheal;
  o.autoclean = c.autoclean;
  o.max_members = c.max_nodes;
  return o;
}

// This node's address: node.name gives name@host, cluster.rpc.bind the port.
NodeAddress self_address(const config::Config& cfg) {
  auto a = NodeAddress::parse(cfg.node.name);
  if (!a) throw std::runtime_error("node.name: '" + cfg.node.name + "' is not name@host");
  const auto& bind = cfg.cluster.rpc_bind;
  auto colon = bind.rfind(':');
  if (colon != std::string::npos) {
    try {
      a->port = static_cast<std::uint16_t>(std::stoul(bind.substr(colon + 1)));
    } catch (const std::exception&) {
      throw std::runtime_error("cluster.rpc.bind: '" + bind + "' has no port");
    }
  }
  return *a;
}

// The largest message a peer may send this node: a forwarded PUBLISH of the largest size
// MQTT clients may send here, with room for its envelope; every batch, snapshot and
// Register is cut to stay under it (peer_link.cpp, cluster_sessions.cpp).
rpc::AuthOptions auth_from(const config::Config& cfg, const NodeAddress& self) {
  rpc::AuthOptions a;
  a.cookie = cfg.node.cookie;
  a.cluster = cfg.cluster.name;
  a.self_id = self.id();
  a.max_request_bytes = std::max<std::size_t>(
      std::size_t{4} << 20, static_cast<std::size_t>(cfg.mqtt.max_packet_size) + (256 << 10));
  return a;
}

rpc::TlsOptions tls_from(const config::ClusterRpcSsl& s) {
  rpc::TlsOptions t;
  t.enable = s.enable;
  t.certfile = s.certfile;
  t.keyfile = s.keyfile;
  t.cacertfile = s.cacertfile;
  t.verify_peer = s.verify != "verify_none";
  return t;
}
}  // namespace

Cluster::Cluster(const config::Config& cfg, ClusterHooks hooks)
    : cfg_(cfg),
      hooks_(std::move(hooks)),
      self_(self_address(cfg)),
      options_(options_from(cfg.cluster)),
      transport_(tls_from(cfg.cluster.rpc_ssl), auth_from(cfg, self_)) {
  by_index_.emplace_back();  // index 0 is "none" (this node, in route listings)
  seed_ = std::random_device{}() ^ wall_ms();
  membership_ = std::make_unique<Membership>(self_, wall_ms(), options_, seed_, Clock::now());
  membership_incarnation_ = membership_->incarnation();
}

Cluster::~Cluster() {
  stop();
}

void Cluster::start() {
  transport_.serve(cfg_.cluster.rpc_bind, *this);
  started_ = true;
  if (hooks_.tables != nullptr) {
    hooks_.tables->set_replicator(
        [this](std::vector<tables::Entry>&& entries) { replicate(std::move(entries)); });
  }
  thread_ = std::thread([this] { run(); });
  logger()->info("node {} serves the cluster RPC on {} (cluster {}, discovery {})",
                 self_.to_string(), cfg_.cluster.rpc_bind, options_.cluster_name,
                 cfg_.cluster.discovery_strategy);
  if (cfg_.cluster.discovery_strategy == "static" && !cfg_.cluster.static_seeds.empty()) {
    std::vector<NodeAddress> seeds;
    for (const auto& s : cfg_.cluster.static_seeds) {
      if (auto a = NodeAddress::parse(s)) seeds.push_back(*a);
    }
    post([this, seeds] {
      membership_->join(seeds, Clock::now());
      pump();
    });
  }
  const auto& strategy = cfg_.cluster.discovery_strategy;
  if (strategy == "dns" || strategy == "etcd" || strategy == "k8s") start_discovery();
}

void Cluster::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  if (hooks_.tables != nullptr && started_) hooks_.tables->set_replicator({});
  cv_.notify_all();
  session_cv_.notify_all();
  stop_discovery();
  if (thread_.joinable()) thread_.join();
  for (auto& t : session_threads_)
    t.join();
  session_threads_.clear();
  std::vector<std::shared_ptr<PeerLink>> links;
  {
    std::lock_guard lock(routes_mutex_);
    links.swap(links_);
  }
  {
    std::lock_guard lock(peers_mutex_);
    for (auto& p : by_index_) {
      if (p) p->link.reset();
    }
  }
  links.clear();  // joins the link threads
  if (started_) transport_.stop();
}

// ---------------------------------------------------------------- the cluster thread

void Cluster::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

template <class F>
auto Cluster::on_loop(F&& f) -> decltype(f()) {
  using R = decltype(f());
  auto task = std::make_shared<std::packaged_task<R()>>(std::forward<F>(f));
  auto result = task->get_future();
  post([task] { (*task)(); });
  if (result.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return R{};
  return result.get();
}

void Cluster::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    cv_.wait_until(lock, membership_->next_deadline(),
                   [&] { return stopping_ || !tasks_.empty(); });
    if (stopping_) break;
    auto tasks = std::move(tasks_);
    tasks_.clear();
    lock.unlock();
    for (auto& t : tasks)
      t();
    membership_->tick(Clock::now());
    pump();
    lock.lock();
  }
}

void Cluster::pump() {
  for (auto& out : membership_->take_outgoing()) {
    transport_.send(out.to, out.message, options_.probe_timeout);
  }
  for (const auto& e : membership_->take_events())
    on_event(e);
  membership_incarnation_ = membership_->incarnation();
}

void Cluster::on_event(const MemberEvent& e) {
  using K = MemberEvent::Kind;
  logger()->info("member {} {} (incarnation {})", e.node.to_string(), to_string(e.kind),
                 e.incarnation);
  auto p = peer_for(e.node);
  if (!p) return;  // the table is full (logged): this node does not talk to it
  bool live =
      e.kind == K::Up || e.kind == K::Suspect || e.kind == K::Recovered || e.kind == K::Moved;
  std::shared_ptr<PeerLink> old;
  std::shared_ptr<PeerLink> fresh;
  {
    std::lock_guard lock(peers_mutex_);
    p->address = e.node;
    p->state = e.kind == K::Suspect ? MemberState::Suspect
               : e.kind == K::Down  ? MemberState::Dead
               : e.kind == K::Left  ? MemberState::Left
                                    : MemberState::Alive;
    if (!live || e.kind == K::Moved || (e.kind == K::Up)) {
      old = std::move(p->link);
      p->link.reset();
    }
    if (live && !p->link) {
      fresh = std::make_shared<PeerLink>(*this, p->index, e.node, cfg_.mqtt.backpressure);
      p->link = fresh;
    }
  }
  set_live(*p, live);
  if (live && session_threads_.empty()) {
    // Sessions need the registry only once there are peers: a node alone runs no threads
    // for it.
    try {
      for (int i = 0; i < kSessionThreads; ++i) {
        session_threads_.emplace_back([this] { session_worker(); });
      }
    } catch (const std::system_error& err) {  // on the cluster thread: must not throw
      logger()->error("session registry: {} of {} threads started ({})", session_threads_.size(),
                      kSessionThreads, err.what());
    }
  }
  if (old) {
    std::lock_guard lock(routes_mutex_);
    std::erase(links_, old);
  }
  if (fresh) {
    {
      std::lock_guard lock(routes_mutex_);
      links_.push_back(fresh);
    }
    fresh->start();
  }
  if (old) {
    forward_sent_.fetch_add(old->sent(), std::memory_order_relaxed);
    forward_dropped_.fetch_add(old->dropped(), std::memory_order_relaxed);
    old.reset();  // joins its thread
  }
  {
    std::lock_guard lock(p->apply_mutex);
    p->accepting = live;
    if (!live) {
      if (p->reader != nullptr) p->reader->cancel();
      p->reader = nullptr;
      p->best = {0, 0};
    }
  }
  if (!live) {
    // Its routes go everywhere at once: it gets nothing more from this node.
    hooks_.broker->drop_remote_routes(p->index);
    if (e.kind == K::Left) {
      std::lock_guard lock(registry_mutex_);
      std::erase_if(registry_, [&](const auto& kv) { return kv.second.owner.id() == p->id; });
    }
  }
  // Registry shards move with membership: every node registers its sessions again.
  reregister_ = true;
  session_cv_.notify_all();
}

void Cluster::reset_membership() {
  auto inc =
      std::max<std::uint64_t>(std::min(membership_->incarnation() + 1, kMaxIncarnation), wall_ms());
  membership_ = std::make_unique<Membership>(self_, inc, options_, ++seed_, Clock::now());
  membership_incarnation_ = inc;
}

// ---------------------------------------------------------------- peers

std::shared_ptr<Cluster::Peer> Cluster::peer_for(const NodeAddress& a) {
  std::string id = a.id();
  std::uint64_t suppressed = 0;
  std::size_t seen = 0;
  {
    std::lock_guard lock(peers_mutex_);
    if (auto it = index_.find(id); it != index_.end()) return by_index_[it->second];
    // [0] is not a peer; max_nodes counts this node.
    if (by_index_.size() < std::min<std::size_t>(cfg_.cluster.max_nodes, kMaxPeers + 1)) {
      auto p = std::make_shared<Peer>();
      p->index = static_cast<broker::NodeIndex>(by_index_.size());
      p->id = id;
      p->address = a;
      by_index_.push_back(p);
      index_[id] = p->index;
      return p;
    }
    if (!table_full_log_.allow(std::chrono::steady_clock::now(), suppressed)) return nullptr;
    seen = by_index_.size() - 1;
  }
  logger()->error(
      "cluster: the peer table is full ({} nodes ever seen, cluster.max_nodes = {}); ignoring "
      "node {} ({} similar lines suppressed)",
      seen, cfg_.cluster.max_nodes, a.to_string(), suppressed);
  return nullptr;
}

std::shared_ptr<Cluster::Peer> Cluster::find_peer(const std::string& id) const {
  std::lock_guard lock(peers_mutex_);
  auto it = index_.find(id);
  return it != index_.end() ? by_index_[it->second] : nullptr;
}

std::size_t Cluster::peer_count_for_test() const {
  std::lock_guard lock(peers_mutex_);
  return by_index_.size() - 1;
}

std::shared_ptr<Cluster::Peer> Cluster::peer_at(broker::NodeIndex i) const {
  std::lock_guard lock(peers_mutex_);
  return i < by_index_.size() ? by_index_[i] : nullptr;
}

std::string Cluster::name_of(broker::NodeIndex i) const {
  if (i == 0) return self_.id();
  auto p = peer_at(i);
  return p ? p->id : std::string();
}

void Cluster::set_live(Peer& p, bool live) {
  std::lock_guard lock(peers_mutex_);
  auto it = std::find(live_.begin(), live_.end(), p.index);
  if (live && it == live_.end()) live_.push_back(p.index);
  if (!live && it != live_.end()) live_.erase(it);
  live_peers_.store(live_.size(), std::memory_order_relaxed);
}

std::shared_ptr<broker::Pressure> Cluster::congestion(broker::NodeIndex node) const {
  std::shared_ptr<PeerLink> link;
  if (auto p = peer_at(node)) {
    std::lock_guard lock(peers_mutex_);
    link = p->link;
  }
  if (!link) return nullptr;
  const auto& pr = link->pressure();
  return pr->depth() >= pr->high && pr->holds() ? pr : nullptr;
}

void Cluster::peers(std::vector<broker::NodeIndex>& out) const {
  std::lock_guard lock(peers_mutex_);
  out.insert(out.end(), live_.begin(), live_.end());
}

// ---------------------------------------------------------------- routes and forwards

void Cluster::add(std::string_view filter, std::string_view group) {
  std::lock_guard lock(routes_mutex_);
  local_routes_.emplace(std::string(filter), std::string(group));
  for (auto& l : links_)
    l->push_delta(true, {std::string(filter), std::string(group)});
}

void Cluster::remove(std::string_view filter, std::string_view group) {
  std::lock_guard lock(routes_mutex_);
  local_routes_.erase({std::string(filter), std::string(group)});
  for (auto& l : links_)
    l->push_delta(false, {std::string(filter), std::string(group)});
}

void Cluster::replicate(std::vector<tables::Entry>&& entries) {
  std::lock_guard lock(routes_mutex_);
  for (auto& l : links_)
    l->push_tables(entries);
}

std::vector<broker::Route> Cluster::snapshot_for(PeerLink& link) {
  std::lock_guard lock(routes_mutex_);
  link.drop_deltas();
  std::vector<broker::Route> out;
  out.reserve(local_routes_.size());
  for (const auto& [f, g] : local_routes_)
    out.push_back({f, g});
  return out;
}

void Cluster::forward(broker::NodeIndex node, std::vector<broker::ForwardItem>&& items) {
  std::shared_ptr<PeerLink> link;
  if (auto p = peer_at(node)) {
    std::lock_guard lock(peers_mutex_);
    link = p->link;
  }
  if (!link) {
    forward_dropped_.fetch_add(items.size(), std::memory_order_relaxed);
    return;
  }
  link->push(std::move(items));
}

// ---------------------------------------------------------------- inbound (gRPC threads)

void Cluster::on_membership(Message&& m) {
  post([this, m = std::move(m)] {
    auto handled = membership_->handle(m, Clock::now());
    if (handled != Membership::Handled::OtherCluster && handled != Membership::Handled::NotForUs) {
      return;
    }
    // A node that asks to join the wrong address (another cluster, another node's name)
    // hears nothing back: say here what it got wrong.
    static log::Throttle throttle;
    std::uint64_t held = 0;
    if (!throttle.allow(std::chrono::steady_clock::now(), held)) return;
    if (handled == Membership::Handled::OtherCluster) {
      logger()->warn(
          "dropped a membership message from {} of cluster '{}' (this is '{}'; {} "
          "similar lines suppressed)",
          m.from.to_string(), m.cluster, options_.cluster_name, held);
    } else {
      logger()->warn(
          "dropped a membership message from {} for node {} (this is {}; {} "
          "similar lines suppressed)",
          m.from.to_string(), m.to, self_.id(), held);
    }
  });
}

void Cluster::on_link(rpc::LinkReader& reader) {
  rpc::LinkEvent ev;
  if (!reader.read(ev) || !std::holds_alternative<rpc::LinkHello>(ev)) return;
  const auto hello = std::get<rpc::LinkHello>(ev);
  if (hello.cluster != options_.cluster_name || hello.from.id() == self_.id()) return;
  // Only a member takes a stream (membership adds it to the table first): a stranger's
  // hello neither gets one nor takes a place in the table.
  auto p = find_peer(hello.from.id());
  if (!p) return;
  const std::pair<std::uint64_t, std::uint64_t> stream{hello.incarnation, hello.stream};
  {
    std::lock_guard lock(p->apply_mutex);
    // Not a member here (yet, or any more): the origin tries again until it is.
    if (!p->accepting || stream <= p->best) return;
    if (p->reader != nullptr) p->reader->cancel();  // an older stream of the same origin
    p->reader = &reader;
    p->best = stream;
  }
  if (!reader.accept()) return;
  auto& broker = *hooks_.broker;
  bool in_snapshot = false;
  auto gate = p->gate;
  while (reader.read(ev)) {
    if (std::holds_alternative<rpc::LinkForward>(ev)) {
      // Before the next batch goes in: the worker has routed enough of the earlier ones,
      // and no subscriber here asks to wait (it lets go once it caught up, or after the
      // stall timeout of broker/pressure.hpp).
      std::unique_lock gl(gate->mutex);
      for (;;) {
        if (gate->holder && gate->holder->releases(gate->since, broker::Pressure::Clock::now())) {
          gate->holder.reset();
        }
        if (!gate->holder && gate->in_flight < kInboundWindow) break;
        gate->cv.wait_for(gl, std::chrono::milliseconds(1));
      }
    }
    std::lock_guard lock(p->apply_mutex);
    if (p->reader != &reader) return;  // replaced, or the origin went down meanwhile
    if (auto* s = std::get_if<rpc::LinkSnapshot>(&ev)) {
      if (!in_snapshot) broker.begin_remote_snapshot(p->index);
      in_snapshot = true;
      broker.add_remote_routes(p->index, s->routes);
      if (s->last) {
        broker.end_remote_snapshot(p->index);
        in_snapshot = false;
      }
    } else if (auto* ds = std::get_if<rpc::LinkDeltas>(&ev)) {
      std::vector<broker::Route> adds;
      for (auto& d : *ds) {
        if (d.add) {
          adds.push_back(std::move(d.route));
          continue;
        }
        if (!adds.empty()) broker.add_remote_routes(p->index, adds);  // keep the order
        adds.clear();
        broker.remove_remote_route(p->index, d.route);
      }
      if (!adds.empty()) broker.add_remote_routes(p->index, adds);
    } else if (auto* t = std::get_if<rpc::LinkTables>(&ev)) {
      if (hooks_.tables != nullptr) hooks_.tables->merge(std::move(*t));
    } else if (auto* f = std::get_if<rpc::LinkForward>(&ev)) {
      p->received.fetch_add(f->items.size(), std::memory_order_relaxed);
      forward_received_.fetch_add(f->items.size(), std::memory_order_relaxed);
      auto n = static_cast<std::int64_t>(f->items.size());
      {
        std::lock_guard gl(gate->mutex);
        gate->in_flight += n;  // only this thread adds: the wait above still holds
      }
      hooks_.dispatch(p->index, std::move(f->items),
                      [gate](std::int64_t routed, std::shared_ptr<broker::Pressure> congested) {
                        std::lock_guard gl(gate->mutex);
                        gate->in_flight -= routed;
                        if (congested && !gate->holder) {
                          gate->holder = std::move(congested);
                          gate->since = broker::Pressure::Clock::now();
                        }
                        gate->cv.notify_all();
                      });
    }
  }
  std::lock_guard lock(p->apply_mutex);
  if (p->reader == &reader) p->reader = nullptr;
}

// ---------------------------------------------------------------- control (API thread)

api::ClusterControl::Outcome Cluster::join(const std::string& node) {
  std::string why;
  auto a = NodeAddress::parse(node, &why);
  if (!a) return {400, "bad node address '" + node + "': " + why};
  if (a->id() == self_.id()) return {400, "a node cannot join itself"};
  bool posted = on_loop([this, to = *a] {
    if (membership_->has_left()) reset_membership();
    std::vector<NodeAddress> seeds{to};
    membership_->join(seeds, Clock::now());
    pump();
    return true;
  });
  if (!posted) return {503, "the cluster is shutting down"};
  const std::string id = a->id();
  for (int i = 0; i < 50; ++i) {
    {
      std::lock_guard lock(peers_mutex_);
      auto it = index_.find(id);
      if (it != index_.end() && by_index_[it->second]->state == MemberState::Alive) {
        return {200, "joined " + id};
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return {503, "no answer from " + a->to_string() +
                   " within 5 s; still trying (is its cluster.rpc.bind reachable from here?)"};
}

api::ClusterControl::Outcome Cluster::leave() {
  stop_discovery();  // or it would find the others again and rejoin
  bool had = on_loop([this] {
    bool any = membership_->live_count() > 1;
    membership_->leave(Clock::now());
    pump();
    return any;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the Leave messages go out
  on_loop([this] {
    std::vector<std::shared_ptr<Peer>> all;
    {
      std::lock_guard lock(peers_mutex_);
      for (auto& p : by_index_) {
        if (p && (p->state == MemberState::Alive || p->state == MemberState::Suspect)) {
          all.push_back(p);
        }
      }
    }
    for (auto& p : all)
      on_event(MemberEvent{MemberEvent::Kind::Left, p->address, 0});
    reset_membership();
    return true;
  });
  return {200, had ? "left the cluster" : "this node was not in a cluster"};
}

api::ClusterControl::Outcome Cluster::force_leave(const std::string& node) {
  std::string why;
  auto a = NodeAddress::parse(node, &why);
  if (!a) return {400, "bad node address '" + node + "': " + why};
  if (a->id() == self_.id()) return {400, "use leave to take this node out"};
  // 0: unknown or gone already, 1: removed, 2: alive (it will refute and stay).
  int outcome = on_loop([this, id = a->id()] {
    const Member* m = membership_->find(id);
    if (m == nullptr) return 0;
    if (m->state == MemberState::Left) return 0;
    const bool alive = m->state == MemberState::Alive;
    membership_->force_leave(id, Clock::now());
    pump();
    return alive ? 2 : 1;
  });
  switch (outcome) {
    case 1:
      return {200, a->id() + " removed from the cluster"};
    case 2:
      return {200, a->id() +
                       " was alive: it is told it left, and it will rejoin if it keeps "
                       "running"};
    default:
      return {404, "unknown node " + a->id()};  // never heard of, or gone already
  }
}

api::ClusterStatus Cluster::status() {
  api::ClusterStatus out;
  out.name = options_.cluster_name;
  out.self = self_.id();
  out.members = on_loop([this] {
    std::vector<api::MemberStatus> rows;
    std::size_t local = 0;
    {
      std::lock_guard lock(routes_mutex_);
      local = local_routes_.size();
    }
    rows.push_back(
        {self_.id(), self_.to_string(), "alive", membership_->incarnation(), true, local, true, 0});
    for (const auto& m : membership_->members()) {
      if (m.state == MemberState::Left) continue;
      api::MemberStatus r;
      r.node = m.address.id();
      r.address = m.address.to_string();
      r.state = std::string(to_string(m.state));
      r.incarnation = m.incarnation;
      std::shared_ptr<PeerLink> link;
      broker::NodeIndex idx = 0;
      {
        std::lock_guard lock(peers_mutex_);
        if (auto it = index_.find(r.node); it != index_.end()) {
          idx = it->second;
          link = by_index_[idx]->link;
        }
      }
      r.routes = idx != 0 ? hooks_.broker->remote_route_count(idx) : 0;
      r.link_up = link && link->connected();
      r.queued = link ? link->queued() : 0;
      rows.push_back(std::move(r));
    }
    return rows;
  });
  auto st = stats();
  auto bs = hooks_.broker->stats();
  out.routes = {bs.routes, bs.remote_routes};
  out.forward = {st.forward_sent, st.forward_received, st.forward_dropped, st.forward_queued};
  out.sessions = {st.takeovers_in, st.takeovers_out};
  return out;
}

api::RouteList Cluster::routes(const std::string& topic, std::size_t limit) {
  api::RouteList out;
  // A shared subscription's route is listed under its $share/<group>/<filter> name: asked
  // by that name, it is the group's route of the filter.
  std::string filter = topic;
  std::optional<std::string> group;
  if (auto shared = broker::parse_shared(topic); shared && *shared) {
    filter = std::string((*shared)->filter);
    group = std::string((*shared)->group);
  }
  std::vector<std::pair<std::string, broker::NodeIndex>> rows;
  hooks_.broker->list_routes(filter, SIZE_MAX, [&](const broker::Route& r, broker::NodeIndex n) {
    if (group && r.group != *group) return;
    ++out.count;  // matching, shown or not (meta.count, as EMQX)
    if (rows.size() >= limit) return;
    rows.emplace_back(r.group.empty() ? r.filter : broker::share_name(r.group, r.filter), n);
  });
  out.data.reserve(rows.size());
  for (auto& [t, n] : rows)
    out.data.push_back({std::move(t), name_of(n)});
  return out;
}

Cluster::Stats Cluster::stats() const {
  Stats s;
  s.forward_sent = forward_sent_.load(std::memory_order_relaxed);
  s.forward_received = forward_received_.load(std::memory_order_relaxed);
  s.forward_dropped = forward_dropped_.load(std::memory_order_relaxed);
  s.takeovers_in = takeovers_in_.load(std::memory_order_relaxed);
  s.takeovers_out = takeovers_out_.load(std::memory_order_relaxed);
  std::vector<std::shared_ptr<PeerLink>> links;
  {
    std::lock_guard lock(peers_mutex_);
    s.members = 1 + live_.size();
    for (const auto& p : by_index_) {
      if (p && p->link) links.push_back(p->link);
    }
  }
  for (const auto& l : links) {
    s.forward_sent += l->sent();
    s.forward_dropped += l->dropped();
    s.forward_queued += l->queued();
  }
  return s;
}

}  // namespace emqxd::cluster
