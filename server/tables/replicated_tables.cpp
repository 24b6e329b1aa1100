#include "tables/replicated_tables.hpp"

#include <chrono>
#include <mutex>

#include "common/log.hpp"
#include "storage/batch.hpp"
#include "storage/store.hpp"

namespace emqxd::tables {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("tables");
  return l;
}

constexpr std::uint8_t kFormat = 1;

std::string ns_of(std::string_view table) {
  return "table/" + std::string(table);
}

std::uint64_t wall_us() {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
}

void put_u64(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i)
    out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}
}  // namespace

// version, stamp (u64 BE), deleted, origin length (u8), origin, value
std::string encode_slot(const Entry& e) {
  std::string out;
  out.reserve(11 + e.origin.size() + e.value.size());
  out.push_back(static_cast<char>(kFormat));
  put_u64(out, e.stamp);
  out.push_back(e.deleted ? 1 : 0);
  const auto n = static_cast<std::uint8_t>(std::min<std::size_t>(e.origin.size(), 255));
  out.push_back(static_cast<char>(n));
  out.append(e.origin, 0, n);
  out.append(e.value);
  return out;
}

bool decode_slot(std::string_view b, Entry& e) {
  if (b.size() < 11 || static_cast<std::uint8_t>(b[0]) != kFormat) return false;
  std::uint64_t s = 0;
  for (int i = 1; i <= 8; ++i)
    s = (s << 8) | static_cast<std::uint8_t>(b[i]);
  const auto deleted = static_cast<std::uint8_t>(b[9]);
  const auto n = static_cast<std::uint8_t>(b[10]);
  if (deleted > 1 || b.size() < 11u + n) return false;
  e.stamp = s;
  e.deleted = deleted == 1;
  e.origin.assign(b.substr(11, n));
  e.value.assign(b.substr(11 + n));
  return !(e.deleted && !e.value.empty());
}

ReplicatedTables::ReplicatedTables(storage::Store* store, std::string self, Clock clock)
    : store_(store), self_(std::move(self)), clock_(clock ? std::move(clock) : Clock(wall_us)) {}

ReplicatedTables::~ReplicatedTables() = default;

void ReplicatedTables::declare(const std::string& table, std::size_t max_entries) {
  std::unique_lock lock(mutex_);
  tables_[table].max_entries = max_entries;
}

void ReplicatedTables::listen(const std::string& table, Listener listener) {
  std::unique_lock lock(mutex_);
  tables_[table].listeners.push_back(std::move(listener));
}

void ReplicatedTables::set_replicator(Replicator r) {
  std::unique_lock lock(mutex_);
  replicator_ = std::move(r);
}

std::uint64_t ReplicatedTables::next_stamp() {
  last_stamp_ = std::max(last_stamp_ + 1, clock_());
  return last_stamp_;
}

bool ReplicatedTables::apply(Table& t, const Entry& e) {
  auto it = t.slots.find(e.key);
  if (it == t.slots.end()) {
    if (t.slots.size() >= t.max_entries) return false;
    t.slots.emplace(e.key, Slot{e.value, e.deleted, e.stamp, e.origin});
    t.live += e.deleted ? 0 : 1;
    return true;
  }
  Entry cur{e.table, e.key, {}, it->second.deleted, it->second.stamp, it->second.origin};
  if (!e.newer_than(cur)) return false;
  if (it->second.deleted != e.deleted) {
    if (e.deleted) {
      --t.live;
    } else {
      ++t.live;
    }
  }
  it->second = Slot{e.value, e.deleted, e.stamp, e.origin};
  return true;
}

std::size_t ReplicatedTables::load() {
  if (store_ == nullptr) return 0;
  std::vector<std::string> names;
  {
    std::shared_lock lock(mutex_);
    for (const auto& [name, t] : tables_)
      names.push_back(name);
  }
  const std::uint64_t now = clock_();
  std::size_t live = 0;
  for (const auto& name : names) {
    std::vector<Entry> read;
    std::size_t corrupt = 0;
    storage::Batch expired;
    auto st = store_->scan_kv(ns_of(name), [&](std::string_view key, std::string_view value) {
      Entry e;
      e.table = name;
      e.key.assign(key);
      if (!decode_slot(value, e)) {
        ++corrupt;
        return true;
      }
      if (e.deleted && e.stamp + kTombstoneLife < now) {
        expired.erase_kv(ns_of(name), key);
        return true;
      }
      read.push_back(std::move(e));
      return true;
    });
    if (!st.ok()) {
      throw std::runtime_error("replicated table " + name + ": cannot be read: " + st.to_string());
    }
    if (corrupt != 0) {
      logger()->error("replicated table {}: {} unreadable entries skipped", name, corrupt);
    }
    if (!expired.empty()) store_->commit(std::move(expired), [](storage::Status) {});
    std::unique_lock lock(mutex_);
    auto& t = tables_[name];
    std::vector<Entry> applied;
    for (auto& e : read) {
      last_stamp_ = std::max(last_stamp_, e.stamp);
      if (apply(t, e)) {
        if (!e.deleted) ++live;
        applied.push_back(std::move(e));
      }
    }
    notify(applied);
  }
  return live;
}

bool ReplicatedTables::put(const std::string& table, const std::string& key, std::string value) {
  Entry e;
  e.table = table;
  e.key = key;
  e.value = std::move(value);
  return write(std::move(e));
}

bool ReplicatedTables::erase(const std::string& table, const std::string& key) {
  {
    std::shared_lock lock(mutex_);
    auto t = tables_.find(table);
    if (t == tables_.end()) return false;
    auto it = t->second.slots.find(key);
    if (it == t->second.slots.end() || it->second.deleted) return false;
  }
  Entry e;
  e.table = table;
  e.key = key;
  e.deleted = true;
  return write(std::move(e));
}

bool ReplicatedTables::write(Entry e) {
  Replicator replicate;
  {
    std::unique_lock lock(mutex_);
    auto t = tables_.find(e.table);
    if (t == tables_.end()) return false;
    e.stamp = next_stamp();
    e.origin = self_;
    // A tombstone may take the place of a live key in a full table, never a new key.
    if (!apply(t->second, e)) return false;
    replicate = replicator_;
    // Under the mutex: the store and the listeners see the changes of a key in the order
    // they were applied.
    persist({e});
    notify({e});
  }
  if (replicate) replicate(std::vector<Entry>{std::move(e)});
  return true;
}

void ReplicatedTables::merge(std::vector<Entry>&& entries) {
  std::vector<Entry> applied;
  std::uint64_t dropped = 0;
  {
    std::unique_lock lock(mutex_);
    for (auto& e : entries) {
      auto t = tables_.find(e.table);
      if (t == tables_.end() || (e.deleted && !e.value.empty())) {
        ++dropped;
        continue;
      }
      // Whatever this node writes next is stamped after what it has seen.
      last_stamp_ = std::max(last_stamp_, e.stamp);
      const bool is_new = t->second.slots.find(e.key) == t->second.slots.end();
      if (apply(t->second, e)) {
        applied.push_back(std::move(e));
      } else if (is_new) {
        ++dropped;  // the table is full
      }
    }
    if (!applied.empty()) {
      persist(applied);
      notify(applied);
    }
  }
  if (dropped != 0) {
    dropped_.fetch_add(dropped, std::memory_order_relaxed);
    static log::Throttle throttle{1};
    static std::mutex throttle_mutex;
    std::lock_guard tl(throttle_mutex);
    std::uint64_t held = 0;
    if (throttle.allow(std::chrono::steady_clock::now(), held)) {
      logger()->warn(
          "replicated tables: {} entries from a peer dropped (table full or unknown) ({} similar "
          "lines suppressed)",
          dropped, held);
    }
  }
}

std::size_t ReplicatedTables::forget_if(const std::string& table, const ForgetIf& forget) {
  storage::Batch gone;
  std::size_t n = 0;
  std::unique_lock lock(mutex_);  // held through the commit: writes reach the store in order
  auto t = tables_.find(table);
  if (t == tables_.end()) return 0;
  for (auto it = t->second.slots.begin(); it != t->second.slots.end();) {
    const Slot& s = it->second;
    if (!forget(it->first, s.value, s.deleted, s.stamp)) {
      ++it;
      continue;
    }
    if (!s.deleted) --t->second.live;
    gone.erase_kv(ns_of(table), it->first);
    it = t->second.slots.erase(it);
    ++n;
  }
  if (store_ != nullptr && n > 0) store_->commit(std::move(gone), [](storage::Status) {});
  return n;
}

void ReplicatedTables::persist(const std::vector<Entry>& entries) {
  if (store_ == nullptr) return;
  storage::Batch b;
  for (const auto& e : entries)
    b.put_kv(ns_of(e.table), e.key, encode_slot(e));
  store_->commit(std::move(b), [n = entries.size()](storage::Status st) {
    if (!st.ok()) {
      logger()->error("replicated tables: {} entries not stored: {}", n, st.to_string());
    }
  });
}

void ReplicatedTables::notify(const std::vector<Entry>& entries) const {
  for (const auto& e : entries) {
    auto t = tables_.find(e.table);
    if (t == tables_.end()) continue;
    for (const auto& l : t->second.listeners)
      l(e);
  }
}

std::optional<std::string> ReplicatedTables::get(std::string_view table,
                                                 std::string_view key) const {
  std::shared_lock lock(mutex_);
  auto t = tables_.find(table);
  if (t == tables_.end()) return std::nullopt;
  auto it = t->second.slots.find(key);
  if (it == t->second.slots.end() || it->second.deleted) return std::nullopt;
  return it->second.value;
}

void ReplicatedTables::scan(
    std::string_view table, std::string_view from,
    const std::function<bool(const std::string&, const std::string&)>& f) const {
  std::shared_lock lock(mutex_);
  auto t = tables_.find(table);
  if (t == tables_.end()) return;
  for (auto it = t->second.slots.lower_bound(from); it != t->second.slots.end(); ++it) {
    if (it->second.deleted) continue;
    if (!f(it->first, it->second.value)) return;
  }
}

std::size_t ReplicatedTables::size(std::string_view table) const {
  std::shared_lock lock(mutex_);
  auto t = tables_.find(table);
  return t == tables_.end() ? 0 : t->second.live;
}

void ReplicatedTables::snapshot(std::vector<Entry>& out) const {
  std::shared_lock lock(mutex_);
  for (const auto& [name, t] : tables_) {
    for (const auto& [k, s] : t.slots)
      out.push_back(Entry{name, k, s.value, s.deleted, s.stamp, s.origin});
  }
}

}  // namespace emqxd::tables
