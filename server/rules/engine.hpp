#pragma once
// RuleEngine: the node's rules (rule.hpp), their metrics, and running them on events.
//
// Which rules exist is the cluster's: the replicated table "rule_engine" (tables/
// replicated_tables.hpp; key: the rule id, value: its definition, rule_definition()) holds
// them, so a rule made through any node's /api/v5/rules runs on every node and survives
// restarts. `rule_engine.rules.<id>` in the config file is written into the table at
// start-up when the table's copy differs: as in EMQX, the file wins at restart over what
// the API changed (docs/rules.md).
//
// Running: each worker holds a View (lock-free; it refreshes its snapshot when the set of
// rules changes) and asks it to run the rules whose FROM matches an event, with the
// event's columns (eval.hpp). Evaluation happens on the worker that saw the event; what the
// rules' actions do is handed to an Actions object, which must not block (republish posts
// the new message to the worker's next turn; console queues a line for a thread of its
// own). The publish path pays one relaxed load while no rule listens to publishes.
//
// Metrics are EMQX's, per rule: matched, passed, failed (failed.exception,
// failed.no_result), actions.total / success / failed (failed.out_of_service,
// failed.unknown), actions.discarded, and the rate of matched (per second, its maximum and
// the last 5 minutes' average), ticked every second (app/sysmon.cpp). They are this
// node's; the API adds up the nodes'.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "rules/rule.hpp"

namespace emqxd::tables {
class ReplicatedTables;
struct Entry;
}  // namespace emqxd::tables

namespace emqxd::rules {

class RuleEngine {
 public:
  static constexpr std::string_view kTable = "rule_engine";
  static constexpr std::size_t kMaxRules = 2048;

  enum Metric : std::uint8_t {
    Matched,
    Passed,
    Failed,
    FailedException,
    FailedNoResult,
    ActionsTotal,
    ActionsSuccess,
    ActionsFailed,
    ActionsFailedOutOfService,
    ActionsFailedUnknown,
    ActionsDiscarded,
  };
  static constexpr std::size_t kMetrics = 11;
  static std::string_view name(Metric m);  // "matched", "failed.exception", ...

  struct Counters {
    std::array<std::atomic<std::uint64_t>, kMetrics> n{};
    void inc(Metric m, std::uint64_t k = 1) { n[m].fetch_add(k, std::memory_order_relaxed); }
    std::uint64_t get(Metric m) const { return n[m].load(std::memory_order_relaxed); }
  };

  // One rule as the workers see it.
  struct Live {
    std::shared_ptr<const Rule> rule;
    std::shared_ptr<Counters> counters;
  };
  using Snapshot = std::vector<Live>;  // enabled rules, by id

  // What the rules' actions do, on the worker that ran them; must not block. Each returns
  // false when the action could not be queued (counted actions.failed / discarded).
  class Actions {
   public:
    virtual ~Actions() = default;
    virtual bool republish(const Rule& rule, const Republish& args,
                           const boost::json::object& output,
                           const boost::json::object& columns) = 0;
    virtual bool console(const Rule& rule, const boost::json::object& output,
                         const boost::json::object& columns) = 0;
    // A connector's action ("http:name"): queued (true), or none such runs here (false:
    // actions.discarded).
    virtual bool connector(const Rule& rule, const std::string& ref,
                           const boost::json::object& output,
                           const boost::json::object& columns) = 0;
  };

  // A worker's lookups: lock-free, refreshed when rules change. One per worker thread.
  class View {
   public:
    explicit View(const RuleEngine& e) : e_(&e) {}
    // Whether some enabled rule reads message.publish: the publish path's only cost
    // while none does.
    bool any_on_publish() const { return e_->on_publish_.load(std::memory_order_relaxed) != 0; }
    // Whether some enabled rule reads the event.
    bool listens(Event ev) const {
      return (e_->events_.load(std::memory_order_relaxed) >> static_cast<unsigned>(ev)) & 1u;
    }
    // The enabled rules.
    const Snapshot& rules();

   private:
    const RuleEngine* e_;
    std::uint64_t generation_ = ~0ull;
    std::shared_ptr<const Snapshot> snapshot_;
  };

  RuleEngine();
  ~RuleEngine();
  RuleEngine(const RuleEngine&) = delete;
  RuleEngine& operator=(const RuleEngine&) = delete;

  // Declares the table on `t` and follows it; before t.load(). Without it the rules stay
  // in this object (tests).
  void attach(tables::ReplicatedTables& t);
  // The config file's rules (id, definition), after t.load(): written where they differ;
  // the rules this node's file wrote before and no longer has are deleted
  // (tables/config_seeds.hpp). `node` is this node's name. Errors were refused when the
  // config was read; one that fails here is logged.
  void seed(const std::vector<std::pair<std::string, boost::json::object>>& rules,
            const std::string& node);

  enum class Outcome : std::uint8_t { Ok, Exists, NotFound, Full, Invalid };
  struct Result {
    Outcome outcome = Outcome::Ok;
    std::shared_ptr<const Rule> rule;
    RuleError error;  // Invalid
  };
  // A new rule (id: none makes one, 8 hex digits as EMQX's).
  Result create(std::optional<std::string> id, const boost::json::object& body);
  // Replaces a rule's definition with `body` (fields absent keep theirs); its metrics go on,
  // unless it is disabled (EMQX zeroes them). No such rule: `body` makes one (EMQX's PUT).
  Result update(const std::string& id, const boost::json::object& body);
  Outcome remove(const std::string& id);

  std::shared_ptr<const Rule> get(const std::string& id) const;
  std::vector<std::shared_ptr<const Rule>> list() const;  // by id
  std::size_t size() const;

  struct Sample {
    std::array<std::uint64_t, kMetrics> count{};
    double rate = 0, rate_max = 0, rate_last5m = 0;
  };
  std::optional<Sample> metrics(const std::string& id) const;
  // A sample under EMQX's names ("matched", "actions.success", "matched.rate", ...), as
  // the API and $SYS/brokers/<node>/rules/<id>/metrics give it.
  static boost::json::object metrics_json(const Sample& s);
  bool reset_metrics(const std::string& id);
  void tick();  // every second: the rates

  // Runs every enabled rule whose FROM matches `source` (a topic, or "$events/...") over
  // the event's columns (made by `columns` when the first rule matches, once), and hands
  // the outputs to `actions`. The worker's thread; `view` is its View.
  class Columns {  // a reference to the caller's callable: no allocation per event
   public:
    template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, Columns>)
        Columns(F&& f)  // NOLINT: implicit, so that a lambda is passed as it is
        : obj_(const_cast<void*>(static_cast<const void*>(&f))),
          call_([](void* o) -> const boost::json::object& {
            return (*static_cast<std::remove_reference_t<F>*>(o))();
          }) {}
    const boost::json::object& operator()() const { return call_(obj_); }

   private:
    void* obj_;
    const boost::json::object& (*call_)(void*);
  };
  static void run(View& view, std::string_view source, const Columns& columns, Actions& actions);
  // Runs one rule's SQL on `columns` (the API's test): its outputs, or `error`.
  static std::vector<boost::json::object> test(const Rule& rule, const boost::json::object& columns,
                                               std::string& error);

 private:
  struct Entry {
    std::shared_ptr<const Rule> rule;
    std::shared_ptr<Counters> counters;
    // Rates, under mutex_ (tick()).
    std::uint64_t last = 0;
    double rate = 0, rate_max = 0, rate_5m = 0;
  };

  void apply(const tables::Entry& e);
  void set(const std::string& id, std::shared_ptr<const Rule> r);  // under mutex_
  void publish_snapshot();                                         // under mutex_
  Result write(std::shared_ptr<const Rule> r, bool must_exist, bool must_not_exist);
  Outcome erase(const std::string& id);
  void taken_over(const std::string& id);  // the API changed it: no config file owns it

  tables::ReplicatedTables* tables_ = nullptr;
  mutable std::mutex mutex_;
  std::map<std::string, Entry> entries_;  // guarded by mutex_
  std::shared_ptr<const Snapshot> snapshot_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<std::size_t> on_publish_{0};
  std::atomic<std::uint32_t> events_{0};
};

}  // namespace emqxd::rules
