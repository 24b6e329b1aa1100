// `emqxd cluster ...`: finds the local node's HTTP API and credentials (options, then the
// environment, then the config the node runs with), sends one request, prints the answer.
#include "app/cluster_cli.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <vector>

#include "api/api_client.hpp"
#include "config/config.hpp"

namespace emqxd::app {

namespace json = boost::json;

namespace {

// How long the CLI waits for the node's answer. A join waits on the node for the contacted
// member to answer (up to 5 s, cluster::Cluster::join), and the API thread answers one
// request at a time, so a join may also queue behind another one: 15 s covers both. The
// other requests take well under a second, unless they queue behind a join.
constexpr std::chrono::milliseconds kJoinTimeout{15'000};
constexpr std::chrono::milliseconds kRequestTimeout{10'000};

struct ApiAddress {
  std::string host;  // to connect to, without brackets
  std::string port;
  std::string shown() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
  }
};

// "HOST:PORT", "[v6]:PORT" or ":PORT"; a wildcard host (a bind address) means this machine.
std::optional<ApiAddress> parse_address(std::string_view text) {
  auto colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  std::string port(text.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string::npos) {
    return std::nullopt;
  }
  if (port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos || std::stoi(port) == 0 ||
      std::stoi(port) > 65535) {
    return std::nullopt;
  }
  if (host.empty() || host == "0.0.0.0" || host == "::") host = "127.0.0.1";
  return ApiAddress{host, port};
}

std::string env_or(const std::map<std::string, std::string>& env, const std::string& name,
                   const std::string& fallback) {
  auto it = env.find(name);
  return it != env.end() ? it->second : fallback;
}

// The "message" of a JSON answer, else the body itself (trimmed), else the status.
std::string message_of(const api::ClientResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* m = v.as_object().if_contains("message"); m && m->is_string()) {
      return std::string(m->as_string());
    }
  }
  std::string body = r.body.substr(0, 500);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r'))
    body.pop_back();
  return body.empty() ? "HTTP status " + std::to_string(r.status) : body;
}

// A field as table text: strings as they are, numbers and booleans written, else "-".
std::string text_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return "-";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  if (v->is_double()) return std::to_string(static_cast<std::int64_t>(v->as_double()));
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  return "-";
}

std::string number_in(const json::object& o, std::string_view group, std::string_view key) {
  const json::value* g = o.if_contains(group);
  if (g == nullptr || !g->is_object()) return "-";
  return text_of(g->as_object(), key);
}

// The cluster status as a table, then the totals.
bool print_status_table(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return false;
  const json::object& status = v.as_object();
  const json::value* members = status.if_contains("members");
  if (members == nullptr || !members->is_array()) return false;

  static const std::vector<std::pair<std::string, std::string>> kColumns = {
      {"NODE", "node"},     {"ADDRESS", "address"},
      {"STATE", "state"},   {"INCARNATION", "incarnation"},
      {"ROUTES", "routes"}, {"LINK", "link"}};
  std::vector<std::vector<std::string>> rows;
  std::size_t alive = 0;
  for (const json::value& m : members->as_array()) {
    if (!m.is_object()) continue;
    const json::object& member = m.as_object();
    std::vector<std::string> row;
    for (const auto& [title, key] : kColumns)
      row.push_back(text_of(member, key));
    if (text_of(member, "self") == "true") row[0] += " (self)";
    if (text_of(member, "state") == "alive") ++alive;
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width;
  for (const auto& [title, key] : kColumns)
    width.push_back(title.size());
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };

  std::printf("cluster %s, as seen from %s\n\n", text_of(status, "name").c_str(),
              text_of(status, "self").c_str());
  std::vector<std::string> titles;
  for (const auto& [title, key] : kColumns)
    titles.push_back(title);
  print_row(titles);
  for (const auto& row : rows)
    print_row(row);
  std::printf(
      "\n%zu member%s (%zu alive); routes: %s local, %s remote; "
      "forwarded: %s sent, %s received, %s dropped\n",
      rows.size(), rows.size() == 1 ? "" : "s", alive, number_in(status, "routes", "local").c_str(),
      number_in(status, "routes", "remote").c_str(), number_in(status, "forward", "sent").c_str(),
      number_in(status, "forward", "received").c_str(),
      number_in(status, "forward", "dropped").c_str());
  return true;
}

}  // namespace

int run_cluster_command(const ClusterCommand& command,
                        const std::map<std::string, std::string>& env) {
  std::optional<ApiAddress> address;
  if (!command.api.empty()) {
    address = parse_address(command.api);
    if (!address) {
      std::fprintf(stderr, "emqxd: --api: expected HOST:PORT such as 127.0.0.1:18083, got '%s'\n",
                   command.api.c_str());
      return kExitUsage;
    }
  }
  std::string username = command.username.value_or(env_or(env, "EMQXD_API_USERNAME", ""));
  std::string password = command.password.value_or(env_or(env, "EMQXD_API_PASSWORD", ""));
  bool need_username = !command.username && env.count("EMQXD_API_USERNAME") == 0;
  bool need_password = !command.password && env.count("EMQXD_API_PASSWORD") == 0;
  if (!address || need_username || need_password) {
    config::Config cfg;
    try {
      cfg = config::load(command.config_path, env);
    } catch (const config::ConfigError& e) {
      std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
      return kExitUsage;
    }
    if (!address) {
      if (!cfg.dashboard_http_enable) {
        std::fprintf(stderr,
                     "emqxd: the node's HTTP API is disabled (dashboard.listeners.http in %s)\n",
                     command.config_path.empty() ? "the defaults" : command.config_path.c_str());
        return kExitUsage;
      }
      address = parse_address(cfg.dashboard_http_bind);
      if (!address) {
        std::fprintf(stderr, "emqxd: cannot tell where the HTTP API is from bind '%s'\n",
                     cfg.dashboard_http_bind.c_str());
        return kExitUsage;
      }
    }
    if (need_username) username = cfg.dashboard_default_username;
    if (need_password) password = cfg.dashboard_default_password;
  }

  api::ClientRequest req;
  req.host = address->host;
  req.port = address->port;
  req.username = username;
  req.password = password;
  req.timeout = command.action == "join" ? kJoinTimeout : kRequestTimeout;
  if (command.action == "status") {
    req.method = "GET";
    req.target = "/api/v5/cluster";
  } else if (command.action == "leave") {
    req.method = "POST";
    req.target = "/api/v5/cluster/leave";
  } else if (command.action == "join" || command.action == "force-leave") {
    req.method = "POST";
    req.target = command.action == "join" ? "/api/v5/cluster/join" : "/api/v5/cluster/force_leave";
    req.body = json::serialize(json::object{{"node", command.node}});
  } else {
    std::fprintf(stderr, "emqxd: unknown cluster command '%s'\n", command.action.c_str());
    return kExitUsage;
  }

  api::ClientResponse res = api::http_call(req);
  if (!res.reached) {
    std::fprintf(stderr, "emqxd: cannot reach the node's HTTP API at %s: %s\n",
                 address->shown().c_str(), res.error.c_str());
    return kExitUsage;
  }
  if (res.status == 401) {
    std::fprintf(stderr, "emqxd: the node's HTTP API refused the credentials (user %s)\n",
                 username.c_str());
    return kExitUsage;
  }
  if (res.status < 200 || res.status >= 300) {
    std::fprintf(stderr, "emqxd: %s\n", message_of(res).c_str());
    return kExitRefused;
  }
  if (command.action != "status") {
    std::string message = message_of(res);
    std::printf("%s\n", message.empty() ? "ok" : message.c_str());
    return kExitOk;
  }
  if (command.json) {
    std::printf("%s\n", res.body.c_str());
    return kExitOk;
  }
  if (!print_status_table(res.body)) {
    std::fprintf(stderr, "emqxd: unexpected answer from the node's HTTP API: %s\n",
                 res.body.substr(0, 200).c_str());
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace emqxd::app
