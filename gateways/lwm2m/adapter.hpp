#pragma once
// Adapter: one LwM2M client (OMA LightweightM2M TS 1.0/1.1 over CoAP) over an MQTT channel,
// with EMQX's LwM2M gateway's topics and JSON (docs/gateways.md, "LwM2M"). Sans-I/O, as
// the CoAP adapter beside it: CoAP messages in, MQTT 5 packets for the channel and CoAP
// messages for the client out; the host arms one timer (wake_after) and calls tick().
//
// Client Registration Interface (TS 1.0, 5.3), from the client:
//   POST /rd?ep={name}&lt=&lwm2m=&b=  (link-format objects)  Register: the channel
//        connects as client id {name}; 2.01 Created, Location-Path rd/{name}; the
//        registration is published on {mountpoint}{register topic}; the command topic
//        {mountpoint}{command topic} is subscribed
//   POST /rd/{name}[?lt=&b=]          Update: 2.04; published on the update topic
//                                     (update_msg_publish_condition)
//   DELETE /rd/{name}                 De-register: 2.02; the channel disconnects
// A registration that is not updated within its lifetime ends (as a de-register).
//
// Device Management and Information Reporting (TS 1.0, 5.4, 5.5), from MQTT: a JSON command
// {"reqID", "msgType", "data"} on the command topic becomes one CON request (read,
// discover, write, write-attr, execute, create, delete, observe, cancel-observe); the
// answer is published on the response topic as the command with "data" replaced by
// {"reqPath", "code", "codeMsg", "content"}; notifications of an observation go to the
// notify topic with msgType "notify" and "seqNum". One request is outstanding at a time
// (later ones wait, at most kMaxQueued); a CON is sent again with doubling timeouts (RFC
// 7252 4.2) and, unanswered, reported as msgType "coap_timeout" (an RST: "coap_reset"); an
// empty ACK (a separate response follows) is reported as msgType "ack". With a queue-mode
// binding (b=UQ; TS 1.0 5.3.1.1 "Queue Mode") commands wait until the client shows itself
// (any message) and are sent within qmode_time_window of that.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "gateways/client_info.hpp"
#include "gateways/coap/message.hpp"
#include "gateways/lwm2m/objects.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::gateways::lwm2m {

using coap::Message;

struct Settings {
  // ${endpoint_name} and ${clientid} are the endpoint's name.
  std::string mountpoint = "lwm2m/${endpoint_name}/";
  ClientInfoOverride client_override;
  std::chrono::seconds lifetime_min{1}, lifetime_max{86400};
  std::chrono::seconds qmode_time_window{22};
  // auto_observe: observe every object the client registers (but 0-7, 9, 15, as EMQX), or
  // the paths listed.
  bool auto_observe = false;
  std::vector<std::string> auto_observe_paths;
  bool update_always = false;  // update_msg_publish_condition = always
  struct Translator {
    std::string topic;
    mqtt::QoS qos = mqtt::QoS::AtMostOnce;
  };
  Translator command{"dn/#", mqtt::QoS::AtMostOnce}, response{"up/resp", mqtt::QoS::AtMostOnce},
      notify{"up/notify", mqtt::QoS::AtMostOnce}, reg{"up/resp", mqtt::QoS::AtMostOnce},
      update{"up/update", mqtt::QoS::AtMostOnce};
  std::shared_ptr<const ObjectModel> model;
  // What Block2 answers may put together: their JSON must fit one MQTT packet the
  // connection hands its channel (gateways/udp.hpp kMaxPendingInput).
  std::size_t max_body = 96 << 10;
};

class AdapterHost {
 public:
  virtual ~AdapterHost() = default;
  virtual void to_broker(const mqtt::Packet& p) = 0;
  virtual void to_client(const Message& m) = 0;
  // Call tick() `after` from now (an earlier call's time is replaced).
  virtual void wake_after(std::chrono::milliseconds after) = 0;
  // The connection's keep alive before registration (0: none; the lifetime rules after).
  virtual void keep_alive(std::chrono::milliseconds timeout) = 0;
  virtual std::uint32_t random() = 0;  // tokens, message ids
};

// An endpoint name that can be a client id and a topic level.
bool valid_endpoint(std::string_view ep);

class Adapter {
 public:
  static constexpr std::size_t kMaxQueued = 128;           // commands waiting their turn
  static constexpr std::size_t kMaxQueuedBytes = 1 << 20;  // their JSON, all together
  static constexpr std::size_t kMaxCommand = 64 << 10;     // one command's JSON
  static constexpr std::size_t kMaxRequest = 60 << 10;     // one CoAP request (no Block1)
  static constexpr std::size_t kMaxAutoObserve = 16;       // auto_observe's per registration
  // Registration parameters kept (and published) per client, and objects listed.
  static constexpr std::size_t kMaxRegInfo = 32, kMaxObjects = 1024;
  static constexpr std::size_t kMaxObservations = 256;  // per client
  static constexpr int kMaxRetransmit = 4;
  static constexpr auto kAckTimeout = std::chrono::seconds(2);
  // How long a separate response may take after its empty ACK (RFC 7252's
  // EXCHANGE_LIFETIME is 247 s; a device that takes a minute is lost to its user).
  static constexpr auto kSeparateWait = std::chrono::seconds(60);
  static constexpr std::size_t kRecentAnswers = 8;

  enum class State : std::uint8_t { Idle, Registering, Registered, Closed };

  Adapter(std::shared_ptr<const Settings> settings, AdapterHost& host);

  void from_client(Message&& m, std::chrono::steady_clock::time_point now);
  void from_broker(mqtt::Packet&& p, std::chrono::steady_clock::time_point now);
  // Retransmissions, the lifetime, queue mode's window.
  void tick(std::chrono::steady_clock::time_point now);

  State state() const { return state_; }
  const std::string& endpoint() const { return endpoint_; }
  // Whether `m` registers another endpoint than this one's (a new connection serves it).
  bool registers_other(const Message& m) const;
  std::size_t queued() const { return queue_.size(); }
  std::size_t observations() const { return observations_.size(); }

 private:
  using Clock = std::chrono::steady_clock;
  struct Command {
    boost::json::object ctx;  // the MQTT command, echoed in its answers ("data" replaced)
    std::string req_path;     // "data.path" or "data.basePath"
    std::string msg_type;
    Message request;                       // CON; id and token set when sent
    std::string body;                      // Block2: what came so far
    std::string token;                     // cancel-observe: the observation's (RFC 7641 3.6)
    std::optional<std::uint32_t> observe;  // Block2: the first block's Observe number
    std::size_t size = 0;                  // the command's JSON, for kMaxQueuedBytes
  };

  void handle_request(Message& m, Clock::time_point now);
  void do_register(Message& m, Clock::time_point now);
  void do_update(Message& m, Clock::time_point now);
  void handle_response(Message& m, Clock::time_point now);
  void answer(const Message& req, std::uint8_t code, std::string payload = {},
              std::vector<std::pair<std::uint16_t, std::string>> options = {});
  void command(std::string_view payload, Clock::time_point now);
  // The CoAP request of a command; nullopt with `code` (4.00, 4.13) when it cannot be one.
  std::optional<Command> build(boost::json::object cmd, std::uint8_t& code);
  void auto_observe(Clock::time_point now);
  void enqueue(Command c, Clock::time_point now);
  void send_next(Clock::time_point now);
  void send_request(Clock::time_point now);  // out_'s request, with a fresh retransmission clock
  void done(Clock::time_point now);          // out_ is over: the next one goes
  void fail(const char* msg_type, Clock::time_point now);  // reported as msg_type, then done
  // Answers the Register `req` (2.01, the location), publishes the registration, and
  // observes what auto_observe says.
  void accept_registration(const Message& req, Clock::time_point now);
  // Publishes c's answer: `response`'s code and content, or (null) c as it was, as
  // msg_type ("ack", "coap_timeout", ...).
  void report(Command& c, const Message* response, std::string msg_type);
  void publish(const Settings::Translator& t, const boost::json::object& body);
  void notification(Message& m);
  void registration_info(const Message& m, bool is_register);
  bool awake(Clock::time_point now) const;
  void arm(Clock::time_point now);
  void end();
  std::string mount(std::string_view topic) const;
  std::uint16_t next_message_id();
  std::uint16_t next_packet_id();
  std::string new_token();

  std::shared_ptr<const Settings> settings_;
  AdapterHost& host_;
  State state_ = State::Idle;
  std::string endpoint_, mountpoint_;
  std::optional<Message> register_request_;  // waits for the CONNACK
  boost::json::object reg_info_;             // ep, lt, lwm2m, b, objectList, alternatePath
  std::string alternate_path_ = "/";
  bool queue_mode_ = false;
  std::chrono::seconds lifetime_{86400};
  Clock::time_point expires_{}, last_seen_{};

  std::vector<Command> queue_;
  std::size_t queued_bytes_ = 0;
  std::optional<Command> out_;  // the outstanding request
  int sends_ = 0;
  bool separate_ = false;  // its empty ACK came; the response follows
  std::chrono::milliseconds timeout_{};
  Clock::time_point due_{};

  struct Observation {
    std::string token;
    std::string path;
    boost::json::object ctx;
  };
  std::vector<Observation> observations_;
  std::vector<std::pair<std::uint16_t, Message>> recent_;  // answers by message id
  std::vector<std::uint16_t> recent_notifications_;        // CON ones acknowledged
  std::uint16_t next_message_id_ = 0;
  std::uint16_t next_packet_id_ = 0;
};

}  // namespace emqxd::gateways::lwm2m
