#pragma once
// Buffer: the bounded queue of one buffer worker of an action (EMQX's replayq), what waits
// to be sent while the connector is slow or down.
//
//   memory_only        the requests stay in memory
//   volatile_offload   they are appended to segment files in a directory of their own
//                      (`<data_dir>/bufs/<action>/<worker>/`), read back in order, and
//                      forgotten at restart (the directory is wiped when the buffer is made,
//                      as EMQX's volatile offload is): memory stays small while the bound
//                      is large, so an outage of minutes loses nothing below it
//
// Bounded by `max_bytes` (EMQX's max_buffer_bytes, per buffer worker): a push past it drops
// the oldest requests, as EMQX does, and says how many (the action counts them
// dropped.queue_full). An item larger than the bound is dropped itself. Not thread-safe:
// its buffer worker guards it.
#include <cstdint>
#include <deque>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace emqxd::connectors {

class Buffer {
 public:
  struct Options {
    std::uint64_t max_bytes = 256ull << 20;
    bool offload = false;                       // volatile_offload
    std::string dir;                            // offload: the segments' directory (made, emptied)
    std::uint64_t segment_bytes = 10ull << 20;  // offload: a new file past this
  };
  // Throws std::runtime_error naming the directory when it cannot be used.
  explicit Buffer(Options o);
  ~Buffer();
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  // Appends `item`; returns how many items were dropped to keep within max_bytes (the
  // oldest first; `item` itself when it alone is larger, or when the disk refuses it,
  // which disk_errors() counts too).
  std::size_t push(std::string item);
  // Removes and returns up to `n` items from the head, oldest first.
  std::vector<std::string> pop(std::size_t n);

  std::size_t count() const { return count_; }
  std::uint64_t bytes() const { return bytes_; }
  bool empty() const { return count_ == 0; }
  // Offload: the disk errors so far (an item the disk refused is dropped).
  std::uint64_t disk_errors() const { return disk_errors_; }
  // Items pop() could not read back (a damaged or removed segment) since the last call:
  // they are gone, and the caller counts them.
  std::size_t take_lost() { return std::exchange(lost_, 0); }

  // What one item costs against max_bytes: its bytes and a record's overhead.
  static std::uint64_t cost(const std::string& item) { return item.size() + 16; }

 private:
  struct Segment {
    std::uint64_t id = 0;
    std::size_t count = 0;      // records not yet read
    std::uint64_t bytes = 0;    // their cost
    std::uint64_t read_at = 0;  // file offset of the next record
  };
  std::optional<std::string> take_front();  // one item from the head (count_ > 0)
  void start_afresh();                      // offload: the one segment left is empty: its file goes
  std::string segment_path(std::uint64_t id) const;
  bool append_to_disk(const std::string& item);

  Options o_;
  std::size_t count_ = 0;
  std::uint64_t bytes_ = 0;
  std::uint64_t disk_errors_ = 0;
  std::size_t lost_ = 0;
  // memory_only
  std::deque<std::string> mem_;
  // volatile_offload: segments oldest first; the last one is written to.
  std::deque<Segment> segments_;
  std::ofstream writer_;
  std::uint64_t written_ = 0;  // bytes in the tail segment's file
  std::ifstream reader_;
  std::uint64_t reader_id_ = ~0ull;
  std::uint64_t next_id_ = 0;
};

}  // namespace emqxd::connectors
