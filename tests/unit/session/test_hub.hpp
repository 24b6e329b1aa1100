#pragma once
// Test doubles for the channel tests, with no threads and no sockets
// (docs/contributing.md, "Testing", "Unit tests"):
//
//   TestHub     a session::Hub with a real Broker and Retainer and one worker (id 0), for
//               the channel's own rules. It keeps sessions by client id in a simplified
//               copy of what session::SessionManager does and batches deliveries as
//               WorkerCore does at the end of a turn: publish() queues them, flush() hands
//               them to the target channel or the offline session's queue. The session
//               life itself (takeover, timers, hand-over) is tested on the real core with
//               FakeWorkers (fake_workers.hpp, session_manager_test.cpp).
//   TestHost    a session::ChannelHost that records what the channel asked of the
//               connection, and decodes what it wrote with take().
//   TestClient  one connection: a TestHost and its Channel, with one call per client action.
//               Each action is one event-loop turn: the packet goes in, the hub flushes, and
//               what this client was sent comes back decoded.
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth/auth.hpp"
#include "broker/broker.hpp"
#include "broker/retainer.hpp"
#include "config/config.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/packets.hpp"
#include "session/channel.hpp"
#include "session/hub.hpp"
#include "session/session.hpp"
#include "storage/batch.hpp"
#include "storage/status.hpp"

namespace emqxd::session::test {

using Packets = std::vector<mqtt::Packet>;

inline constexpr auto V311 = mqtt::ProtocolVersion::V3_1_1;
inline constexpr auto V5 = mqtt::ProtocolVersion::V5;

// One line per packet with the fields the tests look at ("PUBACK id=7 rc=0x10").
std::string describe(const mqtt::Packet& p);

class TestHub final : public Hub {
 public:
  TestHub();
  ~TestHub() override;

  // Tweak before the clients connect; the channel reads it on every packet.
  config::Config cfg;
  metrics::Metrics counters;
  broker::Broker broker_{broker::SharedStrategy::RoundRobin};
  broker::Retainer retainer_;
  auth::AllowAll allow_all;

  // Every message publish() was asked to route (application messages and wills), in order.
  std::vector<mqtt::MessagePtr> published;
  struct Closed {
    const Channel* channel;
    std::string client_id;
    bool had_session;
  };
  std::vector<Closed> closed;  // channel_closed() calls, in order

  // Hands the deliveries queued by publish() to their sessions: to the channel when it is
  // connected (Channel::deliver), to the session's queue otherwise (as the worker does,
  // with its drop counters). The end of the worker's event-loop turn.
  void flush();
  // publish() then flush(), for a message made by the test (a crafted receive time, say).
  std::size_t inject(mqtt::MessagePtr m);
  // A message from outside the clients: topic, payload, QoS, received now.
  std::size_t inject(std::string topic, std::string payload, mqtt::QoS qos = mqtt::QoS::AtMostOnce,
                     bool retain = false);

  Session* session(const std::string& client_id) const;
  std::size_t session_count() const { return sessions_.size(); }
  // The offline timers of the worker, fired by hand: the will delay of `client_id` ended
  // (its pending will is published), or its session expired (discarded).
  void end_will_delay(const std::string& client_id);
  void expire(const std::string& client_id);

  // session::Hub
  const config::Config& config() const override { return cfg; }
  broker::Broker& broker() override { return broker_; }
  broker::Retainer& retainer() override { return retainer_; }
  auth::Authenticator& authenticator() override { return allow_all; }
  auth::Authorizer& authorizer() override { return allow_all; }
  metrics::Metrics& metrics() override { return counters; }
  std::uint32_t worker_id() const override { return 0; }
  const std::string& node_name() const override { return cfg.node.name; }
  mqtt::Message::Clock::time_point now() const override {
    return frozen_now ? *frozen_now : mqtt::Message::Clock::now();
  }
  // Stops the hub's clock (at the real time on first use) and moves it on by `d`.
  void advance(std::chrono::milliseconds d) {
    if (!frozen_now) frozen_now = mqtt::Message::Clock::now();
    *frozen_now += d;
  }
  std::optional<mqtt::Message::Clock::time_point> frozen_now;
  PublishResult publish(const mqtt::MessagePtr& m, std::string_view publisher_client_id) override;
  void hold(Channel& ch, std::shared_ptr<broker::Pressure> p) override;
  // Publishers held back by a congested subscriber, as the worker keeps them.
  struct Held {
    std::shared_ptr<broker::Pressure> by;
    mqtt::Message::Clock::time_point since;
  };
  std::map<Channel*, Held> held;
  // The worker's hold timer, fired by hand: releases those no longer held back.
  void release_held();
  void open_session(Channel& ch, const std::string& client_id, bool clean_start) override;
  void channel_closed(Channel& ch, Session* session) override;
  void watch_retry(Channel& ch) override { retry_watch.insert(&ch); }
  std::set<const Channel*> retry_watch;  // channels that asked for retry ticks
  std::string assign_client_id() override;
  void subscribed(const Channel&, std::string_view filter, const mqtt::SubscribeOptions&) override {
    subscribe_events.emplace_back(filter);
  }
  void unsubscribed(const Channel&, std::string_view filter) override {
    unsubscribe_events.emplace_back(filter);
  }
  std::vector<std::string> subscribe_events, unsubscribe_events;
  // Durable sessions: off unless a test sets `durable`; then records go into `batch` and
  // commit(status) plays the worker's end of turn and the store's completion.
  bool durable = false;
  std::unique_ptr<storage::Batch> batch = std::make_unique<storage::Batch>();
  storage::Batch* store_batch() override { return durable ? batch.get() : nullptr; }
  std::uint64_t next_store_seq() override { return ++store_seq_; }
  std::uint64_t await_commit(Channel& ch, const mqtt::Message* published) override;
  void commit(const storage::Status& status);
  std::map<Channel*, std::uint64_t> commit_waiters;
  std::uint64_t ticket = 1;

 private:
  Session* create(const std::string& client_id);
  // Ends a session: unsubscribes it and publishes its pending will [MQTT-3.1.3-9].
  void discard(const std::string& client_id);
  Session* by_id(std::uint64_t sid) const;

  std::map<std::string, std::unique_ptr<Session>> sessions_;
  std::vector<Delivery> outbox_;
  std::vector<broker::Match> matches_;
  std::uint64_t next_session_ = 1;
  std::uint64_t next_client_ = 1;
  std::uint64_t store_seq_ = 0;
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

  // The client's actions. Each is one turn: the packet goes to the channel, the hub
  // flushes, and what this client was sent comes back (see take()).
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
  // The connection is gone (socket closed, either side): the host calls handle_closed.
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
