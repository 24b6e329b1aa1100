// Opening the RocksDB database: options, column families, the info log, and errors in words.
//
// Options, for a broker on small machines (2 cores) that writes small records often:
//   - write_buffer_size (config) per column family, db_write_buffer_size = twice that for all
//     of them together: memtable memory is bounded whatever the number of families.
//   - max_total_wal_size = 4 x write_buffer_size: a rarely written family (sessions) would
//     otherwise pin old WAL files forever; this bound forces its flush, and bounds how much
//     WAL a restart replays.
//   - One LRU block cache (config) for all families, index and filter blocks inside it, so
//     the cache size is the read-side memory bound.
//   - Bloom filters (10 bits/key) on the families read by key: sessions, retained, kv.
//     Deliveries, subscriptions and awaiting_rel are only ever scanned.
//   - Level compaction with dynamic level sizes (less space amplification); deliveries are a
//     queue (put, then delete soon after), so their SST files are compacted early when
//     deletions dominate (CompactOnDeletionCollector).
//   - max_background_jobs = 2: one flush and one compaction at a time, not a thread per core
//     of some other machine; max_open_files = 512 leaves descriptors for connections.
//   - RocksDB's info log goes to our spdlog "storage" logger (warnings and errors; its
//     chatty info lines at debug), not to a LOG file in the data directory: a LOG file on a
//     full disk makes Debian's RocksDB 7.8 (built with assertions) abort the process.
//   - RocksDB's own recovery from a full disk is switched off (see rocks_store.cpp).
//   - WAL recovery stays kPointInTimeRecovery: after a crash, replay stops at the first torn
//     record, which can only be a write that never completed.
#include "storage/rocks_db.hpp"

#include <rocksdb/cache.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/table_properties_collectors.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "common/log.hpp"
#include "storage/encoding.hpp"

namespace emqxd::storage::detail {
namespace {

// By Family; Meta is RocksDB's default family, which every database has.
constexpr std::array<const char*, kFamilyCount> kFamilyNames = {
    "sessions", "subscriptions", "deliveries", "awaiting_rel", "retained", "kv", "default"};
static_assert(static_cast<std::size_t>(Family::Meta) == kFamilyCount - 1);

// RocksDB's info log into spdlog. RocksDB logs from its background threads too; spdlog
// loggers are thread-safe, and one throttle under a mutex keeps a storm of stall warnings
// to 10 lines a second.
class InfoLog final : public rocksdb::Logger {
 public:
  explicit InfoLog(std::shared_ptr<spdlog::logger> log)
      : rocksdb::Logger(log->should_log(spdlog::level::debug) ? rocksdb::InfoLogLevel::INFO_LEVEL
                                                              : rocksdb::InfoLogLevel::WARN_LEVEL),
        log_(std::move(log)) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::INFO_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    spdlog::level::level_enum to = spdlog::level::debug;
    if (level == rocksdb::InfoLogLevel::WARN_LEVEL) to = spdlog::level::warn;
    if (level == rocksdb::InfoLogLevel::ERROR_LEVEL ||
        level == rocksdb::InfoLogLevel::FATAL_LEVEL) {
      to = spdlog::level::err;
    }
    if (!log_->should_log(to)) return;
    std::uint64_t suppressed = 0;
    {
      std::lock_guard lock(mutex_);
      if (to != spdlog::level::debug &&
          !throttle_.allow(std::chrono::steady_clock::now(), suppressed)) {
        return;
      }
    }
    char buf[1024];
    int n = std::vsnprintf(buf, sizeof buf, format, ap);
    if (n < 0) return;
    std::string_view text(buf, std::min(static_cast<std::size_t>(n), sizeof buf - 1));
    while (!text.empty() && (text.back() == '\n' || text.back() == ' '))
      text.remove_suffix(1);
    if (suppressed > 0) {
      log_->log(to, "rocksdb: {} ({} similar lines suppressed)", text, suppressed);
    } else {
      log_->log(to, "rocksdb: {}", text);
    }
  }

 private:
  std::shared_ptr<spdlog::logger> log_;
  std::mutex mutex_;
  log::Throttle throttle_;
};

// The store recovers from write errors itself, by reopening (rocks_store.cpp): RocksDB's
// automatic recovery would call DB::Resume(), which in 7.8 can reuse a WAL file that
// failed and then abort on an assertion.
class NoAutoRecovery final : public rocksdb::EventListener {
 public:
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    bg_error.PermitUncheckedError();
    *auto_recovery = false;
  }
};

rocksdb::DBOptions db_options(const RocksStoreOptions& o,
                              const std::shared_ptr<spdlog::logger>& log) {
  rocksdb::DBOptions d;
  d.create_if_missing = true;
  d.create_missing_column_families = true;
  d.max_background_jobs = 2;
  d.allow_concurrent_memtable_write = false;  // one writer thread; required by VectorRep
  d.max_open_files = 512;
  d.db_write_buffer_size = static_cast<std::size_t>(2 * o.write_buffer_size);
  d.max_total_wal_size = 4 * o.write_buffer_size;
  d.bytes_per_sync = 1024 * 1024;  // write SST files back smoothly, not in one burst
  d.info_log = std::make_shared<InfoLog>(log);
  d.info_log_level = d.info_log->GetInfoLogLevel();
  d.stats_dump_period_sec = 0;  // StoreStats has what we watch
  d.listeners.push_back(std::make_shared<NoAutoRecovery>());
  return d;
}

rocksdb::ColumnFamilyOptions cf_options(Family f, const RocksStoreOptions& o,
                                        const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions c;
  c.write_buffer_size = static_cast<std::size_t>(o.write_buffer_size);
  c.compaction_style = rocksdb::kCompactionStyleLevel;
  c.level_compaction_dynamic_level_bytes = true;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = cache;
  t.cache_index_and_filter_blocks = true;
  t.pin_l0_filter_and_index_blocks_in_cache = true;
  if (f == Family::Sessions || f == Family::Retained || f == Family::Kv) {
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  c.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  if (f == Family::Deliveries) {
    // An SST file in which 64 of any 128 consecutive entries are deletions is compacted.
    c.table_properties_collector_factories.push_back(
        rocksdb::NewCompactOnDeletionCollectorFactory(128, 64));
  }
  if (f == Family::Deliveries || f == Family::AwaitingRel) {
    // Written all the time (a put and an erase per message), read only at start-up: a
    // memtable that appends (and sorts once, when flushed or read) instead of a skip list
    // whose every insert costs ~20 key comparisons.
    c.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  }
  return c;
}

bool contains(const std::string& s, std::string_view what) {
  return s.find(what) != std::string::npos;
}

}  // namespace

const char* family_name(Family f) {
  return kFamilyNames[static_cast<std::size_t>(f)];
}

Status to_status(const rocksdb::Status& s) {
  if (s.ok()) return {};
  std::string text = s.ToString();
  if (s.IsNoSpace() || contains(text, "No space left on device")) {
    return Status::no_space(std::move(text));
  }
  if (s.IsCorruption()) return Status::corruption(std::move(text));
  return Status::io_error(std::move(text));
}

std::string open_error(const std::string& path, const rocksdb::Status& s) {
  std::string why = s.ToString();
  std::string head = "storage: " + path;
  if (s.IsIOError() && (contains(why, "/LOCK") || contains(why, "lock hold"))) {
    return head + " is locked by another emqxd process (or already open in this one); " +
           "one data directory serves one node (rocksdb: " + why + ")";
  }
  if (s.IsCorruption()) {
    return head + " is corrupt and cannot be opened; move it aside to start with empty " +
           "storage (stored sessions and retained messages are then lost) or restore a " +
           "backup (rocksdb: " + why + ")";
  }
  if ((s.IsIOError() || s.IsNotFound()) &&
      (contains(why, "MANIFEST") || contains(why, "CURRENT"))) {
    return head + " is damaged: a file the database needs is missing or unreadable; move " +
           "it aside or restore a backup (rocksdb: " + why + ")";
  }
  if (s.IsNoSpace() || contains(why, "No space left on device")) {
    return head + " cannot be opened: the disk is full (rocksdb: " + why + ")";
  }
  if (contains(why, "Permission denied") || contains(why, "Read-only file system")) {
    return head + " is not writable (rocksdb: " + why + ")";
  }
  return head + " cannot be opened (rocksdb: " + why + ")";
}

std::unique_ptr<RocksDb> RocksDb::open(const RocksStoreOptions& o,
                                       const std::shared_ptr<spdlog::logger>& log) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (o.path.empty()) throw std::runtime_error("storage: no database directory given");
  if (fs::exists(o.path, ec) && !fs::is_directory(o.path, ec)) {
    throw std::runtime_error("storage: " + o.path + " is not a directory");
  }
  fs::create_directories(o.path, ec);
  if (ec) {
    throw std::runtime_error("storage: cannot create the directory " + o.path + ": " +
                             ec.message());
  }

  rocksdb::DBOptions dbo = db_options(o, log);
  auto cache = rocksdb::NewLRUCache(static_cast<std::size_t>(o.block_cache_size));
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  for (std::size_t i = 0; i < kFamilyCount; ++i) {
    families.emplace_back(kFamilyNames[i], cf_options(static_cast<Family>(i), o, cache));
  }
  // A family a newer emqxd added must be opened too (RocksDB refuses to open a database
  // without all of them); we leave it alone. A new database has none: the listing fails.
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(dbo, o.path, &existing).ok()) {
    for (const auto& name : existing) {
      bool ours = std::any_of(kFamilyNames.begin(), kFamilyNames.end(),
                              [&](const char* n) { return name == n; });
      if (!ours) families.emplace_back(name, rocksdb::ColumnFamilyOptions());
    }
  }

  std::unique_ptr<RocksDb> self(new RocksDb());
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(dbo, o.path, families, &self->all_, &raw);
  if (!s.ok()) throw std::runtime_error(open_error(o.path, s));
  self->db_.reset(raw);
  for (std::size_t i = 0; i < kFamilyCount; ++i)
    self->cf_[i] = self->all_[i];
  self->check_format(o.path);
  return self;
}

void RocksDb::check_format(const std::string& path) {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(Family::Meta), kFormatKey, &v);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions w;
    w.sync = true;
    s = db_->Put(w, cf(Family::Meta), kFormatKey,
                 std::string(1, static_cast<char>(encoding::kVersion)));
    if (!s.ok()) throw std::runtime_error(open_error(path, s));
  } else if (!s.ok()) {
    throw std::runtime_error(open_error(path, s));
  } else if (v.size() != 1 || static_cast<std::uint8_t>(v[0]) != encoding::kVersion) {
    std::string found = v.size() == 1 ? std::to_string(static_cast<std::uint8_t>(v[0]))
                                      : "unknown (" + std::to_string(v.size()) + " bytes)";
    throw std::runtime_error("storage: " + path + " was written by a newer emqxd (storage " +
                             "format " + found + "; this emqxd reads format " +
                             std::to_string(encoding::kVersion) + ")");
  }
  s = db_->Get(rocksdb::ReadOptions(), cf(Family::Meta), kSeqKey, &v);
  if (s.ok() && v.size() == 8) stored_seq_ = encoding::get_be64(v);
}

RocksDb::~RocksDb() {
  if (!db_) return;
  for (auto* h : all_)
    db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  // A failed WAL is reported here again ("previous error"); nothing more can be done with
  // it, and what it holds is replayed at the next open.
  db_->Close().PermitUncheckedError();
}

}  // namespace emqxd::storage::detail
