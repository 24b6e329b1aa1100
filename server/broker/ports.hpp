#pragma once
// What the broker needs from the world around it (docs/architecture.md, "The link
// graph": dependencies point one way). The cluster implements RouteSink and Forwarder;
// app/ wires them in. Null means single node.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "broker/pressure.hpp"
#include "mqtt/message.hpp"

namespace emqxd::broker {

// Where a local subscriber lives: the worker thread that owns its session, and the
// session's node-unique serial. Copied freely; never dereferenced off its worker.
struct SubscriberRef {
  std::uint32_t worker = 0;
  std::uint64_t session = 0;
  bool operator==(const SubscriberRef&) const = default;
  auto operator<=>(const SubscriberRef&) const = default;
};

// Another node of the cluster, numbered by the cluster for the life of this process
// (1, 2, ...; 0 is none). The broker keeps a copy of each peer's routes under its index.
using NodeIndex = std::uint16_t;

// Told when this node gains its first or loses its last local subscriber of a route: a
// filter's plain subscribers (group empty) or the members of one shared group of a filter,
// so that peers can route matching publishes here. Called under the broker's write lock,
// from any worker thread: implementations must only enqueue.
class RouteSink {
 public:
  virtual ~RouteSink() = default;
  virtual void add(std::string_view filter, std::string_view group) = 0;
  virtual void remove(std::string_view filter, std::string_view group) = 0;
};

// A delivery for one session that moved to the peer (a takeover) while the delivery was
// on its way to this node: the peer gives it to that session as it was meant.
struct SessionTarget {
  std::string client_id;
  mqtt::QoS qos = mqtt::QoS::AtMostOnce;  // of the delivery
  bool retain = false;                    // the RETAIN flag to send
  std::vector<std::uint32_t> subscription_ids;
};

// One message for one peer: for its plain subscribers (direct), for the shared groups this
// node picked the peer for (shares, "$share/<group>/<filter>"), for its retainer, and/or
// for one session that moved there (to_session).
struct ForwardItem {
  mqtt::MessagePtr msg;
  bool direct = false;
  std::vector<std::shared_ptr<const std::string>> shares;
  bool store_retained = false;
  std::shared_ptr<const SessionTarget> to_session;
};

// How a worker tells the cluster what became of the messages of a peer it was handed
// (Worker::post_from_peer): `routed` more were routed; `congested`, when set, is a local
// subscriber that asks the peer to wait (mqtt.backpressure).
using PeerReport = std::function<void(std::int64_t routed, std::shared_ptr<Pressure> congested)>;

// Takes messages to peers. The cluster implements it; Worker calls it at the end of a turn.
class Forwarder {
 public:
  virtual ~Forwarder() = default;
  // Any worker thread; never blocks on the network. `items` reach `node` in the order
  // given, after what this worker forwarded to it before.
  virtual void forward(NodeIndex node, std::vector<ForwardItem>&& items) = 0;
  // The peers a retained message must reach (every live peer), appended to `out`. Any
  // thread.
  virtual void peers(std::vector<NodeIndex>& out) const = 0;
  // mqtt.backpressure: the link to `node` when it is so far behind that a QoS 1/2
  // publisher sending there must wait (Pressure, as a slow local subscriber's); else null.
  // Any worker thread.
  virtual std::shared_ptr<Pressure> congestion(NodeIndex node) const = 0;
};

}  // namespace emqxd::broker
