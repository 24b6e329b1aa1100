// Banned and Flapping (session/banned.hpp): who is refused, until when, and when a client
// id counts as flapping.
#include "session/banned.hpp"

#include <catch2/catch.hpp>

namespace emqxd::session::test {
namespace {

const std::optional<std::string> kNoUser;

TEST_CASE("a ban holds until its time, by client id, username or address") {
  Banned b;
  CHECK_FALSE(b.banned("c1", kNoUser, "10.0.0.1", 0));
  b.ban(Banned::Kind::ClientId, "c1", 1000);
  b.ban(Banned::Kind::Username, "u1", 1000);
  b.ban(Banned::Kind::PeerHost, "10.0.0.9", 1000);
  CHECK(b.banned("c1", kNoUser, "10.0.0.1", 999));
  CHECK(b.banned("c2", std::string("u1"), "10.0.0.1", 999));
  CHECK(b.banned("c2", kNoUser, "10.0.0.9", 999));
  CHECK_FALSE(b.banned("c2", std::string("u2"), "10.0.0.1", 999));
  // A username that equals a banned client id is not the same ban.
  CHECK_FALSE(b.banned("u1", std::string("c1"), "10.0.0.1", 999));
  CHECK_FALSE(b.banned("c1", kNoUser, "10.0.0.1", 1000));  // served its time
  CHECK(b.size() == 2);  // the expired one is gone; the others wait for their next check
}

TEST_CASE("a newer ban of the same client replaces the earlier one") {
  Banned b;
  b.ban(Banned::Kind::ClientId, "c1", 1000);
  b.ban(Banned::Kind::ClientId, "c1", 5000);
  CHECK(b.size() == 1);
  CHECK(b.banned("c1", kNoUser, "h", 4000));
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
