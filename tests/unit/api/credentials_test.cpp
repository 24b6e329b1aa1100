// The HTTP API's credentials: PBKDF2 hashing and verification, HTTP Basic parsing, base64.
#include "api/credentials.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "api/api_keys.hpp"

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

TEST_CASE("API keys: EMQX's bootstrap file, key:secret[:role]", "[api][keys]") {
  using emqxd::api::parse_api_keys;
  using emqxd::api::Role;
  auto keys = parse_api_keys(
      "# keys\n"
      "k1:secret-one\n"
      "\n"
      "k_2:secret2:viewer\r\n"
      "K-3:s3c:administrator",
      "keys.txt", 1);
  REQUIRE(keys.size() == 3);
  CHECK(keys[0].credentials.username() == "k1");
  CHECK(keys[0].role == Role::Administrator);
  CHECK(keys[0].credentials.verify("k1", "secret-one"));
  CHECK_FALSE(keys[0].credentials.verify("k1", "secret-two"));
  CHECK(keys[1].role == Role::Viewer);
  CHECK(keys[1].credentials.verify("k_2", "secret2"));
  CHECK(keys[2].role == Role::Administrator);
  CHECK(parse_api_keys("", "keys.txt", 1).empty());

  auto error_of = [](const std::string& text) {
    try {
      parse_api_keys(text, "keys.txt", 1);
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(error_of("k1:abc\nnocolon\n") == "keys.txt:2: expected key:secret[:role]");
  CHECK(error_of("k1:abc\nk2:abc:root") ==
        "keys.txt:2: the role of key 'k2' must be administrator or viewer (EMQX's roles), got "
        "'root'");
  CHECK(error_of("k1:ab") ==
        "keys.txt:1: the secret of key 'k1' must be 3 to 128 characters, without ':' or spaces");
  CHECK(error_of("k1:" + std::string(129, 'x')).starts_with("keys.txt:1: the secret"));
  CHECK(error_of("k 1:abc") == "keys.txt:1: the key must be letters, digits, '-' and '_'");
  CHECK(error_of(":abc") == "keys.txt:1: the key must be letters, digits, '-' and '_'");
  CHECK(error_of("k1:abc\n\nk1:def") == "keys.txt:3: key 'k1' given twice");
  // The secret never appears in an error.
  CHECK(error_of("k1:hunter2:boss").find("hunter2") == std::string::npos);
}

TEST_CASE("API keys: a file that cannot be read is named", "[api][keys]") {
  CHECK_THROWS_WITH(emqxd::api::load_api_keys("/nonexistent/keys.txt", 1),
                    "api_key.bootstrap_file: cannot read /nonexistent/keys.txt: No such file or "
                    "directory");
}

TEST_CASE("credentials: the stored form reads back, and nothing else does", "[api][credentials]") {
  Credentials c = Credentials::make("admin", "pa:ss", 3);
  auto back = Credentials::decode("admin", c.encode());
  REQUIRE(back);
  CHECK(back->verify("admin", "pa:ss"));
  CHECK_FALSE(back->verify("admin", "pass"));
  CHECK(c.encode().starts_with("pbkdf2-sha256$3$"));
  CHECK(c.encode().find("pa:ss") == std::string::npos);
  for (std::string bad :
       std::vector<std::string>{"", "pbkdf2-sha256$", "pbkdf2-sha256$3$", "md5$3$a$b",
                                "pbkdf2-sha256$0$" + c.encode().substr(16), "pbkdf2-sha256$x$a$b",
                                c.encode() + "A", c.encode().substr(0, c.encode().size() - 4)}) {
    INFO(bad);
    CHECK_FALSE(Credentials::decode("admin", bad));
  }
}

TEST_CASE("credentials: the memo remembers successes only, per stored hash", "[api][credentials]") {
  emqxd::api::VerifyMemo memo;
  Credentials c = Credentials::make("admin", "right", 3);
  CHECK_FALSE(memo.verify(c, "admin", "wrong"));
  CHECK(memo.verify(c, "admin", "right"));
  CHECK(memo.verify(c, "admin", "right"));  // remembered
  CHECK_FALSE(memo.verify(c, "admin", "wrong"));
  CHECK_FALSE(memo.verify(c, "other", "right"));
  // A new password is a new stored hash: the old password no longer passes.
  Credentials changed = Credentials::make("admin", "new", 3);
  CHECK_FALSE(memo.verify(changed, "admin", "right"));
  CHECK(memo.verify(changed, "admin", "new"));
  // Bounded: many distinct successes do not grow it without end (and still verify).
  for (int i = 0; i < 5000; ++i) {
    Credentials k = Credentials::make("k" + std::to_string(i), "s", 1);
    CHECK(memo.verify(k, "k" + std::to_string(i), "s"));
  }
}
