#pragma once
// Channel: the MQTT protocol state machine of one connection (emqx_channel, written for
// threads). Packets in, packets out, no I/O: it appends encoded packets to its host's
// output buffer and asks the host to close. Split by packet as mosquitto's handle_*.c:
// channel_connect.cpp (CONNECT, AUTH, DISCONNECT, errors), channel_publish.cpp (PUBLISH
// both ways and the QoS handshakes), channel_subscribe.cpp (SUBSCRIBE, UNSUBSCRIBE),
// channel_authz.cpp (who the client is, and what it may publish and subscribe to).
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "auth/authorization.hpp"
#include "auth/subject.hpp"
#include "common/errc.hpp"
#include "config/config.hpp"
#include "mqtt/codec.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"
#include "session/hub.hpp"
#include "session/session.hpp"
#include "session/trace.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

// The connection as the channel sees it. Implemented by net::Connection.
// What one connection did, EMQX's per-client counters (the API's recv_oct, send_msg,
// "send_msg.dropped.expired", ...). Plain integers: written and read on the channel's
// worker only. recv_cnt / send_cnt count the socket's reads and writes, the rest MQTT
// packets and messages; a QoS 0 count is the total less QoS 1 and 2.
struct ClientStats {
  std::uint64_t recv_oct = 0, recv_cnt = 0, recv_pkt = 0, recv_msg = 0;
  std::uint64_t send_oct = 0, send_cnt = 0, send_pkt = 0, send_msg = 0;
  std::uint64_t recv_qos1 = 0, recv_qos2 = 0, send_qos1 = 0, send_qos2 = 0;
  std::uint32_t recv_dropped = 0;               // refused: not authorized, the store full
  std::uint32_t recv_dropped_await_pubrel = 0;  // QoS 2 ids forgotten (await_rel_timeout)
  std::uint32_t send_dropped_expired = 0, send_dropped_queue_full = 0, send_dropped_too_large = 0;
};

class ChannelHost {
 public:
  virtual ~ChannelHost() = default;
  // The buffer to append encoded packets to; written to the socket after this turn.
  virtual std::string& output() = 0;
  // Write what is in output(), then close. The host calls Channel::handle_closed once.
  virtual void close() = 0;
  // The channel is ready for the next packet again (see Channel::accepting_input).
  virtual void resume_input() = 0;
  // Close when no packet arrives for `timeout`; zero disables.
  virtual void set_keepalive(std::chrono::milliseconds timeout) = 0;
  virtual const std::string& peer() const = 0;  // "ip:port"
  // A field of the client's verified TLS certificate (config::PeerCertField: the subject's
  // CN, its DN as RFC 2253 writes it, the DER bytes, the PEM text, or the MD5 of the DER
  // in hex), when the connection has one.
  virtual std::optional<std::string> peer_cert(config::PeerCertField /*what*/) const {
    return std::nullopt;
  }
  std::optional<std::string> peer_cert_common_name() const {
    return peer_cert(config::PeerCertField::Cn);
  }
  virtual std::uint16_t local_port() const = 0;
  // Bytes appended to output() and not yet accepted by the socket.
  virtual std::size_t backlog() const = 0;
  // Close soon without waiting for the client to read what is written (force_shutdown):
  // the output is tried once, and the connection and its memory go within a second even
  // if the client reads nothing. The host calls Channel::handle_closed once.
  virtual void abort() { close(); }
  // The listener's enable_authn (config.hpp).
  virtual config::AuthnMode authn_mode() const { return config::AuthnMode::On; }
  // The listener's id ("tcp:default"), for the API; "" when there is none.
  virtual std::string_view listener() const { return {}; }
  // The protocol the client speaks, as the API's proto_name and proto_ver show it: a
  // gateway's connection (gateways/) says its own.
  virtual std::string_view proto_name() const { return "MQTT"; }
  virtual std::string_view proto_ver() const { return {}; }  // "": the channel's MQTT version
};

// A subscriber whose socket does not drain may hold this much unwritten output; past it,
// QoS 0 messages to it are dropped (QoS 1/2 are bounded by the send window and the
// session queue instead), so one stalled client cannot eat the node's memory.
inline constexpr std::size_t kMaxBacklog = 8 * 1024 * 1024;

// What one topic alias costs its connection's memory account besides the topic: a hash
// node and its share of the buckets.
inline constexpr std::int64_t kAliasEntry = 64;

class Channel {
 public:
  enum class State : std::uint8_t { Idle, Connecting, Connected, Closing, Closed };

  Channel(Hub& hub, ChannelHost& host);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  // One decoded packet from the client. A Publish's views must stay valid for the call.
  void handle_in(mqtt::Packet&& packet);
  // The next packet could not be decoded (`e` from the codec).
  void handle_decode_error(Errc e);
  // No packet within the keep alive time [MQTT-3.1.2-24].
  void handle_keepalive_timeout();
  // A large packet did not arrive whole in time (net/connection.cpp, kSlowPacketBytes).
  void handle_slow_input();
  // The network connection is closed; called exactly once by the host.
  void handle_closed();

  // False while the channel waits for its session (after CONNECT): the host keeps the
  // bytes that follow and calls handle_in again after resume_input().
  // Also false while a congested subscriber holds this publisher back (Hub::hold), and
  // while a PUBLISH or SUBSCRIBE waits for a remote authorization source (awaiting_authz).
  // While a SCRAM exchange waits for the client's AUTH, that AUTH is let in.
  bool accepting_input() const {
    return (state_ != State::Connecting || scram_waiting_) && !held_ && !authz_wait_ &&
           !exclusive_wait_;
  }
  // A PUBLISH or SUBSCRIBE waits for the answer of a remote authorization source
  // (Hub::authorize_remote): the client's later packets wait behind it.
  bool awaiting_authz() const { return authz_wait_ != nullptr; }

  // --- called by the hub, on this channel's worker ---
  // The authentication chain's answer to this channel's CONNECT (Hub::authenticate).
  void on_authenticated(const auth::AuthnOutcome& outcome);
  // The remote authorization sources' answers to the queries of Hub::authorize_remote, in
  // order: the packet that waited is handled, then input resumes.
  void on_authz_answers(std::vector<auth::AuthzDecision> answers);
  // The claims of the exclusive subscriptions a SUBSCRIBE asked for (Hub::claim_exclusive),
  // in order: the SUBSCRIBE that waited goes on (authorization, then the subscriptions).
  void on_exclusive_answers(std::vector<ClaimAnswer> answers);
  // The credentials it connected with expired (a JWT's exp): disconnected, 0x87.
  void credentials_expired();
  // Fresh rules from the database authorization sources (Hub::refresh_rules).
  void on_rules_refreshed(std::shared_ptr<const auth::SourceRules> rules);
  // Asks the hub for fresh database rules when the Subject's are older than cache.ttl.
  void refresh_stale_rules();
  void on_session_ready(Session* session, bool session_present);
  void deliver(Delivery&& d);  // a message for this client
  void release();              // the end of a Hub::hold: read again
  // The storage batch of Hub::await_commit `ticket` is stored (or failed): the output that
  // waited for it goes out.
  void committed(std::uint64_t ticket, const storage::Status& status);
  // takeover (0x8E), shutdown (0x8B), admin (0x98), evacuation (0x9C, with the Server
  // Reference to send MQTT 5 clients to, if any)
  void kick(mqtt::ReasonCode reason, std::string server_reference = {});
  // The HTTP API subscribes or unsubscribes a connected client (POST
  // /api/v5/clients/{id}/subscribe, EMQX's): as a SUBSCRIBE of that one filter would,
  // retained messages included, without a SUBACK and without authorization (an
  // administrator's act). The granted QoS, or the reason it was refused.
  mqtt::ReasonCode admin_subscribe(const mqtt::Subscription& sub);
  bool admin_unsubscribe(const std::string& filter);  // false: no such subscription
  // MQTT-SN's sleeping clients (gateways/mqttsn/adapter.hpp): while asleep every delivery
  // waits in the session's queue (mqtt.max_mqueue_len, mqtt.mqueue_store_qos0) instead of
  // being written; wake() sends what the send window allows.
  void sleep() { asleep_ = true; }
  void wake();
  // A connected client's will changes (MQTT-SN's WILLTOPICUPD and WILLMSGUPD); none
  // deletes it. A will whose topic is not a valid topic name is ignored.
  void set_will(const std::optional<mqtt::Will>& will);
  // Lets go of the session now (takeover): the will is published or left pending on the
  // session as the spec says, and the hub is not told again when the socket closes.
  Session* detach();
  // Server shutdown, phase one: the session ends, so the will is published now.
  void publish_will_now();
  // MQTT 3.1.1 and 3.1: resends (DUP) what has waited longer than mqtt.retry_interval for
  // its acknowledgement, as EMQX does. MQTT 5 forbids resending on a live connection
  // [MQTT-4.4.0-1], so a v5 channel never retries. Returns whether anything is still in
  // flight (the hub keeps calling while it is).
  bool retry(mqtt::Message::Clock::time_point now);

  State state() const { return state_; }
  mqtt::ProtocolVersion version() const { return version_; }
  const std::string& client_id() const { return client_id_; }
  const std::optional<std::string>& username() const { return username_; }
  std::string peer_host() const;  // the client's address, without the port
  Session* session() const { return session_; }
  bool is_v5() const { return version_ == mqtt::ProtocolVersion::V5; }
  std::uint16_t keep_alive() const { return keep_alive_; }
  bool clean_start() const { return clean_start_; }
  const ChannelHost& host() const { return host_; }
  std::uint32_t session_expiry() const { return session_expiry_; }
  std::int64_t connected_at_ms() const { return connected_at_ms_; }  // Unix ms; 0 before
  // Who the client is once authenticated (set at CONNECT; auth/subject.hpp): what
  // authorization matches every PUBLISH and SUBSCRIBE against.
  const auth::Subject& subject() const { return subject_; }
  // The connection's memory account (force_shutdown.max_heap_size), in bytes: its read
  // buffer, its topic aliases both ways, its authorization cache, and its session's
  // subscriptions and messages in flight and queued (Session::bytes). Kept as running
  // sums: reading it is a few loads.
  std::int64_t memory() const {
    return static_cast<std::int64_t>(input_bytes_) + alias_bytes_ +
           (authz_cache_ ? authz_cache_->bytes() : 0) + authz_wait_bytes_ +
           (session_ != nullptr ? session_->bytes() : 0);
  }
  // The host's read buffer now holds `bytes` (a partial packet, or input that waits); a
  // connection that goes over force_shutdown.max_heap_size with it is shut down.
  void set_input_bytes(std::size_t bytes);

  // This connection's counters (written by the channel and by its host's socket code).
  ClientStats& stats() { return stats_; }
  const ClientStats& stats() const { return stats_; }

  // Why the connection ended, in EMQX's words: normal, takenover, discarded,
  // keepalive_timeout, closed (by the peer), protocol_error, ... Empty while connected.
  std::string_view disconnect_reason() const { return disconnect_reason_; }

 private:
  // channel_connect.cpp
  void dispatch(mqtt::Packet& packet);  // a packet of a connected client, by type
  // A packet past its exclusive claims: authorization (perhaps waiting), then dispatch.
  void admit(mqtt::Packet& packet);
  void handle_connect(mqtt::Connect& c);
  void handle_disconnect(const mqtt::Disconnect& d);
  void handle_auth(const mqtt::Auth& a);
  // SCRAM over CONNECT and AUTH (auth/scram.hpp): client-first came with CONNECT.
  void start_scram();
  // `server_reference` (else mqtt.server_reference) goes with 0x9C and 0x9D.
  void send_connack_error(mqtt::ReasonCode rc, std::string server_reference = {});
  // The rules' client_connack event for the CONNACK just sent (hub.hpp: ChannelEvent).
  void connack_event(mqtt::ReasonCode rc);
  // The rules' message_acked event for a delivery the client acknowledged.
  void acked(const Delivery& d);
  // Sends DISCONNECT (v5) with `rc` and closes; for protocol violations and kicks.
  void close_with(mqtt::ReasonCode rc, std::string_view why);
  mqtt::MessagePtr make_will(const mqtt::Will& will) const;
  // Publishes the will now, if this client may publish to its topic.
  void publish_will(mqtt::MessagePtr will);

  // channel_authz.cpp
  // Fills subject_ with what CONNECT told (client id, username, peer address, certificate
  // CN); authentication adds the rest (superuser, acl). Called once authentication passed.
  void set_subject();
  // The rule for every message this client causes: not into $SYS, and authorized.
  bool may_publish(std::string_view topic, mqtt::QoS qos, bool retain);
  // Asks authorization (through this connection's cache) and counts the decision. With a
  // remote source, the decision was made before the packet was handled (authz_answers_).
  bool authorized(const auth::AclAction& action, std::string_view topic);
  // Counts a decision and logs a denial (rate-limited).
  void count_decision(const auth::AclAction& action, std::string_view topic,
                      const auth::AuthzDecision& d);
  // With a remote authorization source: decides what the packet (a PUBLISH or SUBSCRIBE)
  // will ask, on this worker where it can (cache, superuser, the sources before the remote
  // one). True when a remote source must be asked: the packet is kept and waits.
  bool prepare_authz(mqtt::Packet& packet);
  // The will's authorization when a remote source must decide it: the query to ask
  // (Hub::publish_will_after_authz); nullopt when decided here (in `allowed`).
  std::optional<AuthzQuery> authorize_will(const mqtt::Message& will, bool& allowed);
  // authorization.deny_action = disconnect: DISCONNECT 0x87 (v5) and close.
  void disconnect_not_authorized(std::string_view what, std::string_view topic);

  // channel_trace.cpp: log traces (session/trace.hpp). tracing() is the whole cost on the
  // packet path while no trace runs: a null test and one relaxed load. While traces run
  // that match neither this client nor any topic, it is a few more loads: the set this
  // channel matched last is still the current one, and it wants nothing.
  bool tracing() const {
    return tracer_ != nullptr && tracer_->active() &&
           (!trace_ || trace_->wants || trace_->generation != tracer_->generation());
  }
  Tracer::Cursor& trace_cursor(std::string_view client_id);
  void trace_in(const mqtt::Packet& p);
  void trace_out(const mqtt::Packet& p);
  void trace_publish_out(const mqtt::Message& msg, const mqtt::PublishDelivery& pd);
  void trace_event(std::string_view msg,
                   const std::vector<std::pair<std::string_view, std::string>>& fields);

  // channel_publish.cpp
  void handle_publish(mqtt::Publish& p);
  void handle_puback(const mqtt::PubAck& a);
  void handle_pubrec(const mqtt::PubRec& r);
  void handle_pubrel(const mqtt::PubRel& r);
  void handle_pubcomp(const mqtt::PubComp& c);
  void send_inflight(Delivery&& d);
  // Writes one PUBLISH; false if it was dropped (too large for the client). With a
  // `ticket` (Hub::await_commit) it waits for that commit, like a held response.
  bool write_publish(const Delivery& d, std::uint16_t packet_id, bool dup,
                     std::uint64_t ticket = 0);
  void pump_queue();
  void resend_inflight();
  bool resend(Inflight& f);
  void settle_owed(Inflight& f);
  // Slow subscriptions (session/slow_subs.hpp): how long ago `msg` arrived, and a QoS 1/2
  // delivery completed.
  std::chrono::milliseconds age(const mqtt::Message& msg) const;
  void completed(SlowSubs& slow, const Inflight& f);
  std::size_t send_window() const;

  // channel_modules.cpp: EMQX's modules on the channel's path (session/rewrite.hpp,
  // session/delayed.hpp, auto_subscribe).
  // The PUBLISH topic after the rewrite rules (`storage` holds a rewritten one).
  std::string_view rewrite_publish(std::string_view topic, std::string& storage) const;
  // The filter after the rewrite rules, in place.
  void rewrite_filter(std::string& filter) const;
  // A PUBLISH to "$delayed/...", authorized: kept for later (Hub::delay) or dropped, as
  // EMQX does; the reason code the publisher gets. `stored`: its record is in the batch.
  mqtt::ReasonCode delay_publish(const mqtt::Publish& p, std::string_view topic, bool& stored);
  // At connect: auto_subscribe.topics, as if the client had subscribed (no SUBACK).
  void auto_subscribe();
  // The message of a PUBLISH, to `topic`.
  std::shared_ptr<mqtt::Message> message_of(const mqtt::Publish& p, std::string_view topic) const;

  // channel_subscribe.cpp
  void handle_subscribe(mqtt::Subscribe& s);
  void handle_unsubscribe(mqtt::Unsubscribe& u);
  // A SUBSCRIBE with "$exclusive/" filters claims them first (session/exclusive.hpp): true
  // when the claims are asked of another node and the packet waits (on_exclusive_answers).
  bool prepare_exclusive(mqtt::Packet& packet);
  // The claims that no subscription took go back.
  void release_unused_claims();
  // Unsubscribes the session from `filter` (as subscribed); false when it had none.
  bool drop_subscription(const std::string& filter);
  // The filter's form and this node's limits, not authorization: the QoS to grant, or why
  // not; `filter` is the filter without its $share/$queue prefix.
  mqtt::ReasonCode validate_subscription(const mqtt::Subscription& sub, bool& is_shared,
                                         std::string_view& filter) const;
  // validate_subscription, then authorization.
  mqtt::ReasonCode check_subscription(const mqtt::Subscription& sub, bool& is_shared);
  void send_retained(const std::string& filter, const SubscriptionState& sub);
  mqtt::ReasonCode take_subscription(const mqtt::Subscription& sub, mqtt::QoS granted,
                                     std::uint32_t sub_id, bool shared, bool& stored,
                                     bool& retained);

  // Output leaves in the order it is made. Some of it waits for the turn's storage batch to
  // be committed (durable sessions): an acknowledgement (PUBACK, PUBREC, PUBREL, PUBCOMP,
  // SUBACK, UNSUBACK) that promises stored records, and a QoS 2 PUBLISH whose packet id must
  // be stored before the client sees it. Everything made after such output waits behind it
  // (held_out_), so acknowledgements keep the order of the requests [MQTT-4.6.0-2..4] and a
  // PUBLISH never overtakes the one that defined its topic alias.
  void send(const mqtt::Packet& p);
  // Straight to the connection, past anything held: the DISCONNECT that ends it.
  void send_now(const mqtt::Packet& p);
  // An acknowledgement; `after_commit` when it promises records of this turn's batch, with
  // the message it acknowledges, if any (Hub::await_commit).
  void respond(mqtt::Packet p, bool after_commit, const mqtt::Message* published = nullptr);
  // Durable sessions: the batch to record into, when this session is stored.
  storage::Batch* session_batch() const;
  void store_session(bool connected);  // put the session's record (and, once, its subscriptions)
  // Erases a stored delivery that ends; `last`: the last state recorded for it (Queued:
  // never sent).
  void forget_delivery(const Delivery& d, OutState last);
  bool problem_info_allowed() const { return request_problem_information_; }
  // force_shutdown: true when the memory account is over max_heap_size. One comparison;
  // called after whatever makes the account grow (a message queued or in flight, an alias).
  bool over_memory_cap() const;  // channel_publish.cpp
  // Disconnects with 0x97 (Quota exceeded) and discards the session, logging once.
  void force_shutdown();

  Hub& hub_;
  ChannelHost& host_;
  ClientStats stats_;
  Tracer* tracer_;                         // the node's; null in tests without one
  const TopicRewrite* rewrite_;            // the node's rules; null when there are none
  std::unique_ptr<Tracer::Cursor> trace_;  // made when a trace first runs
  State state_ = State::Idle;
  mqtt::ProtocolVersion version_ = mqtt::ProtocolVersion::V3_1_1;
  std::string client_id_;
  std::optional<std::string> username_;
  bool clean_start_ = true;
  bool graceful_disconnect_ = false;  // DISCONNECT 0x00 received: the will is discarded
  std::uint16_t keep_alive_ = 0;
  bool server_keep_alive_ = false;  // keep_alive_ is the server's: sent in CONNACK
  std::uint32_t session_expiry_ = 0;
  std::int64_t connected_at_ms_ = 0;
  Session* session_ = nullptr;

  std::unique_ptr<mqtt::Will> will_;  // rare, and a Will is large: kept off the channel
  // MQTT 5 enhanced authentication in progress (SCRAM, channel_connect.cpp): rare, so
  // kept off the channel.
  struct ScramExchange;
  std::unique_ptr<ScramExchange> scram_;
  bool scram_waiting_ = false;  // server-first sent; the client's AUTH is next
  auth::Subject subject_;
  std::unique_ptr<auth::AuthzCache> authz_cache_;  // made on the first decision it may hold
  // The decisions for the packet being handled, made before it (prepare_authz).
  struct AuthzAnswer {
    auth::AclAction action;
    std::string topic;
    auth::AuthzDecision decision;
    bool remote = false;        // asked off the worker (Hub::authorize_remote)
    bool cache_answer = false;  // goes into the cache once known
    std::size_t from = 0;       // remote: the first remote source
  };
  std::vector<AuthzAnswer> authz_answers_;
  // A PUBLISH or SUBSCRIBE waiting for remote authorization answers, with its own copy of
  // the bytes a Publish views, and what it costs the memory account.
  struct AuthzWait {
    mqtt::Packet packet;
    std::string topic, payload;  // a Publish's views point here
    std::vector<AuthzAnswer> answers;
  };
  std::unique_ptr<AuthzWait> authz_wait_;
  std::int64_t authz_wait_bytes_ = 0;
  // Exclusive subscriptions: the claims made for the SUBSCRIBE being handled, and the
  // SUBSCRIBE waiting for them (prepare_exclusive).
  std::vector<std::pair<std::string, ClaimAnswer>> exclusive_answers_;
  struct ExclusiveWait {
    mqtt::Packet packet;
    std::vector<std::string> filters;
  };
  std::unique_ptr<ExclusiveWait> exclusive_wait_;

  // What the client told us it can take (v5 CONNECT properties).
  std::uint16_t client_receive_maximum_ = 65535;
  std::uint32_t client_max_packet_size_ = 0;  // 0 = no limit
  std::uint16_t client_topic_alias_max_ = 0;
  bool request_problem_information_ = true;
  bool request_response_information_ = false;

  // Topic aliases: inbound index -> topic; outbound topic -> alias.
  std::unordered_map<std::uint16_t, std::string> alias_in_;  // only the aliases used
  std::unordered_map<std::string, std::uint16_t> alias_out_;
  std::int64_t alias_bytes_ = 0;   // both tables: topics plus kAliasEntry each
  std::uint32_t input_bytes_ = 0;  // the host's read buffer (set_input_bytes)

  bool assigned_client_id_ = false;  // send it back in CONNACK [MQTT-3.2.2-16]
  bool held_ = false;                // see accepting_input()
  bool asleep_ = false;              // sleep()
  // Output waiting for a commit (ticket) or behind one (ticket 0): a packet, or an encoded
  // PUBLISH. A FIFO that allocates nothing until used: an mqtt::Packet is 1.2 KB, and
  // libstdc++'s std::deque allocates a node on construction, which every idle connection
  // would pay.
  struct HeldOutput {
    std::uint64_t ticket = 0;
    std::variant<mqtt::Packet, std::string> out;
  };
  class HeldQueue {
   public:
    bool empty() const { return head_ == items_.size(); }
    HeldOutput& front() { return items_[head_]; }
    void push_back(HeldOutput h) { items_.push_back(std::move(h)); }
    void pop_front() {
      if (++head_ < items_.size()) return;
      head_ = 0;
      if (items_.capacity() > 64) {
        std::vector<HeldOutput>().swap(items_);  // a burst's memory goes back
      } else {
        items_.clear();
      }
    }

   private:
    std::vector<HeldOutput> items_;
    std::size_t head_ = 0;
  };
  HeldQueue held_out_;
  std::size_t owed_resends_ = 0;  // inflight entries of a resumed session not yet resent
  std::string_view disconnect_reason_;
};

// Counts an authorization decision in EMQX's authorization.* metrics.
void count_authz_decision(metrics::Metrics& m, const auth::AuthzDecision& d);

// The v3.1.1 CONNACK return code for a v5 reason code.
mqtt::ConnectReturnCode to_v3_connack(mqtt::ReasonCode rc);
// The reason code for a codec error.
mqtt::ReasonCode to_reason_code(Errc e);

}  // namespace emqxd::session
