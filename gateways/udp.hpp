#pragma once
// UDP listeners for the gateways that speak datagrams (MQTT-SN, CoAP; docs/gateways.md).
//
// Each listener has a UDP socket per worker on the same port with SO_REUSEPORT; Linux
// hashes each datagram's addresses to one socket of the group, so a client address always
// reaches the same worker, which keeps its connection in a map by address. A connection is
// a net::Connection like an MQTT client's (a session::Channel, the keep alive, the node's
// counters); what it sends goes out at once with a non-blocking send (a full socket buffer
// drops the datagram, as the network may: QoS 1 and 2 come again from the channel).
//
// What each protocol brings: a Dispatch that takes every datagram of the socket (finding
// or opening the address's connection), and its UdpConnection subclass.
#include <boost/asio/ip/udp.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "gateways/client_info.hpp"
#include "mqtt/packets.hpp"
#include "net/connection.hpp"

namespace emqxd::net {
class Admission;
class Worker;
}  // namespace emqxd::net

namespace emqxd::gateways {

struct UdpEndpoint;

// A client address's connection: sends datagrams to it, and leaves its endpoint's map when
// it closes.
class UdpConnection : public net::Connection {
 public:
  UdpConnection(net::Worker& worker, std::shared_ptr<net::Admission> admission,
                std::shared_ptr<UdpEndpoint> ep, const boost::asio::ip::udp::endpoint& peer);

 protected:
  // What a connection keeps for its channel while the channel waits (for its session, an
  // authorization source): past it, input is dropped as the network might drop it (QoS 1/2
  // comes again from the client's retries).
  static constexpr std::size_t kMaxPendingInput = 256 * 1024;

  void send_datagram(std::string_view bytes);  // counted as the connection's and the node's
  // Hands `p` to the channel as if the client had sent it (`version` is the channel's);
  // false when it was dropped (kMaxPendingInput; counted) or the connection is ending.
  bool to_channel(const mqtt::Packet& p, mqtt::ProtocolVersion version);
  // Each packet the channel wrote since the last call, to `f` (from flush()).
  template <class F>
  void from_channel(mqtt::ProtocolVersion version, F&& f) {
    std::string out;
    out.swap(out_);
    for_each_packet(out, version, std::forward<F>(f));
  }
  // Tokens, message ids: OpenSSL's generator, not a predictable one.
  static std::uint32_t strong_random();
  UdpEndpoint& endpoint() { return *ep_; }
  void close_transport() override;  // leaves the endpoint's map; a subclass calls it too

 private:
  void start_transport() override {}
  void read_more() override {}  // datagrams come through the endpoint

  std::shared_ptr<UdpEndpoint> ep_;
  boost::asio::ip::udp::endpoint peer_ep_;
  std::string scratch_;
};

struct UdpEndpoint : std::enable_shared_from_this<UdpEndpoint> {
  // One datagram from `from`, on this endpoint's worker.
  using Dispatch =
      std::function<void(UdpEndpoint&, std::string_view, const boost::asio::ip::udp::endpoint&)>;

  UdpEndpoint(net::Worker& w, std::shared_ptr<net::Admission> a, config::Duration idle,
              std::string gateway, Dispatch d);

  // The connection of `from`, if any.
  std::shared_ptr<UdpConnection> find(const boost::asio::ip::udp::endpoint& from) const;
  // Whether the listener lets a new address in (max_connections, max_conn_rate); a refusal
  // is counted and logged (at most every 10 s per worker).
  bool admit(const boost::asio::ip::udp::endpoint& from);
  // `c` serves `from` now (started: its start() has run).
  void add(const boost::asio::ip::udp::endpoint& from, std::shared_ptr<UdpConnection> c);
  void forget(const boost::asio::ip::udp::endpoint& from) { peers.erase(from); }
  // A datagram to an address that has no connection (an answer to a stray message).
  void send_bytes(const boost::asio::ip::udp::endpoint& to, std::string_view bytes);
  // A datagram that is none of the protocol's: counted, logged at most every 10 s.
  void malformed(const boost::asio::ip::udp::endpoint& from, std::size_t size);

  void read();
  void on_readable();

  net::Worker& worker;
  boost::asio::ip::udp::socket socket;
  std::shared_ptr<net::Admission> admission;
  config::Duration idle_timeout;  // the gateway's, until a client has connected
  std::string gateway;            // "mqttsn", for log lines
  Dispatch dispatch;
  std::map<boost::asio::ip::udp::endpoint, std::shared_ptr<UdpConnection>> peers;
  std::chrono::steady_clock::time_point last_warning{};
  bool reading = false;
};

// The UDP listeners of one gateway.
class UdpListeners {
 public:
  // Binds every listener now (throws std::runtime_error naming the gateway's listener and
  // its address when one cannot bind).
  UdpListeners(const std::string& gateway, const std::vector<config::ListenerConfig>& listeners,
               const std::vector<net::Worker*>& workers, config::Duration idle_timeout,
               UdpEndpoint::Dispatch dispatch);
  ~UdpListeners();
  UdpListeners(const UdpListeners&) = delete;
  UdpListeners& operator=(const UdpListeners&) = delete;

  void start();  // begins reading on every worker
  void stop();   // any thread: closes the sockets (the connections carry on until they end)

  struct Info {
    std::string type, name;  // "udp", "default"
    std::string bind;        // "0.0.0.0:1884"
    std::uint16_t port = 0;
    std::uint32_t connections = 0;
    std::uint32_t max_connections = 0;
    bool running = false;
  };
  std::vector<Info> info() const;

 private:
  struct Listener;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

}  // namespace emqxd::gateways
