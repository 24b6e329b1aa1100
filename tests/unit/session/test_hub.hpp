#pragma once
// Test fixtures for the channel tests, with no threads and no sockets
// (docs/contributing.md, "Testing", "Unit tests"):
//
//   TestHub     one node with one worker: a real NodeState (Broker, Retainer, session
//               registry) and a real WorkerCore run by FakeWorkers (fake_workers.hpp: a task
//               list and a manual clock). The core is the Hub of every TestClient's channel,
//               so sessions (open, takeover, expiry, will delay), the end-of-turn delivery
//               batches, offline queues, held publishers and the commit order are the
//               worker's own code. What a test observes comes from the core as well: its
//               sessions and metrics, the messages it was asked to publish
//               (WorkerCore::observe_publish), its timers as the clock moves (advance()),
//               and, with durable sessions, the commits of a ManualStore (manual_store.hpp)
//               that the test completes by hand (commit()).
//   TestHost    a session::ChannelHost that records what the channel asked of the
//               connection, and decodes what it wrote with take().
//   TestClient  one connection: a TestHost and its Channel, with one call per client action.
//               Each action is one event-loop turn: the packet goes in, the worker runs until
//               idle, and what this client was sent comes back decoded.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.hpp"
#include "broker/retainer.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/packets.hpp"
#include "session/channel.hpp"
#include "session/fake_workers.hpp"
#include "session/manual_store.hpp"
#include "session/node_state.hpp"
#include "session/session.hpp"
#include "session/worker_core.hpp"
#include "storage/status.hpp"

namespace emqxd::session::test {

using Packets = std::vector<mqtt::Packet>;

inline constexpr auto V311 = mqtt::ProtocolVersion::V3_1_1;
inline constexpr auto V5 = mqtt::ProtocolVersion::V5;

// One line per packet with the fields the tests look at ("PUBACK id=7 rc=0x10").
std::string describe(const mqtt::Packet& p);

class TestHub {
 public:
  using Clock = Scheduler::Clock;
  // Sets what a test needs in the configuration before the node is made: NodeState's
  // config is fixed from then on, as in the server. The base is the server's defaults,
  // with node.name "emqxd@test" and durable_sessions.enable false. With
  // durable_sessions.enable true the node is durable and its store is a ManualStore.
  using Tweak = std::function<void(config::Config&)>;

  explicit TestHub(const Tweak& tweak = {});
  ~TestHub();
  TestHub(const TestHub&) = delete;
  TestHub& operator=(const TestHub&) = delete;

  // The worker's core: the Hub of the channels.
  WorkerCore& core() { return workers_.core(0); }
  NodeState& node() { return node_; }
  const config::Config& config() const { return node_.config; }
  broker::Broker& broker() { return node_.broker; }
  broker::Retainer& retainer() { return node_.retainer; }
  metrics::Metrics& metrics() { return core().metrics(); }

  // The workers' manual clock, which moves only with advance(): that runs the timers that
  // fall due on the way (will delay, session expiry, back-pressure, 3.1.1 retry).
  Clock::time_point now() const { return workers_.now(); }
  void advance(Clock::duration d) { workers_.advance(d); }
  // One tick of the worker's back-pressure timer (every millisecond while a publisher is
  // held): releases the publishers whose subscriber caught up, went offline or stalled.
  void pressure_tick() { advance(std::chrono::milliseconds(1)); }
  // Publishers the worker holds back for a congested subscriber.
  std::size_t held_publishers() { return core().held_publishers(); }
  // Runs what the worker has to do (tasks, the end of the turn) until it is idle.
  void run() { workers_.run(); }

  // Publishes a message made by the test (a crafted receive time, say) from outside the
  // clients, as the worker's own turn, and runs the worker. Returns the sessions matched.
  std::size_t inject(mqtt::MessagePtr m);
  // A message from outside the clients: topic, payload, QoS, received now.
  std::size_t inject(std::string topic, std::string payload, mqtt::QoS qos = mqtt::QoS::AtMostOnce,
                     bool retain = false);

  // Every message the core was asked to publish (clients' messages and wills), in order;
  // the $SYS events are apart (events()).
  std::vector<mqtt::MessagePtr> published;
  // The client ids of the $SYS client events `event` ("connected", "disconnected") the
  // core published, in order (session/sys_events.hpp).
  std::vector<std::string> events(std::string_view event) const;

  // The session the node's registry holds for `client_id` (online or not), or null.
  Session* session(const std::string& client_id);
  std::size_t session_count() { return core().sessions().size(); }

  // Durable sessions (durable_sessions.enable): completes every commit the store holds
  // now with `status` (the turns' batches, in order) and runs the worker, which acts on
  // the completions. What that makes the worker commit waits for the next call.
  void commit(const storage::Status& status = {});
  // Records in the commits the store has not completed yet (0 when not durable).
  std::size_t pending_records() const { return store_ ? store_->pending_records() : 0; }

 private:
  static ManualStore* attach_store(NodeState& node);

  NodeState node_;
  ManualStore* store_;  // owned by node_.store; null when not durable
  FakeWorkers workers_;
  std::vector<std::string> sys_topics_;
};

class TestHost final : public ChannelHost {
 public:
  std::string& output() override { return out_; }
  void close() override { ++close_calls; }
  void resume_input() override { ++resume_calls; }
  void set_keepalive(std::chrono::milliseconds timeout) override { keepalives.push_back(timeout); }
  const std::string& peer() const override { return peer_; }
  std::size_t backlog() const override { return backlog_bytes; }
  std::uint16_t local_port() const override { return 1883; }

  // Decodes everything written since the last take. The bytes stay alive with the host,
  // so a decoded Publish's views remain valid. Fails the test on undecodable output.
  Packets take(mqtt::ProtocolVersion version);
  // Bytes written and not yet taken.
  std::size_t pending_bytes() const { return out_.size(); }

  std::size_t backlog_bytes = 0;  // what backlog() reports: bytes the socket has not taken
  int close_calls = 0;
  int resume_calls = 0;
  std::vector<std::chrono::milliseconds> keepalives;

 private:
  std::string out_;
  std::deque<std::string> kept_;
  std::string peer_ = "127.0.0.1:50000";
};

// What a client sends in CONNECT; the version comes from the TestClient.
struct ConnectArgs {
  std::string client_id = "c";
  bool clean_start = true;
  mqtt::Properties props{};
  std::optional<mqtt::Will> will{};
  std::uint16_t keep_alive = 60;
};

// A QoS 1 will on `topic` with payload "gone", delayed by `delay` seconds (v5).
inline mqtt::Will will(std::string topic, std::uint32_t delay = 0) {
  mqtt::Will w;
  w.topic = std::move(topic);
  w.payload = "gone";
  w.qos = mqtt::QoS::AtLeastOnce;
  if (delay != 0) w.props.will_delay_interval = delay;
  return w;
}

// CONNECT arguments for a session that outlives the connection: Clean Start 0 and, in v5,
// a Session Expiry Interval of 300 s (3.1.1 uses the configured session_expiry_interval).
inline ConnectArgs persistent(std::string client_id) {
  return ConnectArgs{.client_id = std::move(client_id),
                     .clean_start = false,
                     .props = {.session_expiry_interval = 300}};
}

class TestClient {
 public:
  TestClient(TestHub& hub, mqtt::ProtocolVersion version);
  // A client that goes out of scope has its socket closed, so that no session of the hub
  // is left pointing at its channel. The hub must outlive it (declare the hub first).
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // The client's actions. Each is one turn: the packet goes to the channel, the worker
  // runs until idle, and what this client was sent comes back (see take()).
  Packets send(mqtt::Packet p);
  Packets connect(ConnectArgs args);
  // (const char*, not std::string: a braced ConnectArgs must not look like a string.)
  Packets connect(const char* client_id, bool clean_start = true);
  // CONNECT that must be accepted: returns the CONNACK; packets after it (a resumed
  // session's) stay for the next take().
  mqtt::ConnAck connect_ok(ConnectArgs args);
  mqtt::ConnAck connect_ok(const char* client_id, bool clean_start = true);
  Packets publish(std::string_view topic, mqtt::QoS qos = mqtt::QoS::AtMostOnce,
                  std::uint16_t packet_id = 0, std::string_view payload = "x",
                  mqtt::Properties props = {}, bool retain = false);
  Packets subscribe(std::string filter, mqtt::QoS qos, std::uint16_t packet_id = 1);
  Packets subscribe(std::string filter, mqtt::SubscribeOptions opts, std::uint16_t packet_id = 1,
                    std::uint32_t subscription_id = 0);
  Packets unsubscribe(std::vector<std::string> filters, std::uint16_t packet_id = 1);
  Packets puback(std::uint16_t id) { return send(mqtt::PubAck{id, mqtt::ReasonCode::Success, {}}); }
  Packets pubrec(std::uint16_t id) { return send(mqtt::PubRec{id, mqtt::ReasonCode::Success, {}}); }
  Packets pubrel(std::uint16_t id) { return send(mqtt::PubRel{id, mqtt::ReasonCode::Success, {}}); }
  Packets pubcomp(std::uint16_t id) {
    return send(mqtt::PubComp{id, mqtt::ReasonCode::Success, {}});
  }
  Packets disconnect(mqtt::ReasonCode rc = mqtt::ReasonCode::NormalDisconnection,
                     mqtt::Properties props = {});
  // The connection is gone (socket closed, either side): the host calls handle_closed,
  // then the worker runs.
  void socket_closed();

  // Decoded output since the last take. DISCONNECT's Reason String is cleared, so that a
  // test compares the reason code alone (the raw output is host.take()).
  Packets take();

  // What a server-side close with `rc` looks like on this version: DISCONNECT for v5,
  // nothing (a plain close) for 3.1.1 [MQTT-4.13.1-1].
  Packets server_disconnect(mqtt::ReasonCode rc) const;
  // `rc` as this version's PUBACK/PUBREC/PUBREL/PUBCOMP carries it (3.1.1 has none).
  mqtt::ReasonCode ack_code(mqtt::ReasonCode rc) const;

  bool closed() const { return host.close_calls > 0; }
  bool v5() const { return version == V5; }
  Session* session() const { return channel.session(); }

  TestHub& hub;
  const mqtt::ProtocolVersion version;
  TestHost host;
  Channel channel;

 private:
  Packets leftover_;
};

// The only packet of `out`, which must be a T.
template <class T>
const T& only(const Packets& out) {
  INFO("packets: " << out.size());
  REQUIRE(out.size() == 1);
  REQUIRE(std::holds_alternative<T>(out[0]));
  return std::get<T>(out[0]);
}

// Packet `i` of `out`, which must be a T.
template <class T>
const T& nth(const Packets& out, std::size_t i) {
  REQUIRE(out.size() > i);
  REQUIRE(std::holds_alternative<T>(out[i]));
  return std::get<T>(out[i]);
}

// A PUBLISH as the tests expect it: the fields that matter, nothing else set.
mqtt::Publish publish_packet(std::string_view topic, mqtt::QoS qos, std::uint16_t packet_id,
                             std::string_view payload = "x", bool retain = false, bool dup = false);

}  // namespace emqxd::session::test

namespace Catch {
template <>
struct StringMaker<emqxd::mqtt::Packet> {
  static std::string convert(const emqxd::mqtt::Packet& p) {
    return emqxd::session::test::describe(p);
  }
};
template <>
struct StringMaker<emqxd::mqtt::ProtocolVersion> {
  static std::string convert(emqxd::mqtt::ProtocolVersion v) {
    return v == emqxd::mqtt::ProtocolVersion::V5 ? "MQTT 5" : "MQTT 3.1.1";
  }
};
template <>
struct StringMaker<emqxd::mqtt::ReasonCode> {
  static std::string convert(emqxd::mqtt::ReasonCode rc);
};
}  // namespace Catch
