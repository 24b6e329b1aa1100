#pragma once
// `emqxd ctl VERB ...`: EMQX's `emqx ctl` commands, sent to the running local node's HTTP
// API (app/api_target.hpp finds it) and printed as EMQX prints them, or as the API's JSON
// with --json. `emqxd ctl help` lists the verbs (ctl.cpp, kVerbs).
#include <map>
#include <string>
#include <vector>

#include "app/api_target.hpp"

namespace emqxd::app {

struct CtlCommand {
  ApiOptions api_options;
  bool json = false;               // print the API's JSON instead of text
  std::vector<std::string> words;  // "clients", "show", "c1"
};

// Runs `command`, prints to stdout (results) and stderr (errors); returns the exit code
// (kExitOk, kExitRefused, kExitUsage).
int run_ctl(const CtlCommand& command, const std::map<std::string, std::string>& env);

}  // namespace emqxd::app
