#include "connectors/mqtt.hpp"

#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json/serialize.hpp>
#include <cstdio>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "auth/db/db_client.hpp"
#include "broker/topic.hpp"
#include "common/log.hpp"
#include "mqtt/codec.hpp"
#include "net/stream_connection.hpp"
#include "rules/template.hpp"

namespace emqxd::connectors {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("bridge");
  return l;
}

constexpr std::uint32_t kMaxPacket = 16u << 20;  // what a remote broker may send us
constexpr auto kFirstRetry = std::chrono::seconds(1);
constexpr auto kLastRetry = std::chrono::seconds(30);
constexpr auto kConnectTimeout = std::chrono::seconds(30);  // EMQX's

std::string hex(const unsigned char* d, std::size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[d[i] >> 4];
    out += digits[d[i] & 15];
  }
  return out;
}

std::string sha1_hex(const std::string& s) {
  unsigned char d[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), d);
  return hex(d, sizeof d);
}

mqtt::ProtocolVersion version_of(const std::string& v) {
  if (v == "v3") return mqtt::ProtocolVersion::V3_1;
  if (v == "v5") return mqtt::ProtocolVersion::V5;
  return mqtt::ProtocolVersion::V3_1_1;
}

// One message for the remote broker, and who waits for its outcome.
struct Outgoing {
  std::string topic, payload;
  mqtt::QoS qos = mqtt::QoS::AtMostOnce;
  bool retain = false;
  std::promise<SendResult> done;
  bool settled = false;
  void settle(SendResult r) {
    if (settled) return;
    settled = true;
    done.set_value(std::move(r));
  }
};

struct Subscription {
  std::string source;  // "mqtt:<name>"
  std::string filter;
  mqtt::QoS qos = mqtt::QoS::AtLeastOnce;
  bool no_local = false;
};

// What every client of a connector shares; read-only once the clients start, except the
// subscriptions (guarded).
struct Shared {
  std::string id;  // "mqtt:<name>"
  std::string host, port, server;
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V3_1_1;
  bool bridge_mode = false;
  bool clean_start = true;
  std::uint16_t keepalive_s = 160;
  std::optional<std::string> username, password;
  std::uint32_t max_inflight = 32;
  std::shared_ptr<asio::ssl::context> tls;
  std::string sni;
  SourceSink sink;
  std::atomic<std::uint64_t> next_message{0};
  std::string node;
};

class Client : public std::enable_shared_from_this<Client> {
 public:
  Client(asio::io_context& io, std::shared_ptr<Shared> s, std::string client_id, bool first)
      : io_(io),
        s_(std::move(s)),
        client_id_(std::move(client_id)),
        first_(first),
        retry_timer_(io),
        ping_timer_(io),
        connect_timer_(io) {}

  void start() {
    asio::post(io_, [self = shared_from_this()] { self->connect(); });
  }
  void stop() {
    asio::post(io_, [self = shared_from_this()] {
      self->stopped_ = true;
      self->close("stopped");
      self->retry_timer_.cancel();
    });
  }
  bool up() const { return up_.load(std::memory_order_acquire); }
  std::string last_error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

  // Any thread: sends `m` when connected (waits behind max_inflight), else retries.
  void publish(std::shared_ptr<Outgoing> m) {
    asio::post(io_, [self = shared_from_this(), m = std::move(m)]() mutable {
      if (!self->up_) return m->settle(SendResult::retry("not connected to " + self->s_->server));
      self->waiting_.push_back(std::move(m));
      self->pump();
    });
  }

  // The io thread: the sources' subscriptions changed. Filters no source reads any more
  // are unsubscribed.
  void subscribe(const std::vector<Subscription>& subs) {
    mqtt::Unsubscribe gone;
    for (const auto& old : subs_) {
      bool kept = false;
      for (const auto& now : subs)
        kept = kept || now.filter == old.filter;
      if (!kept) gone.topic_filters.push_back(old.filter);
    }
    subs_ = subs;
    if (!up_) return;
    if (!gone.topic_filters.empty()) {
      gone.packet_id = next_id();
      send(gone);
    }
    send_subscriptions();
  }

 private:
  bool tls() const { return s_->tls != nullptr; }
  tcp::socket& lowest() { return tls() ? tls_->next_layer() : *plain_; }

  void connect() {
    if (stopped_) return;
    if (tls()) {
      tls_.emplace(io_, *s_->tls);
    } else {
      plain_.emplace(io_);
    }
    resolver_.emplace(io_);
    const auto gen = generation_;
    connect_timer_.expires_after(kConnectTimeout);
    connect_timer_.async_wait([self = shared_from_this(), gen](const error_code& ec) {
      if (!ec && gen == self->generation_ && !self->up_) self->close("timed out connecting");
    });
    resolver_->async_resolve(
        s_->host, s_->port,
        [self = shared_from_this(), gen](const error_code& ec,
                                         const tcp::resolver::results_type& r) {
          if (gen != self->generation_) return;
          if (ec) return self->close("cannot resolve " + self->s_->host + ": " + ec.message());
          asio::async_connect(self->lowest(), r,
                              [self, gen](const error_code& cec, const tcp::endpoint&) {
                                if (gen != self->generation_) return;
                                if (cec) return self->close(cec.message());
                                error_code ignored;
                                self->lowest().set_option(tcp::no_delay(true), ignored);
                                if (!self->tls()) return self->send_connect();
                                self->handshake();
                              });
        });
  }

  void handshake() {
    SSL* ssl = tls_->native_handle();
    const std::string& name = s_->sni.empty() ? s_->host : s_->sni;
    if (s_->sni != "disable") {
      error_code ec;
      asio::ip::make_address(name, ec);
      if (ec) SSL_set_tlsext_host_name(ssl, name.c_str());  // SNI for names, not addresses
      if (SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) {
        if (!ec) {
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name.c_str());
        } else {
          SSL_set1_host(ssl, name.c_str());
        }
      }
    }
    tls_->async_handshake(asio::ssl::stream_base::client,
                          [self = shared_from_this(), gen = generation_](const error_code& ec) {
                            if (gen != self->generation_) return;
                            if (ec) return self->close("TLS: " + ec.message());
                            self->send_connect();
                          });
  }

  void send_connect() {
    mqtt::Connect c;
    c.version = s_->version;
    c.protocol_name = s_->version == mqtt::ProtocolVersion::V3_1 ? "MQIsdp" : "MQTT";
    c.clean_start = s_->clean_start;
    c.keep_alive = s_->keepalive_s;
    c.client_id = client_id_;
    c.username = s_->username;
    c.password = s_->password;
    std::string out;
    mqtt::encode(c, s_->version, out);
    if (s_->bridge_mode && s_->version != mqtt::ProtocolVersion::V5) {
      // The protocol level's top bit: "I am a bridge" (mosquitto's and EMQX's convention).
      // It follows the fixed header (a byte and the length's varint) and the name.
      std::size_t last_len_byte = 1;
      while (last_len_byte < out.size() &&
             (static_cast<unsigned char>(out[last_len_byte]) & 0x80) != 0)
        ++last_len_byte;
      const std::size_t at = last_len_byte + 1 + 2 + c.protocol_name.size();
      if (at < out.size()) out[at] = static_cast<char>(static_cast<unsigned char>(out[at]) | 0x80);
    }
    write(std::move(out));
    read();
  }

  void read() {
    auto buf = std::make_shared<std::array<char, 16384>>();
    auto on_read = [self = shared_from_this(), buf, gen = generation_](const error_code& ec,
                                                                       std::size_t n) {
      if (gen != self->generation_) return;
      if (ec)
        return self->close(ec == asio::error::eof ? "the remote closed the connection"
                                                  : ec.message());
      self->rbuf_.append(buf->data(), n);
      if (!self->parse()) return;
      self->read();
    };
    if (tls()) {
      tls_->async_read_some(asio::buffer(*buf), on_read);
    } else {
      plain_->async_read_some(asio::buffer(*buf), on_read);
    }
  }

  // Decodes what rbuf_ holds; false when the connection was closed.
  bool parse() {
    const auto generation = generation_;
    std::size_t at = 0;
    while (generation == generation_) {
      std::string_view in(rbuf_.data() + at, rbuf_.size() - at);
      auto h = mqtt::peek_frame(in, kMaxPacket);
      if (!h) {
        if (h.error() == Errc::NeedMoreData) break;
        close("a malformed packet from the remote");
        return false;
      }
      if (in.size() < h->total()) break;
      auto p = mqtt::decode(*h, in.substr(h->header_length, h->remaining_length), s_->version);
      if (!p) {
        close("a malformed packet from the remote");
        return false;
      }
      handle(*p);
      at += h->total();
    }
    if (generation != generation_) return false;
    rbuf_.erase(0, at);
    return true;
  }

  void handle(const mqtt::Packet& p) {
    if (const auto* a = std::get_if<mqtt::ConnAck>(&p)) {
      if (a->code != 0) {
        return close("the remote refused the connection (CONNACK code " + std::to_string(a->code) +
                     ")");
      }
      connect_timer_.cancel();
      up_.store(true, std::memory_order_release);
      backoff_ = kFirstRetry;
      set_error("");
      logger()->info("{}: {} connected to {}", s_->id, client_id_, s_->server);
      ping();
      send_subscriptions();
      pump();
    } else if (const auto* pub = std::get_if<mqtt::Publish>(&p)) {
      incoming(*pub);
    } else if (const auto* ack = std::get_if<mqtt::PubAck>(&p)) {
      finish(ack->packet_id, static_cast<std::uint8_t>(ack->reason));
    } else if (const auto* rec = std::get_if<mqtt::PubRec>(&p)) {
      if (static_cast<std::uint8_t>(rec->reason) >= 0x80) {
        finish(rec->packet_id, static_cast<std::uint8_t>(rec->reason));
      } else {
        mqtt::PubRel rel;
        rel.packet_id = rec->packet_id;
        send(rel);
      }
    } else if (const auto* comp = std::get_if<mqtt::PubComp>(&p)) {
      finish(comp->packet_id, static_cast<std::uint8_t>(comp->reason));
    } else if (const auto* rel = std::get_if<mqtt::PubRel>(&p)) {
      mqtt::PubComp c;
      c.packet_id = rel->packet_id;
      send(c);
    } else if (const auto* sa = std::get_if<mqtt::SubAck>(&p)) {
      for (auto rc : sa->reason_codes) {
        if (static_cast<std::uint8_t>(rc) >= 0x80) {
          logger()->warn("{}: the remote refused a subscription (reason {:#04x})", s_->id,
                         static_cast<unsigned>(rc));
        }
      }
    } else if (const auto* d = std::get_if<mqtt::Disconnect>(&p)) {
      close("the remote disconnected (reason " + std::to_string(static_cast<int>(d->reason)) + ")");
    }
  }

  void incoming(const mqtt::Publish& p) {
    if (p.qos == mqtt::QoS::AtLeastOnce) {
      mqtt::PubAck a;
      a.packet_id = p.packet_id;
      send(a);
    } else if (p.qos == mqtt::QoS::ExactlyOnce) {
      mqtt::PubRec r;
      r.packet_id = p.packet_id;
      send(r);
    }
    std::string source;
    for (const auto& s : subs_) {
      if (broker_matches(s.filter, p.topic)) {
        source = s.source;
        break;
      }
    }
    if (source.empty() || !s_->sink) return;
    char id[33];
    std::snprintf(
        id, sizeof id, "%016llX%016llX",
        static_cast<unsigned long long>(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count()),
        static_cast<unsigned long long>(s_->next_message.fetch_add(1)));
    json::object c;
    c["id"] = id;
    c["server"] = s_->server;
    c["topic"] = p.topic;
    c["payload"] = p.payload;
    c["qos"] = static_cast<int>(p.qos);
    c["dup"] = p.dup;
    c["retain"] = p.retain;
    json::object props;
    if (p.props.message_expiry_interval)
      props["Message-Expiry-Interval"] = *p.props.message_expiry_interval;
    if (p.props.content_type) props["Content-Type"] = *p.props.content_type;
    if (p.props.response_topic) props["Response-Topic"] = *p.props.response_topic;
    if (p.props.correlation_data) props["Correlation-Data"] = *p.props.correlation_data;
    if (!p.props.user_properties.empty()) {
      json::object map;
      json::array pairs;
      for (const auto& u : p.props.user_properties) {
        map[u.first] = u.second;
        pairs.push_back(json::object{{"key", u.first}, {"value", u.second}});
      }
      props["User-Property"] = std::move(map);
      props["User-Property-Pairs"] = std::move(pairs);
    }
    c["pub_props"] = std::move(props);
    c["message_received_at"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count();
    s_->sink("$bridges/" + source, std::move(c));
  }

  // A remote filter (a shared one's filter part) against a topic.
  static bool broker_matches(std::string_view filter, std::string_view topic) {
    if (filter.starts_with("$share/")) {
      auto slash = filter.find('/', 7);
      if (slash == std::string_view::npos) return false;
      filter = filter.substr(slash + 1);
    } else if (filter.starts_with("$queue/")) {
      filter = filter.substr(7);
    }
    return broker::topic_matches(filter, topic);
  }

  void send_subscriptions() {
    mqtt::Subscribe s;
    for (const auto& sub : subs_) {
      // A filter that is not shared: only the first client subscribes (EMQX's rule).
      if (!first_ && !sub.filter.starts_with("$share/")) continue;
      mqtt::Subscription x;
      x.topic_filter = sub.filter;
      x.options.max_qos = sub.qos;
      x.options.no_local = sub.no_local && s_->version == mqtt::ProtocolVersion::V5;
      s.subscriptions.push_back(std::move(x));
    }
    if (s.subscriptions.empty()) return;
    s.packet_id = next_id();
    send(s);
  }

  // Sends what waits while the window allows.
  void pump() {
    while (up_ && !waiting_.empty() && inflight_.size() < s_->max_inflight) {
      auto m = std::move(waiting_.front());
      waiting_.pop_front();
      mqtt::Publish p;
      p.topic = m->topic;
      p.payload = m->payload;
      p.qos = m->qos;
      p.retain = m->retain;
      if (m->qos != mqtt::QoS::AtMostOnce) {
        p.packet_id = next_id();
        inflight_[p.packet_id] = m;
      }
      send(p);
      if (m->qos == mqtt::QoS::AtMostOnce) m->settle(SendResult::ok());
    }
  }

  void finish(std::uint16_t id, std::uint8_t reason) {
    auto it = inflight_.find(id);
    if (it == inflight_.end()) return;
    auto m = std::move(it->second);
    inflight_.erase(it);
    if (reason >= 0x80) {
      char why[64];
      std::snprintf(why, sizeof why, "the remote answered reason code %#04x", reason);
      m->settle(SendResult::fail(why));
    } else {
      m->settle(SendResult::ok());
    }
    pump();
  }

  std::uint16_t next_id() {
    do {
      packet_id_ = static_cast<std::uint16_t>(packet_id_ + 1);
    } while (packet_id_ == 0 || inflight_.count(packet_id_) != 0);
    return packet_id_;
  }

  template <class P>
  void send(const P& packet) {
    std::string out;
    mqtt::encode(mqtt::Packet(packet), s_->version, out);
    write(std::move(out));
  }

  void write(std::string bytes) {
    wq_.push_back(std::move(bytes));
    if (!writing_) flush();
  }

  void flush() {
    if (wq_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    auto data = std::make_shared<std::string>(std::move(wq_.front()));
    wq_.pop_front();
    auto done = [self = shared_from_this(), data, gen = generation_](const error_code& ec,
                                                                     std::size_t) {
      if (gen != self->generation_) return;
      if (ec) return self->close(ec.message());
      self->flush();
    };
    if (tls()) {
      asio::async_write(*tls_, asio::buffer(*data), done);
    } else {
      asio::async_write(*plain_, asio::buffer(*data), done);
    }
  }

  void ping() {
    if (s_->keepalive_s == 0) return;
    ping_timer_.expires_after(std::chrono::seconds(s_->keepalive_s) * 3 / 4);
    ping_timer_.async_wait([self = shared_from_this(), gen = generation_](const error_code& ec) {
      if (ec || gen != self->generation_ || !self->up_) return;
      self->send(mqtt::PingReq{});
      self->ping();
    });
  }

  void set_error(std::string why) {
    std::lock_guard lock(mutex_);
    error_ = std::move(why);
  }

  // Closes the connection (if any), fails what waits for it with a retry, and reconnects
  // later unless stopped.
  void close(const std::string& why) {
    ++generation_;
    const bool was_up = up_.exchange(false, std::memory_order_acq_rel);
    if (was_up) logger()->warn("{}: {} lost {}: {}", s_->id, client_id_, s_->server, why);
    set_error(why);
    error_code ignored;
    if (resolver_) resolver_->cancel();
    if (plain_) plain_->close(ignored);
    if (tls_) tls_->next_layer().close(ignored);
    ping_timer_.cancel();
    connect_timer_.cancel();
    rbuf_.clear();
    wq_.clear();
    writing_ = false;
    for (auto& [id, m] : inflight_)
      m->settle(SendResult::retry(why));
    inflight_.clear();
    for (auto& m : waiting_)
      m->settle(SendResult::retry(why));
    waiting_.clear();
    if (stopped_) return;
    retry_timer_.expires_after(backoff_);
    backoff_ = std::min<Clock::duration>(backoff_ * 2, kLastRetry);
    retry_timer_.async_wait([self = shared_from_this(), gen = generation_](const error_code& ec) {
      if (!ec && gen == self->generation_) self->connect();
    });
  }

  asio::io_context& io_;
  const std::shared_ptr<Shared> s_;
  const std::string client_id_;
  const bool first_;
  // Replaced at each connect (a handler of the old one may still hold a view of it until
  // it runs: each checks generation_ first).
  std::optional<tcp::resolver> resolver_;
  std::optional<tcp::socket> plain_;
  std::optional<asio::ssl::stream<tcp::socket>> tls_;
  asio::steady_timer retry_timer_, ping_timer_, connect_timer_;
  Clock::duration backoff_ = kFirstRetry;
  std::uint64_t generation_ = 0;  // bumped at each close: stale handlers do nothing
  std::string rbuf_;
  std::deque<std::string> wq_;
  bool writing_ = false;
  bool stopped_ = false;
  std::atomic<bool> up_{false};
  std::uint16_t packet_id_ = 0;
  std::map<std::uint16_t, std::shared_ptr<Outgoing>> inflight_;
  std::deque<std::shared_ptr<Outgoing>> waiting_;
  std::vector<Subscription> subs_;
  mutable std::mutex mutex_;
  std::string error_;  // guarded by mutex_
};

// What an action renders from a rule's output.
class MqttSender final : public Sender {
 public:
  MqttSender(std::vector<std::shared_ptr<Client>> clients, const config::ActionConfig& a,
             std::size_t start)
      : clients_(std::move(clients)), next_(start) {
    std::string err;
    topic_ = *rules::Template::parse(a.mqtt_topic, err);
    qos_ = *rules::Template::parse(a.mqtt_qos, err);
    retain_ = *rules::Template::parse(a.mqtt_retain, err);
    if (a.mqtt_payload) payload_ = *rules::Template::parse(*a.mqtt_payload, err);
  }

  SendResult send(const std::vector<json::object>& batch,
                  std::chrono::milliseconds timeout) override {
    const auto deadline = Clock::now() + timeout;
    for (const auto& out : batch) {
      auto m = std::make_shared<Outgoing>();
      m->topic = topic_.render(out, "");
      if (m->topic.empty() || m->topic.find_first_of("+#") != std::string::npos ||
          m->topic.size() > 65535) {
        return SendResult::fail("topic \"" + m->topic + "\" is not a topic name");
      }
      m->payload = payload_ ? payload_->render(out, "") : json::serialize(out);
      m->qos = static_cast<mqtt::QoS>(level(qos_.value(out), 1));
      m->retain = flag(retain_.value(out));
      auto result = m->done.get_future();
      // Round robin over the connected clients.
      std::shared_ptr<Client> c;
      for (std::size_t i = 0; i < clients_.size() && !c; ++i) {
        auto& x = clients_[next_++ % clients_.size()];
        if (x->up()) c = x;
      }
      if (!c) return SendResult::retry("no client is connected to the remote broker");
      c->publish(m);
      if (result.wait_until(deadline) != std::future_status::ready)
        return SendResult::retry("the remote broker did not answer in time");
      SendResult r;
      try {
        r = result.get();
      } catch (const std::future_error&) {  // the connector went away meanwhile
        r = SendResult::retry("the connector stopped");
      }
      if (r.kind != SendResult::Ok) return r;
    }
    return SendResult::ok();
  }

 private:
  static int level(const rules::Value& v, int dflt) {
    if (!v) return dflt;
    auto n = v->is_string() ? std::optional<std::int64_t>(std::atoi(v->get_string().c_str()))
                            : rules::as_int(*v);
    if (!n || *n < 0 || *n > 2) return dflt;
    return static_cast<int>(*n);
  }
  static bool flag(const rules::Value& v) {
    if (!v) return false;
    if (v->is_bool()) return v->get_bool();
    if (v->is_string()) return v->get_string() == "true";
    auto n = rules::as_int(*v);
    return n && *n != 0;
  }

  std::vector<std::shared_ptr<Client>> clients_;
  std::size_t next_;
  rules::Template topic_, qos_, retain_;
  std::optional<rules::Template> payload_;
};

class MqttConnector final : public Connector {
 public:
  MqttConnector(const config::ConnectorConfig& c, const std::string& node, SourceSink sink)
      : s_(std::make_shared<Shared>()) {
    const auto& m = c.mqtt;
    auto hp = auth::db::split_server(m.server, 1883);
    if (!hp) {
      throw std::runtime_error("connectors.mqtt." + c.name + ".server: expected host[:port], got " +
                               m.server);
    }
    s_->id = "mqtt:" + c.name;
    s_->host = hp->first;
    s_->port = std::to_string(hp->second);
    s_->server = m.server;
    s_->version = version_of(m.proto_ver);
    s_->bridge_mode = m.bridge_mode;
    s_->clean_start = m.clean_start;
    s_->keepalive_s = static_cast<std::uint16_t>(std::min<std::int64_t>(
        65535, std::chrono::duration_cast<std::chrono::seconds>(m.keepalive).count()));
    if (!m.username.empty()) s_->username = m.username;
    if (!m.password.empty()) s_->password = m.password;
    s_->max_inflight = m.max_inflight;
    s_->sink = std::move(sink);
    s_->node = node;
    if (c.ssl.enable) {
      s_->tls = net::make_tls_client_context(c.ssl, "connectors.mqtt." + c.name + ".ssl");
      s_->sni = c.ssl.server_name_indication;
    }
    for (std::size_t i = 1; i <= c.pool_size; ++i) {
      clients_.push_back(std::make_shared<Client>(
          io_, s_, mqtt_client_id(c.name, m.clientid_prefix, node, i), i == 1));
    }
    for (auto& cl : clients_)
      cl->start();
    work_.emplace(io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }

  // Closes every connection; the loop ends once the last handler has run.
  ~MqttConnector() override {
    for (auto& cl : clients_)
      cl->stop();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  Status health_check(std::chrono::milliseconds, std::string& reason) override {
    for (const auto& cl : clients_) {
      if (cl->up()) return Status::Connected;
    }
    reason = clients_.empty() ? "no clients" : clients_.front()->last_error();
    if (reason.empty()) return Status::Connecting;
    return Status::Disconnected;
  }

  SenderFactory senders(const config::ActionConfig& a) override {
    if (a.mqtt_topic.empty()) throw std::runtime_error("parameters.topic: required");
    auto n = std::make_shared<std::atomic<std::size_t>>(0);
    return [clients = clients_, a, n]() -> std::unique_ptr<Sender> {
      return std::make_unique<MqttSender>(clients, a, n->fetch_add(1));
    };
  }

  void set_sources(const std::vector<config::SourceConfig>& sources) override {
    std::vector<Subscription> subs;
    for (const auto& s : sources) {
      if (!s.enable) continue;
      Subscription x;
      x.source = "mqtt:" + s.name;
      x.filter = s.topic;
      x.qos = s.qos >= 1 ? mqtt::QoS::AtLeastOnce : mqtt::QoS::AtMostOnce;
      x.no_local = s.no_local;
      subs.push_back(std::move(x));
    }
    for (auto& cl : clients_)
      asio::post(io_, [cl, subs] { cl->subscribe(subs); });
  }

 private:
  asio::io_context io_;
  std::shared_ptr<Shared> s_;
  std::vector<std::shared_ptr<Client>> clients_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::thread thread_;
};

}  // namespace

std::string mqtt_client_id(const std::string& name, const std::string& prefix,
                           const std::string& node, std::size_t n) {
  const std::string base = name + sha1_hex(node).substr(0, 8);
  const std::string tail = ":" + std::to_string(n);
  auto squeeze = [&](std::size_t room) {
    std::string id = base + tail;
    if (id.size() <= room) return id;
    return sha1_hex(id).substr(0, room);
  };
  if (prefix.empty()) return squeeze(23);
  if (prefix.size() <= 19) return prefix + squeeze(23 - prefix.size());
  return prefix + base + tail;
}

std::unique_ptr<Connector> make_mqtt_connector(const config::ConnectorConfig& c,
                                               const std::string& node, SourceSink sink) {
  return std::make_unique<MqttConnector>(c, node, std::move(sink));
}

}  // namespace emqxd::connectors
