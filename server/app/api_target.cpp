#include "app/api_target.hpp"

#include <boost/json.hpp>
#include <cstdio>
#include <string_view>

#include "config/config.hpp"

namespace emqxd::app {

namespace json = boost::json;

namespace {

// "HOST:PORT", "[v6]:PORT" or ":PORT"; a wildcard host (a bind address) means this machine.
std::optional<ApiTarget> parse_address(std::string_view text) {
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
  ApiTarget t;
  t.host = host;
  t.port = port;
  return t;
}

std::string env_or(const std::map<std::string, std::string>& env, const std::string& name,
                   const std::string& fallback) {
  auto it = env.find(name);
  return it != env.end() ? it->second : fallback;
}

}  // namespace

std::string ApiTarget::shown() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + port;
}

std::optional<ApiTarget> resolve_api(const ApiOptions& options,
                                     const std::map<std::string, std::string>& env) {
  std::optional<ApiTarget> address;
  if (!options.api.empty()) {
    address = parse_address(options.api);
    if (!address) {
      std::fprintf(stderr, "emqxd: --api: expected HOST:PORT such as 127.0.0.1:18083, got '%s'\n",
                   options.api.c_str());
      return std::nullopt;
    }
  }
  std::string username = options.username.value_or(env_or(env, "EMQXD_API_USERNAME", ""));
  std::string password = options.password.value_or(env_or(env, "EMQXD_API_PASSWORD", ""));
  const bool need_username = !options.username && env.count("EMQXD_API_USERNAME") == 0;
  const bool need_password = !options.password && env.count("EMQXD_API_PASSWORD") == 0;
  if (!address || need_username || need_password) {
    config::Config cfg;
    try {
      cfg = config::load(options.config_path, env);
    } catch (const config::ConfigError& e) {
      std::fprintf(stderr, "emqxd: config error: %s\n", e.what());
      return std::nullopt;
    }
    if (!address) {
      if (!cfg.dashboard_http_enable) {
        std::fprintf(stderr,
                     "emqxd: the node's HTTP API is disabled (dashboard.listeners.http in %s)\n",
                     options.config_path.empty() ? "the defaults" : options.config_path.c_str());
        return std::nullopt;
      }
      address = parse_address(cfg.dashboard_http_bind);
      if (!address) {
        std::fprintf(stderr, "emqxd: cannot tell where the HTTP API is from bind '%s'\n",
                     cfg.dashboard_http_bind.c_str());
        return std::nullopt;
      }
    }
    if (need_username) username = cfg.dashboard_default_username;
    if (need_password) password = cfg.dashboard_default_password;
  }
  address->username = std::move(username);
  address->password = std::move(password);
  return address;
}

ApiAnswer call_api(const ApiTarget& target, const std::string& method, const std::string& path,
                   const std::string& body, std::chrono::milliseconds timeout) {
  api::ClientRequest req;
  req.host = target.host;
  req.port = target.port;
  req.username = target.username;
  req.password = target.password;
  req.method = method;
  req.target = path;
  req.body = body;
  req.timeout = timeout;
  ApiAnswer out;
  out.response = api::http_call(req);
  const auto& res = out.response;
  if (!res.reached) {
    std::fprintf(stderr, "emqxd: cannot reach the node's HTTP API at %s: %s\n",
                 target.shown().c_str(), res.error.c_str());
    out.exit = kExitUsage;
  } else if (res.status == 401) {
    std::fprintf(stderr, "emqxd: the node's HTTP API refused the credentials (user %s)\n",
                 target.username.c_str());
    out.exit = kExitUsage;
  } else if (res.status < 200 || res.status >= 300) {
    std::fprintf(stderr, "emqxd: %s\n", message_of(res).c_str());
    out.exit = kExitRefused;
  }
  return out;
}

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

}  // namespace emqxd::app
