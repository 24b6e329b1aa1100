#pragma once
// Outboxes: what one worker's turn routes, kept until the end of the turn and handed on in
// one post per target worker and one batch per peer node (docs/architecture.md, "One
// PUBLISH").
#include <cstddef>
#include <vector>

#include "broker/broker.hpp"
#include "session/session.hpp"

namespace emqxd::session {

struct Outboxes {
  std::vector<std::vector<Delivery>> local;              // per worker id
  std::vector<std::vector<broker::ForwardItem>> remote;  // per peer (broker::NodeIndex)

  explicit Outboxes(std::size_t workers = 0) : local(workers) {}

  bool empty() const {
    for (const auto& box : local) {
      if (!box.empty()) return false;
    }
    for (const auto& box : remote) {
      if (!box.empty()) return false;
    }
    return true;
  }

  std::vector<broker::ForwardItem>& to_peer(broker::NodeIndex node) {
    if (remote.size() <= node) remote.resize(node + 1u);
    return remote[node];
  }

  // Appends `other` behind what is here, box by box, keeping each box's order.
  void append(Outboxes&& other) {
    if (local.size() < other.local.size()) local.resize(other.local.size());
    for (std::size_t w = 0; w < other.local.size(); ++w) {
      for (auto& x : other.local[w])
        local[w].push_back(std::move(x));
      other.local[w].clear();
    }
    if (remote.size() < other.remote.size()) remote.resize(other.remote.size());
    for (std::size_t n = 0; n < other.remote.size(); ++n) {
      for (auto& x : other.remote[n])
        remote[n].push_back(std::move(x));
      other.remote[n].clear();
    }
  }
};

}  // namespace emqxd::session
