// Authorization (server/auth/authorization.hpp): EMQX's chain (superuser, the client's own
// rules, the sources in order, no_match), its per-connection cache, and start-up errors.
#include "auth/authorization.hpp"

#include <unistd.h>

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace {

using namespace emqxd::auth;
using emqxd::config::AuthorizationConfig;
using emqxd::config::AuthzSourceConfig;
using Clock = AuthzCache::Clock;
using namespace std::chrono_literals;

AclAction pub(int qos = 0, bool retain = false) {
  return {AclActionType::Publish, qos, retain};
}
AclAction sub(int qos = 0) {
  return {AclActionType::Subscribe, qos, false};
}

Subject who(std::string id, std::optional<std::string> user = std::nullopt,
            std::string_view ip = "10.1.2.3") {
  Subject s;
  s.client_id = std::move(id);
  s.username = std::move(user);
  s.peer = IpAddress::parse(ip);
  return s;
}

std::shared_ptr<const AclRules> rules(std::string_view text) {
  return std::make_shared<const AclRules>(AclRules::parse(text, "acl.conf"));
}

// A file in the temporary directory, removed with the object.
struct TempFile {
  explicit TempFile(const std::string& text) {
    char name[] = "/tmp/emqxd-authz-test-XXXXXX";
    int fd = ::mkstemp(name);
    REQUIRE(fd >= 0);
    ::close(fd);
    path = name;
    std::ofstream(path) << text;
  }
  ~TempFile() { std::remove(path.c_str()); }
  std::string path;
};

}  // namespace

TEST_CASE("authorization: no sources is no_match for everyone", "[authz]") {
  Authorization allow_all;
  auto d = allow_all.check(who("c1"), pub(), "a/b");
  CHECK(d.allow);
  CHECK(d.via == AuthzVia::NoMatch);
  CHECK(allow_all.make_cache() == nullptr);  // nothing worth caching

  AuthorizationConfig cfg;
  cfg.no_match = "deny";
  Authorization deny_all(cfg);
  CHECK_FALSE(deny_all.check(who("c1"), sub(), "a/b").allow);
  CHECK(deny_all.check(who("c1"), sub(), "a/b").via == AuthzVia::NoMatch);
}

TEST_CASE("authorization: superuser, the client's own acl, then the sources in order", "[authz]") {
  AuthorizationConfig cfg;
  cfg.no_match = "deny";
  Authorization az(cfg, {rules("{deny, all, publish, [\"first/#\"]}.\n"
                               "{allow, {username, \"u\"}, all, [\"${username}/#\"]}."),
                         rules("{allow, all, publish, [\"first/#\", \"second/#\"]}.")});
  // The first source decides where it matches; the second where only it does.
  CHECK_FALSE(az.check(who("c"), pub(), "first/x").allow);
  CHECK(az.check(who("c"), pub(), "first/x").via == AuthzVia::Matched);
  CHECK(az.check(who("c"), pub(), "second/x").allow);
  CHECK(az.check(who("c", "u"), sub(), "u/1").allow);
  CHECK_FALSE(az.check(who("c", "v"), sub(), "u/1").allow);
  CHECK(az.check(who("c", "v"), sub(), "u/1").via == AuthzVia::NoMatch);

  // The Subject's own rules (a JWT's acl claim) come before every source.
  Subject jwt = who("c");
  jwt.acl = std::make_shared<const AclRules>(AclRules::from_raw(
      boost::json::parse(R"([{"permission": "allow", "action": "publish", "topic": "first/ok"}])"),
      "jwt"));
  CHECK(az.check(jwt, pub(), "first/ok").allow);
  CHECK_FALSE(az.check(jwt, pub(), "first/other").allow);  // the claim did not match

  // A superuser may do anything, denials included.
  Subject root = who("c");
  root.is_superuser = true;
  auto d = az.check(root, pub(), "first/x");
  CHECK(d.allow);
  CHECK(d.via == AuthzVia::Superuser);
}

TEST_CASE("authorization: disabled sources are skipped, a bad file names its line", "[authz]") {
  TempFile good("{deny, all, subscribe, [\"secret/#\"]}.\n{allow, all}.\n");
  AuthorizationConfig cfg;
  cfg.sources.push_back(
      AuthzSourceConfig{"file", true, good.path, "authorization.sources[1]", "emqx.conf:7", {}});
  Authorization az(cfg);
  CHECK(az.source_count() == 1);
  CHECK_FALSE(az.check(who("c"), sub(), "secret/x").allow);

  cfg.sources[0].enable = false;
  CHECK(Authorization(cfg).source_count() == 0);

  TempFile bad("{allow, all}.\n{allow, {usr, \"x\"}, all, [\"#\"]}.\n");
  cfg.sources[0] =
      AuthzSourceConfig{"file", true, bad.path, "authorization.sources[1]", "emqx.conf:7", {}};
  try {
    Authorization broken(cfg);
    FAIL("no error");
  } catch (const emqxd::config::ConfigError& e) {
    std::string what = e.what();
    INFO(what);
    CHECK(what.starts_with("emqx.conf:7: authorization.sources[1].path: " + bad.path + ":2:"));
  }
  cfg.sources[0].path = "/nonexistent/acl.conf";
  CHECK_THROWS_WITH(Authorization(cfg),
                    Catch::StartsWith("emqx.conf:7: authorization.sources[1].path: "
                                      "/nonexistent/acl.conf: cannot read the file"));
}

TEST_CASE("authorization cache: hit, miss, ttl, LRU and excludes", "[authz][cache]") {
  AuthorizationConfig cfg;
  cfg.cache_max_size = 2;
  cfg.cache_ttl = 10s;
  cfg.cache_excludes = {"live/#"};
  Authorization az(cfg, {rules("{deny, all, publish, [\"no/#\"]}.\n{allow, all}.")});
  auto cache = az.make_cache();
  REQUIRE(cache != nullptr);
  Subject s = who("c");
  auto t0 = Clock::now();

  auto d = az.authorize(s, pub(), "no/1", cache.get(), t0);
  CHECK_FALSE(d.allow);
  CHECK(d.cache_miss);
  CHECK(d.via == AuthzVia::Matched);
  d = az.authorize(s, pub(), "no/1", cache.get(), t0 + 1s);
  CHECK_FALSE(d.allow);  // a denial is cached too
  CHECK(d.via == AuthzVia::Cache);
  CHECK_FALSE(d.cache_miss);

  // QoS and retain are part of the key: a QoS 1 publish is another entry.
  CHECK(az.authorize(s, pub(1), "no/1", cache.get(), t0).cache_miss);
  CHECK(cache->size() == 2);
  CHECK(cache->bytes() == 2 * (AuthzCache::kEntryBytes + 5));

  // LRU: no/1 QoS 0 was used last but one... touch it, then a third entry evicts QoS 1.
  CHECK(az.authorize(s, pub(), "no/1", cache.get(), t0 + 2s).via == AuthzVia::Cache);
  CHECK(az.authorize(s, sub(), "ok/1", cache.get(), t0 + 2s).cache_miss);
  CHECK(cache->size() == 2);
  CHECK(az.authorize(s, pub(), "no/1", cache.get(), t0 + 3s).via == AuthzVia::Cache);
  CHECK(az.authorize(s, pub(1), "no/1", cache.get(), t0 + 3s).cache_miss);

  // ttl: an entry older than 10 s is looked up again.
  CHECK(az.authorize(s, pub(1), "no/1", cache.get(), t0 + 12s).via == AuthzVia::Cache);
  d = az.authorize(s, pub(1), "no/1", cache.get(), t0 + 14s);
  CHECK(d.cache_miss);
  CHECK(d.via == AuthzVia::Matched);

  // Excluded topics never enter the cache.
  CHECK_FALSE(az.cacheable("live/x"));
  CHECK(az.cacheable("lively"));
  auto before = cache->size();
  d = az.authorize(s, pub(), "live/x", cache.get(), t0);
  CHECK_FALSE(d.cache_miss);
  CHECK(d.via == AuthzVia::Matched);
  CHECK(az.authorize(s, pub(), "live/x", cache.get(), t0).via == AuthzVia::Matched);
  CHECK(cache->size() == before);

  // A superuser is never looked up.
  Subject root = who("r");
  root.is_superuser = true;
  CHECK(az.authorize(root, pub(), "no/1", cache.get(), t0).via == AuthzVia::Superuser);

  cfg.cache_enable = false;
  CHECK(Authorization(cfg, {rules("{allow, all}.")}).make_cache() == nullptr);
}

TEST_CASE("authorization cache: the memory it holds goes when entries go", "[authz][cache]") {
  AuthzCache cache(3, 1min);
  auto t0 = Clock::now();
  for (int i = 0; i < 10; ++i) {
    cache.put(pub(), "topic/" + std::to_string(i), true, t0);
  }
  CHECK(cache.size() == 3);
  CHECK(cache.bytes() == 3 * (AuthzCache::kEntryBytes + 8));
  CHECK_FALSE(cache.get(pub(), "topic/0", t0).has_value());
  CHECK(cache.get(pub(), "topic/9", t0) == std::optional<bool>(true));
  CHECK_FALSE(cache.get(sub(), "topic/9", t0).has_value());
  CHECK_FALSE(cache.get(pub(), "topic/9", t0 + 2min).has_value());  // expired: dropped
  CHECK(cache.size() == 2);
  CHECK(cache.bytes() == 2 * (AuthzCache::kEntryBytes + 8));
  cache.put(pub(), "topic/8", false, t0);  // replaces, does not add
  CHECK(cache.size() == 2);
  CHECK(cache.get(pub(), "topic/8", t0) == std::optional<bool>(false));
}

TEST_CASE("authorization: a database source's slot holds each client's own rules", "[authz]") {
  AuthorizationConfig cfg;
  cfg.no_match = "deny";
  // sources[1] stands for a database source: no rules of its own (null), the client's in
  // Subject::source_rules, matched between the file sources around it.
  Authorization az(cfg, {rules("{deny, all, all, [\"file1/#\"]}.\n"), nullptr,
                         rules("{allow, all, all, [\"file1/#\", \"db/#\", \"file3/#\"]}.\n")});
  auto alice = who("c1", "alice");
  auto mine = std::make_shared<SourceRules>();
  mine->by_source = {nullptr,
                     std::make_shared<const AclRules>(AclRules::from_raw(
                         boost::json::parse(R"([{"permission": "deny", "action": "subscribe",
                                                 "topic": "db/secret"},
                                                {"permission": "allow", "action": "all",
                                                 "topic": "mine/${username}"}])"),
                         "authorization.sources[2]")),
                     nullptr};
  // No rules fetched (the server was down): the slot is nomatch, the next source decides.
  CHECK(az.check(alice, sub(), "db/secret").allow);
  CHECK_FALSE(az.check(alice, sub(), "mine/alice").allow);
  alice.source_rules = mine;
  CHECK_FALSE(az.check(alice, sub(), "db/secret").allow);  // the slot's deny, before file3
  CHECK(az.check(alice, sub(), "db/secret").via == AuthzVia::Matched);
  CHECK(az.check(alice, sub(), "mine/alice").allow);
  CHECK_FALSE(az.check(alice, sub(), "mine/bob").allow);  // placeholders are the client's
  CHECK_FALSE(az.check(alice, sub(), "file1/x").allow);   // file1 still comes first
  CHECK(az.check(alice, sub(), "file3/x").allow);
  // Stale once older than cache.ttl (1m by default).
  mine->fetched_at = std::chrono::steady_clock::now();
  CHECK_FALSE(az.stale(*mine, mine->fetched_at + std::chrono::seconds(59)));
  CHECK(az.stale(*mine, mine->fetched_at + std::chrono::seconds(60)));
}
