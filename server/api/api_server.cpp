// The HTTP API server: an acceptor and its connections on one thread and io_context,
// Beast's HTTP/1.1 parser and serializer. The only file of the API that sees Beast
// (Beast and Asio themselves are compiled once, in net/asio_impl.cpp).
//
// A connection reads a header (at most header_limit bytes, whole within header_timeout),
// answers "100 Continue" when the client waits for it, reads the body (at most body_limit,
// within idle_timeout), hands the request to the Handler on the handler pool, writes the
// answer when the pool posts it back and, with keep-alive, waits up to idle_timeout for
// the next request's first byte. Beast's tcp_stream deadline is one point in time for
// every read of an operation, not a time per read, so a header sent a byte at a time still
// has header_timeout in all. A request Beast cannot parse, or one over a limit, gets 400
// and the connection is closed; before closing, what the client still sends is read and
// dropped for a moment (bounded), so that the 400 is not lost to a TCP reset.
#include "api/api_server.hpp"

#include <pthread.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>
#include <unordered_set>
#include <vector>

#include "api/credentials.hpp"
#include "common/log.hpp"

namespace emqxd::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("api");
  return l;
}

// How long, and how much, a closing connection reads and drops after its last answer.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr std::size_t kLingerBytes = 4 * 1024 * 1024;
constexpr std::size_t kLingerChunk = 16 * 1024;

// "0.0.0.0:18083", "[::1]:18083" -> an endpoint; nullopt when it is not one.
std::optional<tcp::endpoint> parse_bind(const std::string& bind) {
  auto colon = bind.rfind(':');
  std::string host = colon == std::string::npos ? "0.0.0.0" : bind.substr(0, colon);
  std::string port = colon == std::string::npos ? bind : bind.substr(colon + 1);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec || port.empty() || port.size() > 5 ||
      port.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  int p = std::stoi(port);
  if (p > 65535) return std::nullopt;
  return tcp::endpoint(addr, static_cast<unsigned short>(p));
}

std::string endpoint_text(const tcp::endpoint& ep) {
  std::string host = ep.address().to_string();
  if (ep.address().is_v6()) host = "[" + host + "]";
  return host + ":" + std::to_string(ep.port());
}

bool is_loopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();  // 127.0.0.0/8, ::1
}

std::string size_text(std::size_t n) {
  if (n % (1024 * 1024) == 0) return std::to_string(n / (1024 * 1024)) + " MiB";
  if (n % 1024 == 0) return std::to_string(n / 1024) + " KiB";
  return std::to_string(n) + " bytes";
}

Response error_answer(int status, std::string_view code, const std::string& message) {
  Response r;
  r.status = status;
  // The router's JSON writer is not needed for these fixed shapes; messages hold no '"'.
  r.body = "{\"code\":\"" + std::string(code) + "\",\"message\":\"" + message + "\"}";
  return r;
}

class Session;

// What the connections share with the server; outlives every connection.
struct Shared {
  Shared(ServerOptions o, Handler h)
      : options(std::move(o)), handler(std::move(h)), pool(std::max(1u, options.handler_threads)) {}
  ServerOptions options;
  Handler handler;
  std::unordered_set<Session*> sessions;  // open connections; API thread only
  asio::thread_pool pool;                 // runs the Handler
};

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(Shared& shared, tcp::socket socket)
      : shared_(shared),
        stream_(std::move(socket)),
        buffer_(shared.options.header_limit + shared.options.body_limit + kLingerChunk) {
    error_code ec;
    auto ep = stream_.socket().remote_endpoint(ec);
    peer_ = ec ? std::string("?") : endpoint_text(ep);
    address_ = ec ? std::string("?") : ep.address().to_string();
    loopback_ = !ec && is_loopback(ep.address());
    shared_.sessions.insert(this);
  }
  ~Session() { shared_.sessions.erase(this); }
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  void start() { read_header(); }

  // API thread: whether the connection waits for its client (a header, a body, or the next
  // request), and since when; one that does may be closed to make room for a new one.
  bool waiting() const { return !busy_; }
  std::chrono::steady_clock::time_point waiting_since() const { return since_; }

  // API thread: ends the connection; pending operations complete with an error.
  void close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }

 private:
  const ServerOptions& options() const { return shared_.options; }

  void read_header() {
    busy_ = false;
    since_ = std::chrono::steady_clock::now();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(options().header_limit));
    parser_->body_limit(static_cast<std::uint64_t>(options().body_limit));
    stream_.expires_after(options().header_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_header(ec); });
  }

  // Keep-alive: up to idle_timeout for the next request's first byte, then header_timeout
  // for the rest of its header.
  void await_next() {
    if (buffer_.size() > 0) return read_header();  // pipelined: it is already here
    busy_ = false;
    since_ = std::chrono::steady_clock::now();
    stream_.expires_after(options().idle_timeout);
    stream_.async_read_some(buffer_.prepare(kLingerChunk),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              if (ec) return self->close();
                              self->buffer_.commit(n);
                              self->read_header();
                            });
  }

  void on_header(error_code ec) {
    if (ec) return on_read_error(ec);
    const auto& req = parser_->get();
    // curl and others wait for this before they send a body.
    if (req.version() >= 11 && !parser_->is_done() &&
        beast::iequals(req[http::field::expect], "100-continue")) {
      auto cont = std::make_shared<http::response<http::empty_body>>(http::status::continue_,
                                                                     req.version());
      stream_.expires_after(options().idle_timeout);
      http::async_write(stream_, *cont,
                        [self = shared_from_this(), cont](error_code e, std::size_t) {
                          if (e) return self->close();
                          self->read_body();
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    stream_.expires_after(options().idle_timeout);
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](error_code ec, std::size_t) { self->on_request(ec); });
  }

  void on_request(error_code ec) {
    if (ec) return on_read_error(ec);
    busy_ = true;
    stream_.expires_never();  // the Handler may take a while; the write sets its own
    auto req = parser_->release();
    Request r;
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    if (auto it = req.find(http::field::accept); it != req.end()) {
      r.accept = std::string(it->value());
    }
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      r.authorization = std::string(it->value());
    }
    r.body = std::move(req.body());
    r.peer = peer_;
    r.address = address_;
    r.loopback = loopback_;
    const unsigned version = req.version();
    const bool keep_alive = req.keep_alive();
    // The pool's task holds no reference once it has posted the answer back: the
    // connection is only ever released on the API thread.
    asio::post(shared_.pool, [self = shared_from_this(), r = std::move(r), version,
                              keep_alive]() mutable {
      Response res;
      try {
        res = self->shared_.handler(r);
      } catch (const std::exception& e) {
        logger()->error("HTTP API {} {} failed: {}", r.method, r.target.substr(0, 200), e.what());
        res = error_answer(500, "INTERNAL_ERROR", "internal error");
      }
      wipe(r.authorization);
      logger()->debug("HTTP API {} {} -> {} peer={}", r.method, r.target.substr(0, 200), res.status,
                      self->peer_);
      auto executor = self->stream_.get_executor();
      asio::post(executor, [self = std::move(self), res = std::move(res), version, keep_alive] {
        self->write(res, version, keep_alive);
      });
    });
  }

  void on_read_error(error_code ec) {
    // The client went away, the socket failed, or the client stayed silent too long:
    // nothing to answer.
    static const auto& http_errors = http::make_error_code(http::error::end_of_stream).category();
    if (ec.category() != http_errors || ec == http::error::end_of_stream ||
        ec == http::error::partial_message) {
      if (ec == http::error::partial_message || ec == beast::error::timeout) {
        logger()->debug("HTTP API connection peer={} closed: {}", peer_, ec.message());
      }
      return close();
    }
    std::string why;
    if (ec == http::error::header_limit) {
      why = "request header larger than " + size_text(options().header_limit);
    } else if (ec == http::error::body_limit) {
      why = "request body larger than " + size_text(options().body_limit);
    } else if (ec == http::error::buffer_overflow) {
      why = "request too large";
    } else {
      why = "malformed HTTP request (" + ec.message() + ")";
    }
    logger()->debug("HTTP API peer={}: {}", peer_, why);
    write(error_answer(400, "BAD_REQUEST", why), 11, false);
  }

  void write(const Response& res, unsigned version, bool keep_alive) {
    busy_ = true;
    auto msg = std::make_shared<http::response<http::string_body>>();
    msg->version(version);
    msg->result(static_cast<unsigned>(res.status));
    msg->set(http::field::server, "emqxd");
    msg->set(http::field::content_type, res.content_type);
    msg->set("X-Content-Type-Options", "nosniff");
    // The dashboard's page: its own scripts and styles only, never framed by another site.
    if (res.content_type.starts_with("text/html")) {
      msg->set("Content-Security-Policy",
               "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'");
      msg->set(http::field::cache_control, "no-cache");
    }
    if (res.challenge) msg->set(http::field::www_authenticate, "Basic realm=\"emqxd\"");
    if (!res.allow.empty()) msg->set(http::field::allow, res.allow);
    if (res.retry_after > 0) msg->set(http::field::retry_after, std::to_string(res.retry_after));
    if (!res.content_disposition.empty())
      msg->set(http::field::content_disposition, res.content_disposition);
    msg->body() = res.body;
    msg->keep_alive(keep_alive);
    msg->prepare_payload();
    stream_.expires_after(options().idle_timeout);
    http::async_write(stream_, *msg, [self = shared_from_this(), msg](error_code ec, std::size_t) {
      if (ec) return self->close();
      if (!msg->keep_alive()) return self->linger();
      self->await_next();
    });
  }

  void linger() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    buffer_.clear();
    stream_.expires_after(kLingerTime);
    drain();
  }

  void drain() {
    stream_.async_read_some(buffer_.prepare(kLingerChunk),
                            [self = shared_from_this()](error_code ec, std::size_t n) {
                              self->lingered_ += n;
                              if (ec || self->lingered_ > kLingerBytes) return self->close();
                              self->drain();
                            });
  }

  Shared& shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string peer_;
  std::string address_;
  bool loopback_ = false;
  bool busy_ = false;  // a request in the Handler or an answer being written
  std::chrono::steady_clock::time_point since_{};
  std::size_t lingered_ = 0;
};

}  // namespace

struct ApiServer::Impl {
  Impl(ServerOptions o, Handler h) : shared(std::move(o), std::move(h)) {}

  void accept() {
    acceptor.async_accept([this](error_code ec, tcp::socket socket) {
      if (!acceptor.is_open()) return;
      std::uint64_t suppressed = 0;
      if (ec) {
        // Out of descriptors or the like: back off briefly; open connections carry on.
        if (warnings.allow(std::chrono::steady_clock::now(), suppressed)) {
          logger()->warn("listener {} accept failed: {} ({} more suppressed)", shared.options.name,
                         ec.message(), suppressed);
        }
        backoff.expires_after(std::chrono::milliseconds(100));
        backoff.async_wait([this](error_code e) {
          if (!e) accept();
        });
        return;
      }
      if (shared.sessions.size() >= shared.options.max_connections) make_room();
      if (shared.sessions.size() >= shared.options.max_connections) {
        if (warnings.allow(std::chrono::steady_clock::now(), suppressed)) {
          logger()->warn(
              "listener {}: {} connections open, all being answered; closing a new one ({} more "
              "suppressed)",
              shared.options.name, shared.sessions.size(), suppressed);
        }
        error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<Session>(shared, std::move(socket))->start();
      }
      accept();
    });
  }

  // At the connection limit: closes the connection that has waited longest for its client,
  // if any waits (a slow or silent client, or an idle keep-alive).
  void make_room() {
    Session* oldest = nullptr;
    for (Session* s : shared.sessions) {
      if (s->waiting() && (oldest == nullptr || s->waiting_since() < oldest->waiting_since())) {
        oldest = s;
      }
    }
    if (oldest == nullptr) return;
    std::uint64_t suppressed = 0;
    if (evictions.allow(std::chrono::steady_clock::now(), suppressed)) {
      logger()->warn(
          "listener {}: {} connections open; closing the one waiting longest for its client to "
          "make room ({} more suppressed)",
          shared.options.name, shared.sessions.size(), suppressed);
    }
    oldest->close();
    // Its handlers run later; until they do it still counts, so it leaves the set now.
    shared.sessions.erase(oldest);
  }

  // Declared first: connections that outlive the loop are destroyed with `io` and still
  // find it.
  Shared shared;
  log::Throttle warnings{1};
  log::Throttle evictions{1};
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  asio::steady_timer backoff{io};
  unsigned short port = 0;
  std::string address;  // bound, HOST:PORT
  std::thread thread;
  std::future<void> finished;
};

ApiServer::ApiServer(ServerOptions options, Handler handler)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(handler))) {
  const ServerOptions& o = impl_->shared.options;
  auto fail = [&](const std::string& why) {
    throw std::runtime_error("listener " + o.name + " (" + o.bind_key + "): " + why);
  };
  auto ep = parse_bind(o.bind);
  if (!ep) fail("bad bind address '" + o.bind + "'");
  auto& a = impl_->acceptor;
  error_code ec;
  a.open(ep->protocol(), ec);
  if (!ec) a.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) a.bind(*ep, ec);
  if (!ec) a.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) fail("cannot listen on " + o.bind + ": " + ec.message());
  auto local = a.local_endpoint(ec);
  impl_->port = local.port();
  impl_->address = endpoint_text(local);
}

ApiServer::~ApiServer() {
  stop();
}

void ApiServer::start() {
  if (impl_->thread.joinable()) return;
  std::promise<void> finished;
  impl_->finished = finished.get_future();
  impl_->accept();
  impl_->thread = std::thread([impl = impl_.get(), done = std::move(finished)]() mutable {
    pthread_setname_np(pthread_self(), "emqxd-api");
    // A handler that throws must not take the node down with this thread.
    while (true) {
      try {
        impl->io.run();
        break;
      } catch (const std::exception& e) {
        logger()->error("HTTP API: {}", e.what());
      }
    }
    done.set_value();
  });
}

void ApiServer::stop() {
  Impl& impl = *impl_;
  if (!impl.thread.joinable()) {
    error_code ignored;
    impl.acceptor.close(ignored);
    return;
  }
  asio::post(impl.io, [&impl] {
    error_code ignored;
    impl.acceptor.close(ignored);
    impl.backoff.cancel();
    std::vector<Session*> open(impl.shared.sessions.begin(), impl.shared.sessions.end());
    for (auto* s : open)
      s->close();
  });
  // With everything closed the loop runs out of work and returns; a handler stuck in a
  // slow ClusterControl is given a moment, then the loop is stopped.
  if (impl.finished.wait_for(std::chrono::seconds(2)) != std::future_status::ready) {
    impl.io.stop();
  }
  impl.thread.join();
  // A Handler still running (a join waiting for its peer) finishes; its answer is posted
  // to a loop that no longer runs and is dropped with it.
  impl.shared.pool.join();
}

unsigned short ApiServer::port() const {
  return impl_->port;
}

const std::string& ApiServer::address() const {
  return impl_->address;
}

}  // namespace emqxd::api
