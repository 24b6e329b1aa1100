// Bootstrap files of the built-in database (server/auth/user_bootstrap.hpp): EMQX's CSV and
// JSON shapes, plain and hash, and errors that say where.
#include "auth/user_bootstrap.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using namespace emqxd::auth;

PasswordAlgorithm sha256() {
  return PasswordAlgorithm{};
}

std::string error_of(std::string_view text, std::string_view path,
                     BootstrapType t = BootstrapType::Plain) {
  try {
    parse_user_bootstrap(text, path, t, sha256());
  } catch (const AuthFileError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("bootstrap: plain CSV, hashed here with the authenticator's algorithm") {
  auto users = parse_user_bootstrap(
      "user_id,password,is_superuser\n"
      "alice,s3cret,true\r\n"
      "\n"
      "\"bob,jr\",\"pa\"\"ss\",false\n",
      "users.csv", BootstrapType::Plain, sha256());
  REQUIRE(users.size() == 2);
  CHECK(users[0].user_id == "alice");
  CHECK(users[0].is_superuser);
  CHECK(check_password(sha256(), users[0].salt, users[0].password_hash, "s3cret"));
  CHECK(users[1].user_id == "bob,jr");
  CHECK_FALSE(users[1].is_superuser);
  CHECK(check_password(sha256(), users[1].salt, users[1].password_hash, "pa\"ss"));
  CHECK(users[0].salt != users[1].salt);
}

TEST_CASE("bootstrap: hash CSV and JSON keep what EMQX exported") {
  auto csv = parse_user_bootstrap(
      "user_id,password_hash,salt,is_superuser\n"
      "dev,2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b,,false\n",
      "b.csv", BootstrapType::Hash, sha256());
  REQUIRE(csv.size() == 1);
  PasswordAlgorithm nosalt;
  nosalt.salt_position = PasswordAlgorithm::SaltPosition::Disable;
  CHECK(check_password(nosalt, csv[0].salt, csv[0].password_hash, "secret"));

  auto js = parse_user_bootstrap(
      R"([{"user_id": "a", "password_hash": "h", "salt": "s", "is_superuser": true},
          {"user_id": "b", "password_hash": "h2"}])",
      "b.json", BootstrapType::Hash, sha256());
  REQUIRE(js.size() == 2);
  CHECK(js[0].is_superuser);
  CHECK(js[0].salt == "s");
  CHECK(js[1].salt.empty());
  CHECK_FALSE(js[1].is_superuser);
  CHECK(parse_user_bootstrap("user_id,password,is_superuser\n", "empty.csv", BootstrapType::Plain,
                             sha256())
            .empty());
}

TEST_CASE("bootstrap: mistakes stop with where and what") {
  CHECK(error_of("user_id,password\nalice\n", "u.csv") ==
        "u.csv:2: 1 fields where the header names 2");
  CHECK(error_of("user_id,password\n\nalice,x\n,y\n", "u.csv") ==
        "u.csv:4: user_id is missing or empty");
  CHECK(error_of("user_id,pass\nalice,x\n", "u.csv") ==
        "u.csv: the header does not name the column password");
  CHECK(error_of("user_id,password\nalice,x\n", "u.csv", BootstrapType::Hash) ==
        "u.csv: the header does not name the column password_hash");
  CHECK(error_of("user_id,password\n\"alice,x\n", "u.csv") == "u.csv:2: unterminated quoted field");
  CHECK(error_of("{}", "u.json") == "u.json: expected a JSON array of users");
  CHECK(error_of("[1]", "u.json") == "u.json: user 1: expected an object");
  CHECK(error_of(R"([{"user_id": "a", "password": 5}])", "u.json") ==
        "u.json: user 1: password must be a string");
  CHECK(error_of("[", "u.json").rfind("u.json: not JSON", 0) == 0);
  CHECK(error_of("", "u.txt") == "u.txt: a bootstrap file is .csv or .json");
  CHECK_THROWS_AS(load_user_bootstrap("/nonexistent.csv", BootstrapType::Plain, sha256()),
                  AuthFileError);
}
