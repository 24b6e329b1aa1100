#pragma once
// Adapter: one MQTT-SN client's protocol over an MQTT channel (docs/gateways.md,
// "MQTT-SN"). Sans-I/O: MQTT-SN messages from the client go in (from_client) and come out
// as MQTT 3.1.1 packets for the broker's session::Channel and replies for the client; what
// the channel writes back (from_broker) comes out as MQTT-SN messages. Everything MQTT
// (sessions, authentication, authorization, wills, takeover, the cluster, QoS 1/2 state
// and its retries) stays the channel's; what is MQTT-SN's is here:
//
//  - topic ids (6.5-6.10): a registry per client of the ids it REGISTERed, the ids given
//    in SUBACK for topic names without wildcards, and those the gateway REGISTERs before it
//    sends a PUBLISH of a new topic; pre-defined ids (gateway.mqttsn.predefined) and
//    two-character short names need none. The registry is bounded (kMaxRegistered ids,
//    kMaxRegisteredBytes of names): past it the oldest id the gateway gave is reused, and a
//    client's REGISTER is answered with "rejected: congestion".
//  - the will dialogue (6.3): a CONNECT with the Will flag is held while WILLTOPICREQ /
//    WILLTOPIC / WILLMSGREQ / WILLMSG run, then goes to the channel with its will;
//    WILLTOPICUPD and WILLMSGUPD change it later.
//  - the gateway's REGISTER before a PUBLISH of a topic the client has no id for: the
//    PUBLISH, and everything after it, waits for the REGACK (6.10).
//  - sleeping clients (6.14): DISCONNECT with a Duration puts the client to sleep; what the
//    broker has for it waits in its session (Channel::sleep) and what was already on its
//    way waits here (at most kMaxHeld messages); a PINGREQ with its client id wakes it for
//    the messages that wait, then PINGRESP, and it sleeps again.
//  - the mountpoint (EMQX's gateway.mqttsn.mountpoint): prefixed to every topic the client
//    names and taken off every topic it is sent.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "gateways/client_info.hpp"
#include "gateways/mqttsn/frame.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::gateways::mqttsn {

// The gateway's settings every client shares (gateway.mqttsn.*).
struct Settings {
  std::uint8_t gateway_id = 1;
  bool enable_qos3 = true;
  std::string mountpoint;              // may hold ${clientid}
  ClientInfoOverride client_override;  // clientinfo_override
  // The keep alive of a client that CONNECTs with Duration 0 (none, in MQTT's terms): UDP
  // has no end of connection to notice, so the gateway's idle_timeout stands in.
  std::uint16_t idle_keep_alive_s = 30;
  std::map<std::uint16_t, std::string> predefined;
  std::unordered_map<std::string, std::uint16_t> predefined_ids;  // topic -> id
  void add_predefined(std::uint16_t id, std::string topic) {
    predefined_ids[topic] = id;
    predefined[id] = std::move(topic);
  }
};

// The topic of a QoS -1 PUBLISH (6.8: from a client that is not connected, by pre-defined
// id or short name only), as the broker sees it; nullopt for a topic id it cannot use.
std::optional<std::string> anonymous_topic(const Settings& settings, const Publish& p);

// What the adapter asks of its connection.
class AdapterHost {
 public:
  virtual ~AdapterHost() = default;
  virtual void to_broker(const mqtt::Packet& p) = 0;  // a packet for the channel, in order
  virtual void to_client(const Packet& p) = 0;        // a message for the client
  // The client sleeps for `duration` (its keep alive while asleep), or is awake again.
  virtual void sleep(std::chrono::seconds duration) = 0;
  virtual void wake() = 0;
  // WILLTOPICUPD / WILLMSGUPD: the channel's will is now `will` (none: deleted).
  virtual void set_will(const std::optional<mqtt::Will>& will) = 0;
};

class Adapter {
 public:
  static constexpr std::size_t kMaxRegistered = 4096;
  static constexpr std::size_t kMaxRegisteredBytes = 1 << 20;
  static constexpr std::size_t kMaxHeld = 1000;
  static constexpr int kRegisterTries = 3;

  enum class State : std::uint8_t { Idle, WillTopic, WillMsg, Connecting, Connected, Asleep };

  Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host);

  // A message from the client.
  void from_client(Packet&& p);
  // A packet the channel wrote for the client.
  void from_broker(mqtt::Packet&& p);
  // The REGISTER the gateway sent got no REGACK in time: sent again, up to kRegisterTries
  // in all; false when the client has not answered any (the caller ends the connection).
  bool register_timeout();
  bool awaiting_regack() const { return pending_register_.has_value(); }

  State state() const { return state_; }
  const std::string& client_id() const { return client_id_; }
  std::size_t registered() const { return names_.size(); }  // topic ids of this client

 private:
  void handle_connect(Connect& c);
  void connect_to_broker();
  void handle_register(Register& r);
  void handle_publish(Publish& p);
  void handle_subscribe(Subscribe& s, bool unsubscribe);
  void handle_disconnect(const Disconnect& d);
  void handle_pingreq(const Pingreq& p);
  void handle_regack(const Regack& r);
  // The topic a PUBLISH, SUBSCRIBE or UNSUBSCRIBE names, as the broker sees it; nullopt
  // when its id is unknown.
  std::optional<std::string> resolve(TopicIdType type, const Topic& t) const;
  std::string mount(std::string_view topic) const;
  std::string_view unmount(std::string_view topic) const;
  // An id for `name` in the registry (made when new); 0 when the registry is full and
  // `reuse` is false.
  std::uint16_t register_name(const std::string& name, bool reuse);
  void forget(std::uint16_t id);  // the client no longer knows `id`
  // A message for the client, behind what waits (a REGACK, or the client's sleep).
  void send(Packet p);
  void send_publish(const mqtt::Publish& p);
  void drain();  // sends what waited, up to the next REGISTER

  std::shared_ptr<const Settings> settings_;
  AdapterHost& host_;
  State state_ = State::Idle;
  std::string client_id_;
  std::string mountpoint_;  // ${clientid} replaced
  mqtt::Connect connect_;   // held during the will dialogue
  std::optional<mqtt::Will> will_;
  std::uint16_t sleep_duration_ = 0;
  bool waking_ = false;  // a PINGREQ woke it: PINGRESP ends the wake

  // Topic ids of this client.
  std::unordered_map<std::uint16_t, std::string> names_;  // id -> topic (broker's view)
  std::unordered_map<std::string, std::uint16_t> ids_;    // topic -> id
  // Ids the gateway gave, oldest first. Vectors, not deques: libstdc++'s std::deque
  // allocates on construction, which every idle client would pay.
  std::vector<std::uint16_t> given_;
  std::size_t name_bytes_ = 0;
  std::uint16_t next_id_ = 1;
  std::uint16_t next_msg_id_ = 1;  // the gateway's REGISTERs
  // The topic ids of the client's QoS 1 PUBLISHes and SUBSCRIBEs, by message id, for
  // PUBACK and SUBACK (MQTT's carry no topic).
  std::unordered_map<std::uint16_t, std::uint16_t> puback_topic_;
  std::unordered_map<std::uint16_t, std::uint16_t> suback_topic_;

  // Messages for the client that wait: behind a REGISTER (pending_register_) or while it
  // sleeps.
  std::vector<Packet> held_;  // oldest first
  struct PendingRegister {
    Register reg;
    int tries = 1;
  };
  std::optional<PendingRegister> pending_register_;
};

}  // namespace emqxd::gateways::mqttsn
