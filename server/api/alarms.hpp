#pragma once
// Alarms: the node's list of conditions an operator should look at, as EMQX keeps them
// (emqx_alarm). An alarm has a unique name ("high_system_memory_usage",
// "cluster_node_down/n2@10.0.0.2"), a message and details; it is activated once and stays
// so until deactivated, then is kept among the deactivated ones (at most
// alarm.size_limit, for alarm.validity_period) for GET /api/v5/alarms?activated=false
// until DELETE /api/v5/alarms clears them.
//
// Who raises what: app/sysmon.hpp checks the conditions and calls activate() and
// deactivate(); each change is logged (alarm.actions "log") and handed to the publish hook
// (alarm.actions "publish": $SYS/brokers/<node>/alarms/activate|deactivate, EMQX's JSON).
// Alarms are per node and kept in memory: a restart starts with none, as EMQX deactivates
// every alarm at boot. list() is this node's part of the cluster-wide list.
//
// Threads: every method may be called from any thread (one mutex); the publish hook runs
// on the caller's thread, outside the lock.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace emqxd::api {

struct Alarm {
  std::string name;
  std::string message;
  boost::json::object details;
  std::int64_t activate_at = 0;    // microseconds since the epoch
  std::int64_t deactivate_at = 0;  // idem; 0 while activated
  bool activated() const { return deactivate_at == 0; }
};

// An alarm as GET /api/v5/alarms lists it (EMQX's fields): node, name, message, details,
// duration (ms: until now, or until deactivated), activate_at and deactivate_at (RFC 3339
// with milliseconds; "infinity" while activated), activated. `now_us`: the current time.
boost::json::object alarm_api_json(const Alarm& a, const std::string& node, std::int64_t now_us);
// An alarm as $SYS/brokers/<node>/alarms/activate|deactivate carries it (EMQX's
// normalize/1): name, details, message, activate_at and deactivate_at in microseconds
// (deactivate_at "infinity" while activated), activated.
boost::json::object alarm_sys_json(const Alarm& a);

class Alarms {
 public:
  struct Options {
    bool log = true;
    std::uint32_t size_limit = 1000;
    std::chrono::milliseconds validity_period = std::chrono::hours(24);
  };
  // (topic under $SYS/brokers/<node>/: "alarms/activate" or "alarms/deactivate", payload)
  using Publish = std::function<void(const std::string& sub_topic, std::string payload)>;

  explicit Alarms(Options options) : options_(options) {}

  // Set before the first activate(); none: nothing is published.
  void set_publish(Publish publish) { publish_ = std::move(publish); }

  // Activates `name`; false (and nothing changes) when it is active already.
  bool activate(const std::string& name, boost::json::object details, std::string message);
  // Deactivates `name`, keeping its last details and message; false when it is not active.
  bool deactivate(const std::string& name);
  bool is_active(const std::string& name) const;
  // The names of the active alarms that start with `prefix`.
  std::vector<std::string> active_with_prefix(const std::string& prefix) const;

  // nullopt: all (active first); true: active; false: deactivated (newest first).
  std::vector<Alarm> list(std::optional<bool> activated) const;
  // DELETE /api/v5/alarms: forgets the deactivated alarms.
  void clear_deactivated();

  // The time as alarms record it (microseconds since the epoch).
  static std::int64_t now_us();

 private:
  void prune_locked(std::int64_t now) const;

  const Options options_;
  Publish publish_;
  mutable std::mutex mutex_;
  std::vector<Alarm> active_;  // guarded by mutex_; in activation order
  // guarded by mutex_; oldest first; mutable: reading forgets the expired ones
  mutable std::deque<Alarm> deactivated_;
};

}  // namespace emqxd::api
