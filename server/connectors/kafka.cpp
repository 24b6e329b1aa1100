// The kafka_producer connector and action (kafka.hpp).
#include "connectors/kafka.hpp"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/log.hpp"
#include "rules/template.hpp"
#include "rules/value.hpp"

namespace emqxd::connectors {

namespace json = boost::json;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("connectors");
  return l;
}

std::string ms(config::Duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

// What librdkafka said last (its error callback): why the brokers cannot be reached.
struct LastError {
  std::mutex m;
  std::string text;
};

void on_error(rd_kafka_t*, int err, const char* reason, void* opaque) {
  auto* last = static_cast<LastError*>(opaque);
  std::lock_guard lock(last->m);
  last->text = reason != nullptr ? reason : rd_kafka_err2str(static_cast<rd_kafka_resp_err_t>(err));
}

void on_log(const rd_kafka_t*, int level, const char* fac, const char* buf) {
  logger()->debug("librdkafka [{}] {}: {}", level, fac, buf);
}

// One setting; a refused one destroys `conf` and throws std::runtime_error.
void set_conf(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka: ") + name + ": " + errstr);
  }
}

// The settings every client of the connector shares. Throws std::runtime_error.
rd_kafka_conf_t* base_conf(const config::KafkaConfig& k, const config::ClientSslConfig& ssl,
                           const std::string& client_id, LastError* last) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  auto set = [conf](const char* name, const std::string& value) { set_conf(conf, name, value); };
  set("bootstrap.servers", k.bootstrap_hosts);
  set("client.id", client_id);
  set("socket.connection.setup.timeout.ms", ms(k.connect_timeout));
  set("socket.timeout.ms", ms(k.request_timeout));
  set("topic.metadata.refresh.fast.interval.ms", ms(k.min_metadata_refresh_interval));
  set("socket.send.buffer.bytes", std::to_string(k.sndbuf));
  set("socket.receive.buffer.bytes", std::to_string(k.recbuf));
  set("socket.nagle.disable", k.nodelay ? "true" : "false");
  const bool sasl = !k.sasl_mechanism.empty();
  if (sasl) {
    set("sasl.mechanisms", k.sasl_mechanism);
    set("sasl.username", k.username);
    set("sasl.password", k.password);
  }
  set("security.protocol",
      ssl.enable ? (sasl ? "sasl_ssl" : "ssl") : (sasl ? "sasl_plaintext" : "plaintext"));
  if (ssl.enable) {
    // EMQX's ssl block: verify_peer checks the broker's chain (cacertfile, else the
    // system's CAs) and its name (the broker's host; "disable" drops the check).
    const bool verify = ssl.verify == "verify_peer";
    set("enable.ssl.certificate.verification", verify ? "true" : "false");
    set("ssl.endpoint.identification.algorithm",
        verify && ssl.server_name_indication != "disable" ? "https" : "none");
    set("ssl.ca.location", ssl.cacertfile.empty() ? "probe" : ssl.cacertfile);
    if (!ssl.certfile.empty()) {
      set("ssl.certificate.location", ssl.certfile);
      set("ssl.key.location", ssl.keyfile);
    }
    std::string ciphers;
    for (const auto& c : ssl.ciphers)
      ciphers += (ciphers.empty() ? "" : ":") + c;
    if (!ciphers.empty()) set("ssl.cipher.suites", ciphers);
  }
  rd_kafka_conf_set_opaque(conf, last);
  rd_kafka_conf_set_error_cb(conf, on_error);
  rd_kafka_conf_set_log_cb(conf, on_log);
  return conf;
}

rd_kafka_t* make_client(rd_kafka_conf_t* conf) {
  char errstr[512];
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (rk == nullptr) {
    rd_kafka_conf_destroy(conf);
    throw std::runtime_error(std::string("kafka: ") + errstr);
  }
  return rk;
}

// A send waiting for its delivery reports; shared with the reports that may come after
// the send stopped waiting.
struct Pending {
  std::mutex m;
  std::condition_variable cv;
  std::size_t left = 0;
  std::string error;       // the first failure
  bool permanent = false;  // Kafka refused a message
};

// Failures Kafka will give again however often a message is sent.
bool permanent(rd_kafka_resp_err_t e) {
  switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
      return true;
    default:
      return false;
  }
}

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
  auto* p = static_cast<std::shared_ptr<Pending>*>(m->_private);
  if (p == nullptr) return;
  {
    std::lock_guard lock((*p)->m);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && (*p)->error.empty()) {
      (*p)->error = rd_kafka_err2str(m->err);
      (*p)->permanent = permanent(m->err);
    }
    if ((*p)->left > 0) --(*p)->left;
  }
  (*p)->cv.notify_all();
  delete p;
}

// An action's producer and the thread that serves its delivery reports.
class Producer {
 public:
  Producer(const config::ConnectorConfig& c, const config::ActionConfig& a) {
    rd_kafka_conf_t* conf = base_conf(c.kafka, c.ssl, "emqxd_kafka_producer_" + a.name, &last_);
    auto set = [conf](const char* name, const std::string& value) { set_conf(conf, name, value); };
    const auto& k = a.kafka;
    set("acks", std::to_string(k.acks));
    set("compression.codec", k.compression);
    set("partitioner", k.key_dispatch ? "murmur2_random" : "random");
    set("batch.size", std::to_string(k.max_batch_bytes));
    set("linger.ms", ms(k.max_linger_time));
    set("max.in.flight.requests.per.connection", std::to_string(k.max_inflight));
    set("message.timeout.ms", ms(k.sync_query_timeout));
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rk_ = make_client(conf);
    poller_ = std::thread([this] {
      while (!stop_.load(std::memory_order_relaxed))
        rd_kafka_poll(rk_, 100);
    });
  }

  ~Producer() {
    stop_.store(true);
    poller_.join();
    // What is still queued is given up; its reports free what waits on them.
    rd_kafka_purge(rk_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 50 && rd_kafka_outq_len(rk_) > 0; ++i)
      rd_kafka_poll(rk_, 100);
    rd_kafka_destroy(rk_);
  }

  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  rd_kafka_t* rk() const { return rk_; }

 private:
  LastError last_;
  rd_kafka_t* rk_ = nullptr;
  std::atomic<bool> stop_{false};
  std::thread poller_;
};

class KafkaSender final : public Sender {
 public:
  KafkaSender(std::shared_ptr<Producer> producer, const config::ActionConfig& a)
      : producer_(std::move(producer)),
        topic_(rules::Template::checked(a.kafka.topic)),
        key_(rules::Template::checked(a.kafka.key)),
        value_(rules::Template::checked(a.kafka.value)),
        timestamp_(rules::Template::checked(a.kafka.timestamp)),
        headers_json_(a.kafka.headers_json) {
    if (a.kafka.headers) headers_ = rules::Template::checked(*a.kafka.headers);
    for (const auto& [k, v] : a.kafka.ext_headers)
      ext_headers_.emplace_back(rules::Template::checked(k), rules::Template::checked(v));
  }

  SendResult send(const std::vector<json::object>& batch,
                  std::chrono::milliseconds timeout) override {
    auto pending = std::make_shared<Pending>();
    pending->left = batch.size();
    std::size_t handed = 0;
    for (const auto& out : batch) {
      const std::string topic = topic_.render(out);
      const std::string key = key_.render(out);
      const std::string value = value_.render(out);
      std::int64_t ts = 0;  // librdkafka's: now
      if (auto v = timestamp_.value(out)) {
        if (auto n = rules::as_int(*v)) ts = *n;
      }
      rd_kafka_headers_t* hdrs = headers(out);
      auto* opaque = new std::shared_ptr<Pending>(pending);
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_->rk(), RD_KAFKA_V_TOPIC(topic.c_str()),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_TIMESTAMP(ts),
          RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(opaque), RD_KAFKA_V_END);
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        delete opaque;
        if (hdrs != nullptr) rd_kafka_headers_destroy(hdrs);
        std::lock_guard lock(pending->m);
        pending->left -= batch.size() - handed;  // the rest never goes
        if (pending->error.empty()) {
          pending->error = rd_kafka_err2str(err);
          pending->permanent = permanent(err);
        }
        break;
      }
      ++handed;
    }
    std::unique_lock lock(pending->m);
    if (!pending->cv.wait_for(lock, timeout, [&] { return pending->left == 0; })) {
      return SendResult::retry("no delivery report from Kafka in time");
    }
    if (pending->error.empty()) return SendResult::ok();
    const std::string why = "kafka: " + pending->error;
    return pending->permanent ? SendResult::fail(why) : SendResult::retry(why);
  }

 private:
  // kafka_headers (a map, each entry a header) and kafka_ext_headers; nullptr for none.
  rd_kafka_headers_t* headers(const json::object& out) const {
    if (!headers_ && ext_headers_.empty()) return nullptr;
    rd_kafka_headers_t* h = rd_kafka_headers_new(ext_headers_.size() + 8);
    auto add = [&](const std::string& name, const json::value& v) {
      const std::string text = headers_json_ ? rules::json_encode(v) : rules::to_text(v);
      rd_kafka_header_add(h, name.data(), static_cast<ssize_t>(name.size()), text.data(),
                          static_cast<ssize_t>(text.size()));
    };
    if (headers_) {
      if (auto v = headers_->value(out); v && v->is_object()) {
        for (const auto& kv : v->get_object())
          add(std::string(kv.key()), kv.value());
      }
    }
    for (const auto& [k, v] : ext_headers_) {
      auto value = v.value(out);
      add(k.render(out), value ? *value : json::value(nullptr));
    }
    return h;
  }

  std::shared_ptr<Producer> producer_;
  rules::Template topic_, key_, value_, timestamp_;
  std::optional<rules::Template> headers_;
  std::vector<std::pair<rules::Template, rules::Template>> ext_headers_;
  bool headers_json_;
};

class KafkaConnector final : public Connector {
 public:
  explicit KafkaConnector(const config::ConnectorConfig& c)
      : c_(c),
        rk_(make_client(base_conf(c.kafka, c.ssl, "emqxd_kafka_health_" + c.name, &last_))) {}
  ~KafkaConnector() override { rd_kafka_destroy(rk_); }

  Status health_check(std::chrono::milliseconds timeout, std::string& reason) override {
    const auto limit = std::min<std::int64_t>(
        timeout.count(),
        std::chrono::duration_cast<std::chrono::milliseconds>(c_.kafka.metadata_request_timeout)
            .count());
    rd_kafka_topic_t* topic = nullptr;
    if (!c_.kafka.health_check_topic.empty())
      topic = rd_kafka_topic_new(rk_, c_.kafka.health_check_topic.c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, 0, topic, &md, static_cast<int>(std::max<std::int64_t>(limit, 1)));
    if (topic != nullptr) rd_kafka_topic_destroy(topic);
    rd_kafka_poll(rk_, 0);  // serves the error callbacks: what librdkafka saw meanwhile
    Status s = Status::Connected;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      std::lock_guard lock(last_.m);
      reason = std::string(rd_kafka_err2str(err)) +
               (last_.text.empty() ? std::string() : ": " + last_.text);
      s = Status::Disconnected;
    } else if (topic != nullptr && md->topic_cnt > 0 &&
               md->topics[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      reason = "health_check_topic " + c_.kafka.health_check_topic + ": " +
               rd_kafka_err2str(md->topics[0].err);
      s = Status::Disconnected;
    }
    if (md != nullptr) rd_kafka_metadata_destroy(md);
    return s;
  }

  SenderFactory senders(const config::ActionConfig& a) override {
    auto producer = std::make_shared<Producer>(c_, a);  // one for all the action's workers
    return [producer, a]() -> std::unique_ptr<Sender> {
      return std::make_unique<KafkaSender>(producer, a);
    };
  }

 private:
  const config::ConnectorConfig c_;
  LastError last_;
  rd_kafka_t* rk_;
};

}  // namespace

std::unique_ptr<Connector> make_kafka_connector(const config::ConnectorConfig& c) {
  return std::make_unique<KafkaConnector>(c);
}

}  // namespace emqxd::connectors
