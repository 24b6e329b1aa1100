"""EMQX 5's data integration, the http connector and action (EMQX's webhook;
docs/connectors.md), on a real node with real clients (paho) and a real HTTP server in the
test (webhook_server.py): requests arrive as templated, an outage of the server loses
nothing that fits the buffer (in memory or on disk), what is refused or expires is counted,
and bad definitions are refused with EMQX's codes."""
import json
import time

from conftest import wait_for
from mqttc import Client
from test_api import call, get_json, assert_error
from webhook_server import WebhookServer


def conf(server, extra_action="", extra_connector=""):
    return '''
connectors.http.hook {
  url = "%s/base"
  headers { "x-from" = "emqxd" }
  resource_opts { health_check_interval = 1s }
  %s
}
actions.http.to_hook {
  connector = hook
  parameters {
    method = post
    path = "/${clientid}"
    headers { "x-topic" = "${topic}" }
    body = """{"t": "${topic}", "p": "${payload}", "q": ${qos}}"""
  }
  resource_opts { health_check_interval = 1s, request_ttl = 30s %s }
}
rule_engine.rules.fwd {
  sql = """SELECT clientid, topic, payload, qos FROM "hook/#" """
  actions = ["http:to_hook"]
}
''' % (server.url, extra_connector, extra_action)


def action(b, id_="http:to_hook"):
    return get_json(b, "/api/v5/actions/" + id_)


def metrics(b, id_="http:to_hook"):
    return get_json(b, "/api/v5/actions/%s/metrics" % id_)["metrics"]


def connected(b, id_="http:to_hook"):
    return wait_for(lambda: action(b, id_)["status"] == "connected", 10)


def test_a_rule_sends_each_message_to_the_webhook_as_templated(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text=conf(srv))
        assert connected(b), action(b)
        pub = Client(b, "dev1")
        for i in range(3):
            pub.publish("hook/a", b"m%d" % i, qos=1)
        got = srv.wait(3)
        assert len(got) == 3
        method, path, headers, body = got[0]
        assert (method, path) == ("POST", "/base/dev1")
        assert headers["x-from"] == "emqxd" and headers["x-topic"] == "hook/a"
        assert headers["content-type"] == "application/json"
        assert [json.loads(r[3]) for r in got] == [
            {"t": "hook/a", "p": "m%d" % i, "q": 1} for i in range(3)]
        assert wait_for(lambda: metrics(b)["success"] == 3, 5), metrics(b)
        m = metrics(b)
        assert (m["matched"], m["failed"], m["dropped"], m["queuing"], m["inflight"]) == (3, 0, 0, 0, 0)
        a = action(b)
        assert a["type"] == "http" and a["name"] == "to_hook" and a["connector"] == "hook"
        assert a["node_status"][0]["status"] == "connected"
        c = get_json(b, "/api/v5/connectors/http:hook")
        assert c["status"] == "connected" and c["actions"] == ["to_hook"]
        r = get_json(b, "/api/v5/rules/fwd/metrics")["metrics"]
        assert r["actions.success"] == 3
    finally:
        srv.stop()


def test_a_binary_payload_is_sent_not_dropped(make_broker):
    # Payloads are bytes: one that is no UTF-8 goes through the buffer as it came.
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text=conf(srv))
        assert connected(b), action(b)
        Client(b, "dev-bin").publish("hook/bin", b"\xff\xfe\x00raw", qos=1)
        got = srv.wait(1)
        assert len(got) == 1 and b"raw" in got[0][3], got
        assert wait_for(lambda: metrics(b)["success"] == 1, 5), metrics(b)
        assert metrics(b)["dropped"] == 0
    finally:
        srv.stop()


def test_an_outage_loses_nothing_that_fits_the_buffer(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text=conf(srv))
        assert connected(b)
        srv.stop()
        assert wait_for(lambda: action(b)["status"] == "disconnected", 10), action(b)
        c = get_json(b, "/api/v5/connectors/http:hook")
        assert c["status"] == "disconnected" and "status_reason" in c, c
        pub = Client(b, "dev2")
        for i in range(50):
            pub.publish("hook/b", b"%d" % i, qos=1)
        assert wait_for(lambda: metrics(b)["queuing"] + metrics(b)["inflight"] == 50, 5), metrics(b)
        time.sleep(1.5)
        srv.start()
        got = srv.wait(50, timeout=20)
        assert [json.loads(r[3])["p"] for r in got] == [str(i) for i in range(50)]  # in order
        assert wait_for(lambda: metrics(b)["success"] == 50, 5), metrics(b)
        assert metrics(b)["dropped"] == 0 and metrics(b)["retried"] > 0
    finally:
        srv.stop()


def test_an_outage_on_a_disk_buffer_loses_nothing(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text=conf(srv, ", buffer_mode = volatile_offload, "
                                              "buffer_seg_bytes = 1KB, worker_pool_size = 1"))
        assert connected(b)
        srv.stop()
        assert wait_for(lambda: action(b)["status"] == "disconnected", 10)
        pub = Client(b, "dev3")
        for i in range(200):
            pub.publish("hook/c", b"x" * 50 + b"%d" % i, qos=0)
        assert wait_for(lambda: metrics(b)["queuing"] >= 199, 5), metrics(b)
        srv.start()
        got = srv.wait(200, timeout=30)
        assert [json.loads(r[3])["p"] for r in got] == ["x" * 50 + str(i) for i in range(200)]
    finally:
        srv.stop()


def test_a_full_buffer_drops_the_oldest_and_expired_requests_are_dropped(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text=conf(srv, ", max_buffer_bytes = 2KB, worker_pool_size = 1"))
        assert connected(b)
        srv.stop()
        assert wait_for(lambda: action(b)["status"] == "disconnected", 10)
        pub = Client(b, "dev4")
        for i in range(100):
            pub.publish("hook/d", b"%03d" % i, qos=0)
        assert wait_for(lambda: metrics(b)["matched"] == 100, 5)
        m = metrics(b)
        assert m["dropped.queue_full"] > 0 and m["dropped"] == m["dropped.queue_full"], m
        srv.start()
        assert wait_for(lambda: metrics(b)["queuing"] + metrics(b)["inflight"] == 0, 20), metrics(b)
        got = srv.wait(1)
        payloads = [json.loads(r[3])["p"] for r in got]
        assert payloads[-1] == "099"  # the newest kept, the oldest gone
        assert len(payloads) + metrics(b)["dropped"] == 100
    finally:
        srv.stop()
    # request_ttl: what waits longer than it is dropped, counted dropped.expired.
    srv2 = WebhookServer().start()
    try:
        b2 = make_broker(config_text=conf(srv2).replace("request_ttl = 30s", "request_ttl = 1s"))
        assert connected(b2)
        srv2.stop()
        assert wait_for(lambda: action(b2)["status"] == "disconnected", 10)
        Client(b2, "dev5").publish("hook/e", b"late", qos=1)
        assert wait_for(lambda: metrics(b2)["dropped.expired"] == 1, 10), metrics(b2)
    finally:
        srv2.stop()


def test_503_is_retried_and_500_fails(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker(config_text=conf(srv))
        assert connected(b)
        srv.set_status(503)
        Client(b, "dev6").publish("hook/f", b"again", qos=1)
        assert wait_for(lambda: srv.attempts >= 2, 10)
        srv.set_status(200)
        got = srv.wait(1)
        assert json.loads(got[0][3])["p"] == "again"
        assert wait_for(lambda: metrics(b)["success"] == 1, 5), metrics(b)
        srv.set_status(500)
        before = srv.attempts
        Client(b, "dev7").publish("hook/f", b"refused", qos=1)
        assert wait_for(lambda: metrics(b)["failed"] == 1, 10), metrics(b)
        time.sleep(1.5)
        assert srv.attempts == before + 1  # not retried
    finally:
        srv.stop()


def test_connectors_and_actions_through_the_api(make_broker):
    srv = WebhookServer().start()
    try:
        b = make_broker()
        status, _, body = call(b, "POST", "/api/v5/connectors",
                               {"type": "http", "name": "c1", "url": srv.url,
                                "resource_opts": {"health_check_interval": "1s"}})
        assert status == 201, body
        assert json.loads(body)["url"] == srv.url
        assert_error(*call(b, "POST", "/api/v5/connectors",
                           {"type": "http", "name": "c1", "url": srv.url}), 400, "ALREADY_EXISTS")
        doc = assert_error(*call(b, "POST", "/api/v5/actions",
                                 {"type": "http", "name": "a1", "connector": "nope",
                                  "parameters": {}}), 400, "BAD_REQUEST")
        assert "connector_not_found_or_wrong_type" in doc["message"]
        doc = assert_error(*call(b, "POST", "/api/v5/actions",
                                 {"type": "http", "name": "a1", "connector": "c1",
                                  "parameters": {"body": "${oops"}}), 400, "BAD_REQUEST")
        assert "parameters.body" in doc["message"], doc
        assert_error(*call(b, "POST", "/api/v5/connectors",
                           {"type": "mongodb", "name": "m", "server": "x"}), 400, "BAD_REQUEST")
        assert_error(*call(b, "POST", "/api/v5/connectors",
                           {"type": "http", "name": "bad url", "url": srv.url}), 400, "BAD_REQUEST")
        status, _, body = call(b, "POST", "/api/v5/actions",
                               {"type": "http", "name": "a1", "connector": "c1",
                                "parameters": {"method": "put", "path": "?topic=${topic}"}})
        assert status == 201, body
        assert call(b, "POST", "/api/v5/rules", {"id": "r", "sql": 'SELECT * FROM "api/#"',
                                                 "actions": ["http:a1"]})[0] == 201
        assert connected(b, "http:a1")
        Client(b, "dev8").publish("api/x", b"hello", qos=1)
        got = srv.wait(1)
        method, path, _, body = got[0]
        assert (method, path) == ("PUT", "/?topic=api/x")
        assert json.loads(body)["payload"] == "hello"  # no body template: the output as JSON
        assert get_json(b, "/api/v5/action_types") == ["http", "influxdb", "kafka_producer", "mqtt",
                                                         "mysql", "pgsql", "rabbitmq", "redis"]
        assert [a["name"] for a in get_json(b, "/api/v5/actions")] == ["a1"]
        # A connector with actions is not deleted; disabled, the rule's sends are discarded.
        assert_error(*call(b, "DELETE", "/api/v5/connectors/http:c1"), 400, "BAD_REQUEST")
        assert call(b, "PUT", "/api/v5/actions/http:a1/enable/false")[0] == 204
        assert wait_for(lambda: action(b, "http:a1")["status"] == "stopped", 5), action(b, "http:a1")
        Client(b, "dev9").publish("api/y", b"dropped", qos=1)
        assert wait_for(lambda: get_json(b, "/api/v5/rules/r/metrics")["metrics"]
                        ["actions.discarded"] == 1, 5)
        assert call(b, "PUT", "/api/v5/actions/http:a1/metrics/reset")[0] == 204
        assert call(b, "DELETE", "/api/v5/actions/http:a1")[0] == 204
        assert call(b, "DELETE", "/api/v5/connectors/http:c1")[0] == 204
        assert_error(*call(b, "GET", "/api/v5/connectors/http:c1"), 404, "NOT_FOUND")
        # A connector that cannot connect says so.
        closed = WebhookServer()  # never started: its port is closed
        status, _, _ = call(b, "POST", "/api/v5/connectors_probe",
                            {"type": "http", "name": "p", "url": closed.url})
        assert status == 400
        assert call(b, "POST", "/api/v5/connectors_probe",
                    {"type": "http", "name": "p", "url": srv.url})[0] == 204
    finally:
        srv.stop()


def test_bad_definitions_in_the_config_stop_start_up(tmp_path):
    from test_startup import base_env, run
    cases = [
        ('connectors.http.c { url = "ftp://x" }\n', "connectors.http.c.url"),
        ('connectors.mongodb.c { server = "x:27017" }\n', "not implemented yet"),
        ('connectors.http.c { url = "http://x" }\nactions.http.a { connector = c, '
         'parameters { body = "${x" } }\n', "actions.http.a.parameters.body"),
        ('connectors.http.c { url = "http://x", bogus = 1 }\n', "connectors.http.c.bogus"),
        ('actions.http.a { parameters {} }\n', "actions.http.a.connector"),
    ]
    for text, want in cases:
        path = tmp_path / "emqx.conf"
        path.write_text(text)
        r = run(["check-config", "-c", str(path)], base_env(str(tmp_path)))
        assert r.returncode != 0 and want in r.stderr, (text, r.stderr)
