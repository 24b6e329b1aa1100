#pragma once
// Hub: what a Channel needs from the worker it lives on. session::WorkerCore implements
// it (session/worker_core.hpp); unit tests drive the same core with a fake scheduler.
// Every method is called on the channel's worker.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/authentication.hpp"
#include "auth/authorization.hpp"
#include "auth/subject.hpp"
#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"
#include "rules/rule.hpp"
#include "session/connect_gate.hpp"
#include "session/exclusive.hpp"
#include "session/slow_subs.hpp"
#include "session/topic_metrics.hpp"

namespace emqxd {
namespace config {
struct Config;
}
namespace broker {
class Broker;
class Retainer;
struct Pressure;
}  // namespace broker
namespace auth {
class Authorization;
}  // namespace auth
namespace metrics {
struct Metrics;
}
namespace storage {
class Batch;
class Status;
}  // namespace storage
}  // namespace emqxd

namespace emqxd::session {

class Tracer;
class TopicRewrite;
struct DelayedMessage;

class Channel;
class Session;

// Who published a message, for what looks at it beyond its topic and payload (the rule
// engine's clientid, username and peerhost columns). A client's channel is asked only
// when something needs it. Wills, $SYS, the API: a client id (or none) and no channel.
struct Publisher {
  std::string_view client_id;
  const Channel* channel = nullptr;
  // A rule's republish (rules/engine.hpp): the rule, how many republishes deep, and
  // whether it skips the rules (direct_dispatch).
  std::string_view republished_by;
  std::uint8_t rule_depth = 0;
  bool direct_dispatch = false;

  Publisher() = default;
  Publisher(std::string_view id, const Channel* ch = nullptr) : client_id(id), channel(ch) {}
  Publisher(const std::string& id, const Channel* ch = nullptr) : client_id(id), channel(ch) {}
  Publisher(const char* id) : client_id(id) {}
};

struct PublishResult {
  std::size_t matched = 0;  // sessions matched (0 lets the channel answer NoMatchingSubscribers)
  // A matched subscriber that asks the publisher to wait (mqtt.backpressure): set only
  // for a QoS 1/2 delivery to an online session past its queue's high watermark.
  std::shared_ptr<broker::Pressure> congested;
  // Records of it went into the turn's storage batch (a delivery to a durable session, a
  // retained message): its acknowledgement waits for the commit (Hub::await_commit).
  bool stored = false;
  // The store cannot take it (disk full): it was not routed; answer Quota exceeded.
  bool refused = false;
};

// One question for the remote part of authorization (auth::Authorization::check_from):
// what the channel could not decide on its worker.
struct AuthzQuery {
  auth::AclAction action;
  std::string topic;
  std::size_t from = 0;  // the first remote source to ask
};

class Hub {
 public:
  virtual ~Hub() = default;

  // The counters of a registered topic (session/topic_metrics.hpp), null for any other
  // topic: one relaxed load while none is registered.
  TopicMetrics::Counters* topic_counters(std::string_view topic) {
    return topic_view_ != nullptr ? topic_view_->find(topic) : nullptr;
  }
  // Slow subscriptions (session/slow_subs.hpp), null when off.
  SlowSubs* slow_subs() const {
    return slow_subs_ != nullptr && slow_subs_->enabled() ? slow_subs_ : nullptr;
  }

  virtual const config::Config& config() const = 0;
  virtual broker::Broker& broker() = 0;
  virtual broker::Retainer& retainer() = 0;
  virtual const auth::Authorization& authorization() const = 0;
  virtual metrics::Metrics& metrics() = 0;
  virtual std::uint32_t worker_id() const = 0;
  virtual const std::string& node_name() const = 0;
  // The node's log traces (session/trace.hpp); asked once per channel, when it is made.
  virtual Tracer* tracer() { return nullptr; }

  // The node's topic rewrite rules (session/rewrite.hpp); null when there are none. Asked
  // once per channel, when it is made.
  virtual const TopicRewrite* rewrite() const { return nullptr; }
  // The node's door for new clients (session/connect_gate.hpp); null: always open.
  virtual const ConnectGate* gate() const { return nullptr; }
  // Whether delayed publish ($delayed/...) is on (session/delayed.hpp).
  virtual bool delayed_enabled() const { return false; }
  // Keeps a delayed message (session/delayed.hpp); false when max_delayed_messages are
  // kept already. `stored`: its record went into this turn's storage batch.
  virtual bool delay(DelayedMessage&& /*m*/, bool& /*stored*/) { return false; }
  // The time for expiry arithmetic (Message Expiry, await_rel_timeout, retained
  // expiry): injected so tests control it.
  virtual mqtt::Message::Clock::time_point now() const = 0;

  // Stores `m` as the topic's retained message if its RETAIN flag is set (an empty payload
  // clears it), then routes it to every matching session on every worker. Deliveries
  // leave at the end of the current event-loop turn, batched per worker.
  virtual PublishResult publish(const mqtt::MessagePtr& m, const Publisher& from) = 0;

  // The channel stopped taking input because `p` holds back its publisher: call
  // ch.release() once p->releases() (or forget it when the channel closes).
  virtual void hold(Channel& ch, std::shared_ptr<broker::Pressure> p) = 0;

  // Runs the authentication chain for the channel, which waits in the Connecting state;
  // the hub answers with Channel::on_authenticated, at once or in a later turn (or not at
  // all if the channel closes first, which it reports through channel_closed).
  virtual void authenticate(Channel& ch, auth::Credentials credentials) = 0;
  // The SCRAM users for an MQTT 5 Authentication Method ("SCRAM-SHA-256"), when the chain
  // has a scram authenticator of that algorithm; else null (0x8C Bad authentication method).
  virtual const auth::UserDatabase* scram_database(std::string_view /*method*/) const {
    return nullptr;
  }
  // Asks the remote authorization sources for the channel's queries off the worker; the
  // channel waits meanwhile (Channel::accepting_input is false). The hub answers with
  // Channel::on_authz_answers (a decision per query, in order), at once or in a later
  // turn, or not at all if the channel closes first (channel_closed).
  virtual void authorize_remote(Channel& ch, std::vector<AuthzQuery> queries) = 0;
  // Exclusive subscriptions (session/exclusive.hpp): claims `filters` for the channel's
  // client. The answers, in order, now when no other node is live; else nullopt, and the
  // hub answers later with Channel::on_exclusive_answers (the channel waits meanwhile, as
  // for authorization), or not at all if the channel closes first (then it gives the
  // granted claims back itself).
  virtual std::optional<std::vector<ClaimAnswer>> claim_exclusive(
      Channel& ch, const std::vector<std::string>& filters) = 0;
  // The claim of `filter` by `client_id` goes: unsubscribed, or its session ended.
  virtual void release_exclusive(const std::string& client_id, const std::string& filter) = 0;
  // A will whose authorization needs a remote source: published once (and if) the
  // rest of the chain allows it, as `subject`.
  virtual void publish_will_after_authz(std::shared_ptr<const auth::Subject> subject,
                                        AuthzQuery query, mqtt::MessagePtr will,
                                        std::string client_id) = 0;
  // Whether the client may not connect (banned, session/banned.hpp).
  virtual bool banned(const std::string& client_id, const std::optional<std::string>& username,
                      std::string_view peerhost) = 0;
  // The channel's credentials expire at `wall_ms` (Unix ms): the hub calls
  // ch.credentials_expired() then, unless the channel closed first.
  virtual void expire_at(Channel& ch, std::int64_t wall_ms) = 0;
  // The channel's rules from the database authorization sources are stale: fetch them
  // again off the worker and hand them to ch.on_rules_refreshed(), unless the channel
  // closes first. One fetch at a time per channel; a call while one runs does nothing.
  virtual void refresh_rules(Channel& ch) = 0;

  // Finds, takes over or creates the session of `client_id` for the channel, which waits
  // in the Connecting state; the hub answers later with Channel::on_session_ready (or not
  // at all if the channel closes first, which it reports through channel_closed).
  virtual void open_session(Channel& ch, const std::string& client_id, bool clean_start) = 0;

  // The channel's connection is gone. `session` (may be null) is now offline; the hub
  // keeps it for its expiry interval or discards it.
  virtual void channel_closed(Channel& ch, Session* session) = 0;

  // The channel has MQTT 3.1.1 messages in flight: call its retry() now and then until
  // it has none (mqtt.retry_interval). Idempotent.
  virtual void watch_retry(Channel& ch) = 0;

  // The channel's session subscribed to (or unsubscribed from) `filter`: the $SYS events
  // (sys_topics.sys_event_messages.client_subscribed / client_unsubscribed).
  virtual void subscribed(const Channel& ch, std::string_view filter,
                          const mqtt::SubscribeOptions& opts) = 0;
  virtual void unsubscribed(const Channel& ch, std::string_view filter) = 0;

  // The rules' $events that happen in a channel (rules/rule.hpp): client_connack (`reason`)
  // and client_check_authz_complete (`action`, `topic`, `decision`). The channel asks
  // listens() first (one relaxed load) and builds nothing while no rule reads the event.
  struct ChannelEvent {
    mqtt::ReasonCode reason = mqtt::ReasonCode::Success;
    const auth::AclAction* action = nullptr;
    std::string_view topic;
    const auth::AuthzDecision* decision = nullptr;
  };
  virtual bool listens(rules::Event /*e*/) const { return false; }
  virtual void channel_event(rules::Event /*e*/, const Channel& /*ch*/,
                             const ChannelEvent& /*what*/) {}

  // The per-delivery $events: message_delivered (a PUBLISH written to the subscriber),
  // message_acked (its PUBACK, or PUBREC for QoS 2, as EMQX) and delivery_dropped
  // (`reason`: queue_full, expired, qos0_msg, too_large). The receiver is `client_id`,
  // connected on `channel` (null for an offline session). The caller asks listens() first.
  struct DeliveryEvent {
    const mqtt::Message& msg;
    mqtt::QoS qos;  // as delivered (the subscription's maximum applied)
    bool retain;
    std::string_view client_id;
    const Channel* channel;
    std::string_view reason;
  };
  virtual void delivery_event(rules::Event /*e*/, const DeliveryEvent& /*what*/) {}
  // The origin a new message of this client carries (mqtt/message.hpp: MessageOrigin),
  // or null while no rule reads a per-delivery event.
  virtual std::shared_ptr<const mqtt::MessageOrigin> origin(
      std::string_view /*client_id*/, const std::optional<std::string>& /*username*/) {
    return nullptr;
  }

  // A client id for a v5 client that sent none [MQTT-3.2.2-16].
  virtual std::string assign_client_id() = 0;

  // Durable sessions (storage/store.hpp). The batch of the current event-loop turn, which
  // the hub commits at the end of the turn; null when nothing is durable
  // (durable_sessions.enable = false). Records that need no acknowledgement to wait
  // (delivery states, erasures) just go in.
  virtual storage::Batch* store_batch() = 0;
  // A new storage id: session uids and delivery seqs, unique across restarts.
  virtual std::uint64_t next_store_seq() = 0;
  // The channel has put records in this turn's batch that its next output promises: the
  // hub calls ch.committed(ticket, status) when that batch is stored. Returns the ticket
  // (increasing per hub). `published` is the message whose acknowledgement waits (null for
  // other output): if the commit fails, the publisher is refused (0x97) and the hub drops
  // the message's deliveries, which wait for the same commit, so nobody receives it.
  virtual std::uint64_t await_commit(Channel& ch, const mqtt::Message* published) = 0;

 protected:
  // Set by the implementation (WorkerCore: the node's); null in hubs without them.
  TopicMetrics::View* topic_view_ = nullptr;
  SlowSubs* slow_subs_ = nullptr;
};

}  // namespace emqxd::session
