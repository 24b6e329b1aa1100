#pragma once
// NodeState: what every worker of a node shares. Read-mostly; each member says how it is
// protected. Built by app::Node, which owns it and outlives the workers. No threads and
// no Asio here: the workers (net::Worker) run a WorkerCore each, listed in `cores`.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "auth/authentication.hpp"
#include "auth/authorization.hpp"
#include "broker/broker.hpp"
#include "broker/retainer.hpp"
#include "common/task.hpp"
#include "config/config.hpp"
#include "connectors/integrations.hpp"
#include "rules/console.hpp"
#include "rules/engine.hpp"
#include "session/banned.hpp"
#include "session/connect_gate.hpp"
#include "session/delayed.hpp"
#include "session/exclusive.hpp"
#include "session/rewrite.hpp"
#include "session/session_state.hpp"
#include "session/slow_subs.hpp"
#include "session/topic_metrics.hpp"
#include "session/trace.hpp"
#include "storage/store.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::session {

class WorkerCore;

// Client id -> the session's home. Taken on CONNECT, disconnect and expiry only, never
// per message. `moving` marks a takeover in flight: nobody else may discard or take the
// session until the worker that started the takeover finishes it.
class SessionRegistry {
 public:
  struct Entry {
    std::uint64_t session = 0;
    std::uint32_t worker = 0;
    bool moving = false;
  };
  std::mutex mutex;
  std::unordered_map<std::string, Entry> entries;  // guarded by mutex
  // Deliveries that followed a session from its previous node and came before the session
  // itself (the takeover's answer and the link to the peer race): the session takes them
  // when it is installed. Dropped after a few seconds. Guarded by mutex.
  struct Early {
    mqtt::MessagePtr msg;
    std::shared_ptr<const broker::SessionTarget> target;
    std::chrono::steady_clock::time_point at{};
  };
  std::unordered_map<std::string, std::vector<Early>> early;
};

struct NodeState {
  // `http` sends the http authorization sources' requests (none: such a source throws).
  explicit NodeState(config::Config c, const auth::HttpClient& http = {});

  const config::Config config;
  broker::Broker broker;      // internally locked
  broker::Retainer retainer;  // internally locked
  // The authentication chain (empty: everyone is let in); set before the workers start.
  std::unique_ptr<const auth::Authentication> authentication;
  // Runs a task off the workers (a bcrypt or pbkdf2 check, an http request of
  // authentication or authorization; common/blocking_pool.hpp);
  // false when it is full. Not set: such work runs on the worker (tests).
  std::function<bool(common::Task)> offload;
  // authorization.*: the acl.conf files compiled at construction (a bad one throws
  // config::ConfigError) and the http sources; immutable, asked by every worker at once
  // (an http source only off the workers, through `offload`).
  const auth::Authorization authorization;
  SessionRegistry registry;
  // One per worker, indexed by worker id; fixed before the threads start.
  std::vector<WorkerCore*> cores;
  // Durable sessions and retained messages (storage/store.hpp); set before the workers
  // start. `durable` is false for durable_sessions.enable = false: nothing is recorded.
  // Declared after the workers: destroyed first, so that the store's last completions
  // still find their workers.
  std::unique_ptr<storage::Store> store;
  bool durable = false;
  // Users, banned clients and authorization rules that every node holds whole (tables/
  // replicated_tables.hpp); made with the store, loaded before the workers start.
  std::unique_ptr<tables::ReplicatedTables> tables;
  // The cluster (set before the workers start; null on a node with clustering off): takes
  // the messages matched by peers' routes.
  broker::Forwarder* forwarder = nullptr;
  // The cluster's session registry (same lifetime; null without clustering): a CONNECT is
  // first claimed there, so that a session held by another node is taken over.
  session::SessionDirectory* directory = nullptr;
  std::atomic<std::uint64_t> next_session_id{1};
  std::atomic<std::uint64_t> next_client_id{1};
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  std::atomic<bool> shutting_down{false};
  // Who may not connect, and who connects too often (session/banned.hpp).
  Banned banned;
  Flapping flapping{config.flapping_detect};
  // Log traces (session/trace.hpp): their definitions follow `tables`, the channels ask
  // its Tracer.
  TraceManager traces{config};
  // Topic metrics and slow subscriptions (session/topic_metrics.hpp, slow_subs.hpp):
  // internally locked; each worker reads the topics through its own View.
  TopicMetrics topic_metrics;
  SlowSubs slow_subs{config.slow_subs};
  // EMQX's modules: delayed publish (internally locked) and topic rewrite (immutable;
  // null when no rule is configured, so that the publish path pays one branch).
  Delayed delayed{config.delayed};
  const std::unique_ptr<const TopicRewrite> rewrite;
  // Exclusive subscriptions' claims (session/exclusive.hpp): internally locked.
  ExclusiveClaims exclusive;
  // Closed while the node is evacuated (session/connect_gate.hpp, net/evacuation.hpp).
  ConnectGate gate;
  // The rule engine (rules/engine.hpp): its rules follow `tables`; each worker runs them
  // through its own View (session/worker_rules.cpp). The console action's thread.
  rules::RuleEngine rules;
  rules::Console rule_console;
  // The connectors and actions the rules send to (connectors/integrations.hpp); set by
  // the node before the workers start (null in tests: connector actions are discarded).
  std::unique_ptr<connectors::Integrations> integrations;
};

}  // namespace emqxd::session
