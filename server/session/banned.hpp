#pragma once
// Banned clients and flapping detection (EMQX's `banned` table and `flapping_detect`).
//
// Banned: who may not connect, by client id, username or source address, each until a
// time (Unix ms). A CONNECT from a banned client is refused with CONNACK 0x8A (MQTT 3.1.1:
// return code 5). Node-local for now: EMQX keeps the table in its cluster database and
// serves it on /api/v5/banned; here only flapping detection fills it, and it is lost on
// restart (docs/security.md, "Known limits").
//
// Flapping: a client id whose connections end `max_count` times within
// `window_time` is banned by client id for `ban_time` (flapping_detect.*), as EMQX's
// emqx_flapping does on its client.disconnected hook.
//
// Both are taken on CONNECT and disconnect only, never per message; any worker, one mutex
// each. Memory is bounded: at most kMaxEntries of each, the oldest evicted first.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "config/config.hpp"

namespace emqxd::session {

class Banned {
 public:
  enum class Kind : std::uint8_t { ClientId, Username, PeerHost };
  static constexpr std::size_t kMaxEntries = 100'000;

  // Bans `value` of `kind` until `until_ms` (replacing an earlier ban of it).
  void ban(Kind kind, std::string value, std::int64_t until_ms);
  // Whether any of them is banned at `now_ms` (expired bans are dropped on the way).
  bool banned(std::string_view client_id, const std::optional<std::string>& username,
              std::string_view peerhost, std::int64_t now_ms);
  std::size_t size() const;

 private:
  struct Key {
    Kind kind;
    std::string value;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const {
      return std::hash<std::string>()(k.value) ^ static_cast<std::size_t>(k.kind);
    }
  };
  bool hit(Kind kind, std::string_view value, std::int64_t now_ms);  // under mutex_

  mutable std::mutex mutex_;
  std::unordered_map<Key, std::int64_t, KeyHash> until_;  // guarded by mutex_
  std::atomic<std::size_t> count_{0};  // a cheap "nobody is banned" on every CONNECT
};

class Flapping {
 public:
  static constexpr std::size_t kMaxEntries = 100'000;
  explicit Flapping(const config::FlappingDetectConfig& cfg) : cfg_(cfg) {}
  // A connection of `client_id` ended at `now_ms`: true when that makes it flap (then the
  // caller bans it for ban_time).
  bool ended(const std::string& client_id, std::int64_t now_ms);

 private:
  struct Window {
    std::int64_t started_ms = 0;
    std::uint32_t count = 0;
  };
  const config::FlappingDetectConfig cfg_;
  std::mutex mutex_;
  std::unordered_map<std::string, Window> windows_;  // guarded by mutex_
};

}  // namespace emqxd::session
