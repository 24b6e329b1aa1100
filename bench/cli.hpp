#pragma once
// The command line, emqtt-bench's where it has the option (bench/README.md lists them).
#include <optional>

#include "options.hpp"

namespace emqxd::bench {

// Fills `o` from argv and resolves the server and source addresses. Returns nullopt to run,
// or the exit code to return now (0 after --help, 2 for a usage error, printed on stderr).
std::optional<int> parse_command_line(int argc, char** argv, Options& o);

}  // namespace emqxd::bench
