// The blocking client of api_client.hpp. Asio's synchronous calls cannot time out, so the
// exchange is asynchronous on a private io_context that this call runs until it is done
// or the deadline passes (beast::tcp_stream's expiry).
#include "api/api_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "api/credentials.hpp"
#include "common/log.hpp"
#include "net/stream_connection.hpp"

namespace emqxd::api {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

constexpr std::uint64_t kMaxAnswer = 64 * 1024 * 1024;

std::string why(const error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  if (ec == http::error::end_of_stream || ec == asio::error::eof) {
    return "the connection was closed before an answer";
  }
  return ec.message();
}

http::request<http::string_body> make_request(const ClientRequest& request, bool keep_alive) {
  http::request<http::string_body> req;
  req.method_string(request.method);
  req.target(request.target);
  req.version(11);
  std::string host = request.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  req.set(http::field::host, host + ":" + request.port);
  req.set(http::field::user_agent, request.user_agent);
  req.set(http::field::accept, "application/json");
  for (const auto& [name, value] : request.headers)
    req.set(name, value);
  if (!request.username.empty()) {
    std::string pair = request.username + ":" + request.password;
    req.set(http::field::authorization, "Basic " + base64_encode(pair));
    wipe(pair);
  }
  if (!request.body.empty()) req.set(http::field::content_type, request.content_type);
  req.body() = request.body;
  req.keep_alive(keep_alive);
  req.prepare_payload();
  return req;
}

}  // namespace

ClientResponse http_call(const ClientRequest& request) {
  ClientResponse out;
  try {
    asio::io_context io{1};
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    http::request<http::string_body> req = make_request(request, false);
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswer);

    error_code failure;
    auto fail = [&](const error_code& ec) {
      failure = ec;
      error_code ignored;
      stream.socket().close(ignored);
    };
    const auto deadline = std::chrono::steady_clock::now() + request.timeout;
    auto left = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
    };
    resolver.async_resolve(
        request.host, request.port,
        [&](const error_code& ec, const tcp::resolver::results_type& results) {
          if (ec) return fail(ec);
          stream.expires_after(left());
          stream.async_connect(results, [&](const error_code& cec, const tcp::endpoint&) {
            if (cec) return fail(cec);
            stream.expires_after(left());
            http::async_write(stream, req, [&](const error_code& wec, std::size_t) {
              if (wec) return fail(wec);
              stream.expires_after(left());
              http::async_read(stream, buffer, parser, [&](const error_code& rec, std::size_t) {
                if (rec) return fail(rec);
                out.reached = true;
              });
            });
          });
        });
    // A resolver has no expiry of its own; the loop is bounded anyway.
    io.run_for(request.timeout + std::chrono::seconds(1));
    if (!out.reached) {
      out.error = failure ? why(failure) : "timed out";
      return out;
    }
    auto res = parser.release();
    out.status = static_cast<int>(res.result_int());
    out.content_type = std::string(res[http::field::content_type]);
    out.body = std::move(res.body());
  } catch (const std::exception& e) {
    out = ClientResponse{};
    out.error = e.what();
  }
  return out;
}

// ----------------------------------------------------------------------------- HttpPool

struct HttpPool::Conn {
  asio::io_context io{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<asio::ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool open = false;  // connected (and TLS handshaken): reusable

  beast::tcp_stream& lowest() { return tls ? tls->next_layer() : *plain; }
  // Closes the socket; the streams stay until their handlers ran (close() drops them).
  void shut() {
    if (plain || tls) {
      error_code ignored;
      lowest().socket().close(ignored);
    }
    open = false;
  }
  void close() {
    shut();
    tls.reset();
    plain.reset();
    buffer.clear();
    open = false;
  }
};

HttpPool::HttpPool(Options options) : options_(std::move(options)) {
  if (options_.tls) {
    // ssl.enable = false with an https URL: TLS with EMQX's defaults (no certificate check).
    tls_ = net::make_tls_client_context(
        options_.ssl.enable ? options_.ssl : config::ClientSslConfig{}, options_.key + ".ssl");
  }
  if (options_.pool_size == 0) throw std::runtime_error(options_.key + ".pool_size: 0");
}

HttpPool::~HttpPool() = default;

HttpPool::Conn* HttpPool::acquire(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (!idle_.empty()) {
      // An open connection if there is one, the most recently used first (its server is
      // the least likely to have closed it).
      auto it = std::find_if(idle_.rbegin(), idle_.rend(), [](Conn* c) { return c->open; });
      auto pick = it != idle_.rend() ? std::prev(it.base()) : std::prev(idle_.end());
      Conn* c = *pick;
      idle_.erase(pick);
      return c;
    }
    if (conns_.size() < options_.pool_size) {
      conns_.push_back(std::make_unique<Conn>());
      return conns_.back().get();
    }
    if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty()) {
      return nullptr;
    }
  }
}

void HttpPool::release(Conn* c) {
  {
    std::lock_guard lock(mutex_);
    idle_.push_back(c);
  }
  freed_.notify_one();
}

ClientResponse HttpPool::call(const ClientRequest& request) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + request.timeout;
  auto left = [&] {
    return std::max(std::chrono::milliseconds(1),
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
  };
  ClientResponse out;
  Conn* c = acquire(deadline);
  if (c == nullptr) {
    out.error = "timed out waiting for one of the " + std::to_string(options_.pool_size) +
                " connections (pool_size)";
    return out;
  }
  try {
    http::request<http::string_body> req = make_request(request, true);
    for (int attempt = 0; attempt < 2; ++attempt) {
      out = ClientResponse{};
      const bool reused = c->open;
      http::response_parser<http::string_body> parser;
      parser.body_limit(kMaxAnswer);
      error_code failure;
      bool done = false;
      auto fail = [&](const error_code& ec) {
        if (!failure) failure = ec;
        c->shut();
      };
      auto on_read = [&](const error_code& ec, std::size_t) {
        if (ec) return fail(ec);
        done = true;
      };
      auto on_write = [&](const error_code& ec, std::size_t) {
        if (ec) return fail(ec);
        c->lowest().expires_after(left());
        if (c->tls) {
          http::async_read(*c->tls, c->buffer, parser, on_read);
        } else {
          http::async_read(*c->plain, c->buffer, parser, on_read);
        }
      };
      auto send = [&] {
        c->lowest().expires_after(left());
        if (c->tls) {
          http::async_write(*c->tls, req, on_write);
        } else {
          http::async_write(*c->plain, req, on_write);
        }
      };
      auto connected = [&] {
        c->open = true;
        connects_.fetch_add(1, std::memory_order_relaxed);
        send();
      };
      tcp::resolver resolver(c->io);
      if (c->open) {
        send();
      } else {
        c->close();
        if (tls_) {
          c->tls.emplace(c->io, *std::static_pointer_cast<asio::ssl::context>(tls_));
        } else {
          c->plain.emplace(c->io);
        }
        resolver.async_resolve(
            options_.host, options_.port,
            [&](const error_code& ec, const tcp::resolver::results_type& results) {
              if (ec) return fail(ec);
              c->lowest().expires_after(std::min(left(), options_.connect_timeout));
              c->lowest().async_connect(results, [&](const error_code& cec, const tcp::endpoint&) {
                if (cec) return fail(cec);
                if (!c->tls) return connected();
                if (auto why = set_server_name(c->tls->native_handle()); !why.empty()) {
                  out.error = why;
                  return fail(asio::error::invalid_argument);
                }
                c->lowest().expires_after(std::min(left(), options_.connect_timeout));
                c->tls->async_handshake(asio::ssl::stream_base::client, [&](const error_code& hec) {
                  if (hec) return fail(hec);
                  connected();
                });
              });
            });
      }
      c->io.restart();
      // A resolver has no expiry of its own; the loop is bounded anyway.
      c->io.run_for(left() + std::chrono::seconds(1));
      if (!done) {
        c->shut();
        c->io.restart();
        c->io.poll();  // the handlers of what shut() cancelled, while their state lives
        c->close();
        if (out.error.empty()) out.error = failure ? why(failure) : "timed out";
        // The server closed a kept connection while it was idle: once more, afresh.
        const bool stale = reused && !parser.got_some() && failure &&
                           failure != beast::error::timeout && Clock::now() < deadline;
        if (stale) continue;
        break;
      }
      auto res = parser.release();
      out.reached = true;
      out.status = static_cast<int>(res.result_int());
      out.content_type = std::string(res[http::field::content_type]);
      out.body = std::move(res.body());
      if (!res.keep_alive()) c->close();
      break;
    }
  } catch (const std::exception& e) {
    c->close();
    out = ClientResponse{};
    out.error = e.what();
  }
  release(c);
  return out;
}

// SNI and, with verify_peer, the name (or address) the server's certificate must carry:
// server_name_indication, or the URL's host; "disable" sends and checks no name.
std::string HttpPool::set_server_name(void* native) const {
  SSL* ssl = static_cast<SSL*>(native);
  const std::string& sni = options_.ssl.server_name_indication;
  if (sni == "disable") return {};
  error_code ec;
  (void)asio::ip::make_address(options_.host, ec);
  const bool host_is_address = !ec;
  const bool verify = options_.ssl.enable && options_.ssl.verify == "verify_peer";
  if (!sni.empty() || !host_is_address) {
    const std::string& name = sni.empty() ? options_.host : sni;
    if (SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return "cannot send SNI " + name;
    if (verify && SSL_set1_host(ssl, name.c_str()) != 1) return "cannot check name " + name;
  } else if (verify &&
             X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), options_.host.c_str()) != 1) {
    return "cannot check address " + options_.host;
  }
  return {};
}

}  // namespace emqxd::api
