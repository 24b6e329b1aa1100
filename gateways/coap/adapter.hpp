#pragma once
// Adapter: one CoAP client address's requests over an MQTT channel (docs/gateways.md,
// "CoAP"), EMQX's CoAP gateway interface (the publish-subscribe broker draft's paths).
// Sans-I/O, as the MQTT-SN and STOMP adapters: CoAP messages in, MQTT 5 packets for the
// channel and CoAP messages for the client out.
//
// Resources:
//   POST|PUT ps/{topic}[?qos=&retain=]       publish the payload: 2.04 Changed (4.03 when
//                                            authorization refuses a QoS 1/2 publish)
//   GET ps/{filter} with Observe: 0          subscribe: 2.05 Content with Observe, then a
//                                            notification per message (same token, Observe
//                                            counting up)
//   GET ps/{filter} with Observe: 1          unsubscribe: 2.05
//   POST mqtt/connection?clientid&username&password   connection mode: connect; 2.01 with
//                                            the token in the payload (4.01 when refused)
//   PUT mqtt/connection?clientid&token       connection mode: heartbeat, 2.04
//   DELETE mqtt/connection?clientid&token    connection mode: disconnect, 2.02
// In connection mode every ps/ request carries clientid and token (else 4.01); without it
// (connection_required = false, EMQX's default) the first request connects the address
// with its query's clientid, username and password.
//
// Messaging (RFC 7252 4): a CON request is answered in an ACK (piggybacked), a NON in a
// NON; a repeated request (same message id) gets the same answer again; a ping (Empty CON)
// gets RST. Notifications are NON for QoS 0 messages and CON otherwise (notify_type qos),
// or all NON / all CON; a CON notification is settled by the client's ACK (then the
// channel's PUBACK), sent again with doubling timeouts (retransmit()), and an RST or
// kMaxRetransmit unanswered sends end the observation (RFC 7641 3.6).
//
// Block-wise (RFC 7959): a POST or PUT in Block1 blocks is put back together (in order, at
// most max_payload octets; 2.31 Continue for each but the last); a notification or
// response larger than one block goes as its first Block2 block, and the client GETs the
// others (the representation is kept for it until the next one of that observation).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateways/client_info.hpp"
#include "gateways/coap/message.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::gateways::coap {

struct Settings {
  std::string mountpoint;              // may hold ${clientid}
  ClientInfoOverride client_override;  // clientinfo_override
  bool connection_required = false;
  std::uint32_t heartbeat_s = 30;
  enum class Notify : std::uint8_t { Qos, Non, Con } notify = Notify::Qos;
  // publish_qos / subscribe_qos: -1 "coap" (CON is QoS 1, NON QoS 0), else 0, 1 or 2 (2 is
  // taken as 1: the gateway's exchanges have no place for QoS 2's second round trip).
  int publish_qos = -1, subscribe_qos = -1;
  std::size_t max_payload = 1 << 20;  // what Block1 may put together
  std::uint8_t block_szx = 6;         // 1024-octet Block2 blocks
};

class AdapterHost {
 public:
  virtual ~AdapterHost() = default;
  virtual void to_broker(const mqtt::Packet& p) = 0;
  virtual void to_client(const Message& m) = 0;
  // The connection's keep alive: `timeout` of silence ends it (0: none).
  virtual void keep_alive(std::chrono::milliseconds timeout) = 0;
  // A CON notification waits for its ACK: call retransmit() after `after`.
  virtual void retransmit_after(std::chrono::milliseconds after) = 0;
  virtual std::uint32_t random() = 0;  // tokens, message ids, timeouts
};

class Adapter {
 public:
  static constexpr std::size_t kMaxObservations = 256;
  static constexpr std::size_t kMaxPendingRequests = 32;
  static constexpr std::size_t kRecentAnswers = 32;
  static constexpr std::size_t kMaxUploads = 8;
  // CON notifications waiting for their ACK at once; past it the others go NON.
  static constexpr std::size_t kMaxUnacked = 16;
  // Requests waiting for the channel's answer (PUBACK, SUBACK, UNSUBACK).
  static constexpr std::size_t kMaxPending = 256;
  // An observation's keep alive: its client shows itself by acknowledging a CON
  // notification at least this often (RFC 7641 4.5: "at least every 24 hours"); sooner,
  // one notification per `heartbeat` is sent CON whatever its QoS.
  static constexpr auto kObserveLife = std::chrono::hours(24);
  static constexpr int kMaxRetransmit = 4;
  static constexpr auto kAckTimeout = std::chrono::seconds(2);

  enum class State : std::uint8_t { Idle, Connecting, Connected, Closed };

  Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host);

  void from_client(Message&& m);
  void from_broker(mqtt::Packet&& p);
  // The CON notifications whose time has come are sent again, or given up.
  void retransmit(std::chrono::steady_clock::time_point now);
  State state() const { return state_; }
  std::size_t observations() const { return observes_.size(); }

 private:
  void handle_request(Message& m);
  void handle_connection_resource(Message& m);
  void handle_ps(Message& m, const std::string& topic);
  bool authorized_request(const Message& m);  // connection mode: clientid and token match
  void connect(const Message& m);
  void answer(const Message& req, std::uint8_t code, std::string payload = {},
              std::vector<std::pair<std::uint16_t, std::string>> options = {});
  void notify(const mqtt::Publish& p);
  void end_observation(const std::string& token, bool unsubscribe);
  std::uint16_t next_packet_id();
  std::uint16_t next_message_id();
  void update_keep_alive();
  mqtt::QoS qos_for(const Message& m, int configured) const;
  std::string mount(std::string_view topic) const;

  std::shared_ptr<const Settings> settings_;
  AdapterHost& host_;
  State state_ = State::Idle;
  std::string client_id_, token_, mountpoint_;
  // Vectors, not deques: libstdc++'s std::deque allocates on construction, which every
  // idle client would pay.
  std::vector<Message> waiting_;            // requests that came before the channel was connected
  std::optional<Message> connect_request_;  // connection mode: the POST that connects

  // Answers to recent requests by message id, for duplicates (RFC 7252 4.5).
  std::vector<std::pair<std::uint16_t, Message>> recent_;

  // What an MQTT packet id of ours waits for, and the request to answer then.
  struct Pending {
    enum class Kind : std::uint8_t { Publish, Subscribe, Unsubscribe } kind;
    Message request;    // without its payload
    std::string token;  // Subscribe: the observation's token
    std::string filter;
    std::uint32_t sub_id = 0;
  };
  std::unordered_map<std::uint16_t, Pending> pending_;
  std::uint16_t next_packet_id_ = 0;
  std::uint16_t next_message_id_ = 0;

  struct Observation {
    std::string token;
    std::string filter;    // mounted
    std::string uri_path;  // as the client asked (for Block2 follow-ups)
    std::uint32_t sub_id = 0;
    std::uint32_t seq = 1;
    std::string representation;  // the last notification's payload (Block2 follow-ups)
  };
  std::map<std::string, Observation> observes_;  // by token
  std::uint32_t next_sub_id_ = 1;
  std::chrono::steady_clock::time_point last_con_{};  // the last CON notification

  // CON notifications waiting for their ACK.
  struct Unacked {
    Message m;
    std::uint16_t packet_id = 0;  // the channel's PUBLISH, 0 for QoS 0
    int sends = 1;
    std::chrono::milliseconds timeout;
    std::chrono::steady_clock::time_point due;
  };
  std::map<std::uint16_t, Unacked> unacked_;  // by message id
  // Recent NON notifications (message id, token): an RST to one ends its observation.
  std::vector<std::pair<std::uint16_t, std::string>> sent_non_;

  // Block1 transfers in progress, by resource and Request-Tag.
  struct Upload {
    std::uint32_t next = 0;
    std::string body;
  };
  std::map<std::string, Upload> uploads_;
};

}  // namespace emqxd::gateways::coap
