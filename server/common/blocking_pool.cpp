#include "common/blocking_pool.hpp"

#include <pthread.h>

namespace emqxd::common {

BlockingPool::BlockingPool(std::size_t threads, std::size_t max_queued, std::string name)
    : max_queued_(max_queued), name_(std::move(name)) {
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { run(); });
    pthread_setname_np(threads_.back().native_handle(), name_.substr(0, 15).c_str());
  }
}

BlockingPool::~BlockingPool() {
  stop();
}

bool BlockingPool::submit(Task t) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(t));
  }
  cv_.notify_one();
  return true;
}

void BlockingPool::stop() {
  std::deque<Task> dropped;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void BlockingPool::run() {
  for (;;) {
    Task t;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      t = std::move(queue_.front());
      queue_.pop_front();
    }
    t();
  }
}

}  // namespace emqxd::common
