#include "session/session.hpp"

#include <algorithm>

namespace emqxd::session {

EnqueueResult Session::enqueue(Delivery d, const SessionLimits& limits, bool online) {
  if (d.qos == mqtt::QoS::AtMostOnce && !online && !limits.mqueue_store_qos0) {
    return EnqueueResult::DroppedQoS0;
  }
  auto result = EnqueueResult::Queued;
  if (limits.max_mqueue_len != 0 && queue.size() >= limits.max_mqueue_len) {
    queue.pop_front();
    result = EnqueueResult::DroppedOldest;
  }
  queue.push_back(std::move(d));
  return result;
}

std::uint16_t Session::next_packet_id() {
  // Inflight is bounded by Receive Maximum (<= 65535), so a free id always exists.
  for (;;) {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
    if (find_inflight(last_packet_id_) == nullptr) return last_packet_id_;
  }
}

Inflight* Session::find_inflight(std::uint16_t packet_id) {
  // Inflight windows are small (max_inflight, 32 by default): a linear scan of a
  // contiguous deque beats a hash map here and keeps the send order for redelivery.
  for (auto& f : inflight) {
    if (f.packet_id == packet_id) return &f;
  }
  return nullptr;
}

void Session::erase_inflight(std::uint16_t packet_id) {
  auto it = std::find_if(inflight.begin(), inflight.end(),
                         [&](const Inflight& f) { return f.packet_id == packet_id; });
  if (it != inflight.end()) inflight.erase(it);
}

std::vector<std::string> Session::filters() const {
  std::vector<std::string> out;
  out.reserve(subscriptions.size());
  for (const auto& [filter, state] : subscriptions) out.push_back(filter);
  return out;
}

}  // namespace emqxd::session
