#pragma once
// Where the running local node's HTTP API is and which credentials to use, for the
// commands that talk to it (`emqxd cluster`, `emqxd ctl`): options first, then the
// environment, then the config the node runs with; and one request to it, its failures
// printed to stderr.
#include <chrono>
#include <map>
#include <optional>
#include <string>

#include "api/api_client.hpp"

namespace emqxd::app {

// Exit codes of the commands that talk to a node.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;  // the node answered no (its message is printed)
inline constexpr int kExitUsage = 2;    // bad usage, API unreachable, credentials refused

struct ApiOptions {
  // Where the API is: `api` (HOST:PORT) if given, else dashboard.listeners.http.bind of
  // `config_path` (empty: the embedded defaults), EMQX_* overrides applied either way.
  std::string api;
  std::string config_path;
  // Credentials: these if given, else EMQXD_API_USERNAME / EMQXD_API_PASSWORD, else the
  // config's dashboard.default_username / default_password.
  std::optional<std::string> username;
  std::optional<std::string> password;
};

struct ApiTarget {
  std::string host;  // to connect to, without brackets
  std::string port;
  std::string username;
  std::string password;
  std::string shown() const;  // HOST:PORT, [v6]:PORT
};

// The target, or nullopt when it cannot be told (the reason printed; exit kExitUsage).
std::optional<ApiTarget> resolve_api(const ApiOptions& options,
                                     const std::map<std::string, std::string>& env);

struct ApiAnswer {
  int exit = kExitOk;  // kExitOk: `response` is a 2xx; else what was printed says why
  api::ClientResponse response;
};

// One request. Unreachable or 401: a line on stderr and kExitUsage; another non-2xx: the
// node's message on stderr and kExitRefused.
ApiAnswer call_api(const ApiTarget& target, const std::string& method, const std::string& path,
                   const std::string& body = "",
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(10'000));

// The "message" of a JSON answer, else the body itself (trimmed), else the status.
std::string message_of(const api::ClientResponse& r);

}  // namespace emqxd::app
