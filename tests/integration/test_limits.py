"""Bounded resources per client: what one connection may make the broker hold.

Each test is an attack found on the defaults, made to fail: topic aliases holding 64 KB
topics (force_shutdown.max_heap_size), a flood of subscriptions (the same account, SUBACK
0x97), partial 1 MB CONNECTs held open (the slow-packet deadline of net/connection.cpp),
a burst of connections (listeners.<type>.<name>.max_conn_rate and max_conn_per_ip). In each,
the node and the other clients carry on (GoodPair), and the broker's resident memory stays
bounded.
"""
import socket
import time

import pytest

import rawmqtt as R
from conftest import wait_for
from rawmqtt import V5, V311, RawClient, connected
from test_api import get_json
from test_robustness import GoodPair


def rss_mb(broker):
    with open("/proc/%d/status" % broker.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def metric(broker, name):
    return get_json(broker, "/api/v5/metrics?aggregate=true")[name]


# ---------------------------------------------------------------- force_shutdown

def test_topic_alias_flood_is_shut_down_and_its_memory_returns(make_broker):
    """One MQTT 5 connection registering 64 KB topics under ever new aliases (the default
    mqtt.max_topic_alias is 65535: 4 GB) is disconnected with 0x97 once its account passes
    force_shutdown.max_heap_size (32MB by default); the broker grows by about that much at
    most, gives it back, logs one warning naming the client, and serves the others."""
    b = make_broker()
    good = GoodPair(b)
    base = rss_mb(b)
    c = connected(b, "alias-flood", V5, props={"session_expiry_interval": 600})
    topic = "a" * 65000
    peak = 0.0
    closed_after = None
    c.sock.settimeout(5)
    for alias in range(1, 2001):  # 2000 x 64 KB = 128 MB if nothing stopped it
        if not c.try_send(R.publish(topic + str(alias), b"x", props={"topic_alias": alias},
                                    version=V5)):
            closed_after = alias
            break
        if alias % 100 == 0:
            peak = max(peak, rss_mb(b) - base)
    disconnect = None
    try:
        for p in c.recv_all(1.0):
            if p.type == R.DISCONNECT:
                disconnect = p
    except R.Closed:
        pass
    assert disconnect is not None and disconnect.code == 0x97, (closed_after, disconnect)
    c.expect_closed(3)
    peak = max(peak, rss_mb(b) - base)
    assert peak < 60, "the alias flood grew the broker by %.0f MB" % peak
    good.exchange()
    assert wait_for(lambda: metric(b, "client.disconnected.force_shutdown") == 1, 3)
    log = b.read_log()
    assert log.count("force_shutdown: holds") == 1
    assert "client_id=alias-flood" in log
    # The session went with the connection (it had an expiry): nothing of it is kept.
    again = RawClient(b, V5)
    assert again.connect("alias-flood", props={"session_expiry_interval": 600},
                         clean=False).session_present is False
    after = wait_for(lambda: rss_mb(b) - base < 20, 5) or rss_mb(b) - base
    assert after is True, "%.0f MB still held after the shutdown" % after


def test_subscription_flood_is_refused_with_0x97(make_broker):
    """With mqtt.max_subscriptions = infinity (EMQX's default), 100,000 subscriptions from
    one client are bounded by force_shutdown.max_heap_size: those past it get SUBACK 0x97,
    the connection stays and still works, and the broker grows by a bounded amount."""
    b = make_broker()
    good = GoodPair(b)
    base = rss_mb(b)
    c = connected(b, "sub-flood", V5)
    granted = refused = 0
    per_packet = 1000
    for n in range(100):
        filters = [("flood/%d/%d" % (n, i), 0) for i in range(per_packet)]
        codes = c.subscribe(filters, pid=n % 65535 + 1)
        granted += sum(1 for x in codes if x == 0)
        refused += sum(1 for x in codes if x == 0x97)
    grown = rss_mb(b) - base
    assert granted + refused == 100000
    assert 20000 < granted < 80000, granted
    assert grown < 80, "%d subscriptions grew the broker by %.0f MB" % (granted, grown)
    c.ping()
    assert c.is_open()
    good.exchange()


def test_slow_subscriber_over_the_cap_is_shut_down(make_broker):
    """A subscriber that acknowledges nothing while QoS 1 messages fill its in-flight window
    (Receive Maximum 65535) is disconnected (0x97) when their records pass max_heap_size
    (64KB here); its publisher and everyone else carry on. The messages themselves are
    shared and not charged to it, nor is its queue (README, "Limits per client")."""
    b = make_broker(env={"EMQX_FORCE_SHUTDOWN__MAX_HEAP_SIZE": "64KB",
                         "EMQX_MQTT__MAX_INFLIGHT": "65535",
                         "EMQX_MQTT__BACKPRESSURE": "false"})
    good = GoodPair(b)
    slow = connected(b, "slow", V5, props={"receive_maximum": 65535})
    assert slow.subscribe([("many", 1)]) == [1]
    pub = connected(b, "many-pub", V5)
    for i in range(3000):
        assert pub.publish("many", b"m", qos=1, pid=i % 60000 + 1).type == R.PUBACK
    seen = []
    try:
        for p in slow.recv_all(1.0):
            seen.append(p)
    except R.Closed:
        pass
    assert any(p.type == R.DISCONNECT and p.code == 0x97 for p in seen), [p.type for p in seen]
    good.exchange()
    assert pub.publish("many", b"small", qos=1, pid=60001 % 65535).type == R.PUBACK


# ---------------------------------------------------------------- slow packets

def test_partial_1mb_connects_are_dropped_before_the_idle_timeout(make_broker):
    """100 connections each send 1 MB less one byte of a 1 MB CONNECT and stop. They are
    closed once the slow-packet deadline passes (2 s + 1 MB at 256 KB/s = 6 s), well before
    mqtt.idle_timeout (60 s here); the broker's memory comes back; others are served
    meanwhile."""
    b = make_broker(env={"EMQX_MQTT__IDLE_TIMEOUT": "60s"})
    good = GoodPair(b)
    base = rss_mb(b)
    body = b"\x00\x04MQTT\x05\x02\x00\x3c\x00" + R.utf8("slow") + b"x" * (1024 * 1024 - 32)
    data = R.packet(R.CONNECT, 0, body)
    assert 1000 * 1000 < len(data) <= 1024 * 1024  # within mqtt.max_packet_size
    socks = []
    start = time.monotonic()
    for _ in range(100):
        s = socket.create_connection((b.host, b.port), timeout=5)
        s.sendall(data[:-1])
        socks.append(s)
    sent = time.monotonic() - start
    good.exchange()

    def all_closed():
        for s in socks:
            s.settimeout(0.01)
            try:
                if s.recv(1) != b"":
                    return False
            except socket.timeout:
                return False
            except OSError:
                pass
        return True
    assert wait_for(all_closed, 20, 0.2)
    took = time.monotonic() - start
    for s in socks:
        s.close()
    assert took < 6 + sent + 5, "closed after %.1f s" % took  # not the 60 s idle timeout
    good.exchange()
    assert wait_for(lambda: metric(b, "client.disconnected.slow_packet") == 100, 3)
    assert wait_for(lambda: rss_mb(b) - base < 30, 5), "%.0f MB held" % (rss_mb(b) - base)


def test_a_large_packet_sent_steadily_is_not_cut(make_broker):
    """A 1 MB PUBLISH sent in 64 KB pieces over ~3 s (faster than 256 KB/s) arrives."""
    b = make_broker()
    sub = connected(b, "steady-sub", V5)
    assert sub.subscribe([("steady", 0)]) == [0]
    pub = connected(b, "steady-pub", V5, keepalive=0)
    data = R.publish("steady", b"s" * (1000 * 1000), version=V5)
    for i in range(0, len(data), 64 * 1024):
        pub.send(data[i:i + 64 * 1024])
        time.sleep(0.2)
    p = sub.wait_for(R.PUBLISH, timeout=5)
    assert len(p.payload) == 1000 * 1000
    assert pub.is_open()


# ---------------------------------------------------------------- admission

def try_connect(b, client_id):
    """A RawClient that got its CONNACK, or None when the broker closed it first."""
    c = RawClient(b, V5, timeout=3)
    try:
        c.connect(client_id)
        return c
    except (R.Closed, TimeoutError, OSError, AssertionError):
        c.close()
        return None


def test_max_conn_rate_refuses_the_excess_then_accepts_again(make_broker):
    """listeners.tcp.default.max_conn_rate = "5/s": of 20 connections at once, about 5 are
    served and the rest closed at accept, counted; a second later new ones are let in; the
    connections already in are untouched."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MAX_CONN_RATE": "5/s"})
    time.sleep(1.1)  # the bucket starts full: leave the start-up probe out of the count
    burst = [try_connect(b, "burst-%d" % i) for i in range(20)]
    served = [c for c in burst if c is not None]
    assert 5 <= len(served) <= 7, len(served)  # 5, plus what refilled during the burst
    refused = 20 - len(served)
    assert wait_for(lambda: metric(b, "connections.refused.rate") == refused, 3)
    time.sleep(1.1)
    later = [try_connect(b, "later-%d" % i) for i in range(3)]
    assert all(c is not None for c in later)
    for c in served:
        c.ping()


def test_max_conn_per_ip_refuses_the_excess_from_one_address(make_broker):
    """listeners.tcp.default.max_conn_per_ip = 3: a fourth connection from 127.0.0.1 is
    closed at accept and counted; once one of the three leaves, a new one is let in."""
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MAX_CONN_PER_IP": "3"})
    held = [try_connect(b, "ip-%d" % i) for i in range(3)]
    assert all(c is not None for c in held)
    assert try_connect(b, "ip-extra") is None
    assert wait_for(lambda: metric(b, "connections.refused.per_ip") >= 1, 3)
    held[0].disconnect()
    assert wait_for(lambda: try_connect(b, "ip-again") is not None, 3, 0.2)
    for c in held[1:]:
        c.ping()
