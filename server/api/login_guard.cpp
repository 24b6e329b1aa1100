#include "api/login_guard.hpp"

namespace emqxd::api {

LoginGuard::LoginGuard(LoginPolicy policy, std::size_t max_sources)
    : policy_(policy), max_sources_(max_sources) {
  if (policy_.max_attempts == 0) policy_.max_attempts = 1;
}

bool LoginGuard::expired(const Run& run, Clock::time_point now) const {
  return run.locked_until <= now && now - run.first > policy_.interval;
}

bool LoginGuard::fail(Run& run, Clock::time_point now) const {
  if (run.failures == 0 || now - run.first > policy_.interval) {
    run.failures = 0;
    run.first = now;
  }
  if (++run.failures < policy_.max_attempts) return false;
  run.failures = 0;
  run.locked_until = now + policy_.lock_duration;
  return true;
}

LoginGuard::Verdict LoginGuard::check(std::string_view user, std::string_view source, bool loopback,
                                      Clock::time_point now) {
  std::lock_guard lock(mutex_);
  if (auto it = sources_.find(std::string(source)); it != sources_.end()) {
    if (it->second.locked_until > now) return {Lock::Source, it->second.locked_until - now};
  }
  if (!user.empty() && !loopback) {
    if (auto it = users_.find(std::string(user)); it != users_.end()) {
      if (it->second.locked_until > now) return {Lock::User, it->second.locked_until - now};
    }
  }
  return {};
}

LoginGuard::Lock LoginGuard::failed(std::string_view user, std::string_view source,
                                    Clock::time_point now) {
  std::lock_guard lock(mutex_);
  Lock locked = Lock::None;
  auto it = sources_.find(std::string(source));
  if (it == sources_.end() && sources_.size() >= max_sources_) {
    std::erase_if(sources_, [&](const auto& kv) { return expired(kv.second, now); });
  }
  if (it != sources_.end() || sources_.size() < max_sources_) {
    Run& run = it != sources_.end() ? it->second : sources_[std::string(source)];
    if (fail(run, now)) locked = Lock::Source;
  }
  if (!user.empty() && fail(users_[std::string(user)], now)) locked = Lock::User;
  return locked;
}

void LoginGuard::succeeded(std::string_view user, std::string_view source) {
  std::lock_guard lock(mutex_);
  // The lock itself stays: a success can only come from where no lock applied (loopback).
  if (auto it = sources_.find(std::string(source)); it != sources_.end()) it->second.failures = 0;
  if (auto it = users_.find(std::string(user)); it != users_.end()) it->second.failures = 0;
}

std::size_t LoginGuard::sources_tracked() const {
  std::lock_guard lock(mutex_);
  return sources_.size();
}

}  // namespace emqxd::api
