"""Robustness: malformed input, connection limits, abrupt disconnects, slow consumers and
signals (MQTT 5.0 sections 1.5, 2.1-2.2, 4.13 Handling errors; MQTT 3.1.1 sections 1.5,
2, 4.8; listeners.tcp.default.max_connections).

Every malformed packet must close only its own connection: a well-behaved subscriber and
publisher stay connected the whole time and every message between them arrives, exactly.
"""
import random
import signal
import threading
import time

import pytest

import rawmqtt as R
from conftest import wait_for
from rawmqtt import RawClient, connected, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


class GoodPair:
    """A v5 subscriber and a 3.1.1 publisher that exchange numbered QoS 1 messages."""

    def __init__(self, broker):
        self.sub = connected(broker, "good-sub", V5)
        assert self.sub.subscribe([("good/#", 1)]) == [1]
        self.pub = connected(broker, "good-pub", V311)
        self.n = 0

    def exchange(self, timeout=3.0):
        """One message through; asserts it (and only it) arrives."""
        pid = self.n % 65535 + 1
        assert self.pub.publish("good/%d" % self.n, b"%d" % self.n, qos=1, pid=pid).pid == pid
        p = self.sub.wait_for(R.PUBLISH, timeout=timeout)
        assert (p.topic, p.payload) == ("good/%d" % self.n, b"%d" % self.n)
        self.sub.ack(p)
        self.n += 1

    def check_idle(self):
        assert [p for p in self.sub.recv_all(0.1) if p.type == R.PUBLISH] == []


def prop(pid, body):
    return R.varint(pid) + body


def malformed_cases(version):
    """name -> bytes sent after a successful CONNECT (or instead of it: 'pre_' cases)."""
    v = version
    props0 = b"\x00" if v == V5 else b""
    cases = {
        "remaining_length_5_bytes": b"\x30\xff\xff\xff\xff\x01",          # [MQTT-1.5.5-1]
        "remaining_length_256MB": b"\x30\xff\xff\xff\x7f" + b"\x00" * 16,  # beyond max_packet_size
        "topic_invalid_utf8": R.packet(R.PUBLISH, 0, R.u16(2) + b"\xff\xfe" + props0),  # [MQTT-1.5.4-1]
        "topic_overlong_nul": R.packet(R.PUBLISH, 0, R.u16(2) + b"\xc0\x80" + props0),
        "topic_surrogate": R.packet(R.PUBLISH, 0, R.u16(3) + b"\xed\xa0\x80" + props0),
        "topic_with_nul": R.packet(R.PUBLISH, 0, R.utf8("a\x00b") + props0),  # [MQTT-4.7.3-2]
        "qos_3": R.packet(R.PUBLISH, 0x06, R.utf8("t") + R.u16(1) + props0),  # [MQTT-3.3.1-4]
        "dup_with_qos0": R.packet(R.PUBLISH, 0x08, R.utf8("t") + props0),      # [MQTT-3.3.1-2]
        "publish_packet_id_0": R.packet(R.PUBLISH, 0x02, R.utf8("t") + R.u16(0) + props0),  # [MQTT-2.2.1-3]
        "topic_length_beyond_packet": R.packet(R.PUBLISH, 0, R.u16(100) + b"abc"),
        "pubrel_flags_0000": R.packet(R.PUBREL, 0, R.u16(1)),                   # [MQTT-3.6.1-1]
        "puback_flags_0001": R.packet(R.PUBACK, 1, R.u16(1)),                   # [MQTT-2.1.3-1]
        "pingreq_with_body": b"\xc0\x01\x00",
        "disconnect_flags_0001": b"\xe1\x00",                                  # [MQTT-3.14.1-1]
        "reserved_type_0": b"\x00\x00",
        "connack_from_client": b"\x20\x02\x00\x00",
        "suback_from_client": b"\x90\x03\x00\x01\x00",
        "pingresp_from_client": b"\xd0\x00",
        "http_request": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "random_garbage": bytes(random.Random(7).randrange(256) for _ in range(300)),
        "pre_garbage_instead_of_connect": bytes(random.Random(9).randrange(256) for _ in range(64)),
        "pre_http_instead_of_connect": b"GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n",
        "pre_connect_remaining_length_5_bytes": b"\x10\xff\xff\xff\xff\x01",
    }
    if v == V5:
        cases.update({
            "v5_property_twice": R.packet(R.PUBLISH, 0, R.utf8("t") + R.varint(4) + prop(1, b"\x01") + prop(1, b"\x00")),
            "v5_unknown_property": R.packet(R.PUBLISH, 0, R.utf8("t") + R.varint(2) + b"\x7f\x00"),
            "v5_property_length_overrun": R.packet(R.PUBLISH, 0, R.utf8("t") + R.varint(50) + b"\x01\x01"),
            "v5_property_not_for_publish": R.packet(R.PUBLISH, 0, R.utf8("t") + R.varint(5) + prop(0x11, R.u32(5))),
            "v5_subscription_id_from_client": R.publish("t", b"x", props={"subscription_identifier": 3}),  # [MQTT-3.3.4-6]
            "v5_topic_alias_twice": R.packet(R.PUBLISH, 0, R.utf8("t") + R.varint(6) + prop(0x23, R.u16(1)) + prop(0x23, R.u16(1))),
            "v5_payload_format_2": R.packet(R.PUBLISH, 0, R.utf8("t") + R.varint(2) + prop(1, b"\x02")),
            "v5_auth_flags_0001": R.packet(R.AUTH, 1, b"\x00\x00"),            # [MQTT-3.15.1-1]
            "v5_disconnect_bad_reason": R.packet(R.DISCONNECT, 0, b"\x03\x00"),  # [MQTT-3.14.2-1]
        })
    else:
        cases["v311_auth_packet"] = b"\xf0\x00"  # type 15 is reserved in 3.1.1
    return cases


CASES = [(v, name) for v in (V311, V5) for name in malformed_cases(v)]


@pytest.mark.parametrize("version,case", CASES,
                         ids=["%s-%s" % ("v311" if v == V311 else "v5", n) for v, n in CASES])
def test_malformed_packet_closes_only_that_connection(broker, version, case):
    """Malformed packets and protocol errors (sections 1.5, 2.1.3, 4.13): the broker
    closes that connection (v5: after at most a DISCONNECT with a reason >= 0x80, never
    a DISCONNECT before CONNACK [MQTT-3.14.0-1]); the good pair keeps working with
    nothing lost."""
    good = GoodPair(broker)
    good.exchange()
    data = malformed_cases(version)[case]
    c = RawClient(broker, version)
    if not case.startswith("pre_"):
        c.connect("bad", keepalive=0)
    good.exchange()
    c.try_send(data)
    pkts = c.expect_closed(3)
    if case.startswith("pre_") or version == V311:
        assert not any(p.type == R.CONNACK and p.code == 0 for p in pkts), pkts
        assert not any(p.type == R.DISCONNECT for p in pkts), pkts
    else:
        assert all(p.type == R.DISCONNECT and p.code >= 0x80 for p in pkts), pkts
    good.exchange()
    good.exchange()
    good.check_idle()
    assert broker.alive()


def test_all_malformed_in_a_row_one_broker(broker):
    """Every malformed case, one after another on one broker (and some at once), while
    the good pair exchanges a message between each: exact count at the end."""
    good = GoodPair(broker)
    bad = []
    for version in (V311, V5):
        for name, data in malformed_cases(version).items():
            c = RawClient(broker, version)
            if not name.startswith("pre_"):
                c.connect("bad-%d-%s" % (version, name[:40]), keepalive=0)
            c.try_send(data)
            bad.append((name, c))
            good.exchange()
    still_open = []
    for name, c in bad:
        try:
            c.expect_closed(3)
        except AssertionError:
            still_open.append(name)
    good.exchange()
    assert good.n == len(bad) + 1
    good.check_idle()
    assert still_open == [], "connections left open: %s" % still_open


def test_truncated_packets(make_broker):
    """A packet cut short: if the client then closes, the broker just cleans up; if it
    stalls, keep alive (1 s) closes it (its will, if any, is published). Others are
    unaffected."""
    b = make_broker()
    good = GoodPair(b)
    w = connected(b, "trunc-will-sub", V5)
    w.subscribe([("trunc/will", 0)])
    cut = RawClient(b, V5)
    cut.connect("cut", keepalive=0)
    cut.send(R.publish("trunc/x", b"y" * 100)[:20])
    cut.close()
    stall = RawClient(b, V5)
    stall.connect("stall", keepalive=1, will={"topic": "trunc/will", "payload": b"stalled"})
    stall.send(R.publish("trunc/x", b"y" * 100)[:20])
    half_connect = RawClient(b, V5)
    half_connect.send(R.connect("half", version=V5)[:7])
    half_connect.close()
    good.exchange()
    stall.expect_closed(4)
    assert w.wait_for(R.PUBLISH, timeout=2).payload == b"stalled"
    good.exchange()
    good.check_idle()


# ---------------------------------------------------------------- limits and load

def test_max_connections_refuses_excess_cleanly(make_broker):
    """listeners.tcp.default.max_connections=5: with 5 connected, more connections are
    closed without CONNACK; the 5 keep working; once some leave, new ones are accepted."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MAX_CONNECTIONS": "5"})
    held = [connected(b, "held%d" % i, V5) for i in range(5)]
    for i in range(3):
        extra = RawClient(b, V5)
        extra.try_send(R.connect("extra%d" % i, version=V5))
        assert not any(p.type == R.CONNACK for p in extra.expect_closed(3))
    held[0].subscribe([("mc/t", 1)])
    held[1].publish("mc/t", b"still", qos=1)
    assert held[0].wait_for(R.PUBLISH).payload == b"still"
    held[3].disconnect()
    held[4].disconnect()

    def accepted():
        c = RawClient(b, V5)
        c.try_send(R.connect("", version=V5))
        try:
            return c.expect(R.CONNACK, 1.0).code == 0
        except (R.Closed, TimeoutError, AssertionError):
            return False
    assert wait_for(accepted, 5, interval=0.1)


def test_200_abrupt_disconnects(make_broker):
    """200 connections opened and dropped abruptly (RST) in every state: before CONNECT,
    mid-CONNECT, connected, subscribed, with a will, mid QoS 2. The broker keeps serving,
    publishes the 40 wills, and its connection and session counts ($SYS, 1 s) return to
    the three clients left."""
    b = make_broker(env={"EMQX_SYS_TOPICS__SYS_MSG_INTERVAL": "1s"})
    good = GoodPair(b)
    stats = connected(b, "stats", V5)
    stats.subscribe([("$SYS/brokers/+/stats/connections/count", 0),
                     ("$SYS/brokers/+/stats/sessions/count", 0)])
    wills = connected(b, "wills", V5)
    wills.subscribe([("abrupt/will/#", 0)])
    conns = []
    for i in range(200):
        kind = i % 5
        c = RawClient(b, V5)
        if kind == 1:
            c.send(R.connect("ab%d" % i, version=V5)[:9])
        elif kind >= 2:
            will = {"topic": "abrupt/will/%d" % i, "payload": b"w"} if kind == 3 else None
            c.connect("ab%d" % i, will=will)
            if kind == 2:
                c.subscribe([("abrupt/#", 1)])
            if kind == 4:
                c.send(R.publish("abrupt/q2", b"x", qos=2, pid=1))
        conns.append(c)
    good.exchange()
    for c in conns:
        c.abort()
    got = set()
    deadline = time.monotonic() + 5
    while len(got) < 40 and time.monotonic() < deadline:
        p = wills.wait_for(R.PUBLISH, timeout=deadline - time.monotonic())
        got.add(p.topic)
    assert len(got) == 40
    good.exchange()
    counts = {}
    deadline = time.monotonic() + 6
    while counts != {"connections": b"4", "sessions": b"4"} and time.monotonic() < deadline:
        p = stats.wait_for(R.PUBLISH, timeout=deadline - time.monotonic())
        counts[p.topic.split("/")[-2]] = p.payload
    assert counts == {"connections": b"4", "sessions": b"4"}
    good.check_idle()


def test_stalled_subscriber_does_not_stall_others(broker):
    """A subscriber that stops reading its socket while 20 MB of QoS 0 messages are
    published to it must not hold up other clients: the good pair's messages still go
    through promptly during and after the flood."""
    good = GoodPair(broker)
    stalled = connected(broker, "stalled", V5)
    stalled.subscribe([("flood/#", 0)])
    flooder = connected(broker, "flooder", V5)
    chunk = R.publish("flood/t", b"F" * 10000)
    stop = threading.Event()

    def flood():
        for _ in range(2000):
            if stop.is_set() or not flooder.try_send(chunk):
                return
    t = threading.Thread(target=flood, daemon=True)
    t.start()
    try:
        for _ in range(5):
            t0 = time.monotonic()
            good.exchange(timeout=3)
            assert time.monotonic() - t0 < 2.0
        t.join(30)
        assert not t.is_alive()
        good.exchange()
    finally:
        stop.set()
    good.check_idle()


# ---------------------------------------------------------------- signals

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_exits_zero_with_busy_clients(make_broker, sig):
    """SIGTERM/SIGINT with clients connected (3.1.1 and 5, persistent sessions, QoS 1
    messages in flight unacknowledged): the process exits 0 in time and every client's
    connection is closed."""
    b = make_broker()
    sub5 = connected(b, "sig5", V5, clean=False, props={"session_expiry_interval": 60,
                                                        "receive_maximum": 5})
    sub5.subscribe([("sig/#", 1)])
    sub3 = connected(b, "sig3", V311, clean=False)
    sub3.subscribe([("sig/#", 1)])
    pub = connected(b, "sigpub", V5)
    for i in range(50):
        pub.publish("sig/t", b"%d" % i, qos=1, pid=i + 1)
    sub5.recv_publishes(5)
    t0 = time.monotonic()
    b.proc.send_signal(sig)
    assert b.proc.wait(10) == 0
    b.log.close()
    assert time.monotonic() - t0 < 5
    for c in (sub5, sub3, pub):
        c.expect_closed(2)


def test_packets_split_byte_by_byte_and_coalesced(broker):
    """TCP is a stream: a CONNECT and PUBLISH sent one byte at a time, and fifty
    PUBLISH packets in one write, are all parsed; nothing is lost or merged."""
    good = GoodPair(broker)
    slow = RawClient(broker, V5)
    data = R.connect("bytewise", version=V5) + R.publish("good/slow", b"s" * 40, qos=1, pid=9)
    for i in range(len(data)):
        slow.send(data[i:i + 1])
        time.sleep(0.002)
    assert slow.expect(R.CONNACK).code == 0
    assert slow.expect(R.PUBACK).pid == 9
    p = good.sub.wait_for(R.PUBLISH)
    assert (p.topic, p.payload) == ("good/slow", b"s" * 40)
    good.sub.ack(p)
    burst = b"".join(R.publish("good/burst", b"%d" % i, qos=1, pid=i + 1) for i in range(50))
    slow.send(burst)
    acks = [slow.wait_for(R.PUBACK) for _ in range(50)]
    assert [a.pid for a in acks] == list(range(1, 51))
    got = []
    for _ in range(50):  # acknowledged as they come: 50 exceeds the inflight window
        got += good.sub.recv_publishes(1)
        good.sub.ack(got[-1])
    assert [p.payload for p in got] == [b"%d" % i for i in range(50)]
    good.check_idle()


def test_repeated_bad_connects_are_logged_rate_limited(broker):
    """A flood of bad clients must not flood the log (docs/contributing.md: repeats
    rate-limited): at most 10 'bad CONNECT' lines per second per worker, the next one saying
    how many were held back. 120 bad connections within a second give at most 2 workers x
    10 lines."""
    import socket as _socket
    for _ in range(120):
        s = _socket.create_connection((broker.host, broker.port), timeout=2)
        s.sendall(b"\x10\x10\x00\x04MQTT\x07\x02\x00\x3c\x00\x04abcd")  # level 7: unknown
        try:
            s.recv(16)
        except OSError:
            pass
        s.close()
    wait_for(lambda: "bad CONNECT" in broker.read_log(), 2)
    lines = [l for l in broker.read_log().splitlines() if "bad CONNECT" in l]
    assert 1 <= len(lines) <= 25, len(lines)
