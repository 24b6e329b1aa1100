"""EMQX 5's MQTT bridge (connectors/mqtt.hpp; docs/connectors.md): an mqtt connector to a
real mosquitto started by the test on a free loopback port, an action that publishes the
rules' outputs there (egress), a source whose remote subscription feeds the rules as
"$bridges/mqtt:<name>" (ingress), an outage of the remote losing nothing that fits the
buffer, no_local keeping the bridge's own messages from coming back, and bad definitions
refused naming the key."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import config_refused, wait_for
from mqttc import Client
from ports import free_port
from test_api import call, get_json

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


class Mosquitto:
    """mosquitto on 127.0.0.1:<port>, stopped by PID; start() again keeps the port."""

    def __init__(self, password=None):
        self.host = "127.0.0.1"
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-mosq-")
        self.conf = os.path.join(self.dir, "mosquitto.conf")
        lines = ["listener %d 127.0.0.1" % self.port, "persistence false"]
        if password:
            pw = os.path.join(self.dir, "passwd")
            subprocess.run(["mosquitto_passwd", "-b", "-c", pw, "bridge", password], check=True,
                           capture_output=True)
            # Started as root, mosquitto reads its files as the user it drops to.
            os.chmod(self.dir, 0o755)
            os.chmod(pw, 0o644)
            lines += ["allow_anonymous false", "password_file " + pw]
        else:
            lines += ["allow_anonymous true"]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = None
        self.start()

    def start(self):
        if not os.access(MOSQUITTO, os.X_OK):
            pytest.fail("mosquitto is not installed (scripts/install-deps.sh --test installs it)")
        self.log = open(os.path.join(self.dir, "mosquitto.log"), "ab")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        import socket
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("mosquitto did not start: " + open(self.log.name).read())

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.log.close()

    def close(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def mosquitto():
    made = []

    def make(**kw):
        m = Mosquitto(**kw)
        made.append(m)
        return m
    yield make
    for m in made:
        m.close()


def conf(m, proto="v4", extra_connector="", pool=2):
    return '''
connectors.mqtt.cloud {
  server = "127.0.0.1:%d"
  proto_ver = %s
  clientid_prefix = "edge-"
  pool_size = %d
  keepalive = 30s
  resource_opts { health_check_interval = 1s }
  %s
}
actions.mqtt.to_cloud {
  connector = cloud
  parameters { topic = "up/${topic}", qos = 1, retain = false, payload = "${clientid}:${payload}" }
  resource_opts { health_check_interval = 1s, request_ttl = 60s }
}
sources.mqtt.from_cloud {
  connector = cloud
  parameters { topic = "down/#", qos = 1 }
}
rule_engine.rules.egress {
  sql = """SELECT * FROM "local/#" """
  actions = ["mqtt:to_cloud"]
}
rule_engine.rules.ingress {
  sql = """SELECT payload, topic FROM "$bridges/mqtt:from_cloud" """
  actions = [{function = republish, args = {topic = "edge/${topic}", payload = "${payload}", qos = 1}}]
}
''' % (m.port, proto, pool, extra_connector)


def connected(b, path):
    return wait_for(lambda: get_json(b, path)["status"] == "connected", 15)


def test_egress_and_ingress_through_a_real_broker(make_broker, mosquitto):
    m = mosquitto()
    b = make_broker(config_text=conf(m))
    assert connected(b, "/api/v5/connectors/mqtt:cloud"), get_json(b, "/api/v5/connectors/mqtt:cloud")
    assert connected(b, "/api/v5/sources/mqtt:from_cloud"), get_json(b, "/api/v5/sources")

    # Egress: a local publish, through the rule and the action, to mosquitto.
    remote = Client(m, "remote-sub", version=4)
    remote.subscribe("up/#", qos=1)
    dev = Client(b, "dev1")
    for i in range(5):
        dev.publish("local/t", b"m%d" % i, qos=1)
    got = remote.wait_messages(5, timeout=10)
    assert [(x.topic, x.payload) for x in got] == [("up/local/t", b"dev1:m%d" % i)
                                                    for i in range(5)]
    assert all(x.qos == 1 for x in got)
    assert wait_for(lambda: get_json(b, "/api/v5/actions/mqtt:to_cloud/metrics")["metrics"]
                    ["success"] == 5, 5)

    # Ingress: a publish on mosquitto, through the source and a rule, to a local client.
    edge = Client(b, "edge-sub")
    edge.subscribe("edge/#", qos=1)
    Client(m, "cloud-pub", version=4).publish("down/cmd", b"reboot", qos=1)
    got = edge.wait_messages(1, timeout=10)
    assert [(x.topic, x.payload) for x in got] == [("edge/down/cmd", b"reboot")]
    # Once, though the pool has two clients (only the first subscribes a plain filter).
    assert edge.expect_no_more(1, settle=0.5)
    r = get_json(b, "/api/v5/rules/ingress/metrics")["metrics"]
    assert r["matched"] == 1 and r["passed"] == 1, r

    # The API: the connector's clients, status and the source.
    src = get_json(b, "/api/v5/sources/mqtt:from_cloud")
    assert src["type"] == "mqtt" and src["connector"] == "cloud" and src["status"] == "connected"
    assert src["parameters"]["topic"] == "down/#"
    assert [x["name"] for x in get_json(b, "/api/v5/sources")] == ["from_cloud"]


def test_an_outage_of_the_remote_loses_nothing_that_fits_the_buffer(make_broker, mosquitto):
    m = mosquitto()
    b = make_broker(config_text=conf(m))
    assert connected(b, "/api/v5/connectors/mqtt:cloud")
    m.stop()
    assert wait_for(lambda: get_json(b, "/api/v5/connectors/mqtt:cloud")["status"] ==
                    "disconnected", 15), get_json(b, "/api/v5/connectors/mqtt:cloud")
    c = get_json(b, "/api/v5/connectors/mqtt:cloud")
    assert c["status_reason"], c
    dev = Client(b, "dev2")
    for i in range(50):
        dev.publish("local/o", b"%d" % i, qos=1)
    assert wait_for(lambda: get_json(b, "/api/v5/actions/mqtt:to_cloud/metrics")["metrics"]
                    ["matched"] == 50, 5)
    m.start()
    remote = Client(m, "remote-sub2", version=4)  # before the bridge's next try (>= 1 s)
    remote.subscribe("up/#", qos=1)
    got = remote.wait_messages(50, timeout=30)
    assert [x.payload for x in got] == [b"dev2:%d" % i for i in range(50)]  # in order
    mt = get_json(b, "/api/v5/actions/mqtt:to_cloud/metrics")["metrics"]
    assert (mt["success"], mt["dropped"], mt["failed"]) == (50, 0, 0), mt


def test_no_local_keeps_the_bridges_own_messages_from_coming_back(make_broker, mosquitto):
    """MQTT 5 with no_local: a source on the topics the action publishes to gets what
    others publish there, not what the bridge itself published (EMQX's loop prevention)."""
    m = mosquitto()
    text = conf(m, proto="v5", pool=1).replace('parameters { topic = "down/#", qos = 1 }',
                                               'parameters { topic = "up/#", qos = 1, '
                                               'no_local = true }')
    b = make_broker(config_text=text)
    assert connected(b, "/api/v5/sources/mqtt:from_cloud")
    remote = Client(m, "watcher", version=4)
    remote.subscribe("up/#", qos=1)
    Client(b, "dev3").publish("local/n", b"x", qos=1)
    assert remote.wait_messages(1, timeout=10)[0].topic == "up/local/n"
    time.sleep(1)
    assert get_json(b, "/api/v5/rules/ingress/metrics")["metrics"]["matched"] == 0
    Client(m, "other", version=4).publish("up/other", b"y", qos=1)
    assert wait_for(lambda: get_json(b, "/api/v5/rules/ingress/metrics")["metrics"]
                    ["matched"] == 1, 10)


def test_a_wrong_password_is_the_connectors_status_and_the_api_hides_it(make_broker, mosquitto):
    m = mosquitto(password="right-one")
    b = make_broker(config_text=conf(m, extra_connector='username = bridge\n  password = "wrong-one"'))
    assert wait_for(lambda: "CONNACK" in get_json(b, "/api/v5/connectors/mqtt:cloud")
                    .get("status_reason", ""), 15), get_json(b, "/api/v5/connectors/mqtt:cloud")
    c = get_json(b, "/api/v5/connectors/mqtt:cloud")
    assert c["status"] == "disconnected" and c["password"] == "******", c
    assert "wrong-one" not in json.dumps(c)
    body = {k: v for k, v in c.items()
            if k not in ("status", "status_reason", "node_status", "actions", "type", "name")}
    body["password"] = "right-one"
    assert call(b, "PUT", "/api/v5/connectors/mqtt:cloud", body)[0] == 200
    assert connected(b, "/api/v5/connectors/mqtt:cloud")
    # The probe of a definition: it connects, or says why not.
    probe = dict(body, type="mqtt", name="probe")
    assert call(b, "POST", "/api/v5/connectors_probe", probe)[0] == 204
    probe["password"] = "nope"
    status, _, text = call(b, "POST", "/api/v5/connectors_probe", probe)
    assert status == 400 and b"CONNACK" in text, text


@pytest.mark.parametrize("text,error", [
    ('connectors.mqtt.c { proto_ver = v4 }', "connectors.mqtt.c.server: required"),
    ('connectors.mqtt.c { server = "mqtt://h:1883" }', "connectors.mqtt.c.server: expected host"),
    ('connectors.mqtt.c { server = "h", proto_ver = v6 }', "connectors.mqtt.c.proto_ver"),
    ('connectors.mqtt.c { server = "h" }\nactions.mqtt.a { connector = c, parameters { qos = 1 } }',
     "actions.mqtt.a.parameters.topic: required"),
    ('connectors.mqtt.c { server = "h" }\nactions.mqtt.a { connector = c, '
     'parameters { topic = t, qos = 3 } }', "actions.mqtt.a.parameters.qos"),
    ('connectors.mqtt.c { server = "h" }\nactions.mqtt.a { connector = c, '
     'parameters { topic = t }, resource_opts { batch_size = 10 } }',
     "actions.mqtt.a.resource_opts.batch_size"),
    ('connectors.mqtt.c { server = "h" }\nsources.mqtt.s { connector = c, parameters { qos = 1 } }',
     "sources.mqtt.s.parameters.topic: required"),
    ('sources.kafka_consumer.s { connector = c }', "sources.kafka_consumer.s: sources of type"),
    ('rule_engine.rules.r { sql = """SELECT * FROM "$bridges/kafka:x" """ }',
     "sources of type kafka are not implemented yet"),
])
def test_bad_bridge_definitions_stop_start_up_naming_the_key(tmp_path, text, error):
    stderr = config_refused(tmp_path, text)
    assert error in stderr, stderr
