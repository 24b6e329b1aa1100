#pragma once
// Authorization: EMQX 5's `authorization` chain, built once from the config and shared
// read-only by every worker. Asked for every PUBLISH (the will too) and every SUBSCRIBE
// filter:
//
//   1. a superuser (Subject::is_superuser, set by authentication) may do anything;
//   2. the Subject's own rules (Subject::acl, the `acl` claim of its JWT), when it has any;
//   3. each enabled source in config order: `file` (an acl.conf: the first rule that
//      matches decides), `http` (auth/authz_http.hpp: a request per decision, whose
//      answer may be ignore) and the databases (postgresql, mysql, redis: auth/db/
//      db_auth.hpp: rules per client, in Subject::source_rules); the first source that
//      decides wins;
//   4. nothing matched: `authorization.no_match`.
//
// An http source may take as long as its request_timeout, so a worker never asks it: the
// channel runs the chain up to the first such (remote) source itself (check_local), and
// when that does not decide, the rest (check_from) runs on the node's blocking pool while
// the client's later packets wait (session/channel_authz.cpp,
// docs/architecture.md#authorization-that-waits).
//
// Each connection keeps an AuthzCache of its recent decisions (EMQX's authorization
// cache): `max_size` entries, least recently used out, each for `ttl`, keyed by action,
// QoS, retain and topic; topics matched by a `cache.excludes` filter are never cached.
// Superusers skip the cache (nothing to look up), and so does a chain with no source
// (no_match and the Subject's own rules are cheaper than the lookup).
//
// The rules of a database source depend only on who the client is (EMQX asks the database
// at every check that misses the cache; emqxd does not): they are fetched once, right
// after authentication and off the worker (fetch(), in the same blocking-pool task as the
// authentication chain), compiled, and kept in the Subject. A check matches them in
// source order like a file's rules, with no I/O. When they are older than
// authorization.cache.ttl (stale()), the channel has them fetched again in the
// background and goes on with the old ones until the new ones arrive. A source whose
// server cannot be asked gives no rules (nomatch) until the next fetch.
//
// Threads: Authorization is immutable after construction, any thread may call it at once.
// An AuthzCache belongs to its connection's worker.
#include <chrono>
#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/acl_rules.hpp"
#include "auth/http_backend.hpp"
#include "auth/subject.hpp"
#include "config/config.hpp"

namespace emqxd::auth {

namespace db {
class RuleSource;
}
class BuiltinRules;

// One source of the chain. Immutable; any thread, concurrently.
class AuthzSource {
 public:
  virtual ~AuthzSource() = default;
  // Allow or deny; nullopt when the source does not decide (no rule matched, the server
  // said ignore or did not answer): the chain goes on.
  virtual std::optional<Permission> match(const Subject& subject, const AclAction& action,
                                          std::string_view topic) const = 0;
  // Whether match() may block (a request to a server).
  virtual bool remote() const { return false; }
  // Its type as EMQX names it ("file", "http", "built_in_database", "postgresql", ...): a
  // static string, the authz_source of the rules' client_check_authz_complete.
  virtual std::string_view type() const = 0;
};

// How a decision was reached, for EMQX's metrics: authorization.superuser,
// .matched.allow/.matched.deny, .nomatch, .cache_hit.
enum class AuthzVia : std::uint8_t { Superuser, Matched, NoMatch, Cache };

struct AuthzDecision {
  bool allow = true;
  AuthzVia via = AuthzVia::NoMatch;
  bool cache_miss = false;  // looked up in the cache first, not found (authorization.cache_miss)
  std::string_view source;  // Matched: the deciding source's type() (static), "client_info"
};

// One connection's cache of decisions. Not thread-safe: its connection's worker only.
class AuthzCache {
 public:
  using Clock = std::chrono::steady_clock;
  // What one entry costs the connection's memory account besides its topic: the list node,
  // the hash node and its share of the buckets.
  static constexpr std::int64_t kEntryBytes = 128;

  AuthzCache(std::size_t max_size, Clock::duration ttl) : max_size_(max_size), ttl_(ttl) {}

  // The decision cached for this action and topic, unless missing or older than ttl (an
  // expired entry is dropped).
  std::optional<bool> get(const AclAction& action, std::string_view topic, Clock::time_point now);
  // Remembers a decision; the least recently used entry goes when the cache is full.
  void put(const AclAction& action, std::string_view topic, bool allow, Clock::time_point now);

  std::size_t size() const { return lru_.size(); }
  // For the connection's memory account (force_shutdown.max_heap_size).
  std::int64_t bytes() const { return bytes_; }

 private:
  struct Entry {
    std::string key;  // one byte of action, QoS and retain, then the topic
    bool allow = false;
    Clock::time_point expires{};
  };
  void erase(std::list<Entry>::iterator it);

  std::size_t max_size_;
  Clock::duration ttl_;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;  // views into lru_
  std::int64_t bytes_ = 0;
};

class Authorization {
 public:
  // No sources, no_match = allow: everything is allowed (emqxd with no authorization
  // section, EMQX with sources = []).
  Authorization() = default;
  // Reads and compiles every enabled source. Throws config::ConfigError naming where the
  // source was configured and what is wrong in its file ("emqx.conf:40:
  // authorization.sources[1].path: acl.conf:3:5: ..."), or an http source without a client.
  explicit Authorization(const config::AuthorizationConfig& cfg)
      : Authorization(cfg, HttpClient{}) {}
  // For tests: the sources already compiled, with the rest of the settings from `cfg`
  // (its `sources` are ignored).
  Authorization(const config::AuthorizationConfig& cfg,
                std::vector<std::shared_ptr<const AclRules>> sources);

  // For tests: any sources (file or remote), the rest of the settings from `cfg`.
  Authorization(const config::AuthorizationConfig& cfg,
                std::vector<std::shared_ptr<const AuthzSource>> sources);
  // The file and http sources of `cfg`, http requests through `http` (required when an
  // http source is enabled).
  Authorization(const config::AuthorizationConfig& cfg, const HttpClient& http);

  // The chain without the cache: superuser, the Subject's own rules, the sources, no_match.
  // Blocks while a remote source is asked.
  AuthzDecision check(const Subject& subject, const AclAction& action,
                      std::string_view topic) const;

  // The part of the chain a worker may run: the cache (when given), superuser, the
  // Subject's own rules, the sources before the first remote one. Either it decides, or
  // the rest is to be asked with check_from(remote_from, ...) off the worker; then, when
  // `cache_answer`, the answer goes into the cache (put_cache).
  struct Local {
    std::optional<AuthzDecision> decided;
    std::size_t remote_from = 0;
    bool cache_answer = false;
  };
  Local authorize_local(const Subject& subject, const AclAction& action, std::string_view topic,
                        AuthzCache* cache, AuthzCache::Clock::time_point now) const;
  // The chain from source `from` on, then no_match. May block (remote sources).
  AuthzDecision check_from(std::size_t from, const Subject& subject, const AclAction& action,
                           std::string_view topic) const;
  // Whether some source is remote: the channel then asks authorize_local first.
  bool has_remote() const { return has_remote_; }
  // The chain with the connection's cache in front (null: no cache), as the channel asks.
  AuthzDecision authorize(const Subject& subject, const AclAction& action, std::string_view topic,
                          AuthzCache* cache, AuthzCache::Clock::time_point now) const;

  // A cache for one connection, or null when caching is off or useless (no source).
  std::unique_ptr<AuthzCache> make_cache() const;
  // Whether decisions about `topic` may be cached (cache.excludes).
  bool cacheable(std::string_view topic) const;
  bool disconnect_on_deny() const { return disconnect_on_deny_; }
  std::size_t source_count() const { return sources_.size(); }
  // The built_in_database source when enabled (its rules are managed through the API and
  // kept in the replicated tables: app::Node attaches it), else null.
  // (The source lives on the heap: attaching it changes nothing of this object.)
  BuiltinRules* builtin_rules() const { return builtin_.get(); }

  // Whether any source is a database, whose rules fetch() gets per client.
  bool fetches() const { return !fetchers_.empty(); }
  // Asks every database source for the rules of the client with these placeholder values
  // (no ${password}); blocks up to each source's query_timeout. Any thread.
  std::shared_ptr<const SourceRules> fetch(
      std::map<std::string, std::string, std::less<>> vars) const;
  // Whether `r` is older than cache.ttl: time to fetch again.
  bool stale(const SourceRules& r, std::chrono::steady_clock::time_point now) const {
    return now - r.fetched_at >= cache_ttl_;
  }
  // Threads the database sources want for their blocking fetches (their pool_size).
  std::size_t concurrency() const;

 private:
  bool no_match_allow_ = true;
  bool disconnect_on_deny_ = false;
  bool cache_enable_ = true;
  std::size_t cache_max_size_ = 32;
  std::chrono::milliseconds cache_ttl_{60'000};
  std::vector<std::string> cache_excludes_;
  Local check_local(const Subject& subject, const AclAction& action, std::string_view topic) const;

  std::vector<std::shared_ptr<const AuthzSource>> sources_;  // the enabled ones, in order
  bool has_remote_ = false;
  std::shared_ptr<BuiltinRules> builtin_;  // also in sources_
  // The database sources, by their index in sources_.
  std::vector<std::pair<std::size_t, std::shared_ptr<const db::RuleSource>>> fetchers_;
};

}  // namespace emqxd::auth
