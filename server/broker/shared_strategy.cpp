#include "broker/shared_strategy.hpp"

#include <array>
#include <atomic>
#include <chrono>
#include <utility>

namespace emqxd::broker {

namespace {

constexpr std::array<std::pair<std::string_view, SharedStrategy>, 7> kNames{{
    {"random", SharedStrategy::Random},
    {"round_robin", SharedStrategy::RoundRobin},
    {"round_robin_per_group", SharedStrategy::RoundRobinPerGroup},
    {"sticky", SharedStrategy::Sticky},
    {"local", SharedStrategy::Local},
    {"hash_topic", SharedStrategy::HashTopic},
    {"hash_clientid", SharedStrategy::HashClientId},
}};

// SplitMix64's output function: a good 64-bit mixer, also the PRNG step below.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a: stable across processes and platforms (std::hash is not), mixed so that the low
// bits used by `% n` depend on every byte.
std::uint64_t stable_hash(std::string_view key) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : key) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

std::uint64_t fresh_seed() {
  static std::atomic<std::uint64_t> counter{0};
  const auto now =
      static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  return mix64(now ^ mix64(counter.fetch_add(1, std::memory_order_relaxed)));
}

// The j-th index in [0, n) that passes `ok`.
template <class Pred>
std::optional<std::size_t> nth_passing(std::size_t n, std::size_t j, const Pred& ok) {
  for (std::size_t i = 0; i < n; ++i) {
    if (ok(i) && j-- == 0) return i;
  }
  return std::nullopt;
}

template <class Pred>
std::size_t count_passing(std::size_t n, const Pred& ok) {
  std::size_t k = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (ok(i)) ++k;
  }
  return k;
}

}  // namespace

std::optional<SharedStrategy> parse_shared_strategy(std::string_view name) {
  for (const auto& [text, strategy] : kNames) {
    if (text == name) return strategy;
  }
  return std::nullopt;
}

std::string_view to_string(SharedStrategy strategy) {
  for (const auto& [text, s] : kNames) {
    if (s == strategy) return text;
  }
  return "unknown";
}

SharedPicker::SharedPicker(SharedStrategy strategy) : SharedPicker(strategy, fresh_seed()) {}

SharedPicker::SharedPicker(SharedStrategy strategy, std::uint64_t seed)
    : strategy_(strategy), rng_state_(seed) {}

std::optional<std::size_t> SharedPicker::pick(std::size_t n, const PickInput& in) {
  if (n == 0) return std::nullopt;
  switch (strategy_) {
    case SharedStrategy::Random:
      return pick_random(n, in.available);
    case SharedStrategy::RoundRobin:
    case SharedStrategy::RoundRobinPerGroup:
      return pick_round_robin(n, in.available);
    case SharedStrategy::Sticky:
      return pick_sticky(n, in.available);
    case SharedStrategy::Local:
      return pick_local(n, in);
    case SharedStrategy::HashTopic:
      return pick_hash(n, in.topic, in.available);
    case SharedStrategy::HashClientId:
      return pick_hash(n, in.client_id, in.available);
  }
  return std::nullopt;
}

void SharedPicker::member_inserted(std::size_t index) {
  // Members at or after `index` moved up by one; the cursor and the sticky member follow
  // them, so a member inserted right at the cursor is the next one served.
  if (cursor_ > index) ++cursor_;
  if (sticky_ && *sticky_ >= index) ++*sticky_;
}

void SharedPicker::member_removed(std::size_t index) {
  // If the removed member was next in turn, the member after it (now at `index`) is next:
  // the cycle goes on where it was, which keeps the others' counts within one of each other.
  if (cursor_ > index) --cursor_;
  if (sticky_) {
    if (*sticky_ == index) {
      sticky_.reset();
    } else if (*sticky_ > index) {
      --*sticky_;
    }
  }
}

void SharedPicker::reset() {
  cursor_ = 0;
  sticky_.reset();
}

std::uint64_t SharedPicker::next_random() {
  rng_state_ += 0x9e3779b97f4a7c15ULL;  // SplitMix64
  return mix64(rng_state_);
}

template <class Pred>
std::optional<std::size_t> SharedPicker::pick_random(std::size_t n, const Pred& ok) {
  // One probe, then a uniform choice among the passing members. Still uniform overall: a
  // passing member i is chosen with probability 1/n + (n-k)/n * 1/k = 1/k.
  // The modulo bias of a 64-bit draw over n members is below n / 2^64: negligible.
  auto first = static_cast<std::size_t>(next_random() % n);
  if (ok(first)) return first;
  const std::size_t k = count_passing(n, ok);
  if (k == 0) return std::nullopt;
  return nth_passing(n, static_cast<std::size_t>(next_random() % k), ok);
}

std::optional<std::size_t> SharedPicker::pick_round_robin(std::size_t n,
                                                          const MemberMask& available) {
  // The first available member from the cursor on; the cursor moves just past it. An
  // unavailable member loses its turn, it is not owed one later.
  const std::size_t start = cursor_ % n;
  for (std::size_t step = 0; step < n; ++step) {
    std::size_t i = start + step;
    if (i >= n) i -= n;
    if (available(i)) {
      cursor_ = i + 1 == n ? 0 : i + 1;
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> SharedPicker::pick_sticky(std::size_t n, const MemberMask& available) {
  if (sticky_ && *sticky_ < n && available(*sticky_)) return sticky_;
  auto chosen = pick_random(n, available);
  // With nobody available, keep the old choice: it is served again if it comes back first.
  if (chosen) sticky_ = chosen;
  return chosen;
}

std::optional<std::size_t> SharedPicker::pick_local(std::size_t n, const PickInput& in) {
  if (!in.is_local.all()) {
    auto local_and_available = [&](std::size_t i) { return in.is_local(i) && in.available(i); };
    if (auto chosen = pick_random(n, local_and_available)) return chosen;
  }
  return pick_random(n, in.available);
}

std::optional<std::size_t> SharedPicker::pick_hash(std::size_t n, std::string_view key,
                                                   const MemberMask& available) {
  const std::uint64_t h = stable_hash(key);
  const auto first = static_cast<std::size_t>(h % n);
  if (available(first)) return first;
  // The hashed member is skipped: a second, still deterministic, choice spread evenly over
  // the available members (a linear probe would pile its load onto its neighbour).
  const std::size_t k = count_passing(n, available);
  if (k == 0) return std::nullopt;
  return nth_passing(n, static_cast<std::size_t>(mix64(h) % k), available);
}

}  // namespace emqxd::broker
