// The HTTP API's credentials: PBKDF2 hashing and verification, HTTP Basic parsing, base64.
#include "api/credentials.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

namespace {

using emqxd::api::base64_decode;
using emqxd::api::base64_encode;
using emqxd::api::Credentials;
using emqxd::api::parse_basic_authorization;

}  // namespace

TEST_CASE("credentials verify the right user and password only", "[api][credentials]") {
  auto c = Credentials::make("admin", "s3cret:with:colons");
  CHECK(c.username() == "admin");
  CHECK(c.verify("admin", "s3cret:with:colons"));
  CHECK_FALSE(c.verify("admin", "s3cret:with:colon"));
  CHECK_FALSE(c.verify("admin", "s3cret:with:colonss"));
  CHECK_FALSE(c.verify("admin", ""));
  CHECK_FALSE(c.verify("Admin", "s3cret:with:colons"));
  CHECK_FALSE(c.verify("admin2", "s3cret:with:colons"));
  CHECK_FALSE(c.verify("", "s3cret:with:colons"));
  // Binary and non-ASCII passwords are bytes like any other.
  std::string odd("p\0w\xff", 4);
  auto b = Credentials::make("u", odd, 1000);
  CHECK(b.verify("u", odd));
  CHECK_FALSE(b.verify("u", std::string("p\0w\xfe", 4)));
}

TEST_CASE("credentials keep a salted hash, not the password", "[api][credentials]") {
  const std::string password = "CorrectHorseBatteryStaple";
  auto a = Credentials::make("admin", password);
  auto b = Credentials::make("admin", password);
  // Fresh random salt each time: equal passwords do not hash alike.
  CHECK(a.salt_for_test() != b.salt_for_test());
  CHECK(a.verify("admin", password));
  CHECK(b.verify("admin", password));
  // Nothing in the object holds the password's bytes.
  const auto* raw = reinterpret_cast<const char*>(&a);
  std::string bytes(raw, sizeof a);
  CHECK(bytes.find("CorrectHorse") == std::string::npos);
  CHECK(bytes.find("BatteryStaple") == std::string::npos);
}

TEST_CASE("wipe overwrites and empties a secret", "[api][credentials]") {
  std::string s = "a secret long enough to live on the heap, not in the SSO buffer";
  const char* data = s.data();
  std::size_t n = s.size();
  emqxd::api::wipe(s);
  CHECK(s.empty());
  // The buffer is still the string's (capacity kept): its old bytes are zeros.
  CHECK(s.data() == data);
  for (std::size_t i = 1; i < n; ++i)
    CHECK(data[i] == '\0');
}

TEST_CASE("base64 round trips and rejects what is not canonical RFC 4648",
          "[api][credentials][base64]") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode("admin:public") == "YWRtaW46cHVibGlj");
  for (std::string s : {"", "a", "ab", "abc", "abcd", "\xff\xfe\x00\x01"}) {
    CHECK(base64_decode(base64_encode(s)) == s);
  }
  CHECK(base64_decode("Zm9vYmFy") == std::string("foobar"));
  CHECK(base64_decode("Zg==") == std::string("f"));
  CHECK_FALSE(base64_decode("Zg"));        // no padding
  CHECK_FALSE(base64_decode("Zg="));       // bad length
  CHECK_FALSE(base64_decode("Z==="));      // too much padding
  CHECK_FALSE(base64_decode("Zg==Zg=="));  // padding in the middle
  CHECK_FALSE(base64_decode("Z=g="));
  CHECK_FALSE(base64_decode("Zm9v!mFy"));  // not in the alphabet
  CHECK_FALSE(base64_decode("Zm9v YmFy"));
  CHECK_FALSE(base64_decode("Zh=="));  // left-over bits set: not canonical
  CHECK_FALSE(base64_decode("Zm9="));
}

TEST_CASE("Basic authorization headers: scheme, base64, first colon", "[api][credentials][basic]") {
  auto ok = parse_basic_authorization("Basic YWRtaW46cHVibGlj");
  REQUIRE(ok);
  CHECK(ok->username == "admin");
  CHECK(ok->password == "public");
  // The scheme is case-insensitive; extra spaces around the token are tolerated.
  CHECK(parse_basic_authorization("basic  YWRtaW46cHVibGlj ")->password == "public");
  CHECK(parse_basic_authorization("BASIC YWRtaW46cHVibGlj")->username == "admin");
  // The password may hold colons; the username may be empty.
  auto colons = parse_basic_authorization("Basic " + base64_encode("u:p:a:ss"));
  REQUIRE(colons);
  CHECK(colons->username == "u");
  CHECK(colons->password == "p:a:ss");
  CHECK(parse_basic_authorization("Basic " + base64_encode(":pw"))->username.empty());

  CHECK_FALSE(parse_basic_authorization(""));
  CHECK_FALSE(parse_basic_authorization("Basic"));
  CHECK_FALSE(parse_basic_authorization("Basic "));
  CHECK_FALSE(parse_basic_authorization("Bearer YWRtaW46cHVibGlj"));
  CHECK_FALSE(parse_basic_authorization("YWRtaW46cHVibGlj"));
  CHECK_FALSE(parse_basic_authorization("Basic YWRtaW46cHVibGlj!"));                // bad base64
  CHECK_FALSE(parse_basic_authorization("Basic YWRtaW46cHVibGl"));                  // bad length
  CHECK_FALSE(parse_basic_authorization("Basic " + base64_encode("adminpublic")));  // no colon
}
