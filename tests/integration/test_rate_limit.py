"""Limits per client: listeners.<type>.<name>.messages_rate and bytes_rate (EMQX's keys).

A client over its rate is not read until its token bucket refills (net/connection.cpp):
TCP flow control slows it down, nothing it sent is lost, and the other clients of the
same listener are not slowed. The buckets start full (one period's worth), so a flood
gets that much at once and then the rate. Each pause counts in client.rate_limited.
"""
import threading
import time

import rawmqtt as R
from conftest import wait_for
from rawmqtt import V5, V311, connected
from test_api import get_json
from test_startup import base_env, run


def metric(broker, name):
    return get_json(broker, "/api/v5/metrics?aggregate=true")[name]


def flood(client, packets):
    """Writes every packet at once from a thread (the broker may not read them for
    seconds: a blocking sendall must not hold the test)."""
    data = b"".join(packets)
    t = threading.Thread(target=client.send, args=(data,), daemon=True)
    t.start()
    return t


def pubacks(client, pids, timeout):
    """Waits for a PUBACK for each of `pids`; returns when the last one came."""
    left = set(pids)
    deadline = time.monotonic() + timeout
    while left:
        p = client.wait_for(R.PUBACK, timeout=max(0.0, deadline - time.monotonic()))
        assert p.pid in left, p
        left.discard(p.pid)
    return time.monotonic()


class LightClient:
    """A client of the same listener with a little traffic of its own: QoS 1 round trips
    through the broker, timed."""

    def __init__(self, broker):
        self.c = connected(broker, "light", V5)
        assert self.c.subscribe([("light/#", 1)]) == [1]
        self.n = 0
        self.worst = 0.0

    def round_trip(self):
        self.n += 1
        start = time.monotonic()
        assert self.c.publish("light/%d" % self.n, b"x", qos=1, pid=self.n).code == 0
        p = self.c.wait_for(R.PUBLISH, timeout=3)
        assert p.topic == "light/%d" % self.n
        self.c.ack(p)
        self.worst = max(self.worst, time.monotonic() - start)

    def while_alive(self, thread, spacing=0.1):
        """Round trips every `spacing` s until `thread` is done and for 1 s at least."""
        end = time.monotonic() + 1.0
        while thread.is_alive() or time.monotonic() < end:
            self.round_trip()
            time.sleep(spacing)


def collect(sub, prefix, n, timeout):
    """The next n PUBLISH packets on topics starting with `prefix`, acknowledged."""
    got = []
    deadline = time.monotonic() + timeout
    while len(got) < n:
        p = sub.wait_for(R.PUBLISH, timeout=max(0.0, deadline - time.monotonic()))
        sub.ack(p)
        if p.topic.startswith(prefix):
            got.append(p)
    return got


def test_messages_rate_paces_a_flood_and_loses_nothing(make_broker):
    """messages_rate = "50/s": 200 QoS 1 PUBLISH written at once are all acknowledged and
    delivered, in order, in no less than 3 s (50 at once, then 150 at 50/s); a light client
    of the same listener keeps fast round trips meanwhile; the pauses are counted."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MESSAGES_RATE": "50/s"})
    sub = connected(b, "rl-sub", V5, props={"receive_maximum": 65535})
    assert sub.subscribe([("flood/#", 1)]) == [1]
    light = LightClient(b)
    pub = connected(b, "rl-pub", V311)
    packets = [R.publish("flood/%d" % i, b"m%d" % i, qos=1, pid=i, version=V311)
               for i in range(1, 201)]
    start = time.monotonic()
    sender = flood(pub, packets)
    # The subscriber is read on its own thread's behalf here: collect after the light
    # client is done (its messages stay in the socket buffer meanwhile).
    acks = threading.Thread(target=lambda: setattr(pub, "last", pubacks(pub, range(1, 201), 20)),
                            daemon=True)
    acks.start()
    light.while_alive(acks)
    acks.join(20)
    sender.join(5)
    took = pub.last - start
    assert took >= 2.8, "200 messages at 50/s acknowledged in %.2f s" % took
    assert took < 12, took
    got = collect(sub, "flood/", 200, 10)
    assert [p.topic for p in got] == ["flood/%d" % i for i in range(1, 201)]
    assert [p.payload for p in got] == [b"m%d" % i for i in range(1, 201)]
    assert light.worst < 0.5, "the light client waited %.2f s" % light.worst
    assert metric(b, "client.rate_limited") >= 20  # a pause per token or few once it is empty
    assert pub.is_open()


def test_bytes_rate_paces_large_payloads_and_loses_nothing(make_broker):
    """bytes_rate = "100KB/s": 6 QoS 1 messages of 50 KB written at once (300 KB) all
    arrive intact, in no less than 2 s (100 KB at once, then 200 KB at 100 KB/s); a light
    client keeps fast round trips."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__BYTES_RATE": "100KB/s"})
    sub = connected(b, "rb-sub", V5)
    assert sub.subscribe([("big/#", 1)]) == [1]
    light = LightClient(b)
    pub = connected(b, "rb-pub", V5)
    payloads = [bytes([65 + i]) * (50 * 1000) for i in range(6)]
    packets = [R.publish("big/%d" % i, payloads[i], qos=1, pid=i + 1, version=V5)
               for i in range(6)]
    start = time.monotonic()
    sender = flood(pub, packets)
    acks = threading.Thread(target=lambda: setattr(pub, "last", pubacks(pub, range(1, 7), 20)),
                            daemon=True)
    acks.start()
    light.while_alive(acks)
    acks.join(20)
    sender.join(5)
    took = pub.last - start
    assert took >= 1.8, "300 KB at 100 KB/s acknowledged in %.2f s" % took
    assert took < 10, took
    got = collect(sub, "big/", 6, 10)
    assert [p.payload for p in got] == payloads
    assert light.worst < 0.5, "the light client waited %.2f s" % light.worst
    assert metric(b, "client.rate_limited") >= 1


def test_bytes_rate_below_the_slow_packet_pace_does_not_cut_a_large_packet(make_broker):
    """bytes_rate = "64KB/s" is slower than the 256 KB/s a large packet must keep up to
    not be cut as a slow client (net/connection.cpp, kMinPacketRate: 400 KB would have to
    be whole within 3.5 s): a 400 KB PUBLISH written at once takes ~5.1 s to be read, and
    arrives: the slowness is ours."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__BYTES_RATE": "64KB/s"})
    sub = connected(b, "rs-sub", V5)
    assert sub.subscribe([("slow", 1)]) == [1]
    pub = connected(b, "rs-pub", V5)
    payload = b"s" * (400 * 1000)
    start = time.monotonic()
    sender = flood(pub, [R.publish("slow", payload, qos=1, pid=1, version=V5)])
    pubacks(pub, [1], 15)
    took = time.monotonic() - start
    sender.join(5)
    assert took >= 4.5, took  # (400 KB - 64 KiB) at 64 KiB/s
    p = sub.wait_for(R.PUBLISH, timeout=5)
    assert p.payload == payload
    assert pub.is_open()
    assert metric(b, "client.disconnected.slow_packet") == 0


def test_messages_rate_on_a_websocket_listener_only(make_broker):
    """messages_rate = "20/s" on listeners.ws.default only: a paho client over WebSocket
    publishing 60 QoS 1 messages as fast as it can gets them all through, in order, in no
    less than 2 s (20 at once, 40 at 20/s); the TCP listener, which has no limit, paces
    nobody."""
    import paho.mqtt.client as mqtt
    from conftest import free_port
    ws = free_port()
    b = make_broker(env={"EMQX_LISTENERS__WS__DEFAULT__BIND": "127.0.0.1:%d" % ws,
                         "EMQX_LISTENERS__WS__DEFAULT__MESSAGES_RATE": "20/s"})
    sub = connected(b, "rw-sub", V5, props={"receive_maximum": 65535})
    assert sub.subscribe([("ws/#", 1)]) == [1]
    acked = []
    pub = mqtt.Client(client_id="rw-pub", protocol=mqtt.MQTTv5, transport="websockets")
    pub.max_inflight_messages_set(100)
    pub.on_publish = lambda c, u, mid, *rest: acked.append(time.monotonic())
    pub.connect("127.0.0.1", ws)
    pub.loop_start()
    try:
        assert wait_for(pub.is_connected, 5)
        start = time.monotonic()
        for i in range(60):
            pub.publish("ws/%d" % i, b"%d" % i, qos=1)
        assert wait_for(lambda: len(acked) == 60, 15), len(acked)
        took = max(acked) - start
        assert took >= 1.8, "60 messages at 20/s acknowledged in %.2f s" % took
        got = collect(sub, "ws/", 60, 10)
        assert [p.payload for p in got] == [b"%d" % i for i in range(60)]
    finally:
        pub.disconnect()
        pub.loop_stop()
    # TCP: 60 at once, not paced.
    paused = metric(b, "client.rate_limited")
    assert paused >= 1
    tcp = connected(b, "rw-tcp", V311)
    start = time.monotonic()
    flood(tcp, [R.publish("ws/t%d" % i, b"t", qos=1, pid=i, version=V311)
                for i in range(1, 61)]).join(5)
    assert pubacks(tcp, range(1, 61), 10) - start < 1.5  # 20/s would need 2 s
    assert len(collect(sub, "ws/t", 60, 10)) == 60
    assert metric(b, "client.rate_limited") == paused


def test_infinity_changes_nothing(make_broker):
    """messages_rate and bytes_rate = infinity (the default, written out): 200 QoS 1
    messages written at once are acknowledged at once, and nothing pauses."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MESSAGES_RATE": "infinity",
                         "EMQX_LISTENERS__TCP__DEFAULT__BYTES_RATE": "infinity"})
    sub = connected(b, "ri-sub", V5, props={"receive_maximum": 65535})
    assert sub.subscribe([("flood/#", 1)]) == [1]
    pub = connected(b, "ri-pub", V311)
    packets = [R.publish("flood/%d" % i, b"m%d" % i, qos=1, pid=i, version=V311)
               for i in range(1, 201)]
    start = time.monotonic()
    flood(pub, packets).join(5)
    took = pubacks(pub, range(1, 201), 10) - start
    assert took < 2.5, took  # 50/s would need 3 s
    assert len(collect(sub, "flood/", 200, 10)) == 200
    assert metric(b, "client.rate_limited") == 0


def test_a_bad_rate_stops_start_up_naming_the_key(tmp_path):
    """A rate emqxd cannot read stops start-up with the file, the line and the key (or the
    variable)."""
    conf = tmp_path / "emqx.conf"
    conf.write_text("listeners.tcp.default {\n  max_connections = 10\n"
                    "  bytes_rate = \"1MB\"\n}\n")
    r = run(["start", "-c", str(conf)], base_env(tmp_path / "data"))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "emqx.conf:3: listeners.tcp.default.bytes_rate: expected a rate" in out, out
    r = run(["start"], base_env(tmp_path / "data",
                                EMQX_LISTENERS__TCP__DEFAULT__MESSAGES_RATE="fast"))
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "EMQX_LISTENERS__TCP__DEFAULT__MESSAGES_RATE" in out, out
    assert "expected a rate" in out, out
