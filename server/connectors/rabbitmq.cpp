// The rabbitmq connector and action (rabbitmq.hpp).
#include "connectors/rabbitmq.hpp"

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/time.h>

#include <boost/json/serialize.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "rules/template.hpp"

namespace emqxd::connectors {

namespace json = boost::json;

namespace {

using Clock = std::chrono::steady_clock;
constexpr amqp_channel_t kChannel = 1;

timeval to_timeval(std::chrono::milliseconds d) {
  if (d.count() < 0) d = std::chrono::milliseconds(0);
  return timeval{static_cast<time_t>(d.count() / 1000),
                 static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

std::string text_of(amqp_bytes_t b) {
  return std::string(static_cast<const char*>(b.bytes), b.len);
}

amqp_bytes_t bytes_of(const std::string& s) {
  return amqp_bytes_t{s.size(), const_cast<char*>(s.data())};
}

// What the server said when it closed the channel or the connection ("404 NOT_FOUND - no
// exchange 'x' in vhost '/'").
std::string close_reason(const amqp_method_t& m) {
  if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* c = static_cast<const amqp_connection_close_t*>(m.decoded);
    return std::to_string(c->reply_code) + " " + text_of(c->reply_text);
  }
  if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* c = static_cast<const amqp_channel_close_t*>(m.decoded);
    return std::to_string(c->reply_code) + " " + text_of(c->reply_text);
  }
  return "the server closed it";
}

std::string reply_text(const amqp_rpc_reply_t& r) {
  switch (r.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "";
    case AMQP_RESPONSE_NONE:
      return "no answer";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(r.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      return close_reason(r.reply);
  }
  return "unknown error";
}

// One AMQP connection, logged in, channel 1 open in confirm mode. Not thread-safe: the
// pool hands it to one sender at a time.
class AmqpConnection {
 public:
  explicit AmqpConnection(const config::RabbitConfig& r) : r_(r) {}
  ~AmqpConnection() { close(); }
  AmqpConnection(const AmqpConnection&) = delete;
  AmqpConnection& operator=(const AmqpConnection&) = delete;

  bool is_open() const { return st_ != nullptr; }

  // EMQX's ssl block: verify_peer checks the broker's chain (cacertfile, else the
  // system's CAs) and its name (the server's host; "disable" drops that check).
  amqp_socket_t* tls_socket(std::string& error) {
    const auto& t = r_.ssl;
    amqp_socket_t* s = amqp_ssl_socket_new(st_);
    if (s == nullptr) {
      error = "cannot make a TLS socket";
      return nullptr;
    }
    const bool verify = t.verify == "verify_peer";
    amqp_ssl_socket_set_verify_peer(s, verify ? 1 : 0);
    // The name is checked by OpenSSL itself, which knows addresses (IP SANs) as well as
    // names; rabbitmq-c's own check knows names only.
    amqp_ssl_socket_set_verify_hostname(s, 0);
    if (verify && t.server_name_indication != "disable") {
      auto* ctx = static_cast<SSL_CTX*>(amqp_ssl_socket_get_context(s));
      X509_VERIFY_PARAM* param = ctx != nullptr ? SSL_CTX_get0_param(ctx) : nullptr;
      if (param == nullptr || (X509_VERIFY_PARAM_set1_ip_asc(param, r_.server.c_str()) != 1 &&
                               X509_VERIFY_PARAM_set1_host(param, r_.server.c_str(), 0) != 1)) {
        error = "cannot check the server's name " + r_.server;
        return nullptr;
      }
    }
    const std::string ca =
        !t.cacertfile.empty() ? t.cacertfile : "/etc/ssl/certs/ca-certificates.crt";
    if (verify || !t.cacertfile.empty()) {
      if (int rc = amqp_ssl_socket_set_cacert(s, ca.c_str()); rc != AMQP_STATUS_OK) {
        error = "cacertfile " + ca + ": " + amqp_error_string2(rc);
        return nullptr;
      }
    }
    if (!t.certfile.empty()) {
      if (int rc = amqp_ssl_socket_set_key(s, t.certfile.c_str(), t.keyfile.c_str());
          rc != AMQP_STATUS_OK) {
        error = "certfile/keyfile: " + std::string(amqp_error_string2(rc));
        return nullptr;
      }
    }
    // rabbitmq-c knows TLS 1.2 and "the latest": tlsv1.3 alone cannot be asked for.
    amqp_ssl_socket_set_ssl_versions(s, AMQP_TLSv1_2, AMQP_TLSvLATEST);
    return s;
  }

  bool open(std::string& error) {
    close();
    error.clear();
    st_ = amqp_new_connection();
    amqp_socket_t* socket = r_.ssl.enable ? tls_socket(error) : amqp_tcp_socket_new(st_);
    if (socket == nullptr) return fail(error.empty() ? "cannot make a socket" : error, error);
    const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(r_.timeout);
    timeval tv = to_timeval(timeout);
    const std::string where = r_.server + ":" + std::to_string(r_.port);
    if (int rc = amqp_socket_open_noblock(socket, r_.server.c_str(), r_.port, &tv); rc < 0)
      return fail("cannot connect to " + where + ": " + amqp_error_string2(rc), error);
    amqp_set_handshake_timeout(st_, &tv);
    amqp_set_rpc_timeout(st_, &tv);
    const int heartbeat =
        static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(r_.heartbeat).count());
    auto reply = amqp_login(st_, r_.virtual_host.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE, heartbeat,
                            AMQP_SASL_METHOD_PLAIN, r_.username.c_str(), r_.password.c_str());
    if (reply.reply_type != AMQP_RESPONSE_NORMAL)
      return fail("cannot log in to " + where + ": " + reply_text(reply), error);
    return open_channel(error);
  }

  void close() {
    if (st_ == nullptr) return;
    if (healthy_) {
      amqp_channel_close(st_, kChannel, AMQP_REPLY_SUCCESS);
      amqp_connection_close(st_, AMQP_REPLY_SUCCESS);
    }
    amqp_destroy_connection(st_);
    st_ = nullptr;
    healthy_ = false;
  }

  // Reads what the server sent since (confirmations nobody waited for, heartbeats, a
  // channel it closed), and sends heartbeats that are due. False, `error` set, when the
  // connection is gone; a closed channel is opened again and said in `channel_closed`.
  bool drain(std::string& error, std::string& channel_closed) {
    while (true) {
      amqp_frame_t frame;
      timeval zero{0, 0};
      amqp_maybe_release_buffers(st_);
      int rc = amqp_simple_wait_frame_noblock(st_, &frame, &zero);
      if (rc == AMQP_STATUS_TIMEOUT) return true;
      if (rc < 0) return lost(amqp_error_string2(rc), error);
      if (!handle(frame, error, channel_closed)) return false;
    }
  }

  // Publishes the batch; with `confirms`, waits until `deadline` for the server to confirm
  // every message. The outcome as the buffer worker takes it.
  SendResult publish(const std::vector<std::pair<std::string, std::string>>& targets,
                     const std::vector<std::string>& bodies, bool persistent, bool confirms,
                     Clock::time_point deadline) {
    std::string error, closed;
    if (!drain(error, closed)) return SendResult::retry(error);
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = persistent ? 2 : 1;
    const std::uint64_t first = next_tag_;
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      int rc = amqp_basic_publish(st_, kChannel, bytes_of(targets[i].first),
                                  bytes_of(targets[i].second), 0, 0, &props, bytes_of(bodies[i]));
      if (rc < 0) {
        lost(amqp_error_string2(rc), error);
        return SendResult::retry("publishing: " + error);
      }
      ++next_tag_;
    }
    if (!confirms) return SendResult::ok();
    pending_.clear();
    for (std::uint64_t t = first; t < next_tag_; ++t)
      pending_.insert(t);
    nacked_ = false;
    while (!pending_.empty()) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        lost("no confirmation in time", error);  // the confirmations would come late
        return SendResult::retry("no confirmation from the server in time");
      }
      amqp_frame_t frame;
      timeval tv = to_timeval(left);
      amqp_maybe_release_buffers(st_);
      int rc = amqp_simple_wait_frame_noblock(st_, &frame, &tv);
      if (rc == AMQP_STATUS_TIMEOUT) continue;
      if (rc < 0) {
        lost(amqp_error_string2(rc), error);
        return SendResult::retry("waiting for confirmations: " + error);
      }
      closed.clear();
      if (!handle(frame, error, closed)) return SendResult::retry(error);
      if (!closed.empty()) return SendResult::fail("the server closed the channel: " + closed);
    }
    if (nacked_) return SendResult::retry("the server did not take some messages (basic.nack)");
    return SendResult::ok();
  }

 private:
  bool fail(const std::string& why, std::string& error) {
    error = why;
    amqp_destroy_connection(st_);
    st_ = nullptr;
    healthy_ = false;
    return false;
  }

  bool lost(const std::string& why, std::string& error) {
    error = "connection to " + r_.server + ":" + std::to_string(r_.port) + " lost: " + why;
    healthy_ = false;
    amqp_destroy_connection(st_);
    st_ = nullptr;
    return false;
  }

  bool open_channel(std::string& error) {
    amqp_channel_open(st_, kChannel);
    auto reply = amqp_get_rpc_reply(st_);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL)
      return fail("cannot open a channel: " + reply_text(reply), error);
    amqp_confirm_select(st_, kChannel);
    reply = amqp_get_rpc_reply(st_);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL)
      return fail("cannot ask for confirmations: " + reply_text(reply), error);
    healthy_ = true;
    next_tag_ = 1;
    return true;
  }

  // One frame from the server. False (the connection closed, `error` set) or true, with
  // `channel_closed` set when the server closed the channel (opened again here).
  bool handle(const amqp_frame_t& frame, std::string& error, std::string& channel_closed) {
    if (frame.frame_type != AMQP_FRAME_METHOD) return true;
    const amqp_method_t& m = frame.payload.method;
    if (m.id == AMQP_BASIC_ACK_METHOD || m.id == AMQP_BASIC_NACK_METHOD) {
      std::uint64_t tag;
      bool multiple;
      if (m.id == AMQP_BASIC_ACK_METHOD) {
        const auto* a = static_cast<const amqp_basic_ack_t*>(m.decoded);
        tag = a->delivery_tag;
        multiple = a->multiple != 0;
      } else {
        const auto* n = static_cast<const amqp_basic_nack_t*>(m.decoded);
        tag = n->delivery_tag;
        multiple = n->multiple != 0;
        nacked_ = nacked_ || pending_.count(tag) > 0 ||
                  (multiple && !pending_.empty() && *pending_.begin() <= tag);
      }
      if (multiple) {
        pending_.erase(pending_.begin(), pending_.upper_bound(tag));
      } else {
        pending_.erase(tag);
      }
      return true;
    }
    if (m.id == AMQP_CHANNEL_CLOSE_METHOD) {
      channel_closed = close_reason(m);
      amqp_channel_close_ok_t ok{};
      amqp_send_method(st_, kChannel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
      pending_.clear();
      return open_channel(error);
    }
    if (m.id == AMQP_CONNECTION_CLOSE_METHOD) {
      const std::string why = close_reason(m);
      amqp_connection_close_ok_t ok{};
      amqp_send_method(st_, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
      return lost("the server closed it: " + why, error);
    }
    return true;  // basic.return (mandatory is off), anything else
  }

  const config::RabbitConfig r_;
  amqp_connection_state_t st_ = nullptr;
  bool healthy_ = false;  // logged in with the channel open: close politely
  std::uint64_t next_tag_ = 1;
  std::set<std::uint64_t> pending_;  // published, not yet confirmed
  bool nacked_ = false;
};

// pool_size connections, each lent to one sender at a time.
class AmqpPool {
 public:
  AmqpPool(config::RabbitConfig r, std::size_t size) : r_(std::move(r)), size_(size) {}

  // A connection, opened lazily by the caller; nullptr when none came free in `wait`.
  std::unique_ptr<AmqpConnection> take(std::chrono::milliseconds wait) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, wait, [&] { return !idle_.empty() || out_ < size_; })) return nullptr;
    ++out_;
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    return std::make_unique<AmqpConnection>(r_);
  }

  void give_back(std::unique_ptr<AmqpConnection> c) {
    {
      std::lock_guard lock(mutex_);
      --out_;
      idle_.push_back(std::move(c));
    }
    cv_.notify_one();
  }

 private:
  const config::RabbitConfig r_;
  const std::size_t size_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<AmqpConnection>> idle_;  // guarded by mutex_
  std::size_t out_ = 0;                                // lent, guarded by mutex_
};

// Lends a connection for the scope; given back whatever happens.
class Lent {
 public:
  Lent(AmqpPool& pool, std::chrono::milliseconds wait) : pool_(pool), c_(pool.take(wait)) {}
  ~Lent() {
    if (c_) pool_.give_back(std::move(c_));
  }
  Lent(const Lent&) = delete;
  Lent& operator=(const Lent&) = delete;
  AmqpConnection* operator->() const { return c_.get(); }
  explicit operator bool() const { return c_ != nullptr; }

 private:
  AmqpPool& pool_;
  std::unique_ptr<AmqpConnection> c_;
};

class RabbitSender final : public Sender {
 public:
  RabbitSender(std::shared_ptr<AmqpPool> pool, const config::ActionConfig& a)
      : pool_(std::move(pool)),
        exchange_(rules::Template::checked(a.rabbit_exchange)),
        routing_key_(rules::Template::checked(a.rabbit_routing_key)),
        payload_(a.rabbit_payload ? std::optional(rules::Template::checked(*a.rabbit_payload))
                                  : std::nullopt),
        persistent_(a.rabbit_persistent),
        confirms_(a.rabbit_confirms),
        confirm_timeout_(a.rabbit_confirm_timeout) {}

  SendResult send(const std::vector<json::object>& batch,
                  std::chrono::milliseconds timeout) override {
    std::vector<std::pair<std::string, std::string>> targets;
    std::vector<std::string> bodies;
    targets.reserve(batch.size());
    bodies.reserve(batch.size());
    for (const auto& out : batch) {
      targets.emplace_back(exchange_.render(out), routing_key_.render(out));
      bodies.push_back(payload_ ? payload_->render(out) : json::serialize(out));
    }
    const auto deadline =
        Clock::now() +
        std::min(timeout, std::chrono::duration_cast<std::chrono::milliseconds>(confirm_timeout_));
    Lent c(*pool_, timeout);
    if (!c) return SendResult::retry("no connection of the pool came free in time");
    // A connection that went away while idle (the server restarted, missed heartbeats) is
    // seen here, before anything is published on it, and opened again.
    std::string error, closed;
    if (c->is_open()) (void)c->drain(error, closed);
    if (!c->is_open() && !c->open(error)) return SendResult::retry(error);
    return c->publish(targets, bodies, persistent_, confirms_, deadline);
  }

 private:
  std::shared_ptr<AmqpPool> pool_;
  rules::Template exchange_, routing_key_;
  std::optional<rules::Template> payload_;
  bool persistent_, confirms_;
  config::Duration confirm_timeout_;
};

class RabbitConnector final : public Connector {
 public:
  explicit RabbitConnector(const config::ConnectorConfig& c)
      : pool_(std::make_shared<AmqpPool>(c.rabbit, c.pool_size)) {}

  Status health_check(std::chrono::milliseconds timeout, std::string& reason) override {
    Lent c(*pool_, std::chrono::milliseconds(0));
    if (!c) return Status::Connected;  // every connection is sending
    std::string lost, closed;
    if (c->is_open() && c->drain(lost, closed)) return Status::Connected;
    (void)timeout;  // open() is bounded by the connector's own timeout
    return c->open(reason) ? Status::Connected : Status::Disconnected;
  }

  SenderFactory senders(const config::ActionConfig& a) override {
    return [pool = pool_, a]() -> std::unique_ptr<Sender> {
      return std::make_unique<RabbitSender>(pool, a);
    };
  }

 private:
  std::shared_ptr<AmqpPool> pool_;
};

}  // namespace

std::unique_ptr<Connector> make_rabbit_connector(const config::ConnectorConfig& c) {
  return std::make_unique<RabbitConnector>(c);
}

}  // namespace emqxd::connectors
