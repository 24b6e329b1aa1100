#include "storage/memory_store.hpp"

#include "storage/encoding.hpp"

namespace emqxd::storage {

void MemoryStore::commit(Batch&& batch, Completion done) {
  {
    std::lock_guard lock(mutex_);
    batch.for_each([&](const Batch::Op& op) {
      if (op.family != Family::Kv) return;
      switch (op.kind) {
        case Batch::OpKind::Put:
          kv_.insert_or_assign(std::string(op.key), std::string(op.value));
          break;
        case Batch::OpKind::Erase:
        case Batch::OpKind::EraseOnce:
          if (auto it = kv_.find(op.key); it != kv_.end()) kv_.erase(it);
          break;
        case Batch::OpKind::EraseRange:
          kv_.erase(kv_.lower_bound(op.key), kv_.lower_bound(op.value));
          break;
      }
    });
  }
  commits_.fetch_add(1, std::memory_order_relaxed);
  bytes_.fetch_add(batch.bytes(), std::memory_order_relaxed);
  if (done) done(Status{});
}

LoadSummary MemoryStore::load(Visitor& /*v*/, const ClockPair& /*now*/) {
  return {};
}

Status MemoryStore::get_kv(std::string_view ns, std::string_view key, std::string& value) {
  std::string k;
  encoding::kv_key(k, ns, key);
  std::lock_guard lock(mutex_);
  auto it = kv_.find(k);
  if (it == kv_.end()) return Status::not_found();
  value = it->second;
  return {};
}

Status MemoryStore::scan_kv(std::string_view ns,
                            const std::function<bool(std::string_view, std::string_view)>& f) {
  std::string prefix;
  encoding::kv_prefix(prefix, ns);
  std::lock_guard lock(mutex_);
  for (auto it = kv_.lower_bound(prefix); it != kv_.end() && it->first.starts_with(prefix); ++it) {
    if (!f(std::string_view(it->first).substr(prefix.size()), it->second)) break;
  }
  return {};
}

StoreStats MemoryStore::stats() const {
  StoreStats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.bytes_written = bytes_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace emqxd::storage
