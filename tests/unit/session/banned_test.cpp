// Banned and Flapping (session/banned.hpp): who is refused, until when, and when a client
// id counts as flapping.
#include "session/banned.hpp"

#include <catch2/catch.hpp>

namespace emqxd::session::test {
namespace {

const std::optional<std::string> kNoUser;

Banned::Entry entry(Banned::As as, std::string who, std::optional<std::int64_t> until) {
  Banned::Entry e;
  e.as = as;
  e.who = std::move(who);
  e.until = until;
  return e;
}

TEST_CASE("a ban holds until its time, by client id, username or address") {
  Banned b;
  std::string error;
  CHECK_FALSE(b.banned("c1", kNoUser, "10.0.0.1", 0));
  CHECK(b.create(entry(Banned::As::ClientId, "c1", 1000), error) == Banned::Outcome::Ok);
  CHECK(b.create(entry(Banned::As::Username, "u1", 1000), error) == Banned::Outcome::Ok);
  CHECK(b.create(entry(Banned::As::PeerHost, "10.0.0.9", std::nullopt), error) ==
        Banned::Outcome::Ok);
  CHECK(b.banned("c1", kNoUser, "10.0.0.1", 999));
  CHECK(b.banned("c2", std::string("u1"), "10.0.0.1", 999));
  CHECK(b.banned("c2", kNoUser, "10.0.0.9", 1'000'000'000));  // for ever
  CHECK_FALSE(b.banned("c2", std::string("u2"), "10.0.0.1", 999));
  // A username that equals a banned client id is not the same ban.
  CHECK_FALSE(b.banned("u1", std::string("c1"), "10.0.0.1", 999));
  CHECK_FALSE(b.banned("c1", kNoUser, "10.0.0.1", 1000));  // served its time
  CHECK(b.sweep(1000) == 2);
  CHECK(b.size() == 1);
}

TEST_CASE("patterns: client id and username regexes, address ranges") {
  Banned b;
  std::string error;
  CHECK(b.create(entry(Banned::As::ClientIdRe, "^bot-[0-9]+$", std::nullopt), error) ==
        Banned::Outcome::Ok);
  CHECK(b.create(entry(Banned::As::UsernameRe, "evil", std::nullopt), error) ==
        Banned::Outcome::Ok);
  CHECK(b.create(entry(Banned::As::PeerHostNet, "192.168.0.0/16", std::nullopt), error) ==
        Banned::Outcome::Ok);
  CHECK(b.banned("bot-42", kNoUser, "10.0.0.1", 0));
  CHECK_FALSE(b.banned("bot-x", kNoUser, "10.0.0.1", 0));
  CHECK(b.banned("c", std::string("an-evil-one"), "10.0.0.1", 0));  // searched, not anchored
  CHECK(b.banned("c", kNoUser, "192.168.7.7", 0));
  CHECK_FALSE(b.banned("c", kNoUser, "192.169.0.1", 0));
  CHECK(b.remove(Banned::As::PeerHostNet, "192.168.0.0/16") == Banned::Outcome::Ok);
  CHECK_FALSE(b.banned("c", kNoUser, "192.168.7.7", 0));
}

TEST_CASE("bad patterns and duplicates are refused") {
  Banned b;
  std::string error;
  CHECK(b.create(entry(Banned::As::ClientIdRe, "([", std::nullopt), error) ==
        Banned::Outcome::BadWho);
  CHECK_FALSE(error.empty());
  CHECK(b.create(entry(Banned::As::PeerHostNet, "10.0.0.0/33", std::nullopt), error) ==
        Banned::Outcome::BadWho);
  CHECK(b.create(entry(Banned::As::PeerHost, "not-an-ip", std::nullopt), error) ==
        Banned::Outcome::BadWho);
  CHECK(b.create(entry(Banned::As::ClientId, "c1", std::nullopt), error) == Banned::Outcome::Ok);
  CHECK(b.create(entry(Banned::As::ClientId, "c1", 5), error) == Banned::Outcome::Exists);
  CHECK(b.remove(Banned::As::ClientId, "nobody") == Banned::Outcome::NotFound);
  CHECK(b.size() == 1);
}

TEST_CASE("bans travel through the replicated tables and come back after a restart") {
  tables::ReplicatedTables t(nullptr, "n1");
  Banned b;
  int kicks = 0;
  b.on_ban([&] { ++kicks; });
  b.attach(t);
  std::string error;
  CHECK(b.create(entry(Banned::As::ClientId, "c1", std::nullopt), error) == Banned::Outcome::Ok);
  CHECK(kicks == 1);
  std::vector<tables::Entry> snap;
  t.snapshot(snap);
  REQUIRE(snap.size() == 1);
  CHECK(snap[0].key == "clientid/c1");
  // Another node's Banned, fed the same entries.
  tables::ReplicatedTables t2(nullptr, "n2");
  Banned b2;
  b2.attach(t2);
  t2.merge(std::move(snap));
  CHECK(b2.banned("c1", kNoUser, "h", 0));
  auto all = b2.list();
  REQUIRE(all.size() == 1);
  CHECK(all[0].who == "c1");
  CHECK_FALSE(all[0].until);
}

config::FlappingDetectConfig policy() {
  config::FlappingDetectConfig c;
  c.enable = true;
  c.max_count = 3;
  c.window_time = config::Duration(1000);
  c.ban_time = config::Duration(5000);
  return c;
}

TEST_CASE("the max_count-th end within the window makes a client id flap") {
  Flapping f(policy());
  CHECK_FALSE(f.ended("c", 0));
  CHECK_FALSE(f.ended("other", 10));
  CHECK_FALSE(f.ended("c", 500));
  CHECK(f.ended("c", 900));
  // Counting starts over after a ban.
  CHECK_FALSE(f.ended("c", 950));
}

TEST_CASE("ends spread over more than the window do not flap") {
  Flapping f(policy());
  CHECK_FALSE(f.ended("c", 0));
  CHECK_FALSE(f.ended("c", 600));
  CHECK_FALSE(f.ended("c", 1200));  // a new window from here
  CHECK_FALSE(f.ended("c", 1300));
  CHECK(f.ended("c", 1400));
}

TEST_CASE("flapping detection that is off never bans") {
  auto c = policy();
  c.enable = false;
  Flapping f(c);
  for (int i = 0; i < 10; ++i)
    CHECK_FALSE(f.ended("c", i));
}

}  // namespace
}  // namespace emqxd::session::test
