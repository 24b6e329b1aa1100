#pragma once
// LoginGuard: EMQX's lockout after failed logins (dashboard.unsuccessful_login_*), for
// the HTTP API's Basic credentials, kept per user and per source address.
//
// Problem: without it one connection tries ~290 passwords a second, for ever. Idea, as
// EMQX's dashboard: failures are counted while each comes within `interval` of the first
// of the run; the `max_attempts`-th locks for `lock_duration`, and a success ends the run.
// Two counters, so that neither guessing many passwords for one user from many addresses
// nor many users from one address gets far:
//
// - per user: only users that exist are counted (a made-up name protects nothing and
//   would let anyone grow the table). A locked user is refused from every address except
//   loopback, so that a remote attacker cannot lock the operator on the node's machine
//   (and `emqxd cluster`) out of their own node.
// - per source address (the IP, the port dropped): any user, loopback included. At most
//   `max_sources` addresses are tracked; when the table is full of live entries a new
//   address goes uncounted (the per-user lock still holds) rather than evicting a lock.
//
// A locked request is refused before its password is hashed, so a lock costs nothing.
// Thread-safe (one mutex; the API's handler threads share one guard).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace emqxd::api {

struct LoginPolicy {
  std::uint32_t max_attempts = 5;                        // unsuccessful_login_max_attempts
  std::chrono::milliseconds lock_duration{10 * 60'000};  // unsuccessful_login_lock_duration
  std::chrono::milliseconds interval{5 * 60'000};        // unsuccessful_login_interval
};

class LoginGuard {
 public:
  using Clock = std::chrono::steady_clock;

  enum class Lock { None, User, Source };
  struct Verdict {
    Lock lock = Lock::None;
    Clock::duration remaining{};  // how long the lock still holds
  };

  explicit LoginGuard(LoginPolicy policy = {}, std::size_t max_sources = 10'000);

  // Whether a login of `user` from `source` may be tried now. `user` empty: not a known
  // user (no per-user lock applies).
  Verdict check(std::string_view user, std::string_view source, bool loopback,
                Clock::time_point now);
  // Records a failed login; returns what it locked now (None, User, or Source; User when
  // both), for the log.
  Lock failed(std::string_view user, std::string_view source, Clock::time_point now);
  // A login passed: the runs of this user and this source end.
  void succeeded(std::string_view user, std::string_view source);

  const LoginPolicy& policy() const { return policy_; }
  std::size_t sources_tracked() const;

 private:
  struct Run {
    std::uint32_t failures = 0;
    Clock::time_point first{};         // first failure of the run
    Clock::time_point locked_until{};  // in the past: not locked
  };
  bool fail(Run& run, Clock::time_point now) const;  // true when this failure locks
  bool expired(const Run& run, Clock::time_point now) const;

  LoginPolicy policy_;
  std::size_t max_sources_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Run> users_;    // guarded by mutex_
  std::unordered_map<std::string, Run> sources_;  // guarded by mutex_
};

}  // namespace emqxd::api
