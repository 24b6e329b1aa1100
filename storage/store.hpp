#pragma once
// Storage: what the broker keeps across a restart (docs/architecture.md, "Storage"). Sessions that
// outlive their connection, with their subscriptions, queued and in-flight deliveries and
// the QoS 2 packet ids awaiting PUBREL; retained messages; and key-value records for later
// stores (built-in auth database, banned list).
//
// The core builds a Batch on its own thread, commit()s it, and acts on the completion
// (sends the PUBACK, say) once the batch is stored. At start-up load() streams everything
// back once. Two implementations, both behind Store:
//   RocksStore   one RocksDB under a directory (node.data_dir + "/rocksdb")
//   MemoryStore  durable_sessions.enable = false: nothing outlives the process
// No RocksDB header is reachable from here: the core includes these headers freely.
//
// Layout: a RocksDB column family per record kind. uid and seq are u64 big-endian so keys
// sort numerically; values start with a format version byte (storage/encoding.hpp).
//
//   family          key                         value
//   sessions        uid                         client id, expiry interval, disconnected-at,
//                                               protocol version
//   subscriptions   uid filter                  options byte, subscription id
//   deliveries      uid seq                     state, packet id, QoS, RETAIN to send,
//                                               subscription ids, share, message
//                   uid seq 's'                 state, packet id (update_delivery_state)
//   awaiting_rel    uid packet_id (u16 BE)      received-at (Unix ms)
//   retained        topic                       message
//   kv              len(ns) ns key              the caller's bytes
//   default (meta)  "format" / "seq"            layout version / highest seq written
//
//   message = QoS, RETAIN, received-at and expiry as Unix ms, topic, payload, and the MQTT 5
//   payload format, content type, response topic, correlation data and user properties.
//
// A session's records all start with its uid, so erase_session is one point delete and
// three range deletes, however much the session holds. A delivery's state changes (sent,
// PUBREC received) are small records beside it rather than rewrites of the message.
//
// Durability. A batch is one RocksDB WriteBatch: after a crash all of it is there or none.
//   sync = true   done(ok) means the batch is on disk (the WAL was fsync'ed): it survives a
//                 crash of the process and of the machine (power loss).
//   sync = false  done(ok) means the batch is in the WAL, in the kernel's page cache: it
//                 survives a crash of the process, not a power loss. Much faster.
// Group commit: commit() only enqueues; one writer thread takes everything waiting, writes
// it as one WriteBatch with one fsync, then completes each commit, in commit order. Under
// load many commits share one fsync, so throughput grows with the number of writers
// instead of stopping at one fsync per message.
//
// Disk full. A commit that meets a full disk completes with Status::NoSpace (MQTT 5 answers
// 0x97 Quota exceeded), health() turns NoSpace and one error line is logged. Nothing
// committed before is lost. Until space returns, commits fail fast; the store tries to
// recover every resume_interval and on the next commit, and logs when writes work again.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "storage/batch.hpp"
#include "storage/records.hpp"
#include "storage/status.hpp"

namespace emqxd::storage {

enum class Health : std::uint8_t {
  Ok,
  NoSpace,  // the disk is full: commits fail until space returns
  Failed,   // another write error; the store keeps trying to recover
};
constexpr std::string_view to_string(Health h) {
  switch (h) {
    case Health::Ok:
      return "ok";
    case Health::NoSpace:
      return "no space";
    case Health::Failed:
      return "failed";
  }
  return "unknown";
}

// What load() hands over, one record at a time, on the thread that called load(). For each
// session: on_session, then its subscriptions, its deliveries in seq order, its awaiting_rel
// records, then on_session_end. Retained messages come after all sessions. Records whose
// value cannot be decoded are logged, counted and skipped (and kept on disk).
//
// Each callback returns Keep, or Erase to have the record deleted (an expired session or
// message, say): erasing a session erases everything of it, and its records are then not
// visited. The erasures are committed before load() returns. A visitor may commit() but
// must not call load(), get_kv() or scan_kv() (the database is held for reading).
class Visitor {
 public:
  enum class Verdict : std::uint8_t { Keep, Erase };

  virtual ~Visitor() = default;
  virtual Verdict on_session(const SessionRecord& s) = 0;
  virtual Verdict on_subscription(const SubscriptionRecord& s) = 0;
  // May move from d (its message is freshly allocated, owned by nobody else).
  virtual Verdict on_delivery(DeliveryRecord& d) = 0;
  virtual Verdict on_awaiting_rel(const AwaitingRelRecord& r) = 0;
  virtual void on_session_end(std::uint64_t /*uid*/) {}
  // May move from msg.
  virtual Verdict on_retained(mqtt::MessagePtr& msg) = 0;
};

// What load() found.
struct LoadSummary {
  std::uint64_t sessions = 0;  // visited (kept or erased)
  std::uint64_t subscriptions = 0;
  std::uint64_t deliveries = 0;
  std::uint64_t awaiting_rel = 0;
  std::uint64_t retained = 0;
  std::uint64_t erased = 0;   // records the visitor erased (a session counts once)
  std::uint64_t corrupt = 0;  // values that could not be decoded: skipped, left on disk
  std::uint64_t orphans = 0;  // records of uids with no session record: erased
};

// Counters, for $SYS, metrics and tests. A snapshot; any thread.
struct StoreStats {
  std::uint64_t commits = 0;          // commits completed, successfully or not
  std::uint64_t failed_commits = 0;   // completed with an error
  std::uint64_t writes = 0;           // WriteBatches written: one per group of commits
  std::uint64_t wal_syncs = 0;        // writes that fsync'ed the WAL (sync mode)
  std::uint64_t bytes_written = 0;    // encoded keys and values written
  std::uint64_t no_space_events = 0;  // times the store went from Ok to NoSpace
  std::uint64_t recoveries = 0;       // times it came back to Ok
  std::uint64_t pending_commits = 0;  // enqueued, not yet completed
  std::uint64_t pending_bytes = 0;
};

class Store {
 public:
  // Runs exactly once per commit, on the store's writer thread (RocksStore) or inside
  // commit() (MemoryStore, and any store already closed). Keep it short and post the
  // result to your own thread; it may call commit() again.
  using Completion = std::function<void(Status)>;

  virtual ~Store() = default;

  // Stores `batch`, all of it or none, then calls done. Batches are applied in the order of
  // the commit() calls that enqueued them. Any thread; never blocks on the disk.
  virtual void commit(Batch&& batch, Completion done) = 0;

  // Streams every stored record to `v` (see Visitor), converting times with `now`
  // (ClockPair::now() in production), and commits the visitor's erasures. Call once at
  // start-up, before the first commit(). Throws std::runtime_error if the database cannot
  // be read at all.
  virtual LoadSummary load(Visitor& v, const ClockPair& now) = 0;

  // The next delivery seq: node-wide, strictly increasing, starting above every seq ever
  // committed (across restarts). Any thread; lock-free.
  virtual std::uint64_t next_seq() = 0;

  // A kv record as committed so far (commits not yet completed may not show). NotFound if
  // absent. Reads the disk: admin and start-up paths, not a worker's hot path. Any thread.
  virtual Status get_kv(std::string_view ns, std::string_view key, std::string& value) = 0;
  // Calls f(key, value) for each key of `ns` in key order until f returns false. Any
  // thread; f must not call back into the store.
  virtual Status scan_kv(std::string_view ns,
                         const std::function<bool(std::string_view, std::string_view)>& f) = 0;

  virtual Health health() const = 0;
  virtual StoreStats stats() const = 0;
};

}  // namespace emqxd::storage
