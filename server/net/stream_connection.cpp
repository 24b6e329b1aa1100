// TLS, WebSocket and WebSocket-over-TLS connections: the Connection base does the MQTT
// framing, batching and keep alive; this file adds a handshake and asynchronous reads
// and writes of the stream. MQTT over WebSocket (section 6): binary messages, subprotocol
// "mqtt", packets not aligned with frames [MQTT-6.0.0-2].
#include "net/stream_connection.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <functional>
#include <optional>
#include <stdexcept>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "net/connection.hpp"
#include "net/worker.hpp"

namespace emqxd::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("listener");
  return l;
}

constexpr std::size_t kStreamReadChunk = 16 * 1024;

using TlsStream = asio::ssl::stream<tcp::socket>;
using WsStream = websocket::stream<tcp::socket>;
using WssStream = websocket::stream<TlsStream>;

template <class S>
constexpr bool kIsWs = std::is_same_v<S, WsStream> || std::is_same_v<S, WssStream>;

// Picks the MQTT subprotocol the client offers ("mqtt", or "mqttv3.1" of old clients).
std::string choose_subprotocol(beast::string_view offered) {
  std::string chosen;
  std::string list(offered);
  std::size_t pos = 0;
  while (pos <= list.size()) {
    auto comma = list.find(',', pos);
    auto item = list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    auto b = item.find_first_not_of(" \t");
    auto e = item.find_last_not_of(" \t");
    item = b == std::string::npos ? "" : item.substr(b, e - b + 1);
    if (item == "mqtt") return item;
    if (item == "mqttv3.1" && chosen.empty()) chosen = item;
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return chosen;
}

// A field of the client certificate verified in the TLS handshake, if the client sent one
// (session::ChannelHost::peer_cert).
std::optional<std::string> cert_field_of(SSL* ssl, config::PeerCertField what) {
  std::unique_ptr<X509, decltype(&X509_free)> cert(SSL_get1_peer_certificate(ssl), &X509_free);
  if (!cert) return std::nullopt;
  std::optional<std::string> out;
  X509_NAME* name = X509_get_subject_name(cert.get());
  switch (what) {
    case config::PeerCertField::Disabled:
      break;
    case config::PeerCertField::Cn: {
      int index = name != nullptr ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
      if (index >= 0) {
        ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
        unsigned char* utf8 = nullptr;
        int n = ASN1_STRING_to_UTF8(&utf8, data);
        if (n >= 0) out.emplace(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
        OPENSSL_free(utf8);
      }
      break;
    }
    case config::PeerCertField::Dn: {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
      if (bio && name != nullptr &&
          X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
        char* data = nullptr;
        long n = BIO_get_mem_data(bio.get(), &data);
        out.emplace(data, static_cast<std::size_t>(std::max(0L, n)));
      }
      break;
    }
    case config::PeerCertField::Crt:
    case config::PeerCertField::Md5: {
      unsigned char* der = nullptr;
      int n = i2d_X509(cert.get(), &der);
      if (n > 0) {
        std::string bytes(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
        if (what == config::PeerCertField::Crt) {
          out = std::move(bytes);
        } else {
          unsigned char md[EVP_MAX_MD_SIZE];
          unsigned int len = 0;
          if (EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_md5(), nullptr) == 1) {
            static constexpr char hex[] = "0123456789abcdef";
            std::string h;
            for (unsigned int i = 0; i < len; ++i) {
              h += hex[md[i] >> 4];
              h += hex[md[i] & 15];
            }
            out = std::move(h);
          }
        }
      }
      OPENSSL_free(der);
      break;
    }
    case config::PeerCertField::Pem: {
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
      if (bio && PEM_write_bio_X509(bio.get(), cert.get()) == 1) {
        char* data = nullptr;
        long n = BIO_get_mem_data(bio.get(), &data);
        out.emplace(data, static_cast<std::size_t>(std::max(0L, n)));
      }
      break;
    }
  }
  return out;
}

template <class Stream>
class StreamConnection final : public Connection {
 public:
  StreamConnection(Worker& worker, tcp::socket socket, std::shared_ptr<Admission> admission,
                   const StreamOptions& opts)
      : Connection(worker, std::move(admission), socket),
        tls_(opts.tls),
        stream_(make_stream(std::move(socket), opts)),
        ws_path_(opts.ws_path) {
    error_code ec;
    beast::get_lowest_layer(stream_).set_option(tcp::no_delay(true), ec);
  }

  std::optional<std::string> peer_cert(config::PeerCertField what) const override {
    auto& stream = const_cast<Stream&>(stream_);  // native_handle() is not const
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      return cert_field_of(stream.native_handle(), what);
    } else if constexpr (std::is_same_v<Stream, WssStream>) {
      return cert_field_of(stream.next_layer().native_handle(), what);
    } else {
      return std::nullopt;
    }
  }

  void flush() override {
    dirty_ = false;
    if (closed_ || writing_) return;
    if (!ready_) {
      if (closing_) shutdown_now();  // e.g. idle timeout during a stalled handshake
      return;
    }
    if (out_.empty()) {
      if (closing_) finish_close();
      return;
    }
    writing_ = true;
    wbuf_.swap(out_);
    auto done = [self = self_ptr()](const error_code& ec, std::size_t n) {
      self->writing_ = false;
      std::string().swap(self->wbuf_);
      if (ec) {
        self->shutdown_now();
        return;
      }
      metrics::inc(self->worker_.core().metrics().bytes_sent, n);
      self->channel().stats().send_oct += n;
      ++self->channel().stats().send_cnt;
      self->flush();
      self->read_more();  // in case reading stopped for the backlog
    };
    if constexpr (kIsWs<Stream>) {
      stream_.async_write(asio::buffer(wbuf_), std::move(done));
    } else {
      asio::async_write(stream_, asio::buffer(wbuf_), std::move(done));
    }
  }

 private:
  static Stream make_stream(tcp::socket socket, const StreamOptions& opts) {
    if constexpr (std::is_same_v<Stream, WsStream>) {
      return Stream(std::move(socket));
    } else {
      return Stream(std::move(socket), *opts.tls);
    }
  }

  std::shared_ptr<StreamConnection> self_ptr() {
    return std::static_pointer_cast<StreamConnection>(shared_from_this());
  }

  void fail(const char* what, const error_code& ec) {
    logger()->debug("peer={} {} failed: {}", peer(), what, ec.message());
    shutdown_now();
  }

  void start_transport() override {
    if constexpr (std::is_same_v<Stream, TlsStream>) {
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = self_ptr()](const error_code& ec) {
                                if (ec) return self->fail("TLS handshake", ec);
                                self->ready();
                              });
    } else if constexpr (std::is_same_v<Stream, WssStream>) {
      stream_.next_layer().async_handshake(asio::ssl::stream_base::server,
                                           [self = self_ptr()](const error_code& ec) {
                                             if (ec) return self->fail("TLS handshake", ec);
                                             self->read_upgrade();
                                           });
    } else {
      read_upgrade();
    }
  }

  // WebSocket: read the HTTP upgrade request, check the path, accept with "mqtt".
  void read_upgrade() {
    if constexpr (kIsWs<Stream>) {
      http_buffer_ = std::make_unique<beast::flat_buffer>();
      request_ = std::make_unique<http::request<http::string_body>>();
      http::async_read(stream_.next_layer(), *http_buffer_, *request_,
                       [self = self_ptr()](const error_code& ec, std::size_t) {
                         if (ec) return self->fail("WebSocket upgrade read", ec);
                         self->accept_upgrade();
                       });
    }
  }

  void accept_upgrade() {
    if constexpr (kIsWs<Stream>) {
      auto& req = *request_;
      if (!websocket::is_upgrade(req) || req.target() != ws_path_) {
        logger()->debug("peer={} WebSocket request for {} refused", peer(),
                        std::string(req.target()));
        auto res = std::make_shared<http::response<http::string_body>>(http::status::not_found,
                                                                       req.version());
        res->set(http::field::content_type, "text/plain");
        res->body() = "MQTT over WebSocket is served at " + ws_path_ + "\n";
        res->prepare_payload();
        http::async_write(
            stream_.next_layer(), *res,
            [self = self_ptr(), res](const error_code&, std::size_t) { self->shutdown_now(); });
        return;
      }
      std::string sub = choose_subprotocol(req[http::field::sec_websocket_protocol]);
      stream_.set_option(websocket::stream_base::decorator([sub](websocket::response_type& res) {
        if (!sub.empty()) res.set(http::field::sec_websocket_protocol, sub);
        res.set(http::field::server, "emqxd");
      }));
      websocket::stream_base::timeout t{std::chrono::seconds(10), websocket::stream_base::none(),
                                        false};
      stream_.set_option(t);
      stream_.binary(true);
      stream_.async_accept(req, [self = self_ptr()](const error_code& ec) {
        if (ec) return self->fail("WebSocket accept", ec);
        self->request_.reset();
        self->ready();
      });
    }
  }

  void ready() {
    ready_ = true;
    if (http_buffer_ && http_buffer_->size() > 0) {
      // Bytes that arrived behind the upgrade request are already MQTT.
      auto data = http_buffer_->data();
      std::string early(static_cast<const char*>(data.data()), data.size());
      http_buffer_.reset();
      on_bytes(early);
    }
    http_buffer_.reset();
    if (!out_.empty() || closing_) flush();
    read_more();
  }

  void read_more() override {
    if (reading_ || !ready_ || !reading_allowed()) return;
    reading_ = true;
    if (!rbuf_) rbuf_ = std::make_unique<char[]>(kStreamReadChunk);
    stream_.async_read_some(asio::buffer(rbuf_.get(), read_budget(kStreamReadChunk)),
                            [self = self_ptr()](const error_code& ec, std::size_t n) {
                              self->reading_ = false;
                              if (ec) {
                                if (ec != asio::error::operation_aborted) self->shutdown_now();
                                return;
                              }
                              if (self->closed_) return;
                              self->on_bytes(std::string_view(self->rbuf_.get(), n));
                              self->read_more();
                            });
  }

  void finish_close() {
    if constexpr (kIsWs<Stream>) {
      if (!close_sent_) {
        close_sent_ = true;
        stream_.async_close(websocket::close_code::normal,
                            [self = self_ptr()](const error_code&) { self->shutdown_now(); });
        return;
      }
    }
    shutdown_now();
  }

  void close_transport() override {
    error_code ec;
    auto& s = beast::get_lowest_layer(stream_);
    s.shutdown(tcp::socket::shutdown_both, ec);
    s.close(ec);
  }

  // The TLS context this connection was made with: a reload (net/listener.cpp) gives new
  // connections another one, and this one's must live as long as its stream.
  std::shared_ptr<asio::ssl::context> tls_;
  Stream stream_;
  std::string ws_path_;
  std::unique_ptr<char[]> rbuf_;
  std::string wbuf_;
  std::unique_ptr<beast::flat_buffer> http_buffer_;
  std::unique_ptr<http::request<http::string_body>> request_;
  bool ready_ = false;
  bool reading_ = false;
  bool writing_ = false;
  bool close_sent_ = false;
};

}  // namespace

std::shared_ptr<Connection> make_stream_connection(Worker& worker, tcp::socket socket,
                                                   std::shared_ptr<Admission> admission,
                                                   const StreamOptions& options) {
  switch (options.kind) {
    case StreamKind::Tls:
      return std::make_shared<StreamConnection<TlsStream>>(worker, std::move(socket),
                                                           std::move(admission), options);
    case StreamKind::Ws:
      return std::make_shared<StreamConnection<WsStream>>(worker, std::move(socket),
                                                          std::move(admission), options);
    case StreamKind::Wss:
      return std::make_shared<StreamConnection<WssStream>>(worker, std::move(socket),
                                                           std::move(admission), options);
  }
  return nullptr;
}

// The TLS 1.2 ciphers when ssl_options.ciphers is not set: forward secrecy (ECDHE or DHE)
// and AEAD (GCM, ChaCha20-Poly1305) only, strongest first, as Mozilla's "intermediate"
// profile. No RSA key exchange (no forward secrecy) and no CBC. TLS 1.3's suites are all
// forward-secret AEAD; OpenSSL's default list is kept for them.
constexpr const char* kDefaultTls12Ciphers =
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "DHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-CHACHA20-POLY1305";

namespace {

// `versions` and `ciphers` (a listener's ssl_options or a client's ssl block, `prefix` names
// it in messages) into the context.
void set_versions_and_ciphers(SSL_CTX* native, const std::vector<std::string>& versions,
                              const std::vector<std::string>& ciphers, const std::string& prefix) {
  // versions: the lowest and highest listed (the loader allows 1.2 and 1.3).
  bool v12 = false, v13 = false;
  for (const auto& v : versions) {
    v12 |= v == "tlsv1.2";
    v13 |= v == "tlsv1.3";
  }
  if (!v12 && !v13) throw std::runtime_error(prefix + ".versions names no TLS version");
  SSL_CTX_set_min_proto_version(native, v12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(native, v13 ? TLS1_3_VERSION : TLS1_2_VERSION);
  // ciphers: TLS 1.3 suites (TLS_...) and TLS 1.2 ciphers go to OpenSSL's two lists. Each
  // name must be one OpenSSL knows: its list functions skip unknown names silently, and a
  // typo must not quietly leave a cipher out (or in).
  std::string tls12 = kDefaultTls12Ciphers;
  std::string tls13;
  if (!ciphers.empty()) {
    tls12.clear();
    SSL_CTX* probe = SSL_CTX_new(TLS_server_method());
    for (const auto& c : ciphers) {
      const bool is13 = c.starts_with("TLS_");
      int ok = is13 ? SSL_CTX_set_ciphersuites(probe, c.c_str())
                    : SSL_CTX_set_cipher_list(probe, c.c_str());
      if (ok != 1) {
        SSL_CTX_free(probe);
        ERR_clear_error();
        throw std::runtime_error(prefix + ".ciphers: unknown cipher '" + c + "'");
      }
      std::string& list = is13 ? tls13 : tls12;
      list += (list.empty() ? "" : ":") + c;
    }
    SSL_CTX_free(probe);
  }
  if (tls12.empty()) {
    // Only TLS 1.3 suites named: TLS 1.2 would fall back to OpenSSL's whole default list.
    if (!v13) throw std::runtime_error(prefix + ".ciphers names no TLS 1.2 cipher");
    SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION);
  } else if (SSL_CTX_set_cipher_list(native, tls12.c_str()) != 1) {
    ERR_clear_error();
    throw std::runtime_error(prefix + ".ciphers: no usable TLS 1.2 cipher");
  }
  if (!tls13.empty() && SSL_CTX_set_ciphersuites(native, tls13.c_str()) != 1) {
    throw std::runtime_error(prefix + ".ciphers: no usable TLS 1.3 suite");
  }
}

void use_file(const std::string& what, const std::string& file,
              const std::function<void(error_code&)>& f) {
  error_code ec;
  f(ec);
  if (ec) throw std::runtime_error(what + " '" + file + "': " + ec.message());
}

}  // namespace

std::shared_ptr<asio::ssl::context> make_tls_context(const config::SslOptions& ssl) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  SSL_CTX* native = ctx->native_handle();
  set_versions_and_ciphers(native, ssl.versions, ssl.ciphers, "ssl_options");
  if (ssl.honor_cipher_order) SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_verify_depth(native, static_cast<int>(ssl.depth));
  auto& use = use_file;
  if (ssl.certfile.empty() || ssl.keyfile.empty()) {
    throw std::runtime_error("ssl_options.certfile and ssl_options.keyfile are required");
  }
  use("certfile", ssl.certfile,
      [&](error_code& ec) { ctx->use_certificate_chain_file(ssl.certfile, ec); });
  use("keyfile", ssl.keyfile,
      [&](error_code& ec) { ctx->use_private_key_file(ssl.keyfile, asio::ssl::context::pem, ec); });
  if (!ssl.cacertfile.empty()) {
    use("cacertfile", ssl.cacertfile,
        [&](error_code& ec) { ctx->load_verify_file(ssl.cacertfile, ec); });
  }
  if (ssl.verify == "verify_peer") {
    int mode = asio::ssl::verify_peer;
    if (ssl.fail_if_no_peer_cert) mode |= asio::ssl::verify_fail_if_no_peer_cert;
    ctx->set_verify_mode(mode);
  } else {
    ctx->set_verify_mode(asio::ssl::verify_none);
  }
  return ctx;
}

std::shared_ptr<asio::ssl::context> make_tls_client_context(const config::ClientSslConfig& ssl,
                                                            const std::string& key) {
  auto ctx = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1);
  try {
    set_versions_and_ciphers(ctx->native_handle(), ssl.versions, ssl.ciphers, key);
    if (!ssl.certfile.empty()) {
      use_file(key + ".certfile", ssl.certfile,
               [&](error_code& ec) { ctx->use_certificate_chain_file(ssl.certfile, ec); });
      use_file(key + ".keyfile", ssl.keyfile, [&](error_code& ec) {
        ctx->use_private_key_file(ssl.keyfile, asio::ssl::context::pem, ec);
      });
    }
    if (ssl.verify == "verify_peer") {
      if (ssl.cacertfile.empty()) {
        ctx->set_default_verify_paths();
      } else {
        use_file(key + ".cacertfile", ssl.cacertfile,
                 [&](error_code& ec) { ctx->load_verify_file(ssl.cacertfile, ec); });
      }
      ctx->set_verify_mode(asio::ssl::verify_peer);
    } else {
      ctx->set_verify_mode(asio::ssl::verify_none);
    }
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error(key + ": " + e.what());
  }
  return ctx;
}

}  // namespace emqxd::net
