// CallAuth (cluster/auth.hpp): the MAC, the window, the nonce cache and the server's proof.
#include "cluster/auth.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using emqxd::cluster::CallAuth;
using emqxd::cluster::CallProof;
using V = CallAuth::Verdict;

constexpr std::int64_t kNow = 1'700'000'000'000;
constexpr const char* kMethod = "/emqxd.cluster.v1.Sessions/Takeover";

}  // namespace

TEST_CASE("a call signed with the cluster's cookie is accepted once", "[cluster][auth]") {
  CallAuth n1("secret", "c", "n1@h1");
  CallAuth n2("secret", "c", "n2@h2");
  CallProof p = n1.sign(kMethod, "n2@h2", kNow);
  CHECK(p.node == "n1@h1");
  CHECK(p.nonce.size() == 32);
  CHECK(p.mac.size() == 64);
  CHECK(p.mac.find("secret") == std::string::npos);
  CHECK(n2.verify(kMethod, p, kNow + 10) == V::Ok);
  CHECK(n2.verify(kMethod, p, kNow + 20) == V::Replayed);
  // Another nonce for the same call is a new call.
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow), kNow) == V::Ok);
  CHECK(n1.sign(kMethod, "n2@h2", kNow).nonce != n1.sign(kMethod, "n2@h2", kNow).nonce);
}

TEST_CASE("a wrong cookie, another cluster or an altered field fails the MAC", "[cluster][auth]") {
  CallAuth n2("secret", "c", "n2@h2");
  CHECK(n2.verify(kMethod, CallAuth("wrong", "c", "n1@h1").sign(kMethod, "n2@h2", kNow), kNow) ==
        V::BadMac);
  CHECK(n2.verify(kMethod, CallAuth("secret", "d", "n1@h1").sign(kMethod, "n2@h2", kNow), kNow) ==
        V::BadMac);
  CHECK(n2.verify(kMethod, CallAuth("", "c", "n1@h1").sign(kMethod, "n2@h2", kNow), kNow) ==
        V::BadMac);
  CallAuth n1("secret", "c", "n1@h1");
  auto good = [&] { return n1.sign(kMethod, "n2@h2", kNow); };

  CallProof p = good();
  p.node = "n3@h3";  // claims to be another node
  CHECK(n2.verify(kMethod, p, kNow) == V::BadMac);
  p = good();
  CHECK(n2.verify("/emqxd.cluster.v1.Sessions/Register", p, kNow) == V::BadMac);  // other method
  p = good();
  p.time = std::to_string(kNow + 1);
  CHECK(n2.verify(kMethod, p, kNow) == V::BadMac);
  p = good();
  p.nonce[0] = p.nonce[0] == 'a' ? 'b' : 'a';
  CHECK(n2.verify(kMethod, p, kNow) == V::BadMac);
  p = good();
  p.mac[63] = p.mac[63] == '0' ? '1' : '0';
  CHECK(n2.verify(kMethod, p, kNow) == V::BadMac);
  // Nothing that failed took a place in the cache.
  CHECK(n2.nonces_for_test() == 0);
  CHECK(n2.verify(kMethod, good(), kNow) == V::Ok);
}

TEST_CASE("an empty cookie is a key like any other", "[cluster][auth]") {
  CallAuth a("", "c", "n1@h1");
  CallAuth b("", "c", "n2@h2");
  CHECK(b.verify(kMethod, a.sign(kMethod, "n2@h2", kNow), kNow) == V::Ok);
}

TEST_CASE("a call signed for another node is refused", "[cluster][auth]") {
  CallAuth n1("secret", "c", "n1@h1");
  CallAuth n3("secret", "c", "n3@h3");
  CHECK(n3.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow), kNow) == V::NotForUs);
  CHECK(n3.verify(kMethod, n1.sign(kMethod, "", kNow), kNow) == V::NotForUs);
}

TEST_CASE("the timestamp must be within the window", "[cluster][auth]") {
  CallAuth n1("secret", "c", "n1@h1");
  CallAuth n2("secret", "c", "n2@h2", std::chrono::seconds(60));
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow - 60'000), kNow) == V::Ok);
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow + 60'000), kNow) == V::Ok);
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow - 60'001), kNow) == V::Stale);
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow + 60'001), kNow) == V::Stale);
  // A call replayed after the window is stale, whether or not its nonce is remembered.
  CallProof p = n1.sign(kMethod, "n2@h2", kNow);
  CHECK(n2.verify(kMethod, p, kNow) == V::Ok);
  CHECK(n2.verify(kMethod, p, kNow + 60'001) == V::Stale);
}

TEST_CASE("malformed proofs are refused before any MAC is computed", "[cluster][auth]") {
  CallAuth n1("secret", "c", "n1@h1");
  CallAuth n2("secret", "c", "n2@h2");
  CallProof p = n1.sign(kMethod, "n2@h2", kNow);
  CHECK(n2.verify(kMethod, CallProof{}, kNow) == V::Malformed);
  CallProof q = p;
  q.time = "12x";
  CHECK(n2.verify(kMethod, q, kNow) == V::Malformed);
  q = p;
  q.nonce = "short";
  CHECK(n2.verify(kMethod, q, kNow) == V::Malformed);
  q = p;
  q.mac = p.mac.substr(1);
  CHECK(n2.verify(kMethod, q, kNow) == V::Malformed);
  q = p;
  q.time = "99999999999999999999999";
  CHECK(n2.verify(kMethod, q, kNow) == V::Malformed);
}

TEST_CASE("the nonce cache is bounded and never lets a forgotten nonce be replayed",
          "[cluster][auth]") {
  CallAuth n1("secret", "c", "n1@h1");
  CallAuth n2("secret", "c", "n2@h2", std::chrono::seconds(60), /*max_nonces=*/4);
  std::vector<CallProof> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(n1.sign(kMethod, "n2@h2", kNow + i));
    REQUIRE(n2.verify(kMethod, calls.back(), kNow + 10) == V::Ok);
  }
  CHECK(n2.nonces_for_test() == 4);
  // A fifth: the oldest is forgotten, and everything up to its time is refused from now on.
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow + 5), kNow + 10) == V::Ok);
  CHECK(n2.nonces_for_test() == 4);
  CHECK(n2.verify(kMethod, calls[0], kNow + 10) == V::Stale);
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow), kNow + 10) == V::Stale);
  CHECK(n2.verify(kMethod, calls[1], kNow + 10) == V::Replayed);
  // Later calls are still served, and entries past the window are dropped.
  CHECK(n2.verify(kMethod, n1.sign(kMethod, "n2@h2", kNow + 120'000), kNow + 120'000) == V::Ok);
  CHECK(n2.nonces_for_test() == 1);
}

TEST_CASE("the server proves it holds the cookie and is the node that was called",
          "[cluster][auth]") {
  CallAuth n1("secret", "c", "n1@h1");
  CallAuth n2("secret", "c", "n2@h2");
  CallProof p = n1.sign(kMethod, "n2@h2", kNow);
  REQUIRE(n2.verify(kMethod, p, kNow) == V::Ok);
  std::string proof = n2.server_proof(kMethod, p.nonce);
  CHECK(n1.check_server_proof(kMethod, "n2@h2", "n2@h2", p.nonce, proof));
  // Not for another call, another method, another node, or from a cookie-less impostor.
  CHECK_FALSE(n1.check_server_proof(kMethod, "n2@h2", "n2@h2", std::string(32, 'a'), proof));
  CHECK_FALSE(
      n1.check_server_proof("/emqxd.cluster.v1.Peer/Link", "n2@h2", "n2@h2", p.nonce, proof));
  CHECK_FALSE(n1.check_server_proof(kMethod, "n3@h3", "n2@h2", p.nonce, proof));
  CallAuth impostor("guess", "c", "n2@h2");
  CHECK_FALSE(n1.check_server_proof(kMethod, "n2@h2", "n2@h2", p.nonce,
                                    impostor.server_proof(kMethod, p.nonce)));
  CHECK_FALSE(n1.check_server_proof(kMethod, "n2@h2", "n2@h2", p.nonce, ""));
}
