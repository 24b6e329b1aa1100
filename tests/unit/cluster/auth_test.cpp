// CallAuth (cluster/auth.hpp): the MAC, the window, the nonce cache and the server's proof;
// cert_names_node: which nodes a TLS certificate may speak as.
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

// Certificates made with `openssl req -x509` (EC P-256, 100 years): what they name is in
// the comment above each.
namespace {
// CN = n1@10.0.0.1, SAN IP:10.0.0.1
constexpr const char* kNodeName = R"(-----BEGIN CERTIFICATE-----
MIIBlDCCATqgAwIBAgIUcTNIYNeHTJD1X5aEko5TgB+1+5QwCgYIKoZIzj0EAwIw
FjEUMBIGA1UEAwwLbjFAMTAuMC4wLjEwIBcNMjYxMjA1MDcyNTM5WhgPMjEyNjEx
MTEwNzI1MzlaMBYxFDASBgNVBAMMC24xQDEwLjAuMC4xMFkwEwYHKoZIzj0CAQYI
KoZIzj0DAQcDQgAEXZPxRhCW+rFS4BAITLyg8Z19VonQ3BxsIC6TWqsys13vSniA
nBoz37Yevd8evdhD8m/sf6jA3tkCS+jkT0SHGaNkMGIwHQYDVR0OBBYEFL/VNYQ3
NQguUj+vhQz8X7NfDJ5cMB8GA1UdIwQYMBaAFL/VNYQ3NQguUj+vhQz8X7NfDJ5c
MA8GA1UdEwEB/wQFMAMBAf8wDwYDVR0RBAgwBocECgAAATAKBggqhkjOPQQDAgNI
ADBFAiEAix+IPYYfBquEe42+Pr1H+1wjbQRpBbzy6+oCzmKyDFUCIFinO1h8OeQD
n2FcM5cEABO3yS96mThiRd7+ovlBAsa8
-----END CERTIFICATE-----
)";

// CN = anything, SAN email:n1@host.example, DNS:host.example
constexpr const char* kEmailSan = R"(-----BEGIN CERTIFICATE-----
MIIBpzCCAU2gAwIBAgIUVbXRxt57bA5tIo5KZXElVyWiWLMwCgYIKoZIzj0EAwIw
EzERMA8GA1UEAwwIYW55dGhpbmcwIBcNMjYxMjA1MDcyNTM5WhgPMjEyNjExMTEw
NzI1MzlaMBMxETAPBgNVBAMMCGFueXRoaW5nMFkwEwYHKoZIzj0CAQYIKoZIzj0D
AQcDQgAEXZPxRhCW+rFS4BAITLyg8Z19VonQ3BxsIC6TWqsys13vSniAnBoz37Ye
vd8evdhD8m/sf6jA3tkCS+jkT0SHGaN9MHswHQYDVR0OBBYEFL/VNYQ3NQguUj+v
hQz8X7NfDJ5cMB8GA1UdIwQYMBaAFL/VNYQ3NQguUj+vhQz8X7NfDJ5cMA8GA1Ud
EwEB/wQFMAMBAf8wKAYDVR0RBCEwH4EPbjFAaG9zdC5leGFtcGxlggxob3N0LmV4
YW1wbGUwCgYIKoZIzj0EAwIDSAAwRQIhANcEhRAYvJpEwuf/Wac/8XZUv2VE/f3a
zmLVAoDAWotSAiANxp34T9pXyN3spjcfgvxy69MNmfCkUgQVD6N/x3u6iA==
-----END CERTIFICATE-----
)";

// CN = node, SAN IP:10.0.0.1, DNS:node1.example
constexpr const char* kHostIp = R"(-----BEGIN CERTIFICATE-----
MIIBljCCATugAwIBAgIUU2MKdhrKxn88WfxyhoHsb2quwa4wCgYIKoZIzj0EAwIw
DzENMAsGA1UEAwwEbm9kZTAgFw0yNjEyMDUwNzI1MzlaGA8yMTI2MTExMTA3MjUz
OVowDzENMAsGA1UEAwwEbm9kZTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABF2T
8UYQlvqxUuAQCEy8oPGdfVaJ0NwcbCAuk1qrMrNd70p4gJwaM9+2Hr3fHr3YQ/Jv
7H+owN7ZAkvo5E9EhxmjczBxMB0GA1UdDgQWBBS/1TWENzUILlI/r4UM/F+zXwye
XDAfBgNVHSMEGDAWgBS/1TWENzUILlI/r4UM/F+zXwyeXDAPBgNVHRMBAf8EBTAD
AQH/MB4GA1UdEQQXMBWHBAoAAAGCDW5vZGUxLmV4YW1wbGUwCgYIKoZIzj0EAwID
SQAwRgIhAOHmpaDbB51EM6cKU+GWGr1y1iYURFbyUd1/APZJb9YeAiEA4modU6U6
nMLQofaMlh8tI7b4ZBwX39k5TmX/31FCDBA=
-----END CERTIFICATE-----
)";

// CN = node1.example, no SAN
constexpr const char* kCnOnly = R"(-----BEGIN CERTIFICATE-----
MIIBiDCCAS2gAwIBAgIUEQOn2RxTSGvtBJ/8A8o/9cfFBW0wCgYIKoZIzj0EAwIw
GDEWMBQGA1UEAwwNbm9kZTEuZXhhbXBsZTAgFw0yNjEyMDUwNzI1MzlaGA8yMTI2
MTExMTA3MjUzOVowGDEWMBQGA1UEAwwNbm9kZTEuZXhhbXBsZTBZMBMGByqGSM49
AgEGCCqGSM49AwEHA0IABF2T8UYQlvqxUuAQCEy8oPGdfVaJ0NwcbCAuk1qrMrNd
70p4gJwaM9+2Hr3fHr3YQ/Jv7H+owN7ZAkvo5E9EhxmjUzBRMB0GA1UdDgQWBBS/
1TWENzUILlI/r4UM/F+zXwyeXDAfBgNVHSMEGDAWgBS/1TWENzUILlI/r4UM/F+z
XwyeXDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0kAMEYCIQDvjoVwt1yr
qBOT3BilR0e+WUCR0YFMCMZvQJgZd9XVhQIhAJa5aAcO6pY6V/3t8Ba6b9x2ZZEq
vdcXnsGbC4sQUwbA
-----END CERTIFICATE-----
)";
}  // namespace

TEST_CASE("a certificate with a full node name names that node only", "[cluster][auth]") {
  using emqxd::cluster::cert_names_node;
  CHECK(cert_names_node(kNodeName, "n1@10.0.0.1"));
  CHECK_FALSE(cert_names_node(kNodeName, "n2@10.0.0.1"));  // same host, another node
  CHECK(cert_names_node(kEmailSan, "n1@host.example"));
  CHECK(cert_names_node(kEmailSan, "N1@HOST.example"));
  CHECK_FALSE(cert_names_node(kEmailSan, "n2@host.example"));  // its DNS SAN does not count
}

TEST_CASE("a certificate without node names names every node of its host", "[cluster][auth]") {
  using emqxd::cluster::cert_names_node;
  CHECK(cert_names_node(kHostIp, "n1@10.0.0.1"));
  CHECK(cert_names_node(kHostIp, "n2@10.0.0.1"));
  CHECK(cert_names_node(kHostIp, "n1@node1.example"));
  CHECK_FALSE(cert_names_node(kHostIp, "n1@10.0.0.2"));
  CHECK_FALSE(cert_names_node(kHostIp, "n1@node"));  // with SANs the CN is not a host
  CHECK_FALSE(cert_names_node(kHostIp, "n1@node2.example"));
  CHECK(cert_names_node(kCnOnly, "n1@node1.example"));
  CHECK_FALSE(cert_names_node(kCnOnly, "n1@node2.example"));
}

TEST_CASE("a certificate that does not parse names nothing", "[cluster][auth]") {
  using emqxd::cluster::cert_names_node;
  CHECK_FALSE(cert_names_node("", "n1@10.0.0.1"));
  CHECK_FALSE(cert_names_node("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
                              "n1@10.0.0.1"));
  CHECK_FALSE(cert_names_node(kHostIp, "10.0.0.1"));  // not a node name
  CHECK_FALSE(cert_names_node(kHostIp, "n1@"));
}
