#pragma once
// Transport: the cluster RPC (proto/cluster.proto) behind plain C++ types. This header and
// its one implementation file are the only code that sees gRPC; nothing here includes a
// gRPC or protobuf header, so the rest of the build never compiles their templates.
//
// Threads. The server runs gRPC's synchronous API: each call runs on a gRPC thread, and an
// inbound Link stream holds its thread for as long as it lasts (one per peer). Membership
// messages go out as asynchronous unary calls (fire and forget, with a deadline: a failed
// call is a lost message, which SWIM expects). A LinkWriter blocks its caller while the
// peer's HTTP/2 window is full: each outbound link has a thread of its own
// (cluster/peer_link.hpp). Session calls block their caller up to their deadline.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "broker/broker.hpp"
#include "broker/ports.hpp"
#include "cluster/membership_messages.hpp"
#include "cluster/node_address.hpp"
#include "session/session_state.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::cluster::rpc {

// What opens a Link stream.
struct LinkHello {
  std::string cluster;
  NodeAddress from;
  std::uint64_t incarnation = 0;
  std::uint64_t stream = 0;
};
struct LinkSnapshot {
  std::vector<broker::Route> routes;
  bool last = false;
};
struct LinkDelta {
  bool add = false;
  broker::Route route;
};
using LinkDeltas = std::vector<LinkDelta>;
struct LinkForward {
  std::vector<broker::ForwardItem> items;
};
using LinkTables = std::vector<tables::Entry>;
using LinkEvent = std::variant<LinkHello, LinkSnapshot, LinkDeltas, LinkForward, LinkTables>;

// An inbound Link stream, read on the gRPC thread that serves it.
class LinkReader {
 public:
  virtual ~LinkReader() = default;
  // The next message; false when the stream is over (closed, broken or cancelled).
  virtual bool read(LinkEvent& out) = 0;
  // Takes the stream after its Hello (returning from the handler without it refuses it).
  virtual bool accept() = 0;
  // Ends the stream from any thread: read() returns false, the peer sees it broken.
  virtual void cancel() = 0;
};

// An outbound Link stream. One thread uses it; each write blocks until gRPC takes it and
// returns false once the stream is broken (then only the destructor is left to call).
class LinkWriter {
 public:
  virtual ~LinkWriter() = default;
  virtual bool write(const LinkHello& h) = 0;
  virtual bool write(const LinkSnapshot& s) = 0;
  virtual bool write(const LinkDeltas& d) = 0;
  virtual bool write(const std::vector<broker::ForwardItem>& items) = 0;
  virtual bool write(const LinkTables& entries) = 0;
  virtual bool heartbeat() = 0;
  // After the Hello: whether the peer took the stream (blocks for its answer).
  virtual bool accepted() = 0;
  // Any thread: breaks the stream, so that a blocked write returns.
  virtual void cancel() = 0;
};

struct RegisterRequest {
  std::string cluster;
  NodeAddress from;
  std::vector<std::string> client_ids;
  bool held = false;  // the sender holds these sessions already (see cluster.proto)
};
struct RegisterReply {
  std::vector<std::optional<NodeAddress>> previous;  // per client id
  bool not_registry = false;
  bool not_member = false;  // server: the caller is not a live member (FAILED_PRECONDITION)
};
struct TakeoverRequest {
  std::string cluster;
  NodeAddress from;
  std::string client_id;
  bool clean_start = false;
};
struct TakeoverReply {
  bool found = false;
  std::optional<session::SessionState> session;
  bool not_member = false;  // server: the caller is not a live member (FAILED_PRECONDITION)
};

// An operation of the HTTP API run on another node (Admin.Query): its name and JSON
// arguments, and the JSON answer with an HTTP-like status (server/api/node_ops.hpp).
struct QueryRequest {
  std::string cluster;
  NodeAddress from;
  std::string name;
  std::string args;
};
struct QueryReply {
  int status = 200;
  std::string body;
  bool not_member = false;  // server: the caller is not a live member (FAILED_PRECONDITION)
};

// What the server hands up; called on gRPC threads, concurrently. Every call has been
// authenticated first (cluster/auth.hpp), and its `from` (a message's, a Hello's, a
// request's) is the node that proved itself: nothing else reaches the handler.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual void on_membership(Message&& m) = 0;
  // Serves one inbound Link stream until it ends; runs on the stream's gRPC thread.
  virtual void on_link(LinkReader& reader) = 0;
  virtual RegisterReply on_register(const RegisterRequest& r) = 0;
  // False: the caller is not a live member (FAILED_PRECONDITION), nothing done.
  virtual bool on_unregister(const std::string& cluster, const NodeAddress& from,
                             const std::vector<std::string>& client_ids) = 0;
  virtual TakeoverReply on_takeover(const TakeoverRequest& r) = 0;
  virtual QueryReply on_query(const QueryRequest& r) = 0;
};

// Who this node is to its peers, and the secret it proves it with (cluster/auth.hpp).
struct AuthOptions {
  std::string cookie;   // node.cookie; may be empty (loopback only: config.cpp)
  std::string cluster;  // cluster.name
  std::string self_id;  // name@host
  // The largest message the server reads (gRPC's max receive size: larger ones are
  // refused before they are parsed). The Link's batches and snapshots and the Register
  // batches are cut to fit (peer_link.cpp, cluster_sessions.cpp).
  std::size_t max_request_bytes = 4 << 20;
};

struct TlsOptions {
  bool enable = false;
  std::string certfile, keyfile, cacertfile;  // PEM files
  bool verify_peer = true;                    // require and check the peer's certificate
};

class Transport {
 public:
  Transport(TlsOptions tls, AuthOptions auth);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Starts serving on `bind` ("host:port"); throws std::runtime_error saying why (the port
  // is taken, a certificate cannot be read). `handler` must outlive stop(). Reads the
  // client certificates too: nothing below reads a file or throws.
  void serve(const std::string& bind, Handler& handler);
  // Stops serving (cancels every stream in progress) and forgets every channel.
  void stop();

  // Fire and forget, within `deadline`; any thread.
  void send(const NodeAddress& to, const Message& m, std::chrono::milliseconds deadline);
  // Opens a Link stream to `to` (no wait for the connection: the first write fails if the
  // peer is unreachable); nullptr when no channel can be made (no client credentials).
  // Any thread.
  std::unique_ptr<LinkWriter> open_link(const NodeAddress& to);
  // Blocking unary calls; nullopt when the call failed or timed out, was refused, or the
  // answer did not prove it came from `to` holding the cookie.
  std::optional<RegisterReply> call_register(const NodeAddress& to, const RegisterRequest& r,
                                             std::chrono::milliseconds deadline);
  bool call_unregister(const NodeAddress& to, const std::string& cluster, const NodeAddress& from,
                       const std::vector<std::string>& client_ids,
                       std::chrono::milliseconds deadline);
  std::optional<TakeoverReply> call_takeover(const NodeAddress& to, const TakeoverRequest& r,
                                             std::chrono::milliseconds deadline);
  std::optional<QueryReply> call_query(const NodeAddress& to, const QueryRequest& r,
                                       std::chrono::milliseconds deadline);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// For the fuzz harness (tests/fuzz/cluster_fuzz.cpp): parses `bytes` as the protobuf
// message a peer sends for `kind` and converts it as the server or client does, without
// gRPC (and a membership message or a session back again). False when the bytes are not
// that message. Any thread.
enum class PeerMessage : std::uint8_t { Link, Membership, Register, RegisterReply, TakeoverReply };
bool decode_from_peer_for_test(PeerMessage kind, std::string_view bytes);

}  // namespace emqxd::cluster::rpc
