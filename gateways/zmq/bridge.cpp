// The ZeroMQ bridge (bridge.hpp).
#include "gateways/zmq/bridge.hpp"

#include <zmq.h>

#include <stdexcept>
#include <thread>

#include "common/log.hpp"
#include "gateways/bridge_client.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::zmq {

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("zmq");
  return l;
}

constexpr int kPollMs = 20;

std::vector<std::string> filters_of(const config::ZmqGatewayConfig& c) {
  if (c.sub_topic.empty()) return {};
  return {c.sub_topic};
}

}  // namespace

struct Bridge::Impl : BridgeCore {
  Impl(const config::ZmqGatewayConfig& c, net::Worker& w)
      : BridgeCore(w, "gateway.zmq", "ZeroMQ", "emqxd_zmq_bridge", filters_of(c)), cfg(c) {}
  ~Impl() override {
    if (sub != nullptr) zmq_close(sub);
    if (pub != nullptr) zmq_close(pub);
    if (ctx != nullptr) zmq_ctx_term(ctx);
  }

  void run();  // the ZeroMQ thread

  void on_publish(const mqtt::Publish& p) override {
    queue_out(cfg.pub_pre + std::string(p.payload));
  }

  config::ZmqGatewayConfig cfg;
  void* ctx = nullptr;
  void* sub = nullptr;
  void* pub = nullptr;
  std::thread thread;
};

void Bridge::Impl::run() {
  std::vector<std::pair<std::string, std::string>> batch;
  while (!stopping) {
    zmq_pollitem_t items[] = {{sub, 0, ZMQ_POLLIN, 0}};
    const bool reading = room() && sub != nullptr;
    zmq_poll(items, reading ? 1 : 0, kPollMs);
    if (reading && (items[0].revents & ZMQ_POLLIN) != 0) {
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
        batch.emplace_back(cfg.forward, std::move(data));
      }
    }
    if (!batch.empty()) {
      hand_over(std::move(batch), cfg.qos);
      batch.clear();
    }
    for (auto& m : take_out(std::chrono::milliseconds(0))) {
      if (zmq_send(pub, m.data(), m.size(), ZMQ_DONTWAIT) < 0) {
        ++dropped;  // EAGAIN: over ZeroMQ's high-water mark
      } else {
        ++sent;
      }
    }
  }
}

Bridge::Bridge(const config::ZmqGatewayConfig& cfg, const std::vector<net::Worker*>& workers)
    : impl_(std::make_shared<Impl>(cfg, *workers.at(0))) {
  auto& im = *impl_;
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
