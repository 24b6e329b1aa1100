// emqxd-bench: command line, signals and resource limits, then a Runner; the summary goes
// to stdout (text, or one JSON line with --json), progress lines to stderr.
// Exit code: 0 if every client connected (and subscribed) and none was lost, and, with
// --expect-no-loss, no QoS 1/2 message was lost or duplicated; 1 otherwise; 2 for usage.

#include <csignal>
#include <cstdio>

#include "cli.hpp"
#include "common/limits.hpp"
#include "runner.hpp"

namespace {

void on_signal(int) {
  emqxd::bench::Runner::request_stop();
}

// Every connection is a descriptor: raise the soft limit to the hard one, and say so if the
// run needs more than that.
void raise_fd_limit(std::uint64_t needed) {
  std::uint64_t limit = emqxd::raise_fd_limit();
  if (needed + 16 > limit) {
    std::fprintf(stderr,
                 "emqxd-bench: warning: %llu connections but the open file limit is %llu "
                 "(ulimit -n)\n",
                 static_cast<unsigned long long>(needed), static_cast<unsigned long long>(limit));
  }
}

}  // namespace

int main(int argc, char** argv) {
  using namespace emqxd::bench;
  std::signal(SIGPIPE, SIG_IGN);
  Options o;
  if (auto code = parse_command_line(argc, argv, o)) return *code;
  raise_fd_limit(std::uint64_t{o.count} + (o.mode == Mode::PubSub ? o.sub_count : 0));

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  Runner runner(o);
  const Summary s = runner.run();
  if (o.json) {
    std::printf("%s\n", to_json(s).c_str());
  } else {
    std::fputs(to_text(s).c_str(), stdout);
  }
  std::fflush(stdout);
  return s.ok() ? 0 : 1;
}
