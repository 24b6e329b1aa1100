"""Interoperability with MQTT.js (npm `mqtt` v5, tests/integration/node_modules), the
client most web and Node.js applications use: MQTT 3.1.1 and 5.0 publish/subscribe at
every QoS with exact counts (sections 3.3, 4.3), v5 User Properties [MQTT-3.3.2-17] and
Subscription Identifiers [MQTT-3.3.4-3], retained messages [MQTT-3.3.1-9] and
request/response with Response Topic and Correlation Data (section 4.10,
[MQTT-3.3.2-15]/[MQTT-3.3.2-16]).

The scripts in mqttjs/ print one JSON object per line; see mqttjs/common.js.
"""
import json
import os
import shutil
import subprocess

import pytest

import rawmqtt as R
from rawmqtt import connected, V311, V5

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = shutil.which("node")

pytestmark = pytest.mark.skipif(
    NODE is None or not os.path.isdir(os.path.join(HERE, "node_modules", "mqtt")),
    reason="node or node_modules/mqtt missing (npm install in tests/integration)")


class Js:
    """A running `node mqttjs/<script> PORT k=v ...`."""

    def __init__(self, broker, script, **args):
        cmd = [NODE, os.path.join(HERE, "mqttjs", script), str(broker.port)]
        cmd += ["%s=%s" % kv for kv in args.items()]
        self.proc = subprocess.Popen(cmd, cwd=HERE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.early = []

    def line(self):
        """The next "subscribed" line; message lines printed before it (a retained
        message may beat MQTT.js's SUBACK callback) are kept for finish()."""
        while True:
            text = self.proc.stdout.readline()
            assert text, "script ended: %s" % self.proc.stderr.read()
            obj = json.loads(text)
            if obj["event"] != "message":
                return obj
            self.early.append(obj)

    def finish(self, timeout=20):
        """Waits for exit; returns the remaining JSON lines. The script must exit 0."""
        out, err = self.proc.communicate(timeout=timeout)
        lines = self.early + [json.loads(x) for x in out.splitlines() if x.strip()]
        assert self.proc.returncode == 0, (self.proc.returncode, lines, err)
        return lines

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def js():
    started = []

    def run(broker, script, **args):
        j = Js(broker, script, **args)
        started.append(j)
        return j
    yield run
    for j in started:
        j.kill()


def messages(lines):
    return [x for x in lines if x["event"] == "message"]


@pytest.mark.parametrize("version", [4, 5], ids=["v311", "v5"])
@pytest.mark.parametrize("qos", [0, 1, 2])
def test_mqttjs_pubsub_every_qos(broker, js, version, qos):
    """MQTT.js publisher -> MQTT.js subscriber (QoS 2 subscription): 20 messages arrive
    exactly once each, in order [MQTT-4.6.0-6], at the published QoS."""
    sub = js(broker, "sub.js", version=version, filter="js/#", qos=2, count=20)
    assert sub.line() == {"event": "subscribed", "granted": [2]}
    pub = js(broker, "pub.js", version=version, topic="js/t", qos=qos, count=20)
    assert pub.finish()[-1] == {"event": "done", "count": 20}
    lines = sub.finish()
    msgs = messages(lines)
    assert [(m["topic"], m["payload"], m["qos"], m["retain"]) for m in msgs] == [
        ("js/t", "msg-%d" % i, qos, False) for i in range(20)]
    assert lines[-1] == {"event": "done", "count": 20}


@pytest.mark.parametrize("version", [4, 5], ids=["v311", "v5"])
def test_mqttjs_with_raw_clients_both_ways(broker, js, version):
    """MQTT.js and another client interoperate both ways: MQTT.js publishes QoS 1 to a
    raw subscriber (10 exactly), a raw client publishes QoS 2 to an MQTT.js subscriber
    (10 exactly)."""
    raw_sub = connected(broker, "raw-sub", V5)
    raw_sub.subscribe([("tojs/#", 2), ("fromjs/#", 2)])
    js_sub = js(broker, "sub.js", version=version, filter="tojs/+", qos=2, count=10)
    assert js_sub.line()["granted"] == [2]
    js(broker, "pub.js", version=version, topic="fromjs/t", qos=1, count=10).finish()
    got = raw_sub.recv_publishes(10)
    assert [(p.topic, p.payload, p.qos) for p in got] == [
        ("fromjs/t", b"msg-%d" % i, 1) for i in range(10)]
    for p in got:
        raw_sub.ack(p)
    raw_pub = connected(broker, "raw-pub", V5 if version == 5 else V311)
    for i in range(10):
        raw_pub.publish("tojs/x", b"raw-%d" % i, qos=2, pid=i + 1)
    msgs = messages(js_sub.finish())
    assert [(m["topic"], m["payload"], m["qos"]) for m in msgs] == [
        ("tojs/x", "raw-%d" % i, 2) for i in range(10)]


def test_mqttjs_v5_user_properties_and_subscription_identifier(broker, js):
    """v5: User Properties set by MQTT.js reach an MQTT.js subscriber unaltered
    [MQTT-3.3.2-17], repeated keys included, and the subscriber's Subscription
    Identifier comes with every message [MQTT-3.3.4-3]. Ordered pairs from a raw
    publisher keep their order [MQTT-3.3.2-18]."""
    sub = js(broker, "sub.js", version=5, filter="props/#", qos=1, count=4, subid=42)
    assert sub.line()["granted"] == [1]
    user = {"app": "it", "tag": ["a", "b"]}
    js(broker, "pub.js", version=5, topic="props/js", qos=1, count=3, user=json.dumps(user)).finish()
    raw = connected(broker, "props-raw", V5)
    raw.publish("props/raw", b"ordered", qos=1,
                props={"user_property": [("z", "1"), ("a", "2"), ("z", "3")]})
    msgs = messages(sub.finish())
    assert [m["payload"] for m in msgs] == ["msg-0", "msg-1", "msg-2", "ordered"]
    for m in msgs[:3]:
        assert m["userProperties"] == user
        assert m["subscriptionIdentifier"] == 42
    assert msgs[3]["userProperties"] == {"z": ["1", "3"], "a": "2"}
    assert msgs[3]["subscriptionIdentifier"] == 42


@pytest.mark.parametrize("version", [4, 5], ids=["v311", "v5"])
def test_mqttjs_retained(broker, js, version):
    """A retained message published by MQTT.js is delivered to a later MQTT.js subscriber
    with the retain flag set [MQTT-3.3.1-9], exactly once; a live one after it is not
    flagged."""
    js(broker, "pub.js", version=version, topic="jsret/t", qos=1, count=1, retain=1).finish()
    sub = js(broker, "sub.js", version=version, filter="jsret/#", qos=1, count=2)
    assert sub.line()["granted"] == [1]
    raw = connected(broker, "jsret-raw", V5)
    raw.publish("jsret/t", b"live", qos=1)
    msgs = messages(sub.finish())
    assert [(m["payload"], m["retain"]) for m in msgs] == [("msg-0", True), ("live", False)]


def test_mqttjs_request_response(broker, js):
    """Request/response (section 4.10): MQTT.js sends 5 requests with Response Topic and
    Correlation Data; a raw responder receives both unaltered [MQTT-3.3.2-15]
    [MQTT-3.3.2-16] and answers on the Response Topic echoing the Correlation Data;
    MQTT.js gets the 5 answers, each with its correlation."""
    responder = connected(broker, "responder", V5)
    responder.subscribe([("svc/echo", 1)])
    req = js(broker, "request.js", count=5)
    first = req.line()
    assert first["event"] == "subscribed"
    requests = responder.recv_publishes(5)
    for i, p in enumerate(requests):
        assert p.payload == b"request-%d" % i
        assert p.props["response_topic"] == first["responseTopic"]
        assert p.props["correlation_data"] == bytes([0xc0, i, 0xff])
        responder.ack(p)
        responder.publish(p.props["response_topic"], b"response-%d" % i, qos=1, pid=i + 1,
                          props={"correlation_data": p.props["correlation_data"]})
    msgs = messages(req.finish())
    assert [(m["topic"], m["payload"], m["correlationData"]) for m in msgs] == [
        (first["responseTopic"], "response-%d" % i, bytes([0xc0, i, 0xff]).hex())
        for i in range(5)]
