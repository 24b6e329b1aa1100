#pragma once
// Adapter: one STOMP client's protocol over an MQTT channel (docs/gateways.md, "STOMP").
// Sans-I/O, as gateways/mqttsn/adapter.hpp: frames from the client go in and come out as
// MQTT 5 packets for the broker's session::Channel; the channel's packets come out as
// frames. The channel speaks MQTT 5 so that its answers carry reason codes: a SEND or
// SUBSCRIBE that authorization refuses becomes an ERROR frame.
//
//  - CONNECT / STOMP: version negotiated (1.0, 1.1, 1.2), login / passcode as username and
//    password, client-id (else the channel assigns one), heart-beats: the client's cx is
//    its keep alive, what it asks of us (cy) the heart-beats we send.
//  - SEND: a QoS 1 PUBLISH, so that the channel's PUBACK says whether it was taken; the
//    RECEIPT (when asked) follows it, an ERROR and the end of the connection follows a
//    refusal, as EMQX does.
//  - SUBSCRIBE with ack auto (QoS 0), client or client-individual (QoS 1: each MESSAGE has
//    an ack id; ACK or NACK settles it, "client" every earlier one of that subscription
//    too; both end the message as MQTT's PUBACK does, NACK as EMQX has it). Each
//    subscription has an MQTT 5 subscription identifier, so a MESSAGE names its
//    subscription.
//  - BEGIN / COMMIT / ABORT: SEND, ACK and NACK with a transaction wait for COMMIT
//    (at most kMaxTransactions open, kMaxTransactionBytes held in all).
//  - receipts, ERROR frames (with receipt-id and message), DISCONNECT.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateways/client_info.hpp"
#include "gateways/stomp/frame.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::gateways::stomp {

struct Settings {
  Limits limits;
  std::string mountpoint;              // may hold ${clientid}
  ClientInfoOverride client_override;  // clientinfo_override
  std::string server = "emqxd";        // CONNECTED's server header
};

class AdapterHost {
 public:
  virtual ~AdapterHost() = default;
  virtual void to_broker(const mqtt::Packet& p) = 0;
  virtual void to_client(const Frame& f) = 0;
  // After the output written so far: close (an ERROR frame was the last word).
  virtual void end_after_output() = 0;
  // Connected: send a heart-beat when nothing was sent for `send_ms` (0: none).
  virtual void send_heartbeats(std::uint32_t send_ms) = 0;
};

class Adapter {
 public:
  static constexpr std::size_t kMaxSubscriptions = 1024;
  static constexpr std::size_t kMaxTransactions = 32;
  static constexpr std::size_t kMaxTransactionBytes = 1 << 20;
  static constexpr std::size_t kMaxUnacked = 65535;
  // Frames sent before CONNECTED came, kept for after it: at most this many and octets.
  static constexpr std::size_t kMaxEarlyFrames = 32, kMaxEarlyBytes = 64 * 1024;
  // Heart-beats the server sends: at least every hour, at most every second.
  static constexpr std::uint32_t kMinHeartbeatMs = 1000, kMaxHeartbeatMs = 3'600'000;

  enum class State : std::uint8_t { Idle, Connecting, Connected, Closed };

  Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host);

  void from_client(Frame&& f);
  void from_broker(mqtt::Packet&& p);
  State state() const { return state_; }
  const std::string& version() const { return version_; }

 private:
  void handle_connect(const Frame& f);
  void handle_send(Frame& f);
  void handle_subscribe(const Frame& f);
  void handle_unsubscribe(const Frame& f);
  void handle_ack(const Frame& f, bool nack);
  // ERROR with `message` (and receipt-id of `cause`), then the connection ends.
  void fatal(const std::string& message, const Frame* cause = nullptr);

  void receipt(const Frame& cause);  // RECEIPT, when `cause` asked for one
  std::uint16_t next_packet_id();
  std::string mount(std::string_view topic) const;
  std::string_view unmount(std::string_view topic) const;

  std::shared_ptr<const Settings> settings_;
  AdapterHost& host_;
  State state_ = State::Idle;
  std::string version_ = "1.0";
  std::string mountpoint_;
  std::uint32_t send_heartbeat_ms_ = 0;    // what the client asked of us (cy)
  std::uint32_t expect_heartbeat_ms_ = 0;  // what it promised (cx): its keep alive

  struct Subscription {
    std::string id;
    std::string filter;        // mounted
    std::string ack;           // auto | client | client-individual
    std::uint32_t sub_id = 0;  // MQTT 5 subscription identifier
    // Messages delivered and not yet acknowledged (client modes): ack id, packet id.
    std::deque<std::pair<std::string, std::uint16_t>> unacked;
  };
  std::vector<Subscription> subs_;
  std::vector<Frame> early_;  // frames that came while the channel was connecting
  std::size_t early_bytes_ = 0;
  std::uint32_t next_sub_id_ = 1;

  // What an MQTT packet id of ours waits for: a SUBSCRIBE's SUBACK, an UNSUBSCRIBE's
  // UNSUBACK, a SEND's PUBACK; with the frame's receipt.
  struct Pending {
    enum class Kind : std::uint8_t { Subscribe, Unsubscribe, Send } kind;
    std::optional<std::string> receipt;
    Subscription sub;  // Subscribe
    std::string destination;
  };
  std::unordered_map<std::uint16_t, Pending> pending_;
  std::uint16_t next_packet_id_ = 1;
  std::uint64_t next_message_id_ = 1;

  struct Transaction {
    std::vector<Frame> frames;
    std::size_t bytes = 0;
  };
  std::map<std::string, Transaction> transactions_;
  std::size_t transaction_bytes_ = 0;
};

}  // namespace emqxd::gateways::stomp
