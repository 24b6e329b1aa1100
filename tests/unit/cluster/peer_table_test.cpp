// The peer table holds members only (Cluster::kMaxPeers, cluster.max_nodes): a session call
// or a Link from a node that is not a live member is refused and takes no place in it. This
// drives the real Cluster through the handlers the transport calls (after authentication),
// with no network. The bound itself is Membership's (membership_test.cpp, "[bounds]").
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

TEST_CASE("session calls from nodes that are not live members are refused and add nothing",
          "[cluster][peers]") {
  // 65,535 Takeovers with different `from` names used to fill the table (and each could
  // take a session). Now only membership adds to it, and the calls are refused.
  TestCluster t;
  for (int i = 1; i <= 2000; ++i) {
    auto reply = t.takeover_from("n" + std::to_string(i), "c");
    if (!reply.not_member || reply.found) FAIL("node " << i << " was served");
  }
  CHECK(t.takeovers.empty());
  CHECK(t.cluster->peer_count_for_test() == 0);

  auto& h = t.cluster->rpc_handler_for_test();
  rpc::RegisterRequest r{t.config.cluster.name, NodeAddress{"x", "10.0.0.1", 4370}, {"c"}, false};
  CHECK(h.on_register(r).not_member);
  CHECK_FALSE(h.on_unregister(t.config.cluster.name, NodeAddress{"x", "10.0.0.1", 4370}, {"c"}));
  CHECK(t.cluster->peer_count_for_test() == 0);
}

TEST_CASE("a Link hello from a node that is not a member takes no place in the table",
          "[cluster][peers]") {
  TestCluster t;
  HelloOnly stranger({t.config.cluster.name, NodeAddress{"stranger", "10.0.0.9", 4370}, 1, 1});
  REQUIRE_NOTHROW(t.cluster->rpc_handler_for_test().on_link(stranger));
  CHECK_FALSE(stranger.accepted);
  CHECK(t.cluster->peer_count_for_test() == 0);
}
