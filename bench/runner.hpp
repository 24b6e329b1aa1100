#pragma once
// Runner: the main thread's part of a run. Builds the clients and spreads them over the
// workers, moves the run through its phases, prints a progress line per second, and after
// the workers stopped, adds up what they counted into a Summary.
//
// Phases (control.hpp). pubsub: subscribers connect and subscribe first; publishers start
// once every subscriber is subscribed (or has failed), so no message is published before
// its subscribers exist. Publishing ends at -L (all quotas sent), at --duration, or on
// SIGINT/SIGTERM; publishers then send one last message flagged final (a stream's end), and
// the run drains, for at most --drain-timeout: it waits for every ack and, with
// subscribers, until every subscriber has the final message of every stream it matches (QoS
// 1/2, no shared subscription; or 2 s of silence, as a broker may drop finals), or else
// until nothing has arrived for 500 ms. sub and conn run until --duration, -L (sub:
// messages received), --idle-timeout (sub) or a signal.
#include <memory>
#include <vector>

#include "control.hpp"
#include "options.hpp"
#include "report.hpp"
#include "worker.hpp"

namespace emqxd::bench {

class Runner {
 public:
  explicit Runner(const Options& o);
  ~Runner();

  // Runs to the end; blocks. Call once.
  Summary run();

  // Called from a signal handler: the first asks for a clean stop, the second for an
  // immediate one.
  static void request_stop();

 private:
  struct Totals;
  void build_clients();
  // pubsub: sets each publisher's matching_subs; false if finals cannot tell the end of the
  // deliveries (QoS 0, shared subscriptions, too many pairs to match).
  bool count_matching_subscribers(std::vector<Client>& pubs, const std::vector<Client>& subs) const;
  Totals totals() const;
  void print_progress(double t, const Totals& now, const Totals& before,
                      const HistogramSnapshot& window);
  Summary summarize(double elapsed, const char* reason);
  void settle_expected_ends();

  const Options& o_;
  Control control_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::uint32_t pubs_ = 0;
  std::uint32_t subs_ = 0;
  std::uint32_t conns_ = 0;
  bool finals_exact_ = false;
};

}  // namespace emqxd::bench
