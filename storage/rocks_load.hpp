#pragma once
// Internal to storage/: RocksStore::load's walk over the column families.
#include <rocksdb/write_batch.h>
#include <spdlog/logger.h>

#include "storage/rocks_db.hpp"
#include "storage/store.hpp"

namespace emqxd::storage::detail {

// Streams every record of `db` to `v` (see Visitor), adding the deletions it calls for, and
// those of orphans, to `erasures`; sets `max_seq` to the highest delivery seq found.
// Throws std::runtime_error when a column family cannot be read.
LoadSummary load_records(RocksDb& db, Visitor& v, const ClockPair& now, spdlog::logger& log,
                         std::uint64_t& max_seq, rocksdb::WriteBatch& erasures);

}  // namespace emqxd::storage::detail
