#pragma once
// LatencyHistogram: a fixed-size, log-linear histogram of nanosecond values, HDR style.
//
// Values below 128 ns get a bucket each; above that every power of two [2^k, 2^(k+1)) is cut
// into 64 equal buckets, so a bucket is never wider than 1/64 (1.6 %) of its values. Values
// up to 2^42 ns (73 minutes) fit in 2368 buckets (19 KB); larger ones land in the last.
// record() is a few instructions and never allocates.
//
// Threads: one writer (the worker that owns it) and any number of readers. The buckets are
// relaxed atomics updated with load+store (no locked instruction: there is one writer), so
// the main thread can snapshot a live histogram for the per-second progress line; a
// snapshot taken during writes is off by the few values in flight, never torn.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace emqxd::bench {

inline constexpr int kHistogramSubBits = 6;  // 64 buckets per power of two
inline constexpr int kHistogramMaxBits = 42;
inline constexpr std::size_t kHistogramBuckets =
    (kHistogramMaxBits - kHistogramSubBits + 1) * (1u << kHistogramSubBits);

std::size_t histogram_bucket(std::uint64_t value);
std::uint64_t histogram_bucket_low(std::size_t bucket);   // smallest value in the bucket
std::uint64_t histogram_bucket_high(std::size_t bucket);  // largest value in the bucket

class HistogramSnapshot;

class LatencyHistogram {
 public:
  // Owner thread only.
  void record(std::uint64_t ns) {
    bump(counts_[histogram_bucket(ns)], 1);
    bump(sum_, ns);
    if (ns > max_.load(std::memory_order_relaxed)) max_.store(ns, std::memory_order_relaxed);
  }

 private:
  friend class HistogramSnapshot;
  static void bump(std::atomic<std::uint64_t>& a, std::uint64_t n) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<std::uint64_t>, kHistogramBuckets> counts_{};
  std::atomic<std::uint64_t> sum_{0};
  std::atomic<std::uint64_t> max_{0};
};

// A plain copy of one or more histograms, for percentiles and differences.
class HistogramSnapshot {
 public:
  void add(const LatencyHistogram& h);
  void add(const HistogramSnapshot& s);
  // this - earlier, bucket by bucket (max stays this snapshot's: a window's max is unknown).
  HistogramSnapshot since(const HistogramSnapshot& earlier) const;

  std::uint64_t count() const { return count_; }
  std::uint64_t max() const { return max_; }
  double mean() const {
    return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
  }
  // The value below which a fraction q (0..1) of the values lie: the midpoint of the bucket
  // holding the ceil(q*count)-th value, clamped to max. 0 when empty.
  std::uint64_t percentile(double q) const;

 private:
  std::array<std::uint64_t, kHistogramBuckets> counts_{};
  std::uint64_t count_ = 0;
  std::uint64_t sum_ = 0;
  std::uint64_t max_ = 0;
};

}  // namespace emqxd::bench
