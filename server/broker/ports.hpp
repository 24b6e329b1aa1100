#pragma once
// What the broker needs from the world around it (STYLE.md section 2). The cluster
// implements RouteSink and Forwarder; app/ wires them in. Null means single node.
#include <cstdint>
#include <string_view>

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

// Told when this node gains its first or loses its last subscriber of a filter, so that
// peers can route matching publishes here. Called under the broker's write lock, from any
// worker thread: implementations must only enqueue.
class RouteSink {
 public:
  virtual ~RouteSink() = default;
  virtual void add(std::string_view filter) = 0;
  virtual void remove(std::string_view filter) = 0;
};

}  // namespace emqxd::broker
