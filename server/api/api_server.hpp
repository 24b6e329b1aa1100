#pragma once
// ApiServer: the node's HTTP API listener (EMQX's port 18083), on a thread and io_context
// of its own so that admin traffic never runs on an MQTT worker. HTTP/1.1 with
// keep-alive; every whole request goes to the Handler on that thread, which answers it
// (api/router.hpp). Beast lives in api_server.cpp only; this header includes no Boost.
//
// Requests are read and answered on that thread; the Handler runs on a small pool of
// handler threads (handler_threads), so that what is slow in it (a password hash, a
// cluster join waiting for its peer) never stops the server from accepting, reading and
// timing out other connections. A connection has at most one request in the Handler.
//
// Limits, so that no client can make it hold much: a request header of at most 8 KiB and
// a body of at most 1 MiB (else 400 and close); a request header whole within
// header_timeout (5 s) of its first byte, or of the connection's start, however it
// trickles in (else the connection is closed); a body within idle_timeout; a keep-alive
// connection idle for idle_timeout (30 s) is closed. At most 64 connections at once: one
// more makes room by closing the connection that has waited longest for its request
// (reading a header or a body, or idle between requests), never one whose request is
// being answered; when every one is being answered, the new one is closed. So clients
// that send slowly, or not at all, can delay others by header_timeout at most. Malformed
// HTTP gets 400 and the connection is closed.
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "api/http.hpp"

namespace emqxd::api {

struct ServerOptions {
  std::string name = "http:dashboard";                     // in errors and log lines
  std::string bind = "0.0.0.0:18083";                      // HOST:PORT, as the config writes it
  std::string bind_key = "dashboard.listeners.http.bind";  // named in a bind error
  std::size_t max_connections = 64;
  std::size_t header_limit = 8 * 1024;
  std::size_t body_limit = 1024 * 1024;
  std::chrono::milliseconds idle_timeout{30'000};
  std::chrono::milliseconds header_timeout{5'000};
  unsigned handler_threads = 2;
};

// Called on a handler thread for each request, on several threads at once. It should not
// throw; if it does, the client gets 500 and the server carries on.
using Handler = std::function<Response(const Request&)>;

class ApiServer {
 public:
  // Binds and listens now: throws std::runtime_error naming the listener, the config key
  // and the address when it cannot.
  ApiServer(ServerOptions options, Handler handler);
  ~ApiServer();  // stop()
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Starts the thread; connections are accepted from then on.
  void start();
  // Closes the listener and every connection, then joins the thread and the handler pool
  // (a Handler still running finishes first). Idempotent; not from a Handler.
  void stop();

  unsigned short port() const;
  // The bound address, "HOST:PORT" ("0.0.0.0:18083", "[::1]:18083").
  const std::string& address() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace emqxd::api
