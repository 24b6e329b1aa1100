// The blocking client of api_client.hpp. Asio's synchronous calls cannot time out, so the
// exchange is asynchronous on a private io_context that this call runs until it is done
// or the deadline passes (beast::tcp_stream's expiry).
#include "api/api_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "api/credentials.hpp"

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

}  // namespace

ClientResponse http_call(const ClientRequest& request) {
  ClientResponse out;
  try {
    asio::io_context io{1};
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    http::request<http::string_body> req;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxAnswer);

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
    req.keep_alive(false);
    req.prepare_payload();

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

}  // namespace emqxd::api
