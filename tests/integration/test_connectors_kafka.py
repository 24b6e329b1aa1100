"""EMQX 5's kafka_producer connector and action (docs/connectors.md), with librdkafka.
Debian packages no Kafka server, so this tests what can be tested without one (the README
says so): the configuration as EMQX writes it, the status against a closed port and the
client trying again once something listens there, and the action's buffer keeping what
cannot be delivered, bounded by buffer.per_partition_limit, until request_ttl."""
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import config_refused, wait_for
from mqttc import Client
from pki import make_pki
from ports import free_port
from test_api import get_json


def conf(port, extra_params="", extra_connector=""):
    return '''
connectors.kafka_producer.k {
  bootstrap_hosts = "127.0.0.1:%d"
  connect_timeout = 1s
  authentication { mechanism = plain, username = emqx, password = "kafka-secret" }
  resource_opts { health_check_interval = 1s }
  %s
}
actions.kafka_producer.to_k {
  connector = k
  parameters {
    topic = "mqtt-msgs"
    message { key = "${clientid}", value = "${payload}" }
    sync_query_timeout = 1s
    %s
  }
  resource_opts { health_check_interval = 1s, request_ttl = 8s }
}
rule_engine.rules.to_k {
  sql = """SELECT * FROM "k/#" """
  actions = ["kafka_producer:to_k"]
}
''' % (port, extra_connector, extra_params)


def action(b):
    return get_json(b, "/api/v5/actions/kafka_producer:to_k")


def metrics(b):
    return get_json(b, "/api/v5/actions/kafka_producer:to_k/metrics")["metrics"]


def connector(b):
    return get_json(b, "/api/v5/connectors/kafka_producer:k")


def test_a_closed_port_is_the_status_and_the_buffer_keeps_then_expires(make_broker):
    port = free_port()
    b = make_broker(config_text=conf(port, "buffer { mode = memory, per_partition_limit = 2KB }"))
    assert wait_for(lambda: "Connection refused" in connector(b).get("status_reason", ""), 20), \
        connector(b)
    c = connector(b)
    assert c["status"] == "disconnected" and action(b)["status"] == "disconnected", c
    assert c["authentication"]["password"] == "******" and "kafka-secret" not in json.dumps(c)

    # Nothing can be delivered: each try gives up after sync_query_timeout and the buffer
    # keeps the message; 40 messages of 200 bytes from one client go past the 2KB bound of
    # its buffer worker, so the oldest go first, counted.
    pub = Client(b, "dev-k")
    for i in range(40):
        pub.publish("k/a", b"%03d" % i + b"x" * 197, qos=1)
    assert wait_for(lambda: metrics(b)["matched"] == 40, 10), metrics(b)
    assert wait_for(lambda: metrics(b)["dropped.queue_full"] > 0, 10), metrics(b)
    assert wait_for(lambda: metrics(b)["retried"] > 0, 10), metrics(b)
    m = metrics(b)
    assert m["success"] == 0 and m["queuing"] + m["inflight"] > 0, m
    assert m["queuing_bytes"] <= 2048 + 1024, m  # bounded (one message's slack)

    # The node and its other clients carry on meanwhile.
    sub = Client(b, "watcher")
    sub.subscribe("other/#", qos=1)
    Client(b, "talker").publish("other/x", b"hi", qos=1)
    assert [m.payload for m in sub.wait_messages(1)] == [b"hi"]

    # request_ttl passes: what was kept is dropped as expired, nothing is left, nothing
    # was lost unaccounted.
    assert wait_for(lambda: metrics(b)["queuing"] + metrics(b)["inflight"] == 0, 30), metrics(b)
    m = metrics(b)
    assert m["dropped.expired"] > 0 and m["dropped"] == 40 and m["success"] == 0, m


def test_the_client_tries_again_when_the_port_opens(make_broker):
    port = free_port()
    b = make_broker(config_text=conf(port))
    assert wait_for(lambda: "Connection refused" in connector(b).get("status_reason", ""), 20), \
        connector(b)
    # Something now listens there (it is no Kafka: it closes each connection at once):
    # librdkafka comes back to it on its own, no operator needed.
    accepted = []
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    srv.settimeout(0.5)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(time.monotonic())
            conn.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    try:
        assert wait_for(lambda: len(accepted) >= 2, 20), accepted
        # Still not connected (no Kafka answered), and no longer refused.
        assert wait_for(lambda: "Connection refused" not in
                        connector(b).get("status_reason", ""), 15), connector(b)
        assert connector(b)["status"] == "disconnected"
    finally:
        stop.set()
        t.join(5)
        srv.close()
    assert "kafka_producer" in get_json(b, "/api/v5/connector_types")


@pytest.mark.parametrize("text,error", [
    ('connectors.kafka_producer.k { connect_timeout = 1s }',
     "connectors.kafka_producer.k.bootstrap_hosts: required"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "http://h:9092" }',
     "connectors.kafka_producer.k.bootstrap_hosts: expected host[:port]"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092", '
     'authentication { kerberos_principal = "a@B", kerberos_keytab_file = "/k" } }',
     "kerberos and msk_iam_roles_anywhere are not implemented yet"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092", '
     'authentication { mechanism = scram_sha_1, username = u, password = p } }',
     "connectors.kafka_producer.k.authentication.mechanism"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092" }\n'
     'actions.kafka_producer.a { connector = k, parameters { message { key = "${clientid}" } } }',
     "actions.kafka_producer.a.parameters.topic: required"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092" }\n'
     'actions.kafka_producer.a { connector = k, parameters { topic = "t/${clientid}", '
     'buffer { mode = disk } } }',
     "disk-mode buffering is disallowed when using dynamic topics"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092" }\n'
     'actions.kafka_producer.a { connector = k, parameters { topic = t, '
     'partition_strategy = key_dispatch, message { key = "" } } }',
     "the message key cannot be empty"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092" }\n'
     'actions.kafka_producer.a { connector = k, parameters { topic = t, compression = lz5 } }',
     "actions.kafka_producer.a.parameters.compression"),
    ('connectors.kafka_producer.k { bootstrap_hosts = "h:9092" }\n'
     'actions.kafka_producer.a { connector = k, parameters { topic = t, '
     'kafka_headers = "x${pub_props}" } }',
     "must be a single placeholder"),
])
def test_bad_kafka_definitions_stop_start_up_naming_the_key(tmp_path, text, error):
    stderr = config_refused(tmp_path, text)
    assert error in stderr, stderr


def test_tls_to_the_brokers_checks_their_certificate(make_broker, tmp_path):
    """An openssl s_server stands where a broker would: the handshake happens when the CA
    is right (then the Kafka protocol gets no answer), and fails on the certificate when
    it is not: so the connector speaks TLS and checks what it is shown."""
    (tmp_path / "pki").mkdir()
    (tmp_path / "other").mkdir()
    pki = make_pki(str(tmp_path / "pki"), "right CA")
    other = make_pki(str(tmp_path / "other"), "other CA")
    port = free_port()
    srv = subprocess.Popen(["openssl", "s_server", "-quiet", "-accept", "127.0.0.1:%d" % port,
                            "-cert", os.path.join(pki, "server.pem"),
                            "-key", os.path.join(pki, "server.key")],
                           stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.05)
        tls = 'ssl { enable = true, verify = verify_peer, cacertfile = "%s" }'
        bad = make_broker(config_text=conf(port, extra_connector=tls % os.path.join(other, "ca.pem")))
        assert wait_for(lambda: "certificate verify failed" in
                        connector(bad).get("status_reason", ""), 20), connector(bad)
        bad.stop()
        good = make_broker(config_text=conf(port, extra_connector=tls % os.path.join(pki, "ca.pem")))
        time.sleep(4)  # a few connection attempts
        c = connector(good)
        assert c["status"] != "connected" and "certificate" not in c.get("status_reason", ""), c
        assert "SSL" not in c.get("status_reason", ""), c
    finally:
        srv.kill()
        srv.wait(10)
