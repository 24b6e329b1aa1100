#include "session/routing.hpp"

#include <algorithm>

#include "session/channel.hpp"

namespace emqxd::session {

Delivery make_delivery(const mqtt::MessagePtr& m, broker::Match&& match) {
  Delivery d;
  d.session = match.ref.session;
  d.msg = m;
  d.qos = std::min(m->qos, match.qos);
  d.retain = match.retain_as_published && m->retain;
  d.share = std::move(match.share);
  d.subscription_ids = std::move(match.subscription_ids);
  d.counted = match.counted;
  return d;
}

void route(const mqtt::MessagePtr& m, broker::Match&& match, std::vector<Delivery>& out,
           PublishResult& result) {
  auto congested = std::move(match.congested);
  out.emplace_back(make_delivery(m, std::move(match)));
  ++result.matched;
  if (congested && !result.congested) result.congested = std::move(congested);
}

void deliver_to(Session& s, Delivery&& d, const SessionLimits& limits,
                metrics::Metrics& counters) {
  s.arrived(d);
  if (s.channel != nullptr && s.channel->state() == Channel::State::Connected) {
    s.channel->deliver(std::move(d));
    return;
  }
  switch (s.enqueue(std::move(d), limits, false)) {
    case EnqueueResult::Queued:
      break;
    case EnqueueResult::DroppedOldest:
      metrics::inc(counters.messages_dropped_queue_full);
      metrics::inc(counters.messages_dropped);
      break;
    case EnqueueResult::DroppedQoS0:
      metrics::inc(counters.messages_dropped_qos0_offline);
      metrics::inc(counters.messages_dropped);
      break;
  }
}

}  // namespace emqxd::session
