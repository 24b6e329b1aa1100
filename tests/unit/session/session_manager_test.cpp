// SessionManager and WorkerCore with no threads: real cores on FakeWorkers (a manual clock,
// tasks run one at a time), real channels on TestHosts, one real NodeState. What the worker
// does between workers and over time: takeover across workers (the barrier keeps order),
// offline expiry and will delay on the clock, shared-group redispatch, hand-over to
// another node and back, and restoring a session from its plain form.
#include <catch2/catch.hpp>

#include "session/fake_workers.hpp"
#include "session/session_records.hpp"
#include "session/test_hub.hpp"

namespace emqxd::session::test {
namespace {

using mqtt::QoS;
using mqtt::ReasonCode;
using namespace std::chrono_literals;

config::Config test_config() {
  config::Config c;
  c.node.name = "emqxd@test";
  return c;
}

// One client connection on one worker's core.
class Client {
 public:
  Client(FakeWorkers& w, std::uint32_t worker, mqtt::ProtocolVersion v = V5)
      : workers(w), version(v), channel(w.core(worker), host) {}
  ~Client() {
    if (channel.state() != Channel::State::Closed) channel.handle_closed();
  }

  Packets send(mqtt::Packet p) {
    channel.handle_in(std::move(p));
    workers.run();
    return host.take(version);
  }
  mqtt::ConnAck connect(std::string id, bool clean_start = true, std::uint32_t expiry = 0,
                        std::optional<mqtt::Will> will = std::nullopt) {
    mqtt::Connect c;
    c.version = version;
    c.client_id = std::move(id);
    c.clean_start = clean_start;
    c.keep_alive = 60;
    if (expiry != 0) c.props.session_expiry_interval = expiry;
    c.will = std::move(will);
    auto out = send(std::move(c));
    REQUIRE(!out.empty());
    REQUIRE(std::holds_alternative<mqtt::ConnAck>(out[0]));
    for (std::size_t i = 1; i < out.size(); ++i)
      later.push_back(std::move(out[i]));
    return std::get<mqtt::ConnAck>(out[0]);
  }
  void subscribe(std::string filter, QoS qos) {
    mqtt::Subscribe s;
    s.packet_id = 1;
    mqtt::SubscribeOptions o;
    o.max_qos = qos;
    s.subscriptions.push_back({std::move(filter), o});
    auto out = send(std::move(s));
    REQUIRE(out.size() == 1);
    REQUIRE(std::holds_alternative<mqtt::SubAck>(out[0]));
  }
  void close() {
    channel.handle_closed();
    workers.run();
  }
  // Everything this client received since the last take.
  Packets take() {
    workers.run();
    Packets out = std::move(later);
    later.clear();
    for (auto& p : host.take(version))
      out.push_back(std::move(p));
    return out;
  }

  FakeWorkers& workers;
  mqtt::ProtocolVersion version;
  TestHost host;
  Channel channel;
  Packets later;
};

mqtt::MessagePtr message(std::string topic, std::string payload, QoS qos) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->received_at = mqtt::Message::Clock::now();
  return m;
}

std::vector<std::string> payloads(const Packets& out) {
  std::vector<std::string> p;
  for (const auto& x : out) {
    if (auto* pub = std::get_if<mqtt::Publish>(&x)) p.emplace_back(pub->payload);
  }
  return p;
}

SessionRegistry::Entry registered(NodeState& node, const std::string& id) {
  std::lock_guard lock(node.registry.mutex);
  auto it = node.registry.entries.find(id);
  REQUIRE(it != node.registry.entries.end());
  return it->second;
}

bool is_registered(NodeState& node, const std::string& id) {
  std::lock_guard lock(node.registry.mutex);
  return node.registry.entries.count(id) != 0;
}

TEST_CASE("a session taken over by another worker keeps every message in order",
          "[session_manager][takeover]") {
  NodeState node(test_config());
  FakeWorkers w(node, 3);
  {
    Client a(w, 0);
    a.connect("c", true, 300);
    a.subscribe("t/#", QoS::AtLeastOnce);
    a.close();  // offline on worker 0, kept for 300 s
  }
  // Messages published from workers 1 and 2 while it is offline, then more while the
  // takeover runs: all of them reach the resumed session, each publisher's in order.
  for (int i = 0; i < 5; ++i)
    w.core(1).publish(message("t/1", "a" + std::to_string(i), QoS::AtLeastOnce), {});
  for (int i = 0; i < 5; ++i)
    w.core(2).publish(message("t/2", "b" + std::to_string(i), QoS::AtLeastOnce), {});
  w.run();
  Client b(w, 2);
  mqtt::Connect c;
  c.version = V5;
  c.client_id = "c";
  c.clean_start = false;
  c.props.session_expiry_interval = 300;
  b.channel.handle_in(std::move(c));
  // Published while the session is between workers.
  for (int i = 5; i < 8; ++i)
    w.core(1).publish(message("t/1", "a" + std::to_string(i), QoS::AtLeastOnce), {});
  w.run();
  auto out = b.take();
  REQUIRE(!out.empty());
  const auto& ack = std::get<mqtt::ConnAck>(out[0]);
  CHECK(ack.session_present);
  auto got = payloads(out);
  std::vector<std::string> from1, from2;
  for (auto& p : got)
    (p[0] == 'a' ? from1 : from2).push_back(p);
  CHECK(from1 == std::vector<std::string>{"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"});
  CHECK(from2 == std::vector<std::string>{"b0", "b1", "b2", "b3", "b4"});
  CHECK(registered(node, "c").worker == 2);
  CHECK(w.core(0).sessions().size() == 0);
  CHECK(w.core(2).sessions().size() == 1);
  CHECK(w.core(2).metrics().session_resumed.load() == 1);
}

TEST_CASE("a connected session taken over by another worker: the old connection gets 0x8E",
          "[session_manager][takeover][MQTT-3.1.4-3]") {
  NodeState node(test_config());
  FakeWorkers w(node, 2);
  Client a(w, 0);
  a.connect("c", true, 60);
  Client b(w, 1);
  b.connect("c", false, 60);
  auto out = a.take();
  REQUIRE(out.size() == 1);
  CHECK(std::get<mqtt::Disconnect>(out[0]).reason == ReasonCode::SessionTakenOver);
  CHECK(a.host.close_calls == 1);
  CHECK(w.core(0).metrics().client_takeover.load() == 1);
  CHECK(registered(node, "c").worker == 1);
}

TEST_CASE("an offline session expires on the clock, not before", "[session_manager][expiry]") {
  NodeState node(test_config());
  FakeWorkers w(node, 1);
  {
    Client a(w, 0);
    a.connect("c", true, 10);
    a.subscribe("t", QoS::AtLeastOnce);
    a.close();
  }
  CHECK(w.core(0).sessions().size() == 1);
  w.advance(9s);
  CHECK(w.core(0).sessions().size() == 1);
  CHECK(is_registered(node, "c"));
  w.advance(2s);
  CHECK(w.core(0).sessions().size() == 0);
  CHECK_FALSE(is_registered(node, "c"));
  CHECK(w.core(0).metrics().session_expired.load() == 1);
  CHECK(node.broker.stats().subscriptions == 0);
}

TEST_CASE("a delayed will goes out when its delay ends, and not if the client is back",
          "[session_manager][will][MQTT-3.1.3-9]") {
  NodeState node(test_config());
  FakeWorkers w(node, 2);
  Client sub(w, 1);
  sub.connect("sub");
  sub.subscribe("w", QoS::AtLeastOnce);
  mqtt::Will will;
  will.topic = "w";
  will.payload = "gone";
  will.qos = QoS::AtLeastOnce;
  will.props.will_delay_interval = 5;
  {
    Client a(w, 0);
    a.connect("a", true, 60, will);
    a.close();
  }
  w.advance(4s);
  CHECK(sub.take().empty());
  w.advance(1s);
  CHECK(payloads(sub.take()) == std::vector<std::string>{"gone"});

  // Back before the delay: no will [MQTT-3.1.3-9].
  {
    Client a(w, 0);
    a.connect("b", true, 60, will);
    a.close();
  }
  w.advance(2s);
  Client again(w, 1);
  CHECK(again.connect("b", false, 60).session_present);
  w.advance(10s);
  CHECK(sub.take().empty());
}

TEST_CASE("a shared-group member that goes away hands its unacknowledged QoS 1 to another",
          "[session_manager][shared]") {
  NodeState node(test_config());
  FakeWorkers w(node, 2);
  Client m1(w, 0);
  m1.connect("m1");
  m1.subscribe("$share/g/t", QoS::AtLeastOnce);
  Client m2(w, 1);
  m2.connect("m2");
  m2.subscribe("$share/g/t", QoS::AtLeastOnce);
  // Round robin: with two messages each member gets one; m1 never acknowledges its own.
  w.core(0).publish(message("t", "x", QoS::AtLeastOnce), {});
  w.core(0).publish(message("t", "y", QoS::AtLeastOnce), {});
  w.run();
  auto got1 = payloads(m1.take());
  auto got2 = payloads(m2.take());
  REQUIRE(got1.size() == 1);
  REQUIRE(got2.size() == 1);
  m1.close();  // expiry 0: the session ends, its message goes to m2
  CHECK(payloads(m2.take()) == got1);
}

TEST_CASE("hand-over to another node and install there: subscriptions, queue and in-flight",
          "[session_manager][cluster]") {
  NodeState a_node(test_config());
  FakeWorkers a(a_node, 1);
  Client c(a, 0);
  c.connect("c", true, 300);
  c.subscribe("t", QoS::AtLeastOnce);
  a.core(0).publish(message("t", "sent", QoS::AtLeastOnce), {});
  a.run();
  REQUIRE(payloads(c.take()) == std::vector<std::string>{"sent"});  // in flight, not acked
  c.close();
  a.core(0).publish(message("t", "queued", QoS::AtLeastOnce), {});
  a.run();

  const auto sid = registered(a_node, "c").session;
  bool found = false;
  auto st = a.core(0).sessions().hand_over(sid, false, 1, found);
  a.run();
  REQUIRE(found);
  REQUIRE(st);
  CHECK(a.core(0).sessions().size() == 0);
  CHECK(a_node.broker.stats().subscriptions == 0);
  REQUIRE(st->deliveries.size() == 2);
  CHECK(st->deliveries[0].state == storage::OutState::WaitPubAck);
  CHECK(st->deliveries[1].state == storage::OutState::Queued);

  // Node B installs it when the client connects there (the cluster's Claim).
  NodeState b_node(test_config());
  FakeWorkers b(b_node, 1);
  struct Directory final : SessionDirectory {
    std::optional<SessionState> state;
    bool active() const override { return true; }
    void claim(const std::string&, bool, std::function<void(Claim)> done) override {
      Claim c;
      c.session = std::move(state);
      c.previous_owner = true;
      done(std::move(c));
    }
    void release(const std::string&) override {}
    ClaimAnswer claim_exclusive(const std::string&, const std::string&) override {
      return ClaimAnswer::Granted;
    }
    void release_exclusive(const std::string&, const std::string&) override {}
  } dir;
  dir.state = std::move(*st);
  b_node.directory = &dir;
  Client again(b, 0);
  CHECK(again.connect("c", false, 300).session_present);
  auto out = again.take();
  // The in-flight message again, with DUP and its packet id; then the queued one.
  REQUIRE(out.size() == 2);
  const auto& first = std::get<mqtt::Publish>(out[0]);
  CHECK(first.payload == "sent");
  CHECK(first.dup);
  CHECK(std::get<mqtt::Publish>(out[1]).payload == "queued");
  CHECK(b_node.broker.stats().subscriptions == 1);
  CHECK(b.core(0).metrics().session_taken_over_in.load() == 1);
}

TEST_CASE("the plain form round trip keeps what MQTT says outlives a connection",
          "[session_manager][records]") {
  Session s(1, "c");
  s.expiry_interval = 77;
  s.subscriptions["a/+"] = SubscriptionState{{QoS::ExactlyOnce, true, false, 2}, 9};
  Delivery d;
  d.msg = message("a/b", "p", QoS::ExactlyOnce);
  d.qos = QoS::ExactlyOnce;
  d.subscription_ids = {9};
  s.inflight.push_back(Inflight{d, 5, OutState::WaitPubRec, false, {}});
  Delivery pubrel;
  pubrel.qos = QoS::ExactlyOnce;
  s.inflight.push_back(Inflight{pubrel, 6, OutState::WaitPubComp, false, {}});
  s.queue.push_back(d);
  s.awaiting_rel[3] = std::chrono::steady_clock::now();

  SessionState st = to_state(s);
  Session back(2, "c");
  fill(back, std::move(st), std::chrono::steady_clock::now());
  CHECK(back.expiry_interval == 77);
  REQUIRE(back.subscriptions.size() == 1);
  CHECK(back.subscriptions["a/+"].opts == s.subscriptions["a/+"].opts);
  CHECK(back.subscriptions["a/+"].subscription_id == 9);
  REQUIRE(back.inflight.size() == 2);
  CHECK(back.inflight[0].packet_id == 5);
  CHECK(back.inflight[0].state == OutState::WaitPubRec);
  CHECK(back.inflight[0].d.msg->payload == "p");
  CHECK(back.inflight[1].state == OutState::WaitPubComp);
  CHECK(back.queue.size() == 1);
  CHECK(back.awaiting_rel.count(3) == 1);

  // Stored whole: a uid, and a seq for each QoS 1/2 delivery.
  storage::Batch b;
  std::uint64_t seq = 100;
  store_all(back, 5, b, [&] { return ++seq; });
  CHECK(back.store_uid == 101);
  CHECK(back.inflight[0].d.store_seq != 0);
  CHECK(back.queue.front().store_seq != 0);
  CHECK_FALSE(b.empty());
}

TEST_CASE("a session restored from its plain form is offline, routed and expires",
          "[session_manager][restore]") {
  NodeState node(test_config());
  FakeWorkers w(node, 1);
  auto make = [&](std::string id) {
    SessionState st;
    st.client_id = std::move(id);
    st.expiry_interval = 30;
    st.subscriptions.push_back({"t", {QoS::AtLeastOnce, false, false, 0}, 0});
    SessionState::Delivery q;
    q.msg = message("t", "kept", QoS::AtLeastOnce);
    q.qos = QoS::AtLeastOnce;
    st.deliveries.push_back(q);
    return st;
  };
  // Offline for 20 s before the restart: 10 s are left.
  w.core(0).sessions().restore(make("old"), 42, w.now() - 20s);
  w.core(0).sessions().restore(make("c"), 43, w.now());
  w.run();
  CHECK(node.broker.stats().subscriptions == 2);
  CHECK(registered(node, "c").worker == 0);
  w.advance(11s);
  CHECK_FALSE(is_registered(node, "old"));
  CHECK(w.core(0).sessions().size() == 1);
  Client c(w, 0);
  CHECK(c.connect("c", false, 30).session_present);
  CHECK(payloads(c.take()) == std::vector<std::string>{"kept"});
}

}  // namespace
TEST_CASE("a worker inbox over its byte bound holds the publishers routing to it",
          "[session_manager][backpressure]") {
  // Whatever mqtt.backpressure and the QoS: the bound keeps the node's memory, so it holds
  // everyone, and lets them go at the low mark (net/worker.hpp).
  const bool backpressure = GENERATE(false, true);
  const auto qos = GENERATE(QoS::AtMostOnce, QoS::AtLeastOnce);
  CAPTURE(backpressure, qos);
  auto cfg = test_config();
  cfg.mqtt.backpressure = backpressure;
  NodeState node(cfg);
  FakeWorkers w(node, 2);
  auto inbox = std::make_shared<broker::Pressure>(1000, 500);
  inbox->online = true;
  w.set_inbox(1, inbox);
  Client sub(w, 1);
  sub.connect("sub");
  sub.subscribe("t", qos);
  Client pub(w, 0);
  pub.connect("pub");
  auto send = [&](std::uint16_t id, std::string payload) {
    mqtt::Publish p;
    p.topic = "t";
    p.qos = qos;
    p.packet_id = qos == QoS::AtMostOnce ? 0 : id;
    p.payload = std::move(payload);
    (void)pub.send(std::move(p));
  };

  send(1, "under");
  CHECK(pub.channel.accepting_input());
  inbox->queued = 1000;  // worker 1 fell 1000 bytes behind
  send(2, "over");       // accepted, delivered; the next ones wait in the socket
  CHECK_FALSE(pub.channel.accepting_input());
  CHECK(payloads(sub.take()) == std::vector<std::string>{"under", "over"});
  w.advance(5ms);
  CHECK_FALSE(pub.channel.accepting_input());
  inbox->queued = 500;
  w.advance(5ms);
  CHECK(pub.channel.accepting_input());

  // A publish that goes to its own worker only is never held by another's inbox.
  Client local(w, 1);
  local.connect("local");
  inbox->queued = 5000;
  mqtt::Publish p;
  p.topic = "t";
  p.qos = QoS::AtMostOnce;
  p.payload = "local";
  (void)local.send(std::move(p));
  CHECK(local.channel.accepting_input());
}

}  // namespace emqxd::session::test
