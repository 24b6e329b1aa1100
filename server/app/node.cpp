#include "app/node.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <boost/json/parse.hpp>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "api/admins.hpp"
#include "api/alarms.hpp"
#include "api/api_client.hpp"
#include "api/api_keys.hpp"
#include "api/api_server.hpp"
#include "api/connectors_api.hpp"
#include "api/credentials.hpp"
#include "api/gateways_api.hpp"
#include "api/node_ops.hpp"
#include "api/rebalance_api.hpp"
#include "api/router.hpp"
#include "api/rules_api.hpp"
#include "api/topic_stats_api.hpp"
#include "app/sys_topics.hpp"
#include "app/sysmon.hpp"
#include "auth/authentication.hpp"
#include "auth/authz_builtin.hpp"
#include "auth/http_backend.hpp"
#include "cluster/cluster.hpp"
#include "common/blocking_pool.hpp"
#include "common/log.hpp"
#include "common/proc_stats.hpp"
#include "common/resident.hpp"
#include "connectors/types.hpp"
#include "gateways/coap/gateway.hpp"
#include "gateways/lwm2m/gateway.hpp"
#include "gateways/mqttsn/gateway.hpp"
#include "gateways/nng/bridge.hpp"
#include "gateways/stomp/gateway.hpp"
#include "gateways/zmq/bridge.hpp"
#include "net/evacuation.hpp"
#include "net/listener.hpp"
#include "net/node_counters.hpp"
#include "net/worker.hpp"
#include "session/node_state.hpp"
#include "session/restore.hpp"
#include "storage/memory_store.hpp"
#include "storage/rocks_store.hpp"

#ifndef EMQXD_VERSION
#define EMQXD_VERSION "0.0.0"
#endif

namespace emqxd::app {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("node");
  return l;
}

// Only a salted hash of the HTTP API's password stays in memory: it is hashed here and the
// config's copy wiped before the config is kept for the node's life.
std::optional<api::Credentials> take_api_credentials(config::Config& cfg, bool& is_default) {
  is_default = cfg.dashboard_default_password == "public";
  std::optional<api::Credentials> out;
  if (cfg.dashboard_http_enable) {
    out = api::Credentials::make(cfg.dashboard_default_username, cfg.dashboard_default_password);
  }
  api::wipe(cfg.dashboard_default_password);
  return out;
}

// node.data_dir holds every session and retained message: only emqxd's user may read it.
// The process umask (0077, set in main) makes what emqxd creates 0700 (directories) and
// 0600 (files, RocksDB's included). A directory that exists already keeps the mode the
// operator gave it: a wider one is warned about, never changed behind their back (it may
// be shared on purpose, with a backup user's group, say).
void prepare_data_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir, ec);
    if (ec) {
      throw std::runtime_error("node.data_dir: cannot create " + dir + ": " + ec.message());
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    return;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 077) != 0) {
    logger()->warn(
        "node.data_dir {} has mode {:04o}: other users may read the stored sessions and "
        "messages; emqxd leaves the mode as it is (chmod 700 {} to restrict it)",
        dir, st.st_mode & 07777, dir);
  }
}

// API keys from api_key.bootstrap_file: read (and checked) at start even when the API is
// off, so that a bad file is found before it is needed; throws naming the file and line.
std::vector<api::ApiKey> take_api_keys(const config::Config& cfg) {
  if (cfg.api_key_bootstrap_file.empty()) return {};
  auto keys = api::load_api_keys(cfg.api_key_bootstrap_file);
  for (const auto& k : keys) {
    if (k.credentials.username() == cfg.dashboard_default_username) {
      throw std::runtime_error("api_key.bootstrap_file: " + cfg.api_key_bootstrap_file + ": key '" +
                               k.credentials.username() +
                               "' is also the dashboard user (dashboard.default_username)");
    }
  }
  return keys;
}

// A pool of keep-alive connections (TLS for https) per outside HTTP service of the config,
// by the key of its entry. A TLS file that cannot be used stops start-up, naming the key.
std::map<std::string, std::unique_ptr<api::HttpPool>> make_http_pools(const config::Config& cfg) {
  std::map<std::string, std::unique_ptr<api::HttpPool>> pools;
  for (auto& b : auth::http_backends(cfg)) {
    api::HttpPool::Options o;
    o.key = b.key;
    o.host = b.url.host;
    o.port = b.url.port;
    o.tls = b.url.tls;
    o.ssl = b.ssl;
    o.pool_size = b.pool_size;
    o.connect_timeout = b.connect_timeout;
    if (o.tls && !o.ssl.enable) {
      logger()->warn(
          "{}: https without ssl.enable = true: the server's certificate is not "
          "checked (as EMQX does)",
          b.key);
    }
    pools.emplace(b.key, std::make_unique<api::HttpPool>(std::move(o)));
  }
  return pools;
}

// One request of the auth library or a connector on `pool` (none: a connection of its own).
auth::HttpAnswer call_http(api::HttpPool* pool, const auth::HttpCall& q) {
  api::ClientRequest r;
  r.host = q.host;
  r.port = q.port;
  r.method = q.method;
  r.target = q.target;
  r.headers = q.headers;
  if (!q.content_type.empty()) r.content_type = q.content_type;
  r.body = q.body;
  r.timeout = q.timeout;
  r.user_agent = "emqxd";
  auto a = pool != nullptr ? pool->call(r) : api::http_call(r);
  return auth::HttpAnswer{a.reached, std::move(a.error), a.status, std::move(a.content_type),
                          std::move(a.body)};
}

}  // namespace

struct Node::Impl {
  explicit Impl(config::Config cfg)
      : api_credentials(take_api_credentials(cfg, default_api_password)),
        api_keys(take_api_keys(cfg)),
        http_pools(make_http_pools(cfg)),
        state(std::move(cfg), http_client()) {}

  // The auth library's HttpClient: each request on its backend's pool.
  auth::HttpClient http_client() {
    return [this](const auth::HttpCall& q) {
      auto pool = http_pools.find(q.backend);
      return call_http(pool != http_pools.end() ? pool->second.get() : nullptr, q);
    };
  }

  // The http connectors' pools (connectors/http.hpp): one per connector, shared by its
  // actions, with the connector's URL, TLS and pool size.
  static connectors::HttpFactory connector_http() {
    return [](const config::ConnectorConfig& c) -> connectors::HttpSend {
      auto url = auth::split_http_url(c.url, "connectors.http." + c.name);
      api::HttpPool::Options o;
      o.key = "connectors.http." + c.name;
      o.host = url.host;
      o.port = url.port;
      o.tls = url.tls;
      o.ssl = c.ssl;
      o.pool_size = c.pool_size;
      o.connect_timeout = c.connect_timeout;
      auto pool = std::make_shared<api::HttpPool>(std::move(o));
      return [pool](const auth::HttpCall& q) { return call_http(pool.get(), q); };
    };
  }

  // The etcd and k8s discovery strategies' HTTP client: a small pool per server, made at
  // its first request with that request's TLS settings.
  cluster::DiscoveryHttp discovery_http() {
    return [this](const cluster::DiscoveryHttpRequest& q) -> cluster::DiscoveryHttpAnswer {
      DiscoveryServer* server = nullptr;
      {
        std::lock_guard lock(discovery_pools_mutex);
        auto& s = discovery_pools[q.origin];
        if (!s.pool) {
          try {
            s.url = auth::split_http_url(q.origin, "cluster.discovery_strategy");
            api::HttpPool::Options o;
            o.key = "cluster." + state.config.cluster.discovery_strategy;
            o.host = s.url.host;
            o.port = s.url.port;
            o.tls = s.url.tls;
            o.ssl = q.ssl;
            o.pool_size = 2;
            o.connect_timeout = q.timeout;
            s.pool = std::make_unique<api::HttpPool>(std::move(o));
          } catch (const std::exception& e) {
            discovery_pools.erase(q.origin);
            return {false, e.what(), 0, {}};
          }
        }
        server = &s;
      }
      api::ClientRequest r;
      r.host = server->url.host;
      r.port = server->url.port;
      r.method = q.method;
      r.target = q.target;
      r.headers = q.headers;
      r.body = q.body;
      r.timeout = q.timeout;
      r.user_agent = "emqxd";
      auto a = server->pool->call(r);
      return {a.reached, std::move(a.error), a.status, std::move(a.body)};
    };
  }

  // Sources' messages (connectors/mqtt.hpp) to the workers' rules, by topic so that one
  // topic keeps its order; at most kMaxSourceBacklog waiting, the rest dropped (and
  // counted), so that a fast remote broker cannot queue without bound. Closed before the
  // workers go.
  struct SourceGate {
    std::mutex mutex;
    bool open = true;                       // guarded by mutex
    std::atomic<std::uint64_t> waiting{0};  // posted, not yet run
    std::atomic<std::uint64_t> dropped{0};
  };
  static constexpr std::uint64_t kMaxSourceBacklog = 100'000;
  std::shared_ptr<SourceGate> source_gate = std::make_shared<SourceGate>();

  connectors::ConnectorFactory connector_factory(const std::string& node) {
    connectors::Services s;
    s.http = connector_http();
    s.node = node;
    s.sink = [this, gate = source_gate](const std::string& hookpoint, boost::json::object c) {
      std::lock_guard lock(gate->mutex);
      if (!gate->open || workers.empty()) return;
      if (gate->waiting.load(std::memory_order_relaxed) >= kMaxSourceBacklog) {
        if (gate->dropped.fetch_add(1, std::memory_order_relaxed) % 10'000 == 0)
          logger()->warn("{}: the rules lag; messages from sources dropped", hookpoint);
        return;
      }
      const boost::json::value* t = c.if_contains("topic");
      const std::size_t lane = std::hash<std::string_view>{}(t != nullptr && t->is_string()
                                                                 ? std::string_view(t->get_string())
                                                                 : std::string_view(hookpoint));
      net::Worker* w = workers[lane % workers.size()].get();
      gate->waiting.fetch_add(1, std::memory_order_relaxed);
      w->post([core = &w->core(), gate, hookpoint, c = std::move(c)]() mutable {
        gate->waiting.fetch_sub(1, std::memory_order_relaxed);
        core->rule_source(hookpoint, std::move(c));
      });
    };
    return [s](const config::ConnectorConfig& c) { return connectors::make_connector(c, s); };
  }

  // The cluster's view of this node (ClusterHooks): everything it asks runs on the
  // workers, reached by posts.
  cluster::ClusterHooks cluster_hooks() {
    cluster::ClusterHooks h;
    h.discovery_http = discovery_http();
    h.broker = &state.broker;
    h.dispatch = [this](std::uint32_t lane, std::vector<broker::ForwardItem>&& items,
                        broker::PeerReport report) {
      net::Worker* w = workers[lane % workers.size()].get();
      w->post([core = &w->core(), lane, items = std::move(items),
               report = std::move(report)]() mutable {
        core->from_peer(lane, std::move(items), std::move(report));
      });
    };
    h.retained = [this](std::vector<mqtt::MessagePtr>& out) {
      state.retainer.for_each([&](const mqtt::MessagePtr& m) {
        if (!m->topic.starts_with("$SYS/")) out.push_back(m);
      });
    };
    h.takeover = [this](const std::string& client_id, bool clean_start, broker::NodeIndex to) {
      cluster::rpc::TakeoverReply reply;
      session::SessionRegistry::Entry e;
      {
        std::lock_guard lock(state.registry.mutex);
        auto it = state.registry.entries.find(client_id);
        if (it == state.registry.entries.end()) return reply;
        e = it->second;
      }
      auto done = std::make_shared<std::promise<cluster::rpc::TakeoverReply>>();
      auto result = done->get_future();
      net::Worker* w = workers[e.worker].get();
      w->post([core = &w->core(), done, sid = e.session, clean_start, to] {
        cluster::rpc::TakeoverReply r;
        r.session = core->sessions().hand_over(sid, clean_start, to, r.found);
        done->set_value(std::move(r));
      });
      if (result.wait_for(std::chrono::seconds(3)) != std::future_status::ready) return reply;
      return result.get();
    };
    h.local_client_ids = [this] {
      std::vector<std::string> ids;
      std::lock_guard lock(state.registry.mutex);
      ids.reserve(state.registry.entries.size());
      for (const auto& [id, e] : state.registry.entries)
        ids.push_back(id);
      return ids;
    };
    h.tables = state.tables.get();
    h.exclusive = &state.exclusive;
    h.query = [this](const std::string& name, const std::string& args) {
      return node_ops->answer(name, args);
    };
    h.revoke = [this](const std::string& client_id) {
      for (auto& w : workers) {
        w->post([core = &w->core(), client_id] { core->sessions().revoke(client_id); });
      }
    };
    return h;
  }

  ~Impl() {
    {
      std::lock_guard lock(source_gate->mutex);
      source_gate->open = false;  // the workers go before the connectors
    }
    // The store's last completions post to the workers: it goes first.
    state.store.reset();
  }

  bool default_api_password = false;
  std::optional<api::Credentials> api_credentials;  // when the HTTP API is enabled
  std::vector<api::ApiKey> api_keys;                // moved to the router when it is made
  // Before the state: the authentication chain (its JWKS threads) and authorization use them.
  std::map<std::string, std::unique_ptr<api::HttpPool>> http_pools;
  session::NodeState state;
  // The workers by id, and the same as plain pointers for the workers' Scheduler. Declared
  // after the state they use, so destroyed before it.
  std::vector<std::unique_ptr<net::Worker>> workers;
  std::vector<net::Worker*> worker_ptrs;
  // Node evacuation (net/evacuation.hpp): after the workers it posts to.
  std::unique_ptr<net::Evacuation> evacuation;
  // The gauges' peaks (EMQX's "<stat>.max"): read by the API, $SYS and the alarms' watch.
  net::StatPeaks peaks;
  // The node's alarms (api/alarms.hpp): before the operations and the cluster that read them.
  std::unique_ptr<api::Alarms> alarms;
  // The HTTP API's operations on this node, for its own API and its peers' (api/node_ops.hpp).
  std::unique_ptr<api::NodeOps> node_ops;
  // The discovery strategies' connections (discovery_http()): before the cluster, which
  // uses them until it stops.
  struct DiscoveryServer {
    auth::HttpUrl url;
    std::unique_ptr<api::HttpPool> pool;
  };
  std::mutex discovery_pools_mutex;
  std::map<std::string, DiscoveryServer> discovery_pools;  // by origin; entries stay put
  std::unique_ptr<cluster::Cluster> cluster;
  std::unique_ptr<SysTopics> sys_topics;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  // gateway.mqttsn (gateways/mqttsn/gateway.hpp): after the workers its connections live
  // on, so destroyed before them.
  std::unique_ptr<gateways::UdpListeners> mqttsn;
  std::unique_ptr<gateways::stomp::Gateway> stomp;          // gateway.stomp, likewise
  std::unique_ptr<gateways::UdpListeners> coap;             // gateway.coap, likewise
  std::unique_ptr<gateways::UdpListeners> lwm2m;            // gateway.lwm2m, likewise
  std::unique_ptr<gateways::zmq::Bridge> zmq;               // gateway.zmq, likewise
  std::vector<std::unique_ptr<gateways::nng::Bridge>> nng;  // bridges.nng.<kind>.<name>
  // The alarms' watch (app/sysmon.hpp): after the listeners and the cluster it reads, so
  // destroyed before them.
  std::unique_ptr<SysMon> sysmon;
  std::unique_ptr<api::Router> api_router;
  std::unique_ptr<api::ApiServer> api_server;  // after the router: stopped before it goes
  // bcrypt and pbkdf2 checks (NodeState::offload): after the workers its answers are posted
  // to, so stopped and destroyed before them.
  std::unique_ptr<common::BlockingPool> auth_pool;
  std::atomic<bool> kick_scheduled{false};  // a round of kick_banned is on its way
  bool started = false;
  bool stopped = false;
};

Node::Node(config::Config cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  const auto& c = impl_->state.config;
  unsigned threads = c.node.io_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  if (c.durable_sessions.enable) {
    prepare_data_dir(c.node.data_dir);
    storage::RocksStoreOptions o;
    o.path = c.node.data_dir + "/rocksdb";
    o.sync = c.durable_sessions.sync;
    o.write_buffer_size = c.durable_storage.write_buffer_size;
    o.block_cache_size = c.durable_storage.block_cache_size;
    impl_->state.store = std::make_unique<storage::RocksStore>(o);  // throws naming the path
    impl_->state.durable = true;
  } else {
    impl_->state.store = std::make_unique<storage::MemoryStore>();
  }
  impl_->state.tables =
      std::make_unique<tables::ReplicatedTables>(impl_->state.store.get(), c.node.name);
  auth::Authentication::declare_tables(*impl_->state.tables);
  impl_->state.banned.attach(*impl_->state.tables);
  impl_->state.traces.attach(*impl_->state.tables);
  impl_->state.topic_metrics.attach(*impl_->state.tables);
  impl_->state.rules.attach(*impl_->state.tables);
  impl_->state.integrations = std::make_unique<connectors::Integrations>(
      c.node.data_dir + "/bufs", impl_->connector_factory(c.node.name));
  impl_->state.integrations->attach(*impl_->state.tables);
  impl_->state.slow_subs.attach(*impl_->state.tables);
  auth::BuiltinRules::declare(*impl_->state.tables);
  api::Admins::declare(*impl_->state.tables);
  if (auto* rules = impl_->state.authorization.builtin_rules()) rules->attach(*impl_->state.tables);
  // The authentication chain: bootstrap files and keys are read now (a bad one stops
  // start-up, naming it).
  impl_->state.authentication =
      auth::Authentication::from_config(c, impl_->http_client(), impl_->state.tables.get());
  if (impl_->state.authentication->blocking() || impl_->state.authorization.has_remote() ||
      impl_->state.authorization.fetches() || c.mqtt.exclusive_subscription) {
    // bcrypt and pbkdf2 want cores; http and database backends, the http authorization
    // source and the database sources want one thread per request in flight; exclusive
    // subscriptions ask their claims' homes in a cluster (session/worker_exclusive.cpp).
    std::size_t io =
        impl_->state.authentication->concurrency() + impl_->state.authorization.concurrency();
    for (const auto& s : c.authorization.sources) {
      if (s.enable && s.type == "http") io += s.http.pool_size;
    }
    const std::size_t n = std::max<std::size_t>({1, std::thread::hardware_concurrency() / 2, io});
    impl_->auth_pool = std::make_unique<common::BlockingPool>(n, 10'000, "emqxd-auth");
    impl_->state.offload = [pool = impl_->auth_pool.get()](common::Task t) {
      return pool->submit(std::move(t));
    };
  }
  // After the store: each worker's core decides at birth whether it records (durable).
  auto& im = *impl_;
  for (unsigned i = 0; i < threads; ++i) {
    im.workers.push_back(std::make_unique<net::Worker>(i, im.state, im.worker_ptrs));
    im.worker_ptrs.push_back(im.workers.back().get());
    im.state.cores.push_back(&im.workers.back()->core());
  }
  im.node_ops = std::make_unique<api::NodeOps>(im.state, im.worker_ptrs, EMQXD_VERSION, &im.peaks);
  api::add_topic_stats_ops(*im.node_ops, im.state);
  im.evacuation = std::make_unique<net::Evacuation>(im.state, im.worker_ptrs);
  api::add_rebalance_ops(*im.node_ops, *im.evacuation);
  api::add_rules_ops(*im.node_ops, im.state);
  api::add_connectors_ops(*im.node_ops, im.state);
  api::add_gateway_ops(*im.node_ops, im.state.config, [ip = &im](std::string_view gateway) {
    std::vector<api::GatewayListenerStatus> out;
    if (gateway == "mqttsn" && ip->mqttsn) {
      for (const auto& l : ip->mqttsn->info())
        out.push_back({l.type, l.name, l.bind, l.running, l.connections, l.max_connections});
    }
    if (gateway == "nng") {
      for (const auto& b : ip->nng) {
        const auto st = b->stats();
        const auto& bc = b->config();
        out.push_back({bc.kind, bc.name, bc.url, st.running, st.running ? 1u : 0u, 1});
      }
    }
    if (gateway == "zmq" && ip->zmq) {
      const auto st = ip->zmq->stats();
      const auto& z = ip->state.config.gateway_zmq;
      out.push_back({"zmq", "bridge", z.sub_address.empty() ? z.pub_address : z.sub_address,
                     st.running, st.running ? 1u : 0u, 1});
    }
    if (gateway == "coap" && ip->coap) {
      for (const auto& l : ip->coap->info())
        out.push_back({l.type, l.name, l.bind, l.running, l.connections, l.max_connections});
    }
    if (gateway == "lwm2m" && ip->lwm2m) {
      for (const auto& l : ip->lwm2m->info())
        out.push_back({l.type, l.name, l.bind, l.running, l.connections, l.max_connections});
    }
    if (gateway == "stomp" && ip->stomp) {
      for (const auto& l : ip->stomp->listeners()) {
        // "stomp:tcp:default"
        const std::string id = l->name().substr(l->name().find(':') + 1);
        const auto colon = id.find(':');
        out.push_back({id.substr(0, colon), id.substr(colon + 1), l->address(), l->running(),
                       l->connections(), l->max_connections()});
      }
    }
    return out;
  });
  {
    const auto& a = im.state.config.alarm;
    im.alarms =
        std::make_unique<api::Alarms>(api::Alarms::Options{a.log, a.size_limit, a.validity_period});
    if (a.publish) {
      // $SYS/brokers/<node>/alarms/activate|deactivate, JSON, as EMQX publishes them.
      im.alarms->set_publish([n = &im](const std::string& sub, std::string payload) {
        auto msg = std::make_shared<mqtt::Message>();
        msg->topic = "$SYS/brokers/" + n->state.config.node.name + "/" + sub;
        msg->payload = std::move(payload);
        auto extra = std::make_shared<mqtt::MessageExtra>();
        extra->content_type = "application/json";
        msg->extra = std::move(extra);
        msg->received_at = mqtt::Message::Clock::now();
        auto* w = n->workers[0].get();
        w->post([core = &w->core(), msg] { core->publish(msg, {}); });
      });
    }
  }
  // Before the cluster starts: peers may ask for this node's alarms and sample at once.
  im.node_ops->set_monitor({im.alarms.get(), [p = &im, cpu = std::make_shared<proc::CpuUse>()] {
                              return api::prom::local_sample(p->state, *p->cluster, p->peaks, *cpu);
                            }});
  // Before the sessions are restored: their subscriptions are routes the peers must learn.
  impl_->cluster = std::make_unique<cluster::Cluster>(impl_->state.config, impl_->cluster_hooks());
  impl_->state.broker.set_route_sink(impl_->cluster.get());
  impl_->state.forwarder = impl_->cluster.get();
  impl_->state.directory = impl_->cluster.get();
}

Node::~Node() {
  shutdown();
}

void Node::start_serving() {
  impl_->cluster->start();  // throws naming cluster.rpc.bind
  for (auto& l : impl_->listeners) {
    l->start();
    logger()->info("listener {} on {}", l->name(), l->address());
  }
  if (impl_->mqttsn) impl_->mqttsn->start();
  if (impl_->stomp) impl_->stomp->start();
  if (impl_->coap) impl_->coap->start();
  if (impl_->lwm2m) impl_->lwm2m->start();
  if (impl_->zmq) impl_->zmq->start();
  for (auto& b : impl_->nng)
    b->start();
  if (impl_->api_server) {
    impl_->api_server->start();
    logger()->info("listener http:dashboard on {}", impl_->api_server->address());
    if (impl_->default_api_password) {
      logger()->warn(
          "dashboard.default_password is still the default \"public\": the HTTP API on port {} "
          "takes it from this machine only (loopback clients), and refuses user {} from "
          "elsewhere; set dashboard.default_password or EMQX_DASHBOARD__DEFAULT_PASSWORD",
          impl_->api_server->port(), impl_->api_credentials->username());
    }
  } else {
    logger()->info("HTTP API disabled (dashboard.listeners.http)");
  }
}

void Node::start() {
  auto& s = impl_->state;
  if (s.durable) {
    auto t0 = std::chrono::steady_clock::now();
    auto sum = session::restore(s);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    logger()->info(
        "storage {}/rocksdb (sync={}): read {} sessions, {} subscriptions, {} messages, "
        "{} retained in {} ms; erased {} expired and {} orphaned records; {} unreadable",
        s.config.node.data_dir, s.config.durable_sessions.sync, sum.sessions, sum.subscriptions,
        sum.deliveries, sum.retained, ms, sum.erased, sum.orphans, sum.corrupt);
    if (const auto n = session::restore_delayed(s); n != 0) {
      logger()->info("storage: {} delayed messages read back", n);
    }
  }
  {
    const std::size_t entries = s.tables->load();
    const std::size_t imported = s.authentication->import_bootstrap();
    logger()->info("replicated tables: {} entries read; {} bootstrap users added", entries,
                   imported);
    s.traces.start();  // the traces defined: running ones open their files now
    s.topic_metrics.seed(s.config.topic_metrics);
    {
      std::vector<std::pair<std::string, boost::json::object>> rules;
      for (const auto& [id, text] : s.config.rule_engine.rules)
        rules.emplace_back(id, boost::json::parse(text).as_object());
      s.integrations->seed(s.config.connectors, s.config.actions, s.config.sources,
                           s.config.node.name);
      s.rules.seed(rules, s.config.node.name);
      logger()->info("rule engine: {} rules ({} in the config file)", s.rules.size(), rules.size());
    }
    // From now on (nobody is connected yet), a ban kicks whoever it names, on every worker.
    // Bans arriving together (a peer's snapshot) make one round: the flag is cleared on
    // worker 0 before the round starts, so a ban after it schedules another.
    s.banned.on_ban([im = impl_.get()] {
      if (im->kick_scheduled.exchange(true)) return;
      im->workers[0]->post([im] {
        im->kick_scheduled.store(false);
        for (auto& w : im->workers)
          w->post([core = &w->core()] { core->kick_banned(); });
      });
    });
  }
  // The gateways bind first: a port of theirs that is taken stops start-up before any MQTT
  // port has opened (a client could otherwise reach a node that is about to exit).
  if (const auto& sn = s.config.gateway_mqttsn; sn.common.configured && sn.common.enable) {
    impl_->mqttsn = gateways::mqttsn::listen(sn, impl_->worker_ptrs);
  }
  if (const auto& st = s.config.gateway_stomp; st.common.configured && st.common.enable) {
    impl_->stomp = std::make_unique<gateways::stomp::Gateway>(st, impl_->worker_ptrs);
  }
  if (const auto& co = s.config.gateway_coap; co.common.configured && co.common.enable) {
    impl_->coap = gateways::coap::listen(co, impl_->worker_ptrs);
  }
  if (const auto& lw = s.config.gateway_lwm2m; lw.common.configured && lw.common.enable) {
    impl_->lwm2m = gateways::lwm2m::listen(lw, impl_->worker_ptrs);
  }
  if (const auto& z = s.config.gateway_zmq; z.configured && z.enable) {
    impl_->zmq = std::make_unique<gateways::zmq::Bridge>(z, impl_->worker_ptrs);
  }
  for (const auto& b : s.config.bridges_nng) {
    if (!b.enable) continue;
    auto* w = impl_->worker_ptrs.at(impl_->nng.size() % impl_->worker_ptrs.size());
    impl_->nng.push_back(std::make_unique<gateways::nng::Bridge>(b, *w));
  }
  for (const auto& l : s.config.listeners) {
    impl_->listeners.push_back(std::make_unique<net::Listener>(l, impl_->worker_ptrs));
  }
  impl_->node_ops->set_listeners(&impl_->listeners);  // complete: never changed again
  if (s.config.dashboard_http_enable) {
    api::RouterOptions ro;
    ro.monitor.alarms = impl_->alarms.get();
    ro.monitor.peaks = &impl_->peaks;
    if (!s.config.prometheus.enable_basic_auth) {
      ro.open_paths.push_back("/api/v5/prometheus/stats");
      ro.open_paths.push_back("/api/v5/prometheus/data_integration");
    }
    ro.default_password = impl_->default_api_password;
    ro.api_docs = s.config.dashboard_swagger_support;
    ro.login.max_attempts = s.config.dashboard_login_max_attempts;
    ro.login.lock_duration = s.config.dashboard_login_lock_duration;
    ro.login.interval = s.config.dashboard_login_interval;
    ro.token_life = s.config.dashboard_token_life;
    if (!impl_->api_keys.empty()) {
      auto viewers =
          std::count_if(impl_->api_keys.begin(), impl_->api_keys.end(),
                        [](const api::ApiKey& k) { return k.role == api::Role::Viewer; });
      logger()->info("HTTP API: {} API keys from {} ({} viewer)", impl_->api_keys.size(),
                     s.config.api_key_bootstrap_file, viewers);
    }
    ro.api_keys = std::move(impl_->api_keys);
    impl_->api_router =
        std::make_unique<api::Router>(s, *impl_->api_credentials, *impl_->cluster, ro);
    api::ServerOptions o;
    o.bind = s.config.dashboard_http_bind;
    impl_->api_server = std::make_unique<api::ApiServer>(
        o, [router = impl_->api_router.get()](const api::Request& r) { return router->handle(r); });
  }
  for (auto& w : impl_->workers)
    w->start();
  try {
    start_serving();
  } catch (...) {
    // A port taken (cluster.rpc.bind, the API's bind) ends start-up: nothing may be left
    // running, or ~Node would wait on worker threads nobody stopped.
    if (impl_->api_server) impl_->api_server->stop();
    for (auto& l : impl_->listeners)
      l->stop();
    if (impl_->mqttsn) impl_->mqttsn->stop();
    if (impl_->stomp) impl_->stomp->stop();
    if (impl_->coap) impl_->coap->stop();
    if (impl_->lwm2m) impl_->lwm2m->stop();
    if (impl_->zmq) impl_->zmq->stop();
    for (auto& b : impl_->nng)
      b->stop();
    impl_->cluster->stop();
    for (auto& w : impl_->workers)
      w->stop();
    for (auto& w : impl_->workers)
      w->join();
    throw;
  }
  if (s.authentication->empty()) {
    logger()->warn(
        "no authentication configured: anonymous clients are allowed (as EMQX's default)");
  } else {
    for (const auto& a : s.config.authentication) {
      if (!a.enable) continue;
      logger()->info("authentication: {} {}{}{}", a.key, a.mechanism, a.backend.empty() ? "" : " ",
                     a.backend);
    }
  }
  if (s.authorization.source_count() == 0) {
    logger()->info("authorization: no sources: {}", s.config.authorization.no_match == "deny"
                                                        ? "every publish and subscribe is denied"
                                                        : "every client may publish and "
                                                          "subscribe anywhere");
  } else {
    logger()->info("authorization: {} source(s), no_match = {}, deny_action = {}",
                   s.authorization.source_count(), s.config.authorization.no_match,
                   s.config.authorization.deny_action);
  }

  impl_->sys_topics =
      std::make_unique<SysTopics>(s, impl_->workers[0]->core(), *impl_->cluster, impl_->peaks);
  impl_->sys_topics->start();
  impl_->sysmon =
      std::make_unique<SysMon>(s, *impl_->alarms, impl_->peaks, *impl_->cluster, impl_->listeners);
  impl_->sysmon->start();
  impl_->started = true;
  logger()->info("emqxd {} node {} started with {} workers", EMQXD_VERSION, s.config.node.name,
                 impl_->workers.size());
  trim_resident_memory();  // what start-up touched once (common/resident.hpp)
}

void Node::block_shutdown_signals() {
  // Blocked in the main thread before any thread starts, so every thread inherits the
  // mask and a SIGTERM that arrives at any moment, even during start-up, waits for
  // run_until_signal() instead of killing the process.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

void Node::run_until_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  logger()->info("signal {} received; shutting down", sig);
  shutdown();
}

void Node::shutdown() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  auto& s = impl_->state;
  s.shutting_down = true;
  // The API first: nothing asks the node anything while it winds down; then the watch,
  // which asks the cluster and publishes to the workers.
  if (impl_->api_server) impl_->api_server->stop();
  if (impl_->sysmon) impl_->sysmon->stop();
  for (auto& l : impl_->listeners)
    l->stop();
  if (impl_->mqttsn) impl_->mqttsn->stop();
  if (impl_->stomp) impl_->stomp->stop();
  if (impl_->coap) impl_->coap->stop();
  if (impl_->lwm2m) impl_->lwm2m->stop();
  if (impl_->zmq) impl_->zmq->stop();
  for (auto& b : impl_->nng)
    b->stop();

  // Runs `f` on every worker and waits for all of them.
  auto on_all = [&](auto f) {
    std::vector<std::future<void>> done;
    for (auto& w : impl_->workers) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      w->post([p, f, wp = w.get()] {
        f(*wp);
        p->set_value();
      });
    }
    for (auto& d : done)
      d.wait_for(std::chrono::seconds(5));
  };
  // Phase one: sessions end with the process, so wills are published [MQTT-3.1.2-8];
  // give the deliveries a moment to reach subscribers that are still connected.
  on_all([](net::Worker& w) { w.publish_wills_for_shutdown(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  // The wills have gone to the peers too; nothing more leaves for or comes from them.
  impl_->cluster->stop();
  // Phase two: DISCONNECT 0x8B to MQTT 5 clients, then close.
  on_all([](net::Worker& w) { w.kick_all(mqtt::ReasonCode::ServerShuttingDown); });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (std::chrono::steady_clock::now() < deadline) {
    std::atomic<std::size_t> open{0};
    on_all([&open](net::Worker& w) { open += w.connection_count(); });
    if (open == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // What the last turns recorded (sessions going offline) is committed before the end.
  on_all([](net::Worker& w) { w.core().commit_batch(); });
  if (impl_->auth_pool) impl_->auth_pool->stop();  // its answers would go to stopped workers
  for (auto& w : impl_->workers)
    w->stop();
  for (auto& w : impl_->workers)
    w->join();
  s.traces.stop();
  s.store.reset();  // completes every commit, then closes the database
  logger()->info("stopped");
}

}  // namespace emqxd::app
