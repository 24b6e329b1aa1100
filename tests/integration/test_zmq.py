"""The ZeroMQ bridge (gateway.zmq, NanoMQ's keys; docs/gateways.md) through a real emqxd,
with ZeroMQ's own peers (Debian's python3-zmq) on the other side: a PUB socket the bridge's
SUB connects to, and a SUB socket the bridge's PUB connects to."""
import time

import pytest
import zmq

import rawmqtt as R
from conftest import config_refused, free_port, wait_for
from rawmqtt import V311, connected
from test_api import get_json


@pytest.fixture
def zmq_peers():
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub_port = pub.bind_to_random_port("tcp://127.0.0.1")
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub_port = sub.bind_to_random_port("tcp://127.0.0.1")
    yield pub, pub_port, sub, sub_port
    pub.close(0)
    sub.close(0)
    ctx.term()


def bridge(make_broker, pub_port, sub_port, extra=""):
    conf = ('gateway.zmq {\n  sub_address = "tcp://127.0.0.1:%d"\n  sub_pre = "pre/"\n'
            '  forward = "zmq/in"\n  pub_address = "tcp://127.0.0.1:%d"\n  pub_pre = "out:"\n'
            '  sub_topic = "zmq/out/#"\n  %s\n}\n' % (pub_port, sub_port, extra))
    return make_broker(config_text=conf)


def test_messages_cross_both_ways(make_broker, zmq_peers):
    pub, pub_port, sub, sub_port = zmq_peers
    b = bridge(make_broker, pub_port, sub_port)
    msub = connected(b, "m-sub", V311)
    assert msub.subscribe([("zmq/in", 1)]) == [1]
    # ZeroMQ -> MQTT: a PUB/SUB pair drops what is sent before it is joined, so the peer
    # sends until one arrives; the prefix (the bridge's subscription) is taken off.
    got = None
    deadline = time.monotonic() + 10
    while got is None and time.monotonic() < deadline:
        pub.send(b"pre/hello")
        got = next((p for p in msub.recv_all(0.2) if p.type == R.PUBLISH), None)
    assert got is not None and (got.topic, got.payload) == ("zmq/in", b"hello")
    # Not the bridge's prefix: not taken.
    pub.send(b"other/x")
    assert [p for p in msub.recv_all(0.3) if p.type == R.PUBLISH and p.payload == b"other/x"] == []

    # MQTT -> ZeroMQ: messages on sub_topic go out with pub_pre before them.
    mpub = connected(b, "m-pub", V311)
    sub.setsockopt(zmq.RCVTIMEO, 200)
    received = None
    deadline = time.monotonic() + 10
    while received is None and time.monotonic() < deadline:
        mpub.publish("zmq/out/a", b"to-zmq", qos=0)
        try:
            received = sub.recv()
        except zmq.Again:
            pass
    assert received == b"out:to-zmq"
    # The bridge is a client of the node, listed as ZeroMQ's.
    page = get_json(b, "/api/v5/gateways/zmq/clients")
    assert [x["clientid"] for x in page["data"]] == ["emqxd_zmq_bridge"]
    assert page["data"][0]["proto_name"] == "ZeroMQ"
    gws = {g["name"]: g for g in get_json(b, "/api/v5/gateways")}
    assert gws["zmq"]["status"] == "running"


def test_a_kicked_bridge_client_comes_back(make_broker, zmq_peers):
    from test_api import call
    pub, pub_port, sub, sub_port = zmq_peers
    b = bridge(make_broker, pub_port, sub_port)
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/emqxd_zmq_bridge")[0] == 200, 5)
    assert call(b, "DELETE", "/api/v5/clients/emqxd_zmq_bridge")[0] == 204
    # Back within its 5 s retry.
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/emqxd_zmq_bridge")[0] == 200, 10)


@pytest.mark.parametrize("text,expect", [
    ('gateway.zmq { sub_address = "nope://x", forward = "a" }', "gateway.zmq.sub_address"),
    ('gateway.zmq { sub_address = "tcp://127.0.0.1:1" }', "gateway.zmq.forward"),
    ('gateway.zmq { pub_address = "tcp://127.0.0.1:1" }', "gateway.zmq.sub_topic"),
    ('gateway.zmq { forward = "a/+" }', "gateway.zmq.forward"),
    ('gateway.zmq { sub_topic = "a/#/b" }', "gateway.zmq.sub_topic"),
    ('gateway.zmq { qos = 2 }', "gateway.zmq.qos"),
    ('gateway.zmq { }', "gateway.zmq"),
    ('gateway.zmq { sub_address = "inproc://x", forward = "a" }', "gateway.zmq.sub_address"),
])
def test_bad_zmq_config_stops_start_up(tmp_path, text, expect):
    err = config_refused(tmp_path, text)
    assert expect in err, err
