#include "broker/retainer.hpp"

#include <string>
#include <utility>

#include "broker/topic.hpp"
#include "broker/topic_trie.hpp"
#include "common/check.hpp"

namespace emqxd::broker {

namespace detail {

struct RetainerNode {
  LevelMap<RetainerNode> children;  // by topic level, "" included
  mqtt::MessagePtr message;         // the retained message of this node's topic, if any
};

}  // namespace detail

namespace {

using Node = detail::RetainerNode;
using TimePoint = mqtt::Message::Clock::time_point;

// N is Node or const Node.
template <class N>
N* find_node(N& root, std::string_view topic) {
  N* node = &root;
  std::string_view rest = topic;
  bool more = true;
  while (more) {
    auto it = node->children.find(next_level(rest, more));
    if (it == node->children.end()) return nullptr;
    node = it->second.get();
  }
  return node;
}

bool is_dollar(std::string_view level) {
  return !level.empty() && level.front() == '$';
}

}  // namespace

Retainer::Retainer(RetainerLimits limits) : limits_(limits), root_(std::make_unique<Node>()) {}

Retainer::~Retainer() = default;

bool Retainer::expired(const mqtt::Message& m, TimePoint now) const {
  if (m.message_expiry_interval) return m.expired(now);
  return limits_.msg_expiry_interval.count() > 0 &&
         now - m.received_at >= limits_.msg_expiry_interval;
}

bool Retainer::older_locked(const mqtt::Message& m, const mqtt::Message* existing) {
  if (m.received_at_ms == 0) return false;
  if (existing != nullptr) {
    if (existing->received_at_ms == 0) return false;
    if (m.received_at_ms != existing->received_at_ms) {
      return m.received_at_ms < existing->received_at_ms;
    }
    return m.payload <= existing->payload;  // a tie: the same choice on every node
  }
  auto t = tombstones_.find(m.topic);
  return t != tombstones_.end() && m.received_at_ms <= t->second;
}

Retainer::RetainResult Retainer::retain(mqtt::MessagePtr m, bool merge, mqtt::MessagePtr* kept) {
  EMQXD_CHECK(m != nullptr, "retain() of no message");
  if (!m->payload.empty() && limits_.max_payload_size != 0 &&
      m->payload.size() > limits_.max_payload_size) {
    return RetainResult::PayloadTooLarge;
  }
  std::lock_guard lock(mutex_);
  Node* node = find_node(*root_, m->topic);
  const mqtt::Message* existing = node != nullptr ? node->message.get() : nullptr;
  if (m->received_at_ms != 0) {
    if (merge) {
      if (older_locked(*m, existing)) return RetainResult::Older;
    } else {
      // This node's own publish is the last write here, whatever the clocks say: it is
      // stamped after what the topic holds, so every other node takes it too.
      std::int64_t held = 0;
      if (existing != nullptr) {
        held = existing->received_at_ms;
      } else if (auto t = tombstones_.find(m->topic); t != tombstones_.end()) {
        held = t->second;
      }
      if (held >= m->received_at_ms) {
        auto copy = std::make_shared<mqtt::Message>(*m);
        copy->received_at_ms = held + 1;
        m = std::move(copy);
      }
    }
  }
  if (kept != nullptr) *kept = m;
  if (m->payload.empty()) {
    // A zero-byte retained message removes the topic's retained message and is not itself
    // retained [MQTT-3.3.1-6] [MQTT-3.3.1-7].
    erase_locked(m->topic);
    if (m->received_at_ms != 0) {
      if (m->received_at_ms - tombstones_pruned_at_ > 60'000) {
        const auto life = std::chrono::duration_cast<std::chrono::milliseconds>(kTombstoneLife);
        std::erase_if(tombstones_,
                      [&](const auto& kv) { return kv.second < m->received_at_ms - life.count(); });
        tombstones_pruned_at_ = m->received_at_ms;
      }
      auto& stamp = tombstones_[m->topic];
      stamp = std::max(stamp, m->received_at_ms);
    }
    return RetainResult::Cleared;
  }
  // Replacing an existing topic's message never needs room; a new topic does.
  if (node != nullptr && node->message) {
    node->message = std::move(m);
    return RetainResult::Stored;
  }
  if (m->received_at_ms != 0) tombstones_.erase(m->topic);
  if (limits_.max_retained_messages != 0 && size_ >= limits_.max_retained_messages) {
    return RetainResult::QuotaExceeded;
  }
  node = root_.get();
  std::string_view rest = m->topic;
  bool more = true;
  while (more) {
    std::string_view level = next_level(rest, more);
    auto it = node->children.find(level);
    if (it == node->children.end()) {
      it = node->children.emplace(std::string(level), std::make_unique<Node>()).first;
    }
    node = it->second.get();
  }
  node->message = std::move(m);
  ++size_;
  return RetainResult::Stored;
}

bool Retainer::erase_locked(std::string_view topic) {
  std::vector<std::pair<Node*, std::string_view>> path;  // (parent, level of child)
  Node* node = root_.get();
  std::string_view rest = topic;
  bool more = true;
  while (more) {
    std::string_view level = next_level(rest, more);
    auto it = node->children.find(level);
    if (it == node->children.end()) return false;
    path.emplace_back(node, level);
    node = it->second.get();
  }
  if (!node->message) return false;
  node->message.reset();
  --size_;
  // Prune the nodes left with no message and no children, bottom-up.
  for (auto it = path.rbegin(); it != path.rend(); ++it) {
    auto [parent, level] = *it;
    auto child = parent->children.find(level);
    if (child->second->message || !child->second->children.empty()) break;
    parent->children.erase(child);
  }
  return true;
}

namespace {

// Appends the live messages of `node` (if `with_self`) and of its whole subtree; at the
// root, subtrees under a '$' level are skipped [MQTT-4.7.2-1]. Iterative: topics can be
// deeper than filters.
template <class IsExpired>
void collect_subtree(const Node& node, bool with_self, bool at_root, TimePoint now,
                     const IsExpired& is_expired, std::vector<mqtt::MessagePtr>& out) {
  std::vector<const Node*> stack;
  auto push_children = [&](const Node& n, bool skip_dollar) {
    for (const auto& [level, child] : n.children) {
      if (!(skip_dollar && is_dollar(level))) stack.push_back(child.get());
    }
  };
  if (with_self && node.message && !is_expired(*node.message, now)) out.push_back(node.message);
  push_children(node, at_root);
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (n->message && !is_expired(*n->message, now)) out.push_back(n->message);
    push_children(*n, false);
  }
}

// `node` has matched the filter levels before `rest`, which holds at least one more level.
template <class IsExpired>
void match_levels(const Node& node, std::string_view rest, bool at_root, TimePoint now,
                  const IsExpired& is_expired, std::vector<mqtt::MessagePtr>& out) {
  bool more = false;
  std::string_view level = next_level(rest, more);
  auto step = [&](const Node& child) {
    if (more) {
      match_levels(child, rest, false, now, is_expired, out);
    } else if (child.message && !is_expired(*child.message, now)) {
      out.push_back(child.message);
    }
  };
  if (level == kMultiLevelWildcard) {
    // The parent level and everything below: "sport/#" matches "sport" too.
    collect_subtree(node, /*with_self=*/!at_root, at_root, now, is_expired, out);
  } else if (level == kSingleLevelWildcard) {
    for (const auto& [child_level, child] : node.children) {
      if (!(at_root && is_dollar(child_level))) step(*child);  // [MQTT-4.7.2-1]
    }
  } else if (auto it = node.children.find(level); it != node.children.end()) {
    step(*it->second);
  }
}

}  // namespace

void Retainer::match(std::string_view filter, TimePoint now,
                     std::vector<mqtt::MessagePtr>& out) const {
  auto is_expired = [this](const mqtt::Message& m, TimePoint t) { return expired(m, t); };
  std::lock_guard lock(mutex_);
  match_levels(*root_, filter, /*at_root=*/true, now, is_expired, out);
}

std::optional<mqtt::MessagePtr> Retainer::get(std::string_view topic) const {
  std::lock_guard lock(mutex_);
  const Node* node = find_node(std::as_const(*root_), topic);
  if (node == nullptr || !node->message) return std::nullopt;
  return node->message;
}

std::size_t Retainer::expire(TimePoint now) {
  // Post-order: drop expired messages, then the children they leave empty. The recursion
  // is as deep as the deepest topic (mqtt.max_topic_levels).
  struct Sweep {
    const Retainer& self;
    TimePoint now;
    std::size_t removed = 0;
    void operator()(Node& node) {
      if (node.message && self.expired(*node.message, now)) {
        node.message.reset();
        ++removed;
      }
      for (auto it = node.children.begin(); it != node.children.end();) {
        (*this)(*it->second);
        if (!it->second->message && it->second->children.empty()) {
          it = node.children.erase(it);
        } else {
          ++it;
        }
      }
    }
  };
  std::lock_guard lock(mutex_);
  Sweep sweep{*this, now};
  sweep(*root_);
  size_ -= sweep.removed;
  return sweep.removed;
}

void Retainer::for_each(const std::function<void(const mqtt::MessagePtr&)>& f) const {
  std::lock_guard lock(mutex_);
  std::vector<const Node*> stack{root_.get()};
  while (!stack.empty()) {
    const Node* n = stack.back();
    stack.pop_back();
    if (n->message) f(n->message);
    for (const auto& [level, child] : n->children)
      stack.push_back(child.get());
  }
}

std::size_t Retainer::size() const {
  std::lock_guard lock(mutex_);
  return size_;
}

void Retainer::clear() {
  std::lock_guard lock(mutex_);
  root_ = std::make_unique<Node>();
  size_ = 0;
}

}  // namespace emqxd::broker
