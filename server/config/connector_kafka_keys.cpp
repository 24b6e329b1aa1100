// The kafka_producer connector's and action's own fields (EMQX 5's: connectors/kafka.hpp
// runs them). connector_keys.cpp reads the fields every type shares and calls these for
// the rest.
#include "config/schema.hpp"
#include "rules/template.hpp"

namespace emqxd::config::detail {

namespace {

constexpr Duration kHour{3'600'000};

void read_authentication(const Value& v, const std::string& k, KafkaConfig& x) {
  if (v.is_string()) {
    const std::string s = get_string(v, k);
    if (s == "none") return;
    fail(v, k,
         s == "msk_iam" ? "msk_iam is not implemented yet by emqxd (none, or a mechanism: "
                          "plain, scram_sha_256, scram_sha_512)"
                        : "expected none or an object with mechanism, username, password");
  }
  if (!v.is_object()) fail(v, k, "expected none or an object with mechanism, username, password");
  for (const auto& f : v.fields()) {
    const std::string fk = k + "." + f.key;
    if (f.key == "mechanism") {
      const auto m = get_enum(f.value, fk, {"plain", "scram_sha_256", "scram_sha_512", "oauth"});
      if (m == "oauth") fail(f.value, fk, "oauth is not implemented yet by emqxd");
      x.sasl_mechanism = m == "plain"           ? "PLAIN"
                         : m == "scram_sha_256" ? "SCRAM-SHA-256"
                                                : "SCRAM-SHA-512";
    } else if (f.key == "username") {
      x.username = get_string(f.value, fk);
    } else if (f.key == "password") {
      x.password = get_string(f.value, fk);
    } else if (f.key == "kerberos_principal" || f.key == "kerberos_keytab_file" ||
               f.key == "type") {
      fail(f.value, fk, "kerberos and msk_iam_roles_anywhere are not implemented yet by emqxd");
    } else {
      fail(f.value, fk, "unknown key (mechanism, username, password)");
    }
  }
  if (x.sasl_mechanism.empty()) fail(v, k + ".mechanism", "required");
  if (x.username.empty()) fail(v, k + ".username", "required");
}

// host[:port] (9092), comma-separated; an http:// URL or an empty entry is a mistake.
void check_hosts(const Value& v, const std::string& k, const std::string& hosts) {
  std::size_t start = 0;
  while (start <= hosts.size()) {
    auto end = hosts.find(',', start);
    if (end == std::string::npos) end = hosts.size();
    std::string h = hosts.substr(start, end - start);
    while (!h.empty() && h.front() == ' ')
      h.erase(0, 1);
    while (!h.empty() && h.back() == ' ')
      h.pop_back();
    if (h.empty() || h.find_first_of("/ ") != std::string::npos)
      fail(v, k, "expected host[:port] separated by commas, got " + shown(v));
    start = end + 1;
  }
}

}  // namespace

void init_kafka_action(ActionConfig& a) {
  a.resource_opts.batch_size = 100;  // librdkafka batches anyway; one wait for many
}

bool read_kafka_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c) {
  const std::string k = key + "." + f.key;
  KafkaConfig& x = c.kafka;
  const Value& v = f.value;
  if (f.key == "bootstrap_hosts") {
    x.bootstrap_hosts = get_string(v, k);
    check_hosts(v, k, x.bootstrap_hosts);
  } else if (f.key == "connect_timeout") {
    x.connect_timeout = get_duration_in(v, k, Duration(1), kHour);
  } else if (f.key == "min_metadata_refresh_interval") {
    x.min_metadata_refresh_interval = get_duration_in(v, k, Duration(1), kHour);
  } else if (f.key == "metadata_request_timeout") {
    x.metadata_request_timeout = get_duration_in(v, k, Duration(1), kHour);
  } else if (f.key == "request_timeout") {
    x.request_timeout = get_duration_in(v, k, Duration(1), kHour);
  } else if (f.key == "authentication") {
    read_authentication(v, k, x);
  } else if (f.key == "socket_opts") {
    if (!v.is_object()) fail(v, k, "expected an object");
    for (const auto& s : v.fields()) {
      const std::string sk = k + "." + s.key;
      if (s.key == "sndbuf") {
        x.sndbuf = get_size(s.value, sk, 1024, 100ull << 20, "100MB");
      } else if (s.key == "recbuf") {
        x.recbuf = get_size(s.value, sk, 1024, 100ull << 20, "100MB");
      } else if (s.key == "nodelay") {
        x.nodelay = get_bool(s.value, sk);
      } else if (s.key == "tcp_keepalive") {
        (void)get_string(s.value, sk);  // librdkafka turns keepalive on or off only
      } else {
        fail(s.value, sk, "unknown key (sndbuf, recbuf, nodelay, tcp_keepalive)");
      }
    }
  } else if (f.key == "health_check_topic") {
    x.health_check_topic = get_string(v, k);
  } else if (f.key == "allow_auto_topic_creation") {
    x.allow_auto_topic_creation = get_bool(v, k);
  } else if (f.key == "ssl") {
    read_client_ssl(v, k, c.ssl);
    if (!c.ssl.server_name_indication.empty() && c.ssl.server_name_indication != "disable")
      fail(v, k + ".server_name_indication",
           "librdkafka checks each broker's certificate against the broker's own host: leave "
           "it out, or \"disable\" the name check");
  } else {
    return false;
  }
  return true;
}

void check_kafka_connector(const Value& obj, const std::string& key, ConnectorConfig& c) {
  if (c.kafka.bootstrap_hosts.empty()) fail(obj, key + ".bootstrap_hosts", "required");
}

bool read_kafka_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a) {
  const std::string k = key + "." + p.key;
  KafkaProducerConfig& x = a.kafka;
  const Value& v = p.value;
  if (p.key == "topic") {
    x.topic = get_template(v, k);
    if (x.topic.empty()) fail(v, k, "must not be empty");
  } else if (p.key == "message") {
    if (!v.is_object()) fail(v, k, "expected an object (key, value, timestamp)");
    for (const auto& m : v.fields()) {
      const std::string mk = k + "." + m.key;
      if (m.key == "key") {
        x.key = get_template(m.value, mk);
      } else if (m.key == "value") {
        x.value = get_template(m.value, mk);
      } else if (m.key == "timestamp") {
        x.timestamp = get_template(m.value, mk);
      } else {
        fail(m.value, mk, "unknown key (key, value, timestamp)");
      }
    }
  } else if (p.key == "max_linger_time") {
    x.max_linger_time = get_duration_in(v, k, Duration(0), Duration(900'000));
  } else if (p.key == "max_linger_bytes") {
    x.max_linger_bytes = get_size(v, k, 1, 1ull << 30, "1GB");
  } else if (p.key == "max_batch_bytes") {
    x.max_batch_bytes = get_size(v, k, 1, 1ull << 30, "1GB");
  } else if (p.key == "compression") {
    const auto c = get_enum(v, k, {"no_compression", "snappy", "gzip"});
    x.compression = c == "no_compression" ? "none" : c;
  } else if (p.key == "partition_strategy") {
    x.key_dispatch = get_enum(v, k, {"random", "key_dispatch"}) == "key_dispatch";
  } else if (p.key == "required_acks") {
    const auto r = get_enum(v, k, {"all_isr", "leader_only", "none"});
    x.acks = r == "all_isr" ? -1 : r == "leader_only" ? 1 : 0;
  } else if (p.key == "kafka_headers") {
    x.headers = get_template(v, k);
    std::string err;
    if (!rules::Template::parse(*x.headers, err)->single())
      fail(v, k, "must be a single placeholder such as ${pub_props}");
  } else if (p.key == "kafka_ext_headers") {
    if (!v.is_array()) fail(v, k, "expected a list of {kafka_ext_header_key, ...value}");
    for (std::size_t i = 0; i < v.elements().size(); ++i) {
      const Value& e = v.elements()[i];
      const std::string ek = k + "[" + std::to_string(i + 1) + "]";
      if (!e.is_object()) fail(e, ek, "expected an object");
      std::string hk, hv;
      for (const auto& h : e.fields()) {
        if (h.key == "kafka_ext_header_key") {
          hk = get_template(h.value, ek + "." + h.key);
        } else if (h.key == "kafka_ext_header_value") {
          hv = get_template(h.value, ek + "." + h.key);
          std::string err;
          auto t = rules::Template::parse(hv, err);
          if (t->has_placeholders() && !t->single())
            fail(h.value, ek + "." + h.key, "a single placeholder such as ${foo}, or plain text");
        } else {
          fail(h.value, ek + "." + h.key,
               "unknown key (kafka_ext_header_key, kafka_ext_header_value)");
        }
      }
      if (hk.empty()) fail(e, ek + ".kafka_ext_header_key", "required");
      x.ext_headers.emplace_back(hk, hv);
    }
  } else if (p.key == "kafka_header_value_encode_mode") {
    x.headers_json = get_enum(v, k, {"none", "json"}) == "json";
  } else if (p.key == "max_inflight") {
    x.max_inflight = static_cast<std::uint32_t>(get_int(v, k, 1, 1'000'000));
  } else if (p.key == "sync_query_timeout") {
    x.sync_query_timeout = get_duration_in(v, k, Duration(1), kHour);
  } else if (p.key == "buffer") {
    // EMQX's producer buffer is the action's buffer here (connectors/buffer.hpp).
    if (!v.is_object()) fail(v, k, "expected an object");
    for (const auto& b : v.fields()) {
      const std::string bk = k + "." + b.key;
      if (b.key == "mode") {
        a.resource_opts.volatile_offload =
            get_enum(b.value, bk, {"memory", "disk", "hybrid"}) != "memory";
      } else if (b.key == "per_partition_limit") {
        a.resource_opts.max_buffer_bytes = get_size(b.value, bk, 1024, 1ull << 40, "1TB");
      } else if (b.key == "segment_bytes") {
        a.resource_opts.buffer_seg_bytes = get_size(b.value, bk, 1024, 1ull << 40, "1TB");
      } else if (b.key == "memory_overload_protection") {
        (void)get_bool(b.value, bk);  // the buffer is bounded by per_partition_limit anyway
      } else {
        fail(b.value, bk,
             "unknown key (mode, per_partition_limit, segment_bytes, memory_overload_protection)");
      }
    }
  } else if (p.key == "partition_count_refresh_interval" || p.key == "max_batch_age" ||
             p.key == "reconnect_delay") {
    (void)get_duration_or(v, k, "infinity");  // librdkafka's own timing
  } else if (p.key == "partitions_limit" || p.key == "max_retries") {
    // all_partitions / infinity or a number: librdkafka uses every partition and retries
    // until sync_query_timeout, when the action's buffer takes over.
    if (!v.is_string()) (void)get_int(v, k, 0, 1'000'000'000);
  } else if (p.key == "query_mode") {
    a.resource_opts.query_mode_async = get_enum(v, k, {"async", "sync"}) == "async";
  } else {
    return false;
  }
  return true;
}

void check_kafka_action(const Value& obj, const std::string& key, const ActionConfig& a) {
  if (a.kafka.topic.empty()) fail(obj, key + ".parameters.topic", "required");
  if (a.kafka.key_dispatch && a.kafka.key.empty()) {
    fail(obj, key + ".parameters.message.key",
         "the message key cannot be empty when the key_dispatch strategy is used");
  }
  std::string err;
  if (a.resource_opts.volatile_offload &&
      rules::Template::parse(a.kafka.topic, err)->has_placeholders()) {
    fail(obj, key + ".parameters.buffer.mode",
         "disk-mode buffering is disallowed when using dynamic topics");
  }
}

}  // namespace emqxd::config::detail
