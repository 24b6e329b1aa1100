// An action's buffer workers (server/connectors/action.hpp) over a fake connector and
// sender: what is sent, retried, expired, dropped and counted.
#include "connectors/action.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <thread>

namespace {

namespace json = boost::json;
using namespace std::chrono_literals;
using emqxd::connectors::Action;
using emqxd::connectors::Connector;
using emqxd::connectors::ConnectorState;
using emqxd::connectors::ResourceOpts;
using emqxd::connectors::Sender;
using emqxd::connectors::SenderFactory;
using emqxd::connectors::SendResult;
using emqxd::connectors::Status;

struct Service {
  std::mutex m;
  Status status = Status::Connected;
  SendResult::Kind answer = SendResult::Ok;
  std::vector<std::string> received;
  int attempts = 0;
};

struct FakeConnector : Connector {
  explicit FakeConnector(Service& s) : s_(s) {}
  Status health_check(std::chrono::milliseconds, std::string& reason) override {
    std::lock_guard l(s_.m);
    if (s_.status != Status::Connected) reason = "down";
    return s_.status;
  }
  // The tests hand the Action its senders themselves.
  SenderFactory senders(const emqxd::config::ActionConfig&) override { return {}; }
  Service& s_;
};

struct FakeSender : Sender {
  explicit FakeSender(Service& s) : s_(s) {}
  SendResult send(const std::vector<json::object>& batch, std::chrono::milliseconds) override {
    std::lock_guard l(s_.m);
    ++s_.attempts;
    if (s_.answer == SendResult::Ok) {
      for (const auto& o : batch)
        s_.received.push_back(std::string(o.at("v").as_string()));
      return SendResult::ok();
    }
    return s_.answer == SendResult::Recoverable ? SendResult::retry("busy")
                                                : SendResult::fail("no");
  }
  Service& s_;
};

template <class F>
bool eventually(F f, std::chrono::milliseconds limit = 5s) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (f()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return f();
}

json::object out(const std::string& v) {
  return json::object{{"v", v}};
}

}  // namespace

TEST_CASE("action: sends in order per key, retries while busy, fails without retry",
          "[connectors][action]") {
  Service svc;
  auto conn =
      std::make_shared<ConnectorState>("test:c", std::make_unique<FakeConnector>(svc), 50ms, 50ms);
  REQUIRE(eventually([&] { return conn->status() == Status::Connected; }));
  ResourceOpts o;
  o.worker_pool_size = 4;
  o.resume_interval = 20ms;
  Action a(
      "test:a", o, conn, [&] { return std::make_unique<FakeSender>(svc); }, "/nonexistent");
  for (int i = 0; i < 20; ++i)
    a.enqueue(out(std::to_string(i)), "one-client");
  REQUIRE(eventually([&] { return a.sample().count[Action::Success] == 20; }));
  {
    std::lock_guard l(svc.m);
    std::vector<std::string> want;
    for (int i = 0; i < 20; ++i)
      want.push_back(std::to_string(i));
    CHECK(svc.received == want);  // one key, one worker: in order
    svc.answer = SendResult::Recoverable;
  }
  a.enqueue(out("busy"), "k");
  REQUIRE(eventually([&] { return a.sample().count[Action::Retried] >= 2; }));
  CHECK(a.sample().inflight == 1);
  {
    std::lock_guard l(svc.m);
    svc.answer = SendResult::Ok;
  }
  REQUIRE(eventually([&] { return a.sample().count[Action::Success] == 21; }));
  auto s = a.sample();
  CHECK(s.count[Action::RetriedSuccess] == 1);
  CHECK(s.inflight == 0);
  {
    std::lock_guard l(svc.m);
    svc.answer = SendResult::Unrecoverable;
  }
  a.enqueue(out("no"), "k");
  REQUIRE(eventually([&] { return a.sample().count[Action::Failed] == 1; }));
  std::this_thread::sleep_for(100ms);
  CHECK(a.sample().count[Action::Retried] == s.count[Action::Retried]);  // not retried
  CHECK(a.sample().count[Action::Matched] == 22);
}

// A disconnected connector queues; expired requests are dropped; a full queue drops the
// oldest. (A ";" in a name splits it in ctest's list, as a line break does.)
TEST_CASE("action: queued while disconnected, then expired or dropped when full",
          "[connectors][action]") {
  Service svc;
  svc.status = Status::Disconnected;
  auto conn =
      std::make_shared<ConnectorState>("test:c", std::make_unique<FakeConnector>(svc), 20ms, 20ms);
  REQUIRE(eventually([&] { return conn->status() == Status::Disconnected; }));
  ResourceOpts o;
  o.worker_pool_size = 1;
  o.resume_interval = 10ms;
  o.request_ttl = 300ms;
  o.max_buffer_bytes = 10 * emqxd::connectors::Buffer::cost(std::string(8, 'x') + R"({"v":"00"})");
  Action a(
      "test:a", o, conn, [&] { return std::make_unique<FakeSender>(svc); }, "/nonexistent");
  for (int i = 0; i < 30; ++i)
    a.enqueue(out(i < 10 ? "0" + std::to_string(i) : std::to_string(i)), "k");
  auto s = a.sample();
  CHECK(s.count[Action::Matched] == 30);
  CHECK(s.count[Action::DroppedQueueFull] >= 19);
  CHECK(s.count[Action::Dropped] == s.count[Action::DroppedQueueFull]);
  // Nothing reaches the service while it is down; then everything expires.
  REQUIRE(eventually([&] {
    auto x = a.sample();
    return x.queuing == 0 && x.inflight == 0;
  }));
  s = a.sample();
  CHECK(s.count[Action::DroppedExpired] + s.count[Action::DroppedQueueFull] == 30);
  CHECK(s.count[Action::Success] == 0);
  {
    std::lock_guard l(svc.m);
    CHECK(svc.attempts == 0);
    svc.status = Status::Connected;
  }
  REQUIRE(eventually([&] { return conn->status() == Status::Connected; }));
  a.enqueue(out("later"), "k");
  REQUIRE(eventually([&] { return a.sample().count[Action::Success] == 1; }));
  a.reset_metrics();
  CHECK(a.sample().count[Action::Matched] == 0);
}
