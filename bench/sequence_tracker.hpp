#pragma once
// SequenceTracker: exact loss, duplicate and reorder accounting for one publisher stream as
// seen by one subscriber.
//
// Every sequence below base_ has been seen. Sequences from base_ on are kept in a ring of
// bits (the window): a message inside the window sets its bit, and base_ advances over the
// run of set bits at the front, so in-order traffic touches one word and the window stays
// small. Classification, per the bench's definitions:
//   duplicate     the sequence was seen before (below base_, or its bit is set);
//   out of order  not a duplicate, and lower than the highest sequence seen so far;
//   lost          at the end, sequences never seen below the stream's end, where the end is
//                 the count announced by the final message (or told by set_end()), else
//                 the highest sequence seen + 1 (tail losses are then invisible).
// The window doubles when a message lands beyond it, up to kMaxWindowBits; past that the
// oldest holes are given up as lost and base_ slides on (a given-up message arriving later
// would then be miscounted as a duplicate: it takes a million messages in flight).
//
// Cost: O(1) per message in order; memory 8 bytes to 128 KB per stream. Allocates only
// when the window grows. Single-threaded.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace emqxd::bench {

class SequenceTracker {
 public:
  static constexpr std::size_t kMaxWindowBits = std::size_t{1} << 20;

  enum class Verdict { InOrder, OutOfOrder, Duplicate };

  Verdict record(std::uint64_t seq);

  // The stream has exactly `count` messages (sequences 0..count-1).
  void set_end(std::uint64_t count) {
    if (!end_known_ || count > end_) end_ = count;
    end_known_ = true;
  }
  bool end_known() const { return end_known_; }
  // True once every sequence below the announced end has been seen.
  bool complete() const { return end_known_ && base_ >= end_; }

  std::uint64_t received() const { return received_; }  // distinct sequences
  std::uint64_t duplicates() const { return duplicates_; }
  std::uint64_t out_of_order() const { return out_of_order_; }
  std::uint64_t lost() const;

 private:
  bool test(std::uint64_t seq) const;
  void set(std::uint64_t seq);
  void clear_front();  // clears base_'s bit and advances base_
  void grow_or_slide(std::uint64_t seq);

  std::uint64_t base_ = 0;
  std::uint64_t top_ = 0;  // highest sequence seen + 1
  std::uint64_t end_ = 0;
  bool end_known_ = false;
  std::uint64_t received_ = 0;
  std::uint64_t duplicates_ = 0;
  std::uint64_t out_of_order_ = 0;
  std::uint64_t given_up_ = 0;
  std::uint64_t set_bits_ = 0;  // bits set in the window
  std::size_t head_ = 0;        // bit position of base_ in the ring
  std::vector<std::uint64_t> ring_ = std::vector<std::uint64_t>(1);  // size: power of two
};

}  // namespace emqxd::bench
