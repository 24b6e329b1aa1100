#pragma once
// Batch: storage operations that are written together, all or none (Store::commit). Each
// call encodes its record into the batch at once, so a batch owns plain bytes and holds no
// reference to the caller's data: build it on a worker, commit it, forget it.
//
// Not thread-safe: one thread builds a batch. Cheap when empty (no allocation).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/records.hpp"

namespace emqxd::storage {

// The column families (store.hpp has the key formats). Meta holds the store's own
// bookkeeping (format version, highest seq); the core never writes it.
enum class Family : std::uint8_t {
  Sessions,
  Subscriptions,
  Deliveries,
  AwaitingRel,
  Retained,
  Kv,
  Meta,
};
inline constexpr std::size_t kFamilyCount = 7;

class Batch {
 public:
  enum class OpKind : std::uint8_t {
    Put,         // key -> value
    Erase,       // key
    EraseOnce,   // key, which was put exactly once (RocksDB's SingleDelete: the put and
                 // the erase vanish together when they meet in a flush or compaction)
    EraseRange,  // every key in [key, value)
  };
  struct Op {
    OpKind kind;
    Family family;
    std::string_view key;
    std::string_view value;  // Put: the value; EraseRange: the end of the range
  };

  // `now` converts the steady-clock times of the messages put into this batch.
  explicit Batch(const ClockPair& now = ClockPair::now()) : now_(now) {}

  // Sessions. erase_session removes the session and everything stored under its uid:
  // subscriptions, deliveries (with their state updates) and awaiting_rel.
  void put_session(const SessionRecord& s);
  void erase_session(std::uint64_t uid);

  void put_subscription(const SubscriptionRecord& s);
  void erase_subscription(std::uint64_t uid, std::string_view filter);

  // A delivery, whole (d.msg must not be null), put once: its seq comes from
  // Store::next_seq() and is never put again. update_delivery_state records a new packet id
  // and state for a delivery put earlier (in this batch or before) without rewriting its
  // message; erase_delivery removes the delivery and its state record, given the last state
  // recorded (Queued: none was): a state record put once (WaitPubAck, WaitPubRec) is erased
  // so that both vanish together when they meet in a flush (most deliveries are
  // acknowledged before that), one rewritten (QoS 2: WaitPubRec, then WaitPubComp) with a
  // plain tombstone. Each is one write on the store's
  // writer thread, so callers record only what a crash must bring back.
  void put_delivery(const DeliveryRecord& d);
  void update_delivery_state(std::uint64_t uid, std::uint64_t seq, std::uint16_t packet_id,
                             OutState state);
  void erase_delivery(std::uint64_t uid, std::uint64_t seq, OutState last);

  void put_awaiting_rel(const AwaitingRelRecord& r);
  void erase_awaiting_rel(std::uint64_t uid, std::uint16_t packet_id);

  // The retained message of m.topic, replacing any earlier one.
  void put_retained(const mqtt::Message& m);
  void erase_retained(std::string_view topic);

  // Generic key-value records of later stores (built-in auth database, banned list), in
  // namespaces of up to 255 bytes. erase_kv_namespace removes every key of `ns`.
  void put_kv(std::string_view ns, std::string_view key, std::string_view value);
  void erase_kv(std::string_view ns, std::string_view key);
  void erase_kv_namespace(std::string_view ns);

  bool empty() const { return ops_.empty(); }
  std::size_t size() const { return ops_.size(); }   // operations
  std::size_t bytes() const { return buf_.size(); }  // encoded keys and values
  // The highest seq put_delivery has seen (0 = none), so the store can remember it.
  std::uint64_t max_seq() const { return max_seq_; }
  const ClockPair& clocks() const { return now_; }
  void clear();

  // For Store implementations: calls f(const Op&) for each operation, in call order. The
  // views are valid until the batch changes.
  template <class F>
  void for_each(F&& f) const {
    for (const auto& r : ops_) {
      f(Op{r.kind, r.family, std::string_view(buf_).substr(r.key_at, r.key_len),
           std::string_view(buf_).substr(r.value_at, r.value_len)});
    }
  }

  // Meta records, for Store implementations only.
  void put_meta(std::string_view key, std::string_view value);

 private:
  struct Rec {
    OpKind kind;
    Family family;
    std::uint32_t key_at, key_len, value_at, value_len;
  };
  // Starts an operation: its key is what gets appended to buf_ until value(), then its value
  // until end().
  void begin(OpKind kind, Family family);
  void value();
  void end();

  ClockPair now_;
  std::string buf_;
  std::vector<Rec> ops_;
  std::uint64_t max_seq_ = 0;
};

}  // namespace emqxd::storage
