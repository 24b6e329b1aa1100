// The ZeroMQ bridge (bridge.hpp).
#include "gateways/zmq/bridge.hpp"

#include <zmq.h>

#include <atomic>
#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "common/log.hpp"
#include "gateways/client_info.hpp"
#include "metrics/metrics.hpp"
#include "mqtt/codec.hpp"
#include "net/admission.hpp"
#include "net/connection.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::zmq {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("zmq");
  return l;
}

constexpr char kClientId[] = "emqxd_zmq_bridge";
// Messages from ZeroMQ handed to the worker and not yet published: past it the thread
// stops reading, and ZeroMQ's own queue (its high-water mark) drops what comes, as ZeroMQ
// PUB/SUB does for any slow subscriber.
constexpr std::uint64_t kMaxInFlight = 10000;
constexpr int kPollMs = 20;

class BridgeConnection;

}  // namespace

struct Bridge::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::ZmqGatewayConfig& c, net::Worker& w) : cfg(c), worker(w) {}
  ~Impl() {
    if (sub != nullptr) zmq_close(sub);
    if (pub != nullptr) zmq_close(pub);
    if (ctx != nullptr) zmq_ctx_term(ctx);
  }

  void run();                         // the ZeroMQ thread
  void connect_client();              // worker thread: the bridge's MQTT client, again if it ended
  void queue_out(std::string bytes);  // worker thread

  config::ZmqGatewayConfig cfg;
  net::Worker& worker;
  void* ctx = nullptr;
  void* sub = nullptr;
  void* pub = nullptr;
  std::thread thread;
  std::atomic<bool> stopping{false};
  std::mutex mutex;
  std::deque<std::string> out;  // guarded by mutex
  std::size_t out_bytes = 0;    // guarded by mutex
  std::atomic<std::uint64_t> in_flight{0};
  std::atomic<std::uint64_t> received{0}, forwarded{0}, sent{0}, dropped{0};
  std::atomic<bool> connected{false};
  std::shared_ptr<BridgeConnection> client;  // worker thread
  std::shared_ptr<net::Admission> admission;
};

namespace {

// The bridge's MQTT client: a connection with no socket. What it is given from ZeroMQ goes
// to its channel as PUBLISH packets; the PUBLISH packets its channel writes go to ZeroMQ.
class BridgeConnection final : public net::Connection {
 public:
  BridgeConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
                   std::weak_ptr<Bridge::Impl> bridge)
      : Connection(worker, std::move(admission), "zmq", 0), bridge_(std::move(bridge)) {}

  void begin(const config::ZmqGatewayConfig& cfg) {
    start();
    mqtt::Connect c;
    c.version = mqtt::ProtocolVersion::V5;
    c.client_id = kClientId;
    c.keep_alive = 0;
    feed(c);
    if (!cfg.sub_topic.empty()) {
      mqtt::Subscribe s;
      s.packet_id = 1;
      mqtt::Subscription sub;
      sub.topic_filter = cfg.sub_topic;
      sub.options.max_qos = mqtt::QoS::AtLeastOnce;
      s.subscriptions.push_back(std::move(sub));
      feed(s);
    }
  }

  // Its channel holds input (a congested subscriber holds the publisher, a remote
  // authorization source is slow): what ZeroMQ brings meanwhile is dropped, as ZeroMQ
  // drops for a slow subscriber, rather than piling up in the connection.
  bool congested() const { return pending_input() > 256 * 1024; }

  void publish(const std::string& topic, std::string_view payload, int qos) {
    mqtt::Publish p;
    p.topic = topic;
    p.payload = payload;
    p.qos = qos == 1 ? mqtt::QoS::AtLeastOnce : mqtt::QoS::AtMostOnce;
    if (qos == 1) {
      next_id_ = static_cast<std::uint16_t>(next_id_ == 0xFFFF ? 2 : next_id_ + 1);
      p.packet_id = next_id_;
    }
    feed(p);
  }

  void flush() override {
    dirty_ = false;
    if (closed_) return;
    std::string bytes;
    bytes.swap(out_);
    auto bridge = bridge_.lock();
    for_each_packet(bytes, mqtt::ProtocolVersion::V5, [&](mqtt::Packet&& packet) {
      if (auto* ack = std::get_if<mqtt::ConnAck>(&packet)) {
        if (bridge) bridge->connected = ack->code == 0;
        if (ack->code != 0) {
          logger()->warn(
              "gateway.zmq: the bridge's MQTT client was refused (reason 0x{:02x}); "
              "trying again in 5 s",
              ack->code);
        }
      } else if (auto* sa = std::get_if<mqtt::SubAck>(&packet)) {
        if (!sa->reason_codes.empty() && static_cast<int>(sa->reason_codes[0]) >= 0x80) {
          logger()->warn("gateway.zmq: subscribing to sub_topic was refused (reason 0x{:02x})",
                         static_cast<int>(sa->reason_codes[0]));
        }
      } else if (auto* p = std::get_if<mqtt::Publish>(&packet)) {
        if (bridge) bridge->queue_out(bridge->cfg.pub_pre + std::string(p->payload));
        if (p->qos == mqtt::QoS::AtLeastOnce) feed(mqtt::PubAck{p->packet_id, {}, {}});
      }
    });
    if (closing_) shutdown_now(true);
  }
  std::string_view proto_name() const override { return "ZeroMQ"; }
  std::string_view proto_ver() const override { return "4"; }

 private:
  void feed(const mqtt::Packet& p) {
    if (closed_ || closing_) return;
    scratch_.clear();
    mqtt::encode(p, mqtt::ProtocolVersion::V5, scratch_);
    on_bytes(scratch_);
  }
  void start_transport() override {}
  void read_more() override {}
  void close_transport() override {
    // Kicked, refused, or the node is stopping: while the bridge runs, it connects again.
    auto bridge = bridge_.lock();
    if (!bridge) return;
    bridge->connected = false;
    if (bridge->stopping) return;
    auto timer = std::make_shared<asio::steady_timer>(worker_.io(), std::chrono::seconds(5));
    timer->async_wait([timer, weak = bridge_](const error_code& ec) {
      auto b = weak.lock();
      if (ec || !b || b->stopping) return;
      b->connect_client();
    });
  }

  std::weak_ptr<Bridge::Impl> bridge_;
  std::string scratch_;
  std::uint16_t next_id_ = 1;
};

}  // namespace

void Bridge::Impl::connect_client() {
  client = std::make_shared<BridgeConnection>(worker, admission, weak_from_this());
  client->begin(cfg);
}

void Bridge::Impl::queue_out(std::string bytes) {
  std::lock_guard lock(mutex);
  while (!out.empty() &&
         (out.size() >= Bridge::kMaxQueued || out_bytes + bytes.size() > Bridge::kMaxQueuedBytes)) {
    out_bytes -= out.front().size();
    out.pop_front();
    ++dropped;
  }
  out_bytes += bytes.size();
  out.push_back(std::move(bytes));
}

void Bridge::Impl::run() {
  std::vector<std::string> batch;
  std::deque<std::string> sending;
  while (!stopping) {
    zmq_pollitem_t items[] = {{sub, 0, ZMQ_POLLIN, 0}};
    const bool room = in_flight.load() < kMaxInFlight;
    zmq_poll(items, room && sub != nullptr ? 1 : 0, kPollMs);
    if (room && sub != nullptr && (items[0].revents & ZMQ_POLLIN) != 0) {
      for (int i = 0; i < 1000; ++i) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, sub, ZMQ_DONTWAIT) < 0) {
          zmq_msg_close(&msg);
          break;
        }
        std::string data(static_cast<const char*>(zmq_msg_data(&msg)), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
        ++received;
        // The subscription's prefix is not part of the message (NanoMQ's gateway).
        if (data.starts_with(cfg.sub_pre)) data.erase(0, cfg.sub_pre.size());
        batch.push_back(std::move(data));
      }
    }
    if (!batch.empty()) {
      in_flight += batch.size();
      worker.post([self = shared_from_this(), msgs = std::move(batch)] {
        for (const auto& m : msgs) {
          if (self->client && self->connected && !self->client->congested()) {
            self->client->publish(self->cfg.forward, m, self->cfg.qos);
            ++self->forwarded;
          } else {
            ++self->dropped;  // the bridge's client is not connected (refused, reconnecting)
          }
        }
        self->in_flight -= msgs.size();
      });
      batch.clear();
    }
    {
      std::lock_guard lock(mutex);
      sending.swap(out);
      out_bytes = 0;
    }
    for (auto& m : sending) {
      if (zmq_send(pub, m.data(), m.size(), ZMQ_DONTWAIT) < 0) {
        ++dropped;  // EAGAIN: over ZeroMQ's high-water mark
      } else {
        ++sent;
      }
    }
    sending.clear();
  }
}

Bridge::Bridge(const config::ZmqGatewayConfig& cfg, const std::vector<net::Worker*>& workers)
    : impl_(std::make_shared<Impl>(cfg, *workers.at(0))) {
  auto& im = *impl_;
  config::ListenerConfig lc;
  lc.type = "zmq";
  lc.name = "bridge";
  lc.enable_authn = config::AuthnMode::Off;  // the operator's own client
  im.admission = std::make_shared<net::Admission>(lc);
  im.ctx = zmq_ctx_new();
  if (im.ctx == nullptr) throw std::runtime_error("gateway.zmq: cannot make a ZeroMQ context");
  const int linger = 0;
  if (!cfg.sub_address.empty()) {
    im.sub = zmq_socket(im.ctx, ZMQ_SUB);
    zmq_setsockopt(im.sub, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(im.sub, ZMQ_SUBSCRIBE, cfg.sub_pre.data(), cfg.sub_pre.size());
    if (zmq_connect(im.sub, cfg.sub_address.c_str()) != 0) {
      throw std::runtime_error("gateway.zmq.sub_address: " + cfg.sub_address + ": " +
                               zmq_strerror(zmq_errno()));
    }
  }
  im.pub = zmq_socket(im.ctx, ZMQ_PUB);
  zmq_setsockopt(im.pub, ZMQ_LINGER, &linger, sizeof linger);
  if (!cfg.pub_address.empty() && zmq_connect(im.pub, cfg.pub_address.c_str()) != 0) {
    throw std::runtime_error("gateway.zmq.pub_address: " + cfg.pub_address + ": " +
                             zmq_strerror(zmq_errno()));
  }
}

Bridge::~Bridge() {
  stop();
}

void Bridge::start() {
  impl_->thread = std::thread([im = impl_] { im->run(); });
  impl_->worker.post([im = impl_] { im->connect_client(); });
  logger()->info("gateway.zmq: {} -> MQTT {}; MQTT {} -> {}", impl_->cfg.sub_address,
                 impl_->cfg.forward, impl_->cfg.sub_topic, impl_->cfg.pub_address);
}

void Bridge::stop() {
  if (impl_->stopping.exchange(true)) return;
  if (impl_->thread.joinable()) impl_->thread.join();
}

Bridge::Stats Bridge::stats() const {
  return Stats{impl_->received, impl_->forwarded, impl_->sent, impl_->dropped,
               impl_->connected.load()};
}

}  // namespace emqxd::gateways::zmq
