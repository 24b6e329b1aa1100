#include "session/commit_order.hpp"

#include <algorithm>

#include "storage/store.hpp"

namespace emqxd::session {

std::uint64_t CommitOrder::await(Channel& ch, const mqtt::Message* published) {
  waiters_[&ch] = ticket_;
  if (published != nullptr) depends_.push_back(published);
  return ticket_;
}

bool CommitOrder::commit(storage::Store& store,
                         std::function<void(std::uint64_t, storage::Status)> done) {
  if (!durable_) return false;
  const std::uint64_t ticket = ticket_;
  bool waited = false;
  for (const auto& [ch, t] : waiters_)
    waited = waited || t == ticket;
  if (batch_.empty() && !waited) return false;
  ++ticket_;
  storage::Batch batch = std::move(batch_);
  batch_ = storage::Batch();
  // Even an empty batch goes through the store: commits complete in the order made, so
  // the completions come back in ticket order.
  store.commit(std::move(batch), [done = std::move(done), ticket](storage::Status st) {
    done(ticket, std::move(st));
  });
  return true;
}

bool CommitOrder::ship(Outboxes& turn, bool committed) {
  auto depends = std::move(depends_);
  depends_.clear();
  if (turn.empty()) return false;
  if (committed) {
    Deferred d;
    d.ticket = ticket_ - 1;
    d.out = std::move(turn);
    d.depends = std::move(depends);
    turn = Outboxes(d.out.local.size());
    deferred_.push_back(std::move(d));
    return false;
  }
  if (!deferred_.empty()) {
    deferred_.back().out.append(std::move(turn));  // behind what waits, in order
    return false;
  }
  return true;
}

void CommitOrder::after_shipped(Task f) {
  if (deferred_.empty()) {
    f();
  } else {
    deferred_.back().after.push_back(std::move(f));
  }
}

CommitOrder::Completion CommitOrder::on_committed(std::uint64_t ticket,
                                                  const storage::Status& status) {
  Completion c;
  for (const auto& [ch, t] : waiters_) {
    if (t <= ticket) c.channels.push_back(ch);
  }
  for (auto* ch : c.channels)
    waiters_.erase(ch);
  while (!deferred_.empty() && deferred_.front().ticket <= ticket) {
    Deferred d = std::move(deferred_.front());
    deferred_.pop_front();
    if (!status.ok() && d.ticket == ticket && !d.depends.empty()) {
      // Their publishers are answered 0x97: nobody may receive them. Local deliveries
      // still travel, marked refused, so that the target worker settles their
      // back-pressure count; peers never see them.
      std::sort(d.depends.begin(), d.depends.end());
      auto refused = [&](const mqtt::MessagePtr& m) {
        return std::binary_search(d.depends.begin(), d.depends.end(), m.get());
      };
      for (auto& box : d.out.local) {
        for (auto& x : box) {
          x.refused = refused(x.msg);
          if (x.refused) ++c.refused;
        }
      }
      for (auto& box : d.out.remote) {
        std::erase_if(box, [&](const broker::ForwardItem& x) { return refused(x.msg); });
      }
    }
    c.released.push_back({std::move(d.out), std::move(d.after)});
  }
  return c;
}

}  // namespace emqxd::session
