#pragma once
// ReplicatedTables: small key-value tables that every node of the cluster holds in full and
// that survive restarts: the built-in authentication database's users, the banned list,
// the built-in authorization rules (docs/architecture.md, "Replicated tables").
//
// Each entry carries a stamp: the writer's clock in microseconds, raised past every stamp
// this node has seen (a hybrid logical clock), and the writer's node name to break ties.
// A write is a put or a delete (a tombstone, kept so that the delete wins over older puts
// still on their way). Merging keeps, per key, the entry with the highest (stamp, origin):
// last writer wins, the same on every node whatever the order entries arrive in, so nodes
// converge without a leader or a lock.
//
// Replication: a local write is handed to the replicator (the cluster sends it to every
// live peer on its Link stream); every new Link stream starts with this node's whole copy
// (snapshot()), so a node that joins late, restarts or missed updates while partitioned
// catches up from any peer. Persistence: every applied entry is committed to the store's
// kv family (namespace "table/<name>"); load() reads them back at start-up. Tombstones
// older than kTombstoneLife are dropped at load: a node that was away longer than that may
// bring a deleted entry back.
//
// Each table is bounded (max_entries, tombstones included): a put of a new key into a full
// table is refused, and remote entries past the bound are dropped and counted.
//
// Threads: any thread; one shared mutex. Listeners run on the writer's thread (the API's,
// a gRPC thread for remote entries, the loader's) while it holds the mutex, so that they
// see the changes of a key in order: a listener must not call back into the tables.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace emqxd::storage {
class Store;
}

namespace emqxd::tables {

struct Entry {
  std::string table;
  std::string key;
  std::string value;  // empty for a tombstone
  bool deleted = false;
  std::uint64_t stamp = 0;  // microseconds (hybrid logical clock)
  std::string origin;       // the writer's node name

  // Whether this entry wins over `other` for the same key.
  bool newer_than(const Entry& other) const {
    return stamp != other.stamp ? stamp > other.stamp : origin > other.origin;
  }
};

class ReplicatedTables {
 public:
  static constexpr std::uint64_t kTombstoneLife = 7ull * 24 * 3600 * 1'000'000;  // 7 days, us

  // Called after an entry of the table changed (put, delete, remote or loaded).
  using Listener = std::function<void(const Entry&)>;
  using Replicator = std::function<void(std::vector<Entry>&&)>;
  using Clock = std::function<std::uint64_t()>;  // microseconds since the Unix epoch

  // `store` may be null (nothing persisted). `self` is this node's name.
  ReplicatedTables(storage::Store* store, std::string self, Clock clock = {});
  ~ReplicatedTables();
  ReplicatedTables(const ReplicatedTables&) = delete;
  ReplicatedTables& operator=(const ReplicatedTables&) = delete;

  // Before load() and any write: the tables this node knows. Entries of undeclared tables
  // (a newer peer's) are ignored.
  void declare(const std::string& table, std::size_t max_entries);
  // Adds a listener of `table` (before load(), which reports what it reads).
  void listen(const std::string& table, Listener listener);
  // Set once, before the cluster starts: where local writes go.
  void set_replicator(Replicator r);

  // Reads every declared table from the store; reports each live entry to the listeners.
  // Returns the number of live entries read.
  std::size_t load();

  // Local writes: stamped, applied, persisted, replicated. put() is false when the table
  // is full (or not declared); erase() is false when there was no such live key.
  bool put(const std::string& table, const std::string& key, std::string value);
  bool erase(const std::string& table, const std::string& key);

  // Entries from a peer: each applied when newer than what this node has.
  void merge(std::vector<Entry>&& entries);

  // Drops, on this node only (nothing is replicated, the store forgets them too), the
  // entries of `table` for which forget(key, value, deleted, stamp) is true: entries every
  // node can tell are dead by themselves (an expired login token, a tombstone older than
  // any write it could still stand against), so that a busy table does not fill with
  // them between restarts. A peer's snapshot may bring one back; it goes again at the next
  // call. Listeners are not told. Returns how many went.
  using ForgetIf = std::function<bool(const std::string& key, const std::string& value,
                                      bool deleted, std::uint64_t stamp)>;
  std::size_t forget_if(const std::string& table, const ForgetIf& forget);

  std::optional<std::string> get(std::string_view table, std::string_view key) const;
  // Live entries of `table` in key order, from the first key >= `from`, while f returns true.
  void scan(std::string_view table, std::string_view from,
            const std::function<bool(const std::string& key, const std::string& value)>& f) const;
  std::size_t size(std::string_view table) const;  // live entries
  // Every entry, tombstones included (a new Link stream's first message).
  void snapshot(std::vector<Entry>& out) const;

  std::uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Slot {
    std::string value;
    bool deleted = false;
    std::uint64_t stamp = 0;
    std::string origin;
  };
  struct Table {
    std::size_t max_entries = 0;
    std::map<std::string, Slot, std::less<>> slots;
    std::size_t live = 0;  // slots that are not tombstones
    std::vector<Listener> listeners;
  };
  std::uint64_t next_stamp();  // under mutex_
  bool write(Entry e);
  // Applies `e` when newer; true when it changed something. Under mutex_ (exclusive).
  bool apply(Table& t, const Entry& e);
  // Under mutex_ (exclusive), in the order entries were applied.
  void persist(const std::vector<Entry>& entries);
  void notify(const std::vector<Entry>& entries) const;

  storage::Store* store_;
  const std::string self_;
  Clock clock_;
  Replicator replicator_;
  mutable std::shared_mutex mutex_;
  std::map<std::string, Table, std::less<>> tables_;  // keys fixed after declare(); guarded
  std::uint64_t last_stamp_ = 0;                      // guarded by mutex_
  std::atomic<std::uint64_t> dropped_{0};
};

// The persisted form of an entry's value (exposed for tests and the fuzz harness): false
// when `bytes` is not one.
std::string encode_slot(const Entry& e);
bool decode_slot(std::string_view bytes, Entry& e);

}  // namespace emqxd::tables
