// RocksStore: group commit on one writer thread, and recovery from a full disk.
//
// Group commit. commit() appends {batch, completion} to a queue under a mutex and wakes the
// writer when the queue was empty. The writer takes everything waiting (up to
// kMaxGroupBytes), turns it into one rocksdb::WriteBatch, writes it with one fsync (sync
// mode), and completes the commits in queue order. While it waits for the disk, new commits
// gather for the next round, so the slower the disk, the bigger the groups: commits per
// fsync adapt to the load with no timer and no added latency when idle. The highest seq in
// a group is written beside it (meta "seq"), so next_seq() keeps increasing across restarts
// even after every delivery has been erased.
//
// Backpressure. The queue is bounded by bytes (max_pending_bytes); a commit beyond it is
// refused with Status::Busy (its completion still runs on the writer thread, in order).
//
// Write errors. A failed write fails its whole group; health() turns NoSpace (disk full) or
// Failed and one error line is logged. From then on commits fail fast, and every
// resume_interval (or at the next commit after it) the writer closes the database and opens
// it again; when that works, health() is Ok again. Reopening, not DB::Resume(): after a
// failed WAL append, RocksDB 7.8's Resume() can succeed yet keep appending to the failed
// WAL file, and Debian builds it with assertions, so the next write aborts the process.
// Reopening replays the WAL (a torn last record is dropped: it is the failed write) into
// new files; nothing acknowledged is lost. A reopen that fails (still no space) is retried.
// Reads (get_kv, scan_kv, load) hold db_mutex_ shared; the reopen holds it exclusively.
#include "storage/rocks_store.hpp"

#include <rocksdb/write_batch.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "storage/encoding.hpp"
#include "storage/rocks_db.hpp"
#include "storage/rocks_load.hpp"

namespace emqxd::storage {

namespace {

constexpr std::size_t kMaxGroupBytes = 4 * 1024 * 1024;
// Below this much free space a reopen cannot flush what it replays: do not even try.
constexpr std::uintmax_t kRecoveryFreeSpace = 1024 * 1024;
constexpr std::chrono::milliseconds kMaxReopenBackoff{10000};

rocksdb::Slice slice(std::string_view s) {
  return {s.data(), s.size()};
}

struct Pending {
  Batch batch;
  Store::Completion done;
  bool refused = false;  // over max_pending_bytes: completes with Busy, not written
};

}  // namespace

struct RocksStore::Impl {
  explicit Impl(RocksStoreOptions o)
      : options(std::move(o)), log(log::get("storage")), db(detail::RocksDb::open(options, log)) {
    seq.store(db->stored_seq());
    seq_written = db->stored_seq();
    writer = std::thread([this] { run(); });
  }

  void run();
  Status write(std::vector<Pending>& group);
  Status on_write_error(const rocksdb::Status& s);
  void try_recover();
  void complete(std::vector<Pending>& group, const Status& st);

  const RocksStoreOptions options;
  const std::shared_ptr<spdlog::logger> log;

  // The database: replaced only by the writer (try_recover), under an exclusive lock;
  // everyone else reads it under a shared lock. Null while a reopen has failed.
  mutable std::shared_mutex db_mutex;
  std::unique_ptr<detail::RocksDb> db;

  std::atomic<std::uint64_t> seq{0};
  std::uint64_t seq_written = 0;  // writer only: the meta "seq" on disk

  mutable std::mutex mutex;  // guards queue, pending_bytes, closing
  std::condition_variable cv;
  std::deque<Pending> queue;
  std::uint64_t pending_bytes = 0;
  bool closing = false;
  std::mutex close_mutex;  // one close() at a time
  std::thread writer;

  std::atomic<Health> health{Health::Ok};
  Status failure;  // writer only: why commits fail while health != Ok
  std::chrono::steady_clock::time_point next_recovery{};  // writer only
  std::chrono::milliseconds reopen_backoff{0};            // writer only

  std::atomic<std::uint64_t> commits{0}, failed_commits{0}, writes{0}, wal_syncs{0},
      bytes_written{0}, no_space_events{0}, recoveries{0}, pending_commits{0};
};

void RocksStore::Impl::run() {
  std::vector<Pending> group;
  for (;;) {
    bool stopping = false;
    {
      std::unique_lock lock(mutex);
      auto ready = [&] { return !queue.empty() || closing; };
      if (health.load() == Health::Ok) {
        cv.wait(lock, ready);
      } else {
        cv.wait_for(lock, options.resume_interval, ready);
      }
      std::size_t bytes = 0;
      while (!queue.empty() && (group.empty() || bytes < kMaxGroupBytes)) {
        bytes += queue.front().batch.bytes();
        group.push_back(std::move(queue.front()));
        queue.pop_front();
      }
      pending_bytes -= bytes;
      stopping = closing && queue.empty();
    }
    if (health.load() != Health::Ok && !stopping) try_recover();
    if (!group.empty()) {
      complete(group, health.load() == Health::Ok ? write(group) : failure);
      group.clear();
    }
    if (stopping) return;
  }
}

Status RocksStore::Impl::write(std::vector<Pending>& group) {
  rocksdb::WriteBatch wb;
  rocksdb::Status s;
  std::uint64_t max_seq = 0;
  std::uint64_t bytes = 0;
  for (const Pending& p : group) {
    if (p.refused) continue;
    p.batch.for_each([&](const Batch::Op& op) {
      auto* cf = db->cf(op.family);
      rocksdb::Status r;
      switch (op.kind) {
        case Batch::OpKind::Put:
          r = wb.Put(cf, slice(op.key), slice(op.value));
          break;
        case Batch::OpKind::Erase:
          r = wb.Delete(cf, slice(op.key));
          break;
        case Batch::OpKind::EraseOnce:
          r = wb.SingleDelete(cf, slice(op.key));
          break;
        case Batch::OpKind::EraseRange:
          r = wb.DeleteRange(cf, slice(op.key), slice(op.value));
          break;
      }
      if (s.ok()) s = r;
    });
    max_seq = std::max(max_seq, p.batch.max_seq());
    bytes += p.batch.bytes();
  }
  if (!s.ok()) return Status::io_error("building the write batch: " + s.ToString());
  if (wb.Count() == 0) return {};
  if (max_seq > seq_written) {
    std::string v;
    encoding::put_be64(v, max_seq);
    s = wb.Put(db->cf(Family::Meta), slice(detail::kSeqKey), v);
    if (!s.ok()) return Status::io_error("building the write batch: " + s.ToString());
  }
  rocksdb::WriteOptions wo;
  wo.sync = options.sync;
  s = db->db().Write(wo, &wb);
  if (!s.ok()) return on_write_error(s);
  writes.fetch_add(1, std::memory_order_relaxed);
  if (options.sync) wal_syncs.fetch_add(1, std::memory_order_relaxed);
  bytes_written.fetch_add(bytes, std::memory_order_relaxed);
  seq_written = std::max(seq_written, max_seq);
  return {};
}

Status RocksStore::Impl::on_write_error(const rocksdb::Status& s) {
  Status st = detail::to_status(s);
  Health h = st.is_no_space() ? Health::NoSpace : Health::Failed;
  Health before = health.exchange(h);
  failure = st;
  next_recovery = std::chrono::steady_clock::now() + options.resume_interval;
  reopen_backoff = options.resume_interval;
  if (before == Health::Ok) {
    // The alarm: one line when the trouble starts, one when it ends (try_recover).
    if (h == Health::NoSpace) {
      no_space_events.fetch_add(1, std::memory_order_relaxed);
      log->error(
          "storage: {}: the disk is full; commits fail (MQTT 5 clients get 0x97 Quota "
          "exceeded) until space is freed; nothing stored is lost ({})",
          options.path, st.message());
    } else {
      log->error("storage: {}: write failed; commits fail until the database reopens ({})",
                 options.path, st.message());
    }
  }
  return st;
}

void RocksStore::Impl::try_recover() {
  auto now = std::chrono::steady_clock::now();
  if (now < next_recovery) return;
  next_recovery = now + options.resume_interval;
  if (health.load() == Health::NoSpace) {
    std::error_code ec;
    auto space = std::filesystem::space(options.path, ec);
    if (!ec && space.available < kRecoveryFreeSpace) return;
  }
  std::unique_lock lock(db_mutex);
  db.reset();
  try {
    db = detail::RocksDb::open(options, log);
  } catch (const std::exception& e) {
    // Each failed open replays the WAL and logs RocksDB's complaint: back off, up to 10 s
    // (free-space checks above stay at resume_interval).
    reopen_backoff = std::min(std::max(reopen_backoff * 2, options.resume_interval),
                              std::max(options.resume_interval, kMaxReopenBackoff));
    next_recovery = now + reopen_backoff;
    log->debug("storage: {} not writable yet: {}", options.path, e.what());
    return;
  }
  seq_written = std::max(seq_written, db->stored_seq());
  health.store(Health::Ok);
  failure = {};
  recoveries.fetch_add(1, std::memory_order_relaxed);
  log->info("storage: {} is writable again; commits resume", options.path);
}

void RocksStore::Impl::complete(std::vector<Pending>& group, const Status& st) {
  for (Pending& p : group) {
    Status s = p.refused ? Status::busy("more than " + std::to_string(options.max_pending_bytes) +
                                        " bytes waiting to be written")
                         : st;
    commits.fetch_add(1, std::memory_order_relaxed);
    if (!s.ok()) failed_commits.fetch_add(1, std::memory_order_relaxed);
    pending_commits.fetch_sub(1, std::memory_order_relaxed);
    if (!p.done) continue;
    try {
      p.done(std::move(s));
    } catch (const std::exception& e) {
      log->error("storage: a commit completion threw: {}", e.what());
    } catch (...) {
      log->error("storage: a commit completion threw");
    }
  }
}

// ------------------------------------------------------------------------- RocksStore

RocksStore::RocksStore(RocksStoreOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}

RocksStore::~RocksStore() {
  close();
}

const RocksStoreOptions& RocksStore::options() const {
  return impl_->options;
}

void RocksStore::close() {
  Impl& m = *impl_;
  std::lock_guard close_lock(m.close_mutex);
  {
    std::lock_guard lock(m.mutex);
    m.closing = true;
  }
  m.cv.notify_all();
  if (m.writer.joinable()) m.writer.join();
  std::unique_lock lock(m.db_mutex);
  m.db.reset();
}

void RocksStore::commit(Batch&& batch, Completion done) {
  Impl& m = *impl_;
  std::unique_lock lock(m.mutex);
  if (m.closing) {
    lock.unlock();
    if (done) done(Status::closed());
    return;
  }
  bool was_empty = m.queue.empty();
  if (!was_empty && batch.bytes() > 0 &&
      m.pending_bytes + batch.bytes() > m.options.max_pending_bytes) {
    m.queue.push_back(Pending{Batch(ClockPair{}), std::move(done), true});
  } else {
    m.pending_bytes += batch.bytes();
    m.queue.push_back(Pending{std::move(batch), std::move(done), false});
  }
  m.pending_commits.fetch_add(1, std::memory_order_relaxed);
  lock.unlock();
  if (was_empty) m.cv.notify_one();
}

LoadSummary RocksStore::load(Visitor& v, const ClockPair& now) {
  Impl& m = *impl_;
  std::shared_lock lock(m.db_mutex);
  if (!m.db) throw std::runtime_error("storage: " + m.options.path + " is not open");
  rocksdb::WriteBatch erasures;
  std::uint64_t max_seq = 0;
  LoadSummary summary = detail::load_records(*m.db, v, now, *m.log, max_seq, erasures);
  if (erasures.Count() > 0) {
    rocksdb::WriteOptions wo;
    wo.sync = m.options.sync;
    rocksdb::Status s = m.db->db().Write(wo, &erasures);
    // Not fatal: what was to be erased is simply visited again at the next start.
    if (!s.ok())
      m.log->warn("storage: {}: erasing at load failed: {}", m.options.path, s.ToString());
  }
  std::uint64_t cur = m.seq.load();
  while (cur < max_seq && !m.seq.compare_exchange_weak(cur, max_seq)) {
  }
  return summary;
}

std::uint64_t RocksStore::next_seq() {
  return impl_->seq.fetch_add(1, std::memory_order_relaxed) + 1;
}

Status RocksStore::get_kv(std::string_view ns, std::string_view key, std::string& value) {
  Impl& m = *impl_;
  std::shared_lock lock(m.db_mutex);
  if (!m.db) return Status::io_error("storage: " + m.options.path + " is not open");
  std::string k;
  encoding::kv_key(k, ns, key);
  rocksdb::Status s = m.db->db().Get(rocksdb::ReadOptions(), m.db->cf(Family::Kv), k, &value);
  if (s.IsNotFound()) return Status::not_found();
  return detail::to_status(s);
}

Status RocksStore::scan_kv(std::string_view ns,
                           const std::function<bool(std::string_view, std::string_view)>& f) {
  Impl& m = *impl_;
  std::shared_lock lock(m.db_mutex);
  if (!m.db) return Status::io_error("storage: " + m.options.path + " is not open");
  std::string prefix;
  encoding::kv_prefix(prefix, ns);
  std::unique_ptr<rocksdb::Iterator> it(
      m.db->db().NewIterator(rocksdb::ReadOptions(), m.db->cf(Family::Kv)));
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    if (!f(key.substr(prefix.size()), std::string_view(it->value().data(), it->value().size()))) {
      break;
    }
  }
  return detail::to_status(it->status());
}

Health RocksStore::health() const {
  return impl_->health.load();
}

StoreStats RocksStore::stats() const {
  const Impl& m = *impl_;
  StoreStats s;
  s.commits = m.commits.load(std::memory_order_relaxed);
  s.failed_commits = m.failed_commits.load(std::memory_order_relaxed);
  s.writes = m.writes.load(std::memory_order_relaxed);
  s.wal_syncs = m.wal_syncs.load(std::memory_order_relaxed);
  s.bytes_written = m.bytes_written.load(std::memory_order_relaxed);
  s.no_space_events = m.no_space_events.load(std::memory_order_relaxed);
  s.recoveries = m.recoveries.load(std::memory_order_relaxed);
  s.pending_commits = m.pending_commits.load(std::memory_order_relaxed);
  {
    std::lock_guard lock(m.mutex);
    s.pending_bytes = m.pending_bytes;
  }
  return s;
}

}  // namespace emqxd::storage
