#include "connectors/integrations.hpp"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <filesystem>

#include "common/log.hpp"
#include "tables/config_seeds.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::connectors {

namespace json = boost::json;

namespace {

// A PUT that sends back "******" (what the API shows for a secret header) keeps the
// stored value.
// A PUT that sends "******" back (what GET showed) keeps the stored secret, as EMQX does.
std::string keep_secrets(std::string_view text, const std::string& stored) {
  boost::system::error_code e1, e2;
  auto v = json::parse(text, e1);
  auto old = json::parse(stored, e2);
  if (e1 || e2 || !v.is_object() || !old.is_object()) return std::string(text);
  auto fix = [](json::value* now, const json::value* before) {
    if (now == nullptr || before == nullptr || !now->is_object() || !before->is_object()) return;
    for (auto& kv : now->get_object()) {
      if (kv.value() == json::value("******")) {
        if (const auto* b = before->get_object().if_contains(kv.key())) kv.value() = *b;
      }
    }
  };
  // A password or a token, at the top (sql, mqtt), in parameters (redis, influxdb) or in
  // authentication (kafka).
  auto password = [](json::object& now, const json::object& before) {
    for (const char* k : {"password", "token"}) {
      auto* p = now.if_contains(k);
      const auto* b = before.if_contains(k);
      if (p != nullptr && b != nullptr && *p == json::value("******")) *p = *b;
    }
  };
  fix(v.get_object().if_contains("headers"), old.get_object().if_contains("headers"));
  password(v.get_object(), old.get_object());
  for (const char* inner : {"parameters", "authentication"}) {  // authentication: kafka's
    auto* p = v.get_object().if_contains(inner);
    const auto* q = old.get_object().if_contains(inner);
    if (p != nullptr && q != nullptr && p->is_object() && q->is_object()) {
      fix(p->get_object().if_contains("headers"), q->get_object().if_contains("headers"));
      password(p->get_object(), q->get_object());
    }
  }
  return json::serialize(v);
}

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("connectors");
  return l;
}

constexpr std::size_t kTableBound = Integrations::kMaxEntries * 4;

std::string id_of(const std::string& type, const std::string& name) {
  return type + ":" + name;
}

using Kind = Integrations::Kind;

std::string table_of(Kind k) {
  return std::string(k == Kind::Connector ? Integrations::kConnectorsTable
                     : k == Kind::Action  ? Integrations::kActionsTable
                                          : Integrations::kSourcesTable);
}

// The config seeds' key prefix (tables/config_seeds.hpp), and the word for messages.
std::string prefix_of(Kind k) {
  return k == Kind::Connector ? "connector/" : k == Kind::Action ? "action/" : "source/";
}
const char* word_of(Kind k) {
  return k == Kind::Connector ? "connector" : k == Kind::Action ? "action" : "source";
}

std::pair<std::string, std::string> split_id(const std::string& id) {
  const auto colon = id.find(':');
  return {id.substr(0, colon), colon == std::string::npos ? "" : id.substr(colon + 1)};
}

}  // namespace

std::optional<std::pair<std::string, std::string>> split_ref(std::string_view ref) {
  const auto colon = ref.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == ref.size()) return std::nullopt;
  std::string type(ref.substr(0, colon));
  if (type == "webhook") type = "http";  // EMQX's old name of the type
  return std::pair{type, std::string(ref.substr(colon + 1))};
}

Integrations::Integrations(std::string buffer_root, ConnectorFactory make)
    : buffer_root_(std::move(buffer_root)), make_(std::move(make)), reaper_([this] {
        std::unique_lock lock(reap_mutex_);
        while (true) {
          reap_cv_.wait(lock, [this] { return reap_stop_ || !reap_.empty(); });
          if (reap_.empty()) return;
          auto old = std::move(reap_.front());
          reap_.pop_front();
          lock.unlock();
          // A worker may still hold it for the moment of an enqueue: the last owner must be
          // this thread, so that no worker waits for its threads to end.
          while (old.use_count() > 1)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
          old.reset();  // joins its threads
          lock.lock();
        }
      }) {
  std::error_code ec;
  std::filesystem::remove_all(buffer_root_, ec);
}

Integrations::~Integrations() {
  {
    std::lock_guard lock(mutex_);
    for (auto& [id, a] : running_actions_)
      retire(std::move(a));
    running_actions_.clear();
    for (auto& [id, c] : running_connectors_)
      retire(std::move(c.state));
    running_connectors_.clear();
  }
  {
    std::lock_guard lock(reap_mutex_);
    reap_stop_ = true;
  }
  reap_cv_.notify_all();
  reaper_.join();
}

void Integrations::retire(std::shared_ptr<Action> old) {
  if (!old) return;
  old->stop();  // its workers end while others are retired
  retire_any(std::move(old));
}

void Integrations::retire(std::shared_ptr<ConnectorState> old) {
  retire_any(std::move(old));
}

void Integrations::retire_any(std::shared_ptr<void> old) {
  if (!old) return;
  {
    std::lock_guard lock(reap_mutex_);
    reap_.push_back(std::move(old));
  }
  reap_cv_.notify_one();
}

void Integrations::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.declare(std::string(kConnectorsTable), kTableBound);
  tables::ConfigSeeds seeds(&t);  // declared before load(), so that it is read
  t.declare(std::string(kActionsTable), kTableBound);
  t.declare(std::string(kSourcesTable), kTableBound);
  for (Kind k : {Kind::Connector, Kind::Action, Kind::Source})
    t.listen(table_of(k), [this, k](const tables::Entry& e) { apply(k, e); });
}

void Integrations::apply(Kind kind, const tables::Entry& e) {
  const auto [type, name] = split_id(e.key);
  std::lock_guard lock(mutex_);
  try {
    switch (kind) {
      case Kind::Connector:
        if (e.deleted) {
          connector_defs_.erase(e.key);
        } else {
          connector_defs_[e.key] = config::read_connector(type, name, e.value, "table connectors");
        }
        rebuild_connector(e.key);
        break;
      case Kind::Action:
        if (e.deleted) {
          action_defs_.erase(e.key);
        } else {
          action_defs_[e.key] = config::read_action(type, name, e.value, "table actions");
        }
        rebuild_action(e.key);
        break;
      case Kind::Source: {
        std::string connector;
        if (auto it = source_defs_.find(e.key); it != source_defs_.end())
          connector = it->second.connector;
        if (e.deleted) {
          source_defs_.erase(e.key);
        } else {
          source_defs_[e.key] = config::read_source(type, name, e.value, "table sources");
          if (!connector.empty() && connector != source_defs_[e.key].connector)
            give_sources(id_of(type, connector));  // it moved: the old one lets it go
          connector = source_defs_[e.key].connector;
        }
        give_sources(id_of(type, connector));
        break;
      }
    }
  } catch (const std::exception& x) {
    logger()->warn("{} {}: the stored definition is refused ({}): ignored", word_of(kind), e.key,
                   x.what());
  }
}

void Integrations::give_sources(const std::string& cid) {
  auto run = running_connectors_.find(cid);
  if (run == running_connectors_.end() || !run->second.state) return;
  const auto [type, name] = split_id(cid);
  std::vector<config::SourceConfig> mine;
  for (const auto& [id, src] : source_defs_) {
    if (src.type == type && src.connector == name) mine.push_back(src);
  }
  run->second.state->connector().set_sources(mine);
}

void Integrations::rebuild_connector(const std::string& cid) {
  // The old connector goes after the actions that use it (they hold it: the reaper waits
  // for the last owner, so they must be queued before it).
  std::shared_ptr<ConnectorState> old;
  if (auto it = running_connectors_.find(cid); it != running_connectors_.end()) {
    old = std::move(it->second.state);
    running_connectors_.erase(it);
  }
  auto def = connector_defs_.find(cid);
  if (def != connector_defs_.end()) {
    Running r;
    if (!def->second.enable) {
      r.error = "disabled";
    } else {
      const auto& c = def->second;
      try {
        r.state = std::make_shared<ConnectorState>(cid, make_(c), c.health_check_interval,
                                                   c.connect_timeout);
      } catch (const std::exception& x) {
        r.error = x.what();
        logger()->error("connector {} does not start: {}", cid, x.what());
      }
    }
    running_connectors_[cid] = std::move(r);
    give_sources(cid);
  }
  const auto [type, name] = split_id(cid);
  for (const auto& [aid, a] : action_defs_) {
    if (a.type == type && a.connector == name) rebuild_action(aid);
  }
  retire(std::move(old));
}

void Integrations::rebuild_action(const std::string& aid) {
  if (auto it = running_actions_.find(aid); it != running_actions_.end()) {
    retire(std::move(it->second));
    running_actions_.erase(it);
  }
  action_errors_.erase(aid);
  auto def = action_defs_.find(aid);
  if (def == action_defs_.end()) return;
  const auto& a = def->second;
  if (!a.enable) {
    action_errors_[aid] = "disabled";
    return;
  }
  const std::string cid = id_of(a.type, a.connector);
  auto cdef = connector_defs_.find(cid);
  auto crun = running_connectors_.find(cid);
  if (cdef == connector_defs_.end()) {
    action_errors_[aid] = "connector " + cid + " does not exist";
    return;
  }
  if (crun == running_connectors_.end() || !crun->second.state) {
    action_errors_[aid] = "connector " + cid + " is not running" +
                          (crun != running_connectors_.end() && !crun->second.error.empty()
                               ? ": " + crun->second.error
                               : "");
    return;
  }
  try {
    auto senders = crun->second.state->connector().senders(a);
    running_actions_[aid] = std::make_shared<Action>(aid, a.resource_opts, crun->second.state,
                                                     senders, buffer_root_ + "/" + aid);
  } catch (const std::exception& x) {
    action_errors_[aid] = x.what();
    logger()->error("action {} does not start: {}", aid, x.what());
  }
}

void Integrations::taken_over(Kind kind, const std::string& id) {
  tables::ConfigSeeds(tables_).unmark(prefix_of(kind) + id);
}

void Integrations::erase(Kind kind, const std::string& id) {
  if (tables_ != nullptr) {
    tables_->erase(table_of(kind), id);
    return;
  }
  tables::Entry e;
  e.table = table_of(kind);
  e.key = id;
  e.deleted = true;
  apply(kind, e);
}

void Integrations::seed(const std::vector<config::ConnectorConfig>& connectors,
                        const std::vector<config::ActionConfig>& actions,
                        const std::vector<config::SourceConfig>& sources, const std::string& node) {
  // Each kind's definitions as (id, JSON).
  auto ids = [&](Kind k) {
    std::vector<std::pair<std::string, std::string>> out;
    if (k == Kind::Connector) {
      for (const auto& c : connectors)
        out.emplace_back(id_of(c.type, c.name), c.json);
    } else if (k == Kind::Action) {
      for (const auto& a : actions)
        out.emplace_back(id_of(a.type, a.name), a.json);
    } else {
      for (const auto& x : sources)
        out.emplace_back(id_of(x.type, x.name), x.json);
    }
    return out;
  };
  auto stored = [&](Kind k, const std::string& id) -> std::optional<std::string> {
    std::lock_guard lock(mutex_);
    if (k == Kind::Connector) {
      if (auto it = connector_defs_.find(id); it != connector_defs_.end()) return it->second.json;
    } else if (k == Kind::Action) {
      if (auto it = action_defs_.find(id); it != action_defs_.end()) return it->second.json;
    } else if (auto it = source_defs_.find(id); it != source_defs_.end()) {
      return it->second.json;
    }
    return std::nullopt;
  };
  tables::ConfigSeeds seeds(tables_);
  // What this node's file wrote before and no longer has: actions and sources first, then
  // connectors (which must have none left).
  for (const Kind k : {Kind::Action, Kind::Source, Kind::Connector}) {
    const auto now = ids(k);
    for (const auto& id : seeds.marked_by(node, prefix_of(k))) {
      bool still = false;
      for (const auto& [i, text] : now)
        still = still || i == id;
      if (still) continue;
      logger()->info("{} {}: no longer in the config file: deleted", word_of(k), id);
      erase(k, id);
      seeds.unmark(prefix_of(k) + id);
    }
  }
  auto same = [](const std::string& a, const std::string& b) {
    boost::system::error_code e1, e2;
    auto x = json::parse(a, e1);
    auto y = json::parse(b, e2);
    return !e1 && !e2 && x == y;
  };
  for (const Kind k : {Kind::Connector, Kind::Action, Kind::Source}) {
    for (const auto& [id, text] : ids(k)) {
      seeds.mark(prefix_of(k) + id, node);
      if (auto old = stored(k, id); old && same(*old, text)) continue;
      auto r = write(k, id, text);
      if (r.outcome != Outcome::Ok) logger()->error("{} {}: {}", word_of(k), id, r.message);
    }
  }
}

Integrations::Result Integrations::write(Kind kind, const std::string& id,
                                         const std::string& text) {
  if (tables_ == nullptr) {
    tables::Entry e;
    e.table = table_of(kind);
    e.key = id;
    e.value = text;
    apply(kind, e);
    return {};
  }
  if (!tables_->put(table_of(kind), id, text))
    return {Outcome::Full, "at most " + std::to_string(kMaxEntries) + " definitions"};
  return {};
}

Integrations::Result Integrations::put_connector(const std::string& type, const std::string& name,
                                                 std::string_view body, bool create) {
  std::string text(body);
  if (!create) {
    std::lock_guard lock(mutex_);
    if (auto it = connector_defs_.find(id_of(type, name)); it != connector_defs_.end())
      text = keep_secrets(body, it->second.json);
  }
  config::ConnectorConfig c;
  try {
    c = config::read_connector(type, name, text, "body");
  } catch (const std::exception& x) {
    return {Outcome::Invalid, x.what()};
  }
  const std::string id = id_of(type, name);
  {
    std::lock_guard lock(mutex_);
    const bool exists = connector_defs_.contains(id);
    if (create && exists) return {Outcome::Exists, "connector already exists"};
    if (!create && !exists) return {Outcome::NotFound, ""};
    if (!exists && connector_defs_.size() >= kMaxEntries)
      return {Outcome::Full, "at most " + std::to_string(kMaxEntries) + " connectors"};
  }
  auto r = write(Kind::Connector, id, c.json);
  if (r.outcome == Outcome::Ok) taken_over(Kind::Connector, id);
  return r;
}

Integrations::Result Integrations::put_action(const std::string& type, const std::string& name,
                                              std::string_view body, bool create) {
  std::string text(body);
  if (!create) {
    std::lock_guard lock(mutex_);
    if (auto it = action_defs_.find(id_of(type, name)); it != action_defs_.end())
      text = keep_secrets(body, it->second.json);
  }
  config::ActionConfig a;
  try {
    a = config::read_action(type, name, text, "body");
  } catch (const std::exception& x) {
    return {Outcome::Invalid, x.what()};
  }
  const std::string id = id_of(type, name);
  {
    std::lock_guard lock(mutex_);
    const bool exists = action_defs_.contains(id);
    if (create && exists) return {Outcome::Exists, "bridge already exists"};
    if (!create && !exists) return {Outcome::NotFound, ""};
    if (!connector_defs_.contains(id_of(type, a.connector))) {
      return {Outcome::Invalid,
              json::serialize(json::object{{"reason", "connector_not_found_or_wrong_type"},
                                           {"bridge_type", type},
                                           {"bridge_name", name},
                                           {"connector_name", a.connector}})};
    }
    if (!exists && action_defs_.size() >= kMaxEntries)
      return {Outcome::Full, "at most " + std::to_string(kMaxEntries) + " actions"};
  }
  auto r = write(Kind::Action, id, a.json);
  if (r.outcome == Outcome::Ok) taken_over(Kind::Action, id);
  return r;
}

Integrations::Result Integrations::put_source(const std::string& type, const std::string& name,
                                              std::string_view body, bool create) {
  config::SourceConfig src;
  try {
    src = config::read_source(type, name, body, "body");
  } catch (const std::exception& x) {
    return {Outcome::Invalid, x.what()};
  }
  const std::string id = id_of(type, name);
  {
    std::lock_guard lock(mutex_);
    const bool exists = source_defs_.contains(id);
    if (create && exists) return {Outcome::Exists, "source already exists"};
    if (!create && !exists) return {Outcome::NotFound, ""};
    if (!connector_defs_.contains(id_of(type, src.connector))) {
      return {Outcome::Invalid,
              json::serialize(json::object{{"reason", "connector_not_found_or_wrong_type"},
                                           {"source_type", type},
                                           {"source_name", name},
                                           {"connector_name", src.connector}})};
    }
    if (!exists && source_defs_.size() >= kMaxEntries)
      return {Outcome::Full, "at most " + std::to_string(kMaxEntries) + " sources"};
  }
  auto r = write(Kind::Source, id, src.json);
  if (r.outcome == Outcome::Ok) taken_over(Kind::Source, id);
  return r;
}

Integrations::Result Integrations::remove_connector(const std::string& type,
                                                    const std::string& name) {
  const std::string id = id_of(type, name);
  {
    std::lock_guard lock(mutex_);
    if (!connector_defs_.contains(id)) return {Outcome::NotFound, ""};
    std::vector<std::string> users;
    for (const auto& [aid, a] : action_defs_) {
      if (a.type == type && a.connector == name) users.push_back(aid);
    }
    for (const auto& [sid, src] : source_defs_) {
      if (src.type == type && src.connector == name) users.push_back(sid);
    }
    if (!users.empty()) {
      std::string list;
      for (const auto& u : users)
        list += (list.empty() ? "" : ", ") + u;
      return {Outcome::InUse,
              "Cannot delete connector while there are active channels defined for this "
              "connector: " +
                  list};
    }
  }
  erase(Kind::Connector, id);
  taken_over(Kind::Connector, id);
  return {};
}

Integrations::Result Integrations::remove_action(const std::string& type, const std::string& name) {
  const std::string id = id_of(type, name);
  {
    std::lock_guard lock(mutex_);
    if (!action_defs_.contains(id)) return {Outcome::NotFound, ""};
  }
  erase(Kind::Action, id);
  taken_over(Kind::Action, id);
  return {};
}

Integrations::Result Integrations::remove_source(const std::string& type, const std::string& name) {
  const std::string id = id_of(type, name);
  {
    std::lock_guard lock(mutex_);
    if (!source_defs_.contains(id)) return {Outcome::NotFound, ""};
  }
  erase(Kind::Source, id);
  taken_over(Kind::Source, id);
  return {};
}

Integrations::Result Integrations::set_enabled(Kind kind, const std::string& type,
                                               const std::string& name, bool on) {
  const std::string id = id_of(type, name);
  std::string text;
  {
    std::lock_guard lock(mutex_);
    auto find = [&](const auto& defs) {
      auto it = defs.find(id);
      if (it == defs.end()) return false;
      text = it->second.json;
      return true;
    };
    const bool found = kind == Kind::Connector ? find(connector_defs_)
                       : kind == Kind::Action  ? find(action_defs_)
                                               : find(source_defs_);
    if (!found) return {Outcome::NotFound, ""};
  }
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return {Outcome::Invalid, "the stored definition is not JSON"};
  v.get_object()["enable"] = on;
  auto r = write(kind, id, json::serialize(v));
  if (r.outcome == Outcome::Ok) taken_over(kind, id);
  return r;
}

Integrations::Sent Integrations::enqueue(std::string_view ref, const json::object& output,
                                         std::string_view key) {
  auto tn = split_ref(ref);
  if (!tn) return Sent::NotFound;
  const std::string id = id_of(tn->first, tn->second);
  std::shared_ptr<Action> a;
  {
    std::lock_guard lock(mutex_);
    auto it = running_actions_.find(id);
    if (it == running_actions_.end()) {
      return action_defs_.contains(id) ? Sent::Disabled : Sent::NotFound;
    }
    a = it->second;
  }
  a->enqueue(output, key);
  return Sent::Queued;
}

std::vector<Integrations::ConnectorView> Integrations::connectors() const {
  std::vector<ConnectorView> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, c] : connector_defs_) {
    ConnectorView v;
    v.config = c;
    auto r = running_connectors_.find(id);
    if (r != running_connectors_.end() && r->second.state) {
      v.status = r->second.state->status();
      v.status_reason = r->second.state->status_reason();
    } else {
      v.status = c.enable ? Status::Disconnected : Status::Stopped;
      v.status_reason = r != running_connectors_.end() ? r->second.error : "";
    }
    for (const auto& [aid, a] : action_defs_) {
      if (a.type == c.type && a.connector == c.name) v.actions.push_back(a.name);
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<Integrations::ConnectorView> Integrations::connector(const std::string& type,
                                                                   const std::string& name) const {
  for (auto& v : connectors()) {
    if (v.config.type == type && v.config.name == name) return std::move(v);
  }
  return std::nullopt;
}

std::vector<Integrations::ActionView> Integrations::actions() const {
  std::vector<ActionView> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, a] : action_defs_) {
    ActionView v;
    v.config = a;
    auto r = running_actions_.find(id);
    if (r != running_actions_.end()) {
      v.status = r->second->connector()->status();
      v.sample = r->second->sample();
      if (v.status != Status::Connected) {
        v.status_reason = "Resource not operational: " + r->second->connector()->status_reason();
      } else if (!v.sample->last_failure.empty()) {
        v.status_reason = "the last request failed: " + v.sample->last_failure;
      }
    } else {
      v.status = a.enable ? Status::Disconnected : Status::Stopped;
      auto e = action_errors_.find(id);
      v.status_reason = e != action_errors_.end() ? e->second : "Not installed";
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<Integrations::ActionView> Integrations::action(const std::string& type,
                                                             const std::string& name) const {
  for (auto& v : actions()) {
    if (v.config.type == type && v.config.name == name) return std::move(v);
  }
  return std::nullopt;
}

std::vector<Integrations::SourceView> Integrations::sources() const {
  std::vector<SourceView> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, src] : source_defs_) {
    SourceView v;
    v.config = src;
    auto r = running_connectors_.find(id_of(src.type, src.connector));
    if (!src.enable) {
      v.status = Status::Stopped;
    } else if (r != running_connectors_.end() && r->second.state) {
      v.status = r->second.state->status();
      if (v.status != Status::Connected)
        v.status_reason = "Resource not operational: " + r->second.state->status_reason();
    } else {
      v.status = Status::Disconnected;
      v.status_reason = "connector " + id_of(src.type, src.connector) + " is not running";
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::optional<Integrations::SourceView> Integrations::source(const std::string& type,
                                                             const std::string& name) const {
  for (auto& v : sources()) {
    if (v.config.type == type && v.config.name == name) return std::move(v);
  }
  return std::nullopt;
}

bool Integrations::reset_metrics(const std::string& type, const std::string& name) {
  std::lock_guard lock(mutex_);
  const std::string id = id_of(type, name);
  auto it = running_actions_.find(id);
  if (it != running_actions_.end()) it->second->reset_metrics();
  return action_defs_.contains(id);
}

void Integrations::tick() {
  std::vector<std::shared_ptr<Action>> all;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, a] : running_actions_)
      all.push_back(a);
  }
  for (auto& a : all)
    a->tick();
}

bool Integrations::check_now(const std::string& type, const std::string& name) {
  std::shared_ptr<ConnectorState> s;
  {
    std::lock_guard lock(mutex_);
    auto it = running_connectors_.find(id_of(type, name));
    if (it == running_connectors_.end() || !it->second.state) return false;
    s = it->second.state;
  }
  s->check_now();
  return true;
}

std::string Integrations::probe_connector(const std::string& type, const std::string& name,
                                          std::string_view text) const {
  try {
    auto c = config::read_connector(type, name, text, "body");
    // An mqtt connector connects on its own thread: its health is asked for a moment.
    auto conn = make_(c);
    if (c.type == "mqtt") {
      for (int i = 0; i < 50; ++i) {
        std::string why;
        if (conn->health_check(c.connect_timeout, why) != Status::Connecting) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
    std::string reason;
    if (conn->health_check(c.connect_timeout, reason) != Status::Connected) return reason;
    return "";
  } catch (const std::exception& x) {
    return x.what();
  }
}

}  // namespace emqxd::connectors
