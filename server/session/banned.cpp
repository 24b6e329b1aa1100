#include "session/banned.hpp"

#include <algorithm>

namespace emqxd::session {

void Banned::ban(Kind kind, std::string value, std::int64_t until_ms) {
  std::lock_guard lock(mutex_);
  if (until_.size() >= kMaxEntries && until_.find(Key{kind, value}) == until_.end()) {
    // Full: the ban that ends first makes room.
    auto first = std::min_element(until_.begin(), until_.end(),
                                  [](const auto& a, const auto& b) { return a.second < b.second; });
    until_.erase(first);
  }
  until_[Key{kind, std::move(value)}] = until_ms;
  count_.store(until_.size(), std::memory_order_relaxed);
}

bool Banned::hit(Kind kind, std::string_view value, std::int64_t now_ms) {
  auto it = until_.find(Key{kind, std::string(value)});
  if (it == until_.end()) return false;
  if (it->second > now_ms) return true;
  until_.erase(it);  // served its time
  return false;
}

bool Banned::banned(std::string_view client_id, const std::optional<std::string>& username,
                    std::string_view peerhost, std::int64_t now_ms) {
  if (count_.load(std::memory_order_relaxed) == 0) return false;
  std::lock_guard lock(mutex_);
  const bool b = hit(Kind::ClientId, client_id, now_ms) ||
                 (username && hit(Kind::Username, *username, now_ms)) ||
                 hit(Kind::PeerHost, peerhost, now_ms);
  count_.store(until_.size(), std::memory_order_relaxed);
  return b;
}

std::size_t Banned::size() const {
  std::lock_guard lock(mutex_);
  return until_.size();
}

bool Flapping::ended(const std::string& client_id, std::int64_t now_ms) {
  if (!cfg_.enable) return false;
  const std::int64_t window = cfg_.window_time.count();
  std::lock_guard lock(mutex_);
  if (windows_.size() >= kMaxEntries && windows_.find(client_id) == windows_.end()) {
    std::erase_if(windows_, [&](const auto& kv) { return now_ms - kv.second.started_ms > window; });
    if (windows_.size() >= kMaxEntries) return false;  // every slot is busy: not counted
  }
  Window& w = windows_[client_id];
  if (w.count == 0 || now_ms - w.started_ms > window) {
    w.started_ms = now_ms;
    w.count = 0;
  }
  if (++w.count < cfg_.max_count) return false;  // the max_count-th end bans, as EMQX
  windows_.erase(client_id);                     // banned: counting starts over after the ban
  return true;
}

}  // namespace emqxd::session
