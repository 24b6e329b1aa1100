// The SQL actions' batches (connectors/database.hpp): which statements become one
// multi-row INSERT, and how.
#include "connectors/database.hpp"

#include <catch2/catch.hpp>

using emqxd::connectors::insert_shape;

TEST_CASE("database: EMQX's default INSERT splits around its row", "[connectors]") {
  auto s = insert_shape(
      "insert into t_mqtt_msg(msgid, topic, qos, payload, arrived) values (${id}, ${topic}, "
      "${qos}, ${payload}, TO_TIMESTAMP((${timestamp} :: bigint)/1000))");
  REQUIRE(s);
  CHECK(s->head == "insert into t_mqtt_msg(msgid, topic, qos, payload, arrived) values");
  CHECK(s->row ==
        "(${id}, ${topic}, ${qos}, ${payload}, TO_TIMESTAMP((${timestamp} :: bigint)/1000))");
  CHECK(s->tail.empty());
}

TEST_CASE("database: quotes, VALUES( and a tail without placeholders", "[connectors]") {
  auto s = insert_shape("  INSERT INTO t(a, b) VALUES(${a}, ')values(') ON CONFLICT DO NOTHING;");
  REQUIRE(s);
  CHECK(s->row == "(${a}, ')values(')");
  CHECK(s->tail == " ON CONFLICT DO NOTHING;");
  // A column named like the keyword is not it.
  auto q = insert_shape("INSERT INTO t(`values`) VALUES (${x})");
  REQUIRE(q);
  CHECK(q->row == "(${x})");
}

TEST_CASE("database: statements that run once per message", "[connectors]") {
  CHECK_FALSE(insert_shape("UPDATE t SET a = ${a}"));
  CHECK_FALSE(insert_shape("INSERT INTO t SELECT ${a}"));
  CHECK_FALSE(insert_shape("INSERT INTO t(a) VALUES (${a}), (${b})"));  // two rows
  CHECK_FALSE(
      insert_shape("INSERT INTO t(a) VALUES (${a}) ON CONFLICT (a) DO UPDATE SET b = ${b}"));
  CHECK_FALSE(insert_shape("INSERT INTO t(a) VALUES (${a}"));  // unclosed
  CHECK_FALSE(insert_shape("INSERTX INTO t VALUES (1)"));
}
