#pragma once
// NanoMQ's NNG bridges (bridges.nng.<pub|sub|rep>.<name>; docs/gateways.md, "NNG"):
// messages between NNG's scalability protocols (libnng) and MQTT topics.
//
//   pub: a pub0 socket listens on pub_url; every MQTT message matching a forward's
//        local_topic goes out as remote_topic (the message's topic when empty), the
//        delimiter, and the payload.
//   sub: a sub0 socket listens on sub_url (NNG publishers dial it) and subscribes to each
//        subscription's remote_topic; a message "remote_topic/payload" (delimiter "/") is
//        published to local_topic (remote_topic when empty) with the payload; with another
//        delimiter, what runs from remote_topic to the delimiter is the topic (NanoMQ's).
//   rep: a rep0 socket listens on rep_url (NNG requesters dial it); each request is
//        published to request_topic with an MQTT 5 Response Topic (response_topic) and
//        Correlation Data, and the first message on response_topic with that correlation
//        data is the reply; none within `timeout`: an empty reply.
//
// Each bridge is an MQTT client inside the node (gateways/bridge_client.hpp) on one worker,
// and a thread of its own that owns the NNG socket: it receives (20 ms timeouts, to see
// stop()), hands what arrives to the worker and sends what the worker queued, within
// BridgeCore's bounds (gateways/bridge_client.hpp; NNG's own queue drops past them, as NNG
// pub/sub does for a slow subscriber). A rep bridge answers one request at a time, as
// NNG's rep0 socket does.
#include <cstdint>
#include <memory>

#include "config/config.hpp"

namespace emqxd::net {
class Worker;
}

namespace emqxd::gateways::nng {

class Bridge {
 public:
  // Opens the socket and listens (throws std::runtime_error naming the key when NNG
  // refuses the address: malformed, or in use).
  Bridge(const config::NngBridgeConfig& cfg, net::Worker& worker);
  ~Bridge();
  Bridge(const Bridge&) = delete;
  Bridge& operator=(const Bridge&) = delete;

  void start();  // the thread, and the bridge's MQTT client
  void stop();   // any thread, before the workers stop

  struct Stats {
    std::uint64_t received = 0, forwarded = 0, sent = 0, dropped = 0;
    bool running = false;
  };
  Stats stats() const;
  const config::NngBridgeConfig& config() const;

  struct Impl;  // bridge.cpp

 private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace emqxd::gateways::nng
