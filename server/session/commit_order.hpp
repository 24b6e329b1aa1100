#pragma once
// CommitOrder: the order in which a worker's output may leave when sessions are durable.
//
// What a turn records (session records, deliveries to durable sessions, retained messages)
// goes into one storage batch, committed at the end of the turn; commits complete in the
// order made, each with a ticket. Two things wait for a ticket:
//  - channels whose next output promises what the batch holds (a PUBACK, a SUBACK...):
//    await() gives them the ticket, on_committed() names them when it is stored;
//  - the turn's deliveries: a subscriber must not receive a message before it is stored (a
//    crash could lose what the publisher was promised, or a failed commit refuse with 0x97
//    what a subscriber already has). They wait with the batch, and later turns' deliveries
//    queue behind them, so nothing overtakes.
// No threads, no I/O: the worker core drives it (session/worker_core.cpp).
#include <cstdint>
#include <deque>
#include <functional>
#include <unordered_map>
#include <vector>

#include "session/outboxes.hpp"
#include "session/scheduler.hpp"
#include "storage/batch.hpp"
#include "storage/status.hpp"

namespace emqxd::storage {
class Store;
}

namespace emqxd::session {

class Channel;

class CommitOrder {
 public:
  // `durable` false: nothing is recorded, nothing waits (durable_sessions.enable = false).
  explicit CommitOrder(bool durable) : durable_(durable) {}

  // The batch of the current turn; null when nothing is durable.
  storage::Batch* batch() { return durable_ ? &batch_ : nullptr; }
  // `ch` has put records in this turn's batch that its next output promises; returns the
  // ticket it waits for. `published`: the message whose acknowledgement waits (null for
  // other output); if the commit fails, its deliveries are refused.
  std::uint64_t await(Channel& ch, const mqtt::Message* published);
  void forget(Channel& ch) { waiters_.erase(&ch); }

  // Commits the turn's batch through `store` if it holds records or someone waits for it;
  // `done` runs on the store's thread with the ticket and the outcome. True when a batch
  // went (its ticket is then waiting).
  bool commit(storage::Store& store, std::function<void(std::uint64_t, storage::Status)> done);

  // The turn's outboxes, after commit() (`committed`: it sent a batch). True when they may
  // leave now; otherwise they were taken to wait for their ticket (or behind what waits),
  // in order, and `turn` is left empty.
  bool ship(Outboxes& turn, bool committed);
  // Runs `f` once everything shipped so far has left (now, if nothing waits).
  void after_shipped(Task f);

  // What the completion of one ticket releases, in the order it must happen: the channels
  // that waited (their output goes), then each batch of deliveries followed by the
  // after_shipped() tasks queued behind it.
  struct Released {
    Outboxes out;
    std::vector<Task> after;
  };
  struct Completion {
    std::vector<Channel*> channels;
    std::vector<Released> released;
    std::uint64_t refused = 0;  // deliveries dropped because their publisher was refused
  };
  Completion on_committed(std::uint64_t ticket, const storage::Status& status);

  bool waiting() const { return !deferred_.empty(); }

 private:
  struct Deferred {
    std::uint64_t ticket = 0;
    Outboxes out;
    std::vector<const mqtt::Message*> depends;
    std::vector<Task> after;
  };

  const bool durable_;
  storage::Batch batch_;
  std::uint64_t ticket_ = 1;  // the batch being filled
  std::unordered_map<Channel*, std::uint64_t> waiters_;
  // Messages whose publishers' acknowledgements wait for the batch being filled.
  std::vector<const mqtt::Message*> depends_;
  std::deque<Deferred> deferred_;  // oldest first
};

}  // namespace emqxd::session
