// load(): one pass over each column family in key order, holding one session at a time.
//
// Sessions, subscriptions, deliveries and awaiting_rel are all keyed by uid first, so four
// iterators advance together like a merge: at each session key, the next records of the
// other three are exactly that session's, in key order (deliveries in seq order, each
// followed by its state update if it has one). Records whose uid has no session record
// (orphans: only a bug or a lost session record makes them, since batches are atomic) are
// erased. A session whose own record is corrupt keeps its other records on disk, unvisited.
// All reads come from one snapshot.
#include "storage/rocks_load.hpp"

#include <memory>
#include <optional>
#include <stdexcept>

#include "storage/encoding.hpp"

namespace emqxd::storage::detail {
namespace {

namespace enc = encoding;
using Verdict = Visitor::Verdict;

constexpr std::uint64_t kCorruptLogged = 10;  // detailed lines; the rest only counted

std::string_view view(const rocksdb::Slice& s) {
  return {s.data(), s.size()};
}
rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

std::string hex(std::string_view key) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < key.size() && i < 40; ++i) {
    auto b = static_cast<std::uint8_t>(key[i]);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0x0F]);
  }
  if (key.size() > 40) out += "...";
  return out;
}

class Loader {
 public:
  Loader(RocksDb& db, Visitor& v, const ClockPair& now, spdlog::logger& log,
         rocksdb::WriteBatch& erasures)
      : db_(db), v_(v), now_(now), log_(log), erasures_(erasures) {
    snapshot_ = db_.db().GetSnapshot();
  }
  ~Loader() { db_.db().ReleaseSnapshot(snapshot_); }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;

  LoadSummary run(std::uint64_t& max_seq);

 private:
  struct Cursor {
    Family family;
    std::unique_ptr<rocksdb::Iterator> it;
    bool valid() const { return it->Valid(); }
    std::string_view key() const { return view(it->key()); }
    std::string_view value() const { return view(it->value()); }
    // The uid of the current record if it belongs to `uid`.
    bool at(std::uint64_t uid) const {
      if (!valid()) return false;
      auto u = enc::key_uid(key());
      return u && *u == uid;
    }
  };

  Cursor open(Family f) {
    rocksdb::ReadOptions ro;
    ro.snapshot = snapshot_;
    ro.fill_cache = false;  // a one-off scan: keep the cache for what runs after
    Cursor c{f, std::unique_ptr<rocksdb::Iterator>(db_.db().NewIterator(ro, db_.cf(f)))};
    c.it->SeekToFirst();
    return c;
  }
  void check(const Cursor& c) const {
    if (!c.it->status().ok()) {
      throw std::runtime_error(std::string("storage: reading ") + family_name(c.family) +
                               " failed: " + c.it->status().ToString());
    }
  }
  void corrupt(Family f, std::string_view key, const std::string& why) {
    if (++summary_.corrupt <= kCorruptLogged) {
      log_.warn("storage: skipping an unreadable {} record (key {}): {}", family_name(f), hex(key),
                why);
    }
  }
  void erase(const Cursor& c) {
    erasures_.Delete(db_.cf(c.family), slice(c.key())).PermitUncheckedError();
  }
  void note_seq(std::string_view delivery_key) {
    if (delivery_key.size() >= 16) {
      max_seq_ = std::max(max_seq_, enc::get_be64(delivery_key.substr(8)));
    }
  }

  void skip_orphans(Cursor& c, std::optional<std::uint64_t> below);
  void skip_session(Cursor& c, std::uint64_t uid, bool erase_records);
  void visit_subscriptions(Cursor& c, std::uint64_t uid);
  void visit_deliveries(Cursor& c, std::uint64_t uid);
  void visit_awaiting_rel(Cursor& c, std::uint64_t uid);
  void visit_retained();

  RocksDb& db_;
  Visitor& v_;
  const ClockPair now_;
  spdlog::logger& log_;
  rocksdb::WriteBatch& erasures_;
  const rocksdb::Snapshot* snapshot_ = nullptr;
  LoadSummary summary_;
  std::uint64_t max_seq_ = 0;
};

// Erases the records of `c` with a uid below `below` (all of them when nullopt): no
// session owns them.
void Loader::skip_orphans(Cursor& c, std::optional<std::uint64_t> below) {
  for (; c.valid(); c.it->Next()) {
    auto uid = enc::key_uid(c.key());
    if (!uid) {
      corrupt(c.family, c.key(), "key shorter than a uid");
      continue;
    }
    if (below && *uid >= *below) return;
    if (c.family == Family::Deliveries) note_seq(c.key());
    erase(c);
    ++summary_.orphans;
  }
}

void Loader::skip_session(Cursor& c, std::uint64_t uid, bool erase_records) {
  for (; c.at(uid); c.it->Next()) {
    if (c.family == Family::Deliveries) note_seq(c.key());
    if (erase_records) erase(c);
  }
}

void Loader::visit_subscriptions(Cursor& c, std::uint64_t uid) {
  for (; c.at(uid); c.it->Next()) {
    SubscriptionRecord s;
    s.uid = uid;
    s.filter = c.key().substr(enc::kUidSize);
    Status st = s.filter.empty() ? Status::corruption("empty filter")
                                 : enc::decode_subscription(c.value(), s);
    if (!st.ok()) {
      corrupt(c.family, c.key(), st.message());
      continue;
    }
    ++summary_.subscriptions;
    if (v_.on_subscription(s) == Verdict::Erase) {
      erase(c);
      ++summary_.erased;
    }
  }
}

void Loader::visit_deliveries(Cursor& c, std::uint64_t uid) {
  constexpr std::size_t kKeySize = 16;
  while (c.at(uid)) {
    std::string key(c.key());
    note_seq(key);
    if (key.size() == kKeySize + 1 && key.back() == enc::kStateSuffix) {
      // A state update whose delivery is gone.
      erase(c);
      ++summary_.orphans;
      c.it->Next();
      continue;
    }
    if (key.size() != kKeySize) {
      corrupt(c.family, key, "key of " + std::to_string(key.size()) + " bytes");
      c.it->Next();
      continue;
    }
    DeliveryRecord d;
    d.uid = uid;
    d.seq = enc::get_be64(std::string_view(key).substr(8));
    Status st = enc::decode_delivery(c.value(), now_, d);
    c.it->Next();
    // Its state update, if any, sorts right after it.
    std::string state_key = key + enc::kStateSuffix;
    if (c.valid() && c.key() == state_key) {
      std::uint16_t packet_id = 0;
      OutState state = OutState::Queued;
      Status sst = enc::decode_delivery_state(c.value(), packet_id, state);
      if (!sst.ok()) {
        corrupt(c.family, c.key(), sst.message());
      } else {
        d.packet_id = packet_id;
        d.state = state;
      }
      c.it->Next();
    }
    if (!st.ok()) {
      corrupt(Family::Deliveries, key, st.message());
      continue;
    }
    ++summary_.deliveries;
    if (v_.on_delivery(d) == Verdict::Erase) {
      erasures_.Delete(db_.cf(Family::Deliveries), key).PermitUncheckedError();
      erasures_.Delete(db_.cf(Family::Deliveries), state_key).PermitUncheckedError();
      ++summary_.erased;
    }
  }
}

void Loader::visit_awaiting_rel(Cursor& c, std::uint64_t uid) {
  for (; c.at(uid); c.it->Next()) {
    if (c.key().size() != enc::kUidSize + 2) {
      corrupt(c.family, c.key(), "key of " + std::to_string(c.key().size()) + " bytes");
      continue;
    }
    AwaitingRelRecord r;
    r.uid = uid;
    r.packet_id = enc::get_be16(c.key().substr(enc::kUidSize));
    Status st = enc::decode_awaiting_rel(c.value(), r.received_at_ms);
    if (!st.ok()) {
      corrupt(c.family, c.key(), st.message());
      continue;
    }
    ++summary_.awaiting_rel;
    if (v_.on_awaiting_rel(r) == Verdict::Erase) {
      erase(c);
      ++summary_.erased;
    }
  }
}

void Loader::visit_retained() {
  Cursor c = open(Family::Retained);
  for (; c.valid(); c.it->Next()) {
    mqtt::MessagePtr msg;
    Status st = enc::decode_message(c.value(), now_, msg);
    if (st.ok() && msg->topic != c.key()) st = Status::corruption("topic differs from the key");
    if (!st.ok()) {
      corrupt(c.family, c.key(), st.message());
      continue;
    }
    ++summary_.retained;
    if (v_.on_retained(msg) == Verdict::Erase) {
      erase(c);
      ++summary_.erased;
    }
  }
  check(c);
}

LoadSummary Loader::run(std::uint64_t& max_seq) {
  Cursor sessions = open(Family::Sessions);
  Cursor children[] = {open(Family::Subscriptions), open(Family::Deliveries),
                       open(Family::AwaitingRel)};
  for (; sessions.valid(); sessions.it->Next()) {
    if (sessions.key().size() != enc::kUidSize) {
      corrupt(Family::Sessions, sessions.key(), "key is not a uid");
      continue;
    }
    SessionRecord s;
    s.uid = enc::get_be64(sessions.key());
    for (Cursor& c : children)
      skip_orphans(c, s.uid);
    Status st = enc::decode_session(sessions.value(), s);
    if (!st.ok()) {
      corrupt(Family::Sessions, sessions.key(), st.message());
      for (Cursor& c : children)
        skip_session(c, s.uid, /*erase_records=*/false);
      continue;
    }
    ++summary_.sessions;
    if (v_.on_session(s) == Verdict::Erase) {
      erase(sessions);
      for (Cursor& c : children)
        skip_session(c, s.uid, /*erase_records=*/true);
      ++summary_.erased;
      continue;
    }
    visit_subscriptions(children[0], s.uid);
    visit_deliveries(children[1], s.uid);
    visit_awaiting_rel(children[2], s.uid);
    v_.on_session_end(s.uid);
  }
  check(sessions);
  for (Cursor& c : children) {
    skip_orphans(c, std::nullopt);
    check(c);
  }
  visit_retained();
  if (summary_.corrupt > kCorruptLogged) {
    log_.warn("storage: {} unreadable records skipped in all (the first {} are logged above)",
              summary_.corrupt, kCorruptLogged);
  }
  max_seq = max_seq_;
  return summary_;
}

}  // namespace

LoadSummary load_records(RocksDb& db, Visitor& v, const ClockPair& now, spdlog::logger& log,
                         std::uint64_t& max_seq, rocksdb::WriteBatch& erasures) {
  Loader loader(db, v, now, log, erasures);
  return loader.run(max_seq);
}

}  // namespace emqxd::storage::detail
