#pragma once
// Blocking HTTP/1.1 clients. http_call: one request on a connection of its own, what
// `emqxd cluster` uses to reach a node's HTTP API. HttpPool: the connections to one
// outside service (the http authenticator, a JWKS endpoint, the http authorization
// source), over TLS for https, kept open and reused (keep-alive). Both are called on
// threads that may block (the node's blocking pool, the JWKS thread). Beast lives in
// api_client.cpp only; this header includes no Boost.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace emqxd::api {

struct ClientRequest {
  std::string host = "127.0.0.1";
  std::string port = "18083";
  std::string method = "GET";
  std::string target = "/status";
  std::string username;  // HTTP Basic when not empty
  std::string password;
  std::string body;  // sent with content_type when not empty
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more header fields
  std::string user_agent = "emqxd-cli";
  std::chrono::milliseconds timeout{10'000};  // the whole exchange, connect included
};

struct ClientResponse {
  bool reached = false;  // false: no HTTP answer; `error` says why
  std::string error;     // "Connection refused", "timed out", ...
  int status = 0;
  std::string content_type;
  std::string body;
};

// Sends `request` and waits for the answer, at most request.timeout. Never throws.
ClientResponse http_call(const ClientRequest& request);

// A bounded pool of keep-alive connections to one server. A request takes an idle
// connection (or opens one while fewer than pool_size are open, or waits for one to come
// back), and the connection goes back to the pool after the answer unless the server
// closes it or the exchange failed. A kept connection that the server closed meanwhile
// fails at once on reuse: the request is sent again once on a new connection. request.host
// and request.port must be the pool's; request.timeout bounds the whole call, the wait
// for a connection included, and connect_timeout the opening of one.
//
// Threads: call() from any number of threads at once; each connection is used by one call
// at a time, on its own io_context.
class HttpPool {
 public:
  struct Options {
    std::string key;  // "authorization.sources[1]": in messages and logs
    std::string host, port;
    bool tls = false;  // https
    config::ClientSslConfig ssl;
    std::size_t pool_size = 8;
    std::chrono::milliseconds connect_timeout{15'000};
  };
  // Builds the TLS context (throws std::runtime_error naming the key and the file that
  // could not be used); opens nothing yet.
  explicit HttpPool(Options options);
  ~HttpPool();
  HttpPool(const HttpPool&) = delete;
  HttpPool& operator=(const HttpPool&) = delete;

  ClientResponse call(const ClientRequest& request);
  // Connections opened so far (a reconnection counts), for tests and logs.
  std::uint64_t connects() const { return connects_.load(std::memory_order_relaxed); }

 private:
  struct Conn;
  Conn* acquire(std::chrono::steady_clock::time_point deadline);
  void release(Conn* c);
  std::string set_server_name(void* ssl) const;  // an SSL*; empty or what went wrong

  const Options options_;
  std::shared_ptr<void> tls_;  // the asio::ssl::context (Boost stays in the .cpp)
  std::mutex mutex_;
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Conn>> conns_;  // guarded by mutex_; at most pool_size
  std::vector<Conn*> idle_;                   // guarded by mutex_; the last used on top
  std::atomic<std::uint64_t> connects_{0};
};

}  // namespace emqxd::api
