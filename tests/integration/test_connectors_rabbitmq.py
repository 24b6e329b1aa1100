"""EMQX 5's rabbitmq connector and action (docs/connectors.md) against Debian's RabbitMQ,
started by the test on a free loopback port with its own epmd and throw-away data
(db_servers.py), read back with a real AMQP client (pika): messages arrive on the exchange
and routing key the templates give, with the payload and delivery mode asked, confirmed
by the server; an outage loses nothing that fits the buffer; an exchange that does not
exist and a wrong password are clear statuses, never a crash."""
import json
import os
import time

import pytest

from conftest import config_refused, wait_for
from db_servers import Rabbitmq
from mqttc import Client
from pki import make_pki
from test_api import get_json


def need():
    missing = Rabbitmq.missing()
    if missing:
        pytest.fail("%s is not installed (scripts/install-deps.sh --test installs it)" % missing)


def conf(mq, resource="", extra=""):
    return '''
connectors.rabbitmq.mq {
  server = "127.0.0.1"
  port = %d
  username = %s
  password = "%s"
  pool_size = 2
  resource_opts { health_check_interval = 1s }
}
actions.rabbitmq.to_mq {
  connector = mq
  parameters {
    exchange = "emqx.${payload.ex}"
    routing_key = "rk.${clientid}"
    payload_template = "${payload.body}"
    delivery_mode = persistent
  }
  resource_opts { health_check_interval = 1s, request_ttl = 60s %s }
}
actions.rabbitmq.as_json {
  connector = mq
  parameters { exchange = "emqx.json", routing_key = "json.${clientid}" }
}
rule_engine.rules.to_mq {
  sql = """SELECT * FROM "mq/#" """
  actions = ["rabbitmq:to_mq"]
}
rule_engine.rules.as_json {
  sql = """SELECT clientid, payload.n as n FROM "json/#" """
  actions = ["rabbitmq:as_json"]
}
%s
''' % (mq.port, mq.USER, mq.PASSWORD, resource, extra)


def action(b, id_="rabbitmq:to_mq"):
    return get_json(b, "/api/v5/actions/" + id_)


def metrics(b, id_="rabbitmq:to_mq"):
    return get_json(b, "/api/v5/actions/%s/metrics" % id_)["metrics"]


def msg(ex, body):
    return json.dumps({"ex": ex, "body": body}).encode()


def test_messages_arrive_as_templated_and_confirmed(make_broker):
    need()
    mq = Rabbitmq()
    try:
        mq.bound_queue("emqx.a", "rk.dev-1", "q_a")
        mq.bound_queue("emqx.json", "json.dev-2", "q_json")
        wrong = '''
connectors.rabbitmq.wrong {
  server = "127.0.0.1", port = %d, username = %s, password = "not-it"
  resource_opts { health_check_interval = 1s }
}''' % (mq.port, mq.USER)
        b = make_broker(config_text=conf(mq, ", batch_size = 10, batch_time = 20ms", wrong))
        assert wait_for(lambda: action(b)["status"] == "connected", 15), action(b)
        pub = Client(b, "dev-1")
        for i in range(100):
            pub.publish("mq/t", msg("a", "m%d" % i), qos=1)
        got = mq.take("q_a", 100)
        assert [body for body, _, _ in got] == [b"m%d" % i for i in range(100)]  # in order
        assert all(p.delivery_mode == 2 and rk == "rk.dev-1" for _, p, rk in got)
        assert wait_for(lambda: metrics(b)["success"] == 100, 10), metrics(b)

        # No payload_template: the rule's output as JSON.
        Client(b, "dev-2").publish("json/x", b'{"n": 5}', qos=1)
        got = mq.take("q_json", 1)
        assert [json.loads(body) for body, _, _ in got] == [{"clientid": "dev-2", "n": 5}]
        assert got[0][1].delivery_mode == 1  # non_persistent, EMQX's default

        # An exchange that does not exist: the server closes the channel; the message fails,
        # is not retried, and says why; the next ones go.
        pub.publish("mq/t", msg("nowhere", "lost"), qos=1)
        assert wait_for(lambda: metrics(b)["failed"] == 1, 10), metrics(b)
        reason = action(b)["node_status"][0].get("status_reason", "")
        assert "404" in reason and "NOT_FOUND" in reason, action(b)
        pub.publish("mq/t", msg("a", "after"), qos=1)
        assert [body for body, _, _ in mq.take("q_a", 1)] == [b"after"]
        m = metrics(b)
        assert (m["success"], m["failed"], m["dropped"], m["retried"]) == (101, 1, 0, 0), m

        # A wrong password is that connector's status, with the server's reason; never shown.
        c = get_json(b, "/api/v5/connectors/rabbitmq:wrong")
        assert c["status"] == "disconnected" and "ACCESS_REFUSED" in c["status_reason"], c
        assert c["password"] == "******" and "not-it" not in json.dumps(c)
        assert "rabbitmq" in get_json(b, "/api/v5/connector_types")
    finally:
        mq.close()


def test_an_outage_loses_nothing_that_fits_the_buffer(make_broker):
    need()
    mq = Rabbitmq()
    try:
        mq.bound_queue("emqx.o", "rk.dev-o", "q_o", durable=True)
        b = make_broker(config_text=conf(mq, ", batch_size = 10"))
        assert wait_for(lambda: action(b)["status"] == "connected", 15), action(b)
        pub = Client(b, "dev-o")
        pub.publish("mq/o", msg("o", "before"), qos=1)
        assert [body for body, _, _ in mq.take("q_o", 1)] == [b"before"]
        mq.stop()
        assert wait_for(lambda: action(b)["status"] == "disconnected", 15), action(b)
        for i in range(200):
            pub.publish("mq/o", msg("o", "%d" % i), qos=1)
        assert wait_for(lambda: metrics(b)["matched"] == 201, 10), metrics(b)
        time.sleep(1.5)
        mq.start_again()
        got = mq.take("q_o", 200, timeout=40)
        assert [body for body, _, _ in got] == [b"%d" % i for i in range(200)]
        assert wait_for(lambda: metrics(b)["success"] == 201, 10), metrics(b)
        m = metrics(b)
        assert m["dropped"] == 0 and m["failed"] == 0 and m["retried"] > 0, m
    finally:
        mq.close()


def test_tls_to_the_broker_checks_its_certificate(make_broker, tmp_path):
    need()
    (tmp_path / "pki").mkdir()
    (tmp_path / "other").mkdir()
    pki = make_pki(str(tmp_path / "pki"), "right CA")
    other = make_pki(str(tmp_path / "other"), "other CA")
    mq = Rabbitmq(tls=pki)
    try:
        mq.bound_queue("emqx.a", "rk.tls-dev", "q_tls")
        tls = 'ssl { enable = true, verify = verify_peer, cacertfile = "%s" }'
        untrusted = '''
connectors.rabbitmq.untrusted {
  server = "127.0.0.1", port = %d, username = %s, password = "%s"
  %s
  resource_opts { health_check_interval = 1s }
}''' % (mq.tls_port, mq.USER, mq.PASSWORD, tls % os.path.join(other, "ca.pem"))
        text = conf(mq, "", untrusted).replace(
            "  port = %d\n" % mq.port,
            "  port = %d\n  %s\n" % (mq.tls_port, tls % os.path.join(pki, "ca.pem")), 1)
        b = make_broker(config_text=text)
        assert wait_for(lambda: action(b)["status"] == "connected", 20), action(b)
        Client(b, "tls-dev").publish("mq/t", msg("a", "over tls"), qos=1)
        assert [body for body, _, _ in mq.take("q_tls", 1)] == [b"over tls"]
        c = get_json(b, "/api/v5/connectors/rabbitmq:untrusted")
        assert wait_for(lambda: get_json(b, "/api/v5/connectors/rabbitmq:untrusted")
                        ["status"] == "disconnected", 15), c
        reason = get_json(b, "/api/v5/connectors/rabbitmq:untrusted")["status_reason"]
        assert "SSL" in reason or "certificate" in reason, reason
    finally:
        mq.close()


@pytest.mark.parametrize("text,error", [
    ('connectors.rabbitmq.r { server = "h", username = u }', "connectors.rabbitmq.r.password"),
    ('connectors.rabbitmq.r { server = "h:5672", username = u, password = p }',
     "connectors.rabbitmq.r.server: expected a host name"),
    ('connectors.rabbitmq.r { username = u, password = p, ssl { enable = true,'
     ' server_name_indication = "mq.example" } }',
     "connectors.rabbitmq.r.ssl.server_name_indication"),
    ('connectors.rabbitmq.r { username = u, password = p }\n'
     'actions.rabbitmq.a { connector = r, parameters { exchange = x } }',
     "actions.rabbitmq.a.parameters.routing_key: required"),
    ('connectors.rabbitmq.r { username = u, password = p }\n'
     'actions.rabbitmq.a { connector = r, parameters { exchange = x, routing_key = "${k",'
     ' delivery_mode = persistent } }',
     "actions.rabbitmq.a.parameters.routing_key"),
    ('connectors.rabbitmq.r { username = u, password = p }\n'
     'actions.rabbitmq.a { connector = r, parameters { exchange = x, routing_key = k,'
     ' delivery_mode = sometimes } }',
     "actions.rabbitmq.a.parameters.delivery_mode"),
])
def test_bad_rabbitmq_definitions_stop_start_up_naming_the_key(tmp_path, text, error):
    stderr = config_refused(tmp_path, text)
    assert error in stderr, stderr
