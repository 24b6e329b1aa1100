#include "session/test_hub.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <sstream>
#include <variant>

#include "session/routing.hpp"

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

TestHub::TestHub() {
  cfg.node.name = "emqxd@test";
  // The channel logs every refused client at info; the test output needs only failures.
  spdlog::set_level(spdlog::level::warn);
}

TestHub::~TestHub() = default;

PublishResult TestHub::publish(const mqtt::MessagePtr& m, std::string_view publisher_client_id) {
  published.push_back(m);
  // As net::Worker::publish: store or clear the retained message, then match.
  if (m->retain && cfg.retainer.enable &&
      retainer_.retain(m) == broker::Retainer::RetainResult::Stored) {
    metrics::inc(counters.messages_retained);
  }
  matches_.clear();
  broker_.match(*m, publisher_client_id, matches_);
  PublishResult result;
  for (auto& match : matches_)
    route(m, std::move(match), outbox_, result, *this);
  metrics::inc(counters.messages_delivered, matches_.size());
  return result;
}

std::uint64_t TestHub::await_commit(Channel& ch, const mqtt::Message* /*published*/) {
  commit_waiters[&ch] = ticket;
  return ticket;
}

void TestHub::commit(const storage::Status& status) {
  auto done = ticket++;
  batch = std::make_unique<storage::Batch>();
  auto waiters = std::move(commit_waiters);
  commit_waiters.clear();
  for (auto& [ch, t] : waiters) {
    if (t <= done) ch->committed(done, status);
  }
}

void TestHub::hold(Channel& ch, std::shared_ptr<broker::Pressure> p) {
  held[&ch] = Held{std::move(p), now()};
}

void TestHub::release_held() {
  auto t = now();
  for (auto it = held.begin(); it != held.end();) {
    if (!it->second.by->releases(it->second.since, t)) {
      ++it;
      continue;
    }
    auto* ch = it->first;
    it = held.erase(it);
    ch->release();
  }
}

void TestHub::flush() {
  // Delivering never publishes, but a loop keeps this right if it ever does.
  while (!outbox_.empty()) {
    auto deliveries = std::move(outbox_);
    outbox_.clear();
    SessionLimits limits{cfg.mqtt.max_mqueue_len, cfg.mqtt.mqueue_store_qos0};
    for (auto& d : deliveries) {
      Session* s = by_id(d.session);
      if (s == nullptr) {
        metrics::inc(counters.messages_dropped_no_session);
        continue;
      }
      deliver_to(*s, std::move(d), limits, counters, nullptr);
    }
  }
}

std::size_t TestHub::inject(mqtt::MessagePtr m) {
  auto n = publish(m, {}).matched;
  flush();
  return n;
}

std::size_t TestHub::inject(std::string topic, std::string payload, QoS qos, bool retain) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = std::move(topic);
  m->payload = std::move(payload);
  m->qos = qos;
  m->retain = retain;
  m->received_at = mqtt::Message::Clock::now();
  return inject(std::move(m));
}

Session* TestHub::session(const std::string& client_id) const {
  auto it = sessions_.find(client_id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

Session* TestHub::by_id(std::uint64_t sid) const {
  for (const auto& [id, s] : sessions_) {
    if (s->id() == sid) return s.get();
  }
  return nullptr;
}

Session* TestHub::create(const std::string& client_id) {
  auto s = std::make_unique<Session>(next_session_++, client_id);
  auto* raw = s.get();
  sessions_[client_id] = std::move(s);
  metrics::inc(counters.session_created);
  return raw;
}

void TestHub::discard(const std::string& client_id) {
  auto it = sessions_.find(client_id);
  if (it == sessions_.end()) return;
  auto owned = std::move(it->second);
  sessions_.erase(it);
  broker::SubscriberRef ref{0, owned->id()};
  for (const auto& [filter, state] : owned->subscriptions)
    broker_.unsubscribe(filter, ref);
  if (owned->pending_will) {
    metrics::inc(counters.wills_published);
    publish(*owned->pending_will, owned->client_id());
  }
  metrics::inc(counters.session_discarded);
}

void TestHub::open_session(Channel& ch, const std::string& client_id, bool clean_start) {
  Session* s = session(client_id);
  if (s != nullptr && s->channel != nullptr) {
    // As net::Worker::takeover: the connection holding the session goes first.
    metrics::inc(counters.client_takeover);
    Channel* old = s->channel;
    old->kick(ReasonCode::SessionTakenOver);  // [MQTT-3.1.4-3]
    old->detach();
  }
  if (s != nullptr && clean_start) {
    discard(client_id);  // [MQTT-3.1.2-4]
    s = nullptr;
  }
  bool present = s != nullptr;
  if (present) {
    s->pending_will.reset();  // resumed before the will delay ended [MQTT-3.1.3-9]
    metrics::inc(counters.session_resumed);
  } else {
    s = create(client_id);
  }
  ch.on_session_ready(s, present);
}

void TestHub::channel_closed(Channel& ch, Session* s) {
  closed.push_back({&ch, ch.client_id(), s != nullptr});
  held.erase(&ch);
  commit_waiters.erase(&ch);
  if (s == nullptr) return;
  // As net::Worker::go_offline; the offline timer is the test's (expire, end_will_delay).
  if (s->expiry_interval == 0 && session(s->client_id()) == s) discard(s->client_id());
}

void TestHub::end_will_delay(const std::string& client_id) {
  Session* s = session(client_id);
  REQUIRE(s != nullptr);
  if (s->pending_will) {
    auto will = std::move(*s->pending_will);
    s->pending_will.reset();
    metrics::inc(counters.wills_published);
    publish(will, client_id);
  }
  flush();
}

void TestHub::expire(const std::string& client_id) {
  REQUIRE(session(client_id) != nullptr);
  metrics::inc(counters.session_expired);
  discard(client_id);
  flush();
}

std::string TestHub::assign_client_id() {
  return "auto-" + std::to_string(next_client_++);
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
    : hub(h), version(v), channel(h, host) {}

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
  hub.flush();
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
  hub.flush();
}

Packets TestClient::server_disconnect(ReasonCode rc) const {
  if (!v5()) return {};
  return {mqtt::Disconnect{rc, {}}};
}

ReasonCode TestClient::ack_code(ReasonCode rc) const {
  return v5() ? rc : ReasonCode::Success;
}

}  // namespace emqxd::session::test
