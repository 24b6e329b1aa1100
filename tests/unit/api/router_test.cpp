// The HTTP API's routing: authentication first, then paths and methods, EMQX's error
// shapes, the cluster requests handed to the node's ClusterControl (a fake here).
#include "api/router.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "api/credentials.hpp"
#include "api/node_ops.hpp"
#include "config/config.hpp"
#include "session/node_state.hpp"

namespace {

namespace json = boost::json;
using emqxd::api::ClusterControl;
using emqxd::api::Credentials;
using emqxd::api::Request;
using emqxd::api::Response;
using emqxd::api::Router;

// Records what it is asked and answers what the test sets.
class FakeControl final : public ClusterControl {
 public:
  Outcome join(const std::string& node) override {
    calls.push_back("join " + node);
    return next;
  }
  Outcome leave() override {
    calls.push_back("leave");
    return next;
  }
  Outcome force_leave(const std::string& node) override {
    calls.push_back("force_leave " + node);
    return next;
  }
  emqxd::api::ClusterStatus status() override {
    calls.push_back("status");
    return status_answer;
  }
  emqxd::api::RouteList routes(const std::string& topic, std::size_t limit) override {
    calls.push_back("routes " + topic + " " + std::to_string(limit));
    return routes_answer;
  }
  std::vector<std::string> running_nodes() override { return {"n1@h"}; }
  std::optional<emqxd::api::NodeAnswer> ask(const std::string& node, const std::string& name,
                                            const std::string& args,
                                            std::chrono::milliseconds) override {
    calls.push_back("ask " + node + " " + name + " " + args);
    if (node != "n1@h") return std::nullopt;
    return local(name, args);
  }
  // This node's answer: the test's NodeOps.
  std::function<emqxd::api::NodeAnswer(const std::string&, const std::string&)> local;
  Outcome next{200, "ok"};
  emqxd::api::ClusterStatus status_answer = [] {
    emqxd::api::ClusterStatus st;
    st.name = "c";
    st.self = "n1@h";
    return st;
  }();
  emqxd::api::RouteList routes_answer;
  std::vector<std::string> calls;
};

emqxd::config::Config test_config() {
  emqxd::config::Config c;
  c.node.name = "n1@127.0.0.1";
  c.cluster.rpc_bind = "0.0.0.0:4371";
  return c;
}

const std::string kAuth = "Basic " + emqxd::api::base64_encode("admin:s3cret");

struct TestApi {
  TestApi()
      : state(test_config()),
        credentials(Credentials::make("admin", "s3cret", 1000)),
        ops(state, {}, "test"),
        router(state, credentials, control, no_lockout()) {
    control.local = [this](const std::string& name, const std::string& args) {
      return ops.answer(name, args);
    };
  }

  // Tests here fail many logins on purpose; the lockout has its own test.
  static emqxd::api::RouterOptions no_lockout() {
    emqxd::api::RouterOptions o;
    o.login.max_attempts = 1'000'000;
    return o;
  }

  Response call(const std::string& method, const std::string& target, std::string body = "",
                std::string authorization = kAuth) {
    Request r;
    r.method = method;
    r.target = target;
    r.body = std::move(body);
    r.authorization = std::move(authorization);
    r.peer = "127.0.0.1:1";
    return router.handle(r);
  }

  FakeControl control;  // before the router, which refers to it
  emqxd::session::NodeState state;
  Credentials credentials;
  emqxd::api::NodeOps ops;  // this node's part of the cluster's answers; no workers
  Router router;
};

json::object body_of(const Response& r) {
  json::value v = json::parse(r.body);
  REQUIRE(v.is_object());
  return v.as_object();
}

// An EMQX error: {"code": code, "message": ...} and nothing else.
void check_error(const Response& r, int status, const std::string& code) {
  INFO(r.body);
  CHECK(r.status == status);
  CHECK(r.content_type == "application/json");
  json::object o = body_of(r);
  CHECK(o.size() == 2);
  CHECK(o["code"] == code.c_str());
  REQUIRE(o["message"].is_string());
  CHECK_FALSE(o["message"].as_string().empty());
}

}  // namespace

TEST_CASE("GET /status answers without credentials, as EMQX's readiness probe", "[api][router]") {
  TestApi api;
  Response r = api.call("GET", "/status", "", "");
  CHECK(r.status == 200);
  CHECK(r.content_type.starts_with("text/plain"));
  CHECK(r.body == "Node n1@127.0.0.1 is started\nemqxd is running");
  CHECK(api.call("GET", "/status?format=text", "", "Basic garbage").status == 200);
  check_error(api.call("POST", "/status", "", ""), 405, "METHOD_NOT_ALLOWED");
}

TEST_CASE("every /api/v5 request needs the right Basic credentials", "[api][router][auth]") {
  TestApi api;
  for (std::string auth : {std::string(), "Basic " + emqxd::api::base64_encode("admin:wrong"),
                           "Basic " + emqxd::api::base64_encode("root:s3cret"),
                           "Basic " + emqxd::api::base64_encode("admins3cret"),
                           std::string("Basic %%%"), std::string("Bearer abc")}) {
    INFO("Authorization: " << auth);
    // A token that is not one is EMQX's BAD_TOKEN, without a Basic challenge (a browser
    // would put its own login box over the dashboard).
    const bool token = auth.starts_with("Bearer");
    const std::string code = token ? "BAD_TOKEN" : "UNAUTHORIZED";
    for (std::string target : {"/api/v5/cluster", "/api/v5/stats", "/api/v5/nothing-here"}) {
      Response r = api.call("GET", target, "", auth);
      check_error(r, 401, code);
      CHECK(r.challenge == !token);
    }
    // Nothing reaches the cluster before the credentials pass.
    check_error(api.call("POST", "/api/v5/cluster/join", R"({"node":"n2@h"})", auth), 401, code);
    check_error(api.call("POST", "/api/v5/cluster/leave", "", auth), 401, code);
    check_error(api.call("DELETE", "/api/v5/cluster/n2@h/force_leave", "", auth), 401, code);
    check_error(api.call("GET", "/api/v5/routes", "", auth), 401, code);
  }
  CHECK(api.control.calls.empty());
  Response ok = api.call("GET", "/api/v5/cluster");
  CHECK(ok.status == 200);
  CHECK_FALSE(ok.challenge);
  CHECK(api.control.calls == std::vector<std::string>{"status"});
}

TEST_CASE("the default password is taken from loopback clients only", "[api][router][auth]") {
  FakeControl control;
  emqxd::session::NodeState state(test_config());
  Credentials public_password = Credentials::make("admin", "public", 1000);
  emqxd::api::RouterOptions options;
  options.default_password = true;
  Router router(state, public_password, control, options);
  Request r;
  r.method = "GET";
  r.target = "/api/v5/cluster";
  r.authorization = "Basic " + emqxd::api::base64_encode("admin:public");
  r.peer = "192.0.2.7:40000";
  Response refused = router.handle(r);
  check_error(refused, 401, "UNAUTHORIZED");
  CHECK(refused.challenge);
  CHECK(refused.body.find("dashboard.default_password") != std::string::npos);
  CHECK(refused.body.find("EMQX_DASHBOARD__DEFAULT_PASSWORD") != std::string::npos);
  CHECK(control.calls.empty());
  r.loopback = true;
  CHECK(router.handle(r).status == 200);
}

TEST_CASE("failed logins lock the user and the address with 429, as EMQX's dashboard",
          "[api][router][auth]") {
  FakeControl control;
  emqxd::session::NodeState state(test_config());
  Credentials creds = Credentials::make("admin", "s3cret", 1000);
  emqxd::api::RouterOptions options;
  options.login.max_attempts = 3;
  Router router(state, creds, control, options);
  auto call = [&](const std::string& user_pass, const std::string& address, bool loopback) {
    Request r;
    r.method = "GET";
    r.target = "/api/v5/cluster";
    r.authorization = "Basic " + emqxd::api::base64_encode(user_pass);
    r.address = address;
    r.peer = address + ":1";
    r.loopback = loopback;
    return router.handle(r);
  };
  // Two wrong passwords from one address, one from another: nobody is locked yet, and
  // the right password from the first ends its run.
  check_error(call("admin:a", "192.0.2.1", false), 401, "UNAUTHORIZED");
  check_error(call("admin:b", "192.0.2.1", false), 401, "UNAUTHORIZED");
  CHECK(call("admin:s3cret", "192.0.2.1", false).status == 200);
  // The user: three failures in a row from three addresses lock it, from every address but
  // loopback, even with the right password; malformed headers are not counted.
  check_error(call("admin:c", "192.0.2.2", false), 401, "UNAUTHORIZED");
  check_error(call("adminnocolon", "192.0.2.2", false), 401, "UNAUTHORIZED");
  check_error(call("admin:d", "192.0.2.3", false), 401, "UNAUTHORIZED");
  check_error(call("admin:e", "192.0.2.4", false), 401, "UNAUTHORIZED");
  Response locked = call("admin:s3cret", "192.0.2.9", false);
  check_error(locked, 429, "TOO_MANY_REQUESTS");
  CHECK(locked.retry_after > 500);  // 10 minutes by default
  CHECK(locked.retry_after <= 600);
  CHECK(locked.body.find("user") != std::string::npos);
  CHECK(call("admin:s3cret", "127.0.0.1", true).status == 200);
  // The address: three failures with made-up users lock it for every user, loopback too.
  for (const char* up : {"x:1", "y:2", "z:3"}) {
    check_error(call(up, "192.0.2.50", false), 401, "UNAUTHORIZED");
  }
  Response by_address = call("admin:s3cret", "192.0.2.50", false);
  check_error(by_address, 429, "TOO_MANY_REQUESTS");
  CHECK(by_address.body.find("address") != std::string::npos);
  CHECK(control.calls.size() == 2);
}

TEST_CASE("LoginGuard: runs end after the interval, locks after their duration", "[api][auth]") {
  using emqxd::api::LoginGuard;
  using namespace std::chrono_literals;
  emqxd::api::LoginPolicy p;
  p.max_attempts = 2;
  p.lock_duration = 60s;
  p.interval = 10s;
  LoginGuard g(p, /*max_sources=*/2);
  auto t = LoginGuard::Clock::time_point{} + 1h;
  CHECK(g.failed("admin", "a", t) == LoginGuard::Lock::None);
  // The second failure comes after the interval: a new run, no lock.
  CHECK(g.failed("admin", "a", t + 11s) == LoginGuard::Lock::None);
  CHECK(g.failed("admin", "a", t + 12s) == LoginGuard::Lock::User);  // both locked: User said
  CHECK(g.check("admin", "b", false, t + 13s).lock == LoginGuard::Lock::User);
  CHECK(g.check("", "a", false, t + 13s).lock == LoginGuard::Lock::Source);
  CHECK(g.check("admin", "b", true, t + 13s).lock == LoginGuard::Lock::None);
  CHECK(g.check("admin", "b", false, t + 12s + 60s).lock == LoginGuard::Lock::None);
  CHECK(g.check("", "a", false, t + 12s + 60s).lock == LoginGuard::Lock::None);
  // The source table is bounded; expired entries make room, live ones are kept.
  CHECK(g.failed("", "b", t + 80s) == LoginGuard::Lock::None);
  CHECK(g.sources_tracked() == 2);
  CHECK(g.failed("", "c", t + 81s) == LoginGuard::Lock::None);  // "a" expired: replaced
  CHECK(g.sources_tracked() == 2);
  CHECK(g.failed("", "d", t + 82s) == LoginGuard::Lock::None);  // full of live ones: uncounted
  CHECK(g.failed("", "d", t + 83s) == LoginGuard::Lock::None);
  CHECK(g.check("", "d", false, t + 84s).lock == LoginGuard::Lock::None);
  CHECK(g.failed("", "b", t + 85s) == LoginGuard::Lock::Source);
}

TEST_CASE("API keys: administrators do everything, viewers only GET (else 403)",
          "[api][router][keys]") {
  FakeControl control;
  emqxd::session::NodeState state(test_config());
  emqxd::api::NodeOps ops(state, {}, "test");
  control.local = [&](const std::string& name, const std::string& args) {
    return ops.answer(name, args);
  };
  Credentials creds = Credentials::make("admin", "s3cret", 1000);
  emqxd::api::RouterOptions options;
  options.api_keys = emqxd::api::parse_api_keys("ops:opsecret\nro:rosecret:viewer\n", "k", 1000);
  Router router(state, creds, control, std::move(options));
  auto call = [&](const std::string& method, const std::string& target,
                  const std::string& user_pass, std::string body = "") {
    Request r;
    r.method = method;
    r.target = target;
    r.body = std::move(body);
    r.authorization = "Basic " + emqxd::api::base64_encode(user_pass);
    r.address = "192.0.2.1";
    return router.handle(r);
  };
  CHECK(call("GET", "/api/v5/cluster", "ops:opsecret").status == 200);
  CHECK(call("POST", "/api/v5/cluster/leave", "ops:opsecret").status == 200);
  CHECK(call("GET", "/api/v5/nodes", "ro:rosecret").status == 200);
  CHECK(call("GET", "/api/v5/routes", "ro:rosecret").status == 200);
  for (auto [method, target] : {std::pair{"POST", "/api/v5/cluster/leave"},
                                {"POST", "/api/v5/cluster/join"},
                                {"DELETE", "/api/v5/cluster/n2@h/force_leave"}}) {
    Response r = call(method, target, "ro:rosecret", R"({"node":"n2@h"})");
    check_error(r, 403, "FORBIDDEN");
    CHECK(r.body.find("viewer") != std::string::npos);
  }
  // A key's secret is its own: not another key's, not the dashboard user's.
  check_error(call("GET", "/api/v5/cluster", "ro:opsecret"), 401, "UNAUTHORIZED");
  check_error(call("GET", "/api/v5/cluster", "ops:s3cret"), 401, "UNAUTHORIZED");
  CHECK(call("GET", "/api/v5/cluster", "admin:s3cret").status == 200);
  CHECK(control.calls == std::vector<std::string>{"status", "leave", "ask n1@h node {}", "status",
                                                  "routes  100", "status"});
}

TEST_CASE("unknown paths are 404, wrong methods 405 with Allow", "[api][router]") {
  TestApi api;
  check_error(api.call("GET", "/api/v5/nothing"), 404, "NOT_FOUND");
  check_error(api.call("GET", "/api/v5/cluster/"), 404, "NOT_FOUND");
  check_error(api.call("GET", "/api/v5//cluster"), 404, "NOT_FOUND");
  check_error(api.call("GET", "/api/v4/cluster"), 404, "NOT_FOUND");
  check_error(api.call("GET", "/no-such-file.js"), 404, "NOT_FOUND");
  check_error(api.call("GET", "/api/index.html"), 404, "NOT_FOUND");
  check_error(api.call("GET", "/api/v5/cluster/n2@h/force_leave/x"), 404, "NOT_FOUND");
  Response r = api.call("POST", "/api/v5/cluster");
  check_error(r, 405, "METHOD_NOT_ALLOWED");
  CHECK(r.allow == "GET");
  r = api.call("GET", "/api/v5/cluster/join");
  check_error(r, 405, "METHOD_NOT_ALLOWED");
  CHECK(r.allow == "POST");
  r = api.call("POST", "/api/v5/cluster/n2@h/force_leave");
  CHECK(r.allow == "DELETE");
  check_error(api.call("DELETE", "/api/v5/routes"), 405, "METHOD_NOT_ALLOWED");
  check_error(api.call("GET", "http://host/api/v5/cluster"), 400, "BAD_REQUEST");
  check_error(api.call("PUT", "/api/v5/cluster/leave"), 405, "METHOD_NOT_ALLOWED");
  check_error(api.call("GET", "/api/v5/cluster/n2@h/force_leave"), 405, "METHOD_NOT_ALLOWED");
  CHECK(api.control.calls.empty());
}

TEST_CASE("routes: the query is checked, then handed to the ClusterControl decoded",
          "[api][router][routes]") {
  TestApi api;
  // ?topic= is the filter itself, URL-encoded ('+' would be a space).
  CHECK(api.call("GET", "/api/v5/routes?topic=a%2F%2B").status == 200);
  CHECK(api.call("GET", "/api/v5/routes?topic=a+b&limit=1").status == 200);
  CHECK(api.call("GET", "/api/v5/routes?limit=10000&topic=%24share%2Fg%2Fs%2F%23").status == 200);
  CHECK(api.control.calls ==
        std::vector<std::string>{"routes a/+ 100", "routes a b 1", "routes $share/g/s/# 10000"});

  api.control.calls.clear();
  for (std::string bad : {"limit=0", "limit=10001", "limit=abc", "limit=1x", "limit=-1",
                          "limit=", "topic=%zz", "topic=a&limit=%"}) {
    INFO(bad);
    check_error(api.call("GET", "/api/v5/routes?" + bad), 400, "BAD_REQUEST");
  }
  CHECK(api.control.calls.empty());
}

TEST_CASE("status and routes pass through, requests reach the ClusterControl",
          "[api][router][cluster]") {
  TestApi api;
  FakeControl& control = api.control;

  Response s = api.call("GET", "/api/v5/cluster");
  CHECK(s.status == 200);
  CHECK(s.body == R"({"name":"c","self":"n1@h","members":[],"routes":{"local":0,"remote":0},)"
                  R"("forward":{"sent":0,"received":0,"dropped":0,"queued":0},)"
                  R"("sessions":{"takeovers_in":0,"takeovers_out":0}})");
  CHECK(api.call("GET", "/api/v5/routes?topic=a%2F%23&limit=5").body ==
        R"({"data":[],"meta":{"count":0}})");
  api.call("GET", "/api/v5/routes");

  Response j = api.call("POST", "/api/v5/cluster/join", R"({"node":"n2@127.0.0.1:4372"})");
  CHECK(j.status == 200);
  CHECK(j.body == R"({"message":"ok"})");
  api.call("POST", "/api/v5/cluster/leave");
  api.call("POST", "/api/v5/cluster/force_leave", R"({"node":"n3@127.0.0.1"})");
  api.call("DELETE", "/api/v5/cluster/n4%40127.0.0.1%3A4374/force_leave");
  api.call("DELETE", "/api/v5/cluster/n5@127.0.0.1/force_leave");
  CHECK(control.calls ==
        std::vector<std::string>{"status", "routes a/# 5", "routes  100", "join n2@127.0.0.1:4372",
                                 "leave", "force_leave n3@127.0.0.1",
                                 "force_leave n4@127.0.0.1:4374", "force_leave n5@127.0.0.1"});
}

TEST_CASE("the ClusterControl's outcome is the answer, bad bodies never reach it",
          "[api][router][cluster]") {
  TestApi api;
  FakeControl& control = api.control;
  for (auto [status, code] :
       {std::pair{404, "NOT_FOUND"}, std::pair{409, "CONFLICT"}, std::pair{400, "BAD_REQUEST"},
        std::pair{503, "SERVICE_UNAVAILABLE"}}) {
    control.next = {status, "unknown node"};
    Response r = api.call("POST", "/api/v5/cluster/join", R"({"node":"n9@h"})");
    check_error(r, status, code);
    CHECK(body_of(r)["message"] == "unknown node");
  }
  control.next = {202, "joining"};
  CHECK(api.call("POST", "/api/v5/cluster/leave").status == 202);
  control.next = {42, "nonsense"};
  check_error(api.call("POST", "/api/v5/cluster/leave"), 500, "INTERNAL_ERROR");

  control.calls.clear();
  for (std::string body : {"", "not json", "[]", "{}", R"({"node":""})", R"({"node":7})",
                           R"({"nodes":"n2@h"})", R"({"node":"n2@h")"}) {
    INFO(body);
    check_error(api.call("POST", "/api/v5/cluster/join", body), 400, "BAD_REQUEST");
    check_error(api.call("POST", "/api/v5/cluster/force_leave", body), 400, "BAD_REQUEST");
  }
  check_error(api.call("DELETE", "/api/v5/cluster/n2%4/force_leave"), 400, "BAD_REQUEST");
  CHECK(control.calls.empty());
}

TEST_CASE("stats and metrics: EMQX's shapes, the names $SYS uses", "[api][router][metrics]") {
  TestApi api;
  emqxd::mqtt::SubscribeOptions o;
  api.state.broker.subscribe("x/y", {0, 1}, o, 0);

  json::value per_node = json::parse(api.call("GET", "/api/v5/stats").body);
  REQUIRE(per_node.is_array());
  REQUIRE(per_node.as_array().size() == 1);
  json::object stats = per_node.as_array()[0].as_object();
  CHECK(stats["node"] == "n1@h");
  CHECK(stats["topics.count"].to_number<int>() == 1);
  CHECK(stats["subscriptions.count"].to_number<int>() == 1);
  for (const char* k :
       {"connections.count", "sessions.count", "subscriptions.shared.count", "retained.count"}) {
    CHECK(stats.contains(k));
  }
  json::object agg = body_of(api.call("GET", "/api/v5/stats?aggregate=true"));
  CHECK_FALSE(agg.contains("node"));
  CHECK(agg["topics.count"].to_number<int>() == 1);

  json::object metrics = body_of(api.call("GET", "/api/v5/metrics?aggregate=true"));
  for (const char* k : {"messages.received", "messages.dropped.no_subscribers", "bytes.sent",
                        "client.connected", "messages.qos1.received", "session.created"}) {
    INFO(k);
    CHECK(metrics.contains(k));
  }
  CHECK(json::parse(api.call("GET", "/api/v5/metrics?aggregate=false").body).is_array());
  check_error(api.call("GET", "/api/v5/metrics?aggregate=yes"), 400, "BAD_REQUEST");
}

TEST_CASE("error shapes", "[api][router]") {
  Response e = emqxd::api::error_response(404, "NOT_FOUND", "no \"such\" thing");
  CHECK(e.status == 404);
  CHECK(e.body == R"({"code":"NOT_FOUND","message":"no \"such\" thing"})");
  CHECK(emqxd::api::error_code_for(401) == "UNAUTHORIZED");
  CHECK(emqxd::api::error_code_for(405) == "METHOD_NOT_ALLOWED");
  CHECK(emqxd::api::error_code_for(500) == "INTERNAL_ERROR");
}

TEST_CASE("query strings and paths are %-decoded by RFC 3986 (Boost.URL)", "[api][router][url]") {
  TestApi api;
  auto routes_call = [&](const std::string& query) {
    api.control.calls.clear();
    Response r = api.call("GET", "/api/v5/routes?" + query);
    INFO(query << " -> " << r.body);
    CHECK(r.status == 200);
    return api.control.calls.size() == 1 ? api.control.calls[0] : std::string("(none)");
  };
  CHECK(routes_call("topic=a%2F%2B") == "routes a/+ 100");
  CHECK(routes_call("topic=a/%2B/%23") == "routes a/+/# 100");  // '/' needs no escape
  CHECK(routes_call("topic=a+b") == "routes a b 100");          // '+' is a space, as in forms
  CHECK(routes_call("topic=a%20b%2bc") == "routes a b+c 100");
  CHECK(routes_call("topic=%E2%82%AC") == "routes \xE2\x82\xAC 100");
  CHECK(routes_call("topic") == "routes  100");                   // no value
  CHECK(routes_call("topic=x&topic=y") == "routes x 100");        // the first one
  CHECK(routes_call("to%70ic=a%3Db&limit=2") == "routes a=b 2");  // names are decoded too
  CHECK(routes_call("other=%2F&topic=t") == "routes t 100");
  CHECK(routes_call("") == "routes  100");

  // A node name in the path: decoded, and '+' stays a '+'.
  api.control.calls.clear();
  api.call("DELETE", "/api/v5/cluster/n%2B1%40h/force_leave");
  api.call("DELETE", "/api/v5/cluster/n+1@h:4370/force_leave");
  CHECK(api.control.calls ==
        std::vector<std::string>{"force_leave n+1@h", "force_leave n+1@h:4370"});

  // Malformed escapes and characters a target must escape are 400, before anything else.
  api.control.calls.clear();
  for (std::string bad :
       {"/api/v5/routes?topic=%", "/api/v5/routes?topic=%2", "/api/v5/routes?topic=%zz",
        "/api/v5/routes?topic=a%2", "/api/v5/routes?topic=a%G0", "/api/v5/routes?limit=1%",
        "/api/v5/routes?topic=a b", "/api/v5/routes?topic=a\"b", "/api/v5/routes?topic=a#b",
        "/api/v5/routes?topic=\xE2\x82\xAC", "/api/v5/cluster/n%4/force_leave", "/api/v5/clu%ster",
        "api/v5/cluster", "*", "http://host/api/v5/cluster", ""}) {
    INFO(bad);
    check_error(api.call("GET", bad), 400, "BAD_REQUEST");
    check_error(api.call("GET", bad, "", ""), 400, "BAD_REQUEST");  // before the credentials
  }
  CHECK(api.control.calls.empty());
}

TEST_CASE("the cluster's plain data is rendered as the README documents",
          "[api][router][cluster]") {
  TestApi api;
  emqxd::api::ClusterStatus& st = api.control.status_answer;
  st.name = "emqxdcl";
  st.self = "n1@127.0.0.1";
  st.members.push_back(
      {"n1@127.0.0.1", "n1@127.0.0.1:4370", "alive", 1733140000000, true, 3, true, 0});
  st.members.push_back({"n\"2@h", "n\"2@h:4371", "suspect", 7, false, 2, false, 5});
  st.routes = {3, 2};
  st.forward = {10, 11, 12, 13};
  st.sessions = {1, 2};
  CHECK(api.call("GET", "/api/v5/cluster").body ==
        R"({"name":"emqxdcl","self":"n1@127.0.0.1","members":[)"
        R"({"node":"n1@127.0.0.1","address":"n1@127.0.0.1:4370","state":"alive",)"
        R"("incarnation":1733140000000,"self":true,"routes":3,"link":"up","queued":0},)"
        R"({"node":"n\"2@h","address":"n\"2@h:4371","state":"suspect","incarnation":7,)"
        R"("self":false,"routes":2,"link":"down","queued":5}],)"
        R"("routes":{"local":3,"remote":2},)"
        R"("forward":{"sent":10,"received":11,"dropped":12,"queued":13},)"
        R"("sessions":{"takeovers_in":1,"takeovers_out":2}})");

  api.control.routes_answer.data = {{"a/+", "n1@127.0.0.1"}, {"$share/g/b", "n2@h"}};
  api.control.routes_answer.count = 7;
  CHECK(api.call("GET", "/api/v5/routes?limit=2").body ==
        R"({"data":[{"topic":"a/+","node":"n1@127.0.0.1"},{"topic":"$share/g/b","node":"n2@h"}],)"
        R"("meta":{"count":7}})");
}

TEST_CASE("answers are valid UTF-8 JSON whatever bytes a request decodes to", "[api][router]") {
  TestApi api;
  api.control.next = {400, "bad node address '\xFF\xFE'"};
  Response r = api.call("DELETE", "/api/v5/cluster/%FF%FE/force_leave");
  CHECK(api.control.calls == std::vector<std::string>{"force_leave \xFF\xFE"});
  check_error(r, 400, "BAD_REQUEST");  // parses: Boost.JSON rejects ill-formed UTF-8
  CHECK(body_of(r)["message"] == "bad node address '\xEF\xBF\xBD\xEF\xBF\xBD'");
}
