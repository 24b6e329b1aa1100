// RocksStore against a real RocksDB in a temporary directory: every batch operation, what
// load() streams back and in which order, erase_session, next_seq across restarts, kv,
// and group commit from several threads.
#include "storage/rocks_store.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "config/temp_dir.hpp"
#include "storage/storage_test_util.hpp"

namespace {

using namespace emqxd::storage;
using namespace emqxd::storage::test;
using emqxd::config::test::TempDir;
using emqxd::mqtt::QoS;

RocksStoreOptions options_in(const TempDir& dir) {
  RocksStoreOptions o;
  o.path = (dir.path() / "rocksdb").string();
  o.write_buffer_size = 1024 * 1024;
  o.block_cache_size = 1024 * 1024;
  return o;
}

Recorder load_all(Store& store, LoadSummary* summary = nullptr) {
  Recorder r;
  LoadSummary s = store.load(r, fixed_clocks());
  if (summary != nullptr) *summary = s;
  return r;
}

std::map<std::string, std::string> scan(Store& store, std::string_view ns) {
  std::map<std::string, std::string> out;
  REQUIRE(store
              .scan_kv(ns,
                       [&](std::string_view k, std::string_view v) {
                         out.emplace(k, v);
                         return true;
                       })
              .ok());
  return out;
}

}  // namespace

TEST_CASE("a new store is empty and counts seqs from 1", "[storage][rocks]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  LoadSummary summary;
  Recorder r = load_all(store, &summary);
  CHECK(r.events.empty());
  CHECK(summary.sessions == 0);
  CHECK(store.next_seq() == 1);
  CHECK(store.next_seq() == 2);
  CHECK(store.health() == Health::Ok);
  std::string v;
  CHECK(store.get_kv("ns", "k", v).is_not_found());
}

TEST_CASE("every batch operation is stored, and survives closing and reopening",
          "[storage][rocks]") {
  TempDir dir;
  auto full = full_message();
  {
    RocksStore store(options_in(dir));
    Batch b(fixed_clocks());
    b.put_session(session(7, "c7"));
    b.put_subscription(subscription(7, "a/+"));
    b.put_subscription(subscription(7, "gone"));
    b.put_subscription(subscription(7, "$share/g/b/#"));
    DeliveryRecord d = delivery(7, 10);
    d.msg = full;
    d.qos = QoS::ExactlyOnce;
    d.retain = true;
    d.subscription_ids = {3, 4};
    d.share = "$share/g/b/#";
    b.put_delivery(d);
    b.put_delivery(delivery(7, 11));
    b.put_delivery(delivery(7, 12));
    b.put_awaiting_rel({7, 100, 1704067000000});
    b.put_awaiting_rel({7, 101, 1704067000001});
    b.put_retained(*full);
    b.put_retained(*message("r/2", "two", QoS::AtMostOnce, true));
    b.put_kv("authn", "alice", "hash-a");
    b.put_kv("authn", "bob", "hash-b");
    b.put_kv("banned", "mallory", "until-2030");
    REQUIRE(commit_wait(store, std::move(b)).ok());

    Batch c(fixed_clocks());
    c.erase_subscription(7, "gone");
    c.update_delivery_state(7, 10, 5, OutState::WaitPubRec);
    c.update_delivery_state(7, 11, 6, OutState::WaitPubAck);
    c.update_delivery_state(7, 11, 6, OutState::WaitPubComp);  // the last one counts
    c.erase_delivery(7, 12, OutState::Queued);
    c.erase_awaiting_rel(7, 101);
    c.erase_retained("r/2");
    c.erase_kv("authn", "bob");
    REQUIRE(commit_wait(store, std::move(c)).ok());

    std::string v;
    REQUIRE(store.get_kv("authn", "alice", v).ok());
    CHECK(v == "hash-a");
    CHECK(store.get_kv("authn", "bob", v).is_not_found());
    CHECK(scan(store, "banned") == std::map<std::string, std::string>{{"mallory", "until-2030"}});
    CHECK(store.stats().commits == 2);
    CHECK(store.stats().failed_commits == 0);
  }

  RocksStore store(options_in(dir));
  LoadSummary summary;
  Recorder r = load_all(store, &summary);
  CHECK(r.events == std::vector<std::string>{"session 7 c7", "sub 7 $share/g/b/#", "sub 7 a/+",
                                             "delivery 7 10", "delivery 7 11", "rel 7 100", "end 7",
                                             "retained " + full->topic});
  CHECK(summary.sessions == 1);
  CHECK(summary.subscriptions == 2);
  CHECK(summary.deliveries == 2);
  CHECK(summary.awaiting_rel == 1);
  CHECK(summary.retained == 1);
  CHECK(summary.corrupt == 0);
  CHECK(summary.orphans == 0);

  REQUIRE(r.sessions.size() == 1);
  CHECK(r.sessions[0] == session(7, "c7"));
  CHECK(r.subscriptions[1] == subscription(7, "a/+"));
  const DeliveryRecord& d10 = r.deliveries.at(0);
  check_same_message(*d10.msg, *full);
  CHECK(d10.qos == QoS::ExactlyOnce);
  CHECK(d10.retain);
  CHECK(d10.subscription_ids == std::vector<std::uint32_t>{3, 4});
  CHECK(d10.share == "$share/g/b/#");
  CHECK(d10.packet_id == 5);
  CHECK(d10.state == OutState::WaitPubRec);
  const DeliveryRecord& d11 = r.deliveries.at(1);
  CHECK(d11.packet_id == 6);
  CHECK(d11.state == OutState::WaitPubComp);
  CHECK(d11.msg->payload == "p");
  CHECK(r.awaiting.at(0) == AwaitingRelRecord{7, 100, 1704067000000});
  check_same_message(*r.retained.at(0), *full);

  std::string v;
  REQUIRE(store.get_kv("authn", "alice", v).ok());
  CHECK(v == "hash-a");
  CHECK(scan(store, "authn") == std::map<std::string, std::string>{{"alice", "hash-a"}});
}

TEST_CASE(
    "erase_delivery removes the state record only when asked, so a delivery never sent costs one "
    "erase",
    "[storage][rocks]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  Batch b(fixed_clocks());
  b.put_session(session(1, "c"));
  b.put_delivery(delivery(1, 1, "sent"));
  b.update_delivery_state(1, 1, 9, OutState::WaitPubRec);
  b.put_delivery(delivery(1, 2, "queued"));
  b.put_delivery(delivery(1, 3, "kept"));
  b.update_delivery_state(1, 3, 4, OutState::WaitPubComp);
  REQUIRE(commit_wait(store, std::move(b)).ok());
  Batch e(fixed_clocks());
  const auto ops = e.size();
  e.erase_delivery(1, 1, OutState::WaitPubAck);
  CHECK(e.size() == ops + 2);
  e.erase_delivery(1, 2, OutState::Queued);
  CHECK(e.size() == ops + 3);
  REQUIRE(commit_wait(store, std::move(e)).ok());
  LoadSummary summary;
  Recorder r = load_all(store, &summary);
  REQUIRE(r.deliveries.size() == 1);
  CHECK(r.deliveries[0].msg->payload == "kept");
  CHECK(r.deliveries[0].packet_id == 4);
  CHECK(r.deliveries[0].state == OutState::WaitPubComp);
  CHECK(summary.orphans == 0);  // no state record was left behind
}

TEST_CASE("erase_session removes everything of its uid and nothing of another",
          "[storage][rocks][erase]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  // Neighbouring uids, and uids that differ only in a carried byte (0xFF -> 0x100).
  const std::uint64_t uids[] = {1, 2, 3, 0xFF, 0x100};
  Batch b(fixed_clocks());
  for (std::uint64_t uid : uids) {
    b.put_session(session(uid, "c" + std::to_string(uid)));
    b.put_subscription(subscription(uid, "f"));
    b.put_subscription(subscription(uid, "\xF4\x8F\xBF\xBF"));  // the largest code point
    for (std::uint64_t seq : {1ull, 0xFFull, 0x100ull, ~0ull}) {
      b.put_delivery(delivery(uid, seq));
      b.update_delivery_state(uid, seq, 1, OutState::WaitPubAck);
    }
    b.put_awaiting_rel({uid, 0, 1});
    b.put_awaiting_rel({uid, 65535, 1});
  }
  REQUIRE(commit_wait(store, std::move(b)).ok());
  Batch e(fixed_clocks());
  e.erase_session(2);
  e.erase_session(0xFF);
  REQUIRE(commit_wait(store, std::move(e)).ok());

  Recorder r = load_all(store);
  std::set<std::uint64_t> seen;
  for (const auto& s : r.sessions)
    seen.insert(s.uid);
  CHECK(seen == std::set<std::uint64_t>{1, 3, 0x100});
  auto count = [](const auto& records, std::uint64_t uid) {
    return std::count_if(records.begin(), records.end(),
                         [&](const auto& x) { return x.uid == uid; });
  };
  for (std::uint64_t uid : {1ull, 3ull, 0x100ull}) {
    INFO("uid " << uid);
    CHECK(count(r.subscriptions, uid) == 2);
    CHECK(count(r.deliveries, uid) == 4);
    CHECK(count(r.awaiting, uid) == 2);
  }
  for (std::uint64_t uid : {2ull, 0xFFull}) {
    CHECK(count(r.subscriptions, uid) == 0);
    CHECK(count(r.deliveries, uid) == 0);
    CHECK(count(r.awaiting, uid) == 0);
  }
}

TEST_CASE("load streams each session whole, deliveries in seq order, retained last",
          "[storage][rocks][load]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  // Written in scrambled order over several batches.
  for (std::uint64_t seq : {30ull, 2ull, 0x1000ull, 7ull}) {
    Batch b(fixed_clocks());
    b.put_delivery(delivery(2, seq));
    b.put_delivery(delivery(1, seq + 1));
    REQUIRE(commit_wait(store, std::move(b)).ok());
  }
  Batch b(fixed_clocks());
  b.put_retained(*message("z", "z", QoS::AtMostOnce, true));
  b.put_awaiting_rel({1, 9, 0});
  b.put_session(session(2, "two"));
  b.put_subscription(subscription(1, "x"));
  b.put_session(session(1, "one"));
  b.put_retained(*message("a", "a", QoS::AtMostOnce, true));
  REQUIRE(commit_wait(store, std::move(b)).ok());

  Recorder r = load_all(store);
  CHECK(r.events == std::vector<std::string>{"session 1 one", "sub 1 x", "delivery 1 3",
                                             "delivery 1 8", "delivery 1 31", "delivery 1 4097",
                                             "rel 1 9", "end 1", "session 2 two", "delivery 2 2",
                                             "delivery 2 7", "delivery 2 30", "delivery 2 4096",
                                             "end 2", "retained a", "retained z"});
}

TEST_CASE("what the visitor erases is gone at the next load", "[storage][rocks][load]") {
  TempDir dir;
  {
    RocksStore store(options_in(dir));
    Batch b(fixed_clocks());
    b.put_session(session(1, "keep"));
    b.put_session(session(2, "expired"));
    for (std::uint64_t uid : {1, 2}) {
      b.put_subscription(subscription(uid, "s"));
      b.put_delivery(delivery(uid, uid * 10));
      b.put_delivery(delivery(uid, uid * 10 + 1, "old"));
      b.update_delivery_state(uid, uid * 10 + 1, 4, OutState::WaitPubAck);
      b.put_awaiting_rel({uid, 1, 0});
    }
    b.put_retained(*message("old", "x", QoS::AtMostOnce, true));
    b.put_retained(*message("new", "x", QoS::AtMostOnce, true));
    REQUIRE(commit_wait(store, std::move(b)).ok());

    Recorder r;
    r.erase_session = [](const SessionRecord& s) { return s.client_id == "expired"; };
    r.erase_delivery = [](const DeliveryRecord& d) { return d.msg->payload == "old"; };
    r.erase_retained = [](const emqxd::mqtt::Message& m) { return m.topic == "old"; };
    LoadSummary summary = store.load(r, fixed_clocks());
    CHECK(summary.erased == 3);  // one session (with its records), one delivery, one retained
    CHECK(std::count(r.events.begin(), r.events.end(), "sub 2 s") == 0);  // not visited
  }
  RocksStore store(options_in(dir));
  Recorder r = load_all(store);
  CHECK(r.events == std::vector<std::string>{"session 1 keep", "sub 1 s", "delivery 1 10",
                                             "rel 1 1", "end 1", "retained new"});
}

TEST_CASE("records of a uid with no session are orphans: erased at load",
          "[storage][rocks][load]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  Batch b(fixed_clocks());
  b.put_subscription(subscription(1, "orphan"));
  b.put_session(session(2, "c"));
  b.put_delivery(delivery(2, 5));
  b.put_delivery(delivery(3, 6));
  b.update_delivery_state(2, 99, 1, OutState::WaitPubAck);  // a state without its delivery
  b.put_awaiting_rel({9, 1, 0});
  REQUIRE(commit_wait(store, std::move(b)).ok());
  LoadSummary summary;
  Recorder r = load_all(store, &summary);
  CHECK(r.events == std::vector<std::string>{"session 2 c", "delivery 2 5", "end 2"});
  CHECK(summary.orphans == 4);
  load_all(store, &summary);
  CHECK(summary.orphans == 0);
}

TEST_CASE("next_seq continues above every seq committed, across restarts", "[storage][rocks]") {
  TempDir dir;
  std::uint64_t last = 0;
  {
    RocksStore store(options_in(dir));
    load_all(store);
    Batch b(fixed_clocks());
    b.put_session(session(1, "c"));
    for (int i = 0; i < 5; ++i) {
      last = store.next_seq();
      b.put_delivery(delivery(1, last));
    }
    REQUIRE(commit_wait(store, std::move(b)).ok());
    CHECK(last == 5);
  }
  {
    RocksStore store(options_in(dir));
    CHECK(store.next_seq() > last);  // known at open, before load
    load_all(store);
    std::uint64_t s = store.next_seq();
    CHECK(s > last);
    // Every delivery is acknowledged and erased: the seqs still do not go back.
    Batch b(fixed_clocks());
    for (std::uint64_t seq = 1; seq <= last; ++seq)
      b.erase_delivery(1, seq, OutState::Queued);
    b.put_delivery(delivery(1, 1000));
    b.erase_delivery(1, 1000, OutState::Queued);
    REQUIRE(commit_wait(store, std::move(b)).ok());
  }
  RocksStore store(options_in(dir));
  load_all(store);
  CHECK(store.next_seq() > 1000);
}

TEST_CASE("kv namespaces do not bleed into each other", "[storage][rocks][kv]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  Batch b(fixed_clocks());
  b.put_kv("a", "1", "a1");
  b.put_kv("a", "2", "a2");
  b.put_kv("ab", "1", "ab1");
  b.put_kv("", "k", "empty-ns");
  b.put_kv("b", std::string("\xFF\xFF", 2), "binary");
  REQUIRE(commit_wait(store, std::move(b)).ok());
  CHECK(scan(store, "a") == std::map<std::string, std::string>{{"1", "a1"}, {"2", "a2"}});
  CHECK(scan(store, "ab") == std::map<std::string, std::string>{{"1", "ab1"}});
  CHECK(scan(store, "") == std::map<std::string, std::string>{{"k", "empty-ns"}});

  Batch e(fixed_clocks());
  e.erase_kv_namespace("a");
  REQUIRE(commit_wait(store, std::move(e)).ok());
  CHECK(scan(store, "a").empty());
  CHECK(scan(store, "ab").size() == 1);
  CHECK(scan(store, "b").size() == 1);
  CHECK(scan(store, "").size() == 1);

  // scan stops when told.
  int calls = 0;
  REQUIRE(store.scan_kv("ab", [&](auto, auto) { return ++calls < 0; }).ok());
  CHECK(calls == 1);
}

TEST_CASE("commits from one thread complete in order, empty batches too", "[storage][rocks]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  std::mutex m;
  std::vector<int> order;
  std::atomic<int> failed{0};
  for (int i = 0; i < 200; ++i) {
    Batch b(fixed_clocks());
    if (i % 3 != 0) b.put_kv("n", std::to_string(i), "v");
    // Catch's assertions are for the test's thread: completions only record.
    store.commit(std::move(b), [&, i](Status s) {
      if (!s.ok()) ++failed;
      std::lock_guard lock(m);
      order.push_back(i);
    });
  }
  REQUIRE(commit_wait(store, Batch(fixed_clocks())).ok());  // after all the others
  CHECK(failed == 0);
  std::lock_guard lock(m);
  REQUIRE(order.size() == 200);
  for (int i = 0; i < 200; ++i)
    CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("group commit: commits from 4 threads all complete and share fsyncs",
          "[storage][rocks][group]") {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  {
    RocksStore store(options_in(dir));
    load_all(store);
    Batch s(fixed_clocks());
    s.put_session(session(1, "c"));
    REQUIRE(commit_wait(store, std::move(s)).ok());
    std::atomic<int> ok{0};
    std::atomic<int> failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < kPerThread; ++i) {
          Batch b;
          b.put_delivery(delivery(1, store.next_seq()));
          store.commit(std::move(b), [&](Status st) { (st.ok() ? ok : failed)++; });
        }
      });
    }
    for (auto& t : threads)
      t.join();
    REQUIRE(commit_wait(store, Batch()).ok());  // completes after everything before it
    CHECK(ok == kThreads * kPerThread);
    CHECK(failed == 0);
    StoreStats st = store.stats();
    CHECK(st.commits == kThreads * kPerThread + 2);
    CHECK(st.pending_commits == 0);
    CHECK(st.pending_bytes == 0);
    INFO("commits " << st.commits << ", WAL syncs " << st.wal_syncs);
    CHECK(st.wal_syncs == st.writes);
    CHECK(st.wal_syncs < st.commits);
  }
  RocksStore store(options_in(dir));
  Recorder r = load_all(store);
  CHECK(r.deliveries.size() == static_cast<std::size_t>(kThreads * kPerThread));
  for (std::size_t i = 1; i < r.deliveries.size(); ++i) {
    REQUIRE(r.deliveries[i - 1].seq < r.deliveries[i].seq);
  }
}

TEST_CASE("sync = false still writes the WAL: everything is there after reopening",
          "[storage][rocks]") {
  TempDir dir;
  auto o = options_in(dir);
  o.sync = false;
  {
    RocksStore store(o);
    Batch b(fixed_clocks());
    b.put_session(session(1, "c"));
    b.put_delivery(delivery(1, 1));
    REQUIRE(commit_wait(store, std::move(b)).ok());
    CHECK(store.stats().wal_syncs == 0);
    CHECK(store.stats().writes == 1);
  }
  RocksStore store(o);
  CHECK(load_all(store).events.size() == 3);
}

TEST_CASE("over max_pending_bytes a commit is refused with busy, and not stored",
          "[storage][rocks]") {
  TempDir dir;
  auto o = options_in(dir);
  o.max_pending_bytes = 1;  // anything queued behind another commit is refused
  RocksStore store(o);
  std::mutex m;
  std::set<int> stored;
  std::atomic<int> completed{0};
  std::atomic<int> busy{0};
  std::atomic<int> other{0};
  for (int i = 0; i < 300; ++i) {
    Batch b(fixed_clocks());
    b.put_kv("n", std::to_string(i), "v");
    store.commit(std::move(b), [&, i](Status s) {
      if (s.ok()) {
        std::lock_guard lock(m);
        stored.insert(i);
      } else {
        ++(s.code() == Status::Code::Busy ? busy : other);
      }
      ++completed;
    });
  }
  REQUIRE(commit_wait(store, Batch(fixed_clocks())).ok());
  CHECK(completed == 300);
  CHECK(other == 0);
  std::lock_guard lock(m);
  std::set<int> found;
  REQUIRE(store
              .scan_kv("n",
                       [&](std::string_view k, std::string_view) {
                         found.insert(std::stoi(std::string(k)));
                         return true;
                       })
              .ok());
  CHECK(found == stored);
  INFO("busy " << busy);
  CHECK(stored.size() + static_cast<std::size_t>(busy.load()) == 300);
}

TEST_CASE("after close, commits complete at once with closed", "[storage][rocks]") {
  TempDir dir;
  RocksStore store(options_in(dir));
  store.close();
  store.close();  // idempotent
  Status got = Status::io_error("not called");
  Batch b;
  b.put_kv("a", "b", "c");
  store.commit(std::move(b), [&](Status s) { got = std::move(s); });
  CHECK(got.code() == Status::Code::Closed);
  std::string v;
  CHECK_FALSE(store.get_kv("a", "b", v).ok());
}
