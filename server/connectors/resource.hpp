#pragma once
// What a connector and an action's sender are to the buffer workers that drive them
// (EMQX's emqx_resource): a connector holds the connections to an outside service and says
// whether it can reach it; an action's Sender turns a batch of the rules' outputs into
// requests on those connections.
//
// A send's outcome decides what the buffer worker does (EMQX's classification): Ok, the
// batch is done (success); Recoverable (the service is down, busy, timed out: 429, 503, a
// refused connection), the batch is kept and sent again every resume_interval until it
// succeeds or its request_ttl passes (dropped.expired); Unrecoverable (the service said no:
// a 4xx, a SQL error), the batch is done (failed).
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace emqxd::connectors {

enum class Status { Connected, Connecting, Disconnected, Stopped };
std::string_view status_name(Status s);  // "connected", ...

struct SendResult {
  enum Kind { Ok, Recoverable, Unrecoverable };
  Kind kind = Ok;
  std::string reason;  // for the log and status_reason
  static SendResult ok() { return {}; }
  static SendResult retry(std::string why) { return {Recoverable, std::move(why)}; }
  static SendResult fail(std::string why) { return {Unrecoverable, std::move(why)}; }
};

// One action's way of sending on its connector. Called by the action's buffer workers,
// each with its own Sender (make_sender), so that a Sender needs no lock of its own.
class Sender {
 public:
  virtual ~Sender() = default;
  // Sends the rules' outputs of `batch` (each a JSON object); blocks at most `timeout`.
  virtual SendResult send(const std::vector<boost::json::object>& batch,
                          std::chrono::milliseconds timeout) = 0;
};

// Makes one buffer worker's Sender; called once for each worker of an action.
using SenderFactory = std::function<std::unique_ptr<Sender>()>;

class Connector {
 public:
  virtual ~Connector() = default;
  // Whether the service answers (EMQX's health check); blocks at most `timeout`. `reason`
  // says what went wrong when it is not Connected. Any thread.
  virtual Status health_check(std::chrono::milliseconds timeout, std::string& reason) = 0;
  // The Senders of action `a` (of this connector's type), which share this connector's
  // connections. Throws std::runtime_error when `a` cannot run on it.
  virtual SenderFactory senders(const config::ActionConfig& a) = 0;
  // The sources on this connector (EMQX 5's sources.<type>.<name>), all of them, each time
  // they change; what they receive goes to the rules. Types without sources ignore it.
  virtual void set_sources(const std::vector<config::SourceConfig>& sources) { (void)sources; }
};

// Makes the running connector of a definition (connectors/types.hpp: the node's).
using ConnectorFactory = std::function<std::unique_ptr<Connector>(const config::ConnectorConfig&)>;

}  // namespace emqxd::connectors
