#pragma once
// Runs a function in a forked child with its stdout and stderr captured, so that a test
// can watch a check abort the process (Catch2 has no death tests).
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace emqxd::test {

struct ChildOutcome {
  bool aborted = false;  // died of SIGABRT
  int exit_code = -1;    // when it exited instead
  std::string output;    // stdout and stderr together
};

template <class F>
ChildOutcome run_in_child(F&& f) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  std::fflush(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    ::dup2(fds[1], 1);
    ::dup2(fds[1], 2);
    f();
    std::fflush(nullptr);
    ::_exit(0);
  }
  ::close(fds[1]);
  ChildOutcome out;
  char buf[4096];
  for (;;) {
    auto n = ::read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    out.output.append(buf, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  out.aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
  if (WIFEXITED(status)) out.exit_code = WEXITSTATUS(status);
  return out;
}

}  // namespace emqxd::test
