#include "cluster/peer_link.hpp"

#include <chrono>
#include <system_error>

#include "cluster/cluster.hpp"
#include "common/log.hpp"

namespace emqxd::cluster {

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("cluster");
  return l;
}
constexpr std::size_t kSnapshotChunk = 1000;    // routes per snapshot message at most
constexpr std::size_t kChunkBytes = 512 << 10;  // and route bytes (a filter is < 64 KiB)

std::size_t route_bytes(const broker::Route& r) {
  return r.filter.size() + r.group.size() + 16;
}

std::size_t table_bytes(const tables::Entry& e) {
  return e.table.size() + e.key.size() + e.value.size() + e.origin.size() + 32;
}

// An upper bound of a forwarded message's size on the wire, give or take its framing.
std::size_t item_bytes(const broker::ForwardItem& x) {
  std::size_t n = 128;
  if (const auto& m = x.msg) {
    n += m->topic.size() + m->payload.size();
    if (const auto& e = m->extra) {
      n += e->content_type.value_or("").size() + e->response_topic.value_or("").size() +
           e->correlation_data.value_or("").size();
      for (const auto& [k, v] : e->user_properties)
        n += k.size() + v.size() + 8;
    }
  }
  for (const auto& s : x.shares)
    n += s->size() + 8;
  if (x.to_session) n += x.to_session->client_id.size() + 8 * x.to_session->subscription_ids.size();
  return n;
}
}  // namespace

PeerLink::PeerLink(Cluster& cluster, broker::NodeIndex index, NodeAddress to, bool backpressure)
    : cluster_(cluster),
      index_(index),
      to_(std::move(to)),
      backpressure_(backpressure),
      pressure_(std::make_shared<broker::Pressure>(kHighWatermark, kHighWatermark / 2)) {}

PeerLink::~PeerLink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    if (writer_ != nullptr) writer_->cancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool PeerLink::start() {
  try {
    thread_ = std::thread([this] { run(); });
    return true;
  } catch (const std::system_error& e) {  // out of threads: runs on the cluster thread
    logger()->error("link to {} not started: no thread ({}); its forwards are dropped",
                    to_.to_string(), e.what());
    return false;
  }
}

std::size_t PeerLink::push(std::vector<broker::ForwardItem>&& items) {
  std::size_t n = items.size();
  std::size_t bytes = 0;
  for (const auto& x : items)
    bytes += item_bytes(x);
  {
    std::lock_guard lock(mutex_);
    if (queued_messages_ + n > kMaxQueued || queued_bytes_ + bytes > kMaxQueuedBytes) {
      dropped_.fetch_add(n, std::memory_order_relaxed);
      return n;
    }
    queued_messages_ += n;
    queued_bytes_ += bytes;
    queue_.emplace_back(std::move(items));
  }
  pressure_->queued.fetch_add(static_cast<std::int64_t>(n), std::memory_order_relaxed);
  cv_.notify_one();
  return 0;
}

void PeerLink::push_delta(bool add, broker::Route route) {
  {
    std::lock_guard lock(mutex_);
    queue_.emplace_back(rpc::LinkDelta{add, std::move(route)});
  }
  cv_.notify_one();
}

void PeerLink::push_tables(const std::vector<tables::Entry>& entries) {
  {
    std::lock_guard lock(mutex_);
    if (!connected_.load(std::memory_order_relaxed) &&
        queued_tables_ + entries.size() > kMaxQueuedTables) {
      return;  // the next stream's first tables carry them
    }
    queued_tables_ += entries.size();
    queue_.emplace_back(entries);
  }
  cv_.notify_one();
}

std::size_t PeerLink::queued() {
  std::lock_guard lock(mutex_);
  return queued_messages_ + queue_.size();
}

void PeerLink::drop_deltas() {
  std::lock_guard lock(mutex_);
  std::erase_if(queue_, [](const Op& op) { return std::holds_alternative<rpc::LinkDelta>(op); });
}

void PeerLink::run() {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    if (!stream_once()) return;
    connected_.store(false, std::memory_order_relaxed);
    pressure_->online.store(false, std::memory_order_relaxed);  // holds nobody while down
    std::unique_lock lock(mutex_);
    if (cv_.wait_for(lock, backoff, [&] { return stopping_; })) return;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
}

PeerLink::Wait PeerLink::wait_queue(std::deque<Op>& out) {
  std::unique_lock lock(mutex_);
  if (!cv_.wait_for(lock, kHeartbeat, [&] { return stopping_ || !queue_.empty(); })) {
    return Wait::Idle;
  }
  if (stopping_) return Wait::Stop;
  out.swap(queue_);
  queued_messages_ = 0;
  queued_bytes_ = 0;
  queued_tables_ = 0;
  return Wait::Work;
}

bool PeerLink::write_tables(rpc::LinkWriter& w, const std::vector<tables::Entry>& entries) {
  std::size_t next = 0;
  while (next < entries.size()) {
    rpc::LinkTables chunk;
    std::size_t bytes = 0;
    while (next < entries.size() && chunk.size() < kSnapshotChunk &&
           (chunk.empty() || bytes + table_bytes(entries[next]) <= kChunkBytes)) {
      bytes += table_bytes(entries[next]);
      chunk.push_back(entries[next++]);
    }
    if (!w.write(chunk)) return false;
  }
  return true;
}

bool PeerLink::stream_once() {
  std::unique_ptr<rpc::LinkWriter> w = cluster_.transport_.open_link(to_);
  if (!w) return true;  // no channel (logged by the transport): again after the backoff
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
    writer_ = w.get();
  }
  struct Forget {
    PeerLink& l;
    ~Forget() {
      std::lock_guard lock(l.mutex_);
      l.writer_ = nullptr;
    }
  } forget{*this};

  if (!w->write(rpc::LinkHello{cluster_.options_.cluster_name, cluster_.self_,
                               cluster_.membership_incarnation_.load(), ++stream_}) ||
      !w->accepted()) {
    return true;  // not a member there yet (or not reachable): again shortly
  }
  // The snapshot first (queued deltas are in it), then the retained messages.
  std::vector<broker::Route> routes = cluster_.snapshot_for(*this);
  std::size_t next = 0;
  do {
    rpc::LinkSnapshot s;
    std::size_t bytes = 0;
    while (next < routes.size() && s.routes.size() < kSnapshotChunk &&
           (s.routes.empty() || bytes + route_bytes(routes[next]) <= kChunkBytes)) {
      bytes += route_bytes(routes[next]);
      s.routes.push_back(routes[next++]);
    }
    s.last = next == routes.size();
    if (!w->write(s)) return true;
  } while (next < routes.size());
  std::vector<mqtt::MessagePtr> retained;
  if (cluster_.hooks_.retained) cluster_.hooks_.retained(retained);
  std::vector<broker::ForwardItem> batch;
  std::size_t batch_bytes = 0;
  for (std::size_t r = 0; r < retained.size(); ++r) {
    broker::ForwardItem item{retained[r], false, {}, true, {}};
    const std::size_t b = item_bytes(item);
    if (!batch.empty() && (batch.size() == kBatch || batch_bytes + b > kBatchBytes)) {
      if (!w->write(batch)) return true;
      batch.clear();
      batch_bytes = 0;
    }
    batch.push_back(std::move(item));
    batch_bytes += b;
  }
  if (!batch.empty()) {
    if (!w->write(batch)) return true;
    batch.clear();
  }
  std::size_t table_entries = 0;
  if (auto* tables = cluster_.hooks_.tables) {
    std::vector<tables::Entry> all;
    tables->snapshot(all);
    table_entries = all.size();
    if (!write_tables(*w, all)) return true;
  }
  connected_.store(true, std::memory_order_relaxed);
  pressure_->note_progress(broker::Pressure::Clock::now());
  pressure_->online.store(backpressure_, std::memory_order_relaxed);
  logger()->info("link to {} up (stream {}, {} routes, {} retained, {} table entries)",
                 to_.to_string(), stream_, routes.size(), retained.size(), table_entries);

  std::deque<Op> ops;
  for (;;) {
    auto wait = wait_queue(ops);
    if (wait == Wait::Stop) return false;
    if (wait == Wait::Idle) {
      // A stream the peer has closed fails the next write: an idle one finds out here.
      if (!w->heartbeat()) {
        logger()->info("link to {} closed by the peer; reconnecting", to_.to_string());
        return true;
      }
      continue;
    }
    std::size_t lost = 0;
    bool broken = false;
    rpc::LinkDeltas deltas;
    std::size_t delta_bytes = 0;
    std::size_t pending_bytes = 0;
    auto flush = [&] {  // the forwards gathered so far, as one ForwardBatch
      if (batch.empty() || broken) return;
      broken = !w->write(batch);
      if (broken) {
        lost += batch.size();
      } else {
        sent_.fetch_add(batch.size(), std::memory_order_relaxed);
      }
      batch.clear();
      pending_bytes = 0;
    };
    for (std::size_t i = 0; i < ops.size(); ++i) {
      auto& op = ops[i];
      if (auto* d = std::get_if<rpc::LinkDelta>(&op)) {
        // Consecutive route changes leave as one message, after the forwards before them.
        flush();
        if (broken) continue;
        delta_bytes += route_bytes(d->route);
        deltas.push_back(std::move(*d));
        bool last = i + 1 == ops.size() || !std::holds_alternative<rpc::LinkDelta>(ops[i + 1]);
        if (last || deltas.size() >= kSnapshotChunk || delta_bytes >= kChunkBytes) {
          broken = !w->write(deltas);
          deltas.clear();
          delta_bytes = 0;
        }
        continue;
      }
      if (auto* t = std::get_if<rpc::LinkTables>(&op)) {
        flush();
        if (!broken) broken = !write_tables(*w, *t);
        continue;
      }
      auto& items = std::get<std::vector<broker::ForwardItem>>(op);
      // Consecutive forwards leave as batches of up to kBatch messages and kBatchBytes.
      for (auto& x : items) {
        const std::size_t b = item_bytes(x);
        if (!batch.empty() && (batch.size() >= kBatch || pending_bytes + b > kBatchBytes)) flush();
        if (broken) {
          ++lost;
          continue;
        }
        batch.push_back(std::move(x));
        pending_bytes += b;
      }
    }
    flush();
    batch.clear();
    std::int64_t round = 0;
    for (const auto& op : ops) {
      if (auto* items = std::get_if<std::vector<broker::ForwardItem>>(&op)) {
        round += static_cast<std::int64_t>(items->size());
      }
    }
    ops.clear();
    pressure_->queued.fetch_sub(round, std::memory_order_relaxed);
    if (!broken) pressure_->note_progress(broker::Pressure::Clock::now());
    if (lost != 0) dropped_.fetch_add(lost, std::memory_order_relaxed);
    if (broken) {
      logger()->warn("link to {} broken; {} forwarded messages lost, reconnecting", to_.to_string(),
                     lost);
      return true;
    }
  }
}

}  // namespace emqxd::cluster
