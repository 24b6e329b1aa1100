#include "rules/engine.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cmath>
#include <random>

#include "common/log.hpp"
#include "rules/eval.hpp"
#include "tables/config_seeds.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::rules {

namespace json = boost::json;

namespace {

// Tombstones count against a replicated table's bound: room for them beside the live ones.
constexpr std::size_t kTableBound = RuleEngine::kMaxRules * 4;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("rules");
  return l;
}

// A definition as stored (rule_definition) back into a rule; null (logged) if it is not
// one: a newer peer's, or damaged.
std::shared_ptr<const Rule> from_table(const std::string& id, const std::string& value) {
  boost::system::error_code ec;
  json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) {
    logger()->warn("rule_id={} the stored definition is not a JSON object: ignored", id);
    return nullptr;
  }
  auto r = read_rule(id, v.get_object(), 0);
  if (auto* e = std::get_if<RuleError>(&r)) {
    logger()->warn("rule_id={} the stored definition is refused ({}: {}): ignored", id, e->field,
                   e->message);
    return nullptr;
  }
  return std::get<std::shared_ptr<const Rule>>(r);
}

}  // namespace

boost::json::object RuleEngine::metrics_json(const Sample& s) {
  boost::json::object m;
  for (std::size_t i = 0; i < kMetrics; ++i)
    m[name(static_cast<Metric>(i))] = s.count[i];
  auto round2 = [](double v) { return std::round(v * 100) / 100; };
  m["matched.rate"] = round2(s.rate);
  m["matched.rate.max"] = round2(s.rate_max);
  m["matched.rate.last5m"] = round2(s.rate_last5m);
  return m;
}

std::string_view RuleEngine::name(Metric m) {
  static constexpr std::string_view kNames[kMetrics] = {"matched",
                                                        "passed",
                                                        "failed",
                                                        "failed.exception",
                                                        "failed.no_result",
                                                        "actions.total",
                                                        "actions.success",
                                                        "actions.failed",
                                                        "actions.failed.out_of_service",
                                                        "actions.failed.unknown",
                                                        "actions.discarded"};
  return kNames[m];
}

RuleEngine::RuleEngine() : snapshot_(std::make_shared<const Snapshot>()) {}
RuleEngine::~RuleEngine() = default;

const RuleEngine::Snapshot& RuleEngine::View::rules() {
  const auto g = e_->generation_.load(std::memory_order_acquire);
  if (g != generation_) {
    std::lock_guard lock(e_->mutex_);
    snapshot_ = e_->snapshot_;
    generation_ = g;
  }
  return *snapshot_;
}

void RuleEngine::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.declare(std::string(kTable), kTableBound);
  tables::ConfigSeeds seeds(&t);  // declared before load(), so that it is read
  t.listen(std::string(kTable), [this](const tables::Entry& e) { apply(e); });
}

void RuleEngine::apply(const tables::Entry& e) {
  std::shared_ptr<const Rule> r;
  if (!e.deleted) {
    r = from_table(e.key, e.value);
    if (!r) return;
  }
  std::lock_guard lock(mutex_);
  set(e.key, std::move(r));
}

void RuleEngine::set(const std::string& id, std::shared_ptr<const Rule> r) {
  auto it = entries_.find(id);
  if (!r) {
    if (it == entries_.end()) return;
    entries_.erase(it);
  } else if (it == entries_.end()) {
    Entry e;
    e.rule = std::move(r);
    e.counters = std::make_shared<Counters>();
    entries_.emplace(id, std::move(e));
  } else {
    // Its counters go on; disabled, they start again from zero (EMQX), on every node.
    if (it->second.rule->enable && !r->enable) {
      for (auto& n : it->second.counters->n)
        n.store(0, std::memory_order_relaxed);
      it->second.last = 0;
      it->second.rate = it->second.rate_max = it->second.rate_5m = 0;
    }
    it->second.rule = std::move(r);
  }
  publish_snapshot();
}

void RuleEngine::publish_snapshot() {
  auto s = std::make_shared<Snapshot>();
  std::size_t on_publish = 0;
  std::uint32_t events = 0;
  for (const auto& [id, e] : entries_) {
    if (!e.rule->enable) continue;
    s->push_back({e.rule, e.counters});
    if (e.rule->on_publish) ++on_publish;
    events |= e.rule->events;
  }
  snapshot_ = std::move(s);
  on_publish_.store(on_publish, std::memory_order_relaxed);
  events_.store(events, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
}

RuleEngine::Result RuleEngine::write(std::shared_ptr<const Rule> r, bool must_exist,
                                     bool must_not_exist) {
  {
    std::lock_guard lock(mutex_);
    const bool exists = entries_.contains(r->id);
    if (must_exist && !exists) return {Outcome::NotFound, nullptr, {}};
    if (must_not_exist && exists) return {Outcome::Exists, nullptr, {}};
    if (!exists && entries_.size() >= kMaxRules) return {Outcome::Full, nullptr, {}};
    if (tables_ == nullptr) {
      set(r->id, r);
      return {Outcome::Ok, r, {}};
    }
  }
  // Outside the mutex: the table's listener (apply) takes it.
  if (!tables_->put(std::string(kTable), r->id, json::serialize(rule_definition(*r))))
    return {Outcome::Full, nullptr, {}};
  return {Outcome::Ok, r, {}};
}

RuleEngine::Result RuleEngine::create(std::optional<std::string> id, const json::object& body) {
  if (!id) {
    if (const auto* v = body.if_contains("id"); v != nullptr && v->is_string()) {
      id = std::string(v->get_string());
    } else {
      // EMQX's generated ids: 8 hex digits.
      static thread_local std::mt19937_64 rng{std::random_device{}()};
      char buf[16];
      std::snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(rng() & 0xffffffffu));
      id = std::string(buf);
    }
  }
  // As EMQX: the metadata is this node's ({created_at: now}), whatever the body says.
  json::object fresh = body;
  fresh.erase("metadata");
  auto r = read_rule(*id, fresh, now_ms());
  if (auto* e = std::get_if<RuleError>(&r)) return {Outcome::Invalid, nullptr, std::move(*e)};
  auto res = write(std::get<std::shared_ptr<const Rule>>(std::move(r)), false, true);
  if (res.outcome == Outcome::Ok) taken_over(*id);
  return res;
}

RuleEngine::Result RuleEngine::update(const std::string& id, const json::object& body) {
  auto old = get(id);
  if (!old) {
    auto r = read_rule(id, body, now_ms());
    if (auto* e = std::get_if<RuleError>(&r)) return {Outcome::Invalid, nullptr, std::move(*e)};
    auto res = write(std::get<std::shared_ptr<const Rule>>(std::move(r)), false, false);
    if (res.outcome == Outcome::Ok) taken_over(id);
    return res;
  }
  json::object merged = rule_definition(*old);
  for (const auto& kv : body) {
    if (kv.key() != "metadata") merged[kv.key()] = kv.value();  // it keeps when it was made
  }
  auto r = read_rule(id, merged, old->created_at_ms);
  if (auto* e = std::get_if<RuleError>(&r)) return {Outcome::Invalid, nullptr, std::move(*e)};
  auto rule = std::get<std::shared_ptr<const Rule>>(std::move(r));
  auto res = write(std::move(rule), false, false);
  if (res.outcome == Outcome::Ok) taken_over(id);
  return res;
}

RuleEngine::Outcome RuleEngine::remove(const std::string& id) {
  const Outcome o = erase(id);
  if (o == Outcome::Ok) taken_over(id);
  return o;
}

void RuleEngine::taken_over(const std::string& id) {
  tables::ConfigSeeds(tables_).unmark("rule/" + id);
}

RuleEngine::Outcome RuleEngine::erase(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (!entries_.contains(id)) return Outcome::NotFound;
    if (tables_ == nullptr) {
      set(id, nullptr);
      return Outcome::Ok;
    }
  }
  return tables_->erase(std::string(kTable), id) ? Outcome::Ok : Outcome::NotFound;
}

void RuleEngine::seed(const std::vector<std::pair<std::string, json::object>>& rules,
                      const std::string& node) {
  tables::ConfigSeeds seeds(tables_);
  for (const auto& id : seeds.marked_by(node, "rule/")) {
    const bool still =
        std::any_of(rules.begin(), rules.end(), [&](const auto& r) { return r.first == id; });
    if (still) continue;
    logger()->info("rule {}: no longer in the config file: deleted", id);
    erase(id);
    seeds.unmark("rule/" + id);
  }
  for (const auto& [id, body] : rules) {
    seeds.mark("rule/" + id, node);
    auto r = read_rule(id, body, now_ms());
    if (auto* e = std::get_if<RuleError>(&r)) {
      logger()->error("rule_engine.rules.{}: {}: {}", id, e->field, e->message);
      continue;
    }
    auto rule = std::get<std::shared_ptr<const Rule>>(std::move(r));
    auto old = get(id);
    if (old) {
      // The same definition (bar when it was made) stays as it is.
      auto a = rule_definition(*old);
      auto b = rule_definition(*rule);
      a.erase("metadata");
      b.erase("metadata");
      if (a == b) continue;
      auto copy = std::make_shared<Rule>(*rule);
      copy->created_at_ms = old->created_at_ms;
      copy->metadata["created_at"] = old->created_at_ms;
      rule = std::move(copy);
    }
    auto res = write(rule, false, false);
    if (res.outcome != Outcome::Ok)
      logger()->error("rule_engine.rules.{}: not stored: the rule table is full", id);
  }
}

std::shared_ptr<const Rule> RuleEngine::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second.rule;
}

std::vector<std::shared_ptr<const Rule>> RuleEngine::list() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const Rule>> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_)
    out.push_back(e.rule);
  return out;
}

std::size_t RuleEngine::size() const {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

std::optional<RuleEngine::Sample> RuleEngine::metrics(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return std::nullopt;
  Sample s;
  for (std::size_t i = 0; i < kMetrics; ++i)
    s.count[i] = it->second.counters->n[i].load(std::memory_order_relaxed);
  s.rate = it->second.rate;
  s.rate_max = it->second.rate_max;
  s.rate_last5m = it->second.rate_5m;
  return s;
}

bool RuleEngine::reset_metrics(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return false;
  for (auto& n : it->second.counters->n)
    n.store(0, std::memory_order_relaxed);
  it->second.last = 0;
  it->second.rate = it->second.rate_max = it->second.rate_5m = 0;
  return true;
}

void RuleEngine::tick() {
  std::lock_guard lock(mutex_);
  for (auto& [id, e] : entries_) {
    const auto n = e.counters->get(Matched);
    const double per_second = static_cast<double>(n >= e.last ? n - e.last : 0);
    e.last = n;
    // EMQX's speed: a 5-second moving average, its maximum, and a 5-minute one.
    e.rate += (per_second - e.rate) / 5.0;
    e.rate_5m += (per_second - e.rate_5m) / 300.0;
    if (e.rate > e.rate_max) e.rate_max = e.rate;
  }
}

void RuleEngine::run(View& view, std::string_view source, const Columns& columns,
                     Actions& actions) {
  EventCache cache;  // the payload read as JSON once for all the rules
  for (const Live& live : view.rules()) {
    const Rule& rule = *live.rule;
    if (!matches_from(*rule.statement, source)) continue;
    Counters& c = *live.counters;
    c.inc(Matched);
    std::string error;
    auto outputs = rules::run(*rule.statement, columns(), error, &cache);
    if (!error.empty()) {
      c.inc(Failed);
      c.inc(FailedException);
      continue;
    }
    if (outputs.empty()) {
      c.inc(Failed);
      c.inc(FailedNoResult);
      continue;
    }
    c.inc(Passed);
    for (const auto& out : outputs) {
      for (const Action& a : rule.actions) {
        c.inc(ActionsTotal);
        bool ok = false;
        switch (a.kind) {
          case Action::Kind::Republish:
            ok = actions.republish(rule, a.republish, out, columns());
            break;
          case Action::Kind::Console:
            ok = actions.console(rule, out, columns());
            break;
          case Action::Kind::Connector:
            // Queued is a success (EMQX's async actions); no such action: discarded.
            if (!actions.connector(rule, a.ref, out, columns())) {
              c.inc(ActionsDiscarded);
              continue;
            }
            ok = true;
            break;
        }
        if (ok) {
          c.inc(ActionsSuccess);
        } else {
          c.inc(ActionsFailed);
          c.inc(ActionsFailedUnknown);
        }
      }
    }
  }
}

std::vector<json::object> RuleEngine::test(const Rule& rule, const json::object& columns,
                                           std::string& error) {
  return rules::run(*rule.statement, columns, error);
}

}  // namespace emqxd::rules
