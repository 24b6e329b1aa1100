#pragma once
// Connection: one client network connection on one worker. Bytes in and out, buffers and
// the keep alive timer; every MQTT rule is the Channel's. Knows nothing of topics or
// sessions. Two transports share this base:
//
//  - TcpConnection (plain MQTT/TCP, the hot path). An idle connection holds no buffer: it
//    waits for readability, reads into the worker's shared 64 KiB buffer and parses every
//    whole packet there; only a partial packet is copied into its own buffer. Output is
//    appended during the turn and written once at its end (Worker::end_of_turn) with a
//    non-blocking send, so a write costs one system call and no handler unless the socket
//    buffer is full.
//  - StreamConnection<S> (TLS, WebSocket, WebSocket over TLS; stream_connection.cpp):
//    the same parsing and batching over asynchronous reads and writes of an Asio/Beast
//    stream, after its handshake.
//
// Limits per client (messages_rate, bytes_rate: EMQX's listener keys) are token buckets
// of the connection's own, kept only when one is set (limits_). A PUBLISH waits for a
// token before it is handled; bytes are taken as they are read (a plain TCP read asks
// for no more than there are tokens). When a bucket is empty reading pauses
// (rate_paused_): the rest stays in in_ or in the socket, TCP flow control slows the
// client, nothing is dropped, and one timer on the worker resumes it once enough tokens
// are back. With both at infinity the cost is one branch per read and per packet.
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "session/channel.hpp"

namespace emqxd::net {

class Admission;
class Worker;

class Connection : public session::ChannelHost, public std::enable_shared_from_this<Connection> {
 public:
  // `admission` let this connection in (net/admission.hpp); it is told when this is
  // destroyed.
  Connection(Worker& worker, std::shared_ptr<Admission> admission,
             const boost::asio::ip::tcp::socket& socket);
  // A connection that is no TCP socket (a gateway's datagram peer): `peer` is "ip:port".
  Connection(Worker& worker, std::shared_ptr<Admission> admission, std::string peer,
             std::uint16_t local_port);
  ~Connection() override;

  void start();
  // Writes pending output; the worker calls it at the end of a turn that produced some.
  virtual void flush() = 0;
  session::Channel& channel() { return channel_; }

  // session::ChannelHost
  std::string& output() override;
  void close() override;
  void resume_input() override;
  void set_keepalive(std::chrono::milliseconds timeout) override;
  void abort() override;
  const std::string& peer() const override { return peer_; }
  std::size_t backlog() const override { return out_.size(); }
  std::uint16_t local_port() const override { return local_port_; }
  config::AuthnMode authn_mode() const override;
  std::string_view listener() const override;

 protected:
  virtual void start_transport() = 0;  // handshake if any, then read_more()
  virtual void read_more() = 0;        // keep one read pending unless paused or closing
  virtual void close_transport() = 0;  // close the socket now
  // The server ends the connection with its output written (a DISCONNECT with a reason,
  // say): the client must be able to read it. Closing a socket with unread input makes the
  // kernel send RST, and a client still writing gets EPIPE and never sees the reason. So
  // the transport may half-close and discard what still comes for a bounded time; by
  // default it just closes.
  virtual void close_after_output() { close_transport(); }

  // The transport read `data`: parse and handle every whole packet, keep the rest.
  void on_bytes(std::string_view data);
  // Input kept for later: a partial packet, or packets that wait while the channel does
  // not accept input. A transport that cannot stop its peer (datagrams) bounds it.
  std::size_t pending_input() const { return in_.size(); }
  // The connection is over (peer gone, I/O error, or our close completed: `ours`, the
  // transport then closes with close_after_output()).
  void shutdown_now(bool ours = false);
  // Reading stops while the client leaves our answers unread (kMaxBacklog), so a client
  // that pipelines requests without reading cannot grow out_ without bound.
  bool reading_allowed() const {
    return !closed_ && !closing_ && !paused_ && !rate_paused_ &&
           out_.size() <= session::kMaxBacklog;
  }
  // How much the next read may take: `chunk`, or less under bytes_rate.
  std::size_t read_budget(std::size_t chunk) {
    if (!limits_) [[likely]]
      return chunk;
    return limited_read_budget(chunk);
  }

  Worker& worker_;
  std::string out_;  // packets of this turn, not yet written
  bool dirty_ = false;
  bool closing_ = false;  // close after out_ is written
  bool closed_ = false;

 private:
  void consume(std::string_view data);
  void watch_partial(std::size_t declared);
  void arm_keepalive(std::chrono::milliseconds after);
  void on_keepalive_timer();
  struct RateLimits;  // connection.cpp
  std::size_t limited_read_budget(std::size_t chunk);
  void charge_bytes(std::size_t n);
  bool take_message();
  void pause_for_rate();
  void on_rate_timer();
  bool rate_held() const;

  boost::asio::steady_timer timer_;  // keep alive
  session::Channel channel_;
  std::shared_ptr<Admission> admission_;
  std::string peer_;
  std::uint16_t local_port_ = 0;
  std::string in_;  // a partial packet carried over to the next read
  std::chrono::milliseconds keepalive_{0};
  std::chrono::steady_clock::time_point last_read_{};
  // A large partial packet must be whole by then (kSlowPacketBytes in connection.cpp);
  // the epoch when there is none. The keep alive timer watches it.
  std::chrono::steady_clock::time_point partial_deadline_{};
  std::unique_ptr<RateLimits> limits_;  // null unless messages_rate or bytes_rate is set
  bool paused_ = false;                 // channel not accepting input; bytes wait in in_
  bool rate_paused_ = false;            // a bucket is empty; its timer resumes reading
  bool aborting_ = false;               // abort(): closed when the timer fires, written out or not
};

class TcpConnection : public Connection {
 public:
  TcpConnection(Worker& worker, boost::asio::ip::tcp::socket socket,
                std::shared_ptr<Admission> admission);
  void flush() override;

 protected:
  // What was read from the socket. MQTT by default; a gateway over TCP (STOMP) parses its
  // own protocol here and gives the channel MQTT packets through on_bytes.
  virtual void on_input(std::string_view data) { on_bytes(data); }
  void close_transport() override;  // a subclass with timers of its own calls it too

 private:
  void start_transport() override { read_more(); }
  void read_more() override;
  void close_after_output() override;
  void on_readable();
  void drain(std::size_t budget);
  void wait_writable();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer linger_;
  bool reading_ = false;
  bool waiting_write_ = false;
};

}  // namespace emqxd::net
