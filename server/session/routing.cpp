#include "session/routing.hpp"

#include <algorithm>

#include "session/channel.hpp"
#include "storage/records.hpp"

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
           PublishResult& result, Hub& hub) {
  if (match.saturated) {
    // Its socket does not take what it already has: dropped here, as its channel would.
    ++result.matched;
    count_dropped(hub, m);
    metrics::inc(hub.metrics().messages_dropped_queue_full);
    metrics::inc(hub.metrics().messages_dropped);
    return;
  }
  auto congested = std::move(match.congested);
  const std::uint64_t uid = match.store_uid;
  Delivery& d = out.emplace_back(make_delivery(m, std::move(match)));
  ++result.matched;
  if (congested && !result.congested) result.congested = std::move(congested);
  if (uid == 0 || d.qos == mqtt::QoS::AtMostOnce) return;
  storage::Batch* b = hub.store_batch();
  if (b == nullptr) return;
  d.store_seq = hub.next_store_seq();
  storage::DeliveryRecord r;
  r.uid = uid;
  r.seq = d.store_seq;
  r.msg = m;
  r.qos = d.qos;
  r.retain = d.retain;
  r.subscription_ids = d.subscription_ids;
  if (d.share) r.share = *d.share;
  b->put_delivery(r);
  result.stored = true;
}

void count_dropped(Hub& hub, const mqtt::MessagePtr& m, const Session* s, std::string_view reason) {
  if (!m) return;
  if (auto* tc = hub.topic_counters(m->topic)) [[unlikely]]
    tc->inc(TopicMetrics::Dropped);
  if (s != nullptr && hub.listens(rules::Event::DeliveryDropped)) [[unlikely]]
    hub.delivery_event(rules::Event::DeliveryDropped,
                       {*m, m->qos, m->retain, s->client_id(), s->channel, reason});
}

void deliver_to(Session& s, Delivery&& d, const SessionLimits& limits, Hub& hub,
                storage::Batch* batch) {
  s.arrived(d);
  if (s.channel != nullptr && s.channel->state() == Channel::State::Connected) {
    s.channel->deliver(std::move(d));
    return;
  }
  auto& counters = hub.metrics();
  mqtt::MessagePtr dropped;
  const auto r = s.enqueue(std::move(d), limits, false, batch, &dropped);
  if (dropped)
    count_dropped(hub, dropped, &s, r == EnqueueResult::DroppedQoS0 ? "qos0_msg" : "queue_full");
  switch (r) {
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
