#pragma once
// Connection: one client socket on one worker. Bytes in and out, buffers and the keep
// alive timer; every MQTT rule is the Channel's. Knows nothing of topics or sessions.
//
// Memory: an idle connection holds no buffer. It waits for readability, then reads into
// the worker's shared 64 KiB buffer and parses every whole packet there; only a partial
// packet is copied into its own buffer. Output is appended during the turn and written
// once at its end (Worker::end_of_turn), first with a non-blocking send, so a write costs
// one system call and no handler unless the socket buffer is full.
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "session/channel.hpp"

namespace emqxd::net {

class Worker;

class Connection final : public session::ChannelHost,
                         public std::enable_shared_from_this<Connection> {
 public:
  // `count` is the listener's connection counter, decremented when this closes.
  Connection(Worker& worker, boost::asio::ip::tcp::socket socket,
             std::shared_ptr<std::atomic<std::uint32_t>> count);
  ~Connection() override;

  void start();
  void flush();  // write pending output; worker's end of turn
  session::Channel& channel() { return channel_; }

  // session::ChannelHost
  std::string& output() override;
  void close() override;
  void resume_input() override;
  void set_keepalive(std::chrono::milliseconds timeout) override;
  const std::string& peer() const override { return peer_; }
  std::size_t backlog() const override { return out_.size(); }

 private:
  void wait_readable();
  void on_readable();
  void consume(std::string_view data);
  void wait_writable();
  void arm_keepalive(std::chrono::milliseconds after);
  void on_keepalive_timer();
  void shutdown_now();

  Worker& worker_;
  boost::asio::ip::tcp::socket socket_;
  boost::asio::steady_timer timer_;
  session::Channel channel_;
  std::shared_ptr<std::atomic<std::uint32_t>> count_;
  std::string peer_;
  std::string in_;   // a partial packet carried over to the next read
  std::string out_;  // packets of this turn, not yet written
  std::chrono::milliseconds keepalive_{0};
  std::chrono::steady_clock::time_point last_read_{};
  bool dirty_ = false;         // in the worker's flush list
  bool waiting_write_ = false;
  bool closing_ = false;       // close after out_ is written
  bool closed_ = false;
  bool paused_ = false;        // channel not accepting input; bytes wait in in_
  bool reading_ = false;
};

}  // namespace emqxd::net
