// EMQXD_CHECK stays on in release builds (this binary is built with NDEBUG, as release
// is): a broken invariant aborts and names the file and line.
#include "common/check.hpp"

#include <catch2/catch.hpp>
#include <string>

#include "common/run_in_child.hpp"

using emqxd::test::run_in_child;

TEST_CASE("a failed check logs file:line and what, then aborts, with NDEBUG too", "[check]") {
#ifndef NDEBUG
  WARN("built without NDEBUG: this does not show that checks outlive release builds");
#endif
  volatile int three = 3;
  const int line = __LINE__ + 1;
  auto outcome = run_in_child([&] { EMQXD_CHECK(three == 4, "arithmetic broke"); });
  INFO(outcome.output);
  CHECK(outcome.aborted);
  CHECK(outcome.output.find("check_test.cpp:" + std::to_string(line) +
                            ": check failed: three == 4 (arithmetic broke)") != std::string::npos);
}

TEST_CASE("a check that holds costs nothing visible", "[check]") {
  auto outcome = run_in_child([] {
    int calls = 0;
    auto once = [&] { return ++calls; };
    EMQXD_CHECK(once() == 1, "evaluated once");
    EMQXD_CHECK(calls == 1, "evaluated once");
  });
  CHECK_FALSE(outcome.aborted);
  CHECK(outcome.exit_code == 0);
  CHECK(outcome.output.empty());
}
