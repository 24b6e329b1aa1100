#pragma once
// The MQTT side of a bridge to another messaging system (NanoMQ's ZeroMQ and NNG bridges;
// docs/gateways.md): an MQTT client inside the node, a net::Connection with no socket on
// one worker, whose channel (clean start, the bridge's client id, no authentication: the
// operator configured it) publishes what the other side brings and subscribes to what goes
// there, so that authorization, the counters, the rules and the cluster see it as any
// client. Its owner (a BridgeHandler) hears the channel's answers and what it delivers.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mqtt/packets.hpp"
#include "net/connection.hpp"

namespace emqxd::gateways {

// Called on the client's worker thread.
class BridgeHandler {
 public:
  virtual ~BridgeHandler() = default;
  virtual void on_connack(std::uint8_t code) = 0;  // 0: connected
  virtual void on_publish(const mqtt::Publish& p) = 0;
  // Kicked, refused, or the node is stopping: the owner may connect a new client.
  virtual void on_closed() = 0;
};

class BridgeClient final : public net::Connection {
 public:
  // What the channel holds for its subscribers before the bridge drops instead of queueing
  // (a congested subscriber holds the publisher; a remote authorization source is slow).
  static constexpr std::size_t kMaxPendingInput = 256 * 1024;

  BridgeClient(net::Worker& worker, std::shared_ptr<net::Admission> admission,
               std::string proto_name, std::weak_ptr<BridgeHandler> handler);

  // CONNECT as `client_id`, then SUBSCRIBE to each filter (QoS 1 at most).
  void begin(const std::string& client_id, const std::vector<std::string>& filters);
  bool congested() const { return pending_input() > kMaxPendingInput; }
  // A PUBLISH from the bridge's side; `props` for MQTT 5 properties (response topic, ...).
  void publish(std::string_view topic, std::string_view payload, int qos,
               const mqtt::Properties* props = nullptr);

  void flush() override;
  std::string_view proto_name() const override { return proto_name_; }
  std::string_view proto_ver() const override { return "5"; }

 private:
  void feed(const mqtt::Packet& p);
  void start_transport() override {}
  void read_more() override {}
  void close_transport() override;

  std::string proto_name_;
  std::weak_ptr<BridgeHandler> handler_;
  std::string scratch_;
  std::uint16_t next_id_ = 1;
};

// What the ZeroMQ and NNG bridges share: their MQTT client on one worker (connected again
// 5 s after it ends), their counters, the hand-over of what the other side brings to the
// worker (at most kMaxInFlight messages at once: past it the bridge's thread stops reading
// and the other side's own queue drops, as its pub/sub does for a slow subscriber), and the
// queue of what goes to the other side (kMaxQueued messages or kMaxQueuedBytes; past them
// the oldest goes, counted as dropped). The bridge's thread owns the other side's sockets.
class BridgeCore : public BridgeHandler, public std::enable_shared_from_this<BridgeCore> {
 public:
  static constexpr std::size_t kMaxQueued = 100000;
  static constexpr std::size_t kMaxQueuedBytes = 64 << 20;
  static constexpr std::uint64_t kMaxInFlight = 10000;

  // `key` names the bridge in logs ("gateway.zmq"); `proto` is its clients' proto_name.
  BridgeCore(net::Worker& worker, std::string key, std::string proto, std::string client_id,
             std::vector<std::string> filters);

  void connect_client();  // worker thread
  // Bridge thread: messages (topic, payload) for MQTT, published on the worker; dropped
  // and counted while the client is not connected or its channel holds input.
  void hand_over(std::vector<std::pair<std::string, std::string>> msgs, int qos);
  bool room() const { return in_flight.load() < kMaxInFlight; }
  // Worker thread: a message for the other side.
  void queue_out(std::string bytes);
  // Bridge thread: what is queued, after waiting up to `wait` for something.
  std::deque<std::string> take_out(std::chrono::milliseconds wait);
  void stop_waiting();  // any thread: take_out returns

  // --- BridgeHandler
  void on_connack(std::uint8_t code) override;
  void on_closed() override;

  net::Worker& worker;
  const std::string key;
  std::atomic<bool> stopping{false}, connected{false};
  std::atomic<std::uint64_t> received{0}, forwarded{0}, sent{0}, dropped{0};
  std::shared_ptr<BridgeClient> client;  // worker thread

 protected:
  std::mutex mutex;
  std::condition_variable wake;

 private:
  std::string proto_, client_id_;
  std::vector<std::string> filters_;
  std::shared_ptr<net::Admission> admission_;
  std::atomic<std::uint64_t> in_flight{0};
  std::deque<std::string> out_;  // guarded by mutex
  std::size_t out_bytes_ = 0;    // guarded by mutex
};

}  // namespace emqxd::gateways
