#pragma once
// RocksStore: the Store on RocksDB (layout, durability and disk-full behaviour in
// storage/store.hpp). No RocksDB type appears here; the database lives behind Impl.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/store.hpp"

namespace emqxd::storage {

struct RocksStoreOptions {
  std::string path;  // the database directory, created if missing (node.data_dir/rocksdb)
  bool sync = true;  // durable_sessions.sync: fsync the WAL before a commit completes
  // durable_storage.rocksdb.write_buffer_size: the memtable of each column family; all of
  // them together are held below twice this.
  std::uint64_t write_buffer_size = 64 * 1024 * 1024;
  // durable_storage.rocksdb.block_cache_size: one LRU cache of data, index and filter
  // blocks shared by every column family.
  std::uint64_t block_cache_size = 32 * 1024 * 1024;
  // Commits waiting for the writer beyond this many bytes are refused (Status::Busy) instead
  // of growing the queue while the disk cannot keep up.
  std::uint64_t max_pending_bytes = 64 * 1024 * 1024;
  // How often a store whose disk was full (or failing) tries to write again.
  std::chrono::milliseconds resume_interval{1000};
};

class RocksStore final : public Store {
 public:
  // Opens (or creates) the database and starts the writer thread. Throws
  // std::runtime_error naming the path and the cause: "storage: PATH is locked by another
  // emqxd process", "... is corrupt ...", "... is not a directory", "... was written by a
  // newer emqxd ...".
  explicit RocksStore(RocksStoreOptions options);
  // close().
  ~RocksStore() override;
  RocksStore(const RocksStore&) = delete;
  RocksStore& operator=(const RocksStore&) = delete;

  void commit(Batch&& batch, Completion done) override;
  LoadSummary load(Visitor& v, const ClockPair& now) override;
  std::uint64_t next_seq() override;
  Status get_kv(std::string_view ns, std::string_view key, std::string& value) override;
  Status scan_kv(std::string_view ns,
                 const std::function<bool(std::string_view, std::string_view)>& f) override;
  Health health() const override;
  StoreStats stats() const override;

  // Writes and completes every commit enqueued so far, stops the writer thread and closes
  // the database; later commits complete at once with Status::Closed. Idempotent. Any
  // thread but the writer's (not from a completion).
  void close();

  const RocksStoreOptions& options() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emqxd::storage
