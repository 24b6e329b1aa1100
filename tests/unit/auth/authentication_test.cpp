// The authentication chain (server/auth/authentication.hpp): EMQX's ignore/allow/deny
// semantics, the built-in database from a bootstrap file, JWT with a JWKS document fetched
// through an injected HTTP client, the http backend's answers, and the chain asked from
// several threads at once (the TSan leg runs this binary).
#include "auth/authentication.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <thread>

#include "auth/jwt_fixtures.hpp"
#include "common/blocking_pool.hpp"

namespace {

using emqxd::auth::Authentication;
using emqxd::auth::Credentials;
using emqxd::auth::HttpAnswer;
using emqxd::auth::HttpCall;
using emqxd::config::AuthenticatorConfig;
using emqxd::config::Config;
using emqxd::mqtt::ReasonCode;

Credentials creds(std::string user, std::string password, std::string client = "c1") {
  Credentials c;
  c.client_id = std::move(client);
  c.username = std::move(user);
  c.password = std::move(password);
  c.peerhost = "127.0.0.1";
  return c;
}

// A bootstrap CSV in the temp directory, removed at the end.
struct UsersFile {
  std::string path;
  explicit UsersFile(const std::string& rows) {
    std::string name = "/tmp/emqxd-authn-test-XXXXXX.csv";
    int fd = mkstemps(name.data(), 4);
    REQUIRE(fd >= 0);
    close(fd);
    path = name;
    std::ofstream(path) << "user_id,password,is_superuser\n" << rows;
  }
  ~UsersFile() { std::remove(path.c_str()); }
};

AuthenticatorConfig built_in(const std::string& path, std::string algo = "sha256") {
  AuthenticatorConfig a;
  a.key = "authentication[1]";
  a.mechanism = "password_based";
  a.backend = "built_in_database";
  a.password_hash_algorithm.name = std::move(algo);
  a.bootstrap_file = path;
  return a;
}

}  // namespace

TEST_CASE("authentication: an empty chain lets everyone in, all ignoring refuses 0x87",
          "[auth][authn]") {
  Config cfg;
  auto empty = Authentication::from_config(cfg);
  CHECK(empty->empty());
  CHECK(empty->authenticate(creds("anyone", "x")).allowed);

  UsersFile users("alice,alice-pw,false\nroot,root-pw,true\n");
  cfg.authentication.push_back(built_in(users.path));
  auto chain = Authentication::from_config(cfg);
  CHECK_FALSE(chain->blocking());  // sha256 runs on the worker
  auto ok = chain->authenticate(creds("alice", "alice-pw"));
  CHECK(ok.allowed);
  CHECK_FALSE(ok.is_superuser);
  CHECK(chain->authenticate(creds("root", "root-pw")).is_superuser);
  auto wrong = chain->authenticate(creds("alice", "nope"));
  CHECK_FALSE(wrong.allowed);
  CHECK(wrong.reason == ReasonCode::BadUserNameOrPassword);
  CHECK(wrong.by == "authentication[1]");
  auto unknown = chain->authenticate(creds("mallory", "x"));
  CHECK_FALSE(unknown.allowed);
  CHECK(unknown.reason == ReasonCode::NotAuthorized);
}

TEST_CASE("authentication: JWT keys from a JWKS endpoint, through the HTTP client",
          "[auth][authn][jwt]") {
  std::atomic<int> fetches{0};
  std::atomic<int> status{200};
  auto client = [&](const HttpCall& call) {
    ++fetches;
    CHECK(call.method == "GET");
    CHECK(call.host == "127.0.0.1");
    CHECK(call.port == "8080");
    CHECK(call.target == "/jwks?x=1");
    HttpAnswer a;
    a.reached = true;
    a.status = status.load();
    a.body = emqxd::auth::test::kJWKS;
    return a;
  };
  Config cfg;
  AuthenticatorConfig j;
  j.key = "authentication[1]";
  j.mechanism = "jwt";
  j.use_jwks = true;
  j.endpoint = "http://127.0.0.1:8080/jwks?x=1";
  j.refresh_interval = std::chrono::milliseconds(1000);
  cfg.authentication.push_back(j);
  auto chain = Authentication::from_config(cfg, client);
  CHECK(fetches.load() == 1);  // at start, before the first client
  auto ok = chain->authenticate(creds("u", emqxd::auth::test::kRS256_KID));
  CHECK(ok.allowed);
  REQUIRE(ok.acl != nullptr);  // the token's {"acl": {"pub": ["a/#"]}}
  CHECK(ok.expires_at_ms == std::optional<std::int64_t>(4102444800000));
  // Not a token: ignored by the only authenticator, so refused.
  CHECK(chain->authenticate(creds("u", "not-a-token")).reason == ReasonCode::NotAuthorized);
}

TEST_CASE("authentication: the http backend reads EMQX's answers", "[auth][authn][http]") {
  std::mutex m;
  std::vector<HttpCall> calls;
  auto client = [&](const HttpCall& call) {
    std::lock_guard lock(m);
    calls.push_back(call);
    HttpAnswer a;
    a.reached = call.body.find("\"down\"") == std::string::npos;
    a.error = "Connection refused";
    a.status = 200;
    if (call.body.find("\"ok\"") != std::string::npos) {
      a.body = R"({"result": "allow", "is_superuser": true})";
    } else if (call.body.find("\"no\"") != std::string::npos) {
      a.body = R"({"result": "deny"})";
    } else {
      a.status = 404;
    }
    return a;
  };
  Config cfg;
  AuthenticatorConfig h;
  h.key = "authentication[1]";
  h.mechanism = "password_based";
  h.backend = "http";
  h.url = "http://auth.local:9000/check/${clientid}";
  h.body = {{"username", "${username}"}, {"password", "${password}"}};
  cfg.authentication.push_back(h);
  auto chain = Authentication::from_config(cfg, client);
  CHECK(chain->blocking());
  CHECK(chain->concurrency() == 8);
  auto ok = chain->authenticate(creds("ok", "p\"w", "a b"));
  CHECK(ok.allowed);
  CHECK(ok.is_superuser);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].method == "POST");
  CHECK(calls[0].host == "auth.local");
  CHECK(calls[0].port == "9000");
  CHECK(calls[0].target == "/check/a%20b");
  CHECK(calls[0].content_type == "application/json");
  CHECK(chain->authenticate(creds("no", "x")).reason == ReasonCode::NotAuthorized);
  CHECK(chain->authenticate(creds("other", "x")).reason == ReasonCode::NotAuthorized);  // 404
  CHECK(chain->authenticate(creds("down", "x")).reason == ReasonCode::NotAuthorized);
}

TEST_CASE("authentication: a bcrypt chain on a blocking pool, from many threads at once",
          "[auth][authn][threads]") {
  UsersFile users("alice,alice-pw,false\n");
  Config cfg;
  auto a = built_in(users.path, "bcrypt");
  a.password_hash_algorithm.salt_rounds = 5;
  cfg.authentication.push_back(a);
  auto chain = Authentication::from_config(cfg);
  CHECK(chain->blocking());
  emqxd::common::BlockingPool pool(2, 100, "test-authn");
  std::atomic<int> allowed{0}, refused{0}, done{0};
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        const bool right = (i + t) % 2 == 0;
        REQUIRE(pool.submit([&, right] {
          auto o = chain->authenticate(creds("alice", right ? "alice-pw" : "wrong"));
          (o.allowed ? allowed : refused)++;
          ++done;
        }));
      }
    });
  }
  for (auto& s : submitters)
    s.join();
  for (int i = 0; i < 2000 && done.load() < 20; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  CHECK(done.load() == 20);
  CHECK(allowed.load() == 10);
  CHECK(refused.load() == 10);
}

TEST_CASE("blocking pool: bounded, and stop drops what waits", "[common][pool]") {
  emqxd::common::BlockingPool pool(1, 2, "test-pool");
  std::mutex gate;
  std::unique_lock hold(gate);
  std::atomic<int> ran{0};
  CHECK(pool.submit([&] {
    std::lock_guard wait(gate);  // the one thread waits here
    ++ran;
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // taken off the queue
  CHECK(pool.submit([&] { ++ran; }));
  CHECK(pool.submit([&] { ++ran; }));
  CHECK_FALSE(pool.submit([&] { ++ran; }));  // two wait: full
  hold.unlock();
  pool.stop();
  CHECK_FALSE(pool.submit([&] { ++ran; }));
  CHECK(ran.load() >= 1);
  CHECK(ran.load() <= 3);
}
