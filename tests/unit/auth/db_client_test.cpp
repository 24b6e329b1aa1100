// The database clients' pure parts: query templates become parameters (never text), and
// server addresses. The clients themselves run against real servers in
// tests/integration/test_authn_db.py.
#include "auth/db/db_client.hpp"

#include <catch2/catch.hpp>

using namespace emqxd::auth::db;

TEST_CASE("db: SQL placeholders become $N or ? and their values parameters", "[db]") {
  auto pg = Statement::compile(
      Kind::Postgres,
      "SELECT h FROM t WHERE u = ${username} AND c = ${clientid} OR u = ${username}");
  CHECK(pg.text == "SELECT h FROM t WHERE u = $1 AND c = $2 OR u = $3");
  CHECK(pg.params == std::vector<std::string>{"username", "clientid", "username"});
  auto my = Statement::compile(Kind::Mysql, "SELECT h FROM t WHERE u = ${username} LIMIT 1");
  CHECK(my.text == "SELECT h FROM t WHERE u = ? LIMIT 1");
  Vars v{{"username", "x' OR '1'='1"}, {"clientid", "c"}};
  CHECK(bind_args(pg, v) == Args{"x' OR '1'='1", "c", "x' OR '1'='1"});
  CHECK(bind_args(my, {}) == Args{""});  // a missing value is empty
}

TEST_CASE("db: a Redis command's words are one argument each, whatever the values", "[db]") {
  auto r = Statement::compile(Kind::Redis, "  HMGET  mqtt_user:${username} password_hash salt ");
  CHECK(r.words ==
        std::vector<std::string>{"HMGET", "mqtt_user:${username}", "password_hash", "salt"});
  CHECK(bind_args(r, {{"username", "a password_hash\r\nFLUSHALL"}}) ==
        Args{"HMGET", "mqtt_user:a password_hash\r\nFLUSHALL", "password_hash", "salt"});
}

TEST_CASE("db: server addresses", "[db]") {
  using P = std::pair<std::string, std::uint16_t>;
  CHECK(split_server("db.local", 5432) == P{"db.local", 5432});
  CHECK(split_server("127.0.0.1:6432", 5432) == P{"127.0.0.1", 6432});
  CHECK(split_server("[::1]:3307", 3306) == P{"::1", 3307});
  CHECK(split_server("[::1]", 3306) == P{"::1", 3306});
  CHECK_FALSE(split_server("::1", 3306));  // a bare IPv6 address: write [::1]
  CHECK_FALSE(split_server("h:0", 1));
  CHECK_FALSE(split_server("h:99999", 1));
  CHECK_FALSE(split_server(":5432", 1));
  CHECK_FALSE(split_server("h:", 1));
}
