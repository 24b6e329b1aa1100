#pragma once
// `emqxd cluster join|leave|force-leave|status`: one request to the running local node's
// HTTP API (api/router.hpp), its answer printed.
#include <map>
#include <optional>
#include <string>

#include "app/api_target.hpp"

namespace emqxd::app {

struct ClusterCommand {
  std::string action;      // join | leave | force-leave | status
  std::string node;        // join, force-leave: name@host[:port]
  bool json = false;       // status: print the JSON as received
  ApiOptions api_options;  // where the node's API is, and the credentials
};

// Runs `command` and prints to stdout (results) and stderr (errors); returns the exit code.
int run_cluster_command(const ClusterCommand& command,
                        const std::map<std::string, std::string>& env);

}  // namespace emqxd::app
