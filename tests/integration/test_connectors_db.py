"""EMQX 5's pgsql, mysql and redis connectors and actions (docs/connectors.md) against
Debian's PostgreSQL, MariaDB and Redis, started by the test on free ports with throw-away
data (db_servers.py): rows and commands arrive as templated with the values as
parameters, a batch is one multi-row INSERT, an outage of the database loses nothing
that fits the buffer, and a statement the server refuses or a wrong password is a clear
status, never a crash."""
import csv
import io
import json
import os
import time

import pytest

from conftest import config_refused, wait_for
from db_servers import Mariadb, Postgres, Redis, RedisCluster, RedisSentinel
from mqttc import Client
from pki import make_pki
from test_api import call, get_json


def need(server_cls):
    missing = server_cls.missing()
    if missing:
        pytest.fail("%s is not installed (scripts/install-deps.sh --test installs it)" % missing)


def action(b, id_):
    return get_json(b, "/api/v5/actions/" + id_)


def metrics(b, id_):
    return get_json(b, "/api/v5/actions/%s/metrics" % id_)["metrics"]


def connected(b, id_):
    return wait_for(lambda: action(b, id_)["status"] == "connected", 15)


# EMQX's default SQL for the pgsql action, and its documentation's table.
PG_TABLE = """CREATE TABLE t_mqtt_msg (id SERIAL PRIMARY KEY, msgid VARCHAR(64), sender
VARCHAR(64), topic VARCHAR(255), qos INTEGER, payload TEXT, arrived TIMESTAMP WITHOUT TIME ZONE,
extra TEXT)"""
PG_SQL = ("insert into t_mqtt_msg(msgid, sender, topic, qos, payload, arrived, extra) values "
          "(${id}, ${clientid}, ${topic}, ${qos}, ${payload}, "
          "TO_TIMESTAMP((${timestamp} :: bigint)/1000), ${payload.missing})")


def pg_conf(pg, batch="", password=None):
    return '''
connectors.pgsql.pg {
  server = "127.0.0.1:%d"
  database = %s
  username = %s
  password = "%s"
  pool_size = 2
  resource_opts { health_check_interval = 1s }
}
actions.pgsql.to_pg {
  connector = pg
  parameters { sql = """%s""" }
  resource_opts { health_check_interval = 1s, request_ttl = 60s %s }
}
rule_engine.rules.to_pg {
  sql = """SELECT * FROM "pg/#" """
  actions = ["pgsql:to_pg"]
}
''' % (pg.port, pg.DB, pg.USER, password or pg.PASSWORD, PG_SQL, batch)


def pg_rows(pg, cols="sender, topic, qos, payload, extra"):
    """The rows as lists of text; NULL is None."""
    out = pg.sql("COPY (SELECT %s FROM t_mqtt_msg ORDER BY id) TO STDOUT WITH CSV "
                 "FORCE QUOTE *" % cols)
    return [[None if v == "" else v for v in row] for row in csv.reader(io.StringIO(out))]


def test_pgsql_rows_arrive_as_templated_and_a_batch_is_one_insert(make_broker):
    need(Postgres)
    pg = Postgres()
    try:
        pg.sql(PG_TABLE)
        pg.sql("GRANT ALL ON t_mqtt_msg, t_mqtt_msg_id_seq TO %s" % Postgres.USER)
        # A statement-level trigger counts the INSERT statements.
        pg.sql("CREATE TABLE stmts (n INT); GRANT ALL ON stmts TO %s;"
               "CREATE FUNCTION count_stmt() RETURNS trigger AS $$ BEGIN "
               "INSERT INTO stmts VALUES (1); RETURN NULL; END $$ LANGUAGE plpgsql;"
               "CREATE TRIGGER per_stmt AFTER INSERT ON t_mqtt_msg FOR EACH STATEMENT "
               "EXECUTE FUNCTION count_stmt()" % Postgres.USER)
        b = make_broker(config_text=pg_conf(pg, ", batch_size = 50, batch_time = 50ms"))
        assert connected(b, "pgsql:to_pg"), action(b, "pgsql:to_pg")
        pub = Client(b, "pg-dev")
        evil = "x'); DROP TABLE t_mqtt_msg; --"
        pub.publish("pg/a", evil.encode(), qos=1)
        assert wait_for(lambda: len(pg_rows(pg)) == 1, 10), pg_rows(pg)
        # The payload is a value, never SQL; a path the output lacks is NULL (empty in CSV).
        assert pg_rows(pg) == [["pg-dev", "pg/a", "1", evil, None]]
        arrived = pg.sql("SELECT extract(epoch from arrived)::bigint FROM t_mqtt_msg").split()
        assert abs(int(arrived[-3]) - time.time()) < 120, arrived
        # A JSON payload: ${payload.missing} reads nothing, ${payload} is the text.
        for i in range(200):
            pub.publish("pg/b", json.dumps({"n": i}).encode(), qos=0)
        assert wait_for(lambda: len(pg_rows(pg)) == 201, 20), len(pg_rows(pg))
        rows = pg_rows(pg, "payload")[1:]
        assert [json.loads(r[0])["n"] for r in rows] == list(range(200))
        m = metrics(b, "pgsql:to_pg")
        assert (m["matched"], m["success"], m["failed"], m["dropped"]) == (201, 201, 0, 0), m
        # Batches were multi-row INSERTs: far fewer statements than rows.
        statements = int(pg.sql("SELECT count(*) FROM stmts").split()[2])
        assert 5 <= statements <= 60, statements
    finally:
        pg.close()


def test_pgsql_outage_loses_nothing_and_a_bad_statement_is_a_clear_status(make_broker):
    need(Postgres)
    pg = Postgres()
    try:
        pg.sql(PG_TABLE)
        pg.sql("GRANT ALL ON t_mqtt_msg, t_mqtt_msg_id_seq TO %s" % Postgres.USER)
        b = make_broker(config_text=pg_conf(pg, ", batch_size = 10"))
        assert connected(b, "pgsql:to_pg")
        pg.stop()
        assert wait_for(lambda: action(b, "pgsql:to_pg")["status"] == "disconnected", 10)
        pub = Client(b, "pg-out")
        for i in range(300):
            pub.publish("pg/c", b"%d" % i, qos=1)
        assert wait_for(lambda: metrics(b, "pgsql:to_pg")["matched"] == 300, 10)
        time.sleep(1.5)
        pg.start_again()
        assert wait_for(lambda: len(pg_rows(pg)) == 300, 30), len(pg_rows(pg))
        assert [r[3] for r in pg_rows(pg)] == [str(i) for i in range(300)]
        m = metrics(b, "pgsql:to_pg")
        assert (m["success"], m["dropped"], m["failed"]) == (300, 0, 0), m
        assert m["retried"] > 0, m

        # The table goes: the server refuses the statement, which fails (not retried) and
        # is said in the action's status; the node and other clients carry on.
        pg.sql("DROP TABLE t_mqtt_msg")
        pub.publish("pg/d", b"lost", qos=1)
        assert wait_for(lambda: metrics(b, "pgsql:to_pg")["failed"] == 1, 10), \
            metrics(b, "pgsql:to_pg")
        a = action(b, "pgsql:to_pg")
        assert 'relation "t_mqtt_msg" does not exist' in a["status_reason"], a
        pub.publish("pg/d", b"still here", qos=1)
    finally:
        pg.close()


def test_pgsql_wrong_password_is_the_connectors_status(make_broker):
    need(Postgres)
    pg = Postgres()
    try:
        b = make_broker(config_text=pg_conf(pg, password="not-the-password"))
        assert wait_for(lambda: "password authentication failed" in
                        get_json(b, "/api/v5/connectors/pgsql:pg").get("status_reason", ""), 15)
        c = get_json(b, "/api/v5/connectors/pgsql:pg")
        assert c["status"] == "disconnected", c
        assert c["password"] == "******" and "not-the-password" not in json.dumps(c)
        # Put right through the API; then GET's body sent back as it is (the password
        # "******") keeps the stored one, as EMQX does.
        body = {k: v for k, v in c.items() if k not in ("status", "status_reason", "node_status",
                                                        "actions", "type", "name")}
        body["password"] = Postgres.PASSWORD
        assert call(b, "PUT", "/api/v5/connectors/pgsql:pg", body)[0] == 200
        assert wait_for(lambda: get_json(b, "/api/v5/connectors/pgsql:pg")["status"] ==
                        "connected", 15)
        shown = get_json(b, "/api/v5/connectors/pgsql:pg")
        assert shown["password"] == "******"
        body["password"] = shown["password"]
        assert call(b, "PUT", "/api/v5/connectors/pgsql:pg", body)[0] == 200
        time.sleep(2.5)  # health checks every second: a wrong password would show
        assert get_json(b, "/api/v5/connectors/pgsql:pg")["status"] == "connected"
    finally:
        pg.close()


MY_TABLE = """CREATE TABLE emqx_messages (id INT AUTO_INCREMENT PRIMARY KEY,
clientid VARCHAR(255), topic VARCHAR(255), payload BLOB, created_at TIMESTAMP NULL,
qos INT)"""


def test_mysql_rows_arrive_as_templated_in_batches(make_broker):
    need(Mariadb)
    my = Mariadb()
    try:
        my.sql(MY_TABLE)
        b = make_broker(config_text='''
connectors.mysql.my {
  server = "127.0.0.1:%d"
  database = %s
  username = %s
  password = "%s"
  resource_opts { health_check_interval = 1s }
}
actions.mysql.to_my {
  connector = my
  parameters {
    sql = """INSERT INTO emqx_messages(clientid, topic, payload, created_at, qos) VALUES(${clientid}, ${topic}, ${payload}, FROM_UNIXTIME(${timestamp}/1000), ${payload.q})"""
    undefined_vars_as_null = true
  }
  resource_opts { batch_size = 20, batch_time = 20ms }
}
rule_engine.rules.to_my {
  sql = """SELECT * FROM "my/#" """
  actions = ["mysql:to_my"]
}
''' % (my.port, my.DB, my.USER, my.PASSWORD))
        assert connected(b, "mysql:to_my"), action(b, "mysql:to_my")
        pub = Client(b, "my-dev")
        for i in range(100):
            pub.publish("my/a", json.dumps({"q": i} if i % 2 else {"other": i}).encode(), qos=1)

        def rows():
            out = my.sql("SELECT clientid, topic, payload, qos, created_at IS NOT NULL "
                         "FROM emqx_messages ORDER BY id")
            return [r.split("\t") for r in out.splitlines()[1:]]
        assert wait_for(lambda: len(rows()) == 100, 20), len(rows())
        for i, r in enumerate(rows()):
            assert r[:2] == ["my-dev", "my/a"] and r[4] == "1", r
            assert r[3] == (str(i) if i % 2 else "NULL"), r  # a missing path is NULL
        m = metrics(b, "mysql:to_my")
        assert (m["success"], m["failed"], m["dropped"]) == (100, 0, 0), m
    finally:
        my.close()


def test_redis_commands_arrive_as_templated_and_a_wrong_password_is_a_status(make_broker):
    need(Redis)
    rd = Redis()
    try:
        conf = '''
connectors.redis.rd {
  parameters {
    redis_type = single
    server = "127.0.0.1:%d"
    password = "%s"
    database = 2
  }
  resource_opts { health_check_interval = 1s }
}
actions.redis.to_rd {
  connector = rd
  parameters { command_template = ["RPUSH", "msgs:${clientid}", "${payload}"] }
}
actions.redis.to_hash {
  connector = rd
  parameters { command_template = ["HSET", "emqx_messages:${clientid}", "topic", "${topic}", "qos", "${qos}", "none", "${payload.none}"] }
}
rule_engine.rules.to_rd {
  sql = """SELECT * FROM "rd/#" """
  actions = ["redis:to_rd", "redis:to_hash"]
}
'''
        b = make_broker(config_text=conf % (rd.port, Redis.PASSWORD))
        assert connected(b, "redis:to_rd"), action(b, "redis:to_rd")
        pub = Client(b, "rd-dev")
        for p in (b"one", b"two words", b"three\r\nFLUSHALL"):
            pub.publish("rd/a", p, qos=1)
        assert wait_for(lambda: rd.cmd("-n", "2", "LLEN", "msgs:rd-dev").strip() == "3", 10)
        got = rd.cmd("-n", "2", "--raw", "LRANGE", "msgs:rd-dev", "0", "-1")
        assert got.split("\n")[:2] == ["one", "two words"], got
        # One argument (redis-cli prints its CR as a line break); no FLUSHALL ran.
        assert got.replace("\r", "").split("\n")[2:4] == ["three", "FLUSHALL"], got
        assert rd.cmd("-n", "2", "--raw", "HGET", "emqx_messages:rd-dev", "topic").strip() == "rd/a"
        # A path that reads nothing is EMQX's "undefined".
        assert rd.cmd("-n", "2", "--raw", "HGET", "emqx_messages:rd-dev", "none").strip() == \
            "undefined"
        assert metrics(b, "redis:to_rd")["success"] == 3

        b2 = make_broker(config_text=conf % (rd.port, "wrong-password"))
        assert wait_for(lambda: get_json(b2, "/api/v5/connectors/redis:rd")["status"] ==
                        "disconnected", 15)
        reason = get_json(b2, "/api/v5/connectors/redis:rd").get("status_reason", "")
        assert "AUTH" in reason and "wrong-password" not in reason, reason
    finally:
        rd.close()


def test_pgsql_and_mysql_over_tls_check_the_server(make_broker, tmp_path):
    """Servers that take TLS only: rows arrive when the CA is right; the wrong CA, or no
    TLS at all, is the connector's status, naming why."""
    need(Postgres)
    need(Mariadb)
    (tmp_path / "pki").mkdir()
    (tmp_path / "other").mkdir()
    pki = make_pki(str(tmp_path / "pki"), "right CA")
    other = make_pki(str(tmp_path / "other"), "other CA")
    pg, my = Postgres(tls=pki), None
    try:
        my = Mariadb(tls=pki)
        pg.sql(PG_TABLE)
        pg.sql("GRANT ALL ON t_mqtt_msg, t_mqtt_msg_id_seq TO %s" % Postgres.USER)
        my.sql(MY_TABLE)
        conf = '''
connectors.pgsql.pg {
  server = "127.0.0.1:%d", database = %s, username = %s, password = "%s"
  ssl { enable = true, verify = verify_peer, cacertfile = "%s" }
  resource_opts { health_check_interval = 1s }
}
connectors.mysql.my {
  server = "127.0.0.1:%d", database = %s, username = %s, password = "%s"
  ssl { enable = %s, verify = verify_peer, cacertfile = "%s" }
  resource_opts { health_check_interval = 1s }
}
actions.pgsql.to_pg {
  connector = pg
  parameters { sql = """%s""" }
}
actions.mysql.to_my {
  connector = my
  parameters { sql = "INSERT INTO emqx_messages(clientid, topic, payload, qos) VALUES (${clientid}, ${topic}, ${payload}, ${qos})" }
}
rule_engine.rules.tls { sql = """SELECT * FROM "tls/#" """, actions = ["pgsql:to_pg", "mysql:to_my"] }
'''

        def config(pg_ca, my_tls, my_ca):
            return conf % (pg.port, pg.DB, pg.USER, pg.PASSWORD, pg_ca,
                           my.port, my.DB, my.USER, my.PASSWORD, my_tls, my_ca, PG_SQL)
        ca, bad_ca = os.path.join(pki, "ca.pem"), os.path.join(other, "ca.pem")
        b = make_broker(config_text=config(ca, "true", ca))
        assert connected(b, "pgsql:to_pg"), action(b, "pgsql:to_pg")
        assert connected(b, "mysql:to_my"), action(b, "mysql:to_my")
        Client(b, "tls-dev").publish("tls/a", b"secret", qos=1)
        assert wait_for(lambda: "secret" in pg.sql("SELECT payload FROM t_mqtt_msg"), 10)
        assert wait_for(lambda: "secret" in my.sql("SELECT payload FROM emqx_messages"), 10)
        # Certificates from a CA the connectors do not trust.
        b2 = make_broker(config_text=config(bad_ca, "true", bad_ca))

        def status(b, id_):
            c = get_json(b, "/api/v5/connectors/" + id_)
            return c["status"], c.get("status_reason", "")
        for id_ in ("pgsql:pg", "mysql:my"):
            assert wait_for(lambda: status(b2, id_)[0] == "disconnected", 15), status(b2, id_)
            reason = status(b2, id_)[1].lower()
            assert "certificate verify failed" in reason or "self-signed certificate" in reason, \
                status(b2, id_)
        # MariaDB without TLS: the server takes none.
        b3 = make_broker(config_text=config(ca, "false", ca))
        assert wait_for(lambda: status(b3, "mysql:my")[0] == "disconnected", 15)
        assert connected(b3, "pgsql:to_pg")
    finally:
        pg.close()
        if my is not None:
            my.close()


REDIS_ACTION = '''
actions.redis.to_rd {
  connector = rd
  parameters { command_template = ["RPUSH", "msgs:${clientid}", "${payload}"] }
  resource_opts { health_check_interval = 1s }
}
rule_engine.rules.to_rd {
  sql = """SELECT * FROM "rd/#" """
  actions = ["redis:to_rd"]
}
'''


def test_redis_sentinel_follows_a_failover_and_loses_nothing(make_broker):
    need(RedisSentinel)
    rs = RedisSentinel()
    try:
        b = make_broker(config_text='''
connectors.redis.rd {
  parameters {
    redis_type = sentinel
    servers = "127.0.0.1:%d"
    sentinel = "%s"
    password = "%s"
    database = 1
  }
  resource_opts { health_check_interval = 1s }
}
''' % (rs.port, RedisSentinel.NAME, RedisSentinel.PASSWORD) + REDIS_ACTION)
        assert connected(b, "redis:to_rd"), action(b, "redis:to_rd")
        pub = Client(b, "sn-dev")
        for i in range(5):
            pub.publish("rd/a", b"before %d" % i, qos=1)
        assert wait_for(lambda: rs.cmd("-n", "1", "LLEN", "msgs:sn-dev").strip() == "5", 10)
        rs.failover()
        # The pooled connections to the old master hear READONLY and go; the sentinel
        # names the new one.
        for i in range(5):
            pub.publish("rd/a", b"after %d" % i, qos=1)
        assert wait_for(lambda: rs.cmd("-n", "1", "LLEN", "msgs:sn-dev").strip() == "10", 30), \
            (rs.cmd("-n", "1", "LRANGE", "msgs:sn-dev", "0", "-1"), metrics(b, "redis:to_rd"))
        got = rs.cmd("-n", "1", "--raw", "LRANGE", "msgs:sn-dev", "0", "-1").split()
        assert got == [w for i in range(5) for w in ("before", str(i))] + \
            [w for i in range(5) for w in ("after", str(i))], got
        m = metrics(b, "redis:to_rd")
        assert (m["success"], m["dropped"]) == (10, 0), m
        # A sentinel that knows no such master is the connector's status.
        b2 = make_broker(config_text='''
connectors.redis.rd {
  parameters { redis_type = sentinel, servers = "127.0.0.1:%d", sentinel = nobody, password = "%s" }
  resource_opts { health_check_interval = 1s }
}
''' % (rs.port, RedisSentinel.PASSWORD) + REDIS_ACTION)
        assert wait_for(lambda: get_json(b2, "/api/v5/connectors/redis:rd")["status"] ==
                        "disconnected", 15)
        reason = get_json(b2, "/api/v5/connectors/redis:rd").get("status_reason", "")
        assert "knows no master named nobody" in reason, reason
    finally:
        rs.close()


def test_redis_cluster_sends_each_key_to_its_node(make_broker):
    need(RedisCluster)
    rc = RedisCluster()
    try:
        # One seed is enough: the slot map names the other nodes.
        b = make_broker(config_text='''
connectors.redis.rd {
  parameters { redis_type = cluster, servers = "127.0.0.1:%d", password = "%s" }
  resource_opts { health_check_interval = 1s }
}
''' % (rc.ports[1], RedisCluster.PASSWORD) + REDIS_ACTION)
        assert connected(b, "redis:to_rd"), action(b, "redis:to_rd")
        ids = ["cl-%d" % i for i in range(12)]
        for cid in ids:
            c = Client(b, cid)
            c.publish("rd/x", cid.encode(), qos=1)
            c.publish("rd/x", b"again", qos=1)
        for cid in ids:
            assert wait_for(lambda: rc.cmd("LLEN", "msgs:" + cid).strip() == "2", 10), cid
            assert rc.cmd("--raw", "LRANGE", "msgs:" + cid, "0", "-1").split() == [cid, "again"]
        # The keys are spread: every node holds some of them.
        per_node = [int(rc.node_cmd(p, "DBSIZE").strip()) for p in rc.ports]
        assert sum(per_node) == len(ids) and all(n > 0 for n in per_node), per_node
        m = metrics(b, "redis:to_rd")
        assert (m["success"], m["failed"], m["dropped"]) == (24, 0, 0), m

        # A slot on the move: while it migrates, a key the old owner lacks is answered
        # with ASK (the action asks the new owner, with ASKING); once it has moved, the
        # action's map is stale and MOVED sends it on. "{mv}" puts both keys in one slot.
        Client(b, "{mv}a").publish("rd/x", b"a1", qos=1)
        assert wait_for(lambda: rc.cmd("LLEN", "msgs:{mv}a").strip() == "1", 10)
        slot = rc.node_cmd(rc.ports[0], "CLUSTER", "KEYSLOT", "msgs:{mv}a").strip()
        owner = [p for p in rc.ports
                 if rc.node_cmd(p, "CLUSTER", "COUNTKEYSINSLOT", slot).strip() == "1"][0]
        target = [p for p in rc.ports if p != owner][0]
        node_ids = {p: rc.node_cmd(p, "CLUSTER", "MYID").strip() for p in rc.ports}
        rc.node_cmd(target, "CLUSTER", "SETSLOT", slot, "IMPORTING", node_ids[owner])
        rc.node_cmd(owner, "CLUSTER", "SETSLOT", slot, "MIGRATING", node_ids[target])
        Client(b, "{mv}b").publish("rd/x", b"b1", qos=1)
        assert wait_for(lambda: metrics(b, "redis:to_rd")["success"] == 26, 10), \
            metrics(b, "redis:to_rd")
        assert rc.node_cmd(target, "CLUSTER", "COUNTKEYSINSLOT", slot).strip() == "1"
        rc.node_cmd(owner, "MIGRATE", "127.0.0.1", str(target), "", "0", "5000", "AUTH",
                    RedisCluster.PASSWORD, "KEYS", "msgs:{mv}a")
        for p in rc.ports:
            rc.node_cmd(p, "CLUSTER", "SETSLOT", slot, "NODE", node_ids[target])
        Client(b, "{mv}a").publish("rd/x", b"a2", qos=1)
        assert wait_for(lambda: rc.cmd("LLEN", "msgs:{mv}a").strip() == "2", 10), \
            metrics(b, "redis:to_rd")
        assert rc.node_cmd(owner, "CLUSTER", "COUNTKEYSINSLOT", slot).strip() == "0"
        assert rc.node_cmd(target, "CLUSTER", "COUNTKEYSINSLOT", slot).strip() == "2"
        m = metrics(b, "redis:to_rd")
        assert (m["success"], m["failed"], m["dropped"]) == (27, 0, 0), m

        # Nodes that close idle connections (timeout 1 s): a kept connection found closed
        # is replaced and the command sent once more, not failed and retried later.
        for p in rc.ports:
            rc.node_cmd(p, "CONFIG", "SET", "timeout", "1")
        time.sleep(2.5)
        for cid in ids:
            Client(b, cid).publish("rd/x", b"late", qos=1)
        for cid in ids:
            assert wait_for(lambda: rc.cmd("LLEN", "msgs:" + cid).strip() == "3", 10), cid
        m = metrics(b, "redis:to_rd")
        assert (m["success"], m["failed"], m["dropped"], m["retried"]) == (39, 0, 0, 0), m
    finally:
        rc.close()


@pytest.mark.parametrize("text,error", [
    ('connectors.pgsql.p { server = "127.0.0.1", username = u }', "connectors.pgsql.p.database"),
    ('connectors.pgsql.p { server = "127.0.0.1", database = d }', "connectors.pgsql.p.username"),
    ('connectors.redis.r { parameters { redis_type = cluster, servers = "a:1,b:x" } }',
     "connectors.redis.r.parameters.servers: expected host[:port] entries"),
    ('connectors.redis.r { parameters { redis_type = sentinel, servers = "a:1" } }',
     "connectors.redis.r.parameters.sentinel: required for redis_type = sentinel"),
    ('connectors.redis.r { parameters { redis_type = cluster, servers = "a:1", database = 3 } }',
     "a Redis Cluster has database 0 only"),
    ('connectors.redis.r { parameters { server = "a:1", servers = "b:1" } }',
     "connectors.redis.r.parameters.servers: applies to redis_type = sentinel or cluster"),
    ('connectors.redis.r { parameters { server = "127.0.0.1" } }\n'
     'actions.redis.a { connector = r, parameters { command_template = "RPUSH x y" } }',
     "actions.redis.a.parameters.command_template: expected a list"),
    ('connectors.mysql.m { server = "127.0.0.1", database = d }\n'
     'actions.mysql.a { connector = m, parameters { sql = "INSERT ${x" } }',
     "actions.mysql.a.parameters.sql"),
    ('connectors.mysql.m { server = "127.0.0.1", database = d, ssl { enable = true,'
     ' cacertfile = "/nonexistent/ca.pem" } }',
     "connectors.mysql.m.ssl.cacertfile: cannot read /nonexistent/ca.pem"),
    ('connectors.redis.r { parameters { server = "127.0.0.1" }, ssl { enable = true } }',
     "TLS to redis is not implemented yet"),
])
def test_bad_database_definitions_stop_start_up_naming_the_key(tmp_path, text, error):
    stderr = config_refused(tmp_path, text)
    assert error in stderr, stderr
