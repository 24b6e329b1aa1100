#include "api/router.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <chrono>
#include <vector>

#include "api/access_api.hpp"
#include "api/admin_api.hpp"
#include "api/cluster_json.hpp"
#include "api/config_api.hpp"
#include "api/connectors_api.hpp"
#include "api/gateways_api.hpp"
#include "api/log_api.hpp"
#include "api/modules_api.hpp"
#include "api/monitor_api.hpp"
#include "api/openapi.hpp"
#include "api/ops_api.hpp"
#include "api/rebalance_api.hpp"
#include "api/retainer_api.hpp"
#include "api/rules_api.hpp"
#include "api/topic_stats_api.hpp"
#include "common/json_text.hpp"
#include "dashboard/assets.hpp"
#include "session/node_state.hpp"
#include "tables/replicated_tables.hpp"

#ifndef EMQXD_VERSION
#define EMQXD_VERSION "0.0.0"
#endif

namespace emqxd::api {

namespace json = boost::json;
namespace urls = boost::urls;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("api");
  return l;
}

Response not_found(std::string_view path) {
  return error_response(404, "NOT_FOUND", "no such API: " + std::string(path));
}

// A username as it may appear in a log line: printable ASCII, at most 64 characters.
std::string loggable(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64))
    out += c >= 0x20 && c < 0x7F && c != '"' ? c : '?';
  if (s.size() > 64) out += "...";
  return out;
}

// The "node" of a JSON body {"node": "..."}, or nullopt.
std::optional<std::string> node_in_body(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::value* n = v.as_object().if_contains("node");
  if (n == nullptr || !n->is_string() || n->as_string().empty()) return std::nullopt;
  return std::string(n->as_string());
}

Response bad_node_body() {
  return error_response(400, "BAD_REQUEST",
                        "expected a JSON body {\"node\": \"name@host[:port]\"}");
}

constexpr std::string_view kChangeDefaultPassword =
    "the default password is accepted from this machine only (loopback); change it "
    "(dashboard.default_password, or EMQX_DASHBOARD__DEFAULT_PASSWORD) to use the API from "
    "elsewhere";

}  // namespace

// Strings in an answer may hold bytes from the request (a %-decoded node name in an error
// message, say); Boost.JSON writes bytes above 0x7F as they are, so ill-formed UTF-8 is
// replaced here. Only non-ASCII bytes change, so the JSON stays JSON.
Response json_response(int status, const json::value& v) {
  Response r;
  r.status = status;
  std::string text = json::serialize(v);
  std::string scratch;
  auto valid = json_text::valid_utf8(text, scratch);
  r.body = valid.data() == text.data() ? std::move(text) : std::move(scratch);
  return r;
}

Response bad_request(std::string_view message) {
  return error_response(400, "BAD_REQUEST", message);
}

Response no_content() {
  Response r;
  r.status = 204;
  return r;
}

Response relay(const NodeAnswer& a) {
  Response r;
  r.status = a.status >= 200 && a.status <= 599 ? a.status : 500;
  r.body = a.body;
  return r;
}

NodeAnswer json_answer(int status, const json::value& v) {
  return {status, json::serialize(v)};
}

NodeAnswer error_answer(int status, std::string_view code, std::string_view message) {
  return json_answer(status, json::object{{"code", code}, {"message", message}});
}

std::optional<json::object> parse_object(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

Response method_not_allowed(std::string_view allow) {
  Response r = error_response(405, "METHOD_NOT_ALLOWED",
                              "method not allowed here; allowed: " + std::string(allow));
  r.allow = std::string(allow);
  return r;
}

std::optional<Response> paging(const urls::url_view& target, std::size_t& page,
                               std::size_t& limit) {
  page = 1;
  limit = Router::kDefaultLimit;
  auto number = [](const std::optional<std::string>& text, std::size_t lo, std::size_t hi,
                   std::size_t& out) {
    if (!text) return true;
    const char* end = text->data() + text->size();
    std::size_t v = 0;
    auto [p, ec] = std::from_chars(text->data(), end, v);
    if (ec != std::errc() || p != end || v < lo || v > hi) return false;
    out = v;
    return true;
  };
  if (!number(query_param(target, "page"), 1, 1'000'000'000, page)) {
    return error_response(400, "BAD_REQUEST", "page must be a positive integer");
  }
  if (!number(query_param(target, "limit"), 1, Router::kMaxLimit, limit)) {
    return error_response(
        400, "BAD_REQUEST",
        "limit must be an integer from 1 to " + std::to_string(Router::kMaxLimit));
  }
  return std::nullopt;
}

boost::json::object page_meta(std::size_t page, std::size_t limit, std::size_t count) {
  return json::object{
      {"page", page}, {"limit", limit}, {"count", count}, {"hasnext", page * limit < count}};
}

Response error_response(int status, std::string_view code, std::string_view message) {
  return json_response(status, json::object{{"code", code}, {"message", message}});
}

std::string_view error_code_for(int status) {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHORIZED";
    case 403:
      return "FORBIDDEN";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 409:
      return "CONFLICT";
    case 429:
      return "TOO_MANY_REQUESTS";
    case 503:
      return "SERVICE_UNAVAILABLE";
    default:
      return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

std::optional<std::string> query_param(const urls::url_view& target, std::string_view name) {
  for (const auto& p : target.params(urls::encoding_opts(/*space_as_plus=*/true))) {
    if (p.key == name) return p.has_value ? p.value : std::string();
  }
  return std::nullopt;
}

Router::Router(const session::NodeState& node, const Credentials& credentials,
               ClusterControl& control, RouterOptions options)
    : node_(node),
      control_(control),
      api_keys_(std::move(options.api_keys)),
      open_paths_(std::move(options.open_paths)),
      api_docs_(options.api_docs),
      guard_(options.login) {
  tables::ReplicatedTables* tables = node.tables.get();
  if (tables == nullptr) {
    own_tables_ = std::make_unique<tables::ReplicatedTables>(nullptr, node.config.node.name);
    Admins::declare(*own_tables_);
    tables = own_tables_.get();
  }
  Admins::Options ao;
  ao.default_username = credentials.username();
  ao.default_credentials = &credentials;
  ao.default_password = options.default_password;
  ao.token_life = options.token_life;
  ao.iterations = options.iterations;
  for (const auto& k : api_keys_)
    ao.reserved_names.push_back(k.credentials.username());
  admins_ = std::make_unique<Admins>(*tables, std::move(ao));
  add_routes();
  add_monitor_routes(table_, node_, control_, std::move(options.monitor));
}

void Router::add_routes() {
  auto& t = table_;
  t.add("GET", "/api/v5/cluster", "the cluster as this node sees it",
        [this](const Call&) { return json_response(200, to_json(control_.status())); });
  t.add("POST", "/api/v5/cluster/join", "join the cluster of {\"node\": \"name@host\"}",
        [this](const Call& c) {
          auto node = node_in_body(c.request.body);
          if (!node) return bad_node_body();
          return control_outcome(control_.join(*node));
        });
  t.add("POST", "/api/v5/cluster/leave", "leave the cluster",
        [this](const Call&) { return control_outcome(control_.leave()); });
  t.add("POST", "/api/v5/cluster/force_leave", "remove {\"node\": ...} from the cluster",
        [this](const Call& c) {
          auto node = node_in_body(c.request.body);
          if (!node) return bad_node_body();
          return control_outcome(control_.force_leave(*node));
        });
  t.add("DELETE", "/api/v5/cluster/{node}/force_leave", "remove a node from the cluster",
        [this](const Call& c) { return control_outcome(control_.force_leave(c.params[0])); });
  t.add("GET", "/api/v5/routes", "routes (topic filters and the nodes that have them)",
        [this](const Call& c) { return routes(c.target); });
  t.add(
      "POST", "/api/v5/login", "a token for a dashboard user: {\"username\", \"password\"}",
      [this](const Call& c) { return login(c.request); }, Access::Open);
  t.add(
      "POST", "/api/v5/logout", "revoke the token this request carries",
      [this](const Call& c) { return logout(c); }, Access::Anyone);
  add_admin_routes(t, *admins_,
                   [this](const Request& r, const std::string& name, std::string& password) {
                     Caller ignored;
                     return check_password(r, name, password, true, ignored);
                   });
  add_access_routes(t, node_);
  add_ops_routes(t, control_);
  add_retainer_routes(t, control_, node_.config);
  add_topic_stats_routes(t, control_, node_.config.node.name);
  add_modules_routes(t, control_, node_.config);
  add_rebalance_routes(t, control_, node_);
  add_gateway_routes(t, control_);
  add_rules_routes(t, control_, node_);
  add_connectors_routes(t, control_, node_.config.node.name);
  add_log_routes(t);
  add_config_routes(t, node_.config);
  add_trace_routes(t, node_, control_);
}

Response Router::handle(const Request& request) {
  // RFC 9112 origin-form, "/path?query", by RFC 3986's grammar: a bad %-escape, a
  // character that must be escaped, or another form of target is a 400 before anything
  // else is looked at.
  auto target = urls::parse_origin_form(request.target);
  if (!target) {
    return error_response(400, "BAD_REQUEST",
                          "the request target must be a path and query, %-escaped (RFC 3986)");
  }
  return route(request, *target);
}

Response Router::route(const Request& request, const urls::url_view& target) {
  const std::string& m = request.method;
  const auto encoded_path = target.encoded_path();
  const std::string_view path(encoded_path.data(), encoded_path.size());
  // EMQX's readiness probe, at both paths, without credentials; ?format=json as EMQX.
  // 503 while the node is evacuated (net/evacuation.hpp): it takes no new clients, so a
  // readiness probe takes it out of its Service. (While it starts or stops, this API is
  // not served at all.)
  if (path == "/status" || path == "/api/v5/status") {
    if (m != "GET") return method_not_allowed("GET");
    const bool evacuating = node_.gate.closed();
    const int status = evacuating ? 503 : 200;
    if (query_param(target, "format") == std::optional<std::string>("json")) {
      return json_response(status, json::object{{"node_name", node_.config.node.name},
                                                {"rel_vsn", EMQXD_VERSION},
                                                {"broker_status", "started"},
                                                {"app_status", "running"},
                                                {"evacuating", evacuating}});
    }
    Response r;
    r.status = status;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "Node " + node_.config.node.name + " is started\nemqxd is " +
             (evacuating ? "evacuating: it takes no new clients" : "running");
    return r;
  }
  if (api_docs_ && (path == "/api-docs" || path == "/api-docs/swagger.json")) {
    if (m != "GET") return method_not_allowed("GET");
    return json_response(200, openapi_document(table_, EMQXD_VERSION));
  }
  // The dashboard's files, without credentials (the page logs in through the API).
  if (!path.starts_with("/api/")) {
    if (const auto* asset = dashboard::find_asset(path)) {
      if (m != "GET") return method_not_allowed("GET");
      Response r;
      r.content_type = std::string(asset->content_type);
      r.body = std::string(asset->body);
      return r;
    }
  }
  // Decoded, and an empty segment (a doubled or trailing slash) is kept, so that such
  // paths match nothing.
  const auto decoded = target.segments();
  const std::vector<std::string> seg(decoded.begin(), decoded.end());
  if (seg.size() < 2 || seg[0] != "api" || seg[1] != "v5") return not_found(path);

  const Route* r = table_.lookup(m, seg);
  Caller caller;
  if (r != nullptr && r->access == Access::Open) {
    // no credentials asked
  } else if (m == "GET" &&
             std::find(open_paths_.begin(), open_paths_.end(), path) != open_paths_.end()) {
    // no credentials asked: read only
  } else if (Response denied = authenticate(request, caller); denied.status != 200) {
    return denied;
  } else if (caller.role == Role::Viewer && m != "GET" &&
             (r == nullptr || r->access != Access::Anyone)) {
    // EMQX's viewer role reads only.
    return error_response(403, "FORBIDDEN", "the viewer role may only read (GET)");
  }
  if (auto out = table_.dispatch(request, target, seg, caller)) return std::move(*out);
  return not_found(path);
}

void Router::log_throttled(const std::string& line) {
  std::lock_guard lock(log_mutex_);
  std::uint64_t suppressed = 0;
  if (!failed_logins_.allow(std::chrono::steady_clock::now(), suppressed)) return;
  logger()->warn("{} ({} more suppressed)", line, suppressed);
}

namespace {

Response unauthorized(std::string_view message, std::string_view code = "UNAUTHORIZED") {
  Response r = error_response(401, code, message);
  r.challenge = true;
  return r;
}

// The credentials of "Bearer <token>" (the scheme case-insensitive), or nullopt.
std::optional<std::string_view> bearer_token(std::string_view header) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    char c = header[i] >= 'A' && header[i] <= 'Z' ? static_cast<char>(header[i] + 32) : header[i];
    if (c != kScheme[i]) return std::nullopt;
  }
  std::string_view token = header.substr(kScheme.size());
  while (!token.empty() && token.front() == ' ')
    token.remove_prefix(1);
  while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
    token.remove_suffix(1);
  return token;
}

}  // namespace

Response Router::authenticate(const Request& request, Caller& caller) {
  if (request.authorization.empty()) {
    return unauthorized(
        "authentication required (HTTP Basic, or a Bearer token from POST /api/v5/login)");
  }
  if (auto token = bearer_token(request.authorization)) {
    Admins::TokenState state{};
    auto owner = admins_->check_token(*token, &state);
    if (!owner) {
      // EMQX's codes; no Basic challenge: a browser would open its own login box over the
      // dashboard.
      if (state == Admins::TokenState::Expired) {
        return error_response(401, "TOKEN_TIME_OUT", "the token has expired; log in again");
      }
      return error_response(401, "BAD_TOKEN",
                            "the token is unknown or revoked (logged out, password changed, "
                            "user deleted); log in again");
    }
    caller = Caller{owner->role, owner->username};
    return Response{};
  }
  auto given = parse_basic_authorization(request.authorization);
  if (!given) {
    log_throttled(
        fmt::format("HTTP API login failed: malformed Basic credentials peer={}", request.peer));
    return unauthorized(
        "malformed Authorization header: expected Basic base64(username:password) or Bearer "
        "<token>");
  }
  return check_password(request, given->username, given->password, false, caller);
}

Response Router::check_password(const Request& request, const std::string& name,
                                std::string& password, bool users_only, Caller& caller) {
  const std::string user = loggable(name);
  // Whose credentials these claim to be: a bootstrap API key, an API key made through the
  // API, a dashboard user, or nobody (then a hash is computed all the same, so that an
  // unknown name answers as slowly as a wrong secret). Only names that exist are counted
  // per user (login_guard.hpp).
  const ApiKey* boot = nullptr;
  if (!users_only) {
    for (const auto& k : api_keys_)
      if (k.credentials.username() == name) boot = &k;
  }
  const bool is_key = !users_only && boot == nullptr && admins_->has_api_key(name);
  const bool exists = boot != nullptr || is_key || admins_->user(name).has_value();
  const std::string known = exists ? name : "";
  const auto now = LoginGuard::Clock::now();
  if (auto v = guard_.check(known, request.address, request.loopback, now);
      v.lock != LoginGuard::Lock::None) {
    wipe(password);
    auto secs = std::chrono::ceil<std::chrono::seconds>(v.remaining).count();
    const bool by_user = v.lock == LoginGuard::Lock::User;
    log_throttled(fmt::format(
        "HTTP API login refused: {} locked for {} s more after failed logins user=\"{}\" peer={}",
        by_user ? "user" : "address", secs, user, request.peer));
    Response r = error_response(429, "TOO_MANY_REQUESTS",
                                std::string(by_user ? "this user is" : "this address is") +
                                    " locked after too many failed logins; try again in " +
                                    std::to_string(secs) + " s");
    r.retry_after = static_cast<int>(std::max<std::int64_t>(1, secs));
    return r;
  }
  bool passed = false;
  bool default_password = false;
  Role role = Role::Viewer;
  if (boot != nullptr) {
    passed = admins_->verify(boot->credentials, name, password);
    role = boot->role;
  } else if (is_key) {
    auto k = admins_->verify_key(name, password);
    passed = k.passed;
    role = k.role;
  } else {
    auto v = admins_->verify_user(name, password);
    passed = v.passed;
    role = v.role;
    default_password = v.default_password;
  }
  wipe(password);
  if (passed && default_password && !request.loopback) {
    log_throttled(fmt::format(
        "HTTP API login refused: the default password is taken from loopback clients only "
        "peer={}",
        request.peer));
    return unauthorized(kChangeDefaultPassword);
  }
  if (passed) {
    guard_.succeeded(known, request.address);
    caller = Caller{role, name};
    return Response{};
  }
  auto locked = guard_.failed(known, request.address, now);
  if (locked != LoginGuard::Lock::None) {
    // Not throttled with the rest: a lock is news, and it comes once per lock at most.
    logger()->warn(
        "HTTP API: {} locked for {} s after {} failed logins user=\"{}\" peer={}",
        locked == LoginGuard::Lock::User ? "user" : "address",
        std::chrono::duration_cast<std::chrono::seconds>(guard_.policy().lock_duration).count(),
        guard_.policy().max_attempts, user, request.peer);
  } else {
    log_throttled(fmt::format("HTTP API login failed: user=\"{}\" peer={}", user, request.peer));
  }
  return unauthorized("wrong username or password");
}

Response Router::login(const Request& request) {
  boost::system::error_code ec;
  json::value v = json::parse(request.body, ec);
  const json::object* o = !ec && v.is_object() ? &v.as_object() : nullptr;
  const json::value* u = o != nullptr ? o->if_contains("username") : nullptr;
  const json::value* p = o != nullptr ? o->if_contains("password") : nullptr;
  if (u == nullptr || p == nullptr || !u->is_string() || !p->is_string() ||
      u->as_string().size() > 256 || p->as_string().size() > 1024) {
    return error_response(400, "BAD_REQUEST",
                          "expected a JSON body {\"username\": \"...\", \"password\": \"...\"}");
  }
  std::string name(u->as_string());
  std::string password(p->as_string());
  Caller caller;
  Response checked = check_password(request, name, password, true, caller);
  if (checked.status == 401) {
    // EMQX's answer to a failed login; no Basic challenge (a browser would show its own
    // login box).
    return error_response(401, "BAD_USERNAME_OR_PWD",
                          json::parse(checked.body).as_object()["message"].as_string());
  }
  if (checked.status != 200) return checked;
  auto token = admins_->issue_token(caller.name);
  if (!token) {
    return error_response(503, "SERVICE_UNAVAILABLE",
                          "too many live login tokens; log out unused ones or wait for them to "
                          "expire");
  }
  logger()->info("HTTP API: user \"{}\" logged in peer={}", loggable(caller.name), request.peer);
  return json_response(200, json::object{{"token", *token},
                                         {"version", EMQXD_VERSION},
                                         {"role", role_name(caller.role)},
                                         {"license", json::object{{"edition", "opensource"}}}});
}

Response Router::logout(const Call& call) {
  if (auto token = bearer_token(call.request.authorization)) admins_->revoke_token(*token);
  return no_content();
}

Response Router::routes(const urls::url_view& target) {
  std::string topic = query_param(target, "topic").value_or("");
  auto limit_text = query_param(target, "limit");
  std::size_t limit = kDefaultLimit;
  if (limit_text) {
    const char* end = limit_text->data() + limit_text->size();
    auto [p, ec] = std::from_chars(limit_text->data(), end, limit);
    if (ec != std::errc() || p != end || limit < 1 || limit > kMaxLimit) {
      return error_response(400, "BAD_REQUEST",
                            "limit must be an integer from 1 to " + std::to_string(kMaxLimit));
    }
  }
  return json_response(200, to_json(control_.routes(topic, limit)));
}

Response Router::control_outcome(const ClusterControl::Outcome& outcome) {
  int status = outcome.http_status;
  if (status < 200 || status > 599) status = 500;
  if (status < 300) return json_response(status, json::object{{"message", outcome.message}});
  return error_response(status, error_code_for(status), outcome.message);
}

}  // namespace emqxd::api
