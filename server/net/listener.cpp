#include "net/listener.hpp"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "net/admission.hpp"
#include "net/connection.hpp"
#include "net/stream_connection.hpp"
#include "net/worker.hpp"

namespace emqxd::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {
const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("listener");
  return l;
}

tcp::endpoint parse_bind(const std::string& bind) {
  auto colon = bind.rfind(':');
  std::string host = colon == std::string::npos ? "0.0.0.0" : bind.substr(0, colon);
  std::string port = colon == std::string::npos ? bind : bind.substr(colon + 1);
  if (host.empty()) host = "0.0.0.0";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec) throw std::runtime_error("bad bind address '" + bind + "'");
  int p = 0;
  try {
    p = std::stoi(port);
  } catch (...) {
    throw std::runtime_error("bad bind port '" + bind + "'");
  }
  if (p < 0 || p > 65535) throw std::runtime_error("bad bind port '" + bind + "'");
  return {addr, static_cast<unsigned short>(p)};
}
// TLS certificate reload without a restart. The acceptors of a TLS listener ask it for the
// context of each new connection; at most every kReloadCheck it compares the mtimes (and
// sizes) of certfile, keyfile and cacertfile with those it last loaded, and when one
// changed builds a new context from the files. A file that does not load (half written,
// a key that does not match the certificate) keeps the old context, logged once per
// change of the files; the next change is tried again. Connections keep the context they
// were made with. Any worker thread; one mutex, held for a stat() every few seconds, or
// for the build of a new context when the files changed.
class TlsReloader {
 public:
  static constexpr auto kReloadCheck = std::chrono::seconds(2);

  TlsReloader(std::string listener, config::SslOptions ssl)
      : listener_(std::move(listener)), ssl_(std::move(ssl)) {
    current_ = make_tls_context(ssl_);  // throws at start: a bad file stops start-up
    loaded_ = stamp();
    last_check_ = std::chrono::steady_clock::now();
  }

  std::shared_ptr<asio::ssl::context> context() {
    std::lock_guard lock(mutex_);
    auto now = std::chrono::steady_clock::now();
    if (now - last_check_ < kReloadCheck) return current_;
    last_check_ = now;
    std::string s = stamp();
    if (s == loaded_ || s == failed_) return current_;
    try {
      current_ = make_tls_context(ssl_);
      loaded_ = s;
      failed_.clear();
      logger()->info("listener={} TLS certificate files changed: reloaded for new connections",
                     listener_);
    } catch (const std::exception& e) {
      failed_ = s;
      logger()->warn(
          "listener={} TLS certificate files changed but do not load: {}; new connections keep "
          "the previous certificate",
          listener_, e.what());
    }
    return current_;
  }

 private:
  // The files' mtimes and sizes, as one string to compare.
  std::string stamp() const {
    std::string out;
    for (const auto* f : {&ssl_.certfile, &ssl_.keyfile, &ssl_.cacertfile}) {
      struct stat st {};
      if (f->empty() || ::stat(f->c_str(), &st) != 0) {
        out += "-;";
        continue;
      }
      out += std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + "/" +
             std::to_string(st.st_size) + ";";
    }
    return out;
  }

  std::string listener_;
  config::SslOptions ssl_;
  std::mutex mutex_;
  std::shared_ptr<asio::ssl::context> current_;  // guarded by mutex_
  std::string loaded_, failed_;                  // guarded by mutex_
  std::chrono::steady_clock::time_point last_check_;
};

}  // namespace

struct Listener::Acceptor : std::enable_shared_from_this<Acceptor> {
  Acceptor(Worker& w, std::string n, std::shared_ptr<Admission> a, std::optional<StreamOptions> s,
           std::shared_ptr<TlsReloader> r)
      : worker(w),
        acceptor(w.io()),
        backoff(w.io()),
        name(std::move(n)),
        admission(std::move(a)),
        stream(std::move(s)),
        tls(std::move(r)) {}

  void accept() {
    acceptor.async_accept(worker.io(),
                          [self = shared_from_this()](const error_code& ec, tcp::socket socket) {
                            self->on_accept(ec, std::move(socket));
                          });
  }

  void on_accept(const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) return;
    if (ec) {
      // Out of descriptors (EMFILE/ENFILE) or the like: say so (not on every retry) and
      // back off briefly; established connections are unaffected. With no descriptor
      // left the waiting client cannot even be accepted to be told no, so a spare one is
      // given up for a moment to accept and close it (nginx's and libuv's trick).
      if (ec == asio::error::no_descriptors || ec.value() == ENFILE) refuse_one();
      auto now = std::chrono::steady_clock::now();
      if (now - last_warning > std::chrono::seconds(10)) {
        last_warning = now;
        logger()->warn("listener={} accept failed: {}; refusing new connections for now", name,
                       ec.message());
      }
      metrics::inc(worker.core().metrics().connections_refused);
      backoff.expires_after(std::chrono::milliseconds(100));
      backoff.async_wait([self = shared_from_this()](const error_code& e) {
        if (!e) self->accept();
      });
      return;
    }
    error_code peer_ec;
    auto peer = socket.remote_endpoint(peer_ec);
    const std::string ip = peer_ec ? "unknown" : peer.address().to_string();  // as Connection::peer
    auto now = std::chrono::steady_clock::now();
    auto verdict = admission->admit(ip, now);
    if (verdict != Admission::Verdict::Admitted) {
      refuse(verdict, ip, now);
      error_code ignored;
      socket.close(ignored);  // a plain close: nothing was read, so no RST
    } else {
      std::shared_ptr<Connection> c;
      if (factory) {
        c = factory(worker, std::move(socket), admission);
      } else if (stream && tls) {
        StreamOptions o = *stream;
        o.tls = tls->context();
        c = make_stream_connection(worker, std::move(socket), admission, o);
      } else if (stream) {
        c = make_stream_connection(worker, std::move(socket), admission, *stream);
      } else {
        c = std::make_shared<TcpConnection>(worker, std::move(socket), admission);
      }
      if (c) c->start();  // a factory's connection may have started itself
    }
    accept();
  }

  void refuse(Admission::Verdict verdict, const std::string& ip,
              std::chrono::steady_clock::time_point now) {
    auto& m = worker.core().metrics();
    metrics::inc(m.connections_refused);
    const char* why = "max_connections reached";
    if (verdict == Admission::Verdict::Rate) {
      metrics::inc(m.connections_refused_rate);
      why = "over max_conn_rate";
    } else if (verdict == Admission::Verdict::PerIp) {
      metrics::inc(m.connections_refused_per_ip);
      why = "over max_conn_per_ip";
    }
    if (now - last_warning > std::chrono::seconds(10)) {
      last_warning = now;
      logger()->warn("listener={} {}; refusing (peer={}; max_connections={})", name, why, ip,
                     admission->max_connections());
    }
  }

  void refuse_one() {
    if (spare_fd >= 0) ::close(spare_fd);
    int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) ::close(fd);
    spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }

  ~Acceptor() {
    if (spare_fd >= 0) ::close(spare_fd);
  }

  Worker& worker;
  int spare_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::string name;
  std::shared_ptr<Admission> admission;
  std::chrono::steady_clock::time_point last_warning{};
  std::optional<StreamOptions> stream;  // TLS / WebSocket; none for plain TCP
  std::shared_ptr<TlsReloader> tls;     // TLS: the current context; shared by the acceptors
  Listener::Factory factory;            // a gateway's connections; none for MQTT
};

// What every acceptor of a listener shares, and what binding them again needs.
struct Listener::Setup {
  tcp::endpoint endpoint;
  std::optional<StreamOptions> stream;  // TLS / WebSocket; none for plain TCP
  std::shared_ptr<TlsReloader> tls;
  Factory factory;
};

Listener::Listener(const config::ListenerConfig& cfg, const std::vector<Worker*>& workers,
                   Factory factory, const std::string& id_prefix)
    : workers_(workers),
      bind_(cfg.bind),
      setup_(std::make_shared<Setup>()),
      name_(id_prefix + cfg.type + ":" + cfg.name),
      admission_(std::make_shared<Admission>(cfg)) {
  setup_->factory = std::move(factory);
  try {
    setup_->endpoint = parse_bind(cfg.bind);
  } catch (const std::exception& e) {
    throw std::runtime_error("listener " + name_ + ": " + e.what());
  }
  try {
    if (cfg.type == "ssl" || cfg.type == "wss") {
      setup_->tls = std::make_shared<TlsReloader>(name_, cfg.ssl_options);
      setup_->stream = StreamOptions{cfg.type == "ssl" ? StreamKind::Tls : StreamKind::Wss, nullptr,
                                     cfg.websocket_mqtt_path};
    } else if (cfg.type == "ws") {
      setup_->stream = StreamOptions{StreamKind::Ws, nullptr, cfg.websocket_mqtt_path};
    } else if (cfg.type != "tcp") {
      throw std::runtime_error("unknown listener type '" + cfg.type + "'");
    }
  } catch (const std::exception& e) {
    throw std::runtime_error("listener " + name_ + ": " + e.what());
  }
  bind_acceptors();
  if (!acceptors_.empty()) {
    auto local = acceptors_.front()->acceptor.local_endpoint();
    std::string host = local.address().to_string();
    address_ = (local.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(port_);
  }
}

// The first acceptor binds without SO_REUSEPORT, so the bind fails (EADDRINUSE) when
// any other socket listens on the address, SO_REUSEPORT or not: a second emqxd on the
// port must not quietly take a share of the clients. Only once it listens does it allow
// SO_REUSEPORT, for the other workers' acceptors to join its group (Linux forms the
// group when they listen, whatever the first one's flag was at its bind).
void Listener::bind_acceptors() {
  std::vector<std::shared_ptr<Acceptor>> made;
  tcp::endpoint ep = setup_->endpoint;
  if (port_ != 0) ep.port(port_);  // again: the port it had (an ephemeral one included)
  for (auto* w : workers_) {
    auto a = std::make_shared<Acceptor>(*w, name_, admission_, setup_->stream, setup_->tls);
    a->factory = setup_->factory;
    const bool first = made.empty();
    const int one = 1;
    auto reuse_port = [&] {
      if (::setsockopt(a->acceptor.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) !=
          0) {
        return error_code(errno, boost::system::system_category());
      }
      return error_code{};
    };
    error_code ec;
    a->acceptor.open(ep.protocol(), ec);
    if (!ec) a->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec && !first) ec = reuse_port();
    if (!ec) a->acceptor.bind(ep, ec);
    if (!ec) a->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec && first) ec = reuse_port();
    if (ec) {
      throw std::runtime_error("listener " + name_ + ": cannot listen on " + bind_ + ": " +
                               ec.message());
    }
    if (first) ep.port(a->acceptor.local_endpoint().port());  // the others join its port
    made.push_back(std::move(a));
  }
  if (port_ == 0 && !made.empty()) port_ = made.front()->acceptor.local_endpoint().port();
  acceptors_ = std::move(made);
}

Listener::~Listener() = default;

std::uint32_t Listener::connections() const {
  return admission_->connections();
}

std::uint32_t Listener::max_connections() const {
  return admission_->max_connections();
}

void Listener::start() {
  std::lock_guard lock(mutex_);
  for (auto& a : acceptors_) {
    asio::post(a->worker.io(), [a] { a->accept(); });
  }
}

void Listener::stop(bool wait) {
  std::vector<std::future<void>> closed;
  {
    std::lock_guard lock(mutex_);
    running_ = false;
    for (auto& a : acceptors_) {
      auto done = std::make_shared<std::promise<void>>();
      closed.push_back(done->get_future());
      asio::post(a->worker.io(), [a, done] {
        error_code ec;
        a->acceptor.close(ec);
        a->backoff.cancel();
        done->set_value();
      });
    }
    acceptors_.clear();  // each close holds its acceptor
  }
  if (!wait) return;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (auto& f : closed)
    f.wait_until(deadline);
}

std::string Listener::resume() {
  std::lock_guard lock(mutex_);
  if (running_) return "";
  try {
    bind_acceptors();
  } catch (const std::exception& e) {
    acceptors_.clear();
    return e.what();
  }
  running_ = true;
  for (auto& a : acceptors_) {
    asio::post(a->worker.io(), [a] { a->accept(); });
  }
  return "";
}

bool Listener::running() const {
  std::lock_guard lock(mutex_);
  return running_;
}

}  // namespace emqxd::net
