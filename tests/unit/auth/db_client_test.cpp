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

TEST_CASE("db client: a list of servers, as EMQX's servers key") {
  using L = std::vector<std::pair<std::string, std::uint16_t>>;
  CHECK(split_servers("a:1,b", 26379) == L{{"a", 1}, {"b", 26379}});
  CHECK(split_servers(" a:1 , [::1]:2 ", 6379) == L{{"a", 1}, {"::1", 2}});
  CHECK_FALSE(split_servers("", 6379));
  CHECK_FALSE(split_servers("a:1,,b", 6379));
  CHECK_FALSE(split_servers("a:1,b:x", 6379));
}

TEST_CASE("db client: Redis Cluster hash slots, as the cluster specification gives them") {
  CHECK(redis_slot("123456789") == (0x31C3 & 16383));  // the spec's CRC16 check value
  CHECK(redis_slot("foo") == 12182);
  CHECK(redis_slot("bar") == 5061);
  CHECK(redis_slot("") == 0);
  // A {hash tag} puts keys in one slot; an empty one ({}) does not count.
  CHECK(redis_slot("{user1000}.following") == redis_slot("{user1000}.followers"));
  CHECK(redis_slot("{user1000}.following") == redis_slot("user1000"));
  CHECK(redis_slot("foo{{bar}}zap") == redis_slot("{bar"));
  CHECK(redis_slot("foo{bar}{zap}") == redis_slot("bar"));
}
