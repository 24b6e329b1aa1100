#pragma once
// MemoryStore: the Store of a node without durable sessions (durable_sessions.enable =
// false: an edge box with no disk to spare). The core runs the same code path as with
// RocksDB, but commit() completes at once and nothing outlives the process, so load()
// finds nothing.
//
// Sessions, deliveries and retained messages are not kept: the core holds them in memory
// already, and a second copy would double what an edge box spends on queued messages.
// Only kv records are kept (in a map), because the stores built on them read them back.
#include <atomic>
#include <map>
#include <mutex>
#include <string>

#include "storage/store.hpp"

namespace emqxd::storage {

class MemoryStore final : public Store {
 public:
  MemoryStore() = default;

  // Calls done(ok) before returning.
  void commit(Batch&& batch, Completion done) override;
  LoadSummary load(Visitor& v, const ClockPair& now) override;
  std::uint64_t next_seq() override { return seq_.fetch_add(1, std::memory_order_relaxed) + 1; }
  Status get_kv(std::string_view ns, std::string_view key, std::string& value) override;
  Status scan_kv(std::string_view ns,
                 const std::function<bool(std::string_view, std::string_view)>& f) override;
  Health health() const override { return Health::Ok; }
  StoreStats stats() const override;

 private:
  std::atomic<std::uint64_t> seq_{0};
  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> bytes_{0};
  mutable std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> kv_;  // encoded kv key -> value; mutex_
};

}  // namespace emqxd::storage
