#pragma once
// NodeAddress: how one cluster node names another, `name@host[:port]`.
//
// `name@host` is the node's identity (node.name, as in EMQX: `emqx@10.0.0.5`,
// `emqx@emqx-0.emqx-headless.default.svc`); the port is where its cluster RPC listens
// (cluster.rpc.bind), 4370 when not written, so that several nodes can share one host
// (`n1@127.0.0.1:4371`, `n2@127.0.0.1:4372`). An IPv6 host is written in brackets:
// `n1@[::1]:4371`, `n1@[fe80::1%eth0]`.
//
// Two addresses are equal when name, host and port are; membership keys members by id()
// (name@host), so a node that comes back on another port is the same node at a new address.
// Names and hosts are compared as written (case-sensitive), as Erlang compares node names.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace emqxd::cluster {

inline constexpr std::uint16_t kDefaultRpcPort = 4370;

struct NodeAddress {
  std::string name;  // before '@': letters, digits, '_', '-', '.'
  std::string host;  // a DNS name, an IPv4 address or an IPv6 address (without brackets)
  std::uint16_t port = kDefaultRpcPort;

  // Parses `name@host`, `name@host:port`, `name@[v6]` or `name@[v6]:port`. On failure
  // returns nullopt and, when `why` is given, says what is wrong ("has no '@'", "port 0 is
  // out of range 1-65535", ...). Never throws.
  static std::optional<NodeAddress> parse(std::string_view text, std::string* why = nullptr);

  // The identity, `name@host` (IPv6 in brackets).
  std::string id() const;
  // `name@host:port`, always with the port; parse(to_string()) == *this.
  std::string to_string() const;
  // `host:port` to connect to (IPv6 in brackets).
  std::string endpoint() const;

  friend bool operator==(const NodeAddress&, const NodeAddress&) = default;
};

}  // namespace emqxd::cluster

template <>
struct std::hash<emqxd::cluster::NodeAddress> {
  std::size_t operator()(const emqxd::cluster::NodeAddress& a) const noexcept;
};
