#include "rules/console.hpp"

#include <cstdio>

namespace emqxd::rules {

Console::Console() : thread_([this] { loop(); }) {}

Console::~Console() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

bool Console::push(std::string entry) {
  {
    std::lock_guard lock(mutex_);
    if (queue_.size() >= kMaxQueued || bytes_ + entry.size() > kMaxBytes) return false;
    bytes_ += entry.size();
    queue_.push_back(std::move(entry));
  }
  cv_.notify_one();
  return true;
}

void Console::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_, and nothing left
    std::string entry = std::move(queue_.front());
    queue_.pop_front();
    bytes_ -= entry.size();
    lock.unlock();
    std::fwrite(entry.data(), 1, entry.size(), stdout);
    std::fflush(stdout);
    lock.lock();
  }
}

}  // namespace emqxd::rules
