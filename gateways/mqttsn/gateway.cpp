// The MQTT-SN gateway's connections (gateway.hpp).
#include "gateways/mqttsn/gateway.hpp"

#include <algorithm>
#include <boost/asio/steady_timer.hpp>

#include "gateways/mqttsn/adapter.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/admission.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::mqttsn {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

namespace {

// How long the gateway waits for the REGACK of its REGISTER before sending it again
// (MQTT-SN 1.2, 6.13: Tretry, "in the order of 10 to 15 seconds").
constexpr auto kRetry = std::chrono::seconds(10);

// One MQTT-SN client: its messages become MQTT packets for its channel.
class SnConnection final : public UdpConnection, public AdapterHost {
 public:
  SnConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
               std::shared_ptr<UdpEndpoint> ep, const udp::endpoint& peer,
               std::shared_ptr<const Settings> settings, bool anonymous)
      : UdpConnection(worker, std::move(admission), std::move(ep), peer),
        adapter_(std::move(settings), *this),
        retry_(worker.io()),
        anonymous_(anonymous) {}

  void begin() {
    start();
    // Until CONNECT is done: the gateway's idle_timeout, not MQTT's.
    set_keepalive(endpoint().idle_timeout);
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
    // No will, whether or not the channel can take the DISCONNECT now (one waiting for a
    // remote authorization answer holds it, and the close below would look abnormal).
    channel().set_will(std::nullopt);
    to_broker(mqtt::Disconnect{});
    // And closed, whether or not the channel could take the DISCONNECT now (it may be
    // waiting for an authentication or authorization answer): the endpoint forgets this
    // connection, so it must end by itself.
    close();
  }

  // --- AdapterHost
  void to_broker(const mqtt::Packet& p) override { to_channel(p, mqtt::ProtocolVersion::V3_1_1); }
  void to_client(const Packet& p) override {
    if (retired_ || anonymous_ || closed_) return;
    said_disconnect_ = said_disconnect_ || std::holds_alternative<Disconnect>(p);
    bytes_.clear();
    encode(p, bytes_);
    send_datagram(bytes_);
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
    from_channel(mqtt::ProtocolVersion::V3_1_1, [&](mqtt::Packet&& p) {
      if (!anonymous_) adapter_.from_broker(std::move(p));
    });
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
  void close_transport() override {
    retry_.cancel();
    UdpConnection::close_transport();
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

  Adapter adapter_;
  asio::steady_timer retry_;
  std::string bytes_;
  const bool anonymous_;  // QoS -1 publishes of a client that never connected
  bool retired_ = false;
  bool said_disconnect_ = false;
  bool retry_armed_ = false;
};

// A new connection for `from`, if the listener lets it in.
std::shared_ptr<SnConnection> open(UdpEndpoint& ep, const udp::endpoint& from,
                                   const std::shared_ptr<const Settings>& settings,
                                   bool anonymous) {
  if (!ep.admit(from)) return nullptr;
  auto c = std::make_shared<SnConnection>(ep.worker, ep.admission, ep.shared_from_this(), from,
                                          settings, anonymous);
  ep.add(from, c);
  c->begin();
  return c;
}

void send(UdpEndpoint& ep, const udp::endpoint& to, const Packet& p) {
  std::string bytes;
  encode(p, bytes);
  ep.send_bytes(to, bytes);
}

// Every datagram of an MQTT-SN listener.
void dispatch(UdpEndpoint& ep, const std::shared_ptr<const Settings>& settings,
              std::string_view datagram, const udp::endpoint& from) {
  auto decoded = decode(datagram);
  if (!decoded) {
    ep.malformed(from, datagram.size());  // dropped; the client and everyone else carry on
    return;
  }
  Packet& p = *decoded;
  auto c = std::static_pointer_cast<SnConnection>(ep.find(from));

  if (std::holds_alternative<SearchGw>(p)) {
    send(ep, from, GwInfo{settings->gateway_id, {}});
    return;
  }
  if (auto* pub = std::get_if<Publish>(&p);
      pub != nullptr && pub->flags.qos == -1 && (c == nullptr || c->anonymous())) {
    // 6.8: QoS -1, from a client that has not connected (gateway.mqttsn.enable_qos3).
    if (!settings->enable_qos3) return;
    auto topic = anonymous_topic(*settings, *pub);
    if (!topic) return;
    if (c == nullptr) {
      c = open(ep, from, settings, true);
      if (c == nullptr) return;
      mqtt::Connect connect;
      connect.keep_alive = static_cast<std::uint16_t>(
          std::min<std::int64_t>(65535, std::max<std::int64_t>(1, ep.idle_timeout.count() / 1000)));
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
      ep.forget(from);
      c = nullptr;
    }
    if (c == nullptr) c = open(ep, from, settings, false);
    if (c == nullptr) {
      send(ep, from, Connack{ReturnCode::Congestion});  // over max_connections or max_conn_rate
      return;
    }
    c->on_message(std::move(p));
    return;
  }
  if (c == nullptr || c->anonymous()) {
    // Not connected: it should CONNECT (a gateway that restarted, a timed-out client).
    if (!std::holds_alternative<Disconnect>(p) && !std::holds_alternative<Advertise>(p) &&
        !std::holds_alternative<GwInfo>(p)) {
      send(ep, from, Disconnect{});
    }
    return;
  }
  c->on_message(std::move(p));
}

std::shared_ptr<const Settings> settings_of(const config::MqttSnGatewayConfig& cfg) {
  auto s = std::make_shared<Settings>();
  s->gateway_id = cfg.gateway_id;
  s->enable_qos3 = cfg.enable_qos3;
  s->idle_keep_alive_s = static_cast<std::uint16_t>(std::clamp<std::int64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(cfg.common.idle_timeout).count(), 1, 65535));
  s->mountpoint = cfg.common.mountpoint;
  s->client_override = {cfg.common.override_username, cfg.common.override_password,
                        cfg.common.override_clientid};
  for (const auto& [id, topic] : cfg.predefined)
    s->add_predefined(id, topic);
  return s;
}

}  // namespace

std::unique_ptr<UdpListeners> listen(const config::MqttSnGatewayConfig& cfg,
                                     const std::vector<net::Worker*>& workers) {
  return std::make_unique<UdpListeners>(
      "mqttsn", cfg.common.listeners, workers, cfg.common.idle_timeout,
      [settings = settings_of(cfg)](UdpEndpoint& ep, std::string_view datagram,
                                    const udp::endpoint& from) {
        dispatch(ep, settings, datagram, from);
      });
}

}  // namespace emqxd::gateways::mqttsn
