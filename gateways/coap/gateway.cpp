// The CoAP gateway's connections (gateway.hpp).
#include "gateways/coap/gateway.hpp"

#include <boost/asio/steady_timer.hpp>

#include "gateways/coap/adapter.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::coap {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

namespace {

// One CoAP client address: its requests become MQTT packets for its channel.
class CoapConnection final : public UdpConnection, public AdapterHost {
 public:
  CoapConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
                 std::shared_ptr<UdpEndpoint> ep, const udp::endpoint& peer,
                 std::shared_ptr<const Settings> settings)
      : UdpConnection(worker, std::move(admission), std::move(ep), peer),
        adapter_(std::move(settings), *this),
        retry_(worker.io()) {}

  void begin() {
    start();
    set_keepalive(endpoint().idle_timeout);  // until the channel is connected
  }
  void on_message(Message&& m) {
    fed_ = false;
    adapter_.from_client(std::move(m));
    // A request that gave the channel nothing (a ping, an ACK, a Block1 block) still shows
    // the client alive: the keep alive counts MQTT packets.
    if (!fed_ && adapter_.state() == Adapter::State::Connected) to_broker(mqtt::PingReq{});
  }
  Adapter& adapter() { return adapter_; }

  // --- AdapterHost
  void to_broker(const mqtt::Packet& p) override {
    if (to_channel(p, mqtt::ProtocolVersion::V5)) fed_ = true;
  }
  void to_client(const Message& m) override {
    if (closed_) return;
    bytes_.clear();
    encode(m, bytes_);
    send_datagram(bytes_);
  }
  void keep_alive(std::chrono::milliseconds timeout) override { set_keepalive(timeout); }
  void retransmit_after(std::chrono::milliseconds after) override {
    const auto due = std::chrono::steady_clock::now() + after;
    if (retry_armed_ && retry_.expiry() <= due) return;
    retry_armed_ = true;
    retry_.expires_at(due);
    retry_.async_wait([self = std::static_pointer_cast<CoapConnection>(shared_from_this())](
                          const error_code& ec) {
      if (ec) return;  // cancelled, or moved earlier: that wait re-arms
      self->retry_armed_ = false;
      if (self->closed_) return;
      self->adapter_.retransmit(std::chrono::steady_clock::now());
    });
  }
  // Tokens of connection mode come from here.
  std::uint32_t random() override { return strong_random(); }

  // --- net::Connection
  void flush() override {
    dirty_ = false;
    if (closed_) return;
    from_channel(mqtt::ProtocolVersion::V5,
                 [&](mqtt::Packet&& p) { adapter_.from_broker(std::move(p)); });
    if (closing_) shutdown_now(true);
  }
  std::string_view proto_name() const override { return "CoAP"; }
  std::string_view proto_ver() const override { return "1"; }

 private:
  void close_transport() override {
    retry_.cancel();
    UdpConnection::close_transport();
  }

  Adapter adapter_;
  asio::steady_timer retry_;
  std::string bytes_;
  bool retry_armed_ = false;
  bool fed_ = false;
};

}  // namespace

void refuse_malformed(UdpEndpoint& ep, std::string_view datagram, const udp::endpoint& from) {
  ep.malformed(from, datagram.size());
  // A CON with a format error is rejected with RST (RFC 7252 4.2); others are dropped.
  if (datagram.size() >= 4 && (static_cast<std::uint8_t>(datagram[0]) & 0xF0) == 0x40) {
    std::string rst;
    encode(Message{Type::Rst,
                   kEmpty,
                   static_cast<std::uint16_t>(static_cast<std::uint8_t>(datagram[2]) << 8 |
                                              static_cast<std::uint8_t>(datagram[3])),
                   {},
                   {},
                   {}},
           rst);
    ep.send_bytes(from, rst);
  }
}

namespace {

// Every datagram of a CoAP listener.
void dispatch(UdpEndpoint& ep, const std::shared_ptr<const Settings>& settings,
              std::string_view datagram, const udp::endpoint& from) {
  auto decoded = decode(datagram);
  if (!decoded) {
    refuse_malformed(ep, datagram, from);
    return;
  }
  Message& m = *decoded;
  auto c = std::static_pointer_cast<CoapConnection>(ep.find(from));
  if (c != nullptr && c->adapter().state() == Adapter::State::Closed && m.is_request()) {
    // It is ending (DELETE, a refused connect, a kick): a new request starts anew. Closed
    // here too, so that it ends even if its channel has not got that far yet.
    c->close();
    ep.forget(from);
    c = nullptr;
  }
  if (c == nullptr) {
    if (!m.is_request()) {
      // A ping, an ACK or an RST for nothing this gateway has: a ping gets its RST.
      if (m.type == Type::Con) {
        std::string rst;
        encode(Message{Type::Rst, kEmpty, m.id, {}, {}, {}}, rst);
        ep.send_bytes(from, rst);
      }
      return;
    }
    if (!ep.admit(from)) {
      // No text: the source may be forged, and the answer must not be larger than the ask.
      Message busy{
          m.type == Type::Con ? Type::Ack : Type::Non, kServiceUnavailable, m.id, m.token, {}, {}};
      std::string bytes;
      encode(busy, bytes);
      ep.send_bytes(from, bytes);
      return;
    }
    c = std::make_shared<CoapConnection>(ep.worker, ep.admission, ep.shared_from_this(), from,
                                         settings);
    ep.add(from, c);
    c->begin();
  }
  c->on_message(std::move(m));
}

std::shared_ptr<const Settings> settings_of(const config::CoapGatewayConfig& cfg) {
  auto s = std::make_shared<Settings>();
  s->mountpoint = cfg.common.mountpoint;
  s->client_override = {cfg.common.override_username, cfg.common.override_password,
                        cfg.common.override_clientid};
  s->connection_required = cfg.connection_required;
  s->heartbeat_s = static_cast<std::uint32_t>(std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::seconds>(cfg.heartbeat).count()));
  s->notify = cfg.notify_type == "non"   ? Settings::Notify::Non
              : cfg.notify_type == "con" ? Settings::Notify::Con
                                         : Settings::Notify::Qos;
  auto qos = [](const std::string& v) { return v == "coap" ? -1 : v.back() - '0'; };
  s->publish_qos = qos(cfg.publish_qos);
  s->subscribe_qos = qos(cfg.subscribe_qos);
  return s;
}

}  // namespace

std::unique_ptr<UdpListeners> listen(const config::CoapGatewayConfig& cfg,
                                     const std::vector<net::Worker*>& workers) {
  return std::make_unique<UdpListeners>(
      "coap", cfg.common.listeners, workers, cfg.common.idle_timeout,
      [settings = settings_of(cfg)](UdpEndpoint& ep, std::string_view datagram,
                                    const udp::endpoint& from) {
        dispatch(ep, settings, datagram, from);
      });
}

}  // namespace emqxd::gateways::coap
