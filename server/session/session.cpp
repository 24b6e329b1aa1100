#include "session/session.hpp"

#include "storage/batch.hpp"

namespace emqxd::session {

EnqueueResult Session::enqueue(Delivery d, const SessionLimits& limits, bool online,
                               storage::Batch* batch, mqtt::MessagePtr* dropped) {
  if (d.qos == mqtt::QoS::AtMostOnce && !online && !limits.mqueue_store_qos0) {
    if (dropped != nullptr) *dropped = std::move(d.msg);
    return EnqueueResult::DroppedQoS0;
  }
  auto result = EnqueueResult::Queued;
  auto drop_oldest = [&] {
    const auto seq = queue.front().store_seq;
    if (seq != 0 && store_uid != 0 && batch != nullptr)
      batch->erase_delivery(store_uid, seq, OutState::Queued);  // never sent
    if (dropped != nullptr) *dropped = queue.front().msg;
    queue.pop_front();
    result = EnqueueResult::DroppedOldest;
  };
  if (limits.max_mqueue_len != 0 && queue.size() >= limits.max_mqueue_len) drop_oldest();
  queue.push_back(std::move(d));
  return result;
}

std::uint16_t Session::next_packet_id() {
  // Inflight is bounded by Receive Maximum (<= 65535), so a free id always exists.
  for (;;) {
    last_packet_id_ =
        static_cast<std::uint16_t>(last_packet_id_ == 65535 ? 1 : last_packet_id_ + 1);
    if (!inflight.in_use(last_packet_id_)) return last_packet_id_;
  }
}

std::vector<std::string> Session::filters() const {
  std::vector<std::string> out;
  out.reserve(subscriptions.size());
  for (const auto& [filter, state] : subscriptions)
    out.push_back(filter);
  return out;
}

}  // namespace emqxd::session
