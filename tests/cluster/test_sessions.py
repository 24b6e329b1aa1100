"""Sessions across nodes: one session per client id in the whole cluster. A client that
connects to another node takes its session over: the old connection is closed with 0x8E
(MQTT 5), and subscriptions, queued QoS 1/2 messages and messages in flight come along
[MQTT-3.1.4-3], [MQTT-4.4.0-1]; Clean Start discards the old session [MQTT-3.1.2-4]."""
import time

import paho.mqtt.client as mqtt
import rawmqtt as R
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

V311 = 4
V5 = 5


def expiry(seconds):
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = seconds
    return p


def persistent(c, i, cid, version=V5, **kw):
    if version == V5:
        return c.client(i, cid, version=V5, clean=False, properties=expiry(300), **kw)
    return c.client(i, cid, version=V311, clean=False, **kw)


def wait_forwarded(c, i, n, timeout=5.0):
    """Until node i has received n forwarded messages from its peers. A forward still on
    the wire when a takeover reaches the old owner first is lost (README, "Clustering":
    EMQX has the same window), so a test that moves a session waits for them to land."""
    forwarded = lambda: c.node(i).api("GET", "/api/v5/metrics?aggregate=true")[
        "messages.forward.received"]
    deadline = time.monotonic() + timeout
    while forwarded() < n and time.monotonic() < deadline:
        time.sleep(0.05)
    assert forwarded() >= n, "node %d received %d forwarded messages, not %d" % (
        i, forwarded(), n)


def session_present(client):
    flags = client.connack[0]
    return bool(flags.get("session present") if isinstance(flags, dict) else flags)


def test_offline_session_resumes_on_another_node_with_its_queued_messages(cluster):
    c = cluster(3)
    s = persistent(c, 1, "roam")
    s.subscribe("roam/#", qos=1)
    s.subscribe("roam2/+", qos=2)
    s.disconnect()
    c.wait_routed("roam/#", on=[2, 3], via=1)
    c.wait_routed("roam2/+", on=[2, 3], via=1)
    pub = c.client(2, "roam-pub")
    want = []
    for k in range(5):
        pub.publish("roam/x", b"q1-%d" % k, qos=1)
        want.append(("roam/x", b"q1-%d" % k))
        pub.publish("roam2/y", b"q2-%d" % k, qos=2)
        want.append(("roam2/y", b"q2-%d" % k))
    wait_forwarded(c, 1, len(want))
    t0 = time.monotonic()
    s3 = persistent(c, 3, "roam")
    took = time.monotonic() - t0
    assert session_present(s3), s3.connack
    s3.expect_messages(want, timeout=10)
    # The subscriptions moved with it: routed via node 3 now, not node 1.
    c.wait_routed("roam/#", on=[1, 2], via=3)
    c.wait_routed("roam/#", on=[2, 3], via=1, present=False)
    pub.publish("roam/after", b"after", qos=1)
    got = s3.wait_messages(len(want) + 1, timeout=5)
    assert (got[-1].topic, got[-1].payload) == ("roam/after", b"after")
    assert c.status(3)["sessions"]["takeovers_in"] >= 1
    assert c.status(1)["sessions"]["takeovers_out"] >= 1
    assert took < 5, "the takeover took %.2fs" % took


def test_a_connected_client_is_taken_over_from_another_node_with_0x8E(cluster):
    # A raw client for the old connection: paho 1.6 ignores the reason code of a
    # DISCONNECT whose remaining length is 1 (a reason code and no properties).
    c = cluster(2)
    old = R.RawClient(c.node(1))
    old.send(R.connect("live", clean=False, props={"session_expiry_interval": 300}))
    assert old.expect(R.CONNACK).code == 0
    old.send(R.subscribe(1, [("live/#", 1)]))
    old.expect(R.SUBACK)
    c.wait_routed("live/#", on=[2], via=1)
    new = persistent(c, 2, "live")
    assert session_present(new), new.connack
    d = old.expect(R.DISCONNECT)
    assert d.code == 0x8E, d  # [MQTT-3.1.4-3]
    old.expect_closed()
    pub = c.client(1, "live-pub")
    c.wait_routed("live/#", on=[1], via=2)
    pub.publish("live/x", b"to-new", qos=1)
    new.expect_messages([("live/x", b"to-new")], timeout=5)


def test_clean_start_on_another_node_discards_the_old_session(cluster):
    c = cluster(2)
    s = persistent(c, 1, "fresh")
    s.subscribe("fresh/#", qos=1)
    s.disconnect()
    c.client(2, "fresh-pub").publish("fresh/x", b"old", qos=1)
    n = c.client(2, "fresh", version=V5, clean=True, properties=expiry(300))
    assert not session_present(n), n.connack
    n.expect(0, timeout=0.1, settle=0.5)
    c.wait_routed("fresh/#", on=[2], via=1, present=False)


def test_mqtt311_persistent_session_moves_between_nodes(cluster):
    c = cluster(2)
    s = persistent(c, 1, "v3roam", version=V311)
    s.subscribe("v3/#", qos=1)
    s.disconnect()
    c.wait_routed("v3/#", on=[2], via=1)
    c.client(2, "v3pub").publish("v3/a", b"one", qos=1)
    wait_forwarded(c, 1, 1)
    s2 = persistent(c, 2, "v3roam", version=V311)
    assert session_present(s2)
    s2.expect_messages([("v3/a", b"one")], timeout=5)


def test_unacknowledged_messages_come_along_and_are_resent_with_dup(cluster):
    """The subscriber receives QoS 1 messages and acknowledges none (paho acknowledges
    after on_message; a raw socket keeps them unacknowledged): after it reconnects to
    another node they come again with DUP and their packet ids [MQTT-4.4.0-1]."""
    import socket
    import struct
    c = cluster(2)

    def connect_raw(node, cid):
        sk = socket.create_connection((node.host, node.port), timeout=5)
        payload = struct.pack("!H", 4) + b"MQTT" + bytes([5, 0x00, 0, 60])  # Clean Start 0
        payload += bytes([5, 0x11]) + struct.pack("!I", 300)  # Session Expiry 300
        payload += struct.pack("!H", len(cid)) + cid.encode()
        sk.sendall(bytes([0x10, len(payload)]) + payload)
        return sk

    def read_packets(sk, timeout):
        sk.settimeout(0.2)
        buf = b""
        out = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sk.recv(65536)
                if not chunk:
                    break
                buf += chunk
            except socket.timeout:
                pass
            while len(buf) >= 2:
                mult, n, i = 1, 0, 1
                while True:
                    b = buf[i]
                    n += (b & 0x7F) * mult
                    mult *= 128
                    i += 1
                    if b & 0x80 == 0:
                        break
                if len(buf) < i + n:
                    break
                out.append((buf[0], buf[i:i + n]))
                buf = buf[i + n:]
        return out

    sk = connect_raw(c.node(1), "rawdup")
    read_packets(sk, 0.5)
    body = struct.pack("!H", 1) + b"\x00" + struct.pack("!H", 5) + b"dup/#" + b"\x01"
    sk.sendall(bytes([0x82, len(body)]) + body)
    read_packets(sk, 0.5)
    c.wait_routed("dup/#", on=[2], via=1)
    pub = c.client(2, "dup-pub")
    for k in range(3):
        pub.publish("dup/x", b"m%d" % k, qos=1)
    first = [p for p in read_packets(sk, 2) if p[0] & 0xF0 == 0x30]
    assert len(first) == 3, first
    ids = [struct.unpack("!H", body[2 + struct.unpack("!H", body[:2])[0]:][:2])[0]
           for _, body in first]
    sk.close()
    time.sleep(0.3)
    sk2 = connect_raw(c.node(2), "rawdup")
    again = [p for p in read_packets(sk2, 3) if p[0] & 0xF0 == 0x30]
    sk2.close()
    assert len(again) == 3, again
    assert all(p[0] & 0x08 for p in again), "DUP expected on resend: %r" % [p[0] for p in again]
    ids2 = [struct.unpack("!H", body[2 + struct.unpack("!H", body[:2])[0]:][:2])[0]
            for _, body in again]
    assert ids2 == ids, (ids, ids2)
