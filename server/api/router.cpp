#include "api/router.hpp"

#include <boost/json.hpp>

#include <charconv>
#include <chrono>

#include "api/cluster_json.hpp"
#include "common/json_text.hpp"
#include "net/node_counters.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("api");
  return l;
}

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

Response method_not_allowed(std::string_view allow) {
  Response r = error_response(405, "METHOD_NOT_ALLOWED",
                              "method not allowed here; allowed: " + std::string(allow));
  r.allow = std::string(allow);
  return r;
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

// Splits "/a/b/c" into {"a", "b", "c"}; an empty segment (a doubled or trailing slash) is
// kept, so that such paths match nothing.
std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
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

}  // namespace

Response error_response(int status, std::string_view code, std::string_view message) {
  return json_response(status, json::object{{"code", code}, {"message", message}});
}

std::string_view error_code_for(int status) {
  switch (status) {
    case 400:
      return "BAD_REQUEST";
    case 401:
      return "UNAUTHORIZED";
    case 404:
      return "NOT_FOUND";
    case 405:
      return "METHOD_NOT_ALLOWED";
    case 409:
      return "CONFLICT";
    case 503:
      return "SERVICE_UNAVAILABLE";
    default:
      return status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST";
  }
}

std::optional<std::string> percent_decode(std::string_view in, bool plus_is_space) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = hex(in[i + 1]);
      int lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (in[i] == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += in[i];
    }
  }
  return out;
}

std::optional<std::string> query_param(std::string_view query, std::string_view name, bool* bad) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    auto eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    if (!key || *key != name) continue;
    auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
    if (!value && bad != nullptr) *bad = true;
    return value;
  }
  return std::nullopt;
}

Router::Router(const session::NodeState& node, const Credentials& credentials, ClusterControl& control)
    : node_(node), credentials_(credentials), control_(control) {}

Response Router::handle(const Request& request) {
  std::string_view target = request.target;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  if (path.empty() || path.front() != '/') {
    return error_response(400, "BAD_REQUEST", "the request target must be a path");
  }
  return route(request, path, query);
}

Response Router::route(const Request& request, std::string_view path, std::string_view query) {
  const std::string& m = request.method;
  if (path == "/status") {
    if (m != "GET") return method_not_allowed("GET");
    Response r;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "Node " + node_.config.node.name + " is started\nemqxd is running";
    return r;
  }
  auto seg = segments(path);
  if (seg.size() < 2 || seg[0] != "api" || seg[1] != "v5") return not_found(path);

  if (Response denied = authenticate(request); denied.status != 200) return denied;

  if (seg.size() == 3 && seg[2] == "cluster") {
    if (m != "GET") return method_not_allowed("GET");
    return json_response(200, to_json(control_.status()));
  }
  if (seg.size() == 4 && seg[2] == "cluster" &&
      (seg[3] == "join" || seg[3] == "leave" || seg[3] == "force_leave")) {
    if (m != "POST") return method_not_allowed("POST");
    if (seg[3] == "leave") return control_outcome(control_.leave());
    auto node = node_in_body(request.body);
    if (!node) return bad_node_body();
    return control_outcome(seg[3] == "join" ? control_.join(*node) : control_.force_leave(*node));
  }
  if (seg.size() == 5 && seg[2] == "cluster" && seg[4] == "force_leave" && !seg[3].empty()) {
    if (m != "DELETE") return method_not_allowed("DELETE");
    auto node = percent_decode(seg[3], false);
    if (!node) return error_response(400, "BAD_REQUEST", "bad %-escape in the node name");
    return control_outcome(control_.force_leave(*node));
  }
  if (seg.size() == 3 && (seg[2] == "routes" || seg[2] == "stats" || seg[2] == "metrics")) {
    if (m != "GET") return method_not_allowed("GET");
    if (seg[2] == "routes") return routes(query);
    return counters(query, seg[2] == "metrics");
  }
  return not_found(path);
}

Response Router::authenticate(const Request& request) {
  Response ok;
  if (request.authorization.empty()) {
    Response r = error_response(401, "UNAUTHORIZED", "authentication required (HTTP Basic)");
    r.challenge = true;
    return r;
  }
  auto given = parse_basic_authorization(request.authorization);
  bool passed = given && credentials_.verify(given->username, given->password);
  std::string user = given ? loggable(given->username) : std::string();
  if (given) wipe(given->password);
  if (passed) return ok;
  std::uint64_t suppressed = 0;
  if (failed_logins_.allow(std::chrono::steady_clock::now(), suppressed)) {
    if (given) {
      logger()->warn("HTTP API login failed: user=\"{}\" peer={} ({} more suppressed)", user,
                     request.peer, suppressed);
    } else {
      logger()->warn(
          "HTTP API login failed: malformed Basic credentials peer={} ({} more "
          "suppressed)",
          request.peer, suppressed);
    }
  }
  Response r = error_response(401, "UNAUTHORIZED",
                              given ? "wrong username or password"
                                    : "malformed Authorization header: expected Basic "
                                      "base64(username:password)");
  r.challenge = true;
  return r;
}

Response Router::routes(std::string_view query) {
  bool bad = false;
  std::string topic = query_param(query, "topic", &bad).value_or("");
  auto limit_text = query_param(query, "limit", &bad);
  if (bad) return error_response(400, "BAD_REQUEST", "bad %-escape in the query string");
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

Response Router::counters(std::string_view query, bool metrics) {
  bool bad = false;
  auto aggregate = query_param(query, "aggregate", &bad);
  if (bad || (aggregate && *aggregate != "true" && *aggregate != "false")) {
    return error_response(400, "BAD_REQUEST", "aggregate must be true or false");
  }
  json::object values;
  for (const auto& c : metrics ? net::node_metrics(node_) : net::node_stats(node_)) {
    values[c.name] = c.value;
  }
  // As EMQX: one object for the cluster with aggregate=true, else one per node (this one:
  // the counters of other nodes are theirs to tell).
  if (aggregate && *aggregate == "true") return json_response(200, values);
  json::object mine{{"node", node_.config.node.name}};
  for (auto& kv : values)
    mine[kv.key()] = kv.value();
  return json_response(200, json::array{std::move(mine)});
}

Response Router::control_outcome(const ClusterControl::Outcome& outcome) {
  int status = outcome.http_status;
  if (status < 200 || status > 599) status = 500;
  if (status < 300) return json_response(status, json::object{{"message", outcome.message}});
  return error_response(status, error_code_for(status), outcome.message);
}

}  // namespace emqxd::api
