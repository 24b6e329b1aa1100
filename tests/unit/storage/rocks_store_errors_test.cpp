// RocksStore when things go wrong: a directory locked by another store, a path that cannot
// be a directory, a corrupt or damaged database, a newer format, corrupt records, and a
// disk that fills up while the store runs (a small tmpfs; skipped with a warning where
// mounting is not allowed).
#include <errno.h>
#include <rocksdb/db.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "config/temp_dir.hpp"
#include "storage/encoding.hpp"
#include "storage/rocks_store.hpp"
#include "storage/storage_test_util.hpp"

namespace {

using namespace emqxd::storage;
using namespace emqxd::storage::test;
using emqxd::config::test::TempDir;
namespace fs = std::filesystem;

RocksStoreOptions options_at(const fs::path& path) {
  RocksStoreOptions o;
  o.path = path.string();
  o.write_buffer_size = 256 * 1024;
  o.block_cache_size = 1024 * 1024;
  o.resume_interval = std::chrono::milliseconds(20);
  return o;
}

std::string open_error(const RocksStoreOptions& o) {
  try {
    RocksStore store(o);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "(opened)";
}

void make_store(const fs::path& path) {
  RocksStore store(options_at(path));
  Batch b(fixed_clocks());
  b.put_session(session(1, "c"));
  REQUIRE(commit_wait(store, std::move(b)).ok());
}

void overwrite(const fs::path& p, std::string_view bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

// Writes `value` under `key` into the column family `family` with RocksDB itself, as a bug
// or a bad disk might.
void raw_put(const fs::path& path, const std::string& family, const std::string& key,
             const std::string& value) {
  rocksdb::DBOptions o;
  std::vector<std::string> names;
  REQUIRE(rocksdb::DB::ListColumnFamilies(o, path.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names)
    cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  REQUIRE(rocksdb::DB::Open(o, path.string(), cfs, &handles, &db).ok());
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == family) CHECK(db->Put(rocksdb::WriteOptions(), handles[i], key, value).ok());
  }
  for (auto* h : handles)
    CHECK(db->DestroyColumnFamilyHandle(h).ok());
  CHECK(db->Close().ok());
  delete db;
}

}  // namespace

TEST_CASE("a directory another store holds is refused, naming the path", "[storage][errors]") {
  TempDir dir;
  auto o = options_at(dir.path() / "rocksdb");
  RocksStore first(o);
  std::string e = open_error(o);
  CAPTURE(e);
  CHECK(e.starts_with("storage: " + o.path + " is locked by another emqxd process"));
  // The first store is unharmed.
  Batch b(fixed_clocks());
  b.put_kv("a", "b", "c");
  CHECK(commit_wait(first, std::move(b)).ok());
}

TEST_CASE("a path below a regular file is refused in plain words", "[storage][errors]") {
  TempDir dir;
  std::string file = dir.write("data", "not a directory");
  auto o = options_at(fs::path(file) / "rocksdb");
  CHECK(open_error(o) == "storage: cannot create the directory " + o.path + ": Not a directory");
  o = options_at(file);
  CHECK(open_error(o) == "storage: " + file + " is not a directory");
}

TEST_CASE("a corrupt or damaged database is refused with what to do", "[storage][errors]") {
  TempDir dir;
  fs::path path = dir.path() / "rocksdb";
  make_store(path);

  SECTION("garbage in CURRENT") {
    overwrite(path / "CURRENT", "garbage");
    std::string e = open_error(options_at(path));
    CAPTURE(e);
    CHECK(e.starts_with("storage: " + path.string() +
                        " is corrupt and cannot be opened; move it "
                        "aside"));
  }
  SECTION("garbage in the MANIFEST") {
    for (const auto& f : fs::directory_iterator(path)) {
      if (f.path().filename().string().starts_with("MANIFEST-")) {
        overwrite(f.path(), std::string(200, '\x5A'));
      }
    }
    std::string e = open_error(options_at(path));
    CAPTURE(e);
    CHECK(e.starts_with("storage: " + path.string() + " is corrupt"));
  }
  SECTION("CURRENT names a MANIFEST that is not there") {
    overwrite(path / "CURRENT", "MANIFEST-999999\n");
    std::string e = open_error(options_at(path));
    CAPTURE(e);
    CHECK(e.starts_with("storage: " + path.string() + " is damaged"));
  }
}

TEST_CASE("a database of a newer storage format is refused", "[storage][errors]") {
  TempDir dir;
  fs::path path = dir.path() / "rocksdb";
  make_store(path);
  raw_put(path, "default", "format", std::string(1, '\x02'));
  CHECK(open_error(options_at(path)) ==
        "storage: " + path.string() +
            " was written by a newer emqxd (storage format 2; this emqxd reads format 1)");
}

TEST_CASE("unreadable records are skipped and counted, the rest loads", "[storage][errors]") {
  TempDir dir;
  fs::path path = dir.path() / "rocksdb";
  {
    RocksStore store(options_at(path));
    Batch b(fixed_clocks());
    b.put_session(session(1, "good"));
    b.put_delivery(delivery(1, 1));
    b.put_delivery(delivery(1, 2));
    b.put_session(session(2, "bad"));
    b.put_subscription(subscription(2, "kept/on/disk"));
    b.put_retained(*message("r", "x"));
    REQUIRE(commit_wait(store, std::move(b)).ok());
  }
  std::string key;
  emqxd::storage::encoding::session_key(key, 2);
  raw_put(path, "sessions", key, "\x01\x05");  // truncated
  key.clear();
  emqxd::storage::encoding::delivery_key(key, 1, 2);
  raw_put(path, "deliveries", key, std::string("\x07garbage"));  // unknown version
  raw_put(path, "retained", "r2", "\x01");
  for (int round = 0; round < 2; ++round) {
    RocksStore store(options_at(path));
    LoadSummary summary;
    Recorder r;
    summary = store.load(r, fixed_clocks());
    CHECK(r.events ==
          std::vector<std::string>{"session 1 good", "delivery 1 1", "end 1", "retained r"});
    CHECK(summary.corrupt == 3);
    CHECK(summary.orphans == 0);  // the subscription of the unreadable session stays
  }
}

namespace {

// A tmpfs of `size` mounted on `dir` for the life of this object.
class Tmpfs {
 public:
  Tmpfs(const fs::path& dir, const char* size) : dir_(dir) {
    fs::create_directories(dir);
    std::string opts = std::string("size=") + size;
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
      mounted_ = true;
    } else {
      error_ = std::strerror(errno);
    }
  }
  ~Tmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  Tmpfs(const Tmpfs&) = delete;
  Tmpfs& operator=(const Tmpfs&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }

 private:
  fs::path dir_;
  bool mounted_ = false;
  std::string error_;
};

// Fills the file system of `path` up to `leave` bytes (0: to the last byte).
void fill(const fs::path& path, std::uintmax_t leave) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  REQUIRE(f != nullptr);
  std::setvbuf(f, nullptr, _IONBF, 0);
  std::string chunk(16 * 1024, 'f');
  while (fs::space(path.parent_path()).available > leave + chunk.size() &&
         std::fwrite(chunk.data(), 1, chunk.size(), f) == chunk.size()) {
  }
  while (leave == 0 && std::fwrite("f", 1, 1, f) == 1) {
  }
  std::fclose(f);
}

}  // namespace

TEST_CASE("a full disk fails commits with no space, nothing is lost, writes resume",
          "[storage][errors][disk_full]") {
  TempDir dir;
  Tmpfs mnt(dir.path() / "mnt", "32m");
  if (!mnt.mounted()) {
    WARN("SKIPPED: cannot mount a tmpfs to fill up (" << mnt.error()
                                                      << "); needs root. Disk-full not tested.");
    return;
  }
  fs::path path = dir.path() / "mnt" / "rocksdb";
  auto o = options_at(path);
  std::vector<std::uint64_t> stored;  // seqs of the deliveries committed successfully
  {
    RocksStore store(o);
    Recorder none;
    store.load(none, fixed_clocks());
    Batch b(fixed_clocks());
    b.put_session(session(1, "c"));
    for (int i = 0; i < 10; ++i) {
      std::uint64_t seq = store.next_seq();
      b.put_delivery(delivery(1, seq, "before"));
      stored.push_back(seq);
    }
    REQUIRE(commit_wait(store, std::move(b)).ok());

    // Either the WAL meets a disk already full, or the store's own writes fill it (and
    // a flush or a compaction may fail first).
    std::uintmax_t leave = GENERATE(0u, 3u * 1024 * 1024);
    std::size_t payload = leave == 0 ? 64 * 1024 : 16 * 1024;
    CAPTURE(leave);
    fill(dir.path() / "mnt" / "filler", leave);
    std::string big(payload, 'x');
    std::mt19937 rng(7);  // incompressible, or the SST files stay tiny
    for (char& c : big)
      c = static_cast<char>(rng());
    Status st;
    for (int i = 0; i < 1000 && st.ok(); ++i) {
      Batch f(fixed_clocks());
      std::uint64_t seq = store.next_seq();
      big[0] = static_cast<char>(i);
      f.put_delivery(delivery(1, seq, big));
      st = commit_wait(store, std::move(f));
      if (st.ok()) stored.push_back(seq);
    }
    INFO(st.to_string());
    REQUIRE(st.is_no_space());
    CHECK(store.health() == Health::NoSpace);
    // Later commits fail fast with the same answer; the alarm was raised once.
    for (int i = 0; i < 3; ++i) {
      Batch f(fixed_clocks());
      f.put_kv("k", "v", "x");
      CHECK(commit_wait(store, std::move(f)).is_no_space());
    }
    CHECK(store.stats().no_space_events == 1);
    CHECK(store.stats().failed_commits >= 4);

    fs::remove(dir.path() / "mnt" / "filler");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (store.health() != Health::Ok && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(store.health() == Health::Ok);
    CHECK(store.stats().recoveries == 1);
    Batch a(fixed_clocks());
    std::uint64_t seq = store.next_seq();
    a.put_delivery(delivery(1, seq, "after"));
    REQUIRE(commit_wait(store, std::move(a)).ok());
    stored.push_back(seq);
  }
  RocksStore store(o);
  Recorder r;
  store.load(r, fixed_clocks());
  std::vector<std::uint64_t> loaded;
  for (const auto& d : r.deliveries)
    loaded.push_back(d.seq);
  CHECK(loaded == stored);
  REQUIRE(r.sessions.size() == 1);
  CHECK(r.deliveries.front().msg->payload == "before");
  CHECK(r.deliveries.back().msg->payload == "after");
}
