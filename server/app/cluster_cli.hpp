#pragma once
// `emqxd cluster join|leave|force-leave|status`: one request to the running local node's
// HTTP API (api/router.hpp), its answer printed.
#include <map>
#include <optional>
#include <string>

namespace emqxd::app {

struct ClusterCommand {
  std::string action;  // join | leave | force-leave | status
  std::string node;    // join, force-leave: name@host[:port]
  bool json = false;   // status: print the JSON as received
  // Where the API is: `api` (HOST:PORT) if given, else dashboard.listeners.http.bind of
  // `config_path` (empty: the embedded defaults), EMQX_* overrides applied either way.
  std::string api;
  std::string config_path;
  // Credentials: these if given, else EMQXD_API_USERNAME / EMQXD_API_PASSWORD, else the
  // config's dashboard.default_username / default_password.
  std::optional<std::string> username;
  std::optional<std::string> password;
};

// Exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;  // the node answered no (its message is printed)
inline constexpr int kExitUsage = 2;    // bad usage, API unreachable, credentials refused

// Runs `command` and prints to stdout (results) and stderr (errors); returns the exit code.
int run_cluster_command(const ClusterCommand& command,
                        const std::map<std::string, std::string>& env);

}  // namespace emqxd::app
