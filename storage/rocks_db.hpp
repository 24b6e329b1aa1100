#pragma once
// Internal to storage/: the RocksDB database of a RocksStore, with its column families,
// options and the translation of RocksDB errors into words. The only header that includes
// RocksDB; never include it outside storage/*.cpp.
#include <rocksdb/db.h>
#include <spdlog/logger.h>

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "storage/batch.hpp"
#include "storage/rocks_store.hpp"
#include "storage/status.hpp"

namespace emqxd::storage::detail {

// Meta keys in the default column family.
inline constexpr std::string_view kFormatKey = "format";  // u8: the layout version
inline constexpr std::string_view kSeqKey = "seq";        // u64 BE: highest seq written

// One open database. Destroying it closes it.
class RocksDb {
 public:
  // Opens or creates the database at options.path. Throws std::runtime_error in plain words
  // (see RocksStore::RocksStore).
  static std::unique_ptr<RocksDb> open(const RocksStoreOptions& options,
                                       const std::shared_ptr<spdlog::logger>& log);
  ~RocksDb();
  RocksDb(const RocksDb&) = delete;
  RocksDb& operator=(const RocksDb&) = delete;

  rocksdb::DB& db() { return *db_; }
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return cf_[static_cast<std::size_t>(f)]; }

  // The highest seq recorded in meta (0 = none).
  std::uint64_t stored_seq() const { return stored_seq_; }

 private:
  RocksDb() = default;
  void check_format(const std::string& path);

  std::unique_ptr<rocksdb::DB> db_;
  std::array<rocksdb::ColumnFamilyHandle*, kFamilyCount> cf_{};
  std::vector<rocksdb::ColumnFamilyHandle*> all_;  // ours and any a newer version added
  std::uint64_t stored_seq_ = 0;
};

// The column family's name: "sessions", ..., "default" for Meta.
const char* family_name(Family f);

// A RocksDB status as ours: the disk full is NoSpace (RocksDB reports it as an IOError with
// subcode kNoSpace, or wrapped in an Incomplete once the database has stopped writes).
Status to_status(const rocksdb::Status& s);

// Why RocksDB would not open `path`, in words, for the std::runtime_error.
std::string open_error(const std::string& path, const rocksdb::Status& s);

}  // namespace emqxd::storage::detail
