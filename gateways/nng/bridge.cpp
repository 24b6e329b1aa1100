// NanoMQ's NNG bridges (bridge.hpp).
#include "gateways/nng/bridge.hpp"

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/rep.h>

#include <optional>
#include <stdexcept>
#include <thread>

#include "broker/topic.hpp"
#include "common/log.hpp"
#include "gateways/bridge_client.hpp"
#include "gateways/nng/topics.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways::nng {

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("nng");
  return l;
}

constexpr nng_duration kRecvTimeoutMs = 20;

std::string key_of(const config::NngBridgeConfig& c) {
  return "bridges.nng." + c.kind + "." + c.name;
}

}  // namespace

namespace {

std::vector<std::string> filters_of(const config::NngBridgeConfig& c) {
  std::vector<std::string> out;
  if (c.kind == "pub") {
    for (const auto& t : c.topics)
      out.push_back(t.local_topic);
  } else if (c.kind == "rep") {
    out.push_back(c.response_topic);
  }
  return out;
}

}  // namespace

struct Bridge::Impl : BridgeCore {
  Impl(const config::NngBridgeConfig& c, net::Worker& w)
      : BridgeCore(w, key_of(c), "NNG",
                   c.clientid.empty() ? "emqxd_nng_" + c.kind + "_" + c.name : c.clientid,
                   filters_of(c)),
        cfg(c) {}
  ~Impl() override {
    if (open) nng_close(sock);
  }

  void run();  // the NNG thread
  void run_sub();
  void run_pub();
  void run_rep();
  void on_publish(const mqtt::Publish& p) override;

  config::NngBridgeConfig cfg;
  nng_socket sock = NNG_SOCKET_INITIALIZER;
  bool open = false;
  std::thread thread;
  // rep: the request waiting for its answer (guarded by mutex).
  std::string waiting_id;
  std::optional<std::string> reply;
  std::uint64_t next_request = 0;
};

void Bridge::Impl::on_publish(const mqtt::Publish& p) {
  if (cfg.kind == "pub") {
    for (const auto& t : cfg.topics) {
      if (broker::topic_matches(t.local_topic, p.topic)) queue_out(outgoing(t, p.topic, p.payload));
    }
    return;
  }
  if (cfg.kind == "rep" && p.topic == cfg.response_topic) {
    std::lock_guard lock(mutex);
    if (!reply && !waiting_id.empty() && p.props.correlation_data &&
        *p.props.correlation_data == waiting_id) {
      reply = std::string(p.payload);
      wake.notify_all();
    }
  }
}

void Bridge::Impl::run() {
  if (cfg.kind == "sub") {
    run_sub();
  } else if (cfg.kind == "pub") {
    run_pub();
  } else {
    run_rep();
  }
}

namespace {

// One message, or nullopt after the receive timeout.
std::optional<std::string> receive(nng_socket s) {
  void* buf = nullptr;
  std::size_t size = 0;
  if (nng_recv(s, &buf, &size, NNG_FLAG_ALLOC) != 0) return std::nullopt;
  std::string data(static_cast<const char*>(buf), size);
  nng_free(buf, size);
  return data;
}

}  // namespace

void Bridge::Impl::run_sub() {
  while (!stopping) {
    if (!room()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(kRecvTimeoutMs));
      continue;
    }
    auto m = receive(sock);
    if (!m) continue;
    ++received;
    // Each subscription whose prefix the message has (bridges.nng.sub; NanoMQ's rules).
    std::vector<std::pair<std::string, std::string>> by_qos[3];
    for (const auto& t : cfg.topics) {
      if (auto tp = incoming(t, *m)) by_qos[t.qos].push_back(std::move(*tp));
    }
    bool any = false;
    for (int q = 0; q < 3; ++q) {
      if (by_qos[q].empty()) continue;
      any = true;
      hand_over(std::move(by_qos[q]), q);
    }
    if (!any) ++dropped;  // no subscription takes it
  }
}

void Bridge::Impl::run_pub() {
  while (!stopping) {
    for (auto& m : take_out(std::chrono::milliseconds(kRecvTimeoutMs))) {
      if (nng_send(sock, m.data(), m.size(), NNG_FLAG_NONBLOCK) != 0) {
        ++dropped;
      } else {
        ++sent;
      }
    }
  }
}

void Bridge::Impl::run_rep() {
  while (!stopping) {
    auto request = receive(sock);
    if (!request) continue;
    ++received;
    std::string id;
    {
      std::lock_guard lock(mutex);
      id = cfg.name + "-" + std::to_string(++next_request);
      waiting_id = id;
      reply.reset();
    }
    worker.post([self = std::static_pointer_cast<Impl>(shared_from_this()), id,
                 payload = std::move(*request)] {
      if (!self->client || !self->connected || self->client->congested()) {
        ++self->dropped;
        return;  // the requester gets the empty reply at the timeout
      }
      mqtt::Properties props;
      props.response_topic = self->cfg.response_topic;
      props.correlation_data = id;
      self->client->publish(self->cfg.request_topic, payload, self->cfg.qos, &props);
      ++self->forwarded;
    });
    std::string answer;
    {
      std::unique_lock lock(mutex);
      // on_publish and stop() notify under the mutex.
      wake.wait_for(lock, cfg.timeout, [&] { return reply.has_value() || stopping.load(); });
      if (reply) answer = std::move(*reply);
      waiting_id.clear();
      reply.reset();
    }
    if (stopping) break;
    if (nng_send(sock, answer.data(), answer.size(), 0) == 0) {
      ++sent;
    } else {
      ++dropped;  // the requester went away
    }
  }
}

Bridge::Bridge(const config::NngBridgeConfig& cfg, net::Worker& worker)
    : impl_(std::make_shared<Impl>(cfg, worker)) {
  auto& im = *impl_;
  const std::string key = key_of(cfg) + "." + cfg.kind + "_url";
  int rv = cfg.kind == "pub"   ? nng_pub0_open(&im.sock)
           : cfg.kind == "sub" ? nng_sub0_open(&im.sock)
                               : nng_rep0_open(&im.sock);
  if (rv != 0) throw std::runtime_error(key + ": cannot open an NNG socket: " + nng_strerror(rv));
  im.open = true;
  nng_socket_set_ms(im.sock, NNG_OPT_RECVTIMEO, kRecvTimeoutMs);
  if (cfg.kind == "sub") {
    for (const auto& t : cfg.topics)
      nng_socket_set(im.sock, NNG_OPT_SUB_SUBSCRIBE, t.remote_topic.data(), t.remote_topic.size());
  }
  if ((rv = nng_listen(im.sock, cfg.url.c_str(), nullptr, 0)) != 0)
    throw std::runtime_error(key + ": " + cfg.url + ": " + nng_strerror(rv));
}

Bridge::~Bridge() {
  stop();
}

void Bridge::start() {
  impl_->thread = std::thread([im = impl_] { im->run(); });
  impl_->worker.post([im = impl_] { im->connect_client(); });
  logger()->info("{}: listening on {}", key_of(impl_->cfg), impl_->cfg.url);
}

void Bridge::stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->stop_waiting();
  if (impl_->thread.joinable()) impl_->thread.join();
}

Bridge::Stats Bridge::stats() const {
  return Stats{impl_->received, impl_->forwarded, impl_->sent, impl_->dropped,
               impl_->connected.load()};
}

const config::NngBridgeConfig& Bridge::config() const {
  return impl_->cfg;
}

}  // namespace emqxd::gateways::nng
