#include "api/alarms.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>

#include "common/log.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("alarm");
  return l;
}

// "2026-12-04T10:00:00.123+00:00": EMQX's alarm times (RFC 3339, milliseconds).
std::string rfc3339_ms(std::int64_t us) {
  std::time_t s = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03d+00:00", static_cast<int>((us / 1000) % 1000));
  return buf;
}

}  // namespace

json::object alarm_api_json(const Alarm& a, const std::string& node, std::int64_t now_us) {
  const std::int64_t end = a.activated() ? now_us : a.deactivate_at;
  return json::object{{"node", node},
                      {"name", a.name},
                      {"message", a.message},
                      {"details", a.details},
                      {"duration", std::max<std::int64_t>(0, end - a.activate_at) / 1000},
                      {"activate_at", rfc3339_ms(a.activate_at)},
                      {"deactivate_at", a.activated() ? json::value("infinity")
                                                      : json::value(rfc3339_ms(a.deactivate_at))},
                      {"activated", a.activated()}};
}

json::object alarm_sys_json(const Alarm& a) {
  return json::object{
      {"name", a.name},
      {"details", a.details},
      {"message", a.message},
      {"activate_at", a.activate_at},
      {"deactivate_at", a.activated() ? json::value("infinity") : json::value(a.deactivate_at)},
      {"activated", a.activated()}};
}

std::int64_t Alarms::now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool Alarms::activate(const std::string& name, json::object details, std::string message) {
  Alarm a;
  {
    std::lock_guard lock(mutex_);
    for (const auto& x : active_) {
      if (x.name == name) return false;
    }
    a.name = name;
    a.message = message.empty() ? name : std::move(message);
    a.details = std::move(details);
    a.activate_at = now_us();
    active_.push_back(a);
  }
  if (options_.log) logger()->warn("alarm activated: name={} message=\"{}\"", a.name, a.message);
  if (publish_) publish_("alarms/activate", json::serialize(alarm_sys_json(a)));
  return true;
}

bool Alarms::deactivate(const std::string& name) {
  Alarm a;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(active_.begin(), active_.end(),
                           [&](const Alarm& x) { return x.name == name; });
    if (it == active_.end()) return false;
    a = std::move(*it);
    active_.erase(it);
    a.deactivate_at = std::max(now_us(), a.activate_at + 1);
    deactivated_.push_back(a);
    prune_locked(a.deactivate_at);
  }
  if (options_.log) logger()->warn("alarm deactivated: name={}", a.name);
  if (publish_) publish_("alarms/deactivate", json::serialize(alarm_sys_json(a)));
  return true;
}

bool Alarms::is_active(const std::string& name) const {
  std::lock_guard lock(mutex_);
  return std::any_of(active_.begin(), active_.end(),
                     [&](const Alarm& x) { return x.name == name; });
}

std::vector<std::string> Alarms::active_with_prefix(const std::string& prefix) const {
  std::vector<std::string> out;
  std::lock_guard lock(mutex_);
  for (const auto& a : active_) {
    if (a.name.starts_with(prefix)) out.push_back(a.name);
  }
  return out;
}

void Alarms::prune_locked(std::int64_t now) const {
  const std::int64_t keep_from =
      now - std::chrono::duration_cast<std::chrono::microseconds>(options_.validity_period).count();
  while (!deactivated_.empty() && (deactivated_.size() > options_.size_limit ||
                                   deactivated_.front().deactivate_at < keep_from)) {
    deactivated_.pop_front();
  }
}

std::vector<Alarm> Alarms::list(std::optional<bool> activated) const {
  std::vector<Alarm> out;
  std::lock_guard lock(mutex_);
  prune_locked(now_us());
  if (!activated || *activated) out.insert(out.end(), active_.begin(), active_.end());
  if (!activated || !*activated) out.insert(out.end(), deactivated_.rbegin(), deactivated_.rend());
  return out;
}

void Alarms::clear_deactivated() {
  std::lock_guard lock(mutex_);
  deactivated_.clear();
}

}  // namespace emqxd::api
