#pragma once
// Listener: one MQTT/TCP listener (listeners.tcp.<name>). An acceptor per worker on the
// same port with SO_REUSEPORT, so the kernel spreads connections over the workers and a
// connection lives on the worker that accepted it; an address another process listens on
// is refused ("Address already in use"), never shared. Refuses cleanly past max_connections,
// max_conn_rate or max_conn_per_ip (net/admission.hpp) or when the process is out of file
// descriptors, and keeps serving everyone else.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace emqxd::net {

class Admission;
class Connection;
class Worker;

class Listener {
 public:
  // What an accepted socket becomes: by default an MQTT connection of the listener's type;
  // a gateway over TCP (STOMP) makes its own, and starts it itself when it returns none.
  using Factory = std::function<std::shared_ptr<Connection>(Worker&, boost::asio::ip::tcp::socket,
                                                            std::shared_ptr<Admission>)>;

  // Binds now (throws std::runtime_error naming the listener and address on failure).
  // `id_prefix` goes before "type:name" in messages ("stomp:").
  Listener(const config::ListenerConfig& cfg, const std::vector<Worker*>& workers,
           Factory factory = nullptr, const std::string& id_prefix = "");
  ~Listener();
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  void start();  // begins accepting on every worker
  // Any thread: closes the acceptors (new connections are refused; the open ones carry on).
  // With `wait`, returns once every worker has closed its acceptor (at most 2 s): the port
  // is free again.
  void stop(bool wait = false);
  // Any thread, after stop(): binds the same address and port again and accepts; "" when
  // it listens, else why not. Nothing to do when it is running.
  std::string resume();
  bool running() const;
  unsigned short port() const { return port_; }
  // The bound address, "HOST:PORT" ("0.0.0.0:1883", "[::]:1883").
  const std::string& address() const { return address_; }
  const std::string& name() const { return name_; }
  std::uint32_t connections() const;
  std::uint32_t max_connections() const;  // listeners.<type>.<name>.max_connections

 private:
  struct Acceptor;
  struct Setup;
  void bind_acceptors();  // throws std::runtime_error naming the listener and address

  std::vector<Worker*> workers_;
  std::string bind_;  // as configured, for messages
  std::shared_ptr<Setup> setup_;
  std::string name_;
  unsigned short port_ = 0;
  std::string address_;
  std::shared_ptr<Admission> admission_;  // max_connections, max_conn_rate, max_conn_per_ip
  mutable std::mutex mutex_;              // guards acceptors_, running_
  std::vector<std::shared_ptr<Acceptor>> acceptors_;  // empty while stopped
  bool running_ = true;
};

}  // namespace emqxd::net
