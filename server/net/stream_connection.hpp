#pragma once
// Connections over TLS, WebSocket and WebSocket over TLS. Everything Beast and OpenSSL
// stays in stream_connection.cpp; this header only names the factories.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <memory>
#include <string>

#include "config/config.hpp"

namespace boost::asio::ssl {
class context;
}

namespace emqxd::net {

class Admission;
class Connection;
class Worker;

enum class StreamKind { Tls, Ws, Wss };

struct StreamOptions {
  StreamKind kind = StreamKind::Tls;
  std::shared_ptr<boost::asio::ssl::context> tls;  // Tls and Wss
  std::string ws_path = "/mqtt";                   // Ws and Wss
};

std::shared_ptr<Connection> make_stream_connection(Worker& worker,
                                                   boost::asio::ip::tcp::socket socket,
                                                   std::shared_ptr<Admission> admission,
                                                   const StreamOptions& options);

// A server TLS context from a listener's ssl_options. Throws std::runtime_error naming the
// file that could not be used.
std::shared_ptr<boost::asio::ssl::context> make_tls_context(const config::SslOptions& ssl);

// A client TLS context for an outside service (api::HttpPool): versions, ciphers, a client
// certificate, and with verify_peer the CAs to check the server against (cacertfile, or the
// system's). The server's name is checked per connection (SSL_set1_host). Throws
// std::runtime_error naming `key` ("authentication[1].ssl") and what could not be used.
std::shared_ptr<boost::asio::ssl::context> make_tls_client_context(
    const config::ClientSslConfig& ssl, const std::string& key);

}  // namespace emqxd::net
