// Password hashes (server/auth/password.hpp) as EMQX stores them: known answers computed
// independently (Python's hashlib; OpenBSD's bcrypt test vector), salts, and round trips.
#include "auth/password.hpp"

#include <catch2/catch.hpp>
#include <string>

namespace {

using emqxd::auth::check_password;
using emqxd::auth::hash_password;
using emqxd::auth::PasswordAlgorithm;
using Name = PasswordAlgorithm::Name;
using Salt = PasswordAlgorithm::SaltPosition;

PasswordAlgorithm simple(Name n, Salt s) {
  PasswordAlgorithm a;
  a.name = n;
  a.salt_position = s;
  return a;
}

}  // namespace

TEST_CASE("password: simple hashes with the salt before, after or nowhere") {
  CHECK(check_password(simple(Name::Md5, Salt::Prefix), "mysalt",
                       "12f1361d65ff52172b1cb9d74b4ff2ba", "secret"));
  CHECK(check_password(simple(Name::Sha, Salt::Suffix), "mysalt",
                       "7549dda3237f97e0d0a70cf860b0f966d4515a48", "secret"));
  CHECK(check_password(simple(Name::Sha256, Salt::Disable), "ignored",
                       "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b",
                       "secret"));
  CHECK(check_password(simple(Name::Sha512, Salt::Prefix), "mysalt",
                       "ed826b37b9f6113e8aa70fb3685430b3ce88f5a09cf770e125a23894499a95b8510c5a99"
                       "eb3b4fe7d0dd36517d8564828f086adbc86e87e75f437d309ffedaa2",
                       "secret"));
  CHECK(check_password(simple(Name::Plain, Salt::Disable), "", "secret", "secret"));
  CHECK(check_password(simple(Name::Plain, Salt::Prefix), "s-", "s-secret", "secret"));
  // Wrong password, wrong salt, wrong position, uppercase hex: no.
  CHECK_FALSE(check_password(simple(Name::Md5, Salt::Prefix), "mysalt",
                             "12f1361d65ff52172b1cb9d74b4ff2ba", "Secret"));
  CHECK_FALSE(check_password(simple(Name::Md5, Salt::Prefix), "mysalT",
                             "12f1361d65ff52172b1cb9d74b4ff2ba", "secret"));
  CHECK_FALSE(check_password(simple(Name::Md5, Salt::Suffix), "mysalt",
                             "12f1361d65ff52172b1cb9d74b4ff2ba", "secret"));
  CHECK_FALSE(check_password(simple(Name::Md5, Salt::Prefix), "mysalt",
                             "12F1361D65FF52172B1CB9D74B4FF2BA", "secret"));
  CHECK_FALSE(check_password(simple(Name::Plain, Salt::Disable), "", "secret", "secre"));
}

TEST_CASE("password: pbkdf2 with its mac_fun, iterations and dk_length") {
  PasswordAlgorithm a;
  a.name = Name::Pbkdf2;
  a.mac_fun = "sha256";
  a.iterations = 1000;
  CHECK(check_password(
      a, "mysalt", "d585430b2422d8d1204a8119f05ba2a7f6844d80dcaf73334ae6ee4884cd21b8", "secret"));
  a.mac_fun = "sha512";
  a.iterations = 10;
  a.dk_length = 20;
  CHECK(check_password(a, "mysalt", "5ad43af9fd3309cc50a36dab04ac75d0b7be6a07", "secret"));
  a.iterations = 11;
  CHECK_FALSE(check_password(a, "mysalt", "5ad43af9fd3309cc50a36dab04ac75d0b7be6a07", "secret"));
  a.mac_fun = "whirlpool";
  CHECK_FALSE(a.problem().empty());
  CHECK_FALSE(check_password(a, "mysalt", "5ad43af9fd3309cc50a36dab04ac75d0b7be6a07", "secret"));
}

TEST_CASE("password: bcrypt, the stored hash is its own salt") {
  PasswordAlgorithm a;
  a.name = Name::Bcrypt;
  // OpenBSD's test vector.
  CHECK(
      check_password(a, "", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"));
  CHECK_FALSE(
      check_password(a, "", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*V"));
  // Not bcrypt at all (DES crypt, garbage): never a match, whatever crypt(3) would say.
  CHECK_FALSE(check_password(a, "", "abJnggxhB/yWI", "secret"));
  CHECK_FALSE(check_password(a, "", "", ""));
  CHECK_FALSE(check_password(a, "", "$2b$", "secret"));
}

TEST_CASE("password: new hashes check, with fresh salts as EMQX writes them") {
  for (auto n : {Name::Md5, Name::Sha, Name::Sha256, Name::Sha512, Name::Pbkdf2, Name::Bcrypt}) {
    PasswordAlgorithm a;
    a.name = n;
    a.salt_rounds = 5;
    a.iterations = 100;
    auto s1 = hash_password(a, "pässword");
    auto s2 = hash_password(a, "pässword");
    CHECK(check_password(a, s1.salt, s1.hash, "pässword"));
    CHECK_FALSE(check_password(a, s1.salt, s1.hash, "password"));
    CHECK(s1.salt != s2.salt);
    if (n != Name::Bcrypt) CHECK(s1.salt.size() == 32);  // 16 random bytes in hex
    if (n == Name::Bcrypt) CHECK(s1.hash.rfind("$2b$05$", 0) == 0);
  }
  PasswordAlgorithm plain = simple(Name::Plain, Salt::Prefix);
  auto p = hash_password(plain, "x");
  CHECK(p.salt.empty());
  CHECK(p.hash == "x");
  PasswordAlgorithm nosalt = simple(Name::Sha256, Salt::Disable);
  CHECK(hash_password(nosalt, "x").salt.empty());
}
