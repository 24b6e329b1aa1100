#pragma once
// ManualStore: a storage::Store whose commits complete when the test says, in the order
// made, for the session core's unit tests (commit_order_test.cpp, and TestHub's durable
// sessions in test_hub.hpp). It keeps each batch until it is completed, so that a test can
// count what a turn recorded; nothing is stored for good, and load() finds nothing.
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <string_view>

#include "storage/store.hpp"

namespace emqxd::session::test {

class ManualStore final : public storage::Store {
 public:
  void commit(storage::Batch&& batch, Completion done) override {
    pending.push_back({std::move(batch), std::move(done)});
  }
  storage::LoadSummary load(storage::Visitor&, const storage::ClockPair&) override { return {}; }
  std::uint64_t next_seq() override { return ++seq; }
  storage::Status get_kv(std::string_view, std::string_view, std::string&) override {
    return storage::Status(storage::Status::Code::NotFound, "");
  }
  storage::Status scan_kv(std::string_view,
                          const std::function<bool(std::string_view, std::string_view)>&) override {
    return {};
  }
  storage::Health health() const override { return storage::Health::Ok; }
  storage::StoreStats stats() const override { return {}; }

  // Completes the oldest commit not yet completed with `st`.
  void complete_next(storage::Status st = {}) {
    auto next = std::move(pending.front());
    pending.pop_front();
    next.done(std::move(st));
  }
  // Records in the commits not yet completed.
  std::size_t pending_records() const {
    std::size_t n = 0;
    for (const auto& p : pending)
      n += p.batch.size();
    return n;
  }

  struct Pending {
    storage::Batch batch;
    Completion done;
  };
  std::deque<Pending> pending;  // oldest first
  std::uint64_t seq = 0;
};

}  // namespace emqxd::session::test
