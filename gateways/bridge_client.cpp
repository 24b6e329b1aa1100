// The MQTT side of a bridge (bridge_client.hpp).
#include "gateways/bridge_client.hpp"

#include <boost/asio/steady_timer.hpp>

#include "common/log.hpp"
#include "gateways/client_info.hpp"
#include "mqtt/codec.hpp"
#include "net/admission.hpp"
#include "net/worker.hpp"

namespace emqxd::gateways {

BridgeClient::BridgeClient(net::Worker& worker, std::shared_ptr<net::Admission> admission,
                           std::string proto_name, std::weak_ptr<BridgeHandler> handler)
    : Connection(worker, std::move(admission), proto_name, 0),
      proto_name_(std::move(proto_name)),
      handler_(std::move(handler)) {}

void BridgeClient::begin(const std::string& client_id, const std::vector<std::string>& filters) {
  start();
  mqtt::Connect c;
  c.version = mqtt::ProtocolVersion::V5;
  c.client_id = client_id;
  c.keep_alive = 0;
  feed(c);
  std::uint16_t id = 0;
  for (const auto& f : filters) {
    mqtt::Subscribe s;
    s.packet_id = ++id;
    mqtt::Subscription sub;
    sub.topic_filter = f;
    sub.options.max_qos = mqtt::QoS::AtLeastOnce;
    s.subscriptions.push_back(std::move(sub));
    feed(s);
  }
}

void BridgeClient::publish(std::string_view topic, std::string_view payload, int qos,
                           const mqtt::Properties* props) {
  mqtt::Publish p;
  p.topic = topic;
  p.payload = payload;
  p.qos = qos >= 1 ? mqtt::QoS::AtLeastOnce : mqtt::QoS::AtMostOnce;
  if (props != nullptr) p.props = *props;
  if (qos >= 1) {
    next_id_ = static_cast<std::uint16_t>(next_id_ == 0xFFFF ? 1 : next_id_ + 1);
    p.packet_id = next_id_;
  }
  feed(p);
}

void BridgeClient::flush() {
  dirty_ = false;
  if (closed_) return;
  std::string bytes;
  bytes.swap(out_);
  auto handler = handler_.lock();
  for_each_packet(bytes, mqtt::ProtocolVersion::V5, [&](mqtt::Packet&& packet) {
    if (auto* ack = std::get_if<mqtt::ConnAck>(&packet)) {
      if (handler) handler->on_connack(ack->code);
    } else if (auto* sa = std::get_if<mqtt::SubAck>(&packet)) {
      if (!sa->reason_codes.empty() && static_cast<int>(sa->reason_codes[0]) >= 0x80) {
        static const auto logger = log::get("gateway");
        logger->warn("{} bridge: its MQTT client's subscription was refused (reason 0x{:02x})",
                     proto_name_, static_cast<int>(sa->reason_codes[0]));
      }
    } else if (auto* p = std::get_if<mqtt::Publish>(&packet)) {
      if (handler) handler->on_publish(*p);
      if (p->qos == mqtt::QoS::AtLeastOnce) feed(mqtt::PubAck{p->packet_id, {}, {}});
    }
  });
  if (closing_) shutdown_now(true);
}

void BridgeClient::feed(const mqtt::Packet& p) {
  if (closed_ || closing_) return;
  scratch_.clear();
  mqtt::encode(p, mqtt::ProtocolVersion::V5, scratch_);
  on_bytes(scratch_);
}

void BridgeClient::close_transport() {
  if (auto handler = handler_.lock()) handler->on_closed();
}

BridgeCore::BridgeCore(net::Worker& w, std::string k, std::string proto, std::string client_id,
                       std::vector<std::string> filters)
    : worker(w),
      key(std::move(k)),
      proto_(std::move(proto)),
      client_id_(std::move(client_id)),
      filters_(std::move(filters)) {
  config::ListenerConfig lc;
  lc.type = proto_;
  lc.name = key;
  lc.enable_authn = config::AuthnMode::Off;  // the operator's own client
  admission_ = std::make_shared<net::Admission>(lc);
}

void BridgeCore::connect_client() {
  client = std::make_shared<BridgeClient>(worker, admission_, proto_, weak_from_this());
  client->begin(client_id_, filters_);
}

void BridgeCore::hand_over(std::vector<std::pair<std::string, std::string>> msgs, int qos) {
  in_flight += msgs.size();
  worker.post([self = shared_from_this(), msgs = std::move(msgs), qos] {
    for (const auto& [topic, payload] : msgs) {
      if (self->client && self->connected && !self->client->congested()) {
        self->client->publish(topic, payload, qos);
        ++self->forwarded;
      } else {
        ++self->dropped;  // not connected (refused, reconnecting), or its channel is held
      }
    }
    self->in_flight -= msgs.size();
  });
}

void BridgeCore::queue_out(std::string bytes) {
  std::lock_guard lock(mutex);
  while (!out_.empty() &&
         (out_.size() >= kMaxQueued || out_bytes_ + bytes.size() > kMaxQueuedBytes)) {
    out_bytes_ -= out_.front().size();
    out_.pop_front();
    ++dropped;
  }
  out_bytes_ += bytes.size();
  out_.push_back(std::move(bytes));
  wake.notify_all();
}

std::deque<std::string> BridgeCore::take_out(std::chrono::milliseconds wait) {
  std::deque<std::string> taken;
  std::unique_lock lock(mutex);
  if (wait.count() > 0) wake.wait_for(lock, wait, [&] { return !out_.empty() || stopping.load(); });
  taken.swap(out_);
  out_bytes_ = 0;
  return taken;
}

void BridgeCore::stop_waiting() {
  std::lock_guard lock(mutex);
  wake.notify_all();
}

void BridgeCore::on_connack(std::uint8_t code) {
  connected = code == 0;
  if (code != 0) {
    static const auto logger = log::get("gateway");
    logger->warn("{}: the bridge's MQTT client was refused (reason 0x{:02x}); trying again in 5 s",
                 key, code);
  }
}

void BridgeCore::on_closed() {
  // Kicked, refused, or the node is stopping: while the bridge runs, it connects again.
  connected = false;
  if (stopping) return;
  auto timer = std::make_shared<boost::asio::steady_timer>(worker.io(), std::chrono::seconds(5));
  timer->async_wait([timer, weak = weak_from_this()](const boost::system::error_code& ec) {
    auto b = weak.lock();
    if (ec || !b || b->stopping) return;
    b->connect_client();
  });
}

}  // namespace emqxd::gateways
