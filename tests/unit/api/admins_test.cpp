// Admins (api/admins.hpp) over in-memory replicated tables with a fake clock: tokens that
// expire, die with their user's password and never fill the table; the default user's
// password from the config until one is set.
#include "api/admins.hpp"

#include <algorithm>
#include <catch2/catch.hpp>

#include "tables/replicated_tables.hpp"

namespace emqxd::api::test {
namespace {

using emqxd::tables::ReplicatedTables;

struct Fixture {
  std::int64_t now_ms = 1'700'000'000'000;
  ReplicatedTables tables{nullptr, "n1",
                          [this] { return static_cast<std::uint64_t>(now_ms) * 1000; }};
  Credentials config = Credentials::make("admin", "public", 1);
  std::unique_ptr<Admins> admins;

  Fixture() {
    Admins::declare(tables);
    Admins::Options o;
    o.default_credentials = &config;
    o.default_password = true;
    o.token_life = std::chrono::minutes(1);
    o.iterations = 1;
    o.now_ms = [this] { return now_ms; };
    admins = std::make_unique<Admins>(tables, std::move(o));
  }
};

TEST_CASE("admins: tokens expire, and expired ones never fill the table", "[api][admins]") {
  Fixture f;
  auto t = f.admins->issue_token("admin");
  REQUIRE(t);
  Admins::TokenState st{};
  CHECK(f.admins->check_token(*t, &st)->role == Role::Administrator);
  CHECK(st == Admins::TokenState::Valid);
  f.now_ms += 61'000;
  CHECK_FALSE(f.admins->check_token(*t, &st));
  CHECK(st == Admins::TokenState::Expired);
  CHECK_FALSE(f.admins->check_token("made-up", &st));
  CHECK(st == Admins::TokenState::Unknown);
  // Tokens issued and logged out, then a token's life later: all forgotten at the next login.
  for (int i = 0; i < 15; ++i)
    f.admins->revoke_token(*f.admins->issue_token("admin"));
  // The expired one went at the first of those logins; the logged-out ones are tombstones.
  CHECK(f.tables.size(Admins::kTokensTable) == 0);
  std::vector<tables::Entry> before;
  f.tables.snapshot(before);
  CHECK(std::count_if(before.begin(), before.end(), [](const tables::Entry& e) {
          return e.table == Admins::kTokensTable && e.deleted;
        }) == 15);
  f.now_ms += 61'000;
  REQUIRE(f.admins->issue_token("admin"));
  std::vector<tables::Entry> all;
  f.tables.snapshot(all);
  std::size_t tokens = 0;
  for (const auto& e : all)
    tokens += e.table == Admins::kTokensTable ? 1 : 0;
  CHECK(tokens == 1);  // the new one: no expired entry, no tombstone left
}

TEST_CASE("admins: a user holds at most kMaxTokensPerUser tokens", "[api][admins]") {
  Fixture f;
  std::vector<std::string> tokens;
  for (std::size_t i = 0; i < Admins::kMaxTokensPerUser + 3; ++i) {
    tokens.push_back(*f.admins->issue_token("admin"));
    f.now_ms += 1;
  }
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    INFO(i);
    CHECK(f.admins->check_token(tokens[i]).has_value() == (i >= 3));
  }
}

TEST_CASE("admins: a token dies with its user's password, on any node's tables", "[api][admins]") {
  Fixture f;
  REQUIRE(f.admins->add_user("ops", "Good-pass-1", Role::Viewer, "") == Admins::Error::None);
  auto t = f.admins->issue_token("ops");
  REQUIRE(f.admins->check_token(*t));
  // The password changes by a write that does not revoke (as a peer's would arrive).
  f.tables.put(std::string(Admins::kPasswordsTable), "ops",
               Credentials::make("ops", "Other-pass-2", 1).encode());
  CHECK_FALSE(f.admins->check_token(*t));
  // A user deleted and made again under the same name does not inherit tokens.
  auto t2 = f.admins->issue_token("ops");
  f.tables.erase(std::string(Admins::kUsersTable), "ops");
  REQUIRE(f.admins->add_user("ops", "Good-pass-3", Role::Administrator, "") == Admins::Error::None);
  CHECK_FALSE(f.admins->check_token(*t2));
}

TEST_CASE("admins: the default user keeps the config's password until one is set",
          "[api][admins]") {
  Fixture f;
  auto v = f.admins->verify_user("admin", "public");
  CHECK((v.exists && v.passed && v.default_password));
  auto t = f.admins->issue_token("admin");
  REQUIRE(f.admins->update_user("admin", std::nullopt, "lead") == Admins::Error::None);
  CHECK(f.admins->verify_user("admin", "public").passed);  // the profile only changed
  CHECK(f.admins->check_token(*t));
  CHECK(f.admins->update_user("admin", Role::Viewer, std::nullopt) == Admins::Error::DefaultUser);
  CHECK(f.admins->delete_user("admin") == Admins::Error::DefaultUser);
  REQUIRE(f.admins->set_password("admin", "New-pass-1") == Admins::Error::None);
  v = f.admins->verify_user("admin", "New-pass-1");
  CHECK((v.passed && !v.default_password));
  CHECK_FALSE(f.admins->verify_user("admin", "public").passed);
  CHECK_FALSE(f.admins->check_token(*t));
  CHECK(f.admins->users().front().description == "lead");
  CHECK_FALSE(f.admins->verify_user("nobody", "public").exists);
}

}  // namespace
}  // namespace emqxd::api::test
