#include "app/sysmon.hpp"

#include <fmt/format.h>

#include <boost/json.hpp>
#include <chrono>
#include <set>

#include "api/alarms.hpp"
#include "api/control.hpp"
#include "common/proc_stats.hpp"
#include "net/listener.hpp"
#include "net/node_counters.hpp"
#include "session/node_state.hpp"
#include "storage/store.hpp"

namespace emqxd::app {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kTick{1};

double round2(double v) {
  return static_cast<double>(static_cast<long long>(v * 100 + 0.5)) / 100;
}

}  // namespace

SysMon::SysMon(session::NodeState& node, api::Alarms& alarms, net::StatPeaks& peaks,
               api::ClusterControl& cluster,
               const std::vector<std::unique_ptr<net::Listener>>& listeners)
    : node_(node), alarms_(alarms), peaks_(peaks), cluster_(cluster), listeners_(listeners) {}

SysMon::~SysMon() {
  stop();
}

void SysMon::start() {
  thread_ = std::thread([this] { run(); });
}

void SysMon::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void SysMon::run() {
  using Clock = std::chrono::steady_clock;
  const auto mem_every = node_.config.sysmon.mem_check_interval;
  // As EMQX's os_mon: the first check one interval after start.
  auto next_mem = Clock::now() + mem_every;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    net::node_stats(node_, &peaks_);
    node_.topic_metrics.tick();
    node_.rules.tick();
    if (node_.integrations) node_.integrations->tick();
    if (mem_every.count() > 0 && Clock::now() >= next_mem) {
      check_memory();
      next_mem = Clock::now() + mem_every;
    }
    check_listeners();
    check_storage();
    check_cluster();
    lock.lock();
    wake_.wait_for(lock, kTick, [this] { return stopping_; });
  }
}

void SysMon::check_memory() {
  const auto& s = node_.config.sysmon;
  auto mem = proc::system_memory();
  if (!mem || mem->total == 0) return;
  const double sys = static_cast<double>(mem->used()) / static_cast<double>(mem->total);
  const double sys_hw = s.sysmem_high_watermark * 100;
  if (sys > s.sysmem_high_watermark) {
    alarms_.activate("high_system_memory_usage",
                     json::object{{"high_watermark", round2(sys_hw)}, {"usage", round2(sys * 100)}},
                     fmt::format("System memory usage is higher than {}%", round2(sys_hw)));
  } else {
    alarms_.deactivate("high_system_memory_usage");
  }
  auto rss = proc::resident_bytes();
  if (!rss) return;
  const double own = static_cast<double>(*rss) / static_cast<double>(mem->total);
  const double own_hw = s.procmem_high_watermark * 100;
  if (own > s.procmem_high_watermark) {
    alarms_.activate("high_process_memory_usage",
                     json::object{{"high_watermark", round2(own_hw)}, {"usage", round2(own * 100)}},
                     fmt::format("Process memory usage is higher than {}%", round2(own_hw)));
  } else {
    alarms_.deactivate("high_process_memory_usage");
  }
}

void SysMon::check_listeners() {
  for (const auto& l : listeners_) {
    const std::string name = "listener_connections_high/" + l->name();
    const auto max = l->max_connections();
    const auto now = l->connections();
    if (max == 0) continue;
    const double share = static_cast<double>(now) / static_cast<double>(max);
    if (share >= kRaiseShare) {
      alarms_.activate(
          name,
          json::object{{"listener", l->name()}, {"connections", now}, {"max_connections", max}},
          fmt::format("listener {} has {} connections of its max_connections {}", l->name(), now,
                      max));
    } else if (share < kClearShare) {
      alarms_.deactivate(name);
    }
  }
}

void SysMon::check_storage() {
  if (!node_.store) return;
  const auto h = node_.store->health();
  if (h == storage::Health::Ok) {
    alarms_.deactivate("durable_storage_error");
    return;
  }
  const std::string dir = node_.config.node.data_dir + "/rocksdb";
  alarms_.activate(
      "durable_storage_error",
      json::object{{"path", dir},
                   {"health", h == storage::Health::NoSpace ? "no_space" : "failed"}},
      h == storage::Health::NoSpace
          ? "durable storage " + dir +
                ": the disk is full; messages that must be stored are refused"
          : "durable storage " + dir + ": writes fail; messages that must be stored are refused");
}

void SysMon::check_cluster() {
  const std::string prefix = "cluster_node_down/";
  std::set<std::string> down;
  for (const auto& m : cluster_.status().members) {
    if (m.self || m.state != "dead") continue;
    down.insert(m.node);
    alarms_.activate(prefix + m.node, json::object{{"node", m.node}, {"address", m.address}},
                     "cluster member " + m.node + " is down");
  }
  for (const auto& name : alarms_.active_with_prefix(prefix)) {
    if (!down.contains(name.substr(prefix.size()))) alarms_.deactivate(name);
  }
}

}  // namespace emqxd::app
