// Delayed publish on the workers (session/delayed.hpp): a worker keeps what its channels
// delay, worker 0 runs the one timer, and each message is published and its record erased
// by the worker whose batch holds that record.
#include <algorithm>

#include "common/log.hpp"
#include "session/worker_core.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("delayed");
  return l;
}

}  // namespace

bool WorkerCore::delay(DelayedMessage&& m, bool& stored) {
  m.worker = sched_.id();
  storage::Batch* b = store_batch();
  std::string value;
  if (b != nullptr) Delayed::encode(m, b->clocks(), value);
  const std::string id = m.id;
  bool earliest = false;
  if (!node_.delayed.add(std::move(m), earliest)) return false;
  if (b != nullptr) {
    b->put_kv(Delayed::kNamespace, id, value);
    stored = true;
  }
  metrics::inc(metrics_.messages_delayed);
  if (earliest) {
    if (sched_.id() == 0) {
      arm_delayed();
    } else {
      sched_.post(0, [core = node_.cores[0]] { core->arm_delayed(); });
    }
  }
  return true;
}

void WorkerCore::arm_delayed() {
  const auto next = node_.delayed.next_at();
  if (delayed_timer_ && (!next || *next < delayed_timer_at_)) {
    delayed_timer_->cancel();
    delayed_timer_.reset();
  }
  if (!next || delayed_timer_) return;  // nothing kept, or the timer fires first anyway
  const std::int64_t wait = std::max<std::int64_t>(1, *next - mqtt::wall_ms_now());
  delayed_timer_at_ = *next;
  delayed_timer_ = sched_.after(std::chrono::milliseconds(wait), [this] {
    delayed_timer_.reset();
    fire_delayed();
  });
}

void WorkerCore::fire_delayed() {
  auto due = node_.delayed.take_due(mqtt::wall_ms_now());
  for (auto& m : due) {
    const std::uint32_t w = m.worker < sched_.workers() ? m.worker : 0;
    if (w == sched_.id()) {
      publish_delayed(m);
    } else {
      sched_.post(
          w, [core = node_.cores[w], m = std::move(m)]() mutable { core->publish_delayed(m); });
    }
  }
  arm_delayed();
}

void WorkerCore::publish_delayed(DelayedMessage& m) {
  if (node_.banned.banned(m.from_clientid, std::nullopt, {}, mqtt::wall_ms_now() / 1000)) {
    logger()->info("delayed message {} to {} not published: client {} is banned", m.id,
                   m.msg->topic, m.from_clientid);
  } else {
    // Published now: a retained one is newer than what was retained meanwhile.
    auto msg = std::make_shared<mqtt::Message>(*m.msg);
    msg->received_at_ms = mqtt::wall_ms_now();
    publish(msg, m.from_clientid);
  }
  if (auto* b = store_batch()) b->erase_kv(Delayed::kNamespace, m.id);
  sched_.end_of_turn_needed();
}

void WorkerCore::forget_delayed(NodeState& node, const std::vector<DelayedMessage>& gone) {
  if (!node.durable) return;
  for (const auto& m : gone) {
    const std::uint32_t w = m.worker < node.cores.size() ? m.worker : 0;
    WorkerCore* core = node.cores[w];
    core->scheduler().post(w, [core, id = m.id] {
      if (auto* b = core->store_batch()) b->erase_kv(Delayed::kNamespace, id);
    });
  }
}

}  // namespace emqxd::session
