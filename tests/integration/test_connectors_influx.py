"""EMQX 5's influxdb connector and action (docs/connectors.md) against Debian's InfluxDB 1.x,
started by the test on a free port with a throw-away data directory and authentication on
(db_servers.py): points arrive as the write_syntax templates them, typed as EMQX types
them, whatever a client puts in its topic or client id; an outage of the server loses
nothing that fits the buffer; a wrong password and a point InfluxDB refuses are clear
statuses, never a crash. The v2 API (InfluxDB 2 is not packaged by Debian) is checked on
the wire against the test's HTTP server (webhook_server.py)."""
import json
import time

import pytest

from conftest import config_refused, wait_for
from db_servers import Influxdb
from mqttc import Client
from test_api import call, get_json
from webhook_server import WebhookServer

SYNTAX = ("${topic},clientid=${clientid},seq=${payload.seq} payload=\"${payload}\","
          "int_value=${payload.int_key}i,temp=${payload.temp},bool=${payload.bool}")


def need():
    if Influxdb.missing():
        pytest.fail("influxd is not installed (scripts/install-deps.sh --test installs it)")


def conf(db, syntax=SYNTAX, password=None, resource="", precision="ms"):
    return '''
connectors.influxdb.tsdb {
  server = "http://127.0.0.1:%d"
  parameters {
    influxdb_type = influxdb_api_v1
    database = %s
    username = %s
    password = "%s"
  }
  pool_size = 2
  resource_opts { health_check_interval = 1s }
}
actions.influxdb.to_tsdb {
  connector = tsdb
  parameters {
    write_syntax = """%s"""
    precision = %s
  }
  resource_opts { health_check_interval = 1s, request_ttl = 60s %s }
}
rule_engine.rules.to_tsdb {
  sql = """SELECT * FROM "influx/#" """
  actions = ["influxdb:to_tsdb"]
}
''' % (db.port, db.DB, db.USER, password or db.PASSWORD, syntax, precision, resource)


def action(b, id_="influxdb:to_tsdb"):
    return get_json(b, "/api/v5/actions/" + id_)


def metrics(b, id_="influxdb:to_tsdb"):
    return get_json(b, "/api/v5/actions/%s/metrics" % id_)["metrics"]


def connected(b):
    return wait_for(lambda: action(b)["status"] == "connected", 15)


def test_points_arrive_as_templated_and_typed(make_broker):
    need()
    db = Influxdb()
    try:
        b = make_broker(config_text=conf(db, resource=", batch_size = 20, batch_time = 50ms"))
        assert connected(b), action(b)
        before = int(time.time() * 1000)
        pub = Client(b, "dev-1")
        pub.publish("influx/a", json.dumps({"seq": 0, "int_key": 7, "temp": 21.5,
                                            "bool": True}).encode(), qos=1)
        assert wait_for(lambda: len(db.points("influx/a")) == 1, 10)
        p = db.points("influx/a")[0]
        assert (p["clientid"], p["seq"], p["int_value"], p["temp"], p["bool"]) == \
            ("dev-1", "0", 7, 21.5, True), p
        assert json.loads(p["payload"])["temp"] == 21.5
        # The message's time, in ms.
        assert before - 5000 <= p["time"] <= int(time.time() * 1000) + 5000, p
        assert db.field_types("influx/a") == {"payload": "string", "int_value": "integer",
                                              "temp": "float", "bool": "boolean"}

        # A client id and a topic holding the line protocol's separators and a line break:
        # still one point, its tag exactly the client id.
        evil = Client(b, "e v,i=l\nx y=1")
        evil.publish("influx/b c", json.dumps({"seq": 1, "int_key": 1, "temp": 1,
                                               "bool": False}).encode(), qos=1)
        assert wait_for(lambda: len(db.points("influx/b c")) == 1, 10)
        p = db.points("influx/b c")[0]
        assert p["clientid"].replace("\\n", "\n") == "e v,i=l\nx y=1", p
        assert len(db.query("SHOW MEASUREMENTS", db=db.DB)["series"][0]["values"]) == 2

        # Many, in batches: every one a point.
        for i in range(2, 202):
            pub.publish("influx/a", json.dumps({"seq": i, "int_key": i, "temp": i / 2,
                                                "bool": i % 2 == 0}).encode(), qos=0)
        assert wait_for(lambda: len(db.points("influx/a")) == 201, 20), len(db.points("influx/a"))
        assert sorted(int(p["seq"]) for p in db.points("influx/a")) == [0] + list(range(2, 202))
        m = metrics(b)
        assert (m["matched"], m["success"], m["failed"], m["dropped"]) == (202, 202, 0, 0), m
    finally:
        db.close()


def test_precision_and_a_written_timestamp(make_broker):
    need()
    db = Influxdb()
    try:
        b = make_broker(config_text=conf(db, syntax="ts,c=${clientid} v=${payload.v} "
                                                    "${payload.at}", precision="s"))
        assert connected(b), action(b)
        Client(b, "dev-ts").publish("influx/t", b'{"v": 3, "at": 1700000000}', qos=1)
        assert wait_for(lambda: len(db.points("ts")) == 1, 10)
        assert db.points("ts")[0]["time"] == 1700000000 * 1000  # seconds, read back in ms
    finally:
        db.close()


def test_an_outage_loses_nothing_and_refused_points_fail(make_broker):
    need()
    db = Influxdb()
    try:
        b = make_broker(config_text=conf(db, resource=", batch_size = 10"))
        assert connected(b), action(b)
        db.stop()
        assert wait_for(lambda: action(b)["status"] == "disconnected", 10), action(b)
        pub = Client(b, "dev-out")
        for i in range(300):
            pub.publish("influx/o", json.dumps({"seq": i, "int_key": i, "temp": 1.5,
                                                "bool": True}).encode(), qos=1)
        assert wait_for(lambda: metrics(b)["matched"] == 300, 10), metrics(b)
        time.sleep(1.5)
        db.start_again()
        assert wait_for(lambda: len(db.points("influx/o")) == 300, 30), len(db.points("influx/o"))
        m = metrics(b)
        assert (m["success"], m["dropped"], m["failed"]) == (300, 0, 0), m
        assert m["retried"] > 0, m

        # temp was a float; a string there is a field type conflict InfluxDB refuses: the
        # batch fails, is not retried, and says why; the node and its clients carry on.
        pub.publish("influx/o", b'{"seq": 999, "int_key": 1, "temp": "hot", "bool": true}',
                    qos=1)
        assert wait_for(lambda: metrics(b)["failed"] == 1, 10), metrics(b)
        reason = action(b)["node_status"][0].get("status_reason", "")
        assert "HTTP 400" in reason and "conflict" in reason, action(b)
        pub.publish("influx/o", b'{"seq": 1000, "int_key": 1, "temp": 2, "bool": true}', qos=1)
        assert wait_for(lambda: len(db.points("influx/o")) == 301, 10)
        assert metrics(b)["retried"] == m["retried"]  # the refused one was not retried
    finally:
        db.close()


def test_a_wrong_password_is_the_connectors_status_and_the_api_hides_it(make_broker):
    need()
    db = Influxdb()
    try:
        b = make_broker(config_text=conf(db, password="not-it"))
        assert wait_for(lambda: "authorization failure" in
                        get_json(b, "/api/v5/connectors/influxdb:tsdb").get("status_reason", ""),
                        15), get_json(b, "/api/v5/connectors/influxdb:tsdb")
        c = get_json(b, "/api/v5/connectors/influxdb:tsdb")
        assert c["status"] == "disconnected" and c["parameters"]["password"] == "******", c
        assert "not-it" not in json.dumps(c)
        # The right password, put through the API: it connects.
        body = {k: v for k, v in c.items() if k in ("server", "parameters", "pool_size",
                                                     "resource_opts")}
        body["parameters"] = dict(c["parameters"], password=db.PASSWORD)
        status, _, text = call(b, "PUT", "/api/v5/connectors/influxdb:tsdb", body)
        assert status == 200, text
        assert connected(b), action(b)
        Client(b, "dev-pw").publish("influx/p", b'{"seq": 1, "int_key": 2, "temp": 3, '
                                                b'"bool": false}', qos=1)
        assert wait_for(lambda: len(db.points("influx/p")) == 1, 10)
        assert "influxdb" in get_json(b, "/api/v5/connector_types")
    finally:
        db.close()


def test_v2_writes_to_the_bucket_with_the_token(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text='''
connectors.influxdb.v2 {
  server = "%s"
  parameters { influxdb_type = influxdb_api_v2, bucket = "b 1", org = acme, token = "t0k3n" }
  resource_opts { health_check_interval = 1s }
}
actions.influxdb.to_v2 {
  connector = v2
  parameters { write_syntax = "m,c=${clientid} v=${payload.v}i", precision = ns }
}
rule_engine.rules.v2 { sql = """SELECT * FROM "v2/#" """, actions = ["influxdb:to_v2"] }
''' % srv.url)
        assert wait_for(lambda: action(b, "influxdb:to_v2")["status"] == "connected", 15)
        Client(b, "dev-v2").publish("v2/x", b'{"v": 5}', qos=1)
        posts = lambda: [r for r in srv.wait(0) if r[0] == "POST"]  # noqa: E731
        assert wait_for(lambda: posts(), 15), srv.wait(0)
        _, path, headers, body = posts()[0]
        assert path.startswith("/api/v2/write?") and "org=acme" in path and \
            "bucket=b%201" in path and "precision=ns" in path, path
        assert headers["authorization"] == "Token t0k3n"
        line = body.decode()
        assert line.startswith("m,c=dev-v2 v=5i ") and line.endswith("\n"), line
        assert len(line.split()[2]) == 19  # nanoseconds
        shown = get_json(b, "/api/v5/connectors/influxdb:v2")
        assert shown["parameters"]["token"] == "******"
    finally:
        srv.stop()


@pytest.mark.parametrize("text,error", [
    ('connectors.influxdb.i { parameters { database = d } }\n'
     'actions.influxdb.a { connector = i, parameters { write_syntax = "m,t f=1" } }',
     "actions.influxdb.a.parameters.write_syntax: line 1: unexpected ' '"),
    ('connectors.influxdb.i { parameters { database = d } }\n'
     'actions.influxdb.a { connector = i, parameters { write_syntax = "m f=1 ${a}00" } }',
     "write_syntax: line 1: the timestamp"),
    ('connectors.influxdb.i { parameters { database = d } }\n'
     'actions.influxdb.a { connector = i, parameters { write_syntax = "m f=1", precision = m } }',
     "actions.influxdb.a.parameters.precision"),
    ('connectors.influxdb.i { parameters { username = u } }', "connectors.influxdb.i.parameters.database"),
    ('connectors.influxdb.i { parameters { influxdb_type = influxdb_api_v2, bucket = b, org = o } }',
     "connectors.influxdb.i.parameters.token"),
    ('connectors.influxdb.i { parameters { influxdb_type = influxdb_api_v2, database = d } }',
     "unknown key for influxdb_api_v2"),
    ('connectors.influxdb.i { server = "h/x", parameters { database = d } }',
     "connectors.influxdb.i.server"),
])
def test_bad_influxdb_definitions_stop_start_up_naming_the_key(tmp_path, text, error):
    stderr = config_refused(tmp_path, text)
    assert error in stderr, stderr
