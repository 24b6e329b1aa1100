// The LwM2M gateway's connections (gateway.hpp).
#include "gateways/lwm2m/gateway.hpp"

#include <boost/asio/steady_timer.hpp>

#include "gateways/coap/gateway.hpp"
#include "gateways/lwm2m/adapter.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::lwm2m {

namespace asio = boost::asio;
using asio::ip::udp;
using boost::system::error_code;

namespace {

class Lwm2mConnection final : public UdpConnection, public AdapterHost {
 public:
  Lwm2mConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
                  std::shared_ptr<UdpEndpoint> ep, const udp::endpoint& peer,
                  std::shared_ptr<const Settings> settings)
      : UdpConnection(worker, std::move(admission), std::move(ep), peer),
        adapter_(std::move(settings), *this),
        timer_(worker.io()) {}

  void begin() {
    start();
    set_keepalive(endpoint().idle_timeout);  // until the registration is accepted
  }
  void on_message(coap::Message&& m) {
    adapter_.from_client(std::move(m), std::chrono::steady_clock::now());
  }
  Adapter& adapter() { return adapter_; }

  // --- AdapterHost
  void to_broker(const mqtt::Packet& p) override { to_channel(p, mqtt::ProtocolVersion::V5); }
  void to_client(const coap::Message& m) override {
    if (closed_) return;
    bytes_.clear();
    coap::encode(m, bytes_);
    send_datagram(bytes_);
  }
  void keep_alive(std::chrono::milliseconds timeout) override { set_keepalive(timeout); }
  void wake_after(std::chrono::milliseconds after) override {
    timer_.expires_after(after);
    timer_.async_wait([self = std::static_pointer_cast<Lwm2mConnection>(shared_from_this())](
                          const error_code& ec) {
      if (ec || self->closed_) return;  // cancelled (re-armed), or gone
      self->adapter_.tick(std::chrono::steady_clock::now());
    });
  }
  std::uint32_t random() override { return strong_random(); }

  // --- net::Connection
  void flush() override {
    dirty_ = false;
    if (closed_) return;
    const auto now = std::chrono::steady_clock::now();
    from_channel(mqtt::ProtocolVersion::V5,
                 [&](mqtt::Packet&& p) { adapter_.from_broker(std::move(p), now); });
    if (closing_) shutdown_now(true);
  }
  std::string_view proto_name() const override { return "LwM2M"; }
  std::string_view proto_ver() const override { return "1.0"; }

 private:
  void close_transport() override {
    timer_.cancel();
    UdpConnection::close_transport();
  }

  Adapter adapter_;
  asio::steady_timer timer_;
  std::string bytes_;
};

void answer_stray(UdpEndpoint& ep, const udp::endpoint& from, const coap::Message& m,
                  std::uint8_t code) {
  std::string bytes;
  coap::encode(coap::Message{m.type == coap::Type::Con ? coap::Type::Ack : coap::Type::Non,
                             code,
                             m.id,
                             m.token,
                             {},
                             {}},
               bytes);
  ep.send_bytes(from, bytes);
}

void dispatch(UdpEndpoint& ep, const std::shared_ptr<const Settings>& settings,
              std::string_view datagram, const udp::endpoint& from) {
  auto decoded = coap::decode(datagram);
  if (!decoded) {
    coap::refuse_malformed(ep, datagram, from);
    return;
  }
  coap::Message& m = *decoded;
  auto c = std::static_pointer_cast<Lwm2mConnection>(ep.find(from));
  if (c != nullptr && m.is_request() &&
      (c->adapter().state() == Adapter::State::Closed || c->adapter().registers_other(m))) {
    // De-registered, expired, kicked, or another endpoint behind the same address: a new
    // registration starts a new connection.
    c->close();
    ep.forget(from);
    c = nullptr;
  }
  if (c == nullptr) {
    if (!m.is_request()) {
      if (m.type == coap::Type::Con) {
        std::string rst;
        coap::encode(coap::Message{coap::Type::Rst, coap::kEmpty, m.id, {}, {}, {}}, rst);
        ep.send_bytes(from, rst);
      }
      return;
    }
    if (m.code != coap::kPost || m.path() != "rd") {
      // An Update or De-register from an address with no registration: 4.04, and the
      // client registers again (TS 1.0 5.3.2).
      answer_stray(ep, from, m, coap::kNotFound);
      return;
    }
    if (!ep.admit(from)) {
      answer_stray(ep, from, m, coap::kServiceUnavailable);
      return;
    }
    c = std::make_shared<Lwm2mConnection>(ep.worker, ep.admission, ep.shared_from_this(), from,
                                          settings);
    ep.add(from, c);
    c->begin();
  }
  c->on_message(std::move(m));
}

mqtt::QoS qos_of(int q) {
  return static_cast<mqtt::QoS>(std::clamp(q, 0, 2));
}

std::shared_ptr<const Settings> settings_of(const config::Lwm2mGatewayConfig& cfg) {
  auto s = std::make_shared<Settings>();
  s->mountpoint = cfg.common.mountpoint;
  s->client_override = {cfg.common.override_username, cfg.common.override_password,
                        cfg.common.override_clientid};
  s->lifetime_min = std::chrono::duration_cast<std::chrono::seconds>(cfg.lifetime_min);
  s->lifetime_max = std::chrono::duration_cast<std::chrono::seconds>(cfg.lifetime_max);
  s->qmode_time_window = std::chrono::duration_cast<std::chrono::seconds>(cfg.qmode_time_window);
  s->auto_observe = cfg.auto_observe;
  s->auto_observe_paths = cfg.auto_observe_paths;
  s->update_always = cfg.update_msg_publish_condition == "always";
  s->command = {cfg.command.topic, qos_of(cfg.command.qos)};
  s->response = {cfg.response.topic, qos_of(cfg.response.qos)};
  s->notify = {cfg.notify.topic, qos_of(cfg.notify.qos)};
  s->reg = {cfg.reg.topic, qos_of(cfg.reg.qos)};
  s->update = {cfg.update.topic, qos_of(cfg.update.qos)};
  s->model = ObjectModel::load(cfg.xml_dir);
  return s;
}

}  // namespace

std::unique_ptr<UdpListeners> listen(const config::Lwm2mGatewayConfig& cfg,
                                     const std::vector<net::Worker*>& workers) {
  return std::make_unique<UdpListeners>(
      "lwm2m", cfg.common.listeners, workers, cfg.common.idle_timeout,
      [settings = settings_of(cfg)](UdpEndpoint& ep, std::string_view datagram,
                                    const udp::endpoint& from) {
        dispatch(ep, settings, datagram, from);
      });
}

}  // namespace emqxd::gateways::lwm2m
