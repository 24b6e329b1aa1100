#include "common/check.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>

namespace emqxd::detail {

void check_failed(const char* file, int line, const char* condition, const char* what) noexcept {
  // Through the default logger, so that the line has the configured format (JSON lines
  // stay JSON); straight to stderr only if that fails.
  try {
    auto logger = spdlog::default_logger();
    logger->critical("{}:{}: check failed: {} ({})", file, line, condition, what);
    logger->flush();
  } catch (...) {
    std::fprintf(stderr, "emqxd: %s:%d: check failed: %s (%s)\n", file, line, condition, what);
    std::fflush(stderr);
  }
  std::abort();
}

}  // namespace emqxd::detail
