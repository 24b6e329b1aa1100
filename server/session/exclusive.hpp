#pragma once
// ExclusiveClaims: EMQX's exclusive subscriptions (mqtt.exclusive_subscription). A client
// that subscribes to "$exclusive/t/1" subscribes to "t/1" and claims it: as long as its
// session holds that subscription, no other client can subscribe to "$exclusive/t/1"
// (SUBACK 0x97, Quota exceeded); the same client may subscribe again. Plain subscriptions
// to "t/1" are not affected. The claim goes when the client unsubscribes (from either
// "$exclusive/t/1" or "t/1"), subscribes to "t/1" plainly, or its session ends.
//
// In a cluster the claim of a filter is decided by one member, its home, chosen like a
// client id's registry member (cluster/cluster_sessions.cpp: rendezvous hashing over the
// live members), so two clients on two nodes cannot both win. Each node keeps
//   - `table`: the claims it decides as a home (filter -> client id, node), and
//   - `mine`:  the claims its own sessions hold (filter -> client id),
// and after a membership change asserts `mine` again with each filter's (possibly new)
// home, as sessions are registered again. A claim held by a node that is no longer a live
// member is given to the next client that asks. Claims live in memory: a session restored
// from disk after a restart asserts its exclusive subscriptions again.
//
// Internally locked; any thread.
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace emqxd::session {

enum class ClaimAnswer { Granted, Taken, Failed };

class ExclusiveClaims {
 public:
  // Home side: grants `filter` to `client_id` on `node` unless another client on a node
  // that `live` says is a member holds it.
  ClaimAnswer claim(const std::string& filter, const std::string& client_id,
                    const std::string& node, const std::function<bool(const std::string&)>& live);
  // Home side: the claim goes if `client_id` holds it.
  void release(const std::string& filter, const std::string& client_id);
  // Home side: forgets the claims that `keep(filter, node)` refuses: those of filters whose
  // home is now elsewhere (their holders assert them there) and of nodes that left (they
  // assert theirs when they come back).
  void forget_unless(
      const std::function<bool(const std::string& filter, const std::string& node)>& keep);

  // This node's sessions.
  void hold(const std::string& filter, const std::string& client_id);
  // False when `client_id` did not hold it here.
  bool drop(const std::string& filter, const std::string& client_id);
  std::vector<std::pair<std::string, std::string>> held() const;  // (filter, client id)

  std::size_t size() const;  // claims decided here

 private:
  struct Holder {
    std::string client_id;
    std::string node;
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Holder> table_;      // guarded by mutex_
  std::unordered_map<std::string, std::string> mine_;  // guarded by mutex_
};

inline constexpr std::string_view kExclusivePrefix = "$exclusive/";

// The filter of "$exclusive/<filter>", or empty when `topic` has no such prefix.
std::string_view exclusive_filter(std::string_view topic);

}  // namespace emqxd::session
