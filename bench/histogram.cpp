#include "histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace emqxd::bench {
namespace {
constexpr std::uint64_t kSubCount = 1u << kHistogramSubBits;  // 64
constexpr std::uint64_t kLinearLimit = kSubCount * 2;         // 128: exact below this
}  // namespace

std::size_t histogram_bucket(std::uint64_t value) {
  if (value < kLinearLimit) return static_cast<std::size_t>(value);
  const int msb = 63 - std::countl_zero(value);
  if (msb >= kHistogramMaxBits) return kHistogramBuckets - 1;
  const int shift = msb - kHistogramSubBits;  // >= 1
  // value >> shift is in [64, 128): the position inside the power of two.
  return static_cast<std::size_t>((shift + 1) * kSubCount + ((value >> shift) - kSubCount));
}

std::uint64_t histogram_bucket_low(std::size_t bucket) {
  if (bucket < kLinearLimit) return bucket;
  const std::uint64_t shift = bucket / kSubCount - 1;
  return (kSubCount + bucket % kSubCount) << shift;
}

std::uint64_t histogram_bucket_high(std::size_t bucket) {
  if (bucket < kLinearLimit) return bucket;
  const std::uint64_t shift = bucket / kSubCount - 1;
  return histogram_bucket_low(bucket) + (std::uint64_t{1} << shift) - 1;
}

void HistogramSnapshot::add(const LatencyHistogram& h) {
  for (std::size_t i = 0; i < kHistogramBuckets; ++i) {
    const auto n = h.counts_[i].load(std::memory_order_relaxed);
    counts_[i] += n;
    count_ += n;
  }
  sum_ += h.sum_.load(std::memory_order_relaxed);
  max_ = std::max(max_, h.max_.load(std::memory_order_relaxed));
}

void HistogramSnapshot::add(const HistogramSnapshot& s) {
  for (std::size_t i = 0; i < kHistogramBuckets; ++i)
    counts_[i] += s.counts_[i];
  count_ += s.count_;
  sum_ += s.sum_;
  max_ = std::max(max_, s.max_);
}

HistogramSnapshot HistogramSnapshot::since(const HistogramSnapshot& earlier) const {
  HistogramSnapshot d;
  for (std::size_t i = 0; i < kHistogramBuckets; ++i) {
    d.counts_[i] = counts_[i] >= earlier.counts_[i] ? counts_[i] - earlier.counts_[i] : 0;
    d.count_ += d.counts_[i];
  }
  d.sum_ = sum_ >= earlier.sum_ ? sum_ - earlier.sum_ : 0;
  d.max_ = max_;
  if (d.count_ > 0) {  // the window's max is at most the top non-empty bucket's bound
    for (std::size_t i = kHistogramBuckets; i-- > 0;) {
      if (d.counts_[i] != 0) {
        d.max_ = std::min(max_, histogram_bucket_high(i));
        break;
      }
    }
  }
  return d;
}

std::uint64_t HistogramSnapshot::percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kHistogramBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t mid =
          histogram_bucket_low(i) + (histogram_bucket_high(i) - histogram_bucket_low(i)) / 2;
      return std::min(mid, max_);
    }
  }
  return max_;
}

}  // namespace emqxd::bench
