#pragma once
// CallAuth: how two nodes of a cluster prove to each other that they hold the cluster's
// secret, node.cookie, on every cluster RPC (docs/architecture.md, "Cluster trust").
//
// Problem. The cluster port takes membership gossip, session takeovers and the forward
// stream. Anyone who can reach it and knows the cluster name could join, steal sessions or
// evict members. TLS with verify_peer proves a certificate, not membership of this
// cluster, and is off by default.
//
// Idea. Every call carries, in its gRPC metadata, the caller's node name, a timestamp, a
// random nonce and HMAC-SHA256 over (cluster name, full method name, caller, callee,
// timestamp, nonce), keyed with K = HMAC-SHA256(key = cookie, "emqxd cluster v1"). The
// cookie itself never leaves the node. The server checks, before it acts on anything: the
// timestamp within `window` of its clock, the MAC (CRYPTO_memcmp), the callee is itself,
// and the nonce unseen within the window (so a captured call cannot be replayed). The
// server answers with its own proof in its initial metadata: HMAC(K, "server", cluster,
// method, server node, the caller's nonce), which the client checks before it trusts the
// reply (or, on the forward stream, before it sends anything), so a process that was handed
// a member's address cannot collect what is sent to that member.
//
// The nonce cache is bounded (max_nonces). When it is full the oldest nonce is forgotten
// and every timestamp up to that nonce's is refused from then on (`floor`), so a forgotten
// nonce can never be replayed; the cost under extreme load is that calls delayed by more
// than the cache's span are refused (and retried as any failed call).
//
// Cost: two HMAC-SHA256 per call on each side, a few microseconds; 64 bytes of cache per
// call in the last window. Thread-safe: one mutex around the nonce cache.
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>

namespace emqxd::cluster {

// The metadata names, lower case as HTTP/2 wants them.
inline constexpr const char* kMetaNode = "x-emqxd-node";
inline constexpr const char* kMetaTo = "x-emqxd-to";
inline constexpr const char* kMetaTime = "x-emqxd-time";
inline constexpr const char* kMetaNonce = "x-emqxd-nonce";
inline constexpr const char* kMetaMac = "x-emqxd-mac";
inline constexpr const char* kMetaServerNode = "x-emqxd-server-node";
inline constexpr const char* kMetaServerMac = "x-emqxd-server-mac";

// What a call carries (the metadata values, as text).
struct CallProof {
  std::string node;   // the caller, name@host
  std::string to;     // the callee, name@host
  std::string time;   // Unix milliseconds, decimal
  std::string nonce;  // 32 hex digits
  std::string mac;    // 64 hex digits
};

class CallAuth {
 public:
  enum class Verdict : std::uint8_t {
    Ok,
    Malformed,  // a field missing or not of its form
    Stale,      // timestamp outside the window (or below the floor of a full cache)
    BadMac,     // wrong cookie, or the call was altered
    NotForUs,   // signed for another node
    Replayed,   // this nonce was seen within the window
  };

  // `cookie` may be empty (a loopback-only cluster: README.md, "Security model").
  CallAuth(std::string_view cookie, std::string cluster, std::string self_id,
           std::chrono::milliseconds window = std::chrono::seconds(60),
           std::size_t max_nonces = 1 << 18);

  // Client: the proof for a call of `method` ("/emqxd.cluster.v1.Sessions/Takeover") to
  // `to` (name@host) at `now_ms`, with a fresh random nonce.
  CallProof sign(std::string_view method, std::string_view to, std::int64_t now_ms) const;
  // Server: checks a call's proof; records its nonce when it is good.
  Verdict verify(std::string_view method, const CallProof& p, std::int64_t now_ms);

  // Server: its answer to a verified call (hex).
  std::string server_proof(std::string_view method, std::string_view caller_nonce) const;
  // Client: whether `mac` proves that `server_node` (which must be `expected`, the node
  // the call was for) holds the cookie and answered this call.
  bool check_server_proof(std::string_view method, std::string_view expected,
                          std::string_view server_node, std::string_view caller_nonce,
                          std::string_view mac) const;

  const std::string& self_id() const { return self_; }
  std::size_t nonces_for_test() const;

 private:
  std::string mac(std::initializer_list<std::string_view> fields) const;

  unsigned char key_[32];
  std::string cluster_;
  std::string self_;
  std::int64_t window_ms_;
  std::size_t max_nonces_;

  mutable std::mutex mutex_;
  struct Seen {
    std::int64_t time_ms;
    std::string nonce;
  };
  std::deque<Seen> order_;                // guarded by mutex_: in arrival order
  std::unordered_set<std::string> seen_;  // guarded by mutex_
  std::int64_t floor_ms_ = INT64_MIN;     // guarded by mutex_: see the essay above
};

std::string_view to_string(CallAuth::Verdict v);

// Whether the certificate `pem` names the node `node_id` (name@host), for cluster.rpc.ssl
// with verify_peer (docs/architecture.md, "Cluster trust"). A certificate names nodes in
// one of two ways:
// - by full node name: its subject CN, or an email SAN, is "name@host". A certificate
//   that carries any such name names only those nodes (one certificate per node);
// - otherwise by host: a DNS or IP SAN, or (with no SAN) the CN, matches the node's host
//   (one certificate per machine: every node on that host).
// So a valid certificate of node A (or of A's machine) cannot speak as node B elsewhere.
// False for anything that does not parse.
bool cert_names_node(std::string_view pem, std::string_view node_id);

}  // namespace emqxd::cluster
