#pragma once
// The built-in database authorization source (EMQX's `type = built_in_database`): rules
// per client id, per username and for all, kept in the replicated table
// "authz/built_in_database" (tables/replicated_tables.hpp: every node has them all, they
// survive restarts) and managed through /api/v5/authorization/sources/built_in_database/
// rules (api/access_api.cpp).
//
// Keys: "clientid/<id>", "username/<name>", "all"; values: the rules as EMQX's API takes
// them, a JSON array of {"permission", "action", "topic", "qos", "retain"}
// (AclRules::from_raw). A check matches the client id's rules, then the username's, then
// the rules for all, as EMQX's emqx_authz_mnesia: the first rule that matches decides.
// Each entry is compiled when it arrives, so a check is two hash lookups and the matching.
//
// Threads: any; one shared mutex around the compiled index.
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "auth/authorization.hpp"

namespace emqxd::tables {
class ReplicatedTables;
struct Entry;
}  // namespace emqxd::tables

namespace emqxd::auth {

class BuiltinRules final : public AuthzSource {
 public:
  static constexpr std::string_view kTable = "authz/built_in_database";
  static constexpr std::size_t kMaxEntries = 1'000'000;
  // The table, on every node whatever its config, so that peers' entries are kept.
  static void declare(tables::ReplicatedTables& t);

  explicit BuiltinRules(std::size_t max_rules) : max_rules_(max_rules) {}
  // Follows the table (before it is loaded); writes go to it from then on.
  void attach(tables::ReplicatedTables& t);

  std::string_view type() const override { return "built_in_database"; }
  std::optional<Permission> match(const Subject& subject, const AclAction& action,
                                  std::string_view topic) const override;

  // --- the API's (any thread) ---
  enum class Who : std::uint8_t { ClientId, Username, All };
  static std::string key_of(Who who, std::string_view name);
  std::size_t max_rules() const { return max_rules_; }
  // Checks `rules` (a JSON array EMQX's API accepts): empty when usable, else why not.
  std::string check(const boost::json::value& rules) const;
  // Replaces the rules of a key (an empty array removes it); false when the table is full.
  bool put(const std::string& key, const boost::json::value& rules) const;
  bool erase(const std::string& key) const;
  std::optional<boost::json::value> get(const std::string& key) const;
  // Keys with `prefix` ("clientid/", "username/"), in key order, with their rules.
  void scan(std::string_view prefix,
            const std::function<bool(std::string_view name, const boost::json::value&)>& f) const;
  void clear() const;

 private:
  void apply(const tables::Entry& e);

  std::size_t max_rules_;
  tables::ReplicatedTables* tables_ = nullptr;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const AclRules>> compiled_;  // guarded
};

}  // namespace emqxd::auth
