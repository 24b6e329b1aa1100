#include "session/test_hub.hpp"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <mutex>
#include <sstream>
#include <variant>

#include "storage/memory_store.hpp"

namespace Catch {
std::string StringMaker<emqxd::mqtt::ReasonCode>::convert(emqxd::mqtt::ReasonCode rc) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", static_cast<unsigned>(rc));
  return buf;
}
}  // namespace Catch

namespace emqxd::session::test {

using mqtt::QoS;
using mqtt::ReasonCode;

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::string hex8(unsigned v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02x", v);
  return buf;
}

std::string rc(ReasonCode r) {
  return hex8(static_cast<unsigned>(r));
}

void props(std::ostream& os, const mqtt::Properties& p) {
  if (p.topic_alias) os << " alias=" << *p.topic_alias;
  if (p.message_expiry_interval) os << " expiry=" << *p.message_expiry_interval;
  if (!p.subscription_identifiers.empty()) {
    os << " subids=[";
    for (std::size_t i = 0; i < p.subscription_identifiers.size(); ++i) {
      os << (i ? "," : "") << p.subscription_identifiers[i];
    }
    os << "]";
  }
  if (p.session_expiry_interval) os << " session_expiry=" << *p.session_expiry_interval;
  if (p.assigned_client_identifier) os << " assigned='" << *p.assigned_client_identifier << "'";
  if (p.reason_string) os << " reason='" << *p.reason_string << "'";
  if (p.response_information) os << " response_info='" << *p.response_information << "'";
  if (p.receive_maximum) os << " receive_max=" << *p.receive_maximum;
  if (p.maximum_qos) os << " max_qos=" << static_cast<int>(*p.maximum_qos);
  if (p.retain_available) os << " retain_available=" << static_cast<int>(*p.retain_available);
  if (p.server_keep_alive) os << " server_keep_alive=" << *p.server_keep_alive;
  if (p.content_type) os << " content_type='" << *p.content_type << "'";
  if (!p.user_properties.empty()) os << " user_props=" << p.user_properties.size();
}

}  // namespace

std::string describe(const mqtt::Packet& packet) {
  std::ostringstream os;
  std::visit(Overloaded{
                 [&](const mqtt::Connect& c) { os << "CONNECT id='" << c.client_id << "'"; },
                 [&](const mqtt::ConnAck& a) {
                   os << "CONNACK sp=" << a.session_present << " code=" << hex8(a.code);
                   props(os, a.props);
                 },
                 [&](const mqtt::Publish& p) {
                   os << "PUBLISH topic='" << p.topic << "' qos=" << static_cast<int>(p.qos)
                      << " id=" << p.packet_id << (p.dup ? " dup" : "")
                      << (p.retain ? " retain" : "") << " payload='" << p.payload << "'";
                   props(os, p.props);
                 },
                 [&](const mqtt::PubAck& a) {
                   os << "PUBACK id=" << a.packet_id << " rc=" << rc(a.reason);
                 },
                 [&](const mqtt::PubRec& a) {
                   os << "PUBREC id=" << a.packet_id << " rc=" << rc(a.reason);
                 },
                 [&](const mqtt::PubRel& a) {
                   os << "PUBREL id=" << a.packet_id << " rc=" << rc(a.reason);
                 },
                 [&](const mqtt::PubComp& a) {
                   os << "PUBCOMP id=" << a.packet_id << " rc=" << rc(a.reason);
                 },
                 [&](const mqtt::Subscribe& s) { os << "SUBSCRIBE id=" << s.packet_id; },
                 [&](const mqtt::SubAck& a) {
                   os << "SUBACK id=" << a.packet_id << " codes=[";
                   for (std::size_t i = 0; i < a.reason_codes.size(); ++i) {
                     os << (i ? "," : "") << rc(a.reason_codes[i]);
                   }
                   os << "]";
                 },
                 [&](const mqtt::Unsubscribe& u) { os << "UNSUBSCRIBE id=" << u.packet_id; },
                 [&](const mqtt::UnsubAck& a) {
                   os << "UNSUBACK id=" << a.packet_id << " codes=[";
                   for (std::size_t i = 0; i < a.reason_codes.size(); ++i) {
                     os << (i ? "," : "") << rc(a.reason_codes[i]);
                   }
                   os << "]";
                 },
                 [&](const mqtt::PingReq&) { os << "PINGREQ"; },
                 [&](const mqtt::PingResp&) { os << "PINGRESP"; },
                 [&](const mqtt::Disconnect& d) {
                   os << "DISCONNECT rc=" << rc(d.reason);
                   props(os, d.props);
                 },
                 [&](const mqtt::Auth& a) { os << "AUTH rc=" << rc(a.reason); },
             },
             packet);
  return os.str();
}

mqtt::Publish publish_packet(std::string_view topic, QoS qos, std::uint16_t packet_id,
                             std::string_view payload, bool retain, bool dup) {
  mqtt::Publish p;
  p.dup = dup;
  p.qos = qos;
  p.retain = retain;
  p.topic = topic;
  p.packet_id = packet_id;
  p.payload = payload;
  return p;
}

// ------------------------------------------------------------------------------- TestHub

namespace {

config::Config test_config(const TestHub::Tweak& tweak) {
  config::Config c;
  c.node.name = "emqxd@test";
  c.durable_sessions.enable = false;  // on in the server (RocksDB): here a test asks for it
  if (tweak) tweak(c);
  return c;
}

}  // namespace

// Before the workers: a core decides when it is made whether it records (WorkerCore).
// As app::Node does, with a ManualStore in place of RocksStore.
ManualStore* TestHub::attach_store(NodeState& node) {
  if (!node.config.durable_sessions.enable) {
    node.store = std::make_unique<storage::MemoryStore>();
    return nullptr;
  }
  auto store = std::make_unique<ManualStore>();
  auto* raw = store.get();
  node.store = std::move(store);
  node.durable = true;
  return raw;
}

TestHub::TestHub(const Tweak& tweak)
    : node_(test_config(tweak)), store_(attach_store(node_)), workers_(node_, 1) {
  // The channel logs every refused client at info; the test output needs only failures.
  spdlog::set_level(spdlog::level::warn);
  core().observe_publish([this](const mqtt::MessagePtr& m) {
    if (m->topic.starts_with("$SYS/")) {
      sys_topics_.push_back(m->topic);
    } else {
      published.push_back(m);
    }
  });
}

TestHub::~TestHub() = default;

std::size_t TestHub::inject(mqtt::MessagePtr m) {
  auto n = core().publish(m, {}).matched;
  run();
  return n;
}

std::size_t TestHub::inject(std::string topic, std::string payload, QoS qos, bool retain) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->retain = retain;
  m->received_at = now();
  return inject(std::move(m));
}

std::vector<std::string> TestHub::events(std::string_view event) const {
  // $SYS/brokers/<node>/clients/<client id>/<event> (session/sys_events.cpp)
  const std::string prefix = "$SYS/brokers/" + node_.config.node.name + "/clients/";
  const std::string suffix = "/" + std::string(event);
  std::vector<std::string> ids;
  for (const auto& t : sys_topics_) {
    if (t.size() < prefix.size() + suffix.size() || !t.starts_with(prefix) ||
        !t.ends_with(suffix)) {
      continue;
    }
    ids.push_back(t.substr(prefix.size(), t.size() - prefix.size() - suffix.size()));
  }
  return ids;
}

Session* TestHub::session(const std::string& client_id) {
  std::uint64_t sid = 0;
  {
    std::lock_guard lock(node_.registry.mutex);
    auto it = node_.registry.entries.find(client_id);
    if (it == node_.registry.entries.end()) return nullptr;
    sid = it->second.session;
  }
  return core().sessions().find(sid);
}

void TestHub::commit(const storage::Status& status) {
  REQUIRE(store_ != nullptr);  // durable_sessions.enable
  for (auto n = store_->pending.size(); n > 0; --n)
    store_->complete_next(status);
  run();
}

// ------------------------------------------------------------------------------ TestHost

Packets TestHost::take(mqtt::ProtocolVersion version) {
  kept_.push_back(std::move(out_));
  out_.clear();
  std::string_view in = kept_.back();
  Packets packets;
  while (!in.empty()) {
    auto h = mqtt::peek_frame(in, 0xFFFF'FFFF);
    if (!h) FAIL("unframeable output: " << to_string(h.error()));
    REQUIRE(h->total() <= in.size());
    auto p = mqtt::decode(*h, in.substr(h->header_length, h->remaining_length), version);
    if (!p) FAIL("undecodable output: " << to_string(p.error()));
    packets.push_back(std::move(*p));
    in.remove_prefix(h->total());
  }
  return packets;
}

// ---------------------------------------------------------------------------- TestClient

TestClient::TestClient(TestHub& h, mqtt::ProtocolVersion v)
    : hub(h), version(v), channel(h.core(), host) {}

TestClient::~TestClient() {
  if (channel.state() != Channel::State::Closed) channel.handle_closed();
}

Packets TestClient::take() {
  Packets out = std::move(leftover_);
  leftover_.clear();
  for (auto& p : host.take(version))
    out.push_back(std::move(p));
  for (auto& p : out) {
    if (auto* d = std::get_if<mqtt::Disconnect>(&p)) d->props.reason_string.reset();
  }
  return out;
}

Packets TestClient::send(mqtt::Packet p) {
  channel.handle_in(std::move(p));
  hub.run();
  return take();
}

Packets TestClient::connect(ConnectArgs args) {
  mqtt::Connect c;
  c.version = version;
  c.clean_start = args.clean_start;
  c.keep_alive = args.keep_alive;
  c.props = std::move(args.props);
  c.client_id = std::move(args.client_id);
  c.will = std::move(args.will);
  return send(std::move(c));
}

Packets TestClient::connect(const char* client_id, bool clean_start) {
  return connect(ConnectArgs{.client_id = client_id, .clean_start = clean_start});
}

mqtt::ConnAck TestClient::connect_ok(ConnectArgs args) {
  Packets out = connect(std::move(args));
  INFO("after CONNECT: " << Catch::Detail::stringify(out));
  REQUIRE(!out.empty());
  REQUIRE(std::holds_alternative<mqtt::ConnAck>(out[0]));
  auto ack = std::get<mqtt::ConnAck>(out[0]);
  REQUIRE(ack.code == 0);
  REQUIRE(channel.state() == Channel::State::Connected);
  leftover_.assign(std::make_move_iterator(out.begin() + 1), std::make_move_iterator(out.end()));
  return ack;
}

mqtt::ConnAck TestClient::connect_ok(const char* client_id, bool clean_start) {
  return connect_ok(ConnectArgs{.client_id = client_id, .clean_start = clean_start});
}

Packets TestClient::publish(std::string_view topic, QoS qos, std::uint16_t packet_id,
                            std::string_view payload, mqtt::Properties props, bool retain) {
  auto p = publish_packet(topic, qos, packet_id, payload, retain);
  p.props = std::move(props);
  return send(std::move(p));
}

Packets TestClient::subscribe(std::string filter, QoS qos, std::uint16_t packet_id) {
  mqtt::SubscribeOptions opts;
  opts.max_qos = qos;
  return subscribe(std::move(filter), opts, packet_id);
}

Packets TestClient::subscribe(std::string filter, mqtt::SubscribeOptions opts,
                              std::uint16_t packet_id, std::uint32_t subscription_id) {
  mqtt::Subscribe s;
  s.packet_id = packet_id;
  if (subscription_id != 0) s.props.subscription_identifiers.push_back(subscription_id);
  s.subscriptions.push_back({std::move(filter), opts});
  return send(std::move(s));
}

Packets TestClient::unsubscribe(std::vector<std::string> filters, std::uint16_t packet_id) {
  mqtt::Unsubscribe u;
  u.packet_id = packet_id;
  u.topic_filters = std::move(filters);
  return send(std::move(u));
}

Packets TestClient::disconnect(ReasonCode rc, mqtt::Properties props) {
  return send(mqtt::Disconnect{rc, std::move(props)});
}

void TestClient::socket_closed() {
  channel.handle_closed();
  hub.run();
}

Packets TestClient::server_disconnect(ReasonCode rc) const {
  if (!v5()) return {};
  return {mqtt::Disconnect{rc, {}}};
}

ReasonCode TestClient::ack_code(ReasonCode rc) const {
  return v5() ? rc : ReasonCode::Success;
}

}  // namespace emqxd::session::test
