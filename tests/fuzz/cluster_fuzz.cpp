// libFuzzer harness for what a cluster peer sends (proto/cluster.proto): the bytes of a
// Link stream message (routes, forwarded messages), a membership message, a Register
// request or reply, or a Takeover reply carrying a whole session, parsed as protobuf and
// converted to the node's own types as cluster/rpc/transport.cpp does on receipt. A peer
// of another version, or a broken one, must never crash the node.
//
// The first input byte picks the message; the rest is its protobuf encoding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "cluster/rpc/transport.hpp"

using emqxd::cluster::rpc::PeerMessage;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  const PeerMessage kinds[] = {PeerMessage::Link, PeerMessage::Membership, PeerMessage::Register,
                               PeerMessage::RegisterReply, PeerMessage::TakeoverReply};
  (void)emqxd::cluster::rpc::decode_from_peer_for_test(kinds[data[0] % 5], in);
  return 0;
}
