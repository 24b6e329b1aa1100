#include "auth/authz_builtin.hpp"

#include <boost/json.hpp>
#include <mutex>

#include "auth/file_error.hpp"
#include "common/log.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::auth {

namespace json = boost::json;

void BuiltinRules::declare(tables::ReplicatedTables& t) {
  t.declare(std::string(kTable), kMaxEntries);
}

void BuiltinRules::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.listen(std::string(kTable), [this](const tables::Entry& e) { apply(e); });
}

std::string BuiltinRules::key_of(Who who, std::string_view name) {
  switch (who) {
    case Who::ClientId:
      return "clientid/" + std::string(name);
    case Who::Username:
      return "username/" + std::string(name);
    case Who::All:
      return "all";
  }
  return "all";
}

void BuiltinRules::apply(const tables::Entry& e) {
  std::shared_ptr<const AclRules> rules;
  if (!e.deleted) {
    json::error_code ec;
    json::value v = json::parse(e.value, ec);
    try {
      if (!ec) rules = std::make_shared<const AclRules>(AclRules::from_raw(v, e.key));
    } catch (const AuthFileError& err) {
      log::get("authz")->warn("built_in_database rules of {}: {}; ignored", e.key, err.what());
    }
  }
  std::unique_lock lock(mutex_);
  if (rules) {
    compiled_[e.key] = std::move(rules);
  } else {
    compiled_.erase(e.key);
  }
}

std::optional<Permission> BuiltinRules::match(const Subject& subject, const AclAction& action,
                                              std::string_view topic) const {
  std::shared_ptr<const AclRules> by_id, by_name, all;
  {
    std::shared_lock lock(mutex_);
    if (compiled_.empty()) return std::nullopt;
    auto find = [&](const std::string& k) -> std::shared_ptr<const AclRules> {
      auto it = compiled_.find(k);
      return it == compiled_.end() ? nullptr : it->second;
    };
    by_id = find(key_of(Who::ClientId, subject.client_id));
    if (subject.username) by_name = find(key_of(Who::Username, *subject.username));
    all = find("all");
  }
  const AclClient client = subject.acl_client();
  for (const auto* r : {by_id.get(), by_name.get(), all.get()}) {
    if (r == nullptr) continue;
    if (auto p = r->match(client, action, topic)) return p;
  }
  return std::nullopt;
}

std::string BuiltinRules::check(const json::value& rules) const {
  if (!rules.is_array()) return "rules must be an array";
  if (rules.as_array().size() > max_rules_) {
    return "at most " + std::to_string(max_rules_) + " rules (max_rules)";
  }
  try {
    (void)AclRules::from_raw(rules, "rules");
  } catch (const AuthFileError& e) {
    return e.what();
  }
  return {};
}

bool BuiltinRules::put(const std::string& key, const json::value& rules) const {
  if (tables_ == nullptr) return false;
  if (rules.as_array().empty()) {
    tables_->erase(std::string(kTable), key);
    return true;
  }
  return tables_->put(std::string(kTable), key, json::serialize(rules));
}

bool BuiltinRules::erase(const std::string& key) const {
  return tables_ != nullptr && tables_->erase(std::string(kTable), key);
}

std::optional<json::value> BuiltinRules::get(const std::string& key) const {
  if (tables_ == nullptr) return std::nullopt;
  auto v = tables_->get(kTable, key);
  if (!v) return std::nullopt;
  json::error_code ec;
  json::value out = json::parse(*v, ec);
  if (ec) return std::nullopt;
  return out;
}

void BuiltinRules::scan(std::string_view prefix,
                        const std::function<bool(std::string_view, const json::value&)>& f) const {
  if (tables_ == nullptr) return;
  tables_->scan(kTable, prefix, [&](const std::string& key, const std::string& value) {
    if (!std::string_view(key).starts_with(prefix)) return false;
    json::error_code ec;
    json::value v = json::parse(value, ec);
    if (ec) return true;
    return f(std::string_view(key).substr(prefix.size()), v);
  });
}

void BuiltinRules::clear() const {
  if (tables_ == nullptr) return;
  std::vector<std::string> keys;
  tables_->scan(kTable, "", [&](const std::string& key, const std::string&) {
    keys.push_back(key);
    return true;
  });
  for (const auto& k : keys)
    tables_->erase(std::string(kTable), k);
}

}  // namespace emqxd::auth
