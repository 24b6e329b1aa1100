// UDP listeners of the datagram gateways (udp.hpp).
#include "gateways/udp.hpp"

#include <openssl/rand.h>
#include <sys/socket.h>

#include <atomic>
#include <boost/asio/post.hpp>
#include <future>
#include <stdexcept>

#include "common/log.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/admission.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("gateway");
  return l;
}

constexpr std::size_t kMaxDatagram = 65536;
thread_local char t_datagram[kMaxDatagram];  // one per worker thread

// Datagrams read per readiness, so that one busy socket cannot starve the worker.
constexpr int kReadBurst = 64;

std::string text_of(const udp::endpoint& e) {
  const std::string host = e.address().to_string();
  return (e.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(e.port());
}

udp::endpoint parse_bind(const std::string& bind, const std::string& id) {
  // config::get_bind wrote it as HOST:PORT, IPv6 hosts in brackets.
  auto colon = bind.rfind(':');
  std::string host = bind.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  error_code ec;
  auto addr = asio::ip::make_address(host, ec);
  if (ec || colon == std::string::npos) {
    throw std::runtime_error(id + ": bad bind address '" + bind + "'");
  }
  return {addr, static_cast<unsigned short>(std::stoi(bind.substr(colon + 1)))};
}

}  // namespace

// ----------------------------------------------------------------------------- connection

UdpConnection::UdpConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
                             std::shared_ptr<UdpEndpoint> ep, const udp::endpoint& peer)
    : Connection(worker, std::move(admission), text_of(peer), ep->socket.local_endpoint().port()),
      ep_(std::move(ep)),
      peer_ep_(peer) {}

void UdpConnection::send_datagram(std::string_view bytes) {
  error_code ec;
  ep_->socket.send_to(asio::buffer(bytes.data(), bytes.size()), peer_ep_, 0, ec);
  // would_block: the socket's buffer is full; the datagram is lost as the network may lose
  // it (QoS 1/2 come again, from the channel or the client).
  metrics::inc(worker_.core().metrics().bytes_sent, bytes.size());
  channel().stats().send_oct += bytes.size();
  ++channel().stats().send_cnt;
}

bool UdpConnection::to_channel(const mqtt::Packet& p, mqtt::ProtocolVersion version) {
  if (closed_ || closing_) return false;
  scratch_.clear();
  mqtt::encode(p, version, scratch_);
  if (pending_input() + scratch_.size() > kMaxPendingInput) {
    metrics::inc(worker_.core().metrics().messages_dropped);
    ++channel().stats().recv_dropped;
    return false;
  }
  on_bytes(scratch_);
  return true;
}

std::uint32_t UdpConnection::strong_random() {
  std::uint32_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  return v;
}

void UdpConnection::close_transport() {
  auto it = ep_->peers.find(peer_ep_);
  if (it != ep_->peers.end() && it->second.get() == this) ep_->peers.erase(it);
}

// ----------------------------------------------------------------------------- endpoint

UdpEndpoint::UdpEndpoint(net::Worker& w, std::shared_ptr<net::Admission> a, config::Duration idle,
                         std::string g, Dispatch d)
    : worker(w),
      socket(w.io()),
      admission(std::move(a)),
      idle_timeout(idle),
      gateway(std::move(g)),
      dispatch(std::move(d)) {}

std::shared_ptr<UdpConnection> UdpEndpoint::find(const udp::endpoint& from) const {
  auto it = peers.find(from);
  return it == peers.end() ? nullptr : it->second;
}

bool UdpEndpoint::admit(const udp::endpoint& from) {
  auto& m = worker.core().metrics();
  const auto now = std::chrono::steady_clock::now();
  const auto verdict = admission->admit(from.address().to_string(), now);
  if (verdict == net::Admission::Verdict::Admitted) return true;
  metrics::inc(m.connections_refused);
  if (verdict == net::Admission::Verdict::Rate) metrics::inc(m.connections_refused_rate);
  if (now - last_warning > std::chrono::seconds(10)) {
    last_warning = now;
    logger()->warn(
        "gateway.{} listener {} refusing peer={}: {} (logged at most every 10 s per "
        "worker)",
        gateway, admission->listener(), text_of(from),
        verdict == net::Admission::Verdict::Rate ? "over max_conn_rate"
                                                 : "max_connections reached");
  }
  return false;
}

void UdpEndpoint::add(const udp::endpoint& from, std::shared_ptr<UdpConnection> c) {
  peers[from] = std::move(c);
}

void UdpEndpoint::send_bytes(const udp::endpoint& to, std::string_view bytes) {
  error_code ec;
  socket.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
  metrics::inc(worker.core().metrics().bytes_sent, bytes.size());
}

void UdpEndpoint::malformed(const udp::endpoint& from, std::size_t size) {
  metrics::inc(worker.core().metrics().packets_malformed);
  const auto now = std::chrono::steady_clock::now();
  if (now - last_warning > std::chrono::seconds(10)) {
    last_warning = now;
    logger()->info(
        "gateway.{}: peer={} sent a datagram that is no message of the protocol ({} "
        "octets): dropped (logged at most every 10 s per worker)",
        gateway, text_of(from), size);
  }
}

void UdpEndpoint::read() {
  if (reading || !socket.is_open()) return;
  reading = true;
  socket.async_wait(udp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
    self->reading = false;
    if (ec) return;  // closed
    self->on_readable();
  });
}

void UdpEndpoint::on_readable() {
  for (int i = 0; i < kReadBurst; ++i) {
    udp::endpoint from;
    error_code ec;
    std::size_t n = socket.receive_from(asio::buffer(t_datagram, sizeof t_datagram), from, 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;
    if (ec) {
      if (!socket.is_open()) return;
      continue;  // an ICMP error of an earlier send, and the like
    }
    metrics::inc(worker.core().metrics().bytes_received, n);
    dispatch(*this, std::string_view(t_datagram, n), from);
  }
  read();
}

// ----------------------------------------------------------------------------- listeners

struct UdpListeners::Listener {
  std::string type, name, bind;
  std::uint16_t port = 0;
  std::shared_ptr<net::Admission> admission;
  std::vector<std::shared_ptr<UdpEndpoint>> endpoints;
  std::atomic<bool> running{false};
};

UdpListeners::UdpListeners(const std::string& gateway,
                           const std::vector<config::ListenerConfig>& listeners,
                           const std::vector<net::Worker*>& workers, config::Duration idle_timeout,
                           UdpEndpoint::Dispatch dispatch) {
  for (const auto& lc : listeners) {
    auto l = std::make_unique<Listener>();
    l->type = lc.type;
    l->name = lc.name;
    const std::string id = "gateway." + gateway + " listener " + lc.type + ":" + lc.name;
    l->admission = std::make_shared<net::Admission>(lc);
    udp::endpoint ep = parse_bind(lc.bind, id);
    // The first socket binds without SO_REUSEPORT, so that a port another process holds
    // is refused rather than shared (as net/listener.cpp does for TCP).
    for (auto* w : workers) {
      auto e = std::make_shared<UdpEndpoint>(*w, l->admission, idle_timeout, gateway, dispatch);
      const bool first = l->endpoints.empty();
      const int one = 1;
      auto reuse_port = [&] {
        return ::setsockopt(e->socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one,
                            sizeof one) == 0
                   ? error_code{}
                   : error_code(errno, boost::system::system_category());
      };
      error_code ec;
      e->socket.open(ep.protocol(), ec);
      if (!ec && !first) ec = reuse_port();
      if (!ec) e->socket.bind(ep, ec);
      if (!ec && first) ec = reuse_port();
      if (!ec) e->socket.non_blocking(true, ec);
      if (ec) throw std::runtime_error(id + ": cannot bind " + lc.bind + ": " + ec.message());
      // Room for bursts of datagrams between two turns of the worker (best effort).
      e->socket.set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
      if (first) ep.port(e->socket.local_endpoint().port());
      l->endpoints.push_back(std::move(e));
    }
    l->port = ep.port();
    const std::string host = ep.address().to_string();
    l->bind = (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(l->port);
    logger()->info("{} on {} (UDP)", id, l->bind);
    listeners_.push_back(std::move(l));
  }
}

UdpListeners::~UdpListeners() {
  // The workers have stopped: what each endpoint and its connections hold of each other
  // goes (a connection holds its endpoint; the endpoint its connections).
  for (auto& l : listeners_) {
    for (auto& e : l->endpoints)
      e->peers.clear();
  }
}

void UdpListeners::start() {
  for (auto& l : listeners_) {
    l->running = true;
    for (auto& e : l->endpoints)
      asio::post(e->worker.io(), [e] { e->read(); });
  }
}

void UdpListeners::stop() {
  for (auto& l : listeners_) {
    l->running = false;
    std::vector<std::future<void>> closed;
    for (auto& e : l->endpoints) {
      auto done = std::make_shared<std::promise<void>>();
      closed.push_back(done->get_future());
      asio::post(e->worker.io(), [e, done] {
        error_code ec;
        e->socket.close(ec);
        done->set_value();
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (auto& f : closed)
      f.wait_until(deadline);
  }
}

std::vector<UdpListeners::Info> UdpListeners::info() const {
  std::vector<Info> out;
  for (const auto& l : listeners_) {
    out.push_back(Info{l->type, l->name, l->bind, l->port, l->admission->connections(),
                       l->admission->max_connections(), l->running.load()});
  }
  return out;
}

}  // namespace emqxd::gateways
