// The STOMP gateway's listeners and connections (gateway.hpp).
#include "gateways/stomp/gateway.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "gateways/stomp/adapter.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/connection.hpp"
#include "net/listener.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::stomp {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("stomp");
  return l;
}

// A STOMP client: its socket as an MQTT client's; frames parsed here.
class StompConnection final : public net::TcpConnection, public AdapterHost {
 public:
  StompConnection(net::Worker& worker, asio::ip::tcp::socket socket,
                  std::shared_ptr<net::Admission> admission, std::shared_ptr<const Settings> s,
                  config::Duration idle_timeout)
      : TcpConnection(worker, std::move(socket), std::move(admission)),
        settings_(s),
        adapter_(std::move(s), *this),
        heartbeat_(worker.io()),
        idle_timeout_(idle_timeout) {}

  void begin() {
    start();
    set_keepalive(idle_timeout_);  // until CONNECT: the gateway's idle_timeout
  }

  // The channel's packets go to its own buffer; flush() makes frames of them.
  std::string& output() override {
    Connection::output();  // marks the connection for the end of the turn
    return mqtt_out_;
  }
  std::size_t backlog() const override { return out_.size() + mqtt_out_.size(); }

  void flush() override {
    if (closed_) {
      // Gone (EOF, reset): what the channel wrote has nobody to go to, and must not start
      // anything (a CONNACK would arm the heart-beat timer of a dead connection).
      std::string().swap(mqtt_out_);
      TcpConnection::flush();
      return;
    }
    // What the adapter answers the channel here (a PUBACK) may make the channel write
    // more (the next queued message): taken in the same flush.
    for (int round = 0; round < 16 && !mqtt_out_.empty(); ++round) {
      std::string mqtt;
      mqtt.swap(mqtt_out_);
      for_each_packet(mqtt, mqtt::ProtocolVersion::V5,
                      [&](mqtt::Packet&& p) { adapter_.from_broker(std::move(p)); });
    }
    TcpConnection::flush();
    if (!mqtt_out_.empty()) {
      // More than 16 rounds: the rest in a later turn, after the other connections.
      asio::post(worker_.io(), [self = std::static_pointer_cast<StompConnection>(
                                    shared_from_this())] { self->Connection::output(); });
    }
  }
  std::string_view proto_name() const override { return "STOMP"; }
  std::string_view proto_ver() const override { return adapter_.version(); }

  // --- AdapterHost
  void to_broker(const mqtt::Packet& p) override {
    if (closed_) return;
    scratch_.clear();
    mqtt::encode(p, mqtt::ProtocolVersion::V5, scratch_);
    fed_ = true;
    on_bytes(scratch_);
  }
  void to_client(const Frame& f) override {
    if (closed_) return;
    encode(f, out_);
    wrote_ = true;
    Connection::output();
  }
  void end_after_output() override { close(); }
  void send_heartbeats(std::uint32_t ms) override {
    heartbeat_ms_ = ms;
    if (ms > 0) arm_heartbeat();
  }

 protected:
  void on_input(std::string_view data) override {
    frames_in_.append(data);
    // A partial frame is parsed again only once what it waits for can have come (frame.hpp,
    // Parsed::need and nul_from), or a line ended while its headers are incomplete: a
    // frame trickled in small reads costs a parse per header line, not one per read.
    if (waiting_ && frames_in_.size() <= max_frame(settings_->limits)) {
      const bool ready = need_ != 0       ? frames_in_.size() >= need_
                         : nul_from_ != 0 ? frames_in_.find('\0', nul_from_) != std::string::npos
                                          : data.find('\n') != std::string_view::npos;
      if (!ready) {
        if (nul_from_ != 0) nul_from_ = frames_in_.size();
        return;
      }
    }
    waiting_ = false;
    std::string_view rest = frames_in_;
    while (!rest.empty() && !closed_ && !closing_) {
      std::string why;
      auto parsed = parse(rest, settings_->limits, why);
      if (!parsed ||
          (parsed->kind == Parsed::Kind::NeedMore && rest.size() > max_frame(settings_->limits))) {
        if (parsed) why = "a frame larger than the frame limits allow";
        metrics::inc(worker_.core().metrics().packets_malformed);
        logger()->info("peer={} sent a malformed STOMP frame: {}", peer(), why);
        to_client(Frame{
            "ERROR", {{"content-type", "text/plain"}, {"message", "malformed frame: " + why}}, {}});
        close();
        break;
      }
      if (parsed->kind == Parsed::Kind::NeedMore) {
        // The hints count from the start of the partial frame, which becomes the buffer's.
        waiting_ = true;
        need_ = parsed->need;
        nul_from_ = parsed->nul_from;
        break;
      }
      rest.remove_prefix(parsed->consumed);
      fed_ = false;
      if (parsed->kind == Parsed::Kind::Frame) adapter_.from_client(std::move(parsed->frame));
      // A heart-beat, or a frame that gave the channel nothing (BEGIN, an ACK held in a
      // transaction): the client is alive all the same, and the keep alive counts packets.
      if (!fed_ && adapter_.state() == Adapter::State::Connected) to_broker(mqtt::PingReq{});
    }
    frames_in_.erase(0, frames_in_.size() - rest.size());
    if (frames_in_.empty()) std::string().swap(frames_in_);
  }

 private:
  void close_transport() override {
    heartbeat_.cancel();  // it holds the connection
    TcpConnection::close_transport();
  }

  void arm_heartbeat() {
    if (closed_) return;
    heartbeat_.expires_after(std::chrono::milliseconds(heartbeat_ms_));
    heartbeat_.async_wait([self = std::static_pointer_cast<StompConnection>(shared_from_this())](
                              const error_code& ec) {
      if (ec || self->closed_) return;
      if (!self->wrote_) {
        self->out_.push_back('\n');
        self->Connection::output();
      }
      self->wrote_ = false;
      self->arm_heartbeat();
    });
  }

  std::shared_ptr<const Settings> settings_;
  Adapter adapter_;
  asio::steady_timer heartbeat_;
  config::Duration idle_timeout_;
  std::string frames_in_;  // a partial frame
  std::string mqtt_out_;   // what the channel wrote, not yet made into frames
  std::string scratch_;
  std::uint32_t heartbeat_ms_ = 0;
  bool wrote_ = false;  // a frame went out since the last heart-beat tick
  bool fed_ = false;    // the frame being handled gave the channel a packet
  // A partial frame waits (frame.hpp, Parsed): for need_ octets, a NUL from nul_from_, or
  // (both 0) the end of a line.
  bool waiting_ = false;
  std::size_t need_ = 0, nul_from_ = 0;
};

}  // namespace

Gateway::Gateway(const config::StompGatewayConfig& cfg, const std::vector<net::Worker*>& workers) {
  auto settings = std::make_shared<Settings>();
  settings->limits.max_headers = cfg.max_headers;
  settings->limits.max_headers_length = cfg.max_headers_length;
  settings->limits.max_body_length = cfg.max_body_length;
  settings->mountpoint = cfg.common.mountpoint;
  settings->client_override = {cfg.common.override_username, cfg.common.override_password,
                               cfg.common.override_clientid};
  const auto idle = cfg.common.idle_timeout;
  for (const auto& lc : cfg.common.listeners) {
    auto factory = [settings, idle](net::Worker& w, asio::ip::tcp::socket socket,
                                    std::shared_ptr<net::Admission> admission) {
      auto c = std::make_shared<StompConnection>(w, std::move(socket), std::move(admission),
                                                 settings, idle);
      c->begin();
      return std::shared_ptr<net::Connection>();  // started: the listener has nothing to do
    };
    listeners_.push_back(std::make_unique<net::Listener>(lc, workers, factory, "stomp:"));
  }
}

Gateway::~Gateway() = default;

void Gateway::start() {
  for (auto& l : listeners_) {
    l->start();
    logger()->info("gateway.stomp listener {} on {}", l->name(), l->address());
  }
}

void Gateway::stop() {
  for (auto& l : listeners_)
    l->stop();
}

}  // namespace emqxd::gateways::stomp
