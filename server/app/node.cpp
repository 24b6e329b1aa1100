#include "app/node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <ctime>
#include <future>
#include <optional>
#include <thread>

#include "cluster/cluster.hpp"
#include "api/api_server.hpp"
#include "api/credentials.hpp"
#include "api/router.hpp"
#include "common/log.hpp"
#include "common/resident.hpp"
#include "net/listener.hpp"
#include "net/node_counters.hpp"
#include "net/node_state.hpp"
#include "net/restore.hpp"
#include "net/worker.hpp"
#include "storage/memory_store.hpp"
#include "storage/rocks_store.hpp"

#ifndef EMQXD_VERSION
#define EMQXD_VERSION "0.0.0"
#endif

namespace emqxd::app {

namespace asio = boost::asio;

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("node");
  return l;
}

std::string rfc3339_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// "messages.dropped.no_subscribers" -> "messages/dropped/no_subscribers": $SYS writes
// the levels of a counter's name as topic levels.
std::string sys_levels(std::string name) {
  std::replace(name.begin(), name.end(), '.', '/');
  return name;
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
}  // namespace

struct Node::Impl {
  explicit Impl(config::Config cfg)
      : api_credentials(take_api_credentials(cfg, default_api_password)), state(std::move(cfg)) {}

  // As EMQX: the fixed facts (version, sysdescr, the node list) are retained; uptime,
  // datetime, stats and metrics are not, so they never crowd the retained store.
  void publish_sys(const std::string& sub_topic, std::string payload, bool retain = false) {
    auto msg = std::make_shared<mqtt::Message>();
    msg->topic = "$SYS/brokers";
    if (!sub_topic.empty()) msg->topic += "/" + state.config.node.name + "/" + sub_topic;
    msg->payload = std::move(payload);
    msg->retain = retain;
    msg->received_at = mqtt::Message::Clock::now();
    state.workers[0]->publish(msg, {});
  }

  void publish_heartbeat() {
    auto up = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - state.started)
                  .count();
    publish_sys("uptime", std::to_string(up));
    publish_sys("datetime", rfc3339_now());
  }

  void publish_stats() {
    state.retainer.expire(mqtt::Message::Clock::now());
    for (const auto& c : net::node_stats(state)) {
      publish_sys("stats/" + sys_levels(c.name), std::to_string(c.value));
    }
    for (const auto& c : net::node_metrics(state)) {
      publish_sys("metrics/" + sys_levels(c.name), std::to_string(c.value));
    }
    auto cs = cluster->stats();
    publish_sys("stats/cluster/nodes/count", std::to_string(cs.members));
    publish_sys("stats/cluster/routes/remote", std::to_string(state.broker.stats().remote_routes));
    publish_sys("stats/cluster/forward/queued", std::to_string(cs.forward_queued));
    publish_sys("metrics/cluster/forward/sent", std::to_string(cs.forward_sent));
    publish_sys("metrics/cluster/forward/received", std::to_string(cs.forward_received));
    publish_sys("metrics/cluster/forward/dropped", std::to_string(cs.forward_dropped));
    publish_sys("metrics/cluster/session/takeover_in", std::to_string(cs.takeovers_in));
    publish_sys("metrics/cluster/session/takeover_out", std::to_string(cs.takeovers_out));
  }

  void schedule(std::shared_ptr<asio::steady_timer> timer, std::chrono::milliseconds every,
                void (Impl::*what)()) {
    timer->expires_after(every);
    timer->async_wait([this, timer, every, what](const boost::system::error_code& ec) {
      if (ec || state.shutting_down) return;
      (this->*what)();
      schedule(timer, every, what);
    });
  }

  // The cluster's view of this node (ClusterHooks): everything it asks runs on the
  // workers, reached by posts.
  cluster::ClusterHooks cluster_hooks() {
    cluster::ClusterHooks h;
    h.broker = &state.broker;
    h.dispatch = [this](std::uint32_t lane, std::vector<broker::ForwardItem>&& items,
                        broker::PeerReport report) {
      state.workers[lane % state.workers.size()]->post_from_peer(lane, std::move(items),
                                                                 std::move(report));
    };
    h.retained = [this](std::vector<mqtt::MessagePtr>& out) {
      state.retainer.for_each([&](const mqtt::MessagePtr& m) {
        if (!m->topic.starts_with("$SYS/")) out.push_back(m);
      });
    };
    h.takeover = [this](const std::string& client_id, bool clean_start, broker::NodeIndex to) {
      cluster::rpc::TakeoverReply reply;
      net::SessionRegistry::Entry e;
      {
        std::lock_guard lock(state.registry.mutex);
        auto it = state.registry.entries.find(client_id);
        if (it == state.registry.entries.end()) return reply;
        e = it->second;
      }
      auto done = std::make_shared<std::promise<cluster::rpc::TakeoverReply>>();
      auto result = done->get_future();
      net::Worker* w = state.workers[e.worker].get();
      w->post([w, done, sid = e.session, clean_start, to] {
        cluster::rpc::TakeoverReply r;
        r.session = w->hand_over(sid, clean_start, to, r.found);
        done->set_value(std::move(r));
      });
      if (result.wait_for(std::chrono::seconds(3)) != std::future_status::ready) return reply;
      return result.get();
    };
    h.local_client_ids = [this] {
      std::vector<std::string> ids;
      std::lock_guard lock(state.registry.mutex);
      ids.reserve(state.registry.entries.size());
      for (const auto& [id, e] : state.registry.entries) ids.push_back(id);
      return ids;
    };
    h.revoke = [this](const std::string& client_id) {
      for (auto& w : state.workers) {
        net::Worker* wp = w.get();
        wp->post([wp, client_id] { wp->revoke(client_id); });
      }
    };
    return h;
  }

  bool default_api_password = false;
  std::optional<api::Credentials> api_credentials;  // when the HTTP API is enabled
  net::NodeState state;
  std::unique_ptr<cluster::Cluster> cluster;
  std::vector<std::unique_ptr<net::Listener>> listeners;
  std::unique_ptr<api::Router> api_router;
  std::unique_ptr<api::ApiServer> api_server;  // after the router: stopped before it goes
  bool started = false;
  bool stopped = false;
};

Node::Node(config::Config cfg) : impl_(std::make_unique<Impl>(std::move(cfg))) {
  const auto& c = impl_->state.config;
  unsigned threads = c.node.io_threads;
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) {
    impl_->state.workers.push_back(std::make_unique<net::Worker>(i, impl_->state));
  }
  if (c.durable_sessions.enable) {
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
  // Before the sessions are restored: their subscriptions are routes the peers must learn.
  impl_->cluster = std::make_unique<cluster::Cluster>(impl_->state.config, impl_->cluster_hooks());
  impl_->state.broker.set_route_sink(impl_->cluster.get());
  impl_->state.forwarder = impl_->cluster.get();
  impl_->state.directory = impl_->cluster.get();
}

Node::~Node() { shutdown(); }

void Node::start() {
  auto& s = impl_->state;
  if (s.durable) {
    auto t0 = std::chrono::steady_clock::now();
    auto sum = net::restore(s);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0).count();
    logger()->info(
        "storage {}/rocksdb (sync={}): read {} sessions, {} subscriptions, {} messages, "
        "{} retained in {} ms; erased {} expired and {} orphaned records; {} unreadable",
        s.config.node.data_dir, s.config.durable_sessions.sync, sum.sessions,
        sum.subscriptions, sum.deliveries, sum.retained, ms, sum.erased, sum.orphans,
        sum.corrupt);
  }
  std::vector<net::Worker*> workers;
  for (auto& w : s.workers) workers.push_back(w.get());
  for (const auto& l : s.config.listeners) {
    impl_->listeners.push_back(std::make_unique<net::Listener>(l, workers));
  }
  if (s.config.dashboard_http_enable) {
    impl_->api_router =
        std::make_unique<api::Router>(s, *impl_->api_credentials, *impl_->cluster);
    api::ServerOptions o;
    o.bind = s.config.dashboard_http_bind;
    impl_->api_server = std::make_unique<api::ApiServer>(
        o, [router = impl_->api_router.get()](const api::Request& r) { return router->handle(r); });
  }
  for (auto& w : s.workers) w->start();
  impl_->cluster->start();  // throws naming cluster.rpc.bind
  for (auto& l : impl_->listeners) {
    l->start();
    logger()->info("listener {} on {}", l->name(), l->address());
  }
  if (impl_->api_server) {
    impl_->api_server->start();
    logger()->info("listener http:dashboard on {}", impl_->api_server->address());
    if (impl_->default_api_password) {
      logger()->warn(
          "dashboard.default_password is still the default \"public\": anyone who reaches port "
          "{} can use the HTTP API as {}; set dashboard.default_password or "
          "EMQX_DASHBOARD__DEFAULT_PASSWORD",
          impl_->api_server->port(), impl_->api_credentials->username());
    }
  } else {
    logger()->info("HTTP API disabled (dashboard.listeners.http)");
  }
  logger()->warn(
      "no authentication configured: anonymous clients are allowed (as EMQX's default)");

  auto& w0 = *s.workers[0];
  asio::post(w0.io(), [this] {
    impl_->publish_sys("", impl_->state.config.node.name, true);
    impl_->publish_sys("version", EMQXD_VERSION, true);
    impl_->publish_sys("sysdescr", "emqxd", true);
    impl_->publish_heartbeat();
    impl_->publish_stats();
  });
  if (s.config.sys_topics.sys_heartbeat_interval.count() > 0) {
    impl_->schedule(std::make_shared<asio::steady_timer>(w0.io()),
                    s.config.sys_topics.sys_heartbeat_interval, &Impl::publish_heartbeat);
  }
  if (s.config.sys_topics.sys_msg_interval.count() > 0) {
    impl_->schedule(std::make_shared<asio::steady_timer>(w0.io()),
                    s.config.sys_topics.sys_msg_interval, &Impl::publish_stats);
  }
  impl_->started = true;
  logger()->info("emqxd {} node {} started with {} workers", EMQXD_VERSION, s.config.node.name,
                 s.workers.size());
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
  // The API first: nothing asks the node anything while it winds down.
  if (impl_->api_server) impl_->api_server->stop();
  for (auto& l : impl_->listeners) l->stop();

  // Runs `f` on every worker and waits for all of them.
  auto on_all = [&](auto f) {
    std::vector<std::future<void>> done;
    for (auto& w : s.workers) {
      auto p = std::make_shared<std::promise<void>>();
      done.push_back(p->get_future());
      asio::post(w->io(), [p, f, wp = w.get()] {
        f(*wp);
        p->set_value();
      });
    }
    for (auto& d : done) d.wait_for(std::chrono::seconds(5));
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
  on_all([](net::Worker& w) { w.commit_batch(); });
  for (auto& w : s.workers) w->stop();
  for (auto& w : s.workers) w->join();
  s.store.reset();  // completes every commit, then closes the database
  logger()->info("stopped");
}

}  // namespace emqxd::app
