#include "cli.hpp"

#include <arpa/inet.h>
#include <netdb.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>

#include "payload.hpp"
#include "topic_template.hpp"

namespace emqxd::bench {
namespace {

void add_connection_options(CLI::App* s, Options& o) {
  s->add_option("-h,--host", o.host, "MQTT server host name or IP address")->capture_default_str();
  s->add_option("-p,--port", o.port, "MQTT server port")->capture_default_str();
  s->add_option("-V,--version", o.version, "MQTT protocol version: 3 (3.1), 4 (3.1.1), 5")
      ->check(CLI::IsMember({3, 4, 5}))
      ->capture_default_str();
  s->add_option("-c,--count", o.count, "Number of clients")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  s->add_option("-n,--startnumber", o.start_number, "Sequence number (%i) of the first client")
      ->capture_default_str();
  s->add_option("-i,--interval", o.interval_ms,
                "Milliseconds between connection starts, over all threads (0: at once)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  s->add_option("-R,--connrate", o.conn_rate, "Connections per second; overrides -i")
      ->check(CLI::NonNegativeNumber);
  s->add_option("-u,--username", o.username, "User name");
  s->add_option("-P,--password", o.password, "Password");
  s->add_option("-k,--keepalive", o.keepalive, "Keep alive in seconds (0: none)")
      ->capture_default_str();
  s->add_option("-C,--clean", o.clean, "Clean start / clean session (true|false)")
      ->capture_default_str();
  s->add_option("-x,--session-expiry", o.session_expiry, "Session Expiry Interval (v5), seconds")
      ->capture_default_str();
  s->add_option("--ifaddr", o.ifaddrs,
                "Source IP addresses, comma separated; clients take them in turn, each "
                "address brings its own ephemeral ports")
      ->delimiter(',');
  s->add_option("--prefix", o.prefix, "Client id prefix (default: host name)");
  s->add_option("--threads", o.threads, "Worker threads (default: one per core)");
  s->add_option("--duration", o.duration_s,
                "Stop after this many seconds (of publishing, with publishers)")
      ->check(CLI::NonNegativeNumber);
  s->add_option("--connect-timeout", o.connect_timeout_s,
                "Seconds to wait for CONNACK (and SUBACK) before a client counts as failed")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  s->add_flag("--json", o.json, "Print the summary as one line of JSON on stdout");
  s->add_flag("--quiet", o.quiet, "No progress lines on stderr");
}

void add_publish_options(CLI::App* s, Options& o) {
  s->add_option("-t,--topic", o.topic, "Topic to publish to; %i, %c, %u are replaced")->required();
  s->add_option("-I,--interval_of_msg", o.msg_interval_ms,
                "Milliseconds between messages of one publisher (0: as fast as the inflight "
                "window and the socket allow)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  s->add_option("-s,--size", o.size, "Payload size in bytes (at least 20: the bench header)")
      ->check(CLI::Range(0u, 256u * 1024 * 1024))
      ->capture_default_str();
  s->add_flag("--json-payload", o.json_payload,
              "Payloads as a JSON object {\"h\": header, \"v\": sequence mod 100, \"p\": "
              "padding} (for rules that read payload.v)");
  s->add_option("-q,--qos", o.qos, "QoS of the PUBLISH")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  s->add_flag("-r,--retain", o.retain, "Publish retained messages");
  s->add_option("-L,--limit", o.limit, "Messages to publish in all, then stop (0: no limit)")
      ->capture_default_str();
  s->add_option("--inflight", o.inflight,
                "QoS 1/2 messages in flight per publisher (0: the server's Receive Maximum "
                "with v5, else 100)")
      ->check(CLI::Range(0u, 65535u))
      ->capture_default_str();
  s->add_option("--drain-timeout", o.drain_timeout_s,
                "Seconds to wait at the end for acks and deliveries")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
}

bool resolve(const std::string& host, std::uint16_t port_number, Endpoint& out) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const std::string port = std::to_string(port_number);
  if (getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0 || res == nullptr) {
    return false;
  }
  std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
  out.len = static_cast<socklen_t>(res->ai_addrlen);
  freeaddrinfo(res);
  return true;
}

bool parse_source(const std::string& text, int family, Endpoint& out) {
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
    sin->sin_family = AF_INET;
    out.len = sizeof(sockaddr_in);
    return inet_pton(AF_INET, text.c_str(), &sin->sin_addr) == 1;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  sin6->sin6_family = AF_INET6;
  out.len = sizeof(sockaddr_in6);
  return inet_pton(AF_INET6, text.c_str(), &sin6->sin6_addr) == 1;
}

int usage_error(const char* fmt, const std::string& arg) {
  std::fprintf(stderr, "emqxd-bench: ");
  std::fprintf(stderr, fmt, arg.c_str());
  std::fprintf(stderr, "\n");
  return 2;
}

}  // namespace

std::optional<int> parse_command_line(int argc, char** argv, Options& o) {
  CLI::App app{
      "emqxd-bench: an MQTT load generator with emqtt-bench's command line.\n"
      "Payloads carry a sequence number and a send time: subscribers report end-to-end\n"
      "latency and lost, duplicated and out-of-order messages per publisher."};
  // -h is the host, as in emqtt-bench; help is --help only (subcommands inherit this).
  app.set_help_flag("--help", "Print this help and exit");
  app.require_subcommand(1);

  auto* conn = app.add_subcommand("conn", "Open COUNT connections at a rate and hold them");
  add_connection_options(conn, o);

  auto* pub = app.add_subcommand("pub", "COUNT publishers");
  add_connection_options(pub, o);
  add_publish_options(pub, o);

  auto* sub = app.add_subcommand("sub", "COUNT subscribers; reports latency and losses");
  add_connection_options(sub, o);
  sub->add_option("-t,--topic", o.sub_topics,
                  "Topic filter (repeat for several); %i, %c, %u are replaced")
      ->required();
  sub->add_option("-q,--qos", o.qos, "Subscription QoS")
      ->check(CLI::Range(0, 2))
      ->capture_default_str();
  sub->add_option("-L,--limit", o.limit, "Stop after receiving this many messages (0: no limit)");
  sub->add_option("--idle-timeout", o.idle_timeout_s,
                  "Stop once no message came for this many seconds (after the first)")
      ->check(CLI::NonNegativeNumber);
  sub->add_flag("--expect-no-loss", o.expect_no_loss,
                "Exit non-zero if a QoS 1/2 message was lost or duplicated");

  auto* pubsub =
      app.add_subcommand("pubsub", "COUNT publishers and --sub-count subscribers in one process");
  add_connection_options(pubsub, o);
  add_publish_options(pubsub, o);
  pubsub->add_option("--sub-count", o.sub_count, "Number of subscribers")
      ->check(CLI::Range(1u, 10'000'000u))
      ->capture_default_str();
  auto* sub_topic = pubsub->add_option(
      "--sub-topic", o.sub_topics,
      "Subscribers' topic filter (repeatable; default: -t with each level holding a % "
      "variable replaced by +)");
  auto* sub_qos = pubsub->add_option("--sub-qos", o.sub_qos, "Subscription QoS (default: -q)")
                      ->check(CLI::Range(0, 2));
  pubsub->add_flag("--expect-no-loss", o.expect_no_loss,
                   "Exit non-zero if a QoS 1/2 message was lost or duplicated");
  pubsub->add_option("--sub-host", o.sub_host,
                     "Subscribers' server (default: -h): another node of a cluster");
  pubsub->add_option("--sub-port", o.sub_port, "Subscribers' server port (default: -p)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }

  if (conn->parsed()) o.mode = Mode::Conn;
  if (pub->parsed()) o.mode = Mode::Pub;
  if (sub->parsed()) o.mode = Mode::Sub;
  if (pubsub->parsed()) {
    o.mode = Mode::PubSub;
    if (sub_topic->count() == 0) o.sub_topics = {filter_for_template(o.topic)};
    if (sub_qos->count() == 0) o.sub_qos = o.qos;
  }
  o.has_username = !o.username.empty();
  o.has_password = !o.password.empty();
  if (o.mode == Mode::Pub || o.mode == Mode::PubSub) {
    const std::size_t least = o.json_payload ? kJsonPayloadMinSize : kPayloadHeaderSize;
    if (o.size < least) {
      std::fprintf(stderr, "emqxd-bench: -s %u is below the %zu-byte bench header; using %zu\n",
                   o.size, least, least);
      o.size = static_cast<std::uint32_t>(least);
    }
  }
  if (std::uint64_t{o.start_number} + o.count > kMaxStreamId) {
    return usage_error("%s", "-n plus -c must stay below 2^31 (stream ids)");
  }
  if (!resolve(o.host, o.port, o.server)) return usage_error("cannot resolve host '%s'", o.host);
  o.sub_server = o.server;
  if (!o.sub_host.empty() || o.sub_port != 0) {
    const std::string& h = o.sub_host.empty() ? o.host : o.sub_host;
    if (!resolve(h, o.sub_port != 0 ? o.sub_port : o.port, o.sub_server)) {
      return usage_error("cannot resolve host '%s'", h);
    }
  }
  for (const auto& a : o.ifaddrs) {
    Endpoint e;
    if (!parse_source(a, o.server.addr.ss_family, e)) {
      return usage_error("--ifaddr '%s' is not an address of the server's family", a);
    }
    o.sources.push_back(e);
  }
  return std::nullopt;
}

}  // namespace emqxd::bench
