// The MQTT-SN gateway's listeners and connections (gateway.hpp).
#include "gateways/mqttsn/gateway.hpp"

#include <sys/socket.h>

#include <boost/asio/ip/udp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <future>
#include <map>
#include <mutex>
#include <stdexcept>

#include "common/log.hpp"
#include "gateways/mqttsn/adapter.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/admission.hpp"
#include "net/connection.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::mqttsn {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("mqttsn");
  return l;
}

thread_local char t_datagram[kMaxMessage + 1];  // one per worker thread

// Datagrams read per readiness, so that one busy socket cannot starve the worker.
constexpr int kReadBurst = 64;
// What a connection keeps for its channel while the channel waits (for its session, an
// authorization source): past it the client's datagrams are dropped, as a full network
// would drop them. A TCP client is stopped by flow control instead.
constexpr std::size_t kMaxPendingInput = 256 * 1024;
// How long the gateway waits for the REGACK of its REGISTER before sending it again
// (MQTT-SN 1.2, 6.13: Tretry, "in the order of 10 to 15 seconds").
constexpr auto kRetry = std::chrono::seconds(10);

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
    throw std::runtime_error("gateway.mqttsn listener " + id + ": bad bind address '" + bind + "'");
  }
  return {addr, static_cast<unsigned short>(std::stoi(bind.substr(colon + 1)))};
}

class SnConnection;

// One UDP socket of a listener, on one worker, and the connections of the addresses the
// kernel sends to it.
struct Endpoint : std::enable_shared_from_this<Endpoint> {
  Endpoint(net::Worker& w, std::shared_ptr<const Settings> s, std::shared_ptr<net::Admission> a,
           config::Duration idle)
      : worker(w),
        socket(w.io()),
        settings(std::move(s)),
        admission(std::move(a)),
        idle_timeout(idle) {}

  void read();
  void on_readable();
  void dispatch(std::string_view datagram, const udp::endpoint& from);
  // A new connection for `from`, if the listener lets it in.
  std::shared_ptr<SnConnection> open(const udp::endpoint& from, bool anonymous);
  void send(const udp::endpoint& to, const Packet& p);
  void send_bytes(const udp::endpoint& to, std::string_view bytes);
  void remove(const udp::endpoint& peer, const SnConnection* c);

  net::Worker& worker;
  udp::socket socket;
  std::shared_ptr<const Settings> settings;
  std::shared_ptr<net::Admission> admission;
  config::Duration idle_timeout;
  std::map<udp::endpoint, std::shared_ptr<SnConnection>> peers;
  std::chrono::steady_clock::time_point last_warning{};
  bool reading = false;
};

// One MQTT-SN client: a net::Connection whose bytes are MQTT packets the adapter made.
class SnConnection final : public net::Connection, public AdapterHost {
 public:
  SnConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
               std::shared_ptr<Endpoint> ep, const udp::endpoint& peer, bool anonymous)
      : Connection(worker, std::move(admission), text_of(peer), ep->socket.local_endpoint().port()),
        ep_(std::move(ep)),
        peer_ep_(peer),
        adapter_(ep_->settings, *this),
        retry_(worker.io()),
        anonymous_(anonymous) {}

  void begin() {
    start();
    // Until CONNECT is done: the gateway's idle_timeout, not MQTT's.
    set_keepalive(ep_->idle_timeout);
  }

  void on_message(Packet&& p) {
    adapter_.from_client(std::move(p));
    watch_register();
  }
  bool anonymous() const { return anonymous_; }
  Adapter& adapter() { return adapter_; }

  // A new CONNECT from the same address replaces this connection: it leaves as a client
  // that sent DISCONNECT (its session stays or goes as its CONNECT said; no will) and says
  // nothing more to the address.
  void retire() {
    retired_ = true;
    to_broker(mqtt::Disconnect{});
  }

  // --- AdapterHost
  void to_broker(const mqtt::Packet& p) override {
    if (closed_ || closing_) return;
    scratch_.clear();
    mqtt::encode(p, mqtt::ProtocolVersion::V3_1_1, scratch_);
    if (pending_input() + scratch_.size() > kMaxPendingInput) {
      metrics::inc(worker_.core().metrics().messages_dropped);
      ++channel().stats().recv_dropped;
      return;
    }
    on_bytes(scratch_);
  }
  void to_client(const Packet& p) override {
    if (retired_ || anonymous_ || closed_) return;
    said_disconnect_ = said_disconnect_ || std::holds_alternative<Disconnect>(p);
    bytes_.clear();
    encode(p, bytes_);
    ep_->send_bytes(peer_ep_, bytes_);
    metrics::inc(worker_.core().metrics().bytes_sent, bytes_.size());
    channel().stats().send_oct += bytes_.size();
    ++channel().stats().send_cnt;
  }
  void sleep(std::chrono::seconds duration) override {
    channel().sleep();
    // Asleep longer than it said (by MQTT's keep alive multiplier): lost (6.14).
    set_keepalive(std::chrono::duration_cast<std::chrono::milliseconds>(duration) * 3 / 2);
  }
  void wake() override {
    said_disconnect_ = false;
    channel().wake();
  }
  void set_will(const std::optional<mqtt::Will>& will) override { channel().set_will(will); }

  // --- net::Connection
  void flush() override {
    dirty_ = false;
    if (closed_) return;
    std::string out;
    out.swap(out_);
    std::string_view rest = out;
    while (!rest.empty()) {
      auto h = mqtt::peek_frame(rest, UINT32_MAX);
      if (!h || h->total() > rest.size()) break;  // the channel writes whole packets
      auto packet = mqtt::decode(*h, rest.substr(h->header_length, h->remaining_length),
                                 mqtt::ProtocolVersion::V3_1_1);
      rest.remove_prefix(h->total());
      if (packet && !anonymous_) adapter_.from_broker(std::move(*packet));
    }
    watch_register();
    if (closing_) {
      // The server ends it (a kick, a takeover, a refused CONNECT, a keep alive): say so.
      if (!said_disconnect_ && adapter_.state() != Adapter::State::Idle) to_client(Disconnect{});
      shutdown_now(true);
    }
  }
  std::string_view proto_name() const override { return "MQTT-SN"; }
  std::string_view proto_ver() const override { return "1.2"; }

 private:
  void start_transport() override {}
  void read_more() override {}  // datagrams come through the endpoint
  void close_transport() override {
    retry_.cancel();
    ep_->remove(peer_ep_, this);
  }

  // The gateway's REGISTER waits for its REGACK: sent again after kRetry, and after
  // Adapter::kRegisterTries unanswered the client is taken for lost (as by its keep alive).
  void watch_register() {
    if (retry_armed_ || closed_ || !adapter_.awaiting_regack()) return;
    retry_armed_ = true;
    retry_.expires_after(kRetry);
    retry_.async_wait(
        [self = std::static_pointer_cast<SnConnection>(shared_from_this())](const error_code& ec) {
          self->retry_armed_ = false;
          if (ec || self->closed_) return;
          if (!self->adapter_.register_timeout()) {
            self->channel().handle_keepalive_timeout();
            return;
          }
          self->watch_register();
        });
  }

  std::shared_ptr<Endpoint> ep_;
  udp::endpoint peer_ep_;
  Adapter adapter_;
  asio::steady_timer retry_;
  std::string scratch_, bytes_;
  const bool anonymous_;  // QoS -1 publishes of a client that never connected
  bool retired_ = false;
  bool said_disconnect_ = false;
  bool retry_armed_ = false;
};

void Endpoint::read() {
  if (reading || !socket.is_open()) return;
  reading = true;
  socket.async_wait(udp::socket::wait_read, [self = shared_from_this()](const error_code& ec) {
    self->reading = false;
    if (ec) return;  // closed
    self->on_readable();
  });
}

void Endpoint::on_readable() {
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
    dispatch(std::string_view(t_datagram, n), from);
  }
  read();
}

void Endpoint::dispatch(std::string_view datagram, const udp::endpoint& from) {
  auto decoded = decode(datagram);
  if (!decoded) {
    // Not an MQTT-SN message: dropped; the client and everyone else carry on.
    metrics::inc(worker.core().metrics().packets_malformed);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_warning > std::chrono::seconds(10)) {
      last_warning = now;
      logger()->info(
          "peer={} sent a datagram that is not an MQTT-SN 1.2 message ({} octets): "
          "dropped (logged at most every 10 s per worker)",
          text_of(from), datagram.size());
    }
    return;
  }
  Packet& p = *decoded;
  auto it = peers.find(from);
  std::shared_ptr<SnConnection> c = it == peers.end() ? nullptr : it->second;

  if (std::holds_alternative<SearchGw>(p)) {
    send(from, GwInfo{settings->gateway_id, {}});
    return;
  }
  if (auto* pub = std::get_if<Publish>(&p);
      pub != nullptr && pub->flags.qos == -1 && (c == nullptr || c->anonymous())) {
    // 6.8: QoS -1, from a client that has not connected (gateway.mqttsn.enable_qos3).
    if (!settings->enable_qos3) return;
    auto topic = anonymous_topic(*settings, *pub);
    if (!topic) return;
    if (c == nullptr) {
      c = open(from, true);
      if (c == nullptr) return;
      mqtt::Connect connect;
      connect.keep_alive = static_cast<std::uint16_t>(
          std::min<std::int64_t>(65535, std::max<std::int64_t>(1, idle_timeout.count() / 1000)));
      c->to_broker(connect);
    }
    mqtt::Publish out;
    out.retain = pub->flags.retain;
    out.topic = *topic;
    out.payload = pub->data;
    c->to_broker(out);
    return;
  }
  if (std::holds_alternative<Connect>(p)) {
    if (c != nullptr && (c->anonymous() || (c->adapter().state() != Adapter::State::Idle &&
                                            c->adapter().state() != Adapter::State::WillTopic &&
                                            c->adapter().state() != Adapter::State::WillMsg))) {
      c->retire();
      peers.erase(from);
      c = nullptr;
    }
    if (c == nullptr) c = open(from, false);
    if (c == nullptr) {
      send(from, Connack{ReturnCode::Congestion});  // over max_connections or max_conn_rate
      return;
    }
    c->on_message(std::move(p));
    return;
  }
  if (c == nullptr || c->anonymous()) {
    // Not connected: it should CONNECT (a gateway that restarted, a timed-out client).
    if (!std::holds_alternative<Disconnect>(p) && !std::holds_alternative<Advertise>(p) &&
        !std::holds_alternative<GwInfo>(p)) {
      send(from, Disconnect{});
    }
    return;
  }
  c->on_message(std::move(p));
}

std::shared_ptr<SnConnection> Endpoint::open(const udp::endpoint& from, bool anonymous) {
  auto& m = worker.core().metrics();
  const auto verdict =
      admission->admit(from.address().to_string(), std::chrono::steady_clock::now());
  if (verdict != net::Admission::Verdict::Admitted) {
    metrics::inc(m.connections_refused);
    if (verdict == net::Admission::Verdict::Rate) metrics::inc(m.connections_refused_rate);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_warning > std::chrono::seconds(10)) {
      last_warning = now;
      logger()->warn("listener={} refusing peer={}: {} (logged at most every 10 s per worker)",
                     admission->listener(), text_of(from),
                     verdict == net::Admission::Verdict::Rate ? "over max_conn_rate"
                                                              : "max_connections reached");
    }
    return nullptr;
  }
  auto c = std::make_shared<SnConnection>(worker, admission, shared_from_this(), from, anonymous);
  peers[from] = c;
  c->begin();
  return c;
}

void Endpoint::send(const udp::endpoint& to, const Packet& p) {
  std::string bytes;
  encode(p, bytes);
  send_bytes(to, bytes);
  metrics::inc(worker.core().metrics().bytes_sent, bytes.size());
}

void Endpoint::send_bytes(const udp::endpoint& to, std::string_view bytes) {
  error_code ec;
  socket.send_to(asio::buffer(bytes.data(), bytes.size()), to, 0, ec);
  // would_block: the socket's buffer is full; the datagram is lost as the network may lose
  // it (QoS 1/2 come again, from the channel or the client).
}

void Endpoint::remove(const udp::endpoint& peer, const SnConnection* c) {
  auto it = peers.find(peer);
  if (it != peers.end() && it->second.get() == c) peers.erase(it);
}

std::shared_ptr<const Settings> settings_of(const config::MqttSnGatewayConfig& cfg) {
  auto s = std::make_shared<Settings>();
  s->gateway_id = cfg.gateway_id;
  s->enable_qos3 = cfg.enable_qos3;
  s->mountpoint = cfg.common.mountpoint;
  s->override_username = cfg.common.override_username;
  s->override_password = cfg.common.override_password;
  s->override_clientid = cfg.common.override_clientid;
  for (const auto& [id, topic] : cfg.predefined)
    s->add_predefined(id, topic);
  return s;
}

}  // namespace

struct Gateway::Listener {
  std::string id;
  std::string bind;
  std::uint16_t port = 0;
  std::shared_ptr<net::Admission> admission;
  std::vector<std::shared_ptr<Endpoint>> endpoints;
  std::atomic<bool> running{false};
};

Gateway::Gateway(const config::MqttSnGatewayConfig& cfg, const std::vector<net::Worker*>& workers) {
  auto settings = settings_of(cfg);
  for (const auto& lc : cfg.common.listeners) {
    auto l = std::make_unique<Listener>();
    l->id = lc.type + ":" + lc.name;
    l->admission = std::make_shared<net::Admission>(lc);
    udp::endpoint ep = parse_bind(lc.bind, l->id);
    // The first socket binds without SO_REUSEPORT, so that a port another process holds
    // is refused rather than shared (as net/listener.cpp does for TCP).
    for (auto* w : workers) {
      auto e = std::make_shared<Endpoint>(*w, settings, l->admission, cfg.common.idle_timeout);
      const bool first = l->endpoints.empty();
      const int one = 1;
      error_code ec;
      e->socket.open(ep.protocol(), ec);
      if (!ec && !first &&
          ::setsockopt(e->socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) !=
              0) {
        ec = error_code(errno, boost::system::system_category());
      }
      if (!ec) e->socket.bind(ep, ec);
      if (!ec && first &&
          ::setsockopt(e->socket.native_handle(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) !=
              0) {
        ec = error_code(errno, boost::system::system_category());
      }
      if (!ec) e->socket.non_blocking(true, ec);
      if (ec) {
        throw std::runtime_error("gateway.mqttsn listener " + l->id + ": cannot bind " + lc.bind +
                                 ": " + ec.message());
      }
      // Room for bursts of datagrams between two turns of the worker (best effort).
      e->socket.set_option(asio::socket_base::receive_buffer_size(4 << 20), ec);
      if (first) ep.port(e->socket.local_endpoint().port());
      l->endpoints.push_back(std::move(e));
    }
    l->port = ep.port();
    const std::string host = ep.address().to_string();
    l->bind = (ep.address().is_v6() ? "[" + host + "]" : host) + ":" + std::to_string(l->port);
    logger()->info("gateway.mqttsn listener {} on {} (UDP)", l->id, l->bind);
    listeners_.push_back(std::move(l));
  }
}

Gateway::~Gateway() {
  // The workers have stopped: what each endpoint and its connections hold of each other
  // goes (a connection holds its endpoint; the endpoint its connections).
  for (auto& l : listeners_) {
    for (auto& e : l->endpoints)
      e->peers.clear();
  }
}

void Gateway::start() {
  for (auto& l : listeners_) {
    l->running = true;
    for (auto& e : l->endpoints)
      asio::post(e->worker.io(), [e] { e->read(); });
  }
}

void Gateway::stop() {
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

std::vector<Gateway::ListenerInfo> Gateway::listeners() const {
  std::vector<ListenerInfo> out;
  for (const auto& l : listeners_) {
    out.push_back(ListenerInfo{l->id, l->bind, l->port, l->admission->connections(),
                               l->admission->max_connections(), l->running.load()});
  }
  return out;
}

std::uint32_t Gateway::connections() const {
  std::uint32_t n = 0;
  for (const auto& l : listeners_)
    n += l->admission->connections();
  return n;
}

}  // namespace emqxd::gateways::mqttsn
