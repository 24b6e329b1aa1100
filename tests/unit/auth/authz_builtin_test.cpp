// The built-in database authorization source (auth/authz_builtin.hpp): rules by client id,
// then by username, then for all; compiled as they arrive through the replicated tables.
#include "auth/authz_builtin.hpp"

#include <boost/json/parse.hpp>
#include <catch2/catch.hpp>

#include "tables/replicated_tables.hpp"

namespace emqxd::auth {
namespace {

Subject client(std::string id, std::optional<std::string> user) {
  Subject s;
  s.client_id = std::move(id);
  s.username = std::move(user);
  return s;
}

const AclAction kSub{AclActionType::Subscribe, 0, false};

TEST_CASE("built-in rules: client id, then username, then all", "[authz]") {
  tables::ReplicatedTables t(nullptr, "n1");
  BuiltinRules::declare(t);
  BuiltinRules rules(10);
  rules.attach(t);
  CHECK_FALSE(rules.match(client("c1", "alice"), kSub, "a"));
  auto parse = [](const char* text) { return boost::json::parse(text); };
  REQUIRE(rules.put(BuiltinRules::key_of(BuiltinRules::Who::Username, "alice"),
                    parse(R"([{"topic":"a","permission":"deny","action":"all"}])")));
  REQUIRE(rules.put(BuiltinRules::key_of(BuiltinRules::Who::ClientId, "c1"),
                    parse(R"([{"topic":"a","permission":"allow","action":"subscribe"}])")));
  REQUIRE(rules.put("all", parse(R"([{"topic":"#","permission":"allow","action":"all"}])")));
  CHECK(rules.match(client("c1", "alice"), kSub, "a") == Permission::Allow);  // client id first
  CHECK(rules.match(client("c2", "alice"), kSub, "a") == Permission::Deny);   // then username
  CHECK(rules.match(client("c2", "bob"), kSub, "a") == Permission::Allow);    // then all
  CHECK(rules.match(client("c2", std::nullopt), kSub, "b") == Permission::Allow);
  // An empty array removes the entry.
  REQUIRE(rules.put("all", boost::json::array{}));
  CHECK_FALSE(rules.match(client("c2", "bob"), kSub, "a"));
  CHECK_FALSE(rules.get("all"));
}

TEST_CASE("built-in rules: what check() refuses", "[authz]") {
  BuiltinRules rules(2);
  CHECK_FALSE(rules.check(boost::json::parse(R"({"topic":"a"})")).empty());
  CHECK_FALSE(rules
                  .check(boost::json::parse(
                      R"([{"topic":"a","permission":"allow","action":"all"},
                                  {"topic":"b","permission":"allow","action":"all"},
                                  {"topic":"c","permission":"allow","action":"all"}])"))
                  .empty());  // more than max_rules
  CHECK_FALSE(rules.check(boost::json::parse(R"([{"topic":"a","permission":"x","action":"all"}])"))
                  .empty());
  CHECK(rules.check(boost::json::parse(R"([{"topic":"a","permission":"allow","action":"all"}])"))
            .empty());
}

TEST_CASE("built-in rules reach another node's source through the tables", "[authz]") {
  tables::ReplicatedTables a(nullptr, "a"), b(nullptr, "b");
  BuiltinRules::declare(a);
  BuiltinRules::declare(b);
  BuiltinRules ra(10), rb(10);
  ra.attach(a);
  rb.attach(b);
  REQUIRE(
      ra.put("all", boost::json::parse(R"([{"topic":"x","permission":"deny","action":"all"}])")));
  std::vector<tables::Entry> snap;
  a.snapshot(snap);
  b.merge(std::move(snap));
  CHECK(rb.match(client("c", std::nullopt), kSub, "x") == Permission::Deny);
}

}  // namespace
}  // namespace emqxd::auth
