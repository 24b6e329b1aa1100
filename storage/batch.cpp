#include "storage/batch.hpp"

#include <algorithm>
#include <limits>

#include "common/check.hpp"
#include "storage/encoding.hpp"

namespace emqxd::storage {

namespace enc = encoding;

void Batch::begin(OpKind kind, Family family) {
  EMQXD_CHECK(buf_.size() < std::numeric_limits<std::uint32_t>::max(), "storage: batch over 4GB");
  auto at = static_cast<std::uint32_t>(buf_.size());
  ops_.push_back(Rec{kind, family, at, 0, at, 0});
}

void Batch::value() {
  Rec& r = ops_.back();
  r.key_len = static_cast<std::uint32_t>(buf_.size()) - r.key_at;
  r.value_at = static_cast<std::uint32_t>(buf_.size());
}

void Batch::end() {
  Rec& r = ops_.back();
  r.value_len = static_cast<std::uint32_t>(buf_.size()) - r.value_at;
}

void Batch::clear() {
  buf_.clear();
  ops_.clear();
  max_seq_ = 0;
}

void Batch::put_session(const SessionRecord& s) {
  begin(OpKind::Put, Family::Sessions);
  enc::session_key(buf_, s.uid);
  value();
  enc::encode_session(s, buf_);
  end();
}

void Batch::erase_session(std::uint64_t uid) {
  EMQXD_CHECK(uid != std::numeric_limits<std::uint64_t>::max(), "storage: uid 2^64-1 is reserved");
  begin(OpKind::Erase, Family::Sessions);
  enc::session_key(buf_, uid);
  value();
  end();
  // Every other per-session family is keyed uid + something: [uid, uid + 1) is all of it.
  for (Family f : {Family::Subscriptions, Family::Deliveries, Family::AwaitingRel}) {
    begin(OpKind::EraseRange, f);
    enc::put_be64(buf_, uid);
    value();
    enc::put_be64(buf_, uid + 1);
    end();
  }
}

void Batch::put_subscription(const SubscriptionRecord& s) {
  begin(OpKind::Put, Family::Subscriptions);
  enc::subscription_key(buf_, s.uid, s.filter);
  value();
  enc::encode_subscription(s, buf_);
  end();
}

void Batch::erase_subscription(std::uint64_t uid, std::string_view filter) {
  begin(OpKind::Erase, Family::Subscriptions);
  enc::subscription_key(buf_, uid, filter);
  value();
  end();
}

void Batch::put_delivery(const DeliveryRecord& d) {
  begin(OpKind::Put, Family::Deliveries);
  enc::delivery_key(buf_, d.uid, d.seq);
  value();
  enc::encode_delivery(d, now_, buf_);
  end();
  max_seq_ = std::max(max_seq_, d.seq);
}

void Batch::update_delivery_state(std::uint64_t uid, std::uint64_t seq, std::uint16_t packet_id,
                                  OutState state) {
  begin(OpKind::Put, Family::Deliveries);
  enc::delivery_state_key(buf_, uid, seq);
  value();
  enc::encode_delivery_state(packet_id, state, buf_);
  end();
}

void Batch::erase_delivery(std::uint64_t uid, std::uint64_t seq, OutState last) {
  begin(OpKind::EraseOnce, Family::Deliveries);  // a seq is put once
  enc::delivery_key(buf_, uid, seq);
  value();
  end();
  if (last == OutState::Queued) return;
  begin(last == OutState::WaitPubComp ? OpKind::Erase : OpKind::EraseOnce, Family::Deliveries);
  enc::delivery_state_key(buf_, uid, seq);
  value();
  end();
}

void Batch::put_awaiting_rel(const AwaitingRelRecord& r) {
  begin(OpKind::Put, Family::AwaitingRel);
  enc::awaiting_rel_key(buf_, r.uid, r.packet_id);
  value();
  enc::encode_awaiting_rel(r.received_at_ms, buf_);
  end();
}

void Batch::erase_awaiting_rel(std::uint64_t uid, std::uint16_t packet_id) {
  begin(OpKind::Erase, Family::AwaitingRel);
  enc::awaiting_rel_key(buf_, uid, packet_id);
  value();
  end();
}

void Batch::put_retained(const mqtt::Message& m) {
  begin(OpKind::Put, Family::Retained);
  buf_.append(m.topic);
  value();
  enc::encode_message(m, now_, buf_);
  end();
}

void Batch::erase_retained(std::string_view topic) {
  begin(OpKind::Erase, Family::Retained);
  buf_.append(topic);
  value();
  end();
}

void Batch::put_kv(std::string_view ns, std::string_view key, std::string_view v) {
  begin(OpKind::Put, Family::Kv);
  enc::kv_key(buf_, ns, key);
  value();
  buf_.append(v);
  end();
}

void Batch::erase_kv(std::string_view ns, std::string_view key) {
  begin(OpKind::Erase, Family::Kv);
  enc::kv_key(buf_, ns, key);
  value();
  end();
}

void Batch::erase_kv_namespace(std::string_view ns) {
  // Every key of ns starts with its length-prefixed name; the smallest string above all of
  // them is that prefix with its last byte below 0xFF incremented and the rest dropped.
  std::string prefix;
  enc::kv_prefix(prefix, ns);
  std::string limit = prefix;
  while (!limit.empty() && static_cast<std::uint8_t>(limit.back()) == 0xFF)
    limit.pop_back();
  EMQXD_CHECK(!limit.empty(), "storage: a kv namespace of 255 0xFF bytes is not a name");
  limit.back() = static_cast<char>(static_cast<std::uint8_t>(limit.back()) + 1);
  begin(OpKind::EraseRange, Family::Kv);
  buf_.append(prefix);
  value();
  buf_.append(limit);
  end();
}

void Batch::put_meta(std::string_view key, std::string_view v) {
  begin(OpKind::Put, Family::Meta);
  buf_.append(key);
  value();
  buf_.append(v);
  end();
}

}  // namespace emqxd::storage
