#pragma once
// Config: the typed settings of a node, loaded from a HOCON file (EMQX 5 key names) with
// EMQX_* environment overrides on top. Every field has the embedded default, so
// `emqxd start` with no file runs on these values.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/log_settings.hpp"

namespace emqxd::config {

using Duration = std::chrono::milliseconds;

// Thrown at start-up only: "FILE:LINE: KEY: what is wrong".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SslOptions {
  std::string certfile;
  std::string keyfile;
  std::string cacertfile;
  std::string verify = "verify_none";  // verify_peer | verify_none
  bool fail_if_no_peer_cert = false;
  // EMQX's defaults: TLS 1.3 and 1.2. tlsv1 and tlsv1.1 are refused at load.
  std::vector<std::string> versions{"tlsv1.3", "tlsv1.2"};
  // OpenSSL names: TLS 1.3 suites ("TLS_AES_128_GCM_SHA256") and TLS 1.2 ciphers
  // ("ECDHE-RSA-AES128-GCM-SHA256"); empty = forward-secret AEAD only
  // (net/stream_connection.cpp, kDefaultTls12Ciphers).
  std::vector<std::string> ciphers;
  std::uint32_t depth = 10;  // longest client certificate chain checked (EMQX: 10)
  bool honor_cipher_order = true;
};

// listeners.<type>.<name>.enable_authn (EMQX's key): whether the authentication chain is
// asked for this listener's clients; quick_deny_anonymous refuses a client without a
// username before the chain runs.
enum class AuthnMode : std::uint8_t { On, Off, QuickDenyAnonymous };

// A rate as EMQX writes it: "1000/s", "50/10s", "1MB/s" (bytes), or infinity: `count` per
// `period`; count 0 = infinity.
struct Rate {
  std::uint64_t count = 0;
  Duration period{1000};
  bool infinite() const { return count == 0; }
};

struct ListenerConfig {
  std::string type;  // tcp | ssl | ws | wss
  std::string name;  // "default"
  bool enable = true;
  std::string bind;  // "0.0.0.0:1883" or ":1883" or "1883"
  std::uint32_t max_connections = 1024000;
  // max_conn_rate (EMQX's key): at most max_conn_rate_count new connections per
  // max_conn_rate_period, the excess closed at accept; count 0 = infinity (the default).
  std::uint32_t max_conn_rate_count = 0;
  std::chrono::milliseconds max_conn_rate_period{1000};
  // max_conn_per_ip (emqxd's key): connections open at once from one source address;
  // 0 = infinity (the default: behind NAT or a load balancer every client has one address).
  std::uint32_t max_conn_per_ip = 0;
  // messages_rate and bytes_rate (EMQX's keys): what one client of this listener may send,
  // PUBLISH packets and bytes; over it, reading from that client pauses (net/rate_limit.hpp).
  Rate messages_rate;
  Rate bytes_rate;
  AuthnMode enable_authn = AuthnMode::On;
  std::string websocket_mqtt_path = "/mqtt";  // listeners.ws.<name>.websocket.mqtt_path
  SslOptions ssl_options;                     // listeners.ssl.<name>.ssl_options.*
};

// What of a TLS client's certificate stands for its username or client id
// (mqtt.peer_cert_as_username / peer_cert_as_clientid, EMQX's values).
enum class PeerCertField : std::uint8_t { Disabled, Cn, Dn, Crt, Pem, Md5 };

struct MqttConfig {
  std::uint32_t max_packet_size = 1024 * 1024;  // 1MB
  PeerCertField peer_cert_as_username = PeerCertField::Disabled;
  PeerCertField peer_cert_as_clientid = PeerCertField::Disabled;
  bool use_username_as_clientid = false;
  std::uint32_t max_clientid_len = 65535;
  std::uint32_t max_topic_levels = 128;
  std::uint8_t max_qos_allowed = 2;
  std::uint16_t max_topic_alias = 65535;
  bool retain_available = true;
  bool wildcard_subscription = true;
  bool shared_subscription = true;
  // "$exclusive/<filter>": one subscriber per filter in the cluster (session/exclusive.hpp).
  bool exclusive_subscription = false;
  std::uint32_t max_subscriptions = 0;  // 0 = infinity
  std::uint16_t max_inflight = 32;
  std::uint32_t max_mqueue_len = 1000;  // 0 = infinity
  bool mqueue_store_qos0 = true;
  // A connected subscriber that falls behind holds its QoS 1/2 publishers instead of
  // dropping (broker/pressure.hpp); one that takes nothing for backpressure_stall_timeout
  // holds nobody until it reads again.
  bool backpressure = true;
  Duration backpressure_stall_timeout = std::chrono::seconds(2);
  std::uint32_t max_awaiting_rel = 100;  // 0 = infinity
  Duration await_rel_timeout = std::chrono::seconds(300);
  Duration retry_interval = std::chrono::seconds(30);
  double keepalive_multiplier = 1.5;
  std::optional<std::uint16_t> server_keepalive;  // "disabled" = nullopt
  std::uint16_t max_keepalive = 0;  // seconds; 0 = no limit (mosquitto's max_keepalive)
  Duration session_expiry_interval = std::chrono::hours(2);
  std::string shared_subscription_strategy = "round_robin";
  Duration idle_timeout = std::chrono::seconds(15);  // "infinity" = 0: no idle limit
  bool ignore_loop_deliver = false;
  std::string server_reference;  // sent with CONNACK/DISCONNECT 0x9C/0x9D when set
  std::string response_information;
};

// force_shutdown.*: each connection keeps an account of the memory it holds (its read
// buffer, topic aliases, subscriptions, the messages in flight to it and queued for it;
// session::Channel::memory()); one over max_heap_size is disconnected (MQTT 5 DISCONNECT
// 0x97) and its session discarded, as EMQX kills the connection process.
struct ForceShutdownConfig {
  bool enable = true;
  std::uint64_t max_heap_size = 32 * 1024 * 1024;  // 32MB
};

// flapping_detect.* (EMQX's keys and defaults): a client id whose connections end
// max_count times within window_time is banned for ban_time (session/banned.hpp).
struct FlappingDetectConfig {
  bool enable = false;
  std::uint32_t max_count = 15;
  Duration window_time{60'000};
  Duration ban_time{300'000};
};

struct SysTopicsConfig {
  Duration sys_msg_interval = std::chrono::minutes(1);  // 0 = disabled
  Duration sys_heartbeat_interval = std::chrono::seconds(30);
  bool client_connected = true;
  bool client_disconnected = true;
  bool client_subscribed = false;
  bool client_unsubscribed = false;
};

struct RetainerConfig {
  bool enable = true;
  std::uint32_t max_retained_messages = 0;          // 0 = no limit
  std::uint32_t max_payload_size = 1024 * 1024;     // 1MB
  Duration msg_expiry_interval = Duration::zero();  // 0 = never
};

// delayed.* (EMQX's keys): PUBLISH to "$delayed/<seconds>/<topic>" is held and published
// to <topic> later (session/delayed.hpp). Both change at run time (PUT /api/v5/mqtt/delayed).
struct DelayedConfig {
  bool enable = true;
  std::uint32_t max_delayed_messages = 0;  // 0 = no limit
};

// rewrite = [...] (EMQX's topic rewrite, session/rewrite.hpp): the first rule whose
// source_topic matches a topic (or filter) rewrites it to dest_topic when `re` matches,
// with $1.. the captures and ${clientid}, ${username} the client's.
struct RewriteRuleConfig {
  enum class Action { Publish, Subscribe, All };
  Action action = Action::All;
  std::string source_topic;
  std::string dest_topic;
  std::string re;
};

// auto_subscribe.topics = [...] (EMQX's): subscriptions made for every client at connect,
// with ${clientid}, ${username}, ${host}, ${port} filled in.
struct AutoSubscribeTopicConfig {
  std::string topic;
  std::uint8_t qos = 0;
  std::uint8_t rh = 0;
  bool rap = false;
  bool nl = false;
};

// durable_sessions.*: sessions that outlive their connection (clean_start = false and a
// session expiry) and retained messages, kept on disk (node.data_dir/rocksdb) so that they
// survive a restart. EMQX's other durable_sessions keys stop start-up (not implemented).
struct DurableSessionsConfig {
  bool enable = true;  // false: kept in memory only, nothing survives a restart
  // true: a message is on disk (WAL fsync'ed) before its PUBACK/PUBREC goes out, so it
  // survives a power loss; false: it survives a crash of emqxd, not of the machine.
  bool sync = true;
};

// durable_storage.rocksdb.*: tuning of the RocksDB that holds them.
struct DurableStorageConfig {
  // Memtable of each column family; all of them together stay below twice this.
  std::uint64_t write_buffer_size = 64 * 1024 * 1024;  // 64MB, as RocksDB's own default
  // One cache of blocks read back from disk, shared by every column family.
  std::uint64_t block_cache_size = 32 * 1024 * 1024;  // 32MB
};

// The `ssl` block of a client of an outside service: the http authenticator, a JWKS
// endpoint, the http authorization source, etcd discovery (EMQX's ssl client options). The URL's
// scheme decides whether TLS is used; this block says how (with enable = false an https:// URL
// still gets TLS, with EMQX's defaults: no check of the server's certificate).
struct ClientSslConfig {
  bool enable = false;
  std::string verify = "verify_none";  // verify_peer | verify_none (EMQX's default)
  std::string cacertfile;              // empty with verify_peer: the system's CAs
  std::string certfile;                // a client certificate, when the server asks one
  std::string keyfile;
  // The name sent in SNI and checked in the server's certificate with verify_peer; empty:
  // the URL's host (an address is checked as an address, and sent no SNI); "disable": no
  // SNI and no name check.
  std::string server_name_indication;
  std::vector<std::string> versions{"tlsv1.3", "tlsv1.2"};
  std::vector<std::string> ciphers;  // as SslOptions::ciphers
};

// cluster.rpc.ssl.*: TLS between nodes. Parsed and checked; served once the RPC is.
struct ClusterRpcSsl {
  bool enable = false;
  std::string certfile;
  std::string keyfile;
  std::string cacertfile;              // the CA that signed the other nodes' certificates
  std::string verify = "verify_peer";  // verify_peer | verify_none
};

// cluster.*: how this node finds and watches its peers (cluster/membership.hpp). EMQX's
// key names where EMQX has the key (name, discovery_strategy, static.seeds, autoclean,
// autoheal); the SWIM timings are ours, with memberlist's LAN defaults.
struct ClusterConfig {
  std::string name = "emqxdcl";               // nodes of other clusters are ignored
  std::string discovery_strategy = "manual";  // manual | static | dns | etcd | k8s
  // Node addresses name@host:port (the port defaults to 4370 when not written), in the
  // order given, without repeats. Used by the static strategy.
  std::vector<std::string> static_seeds;
  // cluster.dns.*: the dns strategy (cluster/discovery_dns.hpp). The name whose records
  // list the nodes, and which records: a, aaaa or srv.
  std::string dns_name;
  std::string dns_record_type = "a";
  // cluster.etcd.*: the etcd strategy (cluster/discovery.hpp). The servers' origins
  // ("http[s]://host:port", from EMQX's comma-separated server), the keys' prefix, the
  // lease of each node's key, and how to check an https server (ssl_options).
  std::vector<std::string> etcd_servers;
  std::string etcd_prefix = "emqxcl";
  Duration etcd_node_ttl = std::chrono::minutes(1);
  ClientSslConfig etcd_ssl;
  // cluster.k8s.*: the k8s strategy (cluster/discovery.hpp), EMQX's keys and defaults;
  // service_account_dir is emqxd's (where a pod's token and CA are mounted).
  std::string k8s_apiserver = "https://kubernetes.default.svc:443";
  std::string k8s_service_name = "emqx-headless";
  std::string k8s_address_type = "ip";  // ip | dns | hostname
  std::string k8s_namespace = "default";
  std::string k8s_suffix = "pod.local";
  std::string k8s_service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";
  // cluster.rpc.bind: one gRPC port per node. Not written: 0.0.0.0:4370 with a node.cookie,
  // 127.0.0.1:4370 without (config.cpp, finish()).
  std::string rpc_bind = "127.0.0.1:4370";
  ClusterRpcSsl rpc_ssl;
  Duration probe_interval = std::chrono::seconds(1);
  Duration probe_timeout = std::chrono::milliseconds(500);
  std::uint32_t indirect_probes = 3;
  std::uint32_t suspicion_multiplier = 4;   // x max(1, log10 nodes) x probe_interval
  std::uint32_t retransmit_multiplier = 4;  // x ceil(log10(nodes + 1)) sends of each update
  Duration gossip_interval = std::chrono::milliseconds(200);  // 0 = disabled
  std::uint32_t gossip_fanout = 3;
  Duration push_pull_interval = std::chrono::seconds(30);  // 0 = disabled
  bool autoheal = true;
  Duration reconnect_interval = std::chrono::seconds(10);
  Duration autoclean = std::chrono::hours(24);
  // cluster.max_nodes (an emqxd key): the most nodes this node keeps in its member and peer
  // tables, itself included; more are refused, not added.
  std::uint32_t max_nodes = 256;
};

// An authorization source of type http (auth/authz_http.hpp): a request per decision.
struct AuthzHttpConfig {
  std::string method = "post";  // post | get
  std::string url;              // http[s]://host[:port]/path[?query], may hold ${...}
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> body;  // field = "${topic}", ...
  Duration connect_timeout{15'000};
  Duration request_timeout{30'000};  // EMQX's default for the source
  std::uint32_t pool_size = 8;       // connections kept to the server
  ClientSslConfig ssl;
};

// authorization.*: EMQX 5's keys (auth/authorization.hpp). No section: no sources and
// no_match = allow, every client may publish and subscribe anywhere (EMQX with sources = []).
// The connection and query of a database authenticator or authorization source
// (postgresql, mysql, redis; auth/db/db_client.hpp), EMQX's keys.
struct DbConfig {
  std::string server;    // host[:port]; the port defaults to 5432, 3306, 6379
  std::string database;  // SQL: the database; redis: its index (default 0)
  std::string username;  // may be empty
  std::string password;  // never logged
  std::uint32_t pool_size = 8;
  std::string query;                  // `query` (SQL) or `cmd` (redis), with ${...} placeholders
  Duration query_timeout{5000};       // connect + query, per check
  std::string redis_type = "single";  // single | sentinel | cluster
  std::string servers;   // sentinel, cluster: "host[:port],..." (sentinels / seed nodes)
  std::string sentinel;  // sentinel: the master's name
  ClientSslConfig ssl;   // PostgreSQL and MySQL (hiredis 0.14 has no TLS)
};

struct AuthzSourceConfig {
  std::string type;  // file | http | postgresql | mysql | redis | built_in_database
  bool enable = true;
  std::string path;      // file: the acl.conf, read and compiled at start-up
  std::string key;       // "authorization.sources[1]": for messages
  std::string origin;    // "emqx.conf:40" (or the environment variable): where it was written
  AuthzHttpConfig http;  // type = http
  DbConfig db;           // postgresql, mysql, redis
  std::uint32_t max_rules = 100;  // built_in_database: rules per client id, username, all
};

struct AuthorizationConfig {
  std::string no_match = "allow";      // allow | deny: when no source decides
  std::string deny_action = "ignore";  // ignore | disconnect
  bool cache_enable = true;            // cache.enable: per connection, per action and topic
  std::uint32_t cache_max_size = 32;   // cache.max_size: entries per connection (LRU)
  Duration cache_ttl = std::chrono::minutes(1);  // cache.ttl
  std::vector<std::string> cache_excludes;       // cache.excludes: topic filters never cached
  std::vector<AuthzSourceConfig> sources;        // in order; the first decision wins
};

// prometheus.* (EMQX's key): GET /api/v5/prometheus/stats (api/prometheus.hpp).
struct PrometheusConfig {
  // false (EMQX's default): the scrape path takes no credentials, as Prometheus scrapes
  // by default; true: the API's usual HTTP Basic credentials.
  bool enable_basic_auth = false;
};

// alarm.* (EMQX's keys): the node's alarms (api/alarms.hpp).
struct AlarmConfig {
  bool log = true;      // alarm.actions has "log": a warning line per activation and clear
  bool publish = true;  // alarm.actions has "publish": $SYS/brokers/<node>/alarms/...
  std::uint32_t size_limit = 1000;                    // deactivated alarms kept, the oldest out
  Duration validity_period = std::chrono::hours(24);  // how long a deactivated one is kept
};

// sysmon.os.* (EMQX's keys): memory watermarks checked every mem_check_interval
// (app/sysmon.hpp); a ratio 0..1 (written "70%").
struct SysmonConfig {
  Duration mem_check_interval = std::chrono::seconds(60);  // 0 = disabled
  double sysmem_high_watermark = 0.70;                     // high_system_memory_usage
  double procmem_high_watermark = 0.05;                    // high_process_memory_usage
};

// slow_subs.*: EMQX's slow subscriptions (session/slow_subs.hpp). The settings PUT through
// /api/v5/slow_subscriptions/settings replace these on every node until the next PUT.
struct SlowSubsConfig {
  enum class StatsType : std::uint8_t { Whole, Internal, Response };
  bool enable = false;
  Duration threshold{500};            // at least 100ms, as EMQX
  Duration expire_interval{300'000};  // a record not updated for this long goes
  std::uint32_t top_k_num = 10;       // 1..1000
  StatsType stats_type = StatsType::Whole;
};

struct NodeConfig {
  std::string name = "emqx@127.0.0.1";
  std::string data_dir = "data";
  std::uint32_t io_threads = 0;  // 0 = one per core
  // node.cookie: the cluster's shared secret (cluster/auth.hpp); empty: none, and the
  // cluster RPC listens on loopback only. Never logged.
  std::string cookie;
};

// log.console and log.file (common/log_handlers.hpp): the console on by default at info;
// a file handler only when log.file is written (EMQX's single handler `log.file {...}` is
// named "default"; `log.file.<name> {...}` are more). Levels are EMQX's names with the
// extra ones folded (all -> debug, critical/alert/emergency -> error), and none.
struct LogConfig {
  log::HandlerConfig console = [] {
    log::HandlerConfig c;
    c.name = "console";
    c.level = "info";
    return c;
  }();
  std::vector<log::HandlerConfig> files;
};

// trace.*: the log traces of /api/v5/trace (session/trace.hpp).
struct TraceConfig {
  // Each trace file stops growing here (EMQX fixes 512MB; emqxd reads a file whole to
  // download it, so its default is smaller).
  std::uint64_t max_file_size = 64ull * 1024 * 1024;
  std::string payload_encode = "text";  // text | hex | hidden: a POST that names none
};

// password_hash_algorithm of a password-based authenticator, as EMQX writes it (checked
// when read; auth/password.hpp does the hashing).
struct PasswordHashConfig {
  std::string name = "sha256";           // plain | md5 | sha | sha256 | sha512 | bcrypt | pbkdf2
  std::string salt_position = "prefix";  // disable | prefix | suffix (not bcrypt, pbkdf2)
  int salt_rounds = 10;                  // bcrypt: 5..10
  std::string mac_fun = "sha256";        // pbkdf2
  int iterations = 4096;                 // pbkdf2
  int dk_length = 0;                     // pbkdf2; 0: the digest's size
};

// One entry of `authentication = [...]` (EMQX 5's chain, tried in order; auth/
// authentication.hpp runs it). `key` names it in messages: "authentication[1]".
struct AuthenticatorConfig {
  std::string key;
  std::string origin;     // "FILE:LINE" of the entry
  std::string mechanism;  // password_based | jwt | scram
  std::string backend;    // built_in_database | http | postgresql | mysql | redis; empty for jwt
  bool enable = true;
  // password_based + postgresql | mysql | redis (password_hash_algorithm below too)
  DbConfig db;
  // password_based + built_in_database
  std::string user_id_type = "username";  // username | clientid
  PasswordHashConfig password_hash_algorithm;
  std::string bootstrap_file;            // CSV or JSON of users (auth/user_bootstrap.hpp)
  std::string bootstrap_type = "plain";  // plain | hash
  // scram + built_in_database
  std::string scram_algorithm = "sha256";  // `algorithm`: sha256 | sha512
  int iteration_count = 4096;
  // password_based + http: a request per CONNECT, its answer decides
  std::string method = "post";  // post | get
  std::string url;              // http[s]://host[:port]/path[?query], may hold ${...}
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::pair<std::string, std::string>> body;  // field = "${username}", ...
  Duration request_timeout{5000};
  // http and jwt with use_jwks: the connections kept to the server (keep-alive, reused
  // across requests), how long one may take to open, and its TLS.
  std::uint32_t pool_size = 8;
  Duration connect_timeout{15'000};
  ClientSslConfig ssl;
  // jwt
  std::string from = "password";         // password | username: where the token is
  std::string algorithm = "hmac-based";  // hmac-based | public-key
  std::string secret;                    // hmac-based; never logged
  bool secret_base64_encoded = false;
  std::string public_key;  // public-key: PEM text
  std::vector<std::pair<std::string, std::string>>
      verify_claims;  // may hold ${clientid}, ${username}
  std::string acl_claim_name = "acl";
  bool disconnect_after_expire = true;
  bool use_jwks = false;  // the keys from a JWKS document at `endpoint`, refreshed
  std::string endpoint;   // http[s]://host[:port]/path
  Duration refresh_interval{300'000};
};

// rule_engine.* (EMQX's keys; rules/engine.hpp). Each rule was read and compiled when the
// config loaded (a bad one stops start-up); the node writes them into the rule table.
struct RuleEngineConfig {
  bool ignore_sys_message = true;  // $SYS/ messages do not trigger rules
  // rule_engine.rules.<id>: the id and the rule's definition as JSON.
  std::vector<std::pair<std::string, std::string>> rules;
};

// EMQX 5's data integration: connectors.<type>.<name> and actions.<type>.<name>
// (connectors/ reads them into running connectors and actions; docs/connectors.md). Each
// keeps its definition as JSON too, the form the replicated tables and the API carry.
struct ActionResourceOpts {
  std::uint32_t worker_pool_size = 16;
  Duration health_check_interval{15'000};
  bool query_mode_async = true;
  Duration request_ttl{45'000};  // 0: infinity
  std::uint32_t inflight_window = 100;
  std::uint64_t max_buffer_bytes = 256ull << 20;
  bool volatile_offload = false;       // buffer_mode
  std::uint64_t buffer_seg_bytes = 0;  // 0: max_buffer_bytes
  std::uint32_t batch_size = 1;
  Duration batch_time{0};
  Duration resume_interval{0};  // 0: min(health_check_interval, request_ttl / 3)
};

// connectors.mqtt.<name>: the remote broker (connectors/mqtt.hpp), EMQX's keys and defaults.
struct MqttBridgeConfig {
  std::string server;            // host[:port], 1883
  std::string proto_ver = "v4";  // v3 | v4 | v5
  bool bridge_mode = false;      // v3/v4: the protocol level's bridge bit
  std::string clientid_prefix;
  std::string username;
  std::string password;  // never logged
  bool clean_start = true;
  Duration keepalive{160'000};
  Duration retry_interval{15'000};  // accepted: a lost connection resends what was in flight
  std::uint32_t max_inflight = 32;
};

// connectors.influxdb.<name> (connectors/influxdb.hpp): EMQX's keys, its parameters by
// influxdb_type. Written over the connector's HTTP pool (url, ssl and pool_size below).
struct InfluxConfig {
  std::string server;  // host[:port], 8086; http:// or https:// before it is taken off
  bool v2 = false;     // parameters.influxdb_type: influxdb_api_v1 | influxdb_api_v2
  std::string database, username, password;  // v1 (username and password optional)
  std::string bucket, org, token;            // v2; the token is never logged
};

// connectors.rabbitmq.<name> (connectors/rabbitmq.hpp): EMQX's keys and defaults.
struct RabbitConfig {
  std::string server = "localhost";
  std::uint16_t port = 5672;
  std::string username, password;  // both required; the password never logged
  std::string virtual_host = "/";
  Duration heartbeat{30'000};
  Duration timeout{5'000};  // connect and log in
  ClientSslConfig ssl;      // TLS to the broker (its TLS port, 5671 by convention)
};

// connectors.kafka_producer.<name> (connectors/kafka.hpp): EMQX's keys and defaults.
struct KafkaConfig {
  std::string bootstrap_hosts;  // "host:port,host:port", 9092
  Duration connect_timeout{5'000};
  Duration min_metadata_refresh_interval{3'000};
  Duration metadata_request_timeout{5'000};
  Duration request_timeout{30'000};
  std::string sasl_mechanism;      // authentication: "" (none), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
  std::string username, password;  // the password never logged
  std::uint64_t sndbuf = 1 << 20, recbuf = 1 << 20;
  bool nodelay = true;
  std::string health_check_topic;
  bool allow_auto_topic_creation = false;
};

// actions.kafka_producer.<name>.parameters (connectors/kafka.hpp).
struct KafkaProducerConfig {
  std::string topic;                                                              // a template
  std::string key = "${.clientid}", value = "${.}", timestamp = "${.timestamp}";  // templates
  Duration max_linger_time{0};
  std::uint64_t max_linger_bytes = 10ull << 20;
  std::uint64_t max_batch_bytes = 896ull << 10;
  std::string compression = "none";    // librdkafka's names: none, snappy, gzip
  bool key_dispatch = false;           // partition_strategy: random | key_dispatch
  int acks = -1;                       // required_acks: all_isr -1, leader_only 1, none 0
  std::optional<std::string> headers;  // one placeholder
  std::vector<std::pair<std::string, std::string>> ext_headers;  // templates
  bool headers_json = false;  // kafka_header_value_encode_mode = json
  std::uint32_t max_inflight = 10;
  Duration sync_query_timeout{5'000};  // how long librdkafka tries a message
};

struct ConnectorConfig {
  std::string type, name;  // "http", "my_webhook"
  bool enable = true;
  std::string description;
  Duration health_check_interval{15'000};  // resource_opts
  Duration start_timeout{5'000};
  bool start_after_created = true;
  // http
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // templates
  Duration connect_timeout{15'000};  // http; the others: connect + query, per request
  std::uint32_t pool_size = 8;
  std::string pool_type = "random";
  ClientSslConfig ssl;  // http, mqtt, influxdb, kafka_producer (the databases: db.ssl)
  // pgsql, mysql, redis: server, database, username, password, pool_size (db.pool_size),
  // redis_type (EMQX's parameters.redis_type for redis)
  DbConfig db;
  MqttBridgeConfig mqtt;  // mqtt (pool_size and ssl above)
  InfluxConfig influx;    // influxdb (url, pool_size and ssl above)
  RabbitConfig rabbit;    // rabbitmq (pool_size above)
  KafkaConfig kafka;      // kafka_producer
  std::string json;       // as written (JSON)
};

struct ActionConfig {
  std::string type, name;
  std::string connector;  // the connector's name (same type)
  bool enable = true;
  std::string description;
  ActionResourceOpts resource_opts;
  // http parameters
  std::string method = "post";
  std::string path;  // a template, joined to the connector's URL
  std::vector<std::pair<std::string, std::string>> headers;  // templates; over the connector's
  std::optional<std::string> body;  // a template; none: the rule's output as JSON
  std::uint32_t max_retries = 2;
  // pgsql, mysql: the statement, a template (connectors/database.hpp)
  std::string sql;
  // redis: one template per argument of the command
  std::vector<std::string> command_template;
  // mqtt: templates; qos and retain are values or a template of one placeholder
  std::string mqtt_topic;
  std::string mqtt_qos = "1";
  std::string mqtt_retain = "false";
  std::optional<std::string> mqtt_payload;  // none: the rule's output as JSON
  // influxdb: line protocol, a template of lines (rules/line_protocol.hpp), and the
  // precision of its timestamps (ns | us | ms | s)
  std::string write_syntax;
  std::string precision = "ms";
  // rabbitmq: exchange and routing_key are templates; payload_template none: the rule's
  // output as JSON
  std::string rabbit_exchange, rabbit_routing_key;
  std::optional<std::string> rabbit_payload;
  bool rabbit_persistent = false;  // delivery_mode = persistent | non_persistent
  bool rabbit_confirms = true;     // wait_for_publish_confirmations
  Duration rabbit_confirm_timeout{30'000};
  KafkaProducerConfig kafka;  // kafka_producer
  std::string json;           // as written (JSON)
};

// sources.<type>.<name> (EMQX 5): messages from outside for the rules, read as
// "$bridges/<type>:<name>". So far mqtt: a subscription on the remote broker.
struct SourceConfig {
  std::string type, name;
  std::string connector;
  bool enable = true;
  std::string description;
  std::string topic;  // the remote filter
  int qos = 1;        // 2 is taken as 1 (EMQX)
  bool no_local = false;
  std::string json;  // as written (JSON)
};

// The connector and action types emqxd runs, by EMQX's names, sorted (the API's
// connector_types and action_types).
std::vector<std::string> connector_types();

// A connector or an action given as JSON (the API's body, a replicated table's entry),
// read as the config file's would be. Throws ConfigError "<where>: KEY: what is wrong".
ConnectorConfig read_connector(const std::string& type, const std::string& name,
                               std::string_view json, const std::string& where);
ActionConfig read_action(const std::string& type, const std::string& name, std::string_view json,
                         const std::string& where);
SourceConfig read_source(const std::string& type, const std::string& name, std::string_view json,
                         const std::string& where);

// gateway.<name>: what every gateway has (EMQX's gateway_common_options; docs/gateways.md).
struct GatewayCommonConfig {
  bool configured = false;  // the section is in the config
  bool enable = true;
  // Prefixed to every topic the gateway's clients name, taken off every topic they are
  // sent; "${clientid}" is the client's id.
  std::string mountpoint;
  // How long a peer may take from its first datagram to a finished CONNECT.
  Duration idle_timeout{30'000};
  // clientinfo_override: what the gateway's clients are authenticated as ("" = as they
  // connect). "${clientid}" is the client's id.
  std::string override_username, override_password, override_clientid;
  std::vector<ListenerConfig> listeners;  // type udp (MQTT-SN, CoAP), tcp (STOMP)
};

// gateway.mqttsn (gateways/mqttsn/).
struct MqttSnGatewayConfig {
  GatewayCommonConfig common;
  std::uint8_t gateway_id = 1;
  bool enable_qos3 = true;  // QoS -1 PUBLISH from clients that are not connected
  std::vector<std::pair<std::uint16_t, std::string>> predefined;  // id -> topic
};

// gateway.stomp (gateways/stomp/).
struct StompGatewayConfig {
  GatewayCommonConfig common;
  // frame.*: what one frame may hold (EMQX's keys and defaults).
  std::uint32_t max_headers = 10;
  std::uint32_t max_headers_length = 1024;
  std::uint32_t max_body_length = 65536;
};

// gateway.coap (gateways/coap/).
struct CoapGatewayConfig {
  GatewayCommonConfig common;
  bool connection_required = false;    // connection mode: mqtt/connection and tokens
  Duration heartbeat{30'000};          // connection mode's keep alive; connectionless idle time
  std::string notify_type = "qos";     // qos | non | con
  std::string subscribe_qos = "coap";  // qos0 | qos1 | qos2 | coap (CON: 1, NON: 0)
  std::string publish_qos = "coap";
};

// gateway.lwm2m (gateways/lwm2m/).
struct Lwm2mGatewayConfig {
  GatewayCommonConfig common = [] {
    GatewayCommonConfig c;
    c.mountpoint = "lwm2m/${endpoint_name}/";  // EMQX's default
    return c;
  }();
  std::string xml_dir;  // object definitions added to the built-in ones ("" = none)
  Duration lifetime_min{1'000}, lifetime_max{86'400'000};
  Duration qmode_time_window{22'000};
  bool auto_observe = false;
  std::vector<std::string> auto_observe_paths;  // auto_observe given as a list of paths
  std::string update_msg_publish_condition = "contains_object_list";  // | always
  struct Translator {
    std::string topic;
    int qos = 0;
  };
  Translator command{"dn/#"}, response{"up/resp"}, notify{"up/notify"}, reg{"up/resp"},
      update{"up/update"};
};

// gateway.zmq (gateways/zmq/bridge.hpp): NanoMQ's ZeroMQ bridge.
struct ZmqGatewayConfig {
  bool configured = false;
  bool enable = true;
  std::string sub_address;  // ZeroMQ -> MQTT: a SUB socket connects here ("" = none)
  std::string sub_pre;      // its subscription prefix, taken off each message
  std::string forward;      // the MQTT topic those messages are published to
  int qos = 0;              // their QoS (0 or 1)
  std::string pub_address;  // MQTT -> ZeroMQ: a PUB socket connects here
  std::string pub_pre;      // put before each message's payload
  std::string sub_topic;    // the MQTT filter whose messages go out ("" = none)
};

// bridges.nng.<pub|sub|rep>.<name> (gateways/nng/bridge.hpp): NanoMQ's NNG bridges, and a
// request/reply one of ours. The bridge listens on its url; NNG peers dial it.
struct NngBridgeConfig {
  std::string kind, name;  // pub | sub | rep, the section's name
  bool enable = true;
  std::string url;  // pub_url | sub_url | rep_url
  // NNG has no credentials: a tcp:// url other hosts can reach needs this (docs/security.md).
  bool allow_remote = false;
  std::string clientid;  // its MQTT client ("" = emqxd_nng_<kind>_<name>)
  struct Topic {
    std::string local_topic, remote_topic, delimiter = "/";
    int qos = 0;
  };
  std::vector<Topic> topics;  // pub: forwards (MQTT -> NNG); sub: subscription (NNG -> MQTT)
  // rep: each request is published to request_topic with an MQTT 5 response topic; the
  // first answer on response_topic with its correlation data is the reply.
  std::string request_topic, response_topic;
  int qos = 0;
  Duration timeout{5'000};
};

struct Config {
  // The configuration as written (the file with the EMQX_* overrides on it, substitutions
  // resolved), as a JSON object, secrets replaced by "******" (obfuscated_json); keys left
  // at their defaults are absent. GET /api/v5/configs shows it.
  std::string written_json = "{}";
  NodeConfig node;
  LogConfig log;
  TraceConfig trace;
  MqttConfig mqtt;
  ForceShutdownConfig force_shutdown;
  FlappingDetectConfig flapping_detect;
  std::vector<ListenerConfig> listeners;  // default: listeners.tcp.default on 0.0.0.0:1883
  SysTopicsConfig sys_topics;
  RetainerConfig retainer;
  DelayedConfig delayed;
  std::vector<RewriteRuleConfig> rewrite;
  std::vector<AutoSubscribeTopicConfig> auto_subscribe;
  DurableSessionsConfig durable_sessions;
  DurableStorageConfig durable_storage;
  ClusterConfig cluster;
  AuthorizationConfig authorization;
  PrometheusConfig prometheus;
  AlarmConfig alarm;
  SysmonConfig sysmon;
  SlowSubsConfig slow_subs;
  // topic_metrics = [{topic = "a/b"}, ...]: topics counted from start-up (session/
  // topic_metrics.hpp); the API registers more.
  std::vector<std::string> topic_metrics;
  RuleEngineConfig rule_engine;
  std::vector<ConnectorConfig> connectors;
  std::vector<ActionConfig> actions;
  std::vector<SourceConfig> sources;
  // dashboard.*: the HTTP API (api/api_server.hpp), EMQX's key names. A bind with port 0
  // disables the listener, as in EMQX.
  std::string dashboard_http_bind = "0.0.0.0:18083";  // dashboard.listeners.http.bind
  bool dashboard_http_enable = true;                  // dashboard.listeners.http.enable
  bool dashboard_swagger_support = true;              // dashboard.swagger_support: /api-docs
  // The API's one user (HTTP Basic). app::Node keeps only a salted hash of the password and
  // wipes this copy before the node runs.
  std::string dashboard_default_username = "admin";   // dashboard.default_username
  std::string dashboard_default_password = "public";  // dashboard.default_password
  // EMQX's lockout after failed logins (api/login_guard.hpp): max_attempts failures, each
  // within `interval` of the first, lock the user (and the source address) for
  // lock_duration. dashboard.unsuccessful_login_*.
  std::uint32_t dashboard_login_max_attempts = 5;
  Duration dashboard_login_lock_duration{10 * 60'000};
  Duration dashboard_login_interval{5 * 60'000};
  // dashboard.token_expired_time: how long a token from POST /api/v5/login lasts.
  Duration dashboard_token_life{60 * 60'000};
  // api_key.bootstrap_file: API keys, one `key:secret[:role]` a line (api/api_keys.hpp);
  // empty = none. Read by app::Node at start; a bad line stops start-up.
  std::string api_key_bootstrap_file;
  // authentication = [...]: empty lets every client in (EMQX's default).
  std::vector<AuthenticatorConfig> authentication;
  MqttSnGatewayConfig gateway_mqttsn;        // gateway.mqttsn
  StompGatewayConfig gateway_stomp;          // gateway.stomp
  CoapGatewayConfig gateway_coap;            // gateway.coap
  Lwm2mGatewayConfig gateway_lwm2m;          // gateway.lwm2m
  std::vector<NngBridgeConfig> bridges_nng;  // bridges.nng.<kind>.<name>
  ZmqGatewayConfig gateway_zmq;              // gateway.zmq
  // Ignored settings (EMQX's Erlang VM tuning, EMQX_* variables that name no config key)
  // and the like, logged by main.
  std::vector<std::string> warnings;
};

// Loads `path` (empty = embedded defaults only), then applies the EMQX_* variables from
// `env` (name -> value). Throws ConfigError naming the file, line and key (or the
// variable) of a bad value, an unknown key, or a key of an EMQX feature not implemented.
Config load(const std::string& path, const std::map<std::string, std::string>& env);

// The same for HOCON text in memory (tests, fuzzing): `name` stands for the file in
// messages; relative includes are looked up in the current directory.
Config load_string(std::string_view text, const std::map<std::string, std::string>& env,
                   const std::string& name = "<string>");

// The process environment as a map, for load().
std::map<std::string, std::string> environment();

// "30s", "5m", "1h", "500ms", "2d" -> Duration; "1MB", "64KB", "1024" -> bytes.
std::optional<Duration> parse_duration(std::string_view s);
std::optional<std::uint64_t> parse_size(std::string_view s);

// The schema, for tests and docs: the keys emqxd reads, as dotted paths where "*" stands
// for any name and "a|b" for either word (listeners.tcp|ssl|ws|wss.*.bind); and the keys
// of EMQX features it does not implement yet (a key equal to or below one stops start-up).
std::vector<std::string> known_keys();
std::vector<std::string> not_implemented_keys();

}  // namespace emqxd::config
