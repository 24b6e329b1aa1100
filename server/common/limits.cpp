#include "common/limits.hpp"

#include <sys/resource.h>

namespace emqxd {

std::uint64_t raise_fd_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  if (rl.rlim_cur == RLIM_INFINITY) return std::numeric_limits<std::uint64_t>::max();
  return rl.rlim_cur;
}

}  // namespace emqxd
