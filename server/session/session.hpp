#pragma once
// Session: the state MQTT says outlives a network connection (section 4.1):
// subscriptions, QoS 1/2 messages in flight to the client, messages queued for it, and
// QoS 2 packet ids received but not yet released. Lives on one worker; the Channel of
// the current connection (if any) drives it. Plain data plus bookkeeping: no I/O.
#include <algorithm>
#include <atomic>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "broker/pressure.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"
#include "storage/records.hpp"

namespace emqxd::storage {
class Batch;
}

namespace emqxd::session {

class Channel;

// One message on its way to this session's client.
struct Delivery {
  std::uint64_t session = 0;  // target session serial
  mqtt::MessagePtr msg;
  mqtt::QoS qos = mqtt::QoS::AtMostOnce;  // effective QoS: min(message, subscription)
  bool retain = false;                    // the RETAIN flag to send
  // What it is charged to its session's memory account while queued or in flight (set by
  // DeliveryQueue and InflightWindow, see delivery_charge); fits in the padding.
  std::uint32_t charge = 0;
  std::shared_ptr<const std::string> share;  // "$share/g/f" when it came through one
  std::vector<std::uint32_t> subscription_ids;
  bool counted = false;         // in the target's Pressure::in_transit until it arrives
  bool refused = false;         // its commit failed and its publisher was refused: not delivered
  std::uint64_t store_seq = 0;  // stored as (session's store_uid, seq); 0: in memory only
};

// The memory account of a session (Session::bytes, force_shutdown.max_heap_size): what a
// queued or in-flight message costs it. Only the record that carries it: the message itself
// (topic and payload) is shared by every session it goes to and by the retainer, and lives
// as long as any of them holds it, as EMQX's large binaries live outside the process heap
// its max_heap_size measures. How many messages a session holds is bounded by
// mqtt.max_mqueue_len and the Receive Maximum, and publishers are held back by
// back-pressure; this bound is for what one client alone makes the broker keep (aliases,
// subscriptions, its read buffer, and the records of what waits for it). A constant, so
// that the publish path pays one addition per message and no allocation.
inline constexpr std::uint32_t kDeliveryOverhead = sizeof(Delivery) + sizeof(mqtt::Message);
inline std::uint32_t delivery_charge(const Delivery&) {
  return kDeliveryOverhead;
}
// A subscription: the filter in the session's map and in the broker's trie and route
// table, plus their nodes. Measured: ~500 bytes of resident memory per subscription to a
// 14-byte filter (test_subscription_flood_is_refused_with_0x97 in
// tests/integration/test_limits.py).
inline constexpr std::size_t kSubscriptionOverhead = 480;
inline std::int64_t subscription_charge(std::string_view filter) {
  return static_cast<std::int64_t>(kSubscriptionOverhead + 2 * filter.size());
}

// WaitPubAck, WaitPubRec or WaitPubComp while in flight; Queued before it is sent. The same
// values storage records (storage/records.hpp).
using OutState = storage::OutState;

struct Inflight {
  Delivery d;
  std::uint16_t packet_id = 0;
  OutState state = OutState::WaitPubAck;
  // Resumed on a connection whose Receive Maximum is smaller than what is in flight: it
  // is resent (same packet id, DUP) when the window opens [MQTT-4.4.0-1], [MQTT-3.3.4-9].
  bool awaiting_resend = false;
  // From the message's arrival to its first write, in ms (slow subscriptions' "internal"
  // part, session/slow_subs.hpp); fits in the padding.
  std::uint32_t waited_ms = 0;
  // When it was last written, for retry_interval (MQTT 3.1.1 only, see Channel::retry).
  std::chrono::steady_clock::time_point sent_at{};
};

// The messages in flight to the client, in the order sent [MQTT-4.6.0-1..4]. Acks come
// back mostly in order, so the front is checked first and erasing it is O(1); a bitmap
// of the packet ids in use makes "is this id taken / known?" O(1) whatever the window
// (max_inflight may be thousands). Storage exists only while something is in flight.
class InflightWindow {
 public:
  bool empty() const { return !s_ || s_->entries.empty(); }
  std::size_t size() const { return s_ ? s_->entries.size() : 0; }
  Inflight& operator[](std::size_t i) { return s_->entries[i]; }
  Inflight& front() { return s_->entries.front(); }
  bool in_use(std::uint16_t packet_id) const { return s_ && s_->ids.test(packet_id); }

  // Bytes charged for what is in flight (delivery_charge when it entered).
  std::int64_t bytes() const { return s_ ? s_->bytes : 0; }

  void push_back(Inflight f) {
    if (!s_) s_ = std::make_unique<State>();
    s_->ids.set(f.packet_id);
    f.d.charge = delivery_charge(f.d);
    s_->bytes += f.d.charge;
    s_->entries.push_back(std::move(f));
  }
  Inflight* find(std::uint16_t packet_id) {
    if (!in_use(packet_id)) return nullptr;
    auto& e = s_->entries;
    if (e.front().packet_id == packet_id) return &e.front();
    if (e.back().packet_id == packet_id) return &e.back();
    for (auto& f : e) {
      if (f.packet_id == packet_id) return &f;
    }
    return nullptr;
  }
  void erase(std::uint16_t packet_id) {
    if (!in_use(packet_id)) return;
    auto& e = s_->entries;
    if (e.front().packet_id == packet_id) {
      s_->bytes -= e.front().d.charge;
      e.pop_front();
    } else {
      for (auto it = e.begin(); it != e.end(); ++it) {
        if (it->packet_id == packet_id) {
          s_->bytes -= it->d.charge;
          e.erase(it);
          break;
        }
      }
    }
    s_->ids.reset(packet_id);
    if (e.empty()) s_.reset();
  }
  void erase_at(std::size_t i) { erase(s_->entries[i].packet_id); }
  // Lets go of the message of `f` (a QoS 2 delivery the client has received: PUBREC) and
  // of its charge.
  void release_message(Inflight& f) {
    const auto kept = kDeliveryOverhead;
    if (f.d.charge > kept) s_->bytes -= f.d.charge - kept;
    f.d.charge = std::min(f.d.charge, kept);
    f.d.msg.reset();
  }
  template <class F>
  void for_each(F&& f) {
    if (s_) {
      for (auto& x : s_->entries)
        f(x);
    }
  }

 private:
  struct State {
    std::deque<Inflight> entries;
    std::bitset<65536> ids;
    std::int64_t bytes = 0;
  };
  std::unique_ptr<State> s_;
};

struct SubscriptionState {
  mqtt::SubscribeOptions opts;
  std::uint32_t subscription_id = 0;
};

struct SessionLimits {
  std::uint32_t max_mqueue_len = 1000;  // 0 = infinity
  bool mqueue_store_qos0 = true;
};

enum class EnqueueResult { Queued, DroppedOldest, DroppedQoS0 };

// A FIFO that costs one pointer until the first message: libstdc++'s std::deque
// allocates ~600 bytes on construction, which idle sessions cannot afford. With
// back-pressure its length is mirrored into the session's Pressure::queued.
class DeliveryQueue {
 public:
  bool empty() const { return !q_ || q_->empty(); }
  std::size_t size() const { return q_ ? q_->size() : 0; }
  // Bytes charged for what is queued (delivery_charge when it entered; a moved-from
  // front keeps its charge until popped).
  std::int64_t bytes() const { return bytes_; }
  Delivery& front() { return q_->front(); }
  void pop_front() {
    bytes_ -= q_->front().charge;
    q_->pop_front();
    if (q_->empty()) q_.reset();
    mirror();
  }
  void push_back(Delivery d) {
    if (!q_) q_ = std::make_unique<std::deque<Delivery>>();
    d.charge = delivery_charge(d);
    bytes_ += d.charge;
    q_->push_back(std::move(d));
    mirror();
  }
  void push_front(Delivery d) {
    if (!q_) q_ = std::make_unique<std::deque<Delivery>>();
    d.charge = delivery_charge(d);
    bytes_ += d.charge;
    q_->push_front(std::move(d));
    mirror();
  }
  void clear() {
    q_.reset();
    bytes_ = 0;
    mirror();
  }
  void mirror_into(std::atomic<std::int64_t>* length) {
    length_ = length;
    mirror();
  }
  template <class F>
  void for_each(F&& f) {
    if (q_)
      for (auto& d : *q_)
        f(d);
  }

 private:
  void mirror() {
    if (length_ != nullptr) {
      length_->store(static_cast<std::int64_t>(size()), std::memory_order_relaxed);
    }
  }
  std::unique_ptr<std::deque<Delivery>> q_;
  std::atomic<std::int64_t>* length_ = nullptr;
  std::int64_t bytes_ = 0;
};

class Session {
 public:
  Session(std::uint64_t id, std::string client_id)
      : created_at_ms(mqtt::wall_ms_now()), id_(id), client_id_(std::move(client_id)) {}

  std::uint64_t id() const { return id_; }
  const std::string& client_id() const { return client_id_; }

  // Subscriptions keyed by the filter as the client sent it ($share/... included).
  // Changed through subscribe() and unsubscribe(), which keep their bytes counted.
  std::map<std::string, SubscriptionState, std::less<>> subscriptions;
  using SubscriptionMap = std::map<std::string, SubscriptionState, std::less<>>;
  // Adds or replaces the subscription to `filter`; true if it is new.
  std::pair<SubscriptionMap::iterator, bool> subscribe(const std::string& filter,
                                                       SubscriptionState st) {
    auto r = subscriptions.insert_or_assign(filter, st);
    if (r.second) subscription_bytes_ += subscription_charge(filter);
    return r;
  }
  bool unsubscribe(std::string_view filter) {
    auto it = subscriptions.find(filter);
    if (it == subscriptions.end()) return false;
    subscription_bytes_ -= subscription_charge(filter);
    subscriptions.erase(it);
    return true;
  }
  // The session's part of its connection's memory account (force_shutdown): subscriptions,
  // messages in flight and queued. A few additions, no walk.
  // The session's part of the memory account: subscriptions and what is in flight. The
  // queue is not in it: its length is bounded by mqtt.max_mqueue_len, and a durable
  // session that comes back to a long queue must be served, not shut down.
  std::int64_t bytes() const { return subscription_bytes_ + inflight.bytes(); }
  InflightWindow inflight;
  DeliveryQueue queue;  // waiting for the connection or for inflight room
  // QoS 2 packet ids received (PUBREC sent) awaiting PUBREL, with the time received.
  std::unordered_map<std::uint16_t, std::chrono::steady_clock::time_point> awaiting_rel;

  // Seconds the session outlives its connection; 0xFFFFFFFF never expires.
  std::uint32_t expiry_interval = 0;
  // Durable (stored) when non-zero: decided when the session is created with an expiry
  // interval > 0, kept until it ends. Its QoS 1/2 deliveries carry a store_seq.
  std::uint64_t store_uid = 0;

  // A will waiting for its delay after the connection closed (section 3.1.3.2).
  std::optional<mqtt::MessagePtr> pending_will;
  std::uint32_t will_delay = 0;  // seconds
  // Set when the will's authorization waits for a remote source (auth/authz_http.hpp):
  // publishes it through that check when the delay ends. Empty: published as it is.
  std::function<void(const mqtt::MessagePtr&)> pending_will_publish;

  Channel* channel = nullptr;  // the connection's channel while connected

  // What the HTTP API shows of a session that is offline (server/api/node_ops.cpp): its
  // last connection, as the channel saw it when it closed (Channel::detach_session).
  std::int64_t created_at_ms = 0;  // Unix ms: made here (or handed over to this node)
  struct LastConnection {
    std::optional<std::string> username;
    std::string peer;  // ip:port
    std::int64_t connected_at_ms = 0, disconnected_at_ms = 0;
    std::uint16_t keepalive = 0;
    std::uint8_t proto_ver = 0;  // 3, 4, 5
    bool clean_start = false;
  };
  std::unique_ptr<LastConnection> last;  // null until its first connection closes here

  // Shared with the broker's subscription entries when mqtt.backpressure is on.
  std::shared_ptr<broker::Pressure> pressure;
  void enable_pressure(std::uint32_t max_mqueue_len, std::chrono::nanoseconds stall_timeout) {
    if (pressure) return;
    pressure = broker::make_pressure(max_mqueue_len, stall_timeout);
    queue.mirror_into(&pressure->queued);
  }
  // A delivery has reached this session's worker: no longer in transit.
  void arrived(const Delivery& d) {
    if (d.counted && pressure) pressure->in_transit.fetch_sub(1, std::memory_order_relaxed);
  }

  // Appends `d` to the queue, dropping by the rules of `limits`: QoS 0 while offline
  // only if mqueue_store_qos0; when full, the oldest message goes (EMQX does the same).
  // A stored delivery that is dropped is erased through `batch` (null: not durable);
  // `dropped` (may be null) gets the message that was dropped.
  EnqueueResult enqueue(Delivery d, const SessionLimits& limits, bool online,
                        storage::Batch* batch = nullptr, mqtt::MessagePtr* dropped = nullptr);

  // The next free packet id (1..65535) not used by an inflight message.
  std::uint16_t next_packet_id();

  Inflight* find_inflight(std::uint16_t packet_id) { return inflight.find(packet_id); }
  void erase_inflight(std::uint16_t packet_id) { inflight.erase(packet_id); }

  std::vector<std::string> filters() const;

 private:
  std::uint64_t id_;
  std::string client_id_;
  std::uint16_t last_packet_id_ = 0;
  std::int64_t subscription_bytes_ = 0;
};

}  // namespace emqxd::session
