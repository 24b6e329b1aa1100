#pragma once
// Router: one HTTP API request in, one answer out; no I/O (api_server.cpp does the HTTP).
//
//   GET    /status                             readiness, no authentication (as EMQX's)
//   GET    /api/v5/cluster                     the cluster as this node sees it
//   POST   /api/v5/cluster/join                {"node":"name@host[:port]"}
//   POST   /api/v5/cluster/leave
//   POST   /api/v5/cluster/force_leave         {"node":"name@host[:port]"}
//   DELETE /api/v5/cluster/{node}/force_leave  EMQX's form of the same
//   GET    /api/v5/routes?topic=&limit=        EMQX's shape: {"data":[...],"meta":{...}}
//   and the paths of access_api.hpp (authentication, authorization, banned), of
//   ops_api.hpp (nodes, stats, metrics, clients, subscriptions, topics, publish) and of
//   monitor_api.hpp (GET /api/v5/prometheus/stats, GET|DELETE /api/v5/alarms)
//
// Every /api/v5 request needs credentials: HTTP Basic with a dashboard user's name and
// password or an API key and its secret, or a Bearer token from POST /api/v5/login
// (admins.hpp; 401 first; then 403 for a viewer key that does anything but GET; then
// 404 or 405). Errors are EMQX's {"code":"BAD_REQUEST","message":"..."}. The cluster requests
// (status, routes, join, leave, force_leave) go to the node's ClusterControl: every node
// runs its cluster, alone or not, so there is always one.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <boost/url/url_view.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/admins.hpp"
#include "api/api_keys.hpp"
#include "api/control.hpp"
#include "api/credentials.hpp"
#include "api/http.hpp"
#include "api/login_guard.hpp"
#include "api/monitor_api.hpp"
#include "api/route_table.hpp"
#include "common/log.hpp"

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

struct RouterOptions {
  // The password is still EMQX's bootstrap "public", which anyone knows: it is taken only
  // from clients on this machine (Request::loopback); others get 401 telling them to
  // change it.
  bool default_password = false;
  // Failed logins lock the user and the source address for a while (login_guard.hpp).
  LoginPolicy login;
  // API keys (api_key.bootstrap_file), besides the dashboard user, who is an administrator.
  std::vector<ApiKey> api_keys;
  // Prometheus and alarms (ops_api.hpp).
  MonitorContext monitor;
  // Paths (as requested, without the query) whose GET needs no credentials:
  // /api/v5/prometheus/stats unless prometheus.enable_basic_auth (docs/security.md).
  std::vector<std::string> open_paths;
  // dashboard.swagger_support: GET /api-docs and /api-docs/swagger.json give the OpenAPI
  // document (api/openapi.hpp), without credentials, as EMQX's.
  bool api_docs = true;
  // dashboard.token_expired_time: the life of a token from POST /api/v5/login.
  std::chrono::milliseconds token_life{60 * 60'000};
  // Passed to Admins (tests make hashing cheap).
  int iterations = Credentials::kIterations;
};

class Router {
 public:
  static constexpr std::size_t kDefaultLimit = 100;  // EMQX's page size
  static constexpr std::size_t kMaxLimit = 10000;    // EMQX's max_row_limit

  // `node`, `credentials` and `control` must outlive the router.
  Router(const session::NodeState& node, const Credentials& credentials, ClusterControl& control,
         RouterOptions options = {});

  // One request; never throws for anything in it. Any thread, several at once (the API's
  // handler threads).
  Response handle(const Request& request);

 private:
  Response route(const Request& request, const boost::urls::url_view& target);
  // Status 200 when the credentials pass, with `caller` set; else the answer to send.
  Response authenticate(const Request& request, Caller& caller);
  // A name and password (Basic, or POST /api/v5/login when `users_only`), through the
  // login guard: status 200 with `caller` set, else the 401 or 429 to send. Wipes
  // `password`.
  Response check_password(const Request& request, const std::string& name, std::string& password,
                          bool users_only, Caller& caller);
  // POST /api/v5/login and /api/v5/logout.
  Response login(const Request& request);
  Response logout(const Call& call);
  // Lines a client can cause at will: one a second at most, across the handler threads.
  void log_throttled(const std::string& line);
  // The table's routes: the cluster's and the counters here, the others in their files.
  void add_routes();
  Response routes(const boost::urls::url_view& target);
  Response control_outcome(const ClusterControl::Outcome& outcome);

  const session::NodeState& node_;
  ClusterControl& control_;
  std::vector<ApiKey> api_keys_;  // the bootstrap file's
  // The node's tables, or the router's own (in memory) when the node has none (tests).
  std::unique_ptr<tables::ReplicatedTables> own_tables_;
  std::unique_ptr<Admins> admins_;
  std::vector<std::string> open_paths_;
  bool api_docs_;
  LoginGuard guard_;
  RouteTable table_;
  std::mutex log_mutex_;
  log::Throttle failed_logins_{1};  // per second; guarded by log_mutex_
};

// {"code":"...","message":"..."} with `status`.
Response error_response(int status, std::string_view code, std::string_view message);
// `v` as the body (ill-formed UTF-8 from a request replaced, so the JSON stays JSON).
Response json_response(int status, const boost::json::value& v);
// 405 with the Allow header.
Response method_not_allowed(std::string_view allow);
// 400 BAD_REQUEST with `message`.
Response bad_request(std::string_view message);
// 204, no body.
Response no_content();
// A node's answer (ClusterControl::ask) as it is: its status and JSON.
Response relay(const NodeAnswer& a);
// What a NodeOps operation answers: `v` as JSON with `status`; an error as
// {"code", "message"}.
NodeAnswer json_answer(int status, const boost::json::value& v);
NodeAnswer error_answer(int status, std::string_view code, std::string_view message);
// `text` as a JSON object; nullopt when it is not JSON or not an object.
std::optional<boost::json::object> parse_object(std::string_view text);
// EMQX's paging parameters `page` (from 1) and `limit` (1..kMaxLimit; default
// kDefaultLimit): a 400 when one is bad.
std::optional<Response> paging(const boost::urls::url_view& target, std::size_t& page,
                               std::size_t& limit);
// EMQX's "meta" of a page: {"page", "limit", "count", "hasnext"}.
boost::json::object page_meta(std::size_t page, std::size_t limit, std::size_t count);

// The EMQX error code for an HTTP status: 400 BAD_REQUEST, 401 UNAUTHORIZED, 403 FORBIDDEN,
// 404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, 409 CONFLICT, 429 TOO_MANY_REQUESTS, 503
// SERVICE_UNAVAILABLE, ...
std::string_view error_code_for(int status);

// The value of the first `name` in the target's query, decoded as HTML forms and EMQX do
// ("a%2F%2B" is "a/+", "a+b" is "a b"); "" for a bare "name"; nullopt when absent.
std::optional<std::string> query_param(const boost::urls::url_view& target, std::string_view name);

}  // namespace emqxd::api
