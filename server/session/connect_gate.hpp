#pragma once
// The node's door for new clients. While a node is evacuated (net/evacuation.hpp) it takes
// no new MQTT connection: CONNECT is answered 0x9C Use another server (MQTT 5, with the
// Server Reference given, if any) or 3 Server unavailable (3.1.1), and GET /status answers
// 503, so that load balancers and Kubernetes send clients elsewhere. Every CONNECT reads
// closed(): one acquire load while the door is open.
#include <atomic>
#include <mutex>
#include <string>

namespace emqxd::session {

class ConnectGate {
 public:
  // `server_reference`: where MQTT 5 clients are told to go (EMQX's redirect_to); empty:
  // mqtt.server_reference, or nowhere.
  void close(std::string server_reference) {
    std::lock_guard lock(mutex_);
    reference_ = std::move(server_reference);
    closed_.store(true, std::memory_order_release);
  }
  void open() {
    std::lock_guard lock(mutex_);
    closed_.store(false, std::memory_order_release);
  }
  bool closed() const { return closed_.load(std::memory_order_acquire); }
  std::string server_reference() const {
    std::lock_guard lock(mutex_);
    return reference_;
  }

 private:
  std::atomic<bool> closed_{false};
  mutable std::mutex mutex_;
  std::string reference_;  // guarded by mutex_
};

}  // namespace emqxd::session
