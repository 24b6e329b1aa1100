#pragma once
// Banned clients and flapping detection (EMQX's `banned` table and `flapping_detect`).
//
// Banned: who may not connect, EMQX's forms: `as` = clientid | username | peerhost (exact),
// clientid_re | username_re (a regular expression, searched as Erlang's re does) or
// peerhost_net (a CIDR), each with who did it, why, since and until when (or for ever). A
// CONNECT from a banned client is refused with CONNACK 0x8A (MQTT 3.1.1: return code 5);
// a client already connected when its ban arrives is kicked (DISCONNECT 0x8A). The entries
// live in the replicated table "banned" (tables/replicated_tables.hpp): every node has
// them all, they survive restarts, and /api/v5/banned manages them (api/access_api.cpp).
//
// Flapping: a client id whose connections end `max_count` times within `window_time` is
// banned by client id for `ban_time` (flapping_detect.*), as EMQX's emqx_flapping does on
// its client.disconnected hook: a ban like any other, so the whole cluster refuses it.
//
// The table is indexed here for the CONNECT path: hash maps for the exact forms, short
// lists for the patterns, behind an atomic "nobody is banned" check; one shared mutex.
// Taken on CONNECT, never per message. Any thread.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "auth/acl_rules.hpp"
#include "auth/regex.hpp"
#include "config/config.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::session {

class Banned {
 public:
  enum class As : std::uint8_t {
    ClientId,
    Username,
    PeerHost,
    ClientIdRe,
    UsernameRe,
    PeerHostNet
  };
  static constexpr std::string_view kTable = "banned";
  static constexpr std::size_t kMaxEntries = 100'000;

  struct Entry {
    As as = As::ClientId;
    std::string who;
    std::string by;
    std::string reason;
    std::int64_t at = 0;                // Unix seconds
    std::optional<std::int64_t> until;  // Unix seconds; nullopt: for ever
  };
  enum class Outcome : std::uint8_t { Ok, Exists, NotFound, Full, BadWho };

  static std::optional<As> as_of(std::string_view name);
  static std::string_view name(As as);

  // Declares the table on `t` and follows it; before t.load(). Without it the bans stay in
  // this object (tests).
  void attach(tables::ReplicatedTables& t);
  // Called after every ban that arrives (local or remote), outside the index's mutex: the
  // node kicks whoever it names. Set once, before other threads write (app/node.cpp sets
  // it after the tables are loaded: nobody is connected then).
  void on_ban(std::function<void()> f) { on_ban_ = std::move(f); }

  // A new ban; Exists when one of the same as/who is in force, BadWho when the regex or
  // CIDR does not compile (`error` says why).
  Outcome create(const Entry& e, std::string& error);
  // Bans (or bans again, later) without asking: flapping detection.
  void ban(As as, const std::string& who, std::int64_t until_s, std::string by, std::string reason);
  Outcome remove(As as, const std::string& who);
  void clear();
  // Every entry, in force or expired (not yet swept), in table order.
  std::vector<Entry> list() const;
  // Removes the entries whose `until` has passed; returns how many.
  std::size_t sweep(std::int64_t now_s);

  // Whether any entry in force at `now_s` names this client.
  bool banned(std::string_view client_id, const std::optional<std::string>& username,
              std::string_view peerhost, std::int64_t now_s) const;
  std::size_t size() const;

  static std::string encode(const Entry& e);
  static std::optional<Entry> decode(std::string_view key, std::string_view value);
  static std::string key_of(As as, std::string_view who);

 private:
  struct Pattern {
    std::string key;
    std::shared_ptr<auth::Regex> re;  // clientid_re, username_re
    std::optional<auth::Cidr> net;    // peerhost_net
    As as = As::ClientIdRe;
    std::optional<std::int64_t> until;
  };
  // The index, from the table's entries.
  void apply(const tables::Entry& e);
  void index(const Entry& e);                                           // under mutex_
  void unindex(As as, const std::string& who, const std::string& key);  // under mutex_
  bool write(const Entry& e);

  tables::ReplicatedTables* tables_ = nullptr;
  std::function<void()> on_ban_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;  // by key; guarded by mutex_ (no tables)
  std::unordered_map<std::string, std::optional<std::int64_t>> exact_[3];  // guarded
  std::vector<Pattern> patterns_;                                          // guarded
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
