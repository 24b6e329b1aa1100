// SCRAM (server/auth/scram.hpp): RFC 7677's SCRAM-SHA-256 example exchange byte for byte,
// a SHA-512 exchange driven by an independent client computation, and what must fail.
#include "auth/scram.hpp"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <catch2/catch.hpp>
#include <string>

namespace {

using namespace emqxd::auth;

std::string b64decode(std::string_view in) {
  std::string out(in.size(), '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!in.empty() && in.back() == '=') {
    out.pop_back();
    in.remove_suffix(1);
  }
  return out;
}

// RFC 7677 section 3.
const std::string kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
const std::string kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
const std::string kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const std::string kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
const std::string kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramCredentials rfc_user() {
  return scram_credentials(ScramAlgorithm::Sha256, "pencil", 4096,
                           b64decode("W22ZaJ0SNY7soEsUEjb6gQ=="));
}

}  // namespace

TEST_CASE("scram: RFC 7677's SCRAM-SHA-256 exchange, byte for byte") {
  ScramServer s(ScramAlgorithm::Sha256);
  std::string user, error;
  REQUIRE(s.client_first(kClientFirst, user, error));
  CHECK(user == "user");
  CHECK(s.server_first(rfc_user(), kServerNonce) == kServerFirst);
  CHECK(s.client_final(kClientFinal) == kServerFinal);
}

TEST_CASE("scram: a wrong proof, nonce or binding fails, and only one try is allowed") {
  auto run = [](std::string_view final_msg) {
    ScramServer s(ScramAlgorithm::Sha256);
    std::string user, error;
    REQUIRE(s.client_first(kClientFirst, user, error));
    s.server_first(rfc_user(), kServerNonce);
    return s.client_final(final_msg);
  };
  std::string wrong_proof = kClientFinal;
  wrong_proof[wrong_proof.size() - 5] = 'A';
  CHECK_FALSE(run(wrong_proof));
  std::string wrong_nonce = kClientFinal;
  wrong_nonce.replace(wrong_nonce.find("k0"), 2, "k1");
  CHECK_FALSE(run(wrong_nonce));
  CHECK_FALSE(run("c=eSws," + kClientFinal.substr(7)));  // "y,," where "n,," was sent
  CHECK_FALSE(run("c=biws,r=x"));
  CHECK_FALSE(run(""));
  // The right password through the wrong stored keys.
  ScramServer s(ScramAlgorithm::Sha256);
  std::string user, error;
  REQUIRE(s.client_first(kClientFirst, user, error));
  s.server_first(scram_credentials(ScramAlgorithm::Sha256, "pencil2", 4096,
                                   b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")),
                 kServerNonce);
  CHECK_FALSE(s.client_final(kClientFinal));
  CHECK_FALSE(s.client_final(kClientFinal));  // no second try on the same exchange
}

TEST_CASE("scram: client-first that is malformed or asks for what is not offered") {
  auto error_of = [](std::string_view m) {
    ScramServer s(ScramAlgorithm::Sha512);
    std::string user, error;
    if (s.client_first(m, user, error)) return std::string("ok:") + user;
    return error;
  };
  CHECK(error_of("n,,n=a=2Cb=3Dc,r=xyz") == "ok:a,b=c");
  CHECK(error_of("y,,n=u,r=x") == "ok:u");
  CHECK(error_of("p=tls-unique,,n=u,r=x") == "channel binding is not supported");
  CHECK(error_of("n,,n=u") == "client-first must be n=<user>,r=<nonce>");
  CHECK(error_of("n,,r=x,n=u") == "client-first must be n=<user>,r=<nonce>");
  CHECK(error_of("n,,n=a=2,r=x") == "bad username in client-first");
  CHECK(error_of("n,,n=,r=x") == "bad username in client-first");
  CHECK(error_of("n,,n=u,r=") == "bad nonce in client-first");
  CHECK(error_of("n,,n=u,r=a b") == "bad nonce in client-first");
  CHECK(error_of("") == "client-first must start with \"n,\" or \"y,\"");
  CHECK(error_of("n,") == "client-first must start with \"n,\" or \"y,\"");
  CHECK(scram_method("SCRAM-SHA-256") == ScramAlgorithm::Sha256);
  CHECK(scram_method("SCRAM-SHA-512") == ScramAlgorithm::Sha512);
  CHECK_FALSE(scram_method("SCRAM-SHA-1"));
}

TEST_CASE("scram: SHA-512 with fresh salts and nonces, the client computed independently") {
  const std::string password = "s3cret";
  auto creds = scram_credentials(ScramAlgorithm::Sha512, password, 1024);
  CHECK(creds.salt.size() == 16);
  CHECK(creds.stored_key.size() == 64);
  ScramServer s(ScramAlgorithm::Sha512);
  std::string user, error;
  REQUIRE(s.client_first("n,,n=dev,r=cnonce123", user, error));
  const std::string sf = s.server_first(creds);
  REQUIRE(sf.rfind("r=cnonce123", 0) == 0);
  const std::string nonce = sf.substr(2, sf.find(",s=") - 2);
  CHECK(nonce.size() > std::string("cnonce123").size());

  // The client's side, as RFC 5802 section 3 writes it.
  unsigned char salted[64];
  PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()),
                    reinterpret_cast<const unsigned char*>(creds.salt.data()),
                    static_cast<int>(creds.salt.size()), 1024, EVP_sha512(), 64, salted);
  auto mac = [](const void* key, int klen, std::string_view d) {
    unsigned char out[64];
    unsigned int n = 0;
    HMAC(EVP_sha512(), key, klen, reinterpret_cast<const unsigned char*>(d.data()), d.size(), out,
         &n);
    return std::string(reinterpret_cast<char*>(out), n);
  };
  std::string client_key = mac(salted, 64, "Client Key");
  unsigned char stored[64];
  unsigned int n = 0;
  EVP_Digest(client_key.data(), client_key.size(), stored, &n, EVP_sha512(), nullptr);
  const std::string without_proof = "c=biws,r=" + nonce;
  const std::string auth_message = "n=dev,r=cnonce123," + sf + "," + without_proof;
  std::string sig = mac(stored, 64, auth_message);
  std::string proof(64, '\0');
  for (int i = 0; i < 64; ++i)
    proof[static_cast<std::size_t>(i)] = static_cast<char>(client_key[static_cast<std::size_t>(i)] ^
                                                           sig[static_cast<std::size_t>(i)]);
  std::string proof64(100, '\0');
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(proof64.data()),
                            reinterpret_cast<const unsigned char*>(proof.data()), 64);
  proof64.resize(static_cast<std::size_t>(len));
  auto final_msg = s.client_final(without_proof + ",p=" + proof64);
  REQUIRE(final_msg);
  std::string server_key = mac(salted, 64, "Server Key");
  std::string v = mac(server_key.data(), 64, auth_message);
  std::string v64(100, '\0');
  len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(v64.data()),
                        reinterpret_cast<const unsigned char*>(v.data()), 64);
  v64.resize(static_cast<std::size_t>(len));
  CHECK(*final_msg == "v=" + v64);
}
