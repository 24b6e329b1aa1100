#pragma once
// TopicTrie<V>: a value per topic filter, and "which stored filters match this topic?".
//
// Problem. A PUBLISH carries a topic name; the broker must find every subscribed filter
// that matches it, with '+' (one level) and '#' (the parent level and all below), and the
// '$' rule [MQTT-4.7.2-1]. Comparing the topic against every filter costs O(filters) per
// message, which is what a broker with a million device subscriptions cannot afford.
//
// Idea. Store the filters in a tree keyed by level, one node per distinct filter prefix
// ("a/+/c" and "a/+/d" share the nodes "a" and "a/+"). A node keeps its literal children in
// a hash map and its '+' and '#' children in two dedicated pointers, so the matcher never
// has to look for the wildcard levels by key. Matching walks the topic's levels as string
// views; at each node it
//   - reports the '#' child's value: "x/#" matches "x" and everything below it;
//   - when the topic is exhausted, reports the node's own value;
//   - otherwise descends into the literal child named by the next level (one hash lookup
//     that does not allocate: the map has heterogeneous lookup) and into the '+' child.
// At the root, the '+' and '#' children are skipped for a topic starting with '$', which
// is the whole of the '$' rule. Every stored filter corresponds to exactly one path, so
// each matching filter is reported exactly once. emqx 4 kept the same kind of trie of
// filter words in Mnesia (apps/emqx/src/emqx_trie.erl).
//
// Cost. match() visits at most 2^k paths for a topic of k levels in the worst case (a '+'
// and a literal child at every level), in practice a handful; it is O(levels) hash lookups
// for the literal path, independent of the number of stored filters, and allocates
// nothing. at() and erase() are O(levels) and allocate (at) or free (erase) the nodes of
// the path, off the publish path; erase prunes nodes left with no value and no children
// back up the path, so the trie never holds more nodes than the sum of the stored filters'
// levels. Recursion depth in match() is bounded by the depth of the stored filters
// (mqtt.max_topic_levels).
//
// Not thread-safe: the owner locks (broker::Broker holds it under its shared_mutex; see
// docs/architecture.md, "What is shared, and how it is protected").
// Filters given to at() are expected to be valid (validate_topic_filter): a '#' that is not
// last would store a value nothing can ever match.
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "broker/topic.hpp"

namespace emqxd::broker {

namespace detail {

// Hash for a std::string-keyed map that can also be probed with a std::string_view
// without building a std::string (C++20 heterogeneous unordered lookup).
struct LevelHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>{}(s);
  }
};

template <class Node>
using LevelMap = std::unordered_map<std::string, std::unique_ptr<Node>, LevelHash, std::equal_to<>>;

}  // namespace detail

template <class V>
class TopicTrie {
 public:
  TopicTrie() = default;
  TopicTrie(const TopicTrie&) = delete;
  TopicTrie& operator=(const TopicTrie&) = delete;
  TopicTrie(TopicTrie&&) = default;
  TopicTrie& operator=(TopicTrie&&) = default;

  // The value stored for `filter`, default-constructed (and the path created) if absent.
  // The reference stays valid until `filter` is erased or the trie is cleared/destroyed.
  V& at(std::string_view filter) {
    Node* node = &root_;
    std::string_view rest = filter;
    bool more = true;
    while (more) {
      std::string_view level = next_level(rest, more);
      std::unique_ptr<Node>* slot = child_slot(*node, level);
      if (slot == nullptr) {
        slot = &node->children.emplace(std::string(level), std::make_unique<Node>()).first->second;
      } else if (!*slot) {
        *slot = std::make_unique<Node>();  // a '+' or '#' child
      }
      node = slot->get();
    }
    if (!node->value) {
      node->value.emplace();
      ++size_;
    }
    return *node->value;
  }

  // The value stored for exactly `filter` (no matching), or nullptr.
  V* find(std::string_view filter) {
    Node* node = find_node(filter);
    return node != nullptr && node->value ? &*node->value : nullptr;
  }
  const V* find(std::string_view filter) const {
    return const_cast<TopicTrie*>(this)->find(filter);
  }

  // Removes the value of `filter` and every node that is left empty on its path.
  // Returns false if `filter` held no value.
  bool erase(std::string_view filter) {
    // The path from the root, so empty nodes can be pruned bottom-up without recursion.
    std::vector<std::pair<Node*, std::string_view>> path;  // (parent, level of child)
    Node* node = &root_;
    std::string_view rest = filter;
    bool more = true;
    while (more) {
      std::string_view level = next_level(rest, more);
      std::unique_ptr<Node>* slot = child_slot(*node, level);
      if (slot == nullptr || !*slot) return false;
      path.emplace_back(node, level);
      node = slot->get();
    }
    if (!node->value) return false;
    node->value.reset();
    --size_;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
      auto [parent, level] = *it;
      std::unique_ptr<Node>* slot = child_slot(*parent, level);
      if (!(*slot)->empty()) break;
      if (level == kSingleLevelWildcard || level == kMultiLevelWildcard) {
        slot->reset();
      } else {
        parent->children.erase(parent->children.find(level));
      }
    }
    return true;
  }

  // Calls f(const V&) once for every stored filter that matches the topic name `topic`
  // (in no particular order). f must not modify the trie. Does not allocate.
  template <class F>
  void match(std::string_view topic, F&& f) const {
    // The '$' rule [MQTT-4.7.2-1]: wildcards at the first level do not match "$...".
    const bool dollar = !topic.empty() && topic.front() == '$';
    if (!dollar && root_.hash && root_.hash->value) f(std::as_const(*root_.hash->value));
    match_levels(root_, topic, !dollar, f);
  }

  // Calls f(std::string_view filter, const V&) for every stored filter, in no particular
  // order. For admin listings: it builds each filter in a buffer, so it allocates.
  template <class F>
  void for_each(F&& f) const {
    std::string buffer;
    for_each_node(root_, true, buffer, f);
  }

  // Number of stored filters.
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  void clear() {
    root_ = Node{};
    size_ = 0;
  }

  // Nodes below the root, to check that erase() prunes.
  std::size_t node_count_for_test() const { return count_nodes(root_); }

 private:
  struct Node {
    detail::LevelMap<Node> children;  // literal levels, including ""
    std::unique_ptr<Node> plus;       // the '+' level
    std::unique_ptr<Node> hash;       // the '#' level
    std::optional<V> value;

    bool empty() const { return !value && !plus && !hash && children.empty(); }
  };

  // The slot that holds (or would hold) the child named `level`; nullptr if a literal
  // child does not exist.
  static std::unique_ptr<Node>* child_slot(Node& node, std::string_view level) {
    if (level == kSingleLevelWildcard) return &node.plus;
    if (level == kMultiLevelWildcard) return &node.hash;
    auto it = node.children.find(level);
    return it == node.children.end() ? nullptr : &it->second;
  }

  Node* find_node(std::string_view filter) {
    Node* node = &root_;
    std::string_view rest = filter;
    bool more = true;
    while (more) {
      std::unique_ptr<Node>* slot = child_slot(*node, next_level(rest, more));
      if (slot == nullptr || !*slot) return nullptr;
      node = slot->get();
    }
    return node;
  }

  // `node` has consumed the levels before `rest`; `rest` holds at least one more level.
  // '#' children are reported by the caller, which knows whether the '$' rule applies.
  template <class F>
  static void match_levels(const Node& node, std::string_view rest, bool wildcards_ok, F& f) {
    bool more = false;
    std::string_view level = next_level(rest, more);
    if (auto it = node.children.find(level); it != node.children.end()) {
      visit(*it->second, rest, more, f);
    }
    if (wildcards_ok && node.plus) visit(*node.plus, rest, more, f);
  }

  // `node` matched the levels up to `rest`; `more` says whether levels remain.
  template <class F>
  static void visit(const Node& node, std::string_view rest, bool more, F& f) {
    if (node.hash && node.hash->value) f(std::as_const(*node.hash->value));  // parent and below
    if (!more) {
      if (node.value) f(std::as_const(*node.value));
      return;
    }
    match_levels(node, rest, true, f);
  }

  // `buffer` holds the filter of `node`; `at_root` says it is the root (no levels yet).
  template <class F>
  static void for_each_node(const Node& node, bool at_root, std::string& buffer, F& f) {
    auto descend = [&](std::string_view level, const Node& child) {
      const std::size_t mark = buffer.size();
      if (!at_root) buffer.push_back(kLevelSeparator);
      buffer.append(level);
      if (child.value) f(std::string_view(buffer), std::as_const(*child.value));
      for_each_node(child, false, buffer, f);
      buffer.resize(mark);
    };
    for (const auto& [level, child] : node.children)
      descend(level, *child);
    if (node.plus) descend(kSingleLevelWildcard, *node.plus);
    if (node.hash) descend(kMultiLevelWildcard, *node.hash);
  }

  static std::size_t count_nodes(const Node& node) {
    std::size_t n = 0;
    for (const auto& [level, child] : node.children)
      n += 1 + count_nodes(*child);
    if (node.plus) n += 1 + count_nodes(*node.plus);
    if (node.hash) n += 1 + count_nodes(*node.hash);
    return n;
  }

  Node root_;
  std::size_t size_ = 0;
};

}  // namespace emqxd::broker
