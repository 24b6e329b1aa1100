#include "sequence_tracker.hpp"

#include <algorithm>

namespace emqxd::bench {

bool SequenceTracker::test(std::uint64_t seq) const {
  const std::size_t bits = ring_.size() * 64;
  const std::size_t pos = (head_ + static_cast<std::size_t>(seq - base_)) & (bits - 1);
  return (ring_[pos / 64] >> (pos % 64) & 1) != 0;
}

void SequenceTracker::set(std::uint64_t seq) {
  const std::size_t bits = ring_.size() * 64;
  const std::size_t pos = (head_ + static_cast<std::size_t>(seq - base_)) & (bits - 1);
  ring_[pos / 64] |= std::uint64_t{1} << (pos % 64);
  ++set_bits_;
}

void SequenceTracker::clear_front() {
  const std::size_t bits = ring_.size() * 64;
  auto& word = ring_[head_ / 64];
  const std::uint64_t mask = std::uint64_t{1} << (head_ % 64);
  if ((word & mask) != 0) {
    word &= ~mask;
    --set_bits_;
  }
  head_ = (head_ + 1) & (bits - 1);
  ++base_;
}

void SequenceTracker::grow_or_slide(std::uint64_t seq) {
  if (ring_.size() * 64 >= kMaxWindowBits && seq - base_ >= 2 * kMaxWindowBits) {
    // A jump far past the window: every hole in it and everything skipped over is lost at
    // once (sliding bit by bit would take as long as the jump).
    const std::uint64_t bits = ring_.size() * 64;
    const std::uint64_t new_base = seq - bits + 1;
    given_up_ += (bits - set_bits_) + (new_base - (base_ + bits));
    std::fill(ring_.begin(), ring_.end(), 0);
    set_bits_ = 0;
    head_ = 0;
    base_ = new_base;
    return;
  }
  while (seq - base_ >= ring_.size() * 64) {
    const std::size_t bits = ring_.size() * 64;
    if (bits < kMaxWindowBits) {
      // Lay the ring out again from head_, twice as large.
      std::vector<std::uint64_t> bigger(ring_.size() * 2);
      for (std::size_t i = 0; i < bits; ++i) {
        const std::size_t pos = (head_ + i) & (bits - 1);
        if ((ring_[pos / 64] >> (pos % 64) & 1) != 0)
          bigger[i / 64] |= std::uint64_t{1} << (i % 64);
      }
      ring_.swap(bigger);
      head_ = 0;
      continue;
    }
    // Give up the oldest slot: a hole counts as lost.
    if (!test(base_)) ++given_up_;
    clear_front();
  }
}

SequenceTracker::Verdict SequenceTracker::record(std::uint64_t seq) {
  if (seq < base_) {
    ++duplicates_;
    return Verdict::Duplicate;
  }
  if (seq == base_ && top_ == base_) {  // the common case: next in order, nothing pending
    ++base_;
    ++top_;
    ++received_;
    head_ = (head_ + 1) & (ring_.size() * 64 - 1);
    return Verdict::InOrder;
  }
  if (seq - base_ >= ring_.size() * 64) grow_or_slide(seq);
  if (seq >= base_ && test(seq)) {
    ++duplicates_;
    return Verdict::Duplicate;
  }
  ++received_;
  Verdict v = Verdict::InOrder;
  if (seq + 1 < top_) {
    ++out_of_order_;
    v = Verdict::OutOfOrder;
  }
  top_ = std::max(top_, seq + 1);
  set(seq);
  while (base_ < top_ && test(base_))
    clear_front();
  return v;
}

std::uint64_t SequenceTracker::lost() const {
  const std::uint64_t end = std::max(top_, end_known_ ? end_ : 0);
  // Sequences in [base_, end) not seen, plus holes given up.
  return given_up_ + (end - base_) - set_bits_;
}

}  // namespace emqxd::bench
