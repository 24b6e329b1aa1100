#include "auth/authorization.hpp"

#include "auth/authz_builtin.hpp"
#include "auth/authz_http.hpp"
#include "auth/db/db_auth.hpp"
#include "auth/file_error.hpp"

namespace emqxd::auth {

namespace {

// The key's first byte: action (bit 0), retain (bit 1), QoS (bits 2-3).
// An acl.conf.
class FileSource final : public AuthzSource {
 public:
  explicit FileSource(std::shared_ptr<const AclRules> rules) : rules_(std::move(rules)) {}
  std::optional<Permission> match(const Subject& subject, const AclAction& action,
                                  std::string_view topic) const override {
    return rules_->match(subject.acl_client(), action, topic);
  }
  std::string_view type() const override { return "file"; }

 private:
  std::shared_ptr<const AclRules> rules_;
};

// A database source (postgresql, mysql, redis): its rules are per client, fetched after
// authentication and kept in the Subject (Subject::source_rules, at this source's index).
class DbSource final : public AuthzSource {
 public:
  DbSource(std::size_t index, std::string_view type) : index_(index), type_(static_name(type)) {}
  std::string_view type() const override { return type_; }
  std::optional<Permission> match(const Subject& subject, const AclAction& action,
                                  std::string_view topic) const override {
    const auto& r = subject.source_rules;
    if (!r || index_ >= r->by_source.size() || !r->by_source[index_]) return std::nullopt;
    return r->by_source[index_]->match(subject.acl_client(), action, topic);
  }

 private:
  static std::string_view static_name(std::string_view t) {
    for (std::string_view n : {"postgresql", "mysql", "redis", "mongodb"}) {
      if (n == t) return n;
    }
    return "database";
  }
  std::size_t index_;
  std::string_view type_;
};

std::vector<std::shared_ptr<const AuthzSource>> as_sources(
    std::vector<std::shared_ptr<const AclRules>> files) {
  std::vector<std::shared_ptr<const AuthzSource>> out;
  for (auto& f : files) {
    // For tests: a null entry stands for a database source, whose rules are per client.
    if (f) {
      out.push_back(std::make_shared<const FileSource>(std::move(f)));
    } else {
      out.push_back(std::make_shared<const DbSource>(out.size(), "database"));
    }
  }
  return out;
}

char action_byte(const AclAction& a) {
  return static_cast<char>((a.type == AclActionType::Subscribe ? 1 : 0) | (a.retain ? 2 : 0) |
                           ((a.qos & 3) << 2));
}

}  // namespace

// ----------------------------------------------------------------------------- AuthzCache

std::optional<bool> AuthzCache::get(const AclAction& action, std::string_view topic,
                                    Clock::time_point now) {
  static thread_local std::string key;
  key.assign(1, action_byte(action));
  key.append(topic);
  auto found = index_.find(std::string_view(key));
  if (found == index_.end()) return std::nullopt;
  auto it = found->second;
  if (it->expires <= now) {
    erase(it);
    return std::nullopt;
  }
  lru_.splice(lru_.begin(), lru_, it);  // most recently used; iterators stay valid
  return it->allow;
}

void AuthzCache::put(const AclAction& action, std::string_view topic, bool allow,
                     Clock::time_point now) {
  if (max_size_ == 0) return;
  std::string key(1, action_byte(action));
  key.append(topic);
  if (auto found = index_.find(std::string_view(key)); found != index_.end()) {
    erase(found->second);
  }
  while (lru_.size() >= max_size_) {
    erase(std::prev(lru_.end()));
  }
  lru_.push_front(Entry{std::move(key), allow, now + ttl_});
  index_.emplace(std::string_view(lru_.front().key), lru_.begin());
  bytes_ += kEntryBytes + static_cast<std::int64_t>(lru_.front().key.size());
}

void AuthzCache::erase(std::list<Entry>::iterator it) {
  bytes_ -= kEntryBytes + static_cast<std::int64_t>(it->key.size());
  index_.erase(std::string_view(it->key));
  lru_.erase(it);
}

// ----------------------------------------------------------------------------- Authorization

Authorization::Authorization(const config::AuthorizationConfig& cfg,
                             std::vector<std::shared_ptr<const AclRules>> sources)
    : Authorization(cfg, as_sources(std::move(sources))) {}

Authorization::Authorization(const config::AuthorizationConfig& cfg,
                             std::vector<std::shared_ptr<const AuthzSource>> sources)
    : no_match_allow_(cfg.no_match != "deny"),
      disconnect_on_deny_(cfg.deny_action == "disconnect"),
      cache_enable_(cfg.cache_enable),
      cache_max_size_(cfg.cache_max_size),
      cache_ttl_(cfg.cache_ttl),
      cache_excludes_(cfg.cache_excludes),
      sources_(std::move(sources)) {
  for (const auto& src : sources_) {
    if (src->remote()) has_remote_ = true;
  }
}

Authorization::Authorization(const config::AuthorizationConfig& cfg, const HttpClient& http)
    : Authorization(cfg, std::vector<std::shared_ptr<const AuthzSource>>{}) {
  for (const auto& src : cfg.sources) {
    if (!src.enable) continue;
    if (src.type == "http") {
      if (!http) throw config::ConfigError(src.origin + ": " + src.key + ": no HTTP client");
      sources_.push_back(std::make_shared<const HttpAuthzSource>(src, http));
      has_remote_ = true;
      continue;
    }
    if (src.type == "built_in_database") {
      builtin_ = std::make_shared<BuiltinRules>(src.max_rules);
      sources_.push_back(builtin_);
      continue;
    }
    if (src.type != "file") {  // postgresql, mysql, redis: rules per client, fetched
      try {
        fetchers_.emplace_back(sources_.size(), std::make_shared<const db::RuleSource>(src));
      } catch (const std::runtime_error& e) {
        throw config::ConfigError(src.origin + ": " + e.what());
      }
      sources_.push_back(std::make_shared<const DbSource>(sources_.size(), src.type));
      continue;
    }
    try {
      sources_.push_back(std::make_shared<const FileSource>(
          std::make_shared<const AclRules>(AclRules::load(src.path))));
    } catch (const AuthFileError& e) {
      throw config::ConfigError(src.origin + ": " + src.key + ".path: " + e.what());
    }
  }
}

Authorization::Local Authorization::check_local(const Subject& subject, const AclAction& action,
                                                std::string_view topic) const {
  if (subject.is_superuser) return {AuthzDecision{true, AuthzVia::Superuser, false}};
  if (subject.acl) {
    if (auto p = subject.acl->match(subject.acl_client(), action, topic)) {
      return {AuthzDecision{*p == Permission::Allow, AuthzVia::Matched, false, "client_info"}};
    }
  }
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    if (sources_[i]->remote()) return {std::nullopt, i};
    if (auto p = sources_[i]->match(subject, action, topic)) {
      return {
          AuthzDecision{*p == Permission::Allow, AuthzVia::Matched, false, sources_[i]->type()}};
    }
  }
  return {AuthzDecision{no_match_allow_, AuthzVia::NoMatch, false}};
}

AuthzDecision Authorization::check_from(std::size_t from, const Subject& subject,
                                        const AclAction& action, std::string_view topic) const {
  for (std::size_t i = from; i < sources_.size(); ++i) {
    if (auto p = sources_[i]->match(subject, action, topic)) {
      return {*p == Permission::Allow, AuthzVia::Matched, false, sources_[i]->type()};
    }
  }
  return {no_match_allow_, AuthzVia::NoMatch, false};
}

AuthzDecision Authorization::check(const Subject& subject, const AclAction& action,
                                   std::string_view topic) const {
  Local l = check_local(subject, action, topic);
  if (l.decided) return *l.decided;
  return check_from(l.remote_from, subject, action, topic);
}

Authorization::Local Authorization::authorize_local(const Subject& subject, const AclAction& action,
                                                    std::string_view topic, AuthzCache* cache,
                                                    AuthzCache::Clock::time_point now) const {
  if (cache == nullptr || subject.is_superuser || !cacheable(topic)) {
    return check_local(subject, action, topic);
  }
  if (auto hit = cache->get(action, topic, now)) {
    return {AuthzDecision{*hit, AuthzVia::Cache, false}};
  }
  Local l = check_local(subject, action, topic);
  if (l.decided) {
    l.decided->cache_miss = true;
    cache->put(action, topic, l.decided->allow, now);
  } else {
    l.cache_answer = true;
  }
  return l;
}

AuthzDecision Authorization::authorize(const Subject& subject, const AclAction& action,
                                       std::string_view topic, AuthzCache* cache,
                                       AuthzCache::Clock::time_point now) const {
  Local l = authorize_local(subject, action, topic, cache, now);
  if (l.decided) return *l.decided;
  AuthzDecision d = check_from(l.remote_from, subject, action, topic);
  if (l.cache_answer) {
    d.cache_miss = true;
    cache->put(action, topic, d.allow, now);
  }
  return d;
}

std::shared_ptr<const SourceRules> Authorization::fetch(
    std::map<std::string, std::string, std::less<>> vars) const {
  auto out = std::make_shared<SourceRules>();
  out->by_source.resize(sources_.size());
  for (const auto& [index, source] : fetchers_)
    out->by_source[index] = source->fetch(vars);
  out->fetched_at = std::chrono::steady_clock::now();
  out->vars = std::move(vars);
  return out;
}

std::size_t Authorization::concurrency() const {
  std::size_t n = 0;
  for (const auto& f : fetchers_)
    n += f.second->pool_size();
  return n;
}

std::unique_ptr<AuthzCache> Authorization::make_cache() const {
  if (!cache_enable_ || sources_.empty()) return nullptr;
  return std::make_unique<AuthzCache>(cache_max_size_, cache_ttl_);
}

bool Authorization::cacheable(std::string_view topic) const {
  for (const auto& filter : cache_excludes_) {
    if (acl_topic_matches(topic, filter)) return false;
  }
  return true;
}

}  // namespace emqxd::auth
