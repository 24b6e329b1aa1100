// The only translation unit that includes the generated gRPC code (cluster.grpc.pb.h):
// protobuf <-> plain C++ conversions, the synchronous services, and the client calls.
#include "cluster/rpc/transport.hpp"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "cluster.grpc.pb.h"
#include "cluster/auth.hpp"
#include "common/log.hpp"
#include "storage/records.hpp"

namespace emqxd::cluster::rpc {

namespace pb = emqxd::cluster::v1;
using session::SessionState;

namespace {

// What a client reads: a Takeover's answer may be large (a session's whole queue), and it
// comes from a server that proved it holds the cookie. What a server reads is
// AuthOptions::max_request_bytes.
constexpr int kMaxMessageBytes = 256 * 1024 * 1024;

// The full method names, as signed (cluster/auth.hpp).
constexpr const char* kSend = "/emqxd.cluster.v1.Membership/Send";
constexpr const char* kLink = "/emqxd.cluster.v1.Peer/Link";
constexpr const char* kRegister = "/emqxd.cluster.v1.Sessions/Register";
constexpr const char* kUnregister = "/emqxd.cluster.v1.Sessions/Unregister";
constexpr const char* kTakeover = "/emqxd.cluster.v1.Sessions/Takeover";
constexpr const char* kQuery = "/emqxd.cluster.v1.Admin/Query";

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("cluster");
  return l;
}

// ------------------------------------------------------------ conversions: membership

void to_pb(const NodeAddress& a, pb::NodeAddress& out) {
  out.set_name(a.name);
  out.set_host(a.host);
  out.set_port(a.port);
}

NodeAddress from_pb(const pb::NodeAddress& a) {
  NodeAddress n;
  n.name = a.name();
  n.host = a.host();
  n.port =
      static_cast<std::uint16_t>(a.port() > 0 && a.port() <= 65535 ? a.port() : kDefaultRpcPort);
  return n;
}

pb::MemberState to_pb(MemberState s) {
  switch (s) {
    case MemberState::Alive:
      return pb::MEMBER_STATE_ALIVE;
    case MemberState::Suspect:
      return pb::MEMBER_STATE_SUSPECT;
    case MemberState::Dead:
      return pb::MEMBER_STATE_DEAD;
    case MemberState::Left:
      return pb::MEMBER_STATE_LEFT;
  }
  return pb::MEMBER_STATE_DEAD;
}

MemberState from_pb(pb::MemberState s) {
  switch (s) {
    case pb::MEMBER_STATE_ALIVE:
      return MemberState::Alive;
    case pb::MEMBER_STATE_SUSPECT:
      return MemberState::Suspect;
    case pb::MEMBER_STATE_LEFT:
      return MemberState::Left;
    default:
      return MemberState::Dead;
  }
}

void to_pb(const std::vector<MemberUpdate>& in,
           google::protobuf::RepeatedPtrField<pb::MemberUpdate>& out) {
  for (const auto& u : in) {
    auto* x = out.Add();
    to_pb(u.node, *x->mutable_node());
    x->set_incarnation(u.incarnation);
    x->set_state(to_pb(u.state));
  }
}

std::vector<MemberUpdate> from_pb(const google::protobuf::RepeatedPtrField<pb::MemberUpdate>& in) {
  std::vector<MemberUpdate> out;
  out.reserve(static_cast<std::size_t>(in.size()));
  for (const auto& u : in)
    out.push_back({from_pb(u.node()), u.incarnation(), from_pb(u.state())});
  return out;
}

void to_pb(const Message& m, pb::MembershipMessage& out) {
  out.set_cluster(m.cluster);
  to_pb(m.from, *out.mutable_from());
  out.set_from_incarnation(m.from_incarnation);
  out.set_to(m.to);
  to_pb(m.updates, *out.mutable_updates());
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Ping>) {
          out.mutable_ping()->set_seq(b.seq);
        } else if constexpr (std::is_same_v<T, PingReq>) {
          out.mutable_ping_req()->set_seq(b.seq);
          to_pb(b.target, *out.mutable_ping_req()->mutable_target());
        } else if constexpr (std::is_same_v<T, Ack>) {
          out.mutable_ack()->set_seq(b.seq);
        } else if constexpr (std::is_same_v<T, Join>) {
          out.mutable_join();
        } else if constexpr (std::is_same_v<T, JoinAck>) {
          to_pb(b.members, *out.mutable_join_ack()->mutable_members());
        } else if constexpr (std::is_same_v<T, Sync>) {
          to_pb(b.members, *out.mutable_sync()->mutable_members());
        } else if constexpr (std::is_same_v<T, SyncAck>) {
          to_pb(b.members, *out.mutable_sync_ack()->mutable_members());
        } else if constexpr (std::is_same_v<T, Gossip>) {
          out.mutable_gossip();
        } else {
          out.mutable_leave();
        }
      },
      m.body);
}

std::optional<Message> from_pb(const pb::MembershipMessage& in) {
  Message m;
  m.cluster = in.cluster();
  m.from = from_pb(in.from());
  m.from_incarnation = in.from_incarnation();
  m.to = in.to();
  m.updates = from_pb(in.updates());
  switch (in.body_case()) {
    case pb::MembershipMessage::kPing:
      m.body = Ping{in.ping().seq()};
      break;
    case pb::MembershipMessage::kPingReq:
      m.body = PingReq{in.ping_req().seq(), from_pb(in.ping_req().target())};
      break;
    case pb::MembershipMessage::kAck:
      m.body = Ack{in.ack().seq()};
      break;
    case pb::MembershipMessage::kJoin:
      m.body = Join{};
      break;
    case pb::MembershipMessage::kJoinAck:
      m.body = JoinAck{from_pb(in.join_ack().members())};
      break;
    case pb::MembershipMessage::kSync:
      m.body = Sync{from_pb(in.sync().members())};
      break;
    case pb::MembershipMessage::kSyncAck:
      m.body = SyncAck{from_pb(in.sync_ack().members())};
      break;
    case pb::MembershipMessage::kGossip:
      m.body = Gossip{};
      break;
    case pb::MembershipMessage::kLeave:
      m.body = Leave{};
      break;
    default:
      return std::nullopt;  // a body this version does not know: dropped
  }
  return m;
}

// ------------------------------------------------------------ conversions: messages

// The two clocks read once per batch, to turn steady receive times into Unix ms and back.
struct Clocks {
  mqtt::Message::Clock::time_point steady = mqtt::Message::Clock::now();
  std::int64_t wall_ms = mqtt::wall_ms_now();
};

void to_pb(const mqtt::Message& m, const Clocks& c, pb::ForwardedMessage& out) {
  out.set_topic(m.topic);
  out.set_payload(m.payload);
  out.set_qos(static_cast<std::uint32_t>(m.qos));
  out.set_retain(m.retain);
  std::int64_t received = m.received_at_ms;
  if (received == 0) {
    received =
        c.wall_ms -
        std::chrono::duration_cast<std::chrono::milliseconds>(c.steady - m.received_at).count();
  }
  out.set_received_at_ms(received);
  if (m.message_expiry_interval) out.set_message_expiry_interval(*m.message_expiry_interval);
  if (const auto& x = m.extra) {
    if (x->payload_format_indicator) out.set_payload_format_indicator(*x->payload_format_indicator);
    if (x->content_type) out.set_content_type(*x->content_type);
    if (x->response_topic) out.set_response_topic(*x->response_topic);
    if (x->correlation_data) out.set_correlation_data(*x->correlation_data);
    for (const auto& [k, v] : x->user_properties) {
      auto* p = out.add_user_properties();
      p->set_key(k);
      p->set_value(v);
    }
  }
  if (m.rule_depth != 0) out.set_rule_depth(m.rule_depth);
  if (const auto& o = m.origin) {
    auto* po = out.mutable_origin();
    po->set_id(o->id);
    po->set_client_id(o->client_id);
    if (o->username) po->set_username(*o->username);
    po->set_republished_by(o->republished_by);
  }
}

mqtt::MessagePtr from_pb(const pb::ForwardedMessage& in, const Clocks& c) {
  auto m = std::make_shared<mqtt::Message>();
  m->topic = in.topic();
  m->payload = in.payload();
  m->qos = static_cast<mqtt::QoS>(std::min<std::uint32_t>(in.qos(), 2));
  m->retain = in.retain();
  m->received_at_ms = in.received_at_ms();
  // A peer's clock (or a broken peer) may say anything: saturate, never overflow; a time in
  // the future is now.
  m->received_at = storage::to_steady(std::min(in.received_at_ms(), c.wall_ms),
                                      storage::ClockPair{c.steady, c.wall_ms});
  if (in.has_message_expiry_interval()) m->message_expiry_interval = in.message_expiry_interval();
  if (in.has_payload_format_indicator() || in.has_content_type() || in.has_response_topic() ||
      in.has_correlation_data() || in.user_properties_size() > 0) {
    auto x = std::make_shared<mqtt::MessageExtra>();
    if (in.has_payload_format_indicator()) {
      x->payload_format_indicator = static_cast<std::uint8_t>(in.payload_format_indicator());
    }
    if (in.has_content_type()) x->content_type = in.content_type();
    if (in.has_response_topic()) x->response_topic = in.response_topic();
    if (in.has_correlation_data()) x->correlation_data = in.correlation_data();
    for (const auto& p : in.user_properties())
      x->user_properties.emplace_back(p.key(), p.value());
    m->extra = std::move(x);
  }
  m->rule_depth = static_cast<std::uint8_t>(std::min<std::uint32_t>(in.rule_depth(), 255));
  if (in.has_origin()) {
    auto o = std::make_shared<mqtt::MessageOrigin>();
    o->id = in.origin().id();
    o->client_id = in.origin().client_id();
    if (in.origin().has_username()) o->username = in.origin().username();
    o->republished_by = in.origin().republished_by();
    m->origin = std::move(o);
  }
  return m;
}

void to_pb(const broker::Route& r, pb::Route& out) {
  out.set_topic_filter(r.filter);
  out.set_share_group(r.group);
}

broker::Route from_pb(const pb::Route& r) {
  return {r.topic_filter(), r.share_group()};
}

// ------------------------------------------------------------ conversions: sessions

void to_pb(const SessionState& s, pb::SessionState& out) {
  Clocks c;
  out.set_client_id(s.client_id);
  out.set_protocol_version(s.protocol_version);
  out.set_session_expiry_interval(s.expiry_interval);
  for (const auto& sub : s.subscriptions) {
    auto* x = out.add_subscriptions();
    x->set_topic_filter(sub.filter);
    x->set_options(storage::encode_options(sub.options));
    x->set_subscription_identifier(sub.subscription_id);
  }
  for (const auto& d : s.deliveries) {
    auto* x = out.add_messages();
    x->set_kind(d.state == storage::OutState::Queued        ? pb::SessionMessage::KIND_QUEUED
                : d.state == storage::OutState::WaitPubComp ? pb::SessionMessage::KIND_PUBREL
                                                            : pb::SessionMessage::KIND_INFLIGHT);
    x->set_packet_id(d.packet_id);
    x->set_qos(static_cast<std::uint32_t>(d.qos));
    x->set_retain(d.retain);
    for (auto id : d.subscription_ids)
      x->add_subscription_identifiers(id);
    x->set_share(d.share);
    if (d.msg) to_pb(*d.msg, c, *x->mutable_message());
  }
  for (auto id : s.awaiting_rel)
    out.add_awaiting_rel(id);
}

SessionState from_pb(const pb::SessionState& in) {
  Clocks c;
  SessionState s;
  s.client_id = in.client_id();
  s.protocol_version = static_cast<std::uint8_t>(in.protocol_version());
  s.expiry_interval = in.session_expiry_interval();
  for (const auto& sub : in.subscriptions()) {
    auto opts = storage::decode_options(static_cast<std::uint8_t>(sub.options()));
    if (!opts) continue;  // a byte this version cannot read: the subscription is dropped
    s.subscriptions.push_back({sub.topic_filter(), *opts, sub.subscription_identifier()});
  }
  for (const auto& m : in.messages()) {
    SessionState::Delivery d;
    d.packet_id = static_cast<std::uint16_t>(m.packet_id());
    d.qos = static_cast<mqtt::QoS>(std::min<std::uint32_t>(m.qos(), 2));
    d.state = m.kind() == pb::SessionMessage::KIND_PUBREL     ? storage::OutState::WaitPubComp
              : m.kind() != pb::SessionMessage::KIND_INFLIGHT ? storage::OutState::Queued
              : d.qos == mqtt::QoS::AtLeastOnce               ? storage::OutState::WaitPubAck
                                                              : storage::OutState::WaitPubRec;
    d.retain = m.retain();
    d.subscription_ids.assign(m.subscription_identifiers().begin(),
                              m.subscription_identifiers().end());
    d.share = m.share();
    if (m.has_message()) d.msg = from_pb(m.message(), c);
    if (!d.msg && d.state != storage::OutState::WaitPubComp) continue;
    // A QoS 0 message is never in flight.
    if (d.qos == mqtt::QoS::AtMostOnce && d.state != storage::OutState::Queued) continue;
    s.deliveries.push_back(std::move(d));
  }
  for (auto id : in.awaiting_rel())
    s.awaiting_rel.push_back(static_cast<std::uint16_t>(id));
  return s;
}

RegisterRequest from_pb(const pb::RegisterRequest& req) {
  RegisterRequest r;
  r.cluster = req.cluster();
  r.from = from_pb(req.from());
  r.client_ids.assign(req.client_ids().begin(), req.client_ids().end());
  r.held = req.held();
  return r;
}

// `asked`: how many client ids the request named; the answer has one entry for each.
RegisterReply from_pb(const pb::RegisterReply& reply, std::size_t asked) {
  RegisterReply out;
  out.not_registry = reply.not_registry();
  for (const auto& p : reply.previous()) {
    if (p.name().empty()) {
      out.previous.emplace_back();
    } else {
      out.previous.emplace_back(from_pb(p));
    }
  }
  out.previous.resize(asked);
  return out;
}

// ------------------------------------------------------------ server

std::string read_file(const std::string& path, const char* what) {
  std::ifstream f(path);
  if (!f)
    throw std::runtime_error(std::string("cluster.rpc.ssl.") + what + ": cannot read " + path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A Link stream's message as the reader hands it up; false for a heartbeat or a message
// this version does not know (skipped).
bool from_pb(const pb::LinkMessage& msg, LinkEvent& out) {
  switch (msg.msg_case()) {
    case pb::LinkMessage::kHello: {
      const auto& h = msg.hello();
      out = LinkHello{h.cluster(), from_pb(h.from()), h.incarnation(), h.stream()};
      return true;
    }
    case pb::LinkMessage::kSnapshot: {
      LinkSnapshot s;
      s.routes.reserve(static_cast<std::size_t>(msg.snapshot().routes_size()));
      for (const auto& r : msg.snapshot().routes())
        s.routes.push_back(from_pb(r));
      s.last = msg.snapshot().last();
      out = std::move(s);
      return true;
    }
    case pb::LinkMessage::kDeltas: {
      LinkDeltas d;
      d.reserve(static_cast<std::size_t>(msg.deltas().deltas_size()));
      for (const auto& x : msg.deltas().deltas())
        d.push_back({x.add(), from_pb(x.route())});
      out = std::move(d);
      return true;
    }
    case pb::LinkMessage::kForward: {
      Clocks c;
      LinkForward f;
      f.items.reserve(static_cast<std::size_t>(msg.forward().messages_size()));
      for (const auto& m : msg.forward().messages()) {
        broker::ForwardItem item;
        item.msg = from_pb(m, c);
        item.direct = m.direct();
        item.store_retained = m.store_retained();
        if (m.has_to_session()) {
          auto t = std::make_shared<broker::SessionTarget>();
          t->client_id = m.to_session().client_id();
          t->qos = static_cast<mqtt::QoS>(std::min<std::uint32_t>(m.to_session().qos(), 2));
          t->retain = m.to_session().retain();
          t->subscription_ids.assign(m.to_session().subscription_identifiers().begin(),
                                     m.to_session().subscription_identifiers().end());
          item.to_session = std::move(t);
        }
        for (const auto& s : m.shares())
          item.shares.push_back(std::make_shared<const std::string>(s));
        f.items.push_back(std::move(item));
      }
      out = std::move(f);
      return true;
    }
    case pb::LinkMessage::kTables: {
      LinkTables t;
      t.reserve(static_cast<std::size_t>(msg.tables().entries_size()));
      for (const auto& e : msg.tables().entries())
        t.push_back(
            tables::Entry{e.table(), e.key(), e.value(), e.deleted(), e.stamp(), e.origin()});
      out = std::move(t);
      return true;
    }
    default:
      return false;  // a heartbeat, or a message this version does not know
  }
}

// ------------------------------------------------------------ authentication

// "ipv4:10.0.0.1:5555" -> "10.0.0.1": the source address the refusal log is limited by.
std::string source_address(const std::string& peer) {
  std::string a = peer;
  if (auto colon = a.find(':'); colon != std::string::npos) a = a.substr(colon + 1);
  if (auto colon = a.rfind(':'); colon != std::string::npos) a = a.substr(0, colon);
  return a;
}

// Attacker-chosen text in a log line: bounded, printable.
std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 80))
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  if (s.size() > 80) out += "...";
  return out;
}

// With cluster.rpc.ssl and verify_peer: whether the peer's certificate (already checked
// against the CA by gRPC) names `node` (cluster/auth.hpp, cert_names_node).
bool cert_names(const std::shared_ptr<const grpc::AuthContext>& ac, std::string_view node) {
  if (!ac) return false;
  auto pem = ac->FindPropertyValues("x509_pem_cert");
  return !pem.empty() && cert_names_node(std::string_view(pem[0].data(), pem[0].size()), node);
}

std::string meta(const grpc::ServerContext* ctx, const char* key) {
  const auto& md = ctx->client_metadata();
  auto it = md.find(key);
  if (it == md.end()) return {};
  return std::string(it->second.data(), std::min<std::size_t>(it->second.size(), 512));
}

// The one check every inbound call passes before anything else (docs/architecture.md,
// "Cluster trust"): the caller's proof, then the server's own in its initial metadata.
class Gate {
 public:
  // `certs`: the peer's certificate must name the node it claims to be.
  Gate(CallAuth& auth, bool certs) : auth_(auth), certs_(certs) {}

  struct Admitted {
    std::string node;  // the caller, name@host, as proven
  };

  // OK with `out` filled, or the status to answer with (logged, rate-limited).
  grpc::Status admit(grpc::ServerContext* ctx, const char* method, Admitted& out) {
    CallProof p{meta(ctx, kMetaNode), meta(ctx, kMetaTo), meta(ctx, kMetaTime),
                meta(ctx, kMetaNonce), meta(ctx, kMetaMac)};
    auto verdict = auth_.verify(method, p, mqtt::wall_ms_now());
    if (verdict != CallAuth::Verdict::Ok) {
      warn(ctx, method, p.node, to_string(verdict));
      return {grpc::StatusCode::UNAUTHENTICATED, "cluster credentials refused"};
    }
    if (certs_ && !cert_names(ctx->auth_context(), p.node)) {
      warn(ctx, method, p.node, "its TLS certificate does not name that node");
      return {grpc::StatusCode::UNAUTHENTICATED, "cluster credentials refused"};
    }
    out.node = std::move(p.node);
    ctx->AddInitialMetadata(kMetaServerNode, auth_.self_id());
    ctx->AddInitialMetadata(kMetaServerMac, auth_.server_proof(method, p.nonce));
    return grpc::Status::OK;
  }

  // An authenticated caller that asked for something it may not have.
  grpc::Status deny(grpc::ServerContext* ctx, const char* method, const std::string& node,
                    grpc::StatusCode code, const std::string& why) {
    warn(ctx, method, node, why);
    return {code, why};
  }

 private:
  // At most one line per source address per minute (and at most kMaxSources addresses
  // remembered), never the MAC or anything derived from the cookie.
  void warn(grpc::ServerContext* ctx, const char* method, const std::string& node,
            std::string_view why) {
    constexpr std::size_t kMaxSources = 4096;
    const auto now = std::chrono::steady_clock::now();
    const std::string source = source_address(ctx->peer());
    std::uint64_t suppressed = 0;
    {
      std::lock_guard lock(mutex_);
      if (sources_.size() >= kMaxSources) {
        std::erase_if(sources_, [&](const auto& kv) {
          return now - kv.second.last >= std::chrono::minutes(1);
        });
      }
      auto it = sources_.find(source);
      if (it == sources_.end()) {
        if (sources_.size() >= kMaxSources) return;
        it = sources_.emplace(source, Source{}).first;
      } else if (now - it->second.last < std::chrono::minutes(1)) {
        ++it->second.suppressed;
        return;
      }
      it->second.last = now;
      suppressed = std::exchange(it->second.suppressed, 0);
    }
    logger()->warn(
        "refused cluster call {} from {} (node '{}'): {} ({} similar lines from this "
        "address suppressed)",
        method, source, shown(node), why, suppressed);
  }

  struct Source {
    std::chrono::steady_clock::time_point last{};
    std::uint64_t suppressed = 0;
  };
  CallAuth& auth_;
  bool certs_;
  std::mutex mutex_;
  std::unordered_map<std::string, Source> sources_;  // guarded by mutex_
};

class Reader final : public LinkReader {
 public:
  Reader(grpc::ServerContext* ctx, grpc::ServerReaderWriter<pb::LinkReply, pb::LinkMessage>* stream,
         Gate& gate, std::string caller)
      : ctx_(ctx), stream_(stream), gate_(gate), caller_(std::move(caller)) {}

  bool read(LinkEvent& out) override {
    for (;;) {
      if (!stream_->Read(&msg_)) return false;
      if (!from_pb(msg_, out)) continue;
      // The stream speaks for the node that proved itself, and no other.
      if (const auto* h = std::get_if<LinkHello>(&out); h && h->from.id() != caller_) {
        (void)gate_.deny(ctx_, kLink, caller_, grpc::StatusCode::PERMISSION_DENIED,
                         "Link hello from " + shown(h->from.id()) + " on the stream of " + caller_);
        return false;
      }
      return true;
    }
  }
  void cancel() override { ctx_->TryCancel(); }
  bool accept() override {
    pb::LinkReply r;
    r.set_accepted(true);
    return stream_->Write(r);
  }

 private:
  grpc::ServerContext* ctx_;
  grpc::ServerReaderWriter<pb::LinkReply, pb::LinkMessage>* stream_;
  Gate& gate_;
  std::string caller_;
  pb::LinkMessage msg_;
};

class MembershipService final : public pb::Membership::Service {
 public:
  MembershipService(Handler& h, Gate& g) : h_(h), gate_(g) {}
  grpc::Status Send(grpc::ServerContext* ctx, const pb::MembershipMessage* req,
                    pb::SendReply*) override {
    Gate::Admitted caller;
    if (auto st = gate_.admit(ctx, kSend, caller); !st.ok()) return st;
    auto m = from_pb(*req);
    if (!m) return grpc::Status::OK;
    if (m->from.id() != caller.node) {
      return gate_.deny(ctx, kSend, caller.node, grpc::StatusCode::PERMISSION_DENIED,
                        "membership message from " + shown(m->from.id()));
    }
    h_.on_membership(std::move(*m));
    return grpc::Status::OK;
  }

 private:
  Handler& h_;
  Gate& gate_;
};

class PeerService final : public pb::Peer::Service {
 public:
  PeerService(Handler& h, Gate& g) : h_(h), gate_(g) {}
  grpc::Status Link(grpc::ServerContext* ctx,
                    grpc::ServerReaderWriter<pb::LinkReply, pb::LinkMessage>* stream) override {
    Gate::Admitted caller;
    if (auto st = gate_.admit(ctx, kLink, caller); !st.ok()) return st;
    // The proof goes out now: the origin checks it before it sends anything.
    stream->SendInitialMetadata();
    Reader r(ctx, stream, gate_, caller.node);
    h_.on_link(r);
    return grpc::Status::OK;
  }

 private:
  Handler& h_;
  Gate& gate_;
};

const grpc::Status kNotMember{grpc::StatusCode::FAILED_PRECONDITION,
                              "the caller is not a live member here"};

class SessionsService final : public pb::Sessions::Service {
 public:
  SessionsService(Handler& h, Gate& g) : h_(h), gate_(g) {}
  grpc::Status Register(grpc::ServerContext* ctx, const pb::RegisterRequest* req,
                        pb::RegisterReply* reply) override {
    Gate::Admitted caller;
    if (auto st = gate_.admit(ctx, kRegister, caller); !st.ok()) return st;
    auto r = from_pb(*req);
    if (r.from.id() != caller.node) {
      return gate_.deny(ctx, kRegister, caller.node, grpc::StatusCode::PERMISSION_DENIED,
                        "Register for " + shown(r.from.id()));
    }
    RegisterReply out = h_.on_register(r);
    if (out.not_member) return kNotMember;
    reply->set_not_registry(out.not_registry);
    for (const auto& p : out.previous) {
      auto* a = reply->add_previous();
      if (p) to_pb(*p, *a);
    }
    return grpc::Status::OK;
  }
  grpc::Status Unregister(grpc::ServerContext* ctx, const pb::UnregisterRequest* req,
                          pb::UnregisterReply*) override {
    Gate::Admitted caller;
    if (auto st = gate_.admit(ctx, kUnregister, caller); !st.ok()) return st;
    NodeAddress from = from_pb(req->from());
    if (from.id() != caller.node) {
      return gate_.deny(ctx, kUnregister, caller.node, grpc::StatusCode::PERMISSION_DENIED,
                        "Unregister for " + shown(from.id()));
    }
    if (!h_.on_unregister(req->cluster(), from,
                          {req->client_ids().begin(), req->client_ids().end()})) {
      return kNotMember;
    }
    return grpc::Status::OK;
  }
  grpc::Status Takeover(grpc::ServerContext* ctx, const pb::TakeoverRequest* req,
                        pb::TakeoverReply* reply) override {
    Gate::Admitted caller;
    if (auto st = gate_.admit(ctx, kTakeover, caller); !st.ok()) return st;
    TakeoverRequest r{req->cluster(), from_pb(req->from()), req->client_id(), req->clean_start()};
    if (r.from.id() != caller.node) {
      return gate_.deny(ctx, kTakeover, caller.node, grpc::StatusCode::PERMISSION_DENIED,
                        "Takeover for " + shown(r.from.id()));
    }
    TakeoverReply out = h_.on_takeover(r);
    if (out.not_member) return kNotMember;
    reply->set_found(out.found);
    if (out.session) to_pb(*out.session, *reply->mutable_session());
    return grpc::Status::OK;
  }

 private:
  Handler& h_;
  Gate& gate_;
};

class AdminService final : public pb::Admin::Service {
 public:
  AdminService(Handler& h, Gate& g) : h_(h), gate_(g) {}
  grpc::Status Query(grpc::ServerContext* ctx, const pb::QueryRequest* req,
                     pb::QueryReply* reply) override {
    Gate::Admitted caller;
    if (auto st = gate_.admit(ctx, kQuery, caller); !st.ok()) return st;
    QueryRequest r{req->cluster(), from_pb(req->from()), req->name(), req->args()};
    if (r.from.id() != caller.node) {
      return gate_.deny(ctx, kQuery, caller.node, grpc::StatusCode::PERMISSION_DENIED,
                        "Query for " + shown(r.from.id()));
    }
    QueryReply out = h_.on_query(r);
    if (out.not_member) return kNotMember;
    reply->set_status(static_cast<std::uint32_t>(out.status));
    reply->set_body(std::move(out.body));
    return grpc::Status::OK;
  }

 private:
  Handler& h_;
  Gate& gate_;
};

// ------------------------------------------------------------ client

// Signs a call of `method` to `to` (cluster/auth.hpp); the proof's nonce is what the
// server's answer must cover.
CallProof attach(grpc::ClientContext& ctx, const CallAuth& auth, const char* method,
                 const NodeAddress& to) {
  CallProof p = auth.sign(method, to.id(), mqtt::wall_ms_now());
  ctx.AddMetadata(kMetaNode, p.node);
  ctx.AddMetadata(kMetaTo, p.to);
  ctx.AddMetadata(kMetaTime, p.time);
  ctx.AddMetadata(kMetaNonce, p.nonce);
  ctx.AddMetadata(kMetaMac, p.mac);
  return p;
}

// Whether the server's initial metadata proves that `to`, holding the cookie, answered.
// Logged (rate-limited) when it does not.
// With `certs`, the server's TLS certificate must also name `to`.
bool proven(const grpc::ClientContext& ctx, const CallAuth& auth, bool certs, const char* method,
            const NodeAddress& to, const CallProof& p) {
  const auto& md = ctx.GetServerInitialMetadata();
  auto get = [&](const char* key) {
    auto it = md.find(key);
    return it == md.end() ? std::string_view{}
                          : std::string_view(it->second.data(), it->second.size());
  };
  const bool mac_ok =
      auth.check_server_proof(method, to.id(), get(kMetaServerNode), p.nonce, get(kMetaServerMac));
  const bool cert_ok = !certs || cert_names(ctx.auth_context(), to.id());
  if (mac_ok && cert_ok) return true;
  thread_local log::Throttle throttle{1};
  std::uint64_t suppressed = 0;
  if (throttle.allow(std::chrono::steady_clock::now(), suppressed)) {
    logger()->warn(
        "the answer to {} from {} does not prove it is that node ({}): ignored ({} similar "
        "lines suppressed)",
        method, to.to_string(),
        mac_ok ? "its TLS certificate does not name it" : "not this cluster's node.cookie",
        suppressed);
  }
  return false;
}

// A call the peer refused for our credentials: say so (rate-limited), it is a setup error.
void note_refusal(const grpc::Status& st, const char* method, const NodeAddress& to) {
  if (st.error_code() != grpc::StatusCode::UNAUTHENTICATED) return;
  thread_local log::Throttle throttle{1};
  std::uint64_t suppressed = 0;
  if (throttle.allow(std::chrono::steady_clock::now(), suppressed)) {
    logger()->warn(
        "{} refused this node's cluster credentials on {} (the same node.cookie on both? "
        "clocks within 60 s?) ({} similar lines suppressed)",
        to.to_string(), method, suppressed);
  }
}

class Writer final : public LinkWriter {
 public:
  Writer(pb::Peer::Stub& stub, const CallAuth& auth, bool certs, NodeAddress to)
      : auth_(auth), certs_(certs), to_(std::move(to)) {
    proof_ = attach(ctx_, auth_, kLink, to_);
    stream_ = stub.Link(&ctx_);
  }
  ~Writer() override {
    if (!broken_) {
      stream_->WritesDone();
      (void)stream_->Finish();
    } else {
      ctx_.TryCancel();
      (void)stream_->Finish();
    }
  }
  bool write(const LinkHello& h) override {
    // Nothing goes out before the peer proved it is `to_` with the cookie.
    if (!broken_) {
      stream_->WaitForInitialMetadata();
      // No proof at all: the call failed (unreachable, refused); a wrong one is logged.
      if (ctx_.GetServerInitialMetadata().count(kMetaServerNode) == 0 ||
          !proven(ctx_, auth_, certs_, kLink, to_, proof_)) {
        broken_ = true;
        ctx_.TryCancel();
      }
    }
    if (broken_) return false;
    msg_.Clear();
    auto* x = msg_.mutable_hello();
    x->set_cluster(h.cluster);
    to_pb(h.from, *x->mutable_from());
    x->set_incarnation(h.incarnation);
    x->set_stream(h.stream);
    return put();
  }
  bool write(const LinkSnapshot& s) override {
    msg_.Clear();
    auto* x = msg_.mutable_snapshot();
    for (const auto& r : s.routes)
      to_pb(r, *x->add_routes());
    x->set_last(s.last);
    return put();
  }
  bool write(const LinkDeltas& deltas) override {
    msg_.Clear();
    auto* all = msg_.mutable_deltas();
    for (const auto& d : deltas) {
      auto* x = all->add_deltas();
      x->set_add(d.add);
      to_pb(d.route, *x->mutable_route());
    }
    return put();
  }
  bool write(const std::vector<broker::ForwardItem>& items) override {
    msg_.Clear();
    Clocks c;
    auto* batch = msg_.mutable_forward();
    for (const auto& item : items) {
      auto* m = batch->add_messages();
      to_pb(*item.msg, c, *m);
      m->set_direct(item.direct);
      m->set_store_retained(item.store_retained);
      if (const auto& t = item.to_session) {
        auto* x = m->mutable_to_session();
        x->set_client_id(t->client_id);
        x->set_qos(static_cast<std::uint32_t>(t->qos));
        x->set_retain(t->retain);
        for (auto id : t->subscription_ids)
          x->add_subscription_identifiers(id);
      }
      for (const auto& s : item.shares)
        m->add_shares(*s);
    }
    return put();
  }
  bool write(const LinkTables& entries) override {
    msg_.Clear();
    auto* all = msg_.mutable_tables();
    for (const auto& e : entries) {
      auto* x = all->add_entries();
      x->set_table(e.table);
      x->set_key(e.key);
      x->set_value(e.value);
      x->set_deleted(e.deleted);
      x->set_stamp(e.stamp);
      x->set_origin(e.origin);
    }
    return put();
  }
  bool heartbeat() override {
    msg_.Clear();
    msg_.mutable_heartbeat();
    return put();
  }
  bool accepted() override {
    pb::LinkReply r;
    if (broken_ || !stream_->Read(&r) || !r.accepted()) broken_ = true;
    return !broken_;
  }
  void cancel() override { ctx_.TryCancel(); }

 private:
  bool put() {
    if (broken_) return false;
    if (!stream_->Write(msg_)) broken_ = true;
    return !broken_;
  }
  const CallAuth& auth_;
  bool certs_;
  NodeAddress to_;
  CallProof proof_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReaderWriter<pb::LinkMessage, pb::LinkReply>> stream_;
  pb::LinkMessage msg_;
  bool broken_ = false;
};

}  // namespace

struct Transport::Impl {
  TlsOptions tls;
  // Whether each end's certificate must name the node it speaks as (cluster/auth.hpp).
  bool certs() const { return tls.enable && tls.verify_peer; }
  AuthOptions options;
  std::unique_ptr<CallAuth> auth;  // set once by the constructor
  std::unique_ptr<Gate> gate;
  std::unique_ptr<MembershipService> membership;
  std::unique_ptr<PeerService> peer;
  std::unique_ptr<SessionsService> sessions;
  std::unique_ptr<AdminService> admin;
  std::unique_ptr<grpc::Server> server;

  std::mutex mutex;
  struct Stubs {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<pb::Membership::Stub> membership;
    std::unique_ptr<pb::Peer::Stub> peer;
    std::unique_ptr<pb::Sessions::Stub> sessions;
    std::unique_ptr<pb::Admin::Stub> admin;
  };
  std::unordered_map<std::string, std::shared_ptr<Stubs>> stubs;  // by endpoint; guarded
  // Read once, by serve() at start-up (where a missing file may throw and stop the node),
  // so that no cluster, link or session thread reads a file or throws later.
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // guarded by mutex

  std::shared_ptr<grpc::ChannelCredentials> client_credentials() {
    if (!tls.enable) return grpc::InsecureChannelCredentials();
    grpc::SslCredentialsOptions o;
    if (!tls.cacertfile.empty()) o.pem_root_certs = read_file(tls.cacertfile, "cacertfile");
    o.pem_private_key = read_file(tls.keyfile, "keyfile");
    o.pem_cert_chain = read_file(tls.certfile, "certfile");
    return grpc::SslCredentials(o);
  }

  // The stubs for `to`; nullptr (logged, rate-limited) when there are no client
  // credentials: a call that cannot be made fails as an unreachable peer's does.
  // Never throws: it runs on the threads that serve the cluster.
  std::shared_ptr<Stubs> stubs_for(const NodeAddress& to) {
    std::string endpoint = to.endpoint();
    std::lock_guard lock(mutex);
    if (!credentials) {
      try {
        credentials = client_credentials();  // serve() was not called: a client only
      } catch (const std::exception& e) {
        thread_local log::Throttle throttle{1};
        std::uint64_t suppressed = 0;
        if (throttle.allow(std::chrono::steady_clock::now(), suppressed)) {
          log::get("cluster")->error(
              "cluster RPC to {} not sent: {} ({} similar lines "
              "suppressed)",
              to.to_string(), e.what(), suppressed);
        }
        return nullptr;
      }
    }
    auto& s = stubs[endpoint];
    if (!s) {
      grpc::ChannelArguments args;
      args.SetMaxReceiveMessageSize(kMaxMessageBytes);
      args.SetMaxSendMessageSize(kMaxMessageBytes);
      // A restarted peer is back within a second, not after gRPC's default backoff (up to 2
      // minutes); membership decides whether it is alive, not the channel.
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
      // Every peer shares one connection per endpoint: no per-call subchannel pools.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      s = std::make_shared<Stubs>();
      s->channel = grpc::CreateCustomChannel(endpoint, credentials, args);
      s->membership = pb::Membership::NewStub(s->channel);
      s->peer = pb::Peer::NewStub(s->channel);
      s->sessions = pb::Sessions::NewStub(s->channel);
      s->admin = pb::Admin::NewStub(s->channel);
    }
    return s;
  }
};

Transport::Transport(TlsOptions tls, AuthOptions auth) : impl_(std::make_unique<Impl>()) {
  impl_->tls = std::move(tls);
  impl_->options = std::move(auth);
  impl_->auth = std::make_unique<CallAuth>(impl_->options.cookie, impl_->options.cluster,
                                           impl_->options.self_id);
  impl_->options.cookie.clear();  // only the derived key is kept (in CallAuth)
  impl_->gate = std::make_unique<Gate>(*impl_->auth, impl_->certs());
}

Transport::~Transport() {
  stop();
}

void Transport::serve(const std::string& bind, Handler& handler) {
  auto& m = *impl_;
  m.membership = std::make_unique<MembershipService>(handler, *m.gate);
  m.peer = std::make_unique<PeerService>(handler, *m.gate);
  m.sessions = std::make_unique<SessionsService>(handler, *m.gate);
  m.admin = std::make_unique<AdminService>(handler, *m.gate);
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (m.tls.enable) {
    grpc::SslServerCredentialsOptions o(
        m.tls.verify_peer ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                          : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    if (!m.tls.cacertfile.empty()) o.pem_root_certs = read_file(m.tls.cacertfile, "cacertfile");
    o.pem_key_cert_pairs.push_back(
        {read_file(m.tls.keyfile, "keyfile"), read_file(m.tls.certfile, "certfile")});
    creds = grpc::SslServerCredentials(o);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  {
    auto client = m.client_credentials();  // throws naming the file, at start-up
    std::lock_guard lock(m.mutex);
    m.credentials = std::move(client);
  }
  grpc::ServerBuilder b;
  int port = 0;
  b.AddListeningPort(bind, creds, &port);
  // Anything larger is refused by gRPC before it is parsed or reaches a handler.
  b.SetMaxReceiveMessageSize(static_cast<int>(
      std::min<std::size_t>(m.options.max_request_bytes, static_cast<std::size_t>(INT32_MAX))));
  b.SetMaxSendMessageSize(kMaxMessageBytes);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, 5000);
  // gRPC sets SO_REUSEPORT by default: a second node on this port would share it.
  b.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  b.RegisterService(m.membership.get());
  b.RegisterService(m.peer.get());
  b.RegisterService(m.sessions.get());
  b.RegisterService(m.admin.get());
  m.server = b.BuildAndStart();
  if (!m.server || port == 0) {
    m.server.reset();
    throw std::runtime_error("cluster.rpc.bind: cannot listen on " + bind +
                             " (address in use or not local?)");
  }
}

void Transport::stop() {
  auto& m = *impl_;
  if (m.server) {
    m.server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    m.server->Wait();
    m.server.reset();
  }
  std::lock_guard lock(m.mutex);
  m.stubs.clear();
}

void Transport::send(const NodeAddress& to, const Message& msg,
                     std::chrono::milliseconds deadline) {
  auto stubs = impl_->stubs_for(to);
  if (!stubs) return;  // lost, as SWIM expects some messages to be
  struct Call {
    grpc::ClientContext ctx;
    pb::MembershipMessage req;
    pb::SendReply reply;
    std::shared_ptr<Impl::Stubs> keep;
  };
  auto* call = new Call;
  call->keep = stubs;
  to_pb(msg, call->req);
  call->ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  (void)attach(call->ctx, *impl_->auth, kSend, to);
  // The reply is empty: nothing is taken from it, so the server's proof is not needed.
  stubs->membership->async()->Send(&call->ctx, &call->req, &call->reply,
                                   [call, to](grpc::Status st) {
                                     note_refusal(st, kSend, to);
                                     delete call;
                                   });
}

std::unique_ptr<LinkWriter> Transport::open_link(const NodeAddress& to) {
  auto stubs = impl_->stubs_for(to);
  if (!stubs) return nullptr;
  return std::make_unique<Writer>(*stubs->peer, *impl_->auth, impl_->certs(), to);
}

std::optional<RegisterReply> Transport::call_register(const NodeAddress& to,
                                                      const RegisterRequest& r,
                                                      std::chrono::milliseconds deadline) {
  auto stubs = impl_->stubs_for(to);
  if (!stubs) return std::nullopt;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  auto proof = attach(ctx, *impl_->auth, kRegister, to);
  pb::RegisterRequest req;
  req.set_cluster(r.cluster);
  to_pb(r.from, *req.mutable_from());
  for (const auto& id : r.client_ids)
    req.add_client_ids(id);
  req.set_held(r.held);
  pb::RegisterReply reply;
  auto st = stubs->sessions->Register(&ctx, req, &reply);
  note_refusal(st, kRegister, to);
  if (!st.ok() || !proven(ctx, *impl_->auth, impl_->certs(), kRegister, to, proof))
    return std::nullopt;
  return from_pb(reply, r.client_ids.size());
}

bool Transport::call_unregister(const NodeAddress& to, const std::string& cluster,
                                const NodeAddress& from, const std::vector<std::string>& client_ids,
                                std::chrono::milliseconds deadline) {
  auto stubs = impl_->stubs_for(to);
  if (!stubs) return false;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  auto proof = attach(ctx, *impl_->auth, kUnregister, to);
  pb::UnregisterRequest req;
  req.set_cluster(cluster);
  to_pb(from, *req.mutable_from());
  for (const auto& id : client_ids)
    req.add_client_ids(id);
  pb::UnregisterReply reply;
  auto st = stubs->sessions->Unregister(&ctx, req, &reply);
  note_refusal(st, kUnregister, to);
  return st.ok() && proven(ctx, *impl_->auth, impl_->certs(), kUnregister, to, proof);
}

std::optional<TakeoverReply> Transport::call_takeover(const NodeAddress& to,
                                                      const TakeoverRequest& r,
                                                      std::chrono::milliseconds deadline) {
  auto stubs = impl_->stubs_for(to);
  if (!stubs) return std::nullopt;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  auto proof = attach(ctx, *impl_->auth, kTakeover, to);
  pb::TakeoverRequest req;
  req.set_cluster(r.cluster);
  to_pb(r.from, *req.mutable_from());
  req.set_client_id(r.client_id);
  req.set_clean_start(r.clean_start);
  pb::TakeoverReply reply;
  auto st = stubs->sessions->Takeover(&ctx, req, &reply);
  note_refusal(st, kTakeover, to);
  if (!st.ok() || !proven(ctx, *impl_->auth, impl_->certs(), kTakeover, to, proof))
    return std::nullopt;
  TakeoverReply out;
  out.found = reply.found();
  if (reply.has_session()) out.session = from_pb(reply.session());
  return out;
}

std::optional<QueryReply> Transport::call_query(const NodeAddress& to, const QueryRequest& r,
                                                std::chrono::milliseconds deadline) {
  auto stubs = impl_->stubs_for(to);
  if (!stubs) return std::nullopt;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + deadline);
  auto proof = attach(ctx, *impl_->auth, kQuery, to);
  pb::QueryRequest req;
  req.set_cluster(r.cluster);
  to_pb(r.from, *req.mutable_from());
  req.set_name(r.name);
  req.set_args(r.args);
  pb::QueryReply reply;
  auto st = stubs->admin->Query(&ctx, req, &reply);
  note_refusal(st, kQuery, to);
  if (!st.ok() || !proven(ctx, *impl_->auth, impl_->certs(), kQuery, to, proof))
    return std::nullopt;
  QueryReply out;
  out.status = static_cast<int>(reply.status());
  out.body = std::move(*reply.mutable_body());
  return out;
}

bool decode_from_peer_for_test(PeerMessage kind, std::string_view bytes) {
  const auto size = static_cast<int>(std::min<std::size_t>(bytes.size(), INT32_MAX));
  switch (kind) {
    case PeerMessage::Link: {
      pb::LinkMessage msg;
      if (!msg.ParseFromArray(bytes.data(), size)) return false;
      LinkEvent event;
      (void)from_pb(msg, event);
      return true;
    }
    case PeerMessage::Membership: {
      pb::MembershipMessage msg;
      if (!msg.ParseFromArray(bytes.data(), size)) return false;
      if (auto m = from_pb(msg)) {
        pb::MembershipMessage again;
        to_pb(*m, again);
        (void)again.SerializeAsString();
      }
      return true;
    }
    case PeerMessage::Register: {
      pb::RegisterRequest msg;
      if (!msg.ParseFromArray(bytes.data(), size)) return false;
      (void)from_pb(msg);
      return true;
    }
    case PeerMessage::RegisterReply: {
      pb::RegisterReply msg;
      if (!msg.ParseFromArray(bytes.data(), size)) return false;
      (void)from_pb(msg, 3);  // as if three client ids were asked about
      return true;
    }
    case PeerMessage::TakeoverReply: {
      pb::TakeoverReply msg;
      if (!msg.ParseFromArray(bytes.data(), size)) return false;
      if (msg.has_session()) {
        SessionState s = from_pb(msg.session());
        pb::SessionState again;
        to_pb(s, again);
        (void)again.SerializeAsString();
      }
      return true;
    }
  }
  return false;
}

}  // namespace emqxd::cluster::rpc
