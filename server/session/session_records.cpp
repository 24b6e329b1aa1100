#include "session/session_records.hpp"

#include "storage/records.hpp"

namespace emqxd::session {

namespace {
SessionState::Delivery plain(const Delivery& d, storage::OutState state, std::uint16_t packet_id) {
  SessionState::Delivery x;
  x.state = state;
  x.packet_id = packet_id;
  x.qos = d.qos;
  x.retain = d.retain;
  x.subscription_ids = d.subscription_ids;
  if (d.share) x.share = *d.share;
  x.msg = d.msg;
  x.store_seq = d.store_seq;
  return x;
}
}  // namespace

SessionState to_state(Session& s) {
  SessionState st;
  st.client_id = s.client_id();
  st.expiry_interval = s.expiry_interval;
  st.protocol_version = 5;
  for (const auto& [filter, sub] : s.subscriptions) {
    st.subscriptions.push_back({filter, sub.opts, sub.subscription_id});
  }
  s.inflight.for_each(
      [&](Inflight& f) { st.deliveries.push_back(plain(f.d, f.state, f.packet_id)); });
  s.queue.for_each(
      [&](Delivery& d) { st.deliveries.push_back(plain(d, storage::OutState::Queued, 0)); });
  for (const auto& [id, at] : s.awaiting_rel)
    st.awaiting_rel.push_back(id);
  return st;
}

void fill(Session& s, SessionState&& st, std::chrono::steady_clock::time_point now) {
  s.expiry_interval = st.expiry_interval;
  for (auto& sub : st.subscriptions) {
    s.subscribe(sub.filter, SubscriptionState{sub.options, sub.subscription_id});
  }
  for (auto& x : st.deliveries) {
    Delivery d;
    d.session = s.id();
    d.msg = std::move(x.msg);
    d.qos = x.qos;
    d.retain = x.retain;
    d.subscription_ids = std::move(x.subscription_ids);
    if (!x.share.empty()) d.share = std::make_shared<const std::string>(std::move(x.share));
    d.store_seq = x.store_seq;
    if (x.state == storage::OutState::Queued) {
      s.queue.push_back(std::move(d));
      continue;
    }
    if (s.inflight.in_use(x.packet_id)) continue;
    Inflight f;
    f.packet_id = x.packet_id;
    f.state = x.state;
    f.d = std::move(d);
    s.inflight.push_back(std::move(f));
  }
  for (auto id : st.awaiting_rel)
    s.awaiting_rel[id] = now;
}

void store_all(Session& s, std::uint8_t protocol_version, storage::Batch& b,
               const std::function<std::uint64_t()>& next_seq) {
  s.store_uid = next_seq();
  b.put_session(
      {s.client_id(), s.store_uid, s.expiry_interval, mqtt::wall_ms_now(), protocol_version});
  for (const auto& [filter, sub] : s.subscriptions) {
    b.put_subscription({s.store_uid, filter, sub.opts, sub.subscription_id});
  }
  auto put = [&](Delivery& d, storage::OutState state, std::uint16_t packet_id) {
    if (d.qos == mqtt::QoS::AtMostOnce) {
      d.store_seq = 0;
      return;
    }
    d.store_seq = next_seq();
    storage::DeliveryRecord r;
    r.uid = s.store_uid;
    r.seq = d.store_seq;
    // A WaitPubComp entry keeps no message; storage wants one: an empty stand-in.
    r.msg = d.msg ? d.msg : std::make_shared<const mqtt::Message>();
    r.qos = d.qos;
    r.retain = d.retain;
    r.subscription_ids = d.subscription_ids;
    if (d.share) r.share = *d.share;
    b.put_delivery(r);
    if (state != storage::OutState::Queued) {
      b.update_delivery_state(s.store_uid, d.store_seq, packet_id, state);
    }
  };
  s.inflight.for_each([&](Inflight& f) { put(f.d, f.state, f.packet_id); });
  s.queue.for_each([&](Delivery& d) { put(d, storage::OutState::Queued, 0); });
  const auto at = mqtt::wall_ms_now();
  for (const auto& [id, received] : s.awaiting_rel)
    b.put_awaiting_rel({s.store_uid, id, at});
}

}  // namespace emqxd::session
