// The peer table is bounded (Cluster::kMaxPeers, 16-bit node indexes): once full, a call
// from yet another node is refused and logged, never thrown. A throw there used to end the
// node: it ran on a gRPC thread or on the cluster thread. This drives the real Cluster
// through the handlers the transport calls, with no network.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "broker/broker.hpp"
#include "cluster/cluster.hpp"
#include "config/config.hpp"

namespace {

using emqxd::cluster::Cluster;
using emqxd::cluster::NodeAddress;
namespace rpc = emqxd::cluster::rpc;

emqxd::config::Config test_config() {
  emqxd::config::Config c;
  c.node.name = "n0@127.0.0.1";
  c.cluster.rpc_bind = "127.0.0.1:4370";
  return c;
}

// An inbound Link stream that says Hello and ends.
class HelloOnly final : public rpc::LinkReader {
 public:
  explicit HelloOnly(rpc::LinkHello hello) : hello_(std::move(hello)) {}
  bool read(rpc::LinkEvent& out) override {
    if (said_) return false;
    said_ = true;
    out = hello_;
    return true;
  }
  bool accept() override {
    accepted = true;
    return true;
  }
  void cancel() override {}
  bool accepted = false;

 private:
  rpc::LinkHello hello_;
  bool said_ = false;
};

struct TestCluster {
  TestCluster() : broker(emqxd::broker::SharedStrategy::Random) {
    emqxd::cluster::ClusterHooks hooks;
    hooks.broker = &broker;
    hooks.takeover = [this](const std::string& client_id, bool, emqxd::broker::NodeIndex to) {
      takeovers.push_back(client_id + " to " + std::to_string(to));
      rpc::TakeoverReply r;
      r.found = true;
      return r;
    };
    cluster = std::make_unique<Cluster>(config, std::move(hooks));
  }
  rpc::TakeoverReply takeover_from(const std::string& node, const std::string& client_id) {
    return cluster->rpc_handler_for_test().on_takeover(
        {config.cluster.name, NodeAddress{node, "10.0.0.1", 4370}, client_id, false});
  }

  emqxd::config::Config config = test_config();
  emqxd::broker::Broker broker;
  std::vector<std::string> takeovers;
  std::unique_ptr<Cluster> cluster;
};

}  // namespace

TEST_CASE("a full peer table refuses the next node instead of throwing", "[cluster][peers]") {
  TestCluster t;
  for (std::size_t i = 1; i <= Cluster::kMaxPeers; ++i) {
    auto reply = t.takeover_from("n" + std::to_string(i), "c");
    if (!reply.found) FAIL("node " << i << " was refused before the table was full");
  }
  CHECK(t.cluster->peer_count_for_test() == Cluster::kMaxPeers);
  CHECK(t.takeovers.back() == "c to 65535");  // the last 16-bit index

  // One more node: refused, nothing thrown, nothing handed over, the table as it was.
  t.takeovers.clear();
  rpc::TakeoverReply refused;
  REQUIRE_NOTHROW(refused = t.takeover_from("one-too-many", "c"));
  CHECK_FALSE(refused.found);
  CHECK(t.takeovers.empty());
  CHECK(t.cluster->peer_count_for_test() == Cluster::kMaxPeers);

  // And again (the log line is rate-limited, the refusal is not).
  CHECK_FALSE(t.takeover_from("one-more", "d").found);

  // The nodes already in the table are still served.
  CHECK(t.takeover_from("n7", "e").found);
  CHECK(t.takeovers == std::vector<std::string>{"e to 7"});
}

TEST_CASE("a Link hello from a node that is not a member takes no place in the table",
          "[cluster][peers]") {
  TestCluster t;
  HelloOnly stranger({t.config.cluster.name, NodeAddress{"stranger", "10.0.0.9", 4370}, 1, 1});
  REQUIRE_NOTHROW(t.cluster->rpc_handler_for_test().on_link(stranger));
  CHECK_FALSE(stranger.accepted);
  CHECK(t.cluster->peer_count_for_test() == 0);

  // Known (here through a takeover) but not a member: still no stream.
  t.takeover_from("n1", "c");
  HelloOnly known({t.config.cluster.name, NodeAddress{"n1", "10.0.0.1", 4370}, 1, 1});
  t.cluster->rpc_handler_for_test().on_link(known);
  CHECK_FALSE(known.accepted);
  CHECK(t.cluster->peer_count_for_test() == 1);
}
