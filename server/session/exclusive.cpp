// Exclusive subscriptions' claims (exclusive.hpp).
#include "session/exclusive.hpp"

namespace emqxd::session {

std::string_view exclusive_filter(std::string_view topic) {
  if (!topic.starts_with(kExclusivePrefix)) return {};
  return topic.substr(kExclusivePrefix.size());
}

ClaimAnswer ExclusiveClaims::claim(const std::string& filter, const std::string& client_id,
                                   const std::string& node,
                                   const std::function<bool(const std::string&)>& live) {
  std::lock_guard lock(mutex_);
  auto it = table_.find(filter);
  if (it != table_.end() && it->second.client_id != client_id && live(it->second.node)) {
    return ClaimAnswer::Taken;
  }
  table_[filter] = Holder{client_id, node};
  return ClaimAnswer::Granted;
}

void ExclusiveClaims::release(const std::string& filter, const std::string& client_id) {
  std::lock_guard lock(mutex_);
  auto it = table_.find(filter);
  if (it != table_.end() && it->second.client_id == client_id) table_.erase(it);
}

void ExclusiveClaims::forget_unless(
    const std::function<bool(const std::string&, const std::string&)>& keep) {
  std::lock_guard lock(mutex_);
  for (auto it = table_.begin(); it != table_.end();) {
    if (keep(it->first, it->second.node)) {
      ++it;
    } else {
      it = table_.erase(it);
    }
  }
}

void ExclusiveClaims::hold(const std::string& filter, const std::string& client_id) {
  std::lock_guard lock(mutex_);
  mine_[filter] = client_id;
}

bool ExclusiveClaims::drop(const std::string& filter, const std::string& client_id) {
  std::lock_guard lock(mutex_);
  auto it = mine_.find(filter);
  if (it == mine_.end() || it->second != client_id) return false;
  mine_.erase(it);
  return true;
}

std::vector<std::pair<std::string, std::string>> ExclusiveClaims::held() const {
  std::lock_guard lock(mutex_);
  return {mine_.begin(), mine_.end()};
}

std::size_t ExclusiveClaims::size() const {
  std::lock_guard lock(mutex_);
  return table_.size();
}

}  // namespace emqxd::session
