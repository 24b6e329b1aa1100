#pragma once
// Integrations: the node's connectors, actions and sources (EMQX 5's data integration;
// docs/connectors.md): what the rules hand their outputs to, and what brings messages in
// for them.
//
// Definitions are the cluster's: the replicated tables "connectors", "actions" and
// "sources" (key "<type>:<name>", value the definition as JSON, read by
// config::read_connector / read_action / read_source), so that one made through any node's
// API runs on every node and survives restarts; the config file's are written into them at
// start-up where they differ (the file wins at restart, as EMQX's emqx.conf does). Each
// node runs its own connector (its pool or clients, its health checks), its own buffer
// workers for each action, and its connectors' sources.
//
// A change rebuilds what it touches: a connector and every action on it (its sources are
// handed over again), one action, or a connector's set of sources. What is replaced stops
// on a thread of its own (a buffer worker may be in the middle of a request), never on the
// thread that changed it.
//
// Threads: any; one mutex for the definitions, the running objects behind shared pointers
// (a rule's worker finds an action with one lock and no wait on any service).
#include <boost/json/object.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "connectors/action.hpp"
#include "connectors/resource.hpp"

namespace emqxd::tables {
class ReplicatedTables;
struct Entry;
}  // namespace emqxd::tables

namespace emqxd::connectors {

class Integrations {
 public:
  static constexpr std::string_view kConnectorsTable = "connectors";
  static constexpr std::string_view kActionsTable = "actions";
  static constexpr std::string_view kSourcesTable = "sources";
  static constexpr std::size_t kMaxEntries = 1024;

  // What a definition is: connectors.*, actions.* or sources.*.
  enum class Kind : std::uint8_t { Connector, Action, Source };

  // `buffer_root`: where actions with buffer_mode = volatile_offload keep their segments
  // (<data_dir>/bufs; emptied here: what a previous run left is forgotten). `make`: makes a
  // running connector (the node's: connectors/types.hpp; throws std::runtime_error naming
  // what it cannot use).
  Integrations(std::string buffer_root, ConnectorFactory make);
  ~Integrations();
  Integrations(const Integrations&) = delete;
  Integrations& operator=(const Integrations&) = delete;

  // Declares the tables on `t` and follows them; before t.load(). Without it the
  // definitions stay in this object (tests).
  void attach(tables::ReplicatedTables& t);
  // The config file's, after t.load(): written where they differ; what this node's file
  // wrote before and no longer has is deleted (tables/config_seeds.hpp).
  void seed(const std::vector<config::ConnectorConfig>& connectors,
            const std::vector<config::ActionConfig>& actions,
            const std::vector<config::SourceConfig>& sources, const std::string& node);

  // --- what the rules call (a worker) ---
  enum class Sent { Queued, NotFound, Disabled };
  // `ref` is a rule's action reference, "<type>:<name>" ("webhook:x" is "http:x").
  Sent enqueue(std::string_view ref, const boost::json::object& output, std::string_view key);

  // --- what the API calls ---
  enum class Outcome { Ok, Exists, NotFound, Invalid, InUse, Full };
  struct Result {
    Outcome outcome = Outcome::Ok;
    std::string message;  // Invalid, InUse: what is wrong
  };
  // Writes a connector's or an action's definition (the body as written, JSON). `create`:
  // refused when it exists; otherwise it must exist (PUT).
  Result put_connector(const std::string& type, const std::string& name, std::string_view json,
                       bool create);
  Result put_action(const std::string& type, const std::string& name, std::string_view json,
                    bool create);
  Result put_source(const std::string& type, const std::string& name, std::string_view json,
                    bool create);
  // An action's connector must exist (of its type); a connector with actions is not deleted.
  Result remove_connector(const std::string& type, const std::string& name);
  Result remove_action(const std::string& type, const std::string& name);
  Result remove_source(const std::string& type, const std::string& name);
  // enable = true|false on the stored definition.
  Result set_enabled(Kind kind, const std::string& type, const std::string& name, bool on);

  struct ConnectorView {
    config::ConnectorConfig config;
    Status status = Status::Disconnected;
    std::string status_reason;
    std::vector<std::string> actions;  // names of the actions on it
  };
  struct ActionView {
    config::ActionConfig config;
    Status status = Status::Disconnected;
    std::string status_reason;
    std::optional<Action::Sample> sample;  // none while it does not run
  };
  std::vector<ConnectorView> connectors() const;
  std::optional<ConnectorView> connector(const std::string& type, const std::string& name) const;
  std::vector<ActionView> actions() const;
  std::optional<ActionView> action(const std::string& type, const std::string& name) const;
  struct SourceView {
    config::SourceConfig config;
    Status status = Status::Disconnected;  // its connector's
    std::string status_reason;
  };
  std::vector<SourceView> sources() const;
  std::optional<SourceView> source(const std::string& type, const std::string& name) const;
  bool reset_metrics(const std::string& type, const std::string& name);
  void tick();  // every second: the actions' rates
  // A connector's health checked now (POST .../start); false when it does not run here.
  bool check_now(const std::string& type, const std::string& name);

  // Whether a definition would be accepted (the probes): empty, or what is wrong.
  std::string probe_connector(const std::string& type, const std::string& name,
                              std::string_view json) const;

 private:
  struct Running {
    std::shared_ptr<ConnectorState> state;  // null: not running (disabled, or failed)
    std::string error;                      // why it does not run
  };
  void apply(Kind kind, const tables::Entry& e);
  // Under mutex_: (re)builds the running objects of connector `cid` and its actions, or
  // of action `aid` alone.
  void rebuild_connector(const std::string& cid);
  void rebuild_action(const std::string& aid);
  // Under mutex_: hands connector `cid` (running) its sources.
  void give_sources(const std::string& cid);
  // Stopped and destroyed on the reaper thread, once nobody else holds it (a worker
  // that was handing it a request), never on the thread that replaced it.
  void retire(std::shared_ptr<Action> old);
  void retire(std::shared_ptr<ConnectorState> old);
  void retire_any(std::shared_ptr<void> old);
  Result write(Kind kind, const std::string& id, const std::string& json);
  void erase(Kind kind, const std::string& id);
  void taken_over(Kind kind, const std::string& id);  // by the API: no file owns it

  const std::string buffer_root_;
  const ConnectorFactory make_;
  tables::ReplicatedTables* tables_ = nullptr;
  mutable std::mutex mutex_;
  std::map<std::string, config::ConnectorConfig> connector_defs_;  // by "type:name"
  std::map<std::string, config::ActionConfig> action_defs_;
  std::map<std::string, config::SourceConfig> source_defs_;
  std::map<std::string, Running> running_connectors_;
  std::map<std::string, std::shared_ptr<Action>> running_actions_;
  std::map<std::string, std::string> action_errors_;  // why an action does not run
  std::uint64_t generation_ = 0;                      // each running Action's own buffer directory

  std::mutex reap_mutex_;
  std::condition_variable reap_cv_;
  std::deque<std::shared_ptr<void>> reap_;  // guarded by reap_mutex_
  bool reap_stop_ = false;
  std::thread reaper_;
};

// "http:x" -> {"http", "x"}; "webhook:x" -> {"http", "x"} (EMQX's old type); nullopt when
// it is not "<type>:<name>".
std::optional<std::pair<std::string, std::string>> split_ref(std::string_view ref);

}  // namespace emqxd::connectors
