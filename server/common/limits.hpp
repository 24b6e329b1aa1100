#pragma once
// Process limits every emqxd program needs.
#include <cstdint>
#include <limits>

namespace emqxd {

// Every connection is a descriptor: raises the open-file soft limit to the hard one and
// returns the soft limit now in force (max() when unlimited).
std::uint64_t raise_fd_limit();

}  // namespace emqxd
