#pragma once
// Options: everything the command line sets, already checked (cli.cpp). Names and defaults
// follow emqtt-bench where it has the option.
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

namespace emqxd::bench {

enum class Mode { Conn, Pub, Sub, PubSub };

const char* to_string(Mode m);

struct Endpoint {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

struct Options {
  Mode mode = Mode::Pub;

  // Connection (all modes).
  std::string host = "localhost";
  std::uint16_t port = 1883;
  int version = 5;                 // 3 = MQTT 3.1, 4 = 3.1.1, 5 = 5.0
  std::uint32_t count = 200;       // clients (publishers in pubsub)
  std::uint32_t start_number = 0;  // -n: first %i
  double interval_ms = 10;         // -i: between connection starts, all threads together
  double conn_rate = 0;            // -R: connections per second; overrides -i when > 0
  std::string username;
  std::string password;
  bool has_username = false;
  bool has_password = false;
  std::uint16_t keepalive = 300;
  bool clean = true;
  std::uint32_t session_expiry = 0;  // v5
  std::vector<std::string> ifaddrs;  // --ifaddr: source addresses, round-robin
  std::string prefix;                // client id prefix; default: host name
  std::uint32_t threads = 0;         // 0: one per core, at most one per client
  double duration_s = 0;             // 0: until -L, or Ctrl-C
  double connect_timeout_s = 30;
  bool json = false;
  bool quiet = false;  // no progress lines

  // Publishing (pub, pubsub).
  std::string topic;              // template
  double msg_interval_ms = 1000;  // -I; 0 = as fast as flow control allows
  std::uint32_t size = 256;
  bool json_payload = false;  // --json-payload: payload.hpp's JSON form
  int qos = 0;
  bool retain = false;
  std::uint64_t limit = 0;     // -L: total messages (pub: published; sub: received); 0 = none
  std::uint32_t inflight = 0;  // 0: v5 Receive Maximum, else 100

  // Subscribing (sub, pubsub).
  std::vector<std::string> sub_topics;  // templates
  int sub_qos = 0;
  std::uint32_t sub_count = 1;  // pubsub
  // pubsub: the subscribers' server when it is another one (another node of a cluster).
  std::string sub_host;
  std::uint16_t sub_port = 0;
  bool expect_no_loss = false;
  double idle_timeout_s = 0;    // sub: stop after this long without a message (once one came)
  double drain_timeout_s = 10;  // pub/pubsub: how long to wait for acks and deliveries at the end

  // Resolved at start-up.
  Endpoint server;
  Endpoint sub_server;  // = server unless --sub-host/--sub-port
  std::vector<Endpoint> sources;
};

}  // namespace emqxd::bench
