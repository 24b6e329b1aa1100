#include "session/delayed.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <random>

#include "storage/encoding.hpp"

namespace emqxd::session {

namespace enc = storage::encoding;

std::vector<DelayedMessage> Delayed::set(bool enable, std::uint32_t max_messages) {
  max_.store(max_messages, std::memory_order_relaxed);
  enable_.store(enable, std::memory_order_relaxed);
  std::vector<DelayedMessage> dropped;
  if (enable) return dropped;
  std::lock_guard lock(mutex_);
  for (auto& [key, m] : by_time_)
    dropped.push_back(std::move(m));
  by_time_.clear();
  at_of_.clear();
  return dropped;
}

bool Delayed::parse(std::string_view topic, std::int64_t now_ms, std::int64_t& at_ms,
                    std::int64_t& interval, std::string_view& real_topic) {
  std::string_view rest = topic.substr(kPrefix.size());
  const auto slash = rest.find('/');
  if (slash == std::string_view::npos || slash + 1 == rest.size()) return false;
  std::string_view n = rest.substr(0, slash);
  real_topic = rest.substr(slash + 1);
  if (!n.empty() && n.front() == '+') n.remove_prefix(1);  // Erlang's binary_to_integer
  if (n.empty() || n.size() > 18 || n.front() == '+') return false;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), v);
  if (ec != std::errc() || end != n.data() + n.size()) return false;
  if (v < kMaxInterval) {
    // A negative delay is a time past: it fires at once. (Bounded, so that 18 digits do not
    // overflow the arithmetic.)
    interval = v;
    at_ms = now_ms + std::max<std::int64_t>(v, -kMaxInterval) * 1000;
    return true;
  }
  // A Unix time in seconds, at most kMaxInterval away.
  interval = v - (now_ms + 500) / 1000;
  if (interval > kMaxInterval) return false;
  at_ms = v * 1000;
  return true;
}

bool Delayed::add(DelayedMessage m, bool& earliest, bool restored) {
  std::lock_guard lock(mutex_);
  const auto max = max_.load(std::memory_order_relaxed);
  if (!restored && max != 0 && by_time_.size() >= max) return false;
  earliest = by_time_.empty() || m.at_ms < by_time_.begin()->first.first;
  at_of_[m.id] = m.at_ms;
  Key key{m.at_ms, m.id};
  by_time_.emplace(std::move(key), std::move(m));
  return true;
}

std::vector<DelayedMessage> Delayed::take_due(std::int64_t now_ms) {
  std::vector<DelayedMessage> due;
  std::lock_guard lock(mutex_);
  while (!by_time_.empty() && by_time_.begin()->first.first <= now_ms) {
    auto node = by_time_.extract(by_time_.begin());
    at_of_.erase(node.mapped().id);
    due.push_back(std::move(node.mapped()));
  }
  return due;
}

std::optional<std::int64_t> Delayed::next_at() const {
  std::lock_guard lock(mutex_);
  if (by_time_.empty()) return std::nullopt;
  return by_time_.begin()->first.first;
}

std::optional<DelayedMessage> Delayed::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto at = at_of_.find(id);
  if (at == at_of_.end()) return std::nullopt;
  return by_time_.at(Key{at->second, id});
}

std::optional<DelayedMessage> Delayed::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  auto at = at_of_.find(id);
  if (at == at_of_.end()) return std::nullopt;
  auto node = by_time_.extract(Key{at->second, id});
  at_of_.erase(at);
  return std::move(node.mapped());
}

std::vector<DelayedMessage> Delayed::erase_topic(std::string_view topic) {
  std::vector<DelayedMessage> out;
  std::lock_guard lock(mutex_);
  for (auto it = by_time_.begin(); it != by_time_.end();) {
    if (it->second.msg->topic == topic) {
      at_of_.erase(it->second.id);
      out.push_back(std::move(it->second));
      it = by_time_.erase(it);
    } else {
      ++it;
    }
  }
  return out;
}

std::vector<DelayedMessage> Delayed::list(std::size_t offset, std::size_t limit,
                                          std::size_t& count) const {
  std::vector<DelayedMessage> out;
  std::lock_guard lock(mutex_);
  count = by_time_.size();
  std::size_t i = 0;
  for (const auto& [key, m] : by_time_) {
    if (out.size() >= limit) break;
    if (i++ >= offset) out.push_back(m);
  }
  return out;
}

std::size_t Delayed::size() const {
  std::lock_guard lock(mutex_);
  return by_time_.size();
}

std::string Delayed::new_id() {
  // Time-ordered, as EMQX's ids (emqx_guid): a process-wide sequence started at the wall
  // clock's microseconds, then 64 random bits. Messages due in the same millisecond so
  // list (and fire) in the order they were published.
  static std::atomic<std::uint64_t> sequence{
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count())};
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string id;
  for (std::uint64_t v : {sequence.fetch_add(1, std::memory_order_relaxed), rng()}) {
    for (int shift = 60; shift >= 0; shift -= 4)
      id.push_back(kHex[(v >> shift) & 0xF]);
  }
  return id;
}

// Layout: version, at_ms (be64), interval (be64, two's complement), client id (be16
// length + bytes), username (0, or 1 + be16 length + bytes), then the message as
// encode_message writes it.
void Delayed::encode(const DelayedMessage& m, const storage::ClockPair& now, std::string& out) {
  out.push_back(static_cast<char>(enc::kVersion));
  enc::put_be64(out, static_cast<std::uint64_t>(m.at_ms));
  enc::put_be64(out, static_cast<std::uint64_t>(m.interval));
  enc::put_be16(out, static_cast<std::uint16_t>(m.from_clientid.size()));
  out += m.from_clientid;
  if (m.from_username) {
    out.push_back(1);
    enc::put_be16(out, static_cast<std::uint16_t>(m.from_username->size()));
    out += *m.from_username;
  } else {
    out.push_back(0);
  }
  enc::encode_message(*m.msg, now, out);
}

std::optional<DelayedMessage> Delayed::decode(std::string_view id, std::string_view in,
                                              const storage::ClockPair& now) {
  DelayedMessage m;
  m.id.assign(id);
  if (in.size() < 1 + 8 + 8 + 2 || static_cast<std::uint8_t>(in[0]) != enc::kVersion) {
    return std::nullopt;
  }
  in.remove_prefix(1);
  m.at_ms = static_cast<std::int64_t>(enc::get_be64(in));
  in.remove_prefix(8);
  m.interval = static_cast<std::int64_t>(enc::get_be64(in));
  in.remove_prefix(8);
  std::size_t n = enc::get_be16(in);
  in.remove_prefix(2);
  if (in.size() < n + 1) return std::nullopt;
  m.from_clientid.assign(in.substr(0, n));
  in.remove_prefix(n);
  const bool has_user = in[0] == 1;
  in.remove_prefix(1);
  if (has_user) {
    if (in.size() < 2) return std::nullopt;
    n = enc::get_be16(in);
    in.remove_prefix(2);
    if (in.size() < n) return std::nullopt;
    m.from_username.emplace(in.substr(0, n));
    in.remove_prefix(n);
  }
  mqtt::MessagePtr msg;
  if (!enc::decode_message(in, now, msg).ok() || !msg) return std::nullopt;
  m.msg = std::move(msg);
  return m;
}

}  // namespace emqxd::session
