"""Conformance review: normative statements of OASIS MQTT 5.0 / 3.1.1 that emqxd did not
meet when this file was written, one raw-socket test per statement (named after its id),
plus a few robustness checks the other suites do not make.

Every test here states what the spec (or the broker's own documented policy) requires;
a failure is a broker bug, not a test to relax.
"""
import socket
import time

import rawmqtt as R
from rawmqtt import RawClient, connected, V5


def publishes(c, settle=0.5):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


# ---------------------------------------------------------------- 4.8.2 shared subscriptions

def test_shared_qos2_not_redispatched_when_session_ends_MQTT_4_8_2_5(broker):
    """[MQTT-4.8.2-4]/[MQTT-4.8.2-5]: a QoS 2 message the Server is in the process of
    sending to the chosen member must be completed with that member only; "If the
    Client's Session terminates before the Client reconnects, the Server MUST NOT send the
    Application Message to any other subscribed Client". (Only QoS 1 SHOULD be sent to
    another member; EMQX's emqx_session:redispatch_shared_messages skips QoS 2 for this
    reason.) Here member A gets the QoS 2 PUBLISH, never sends PUBREC, and its session
    (expiry 0) ends with the connection: member B must not get the message."""
    a = RawClient(broker, V5)
    a.connect("sq2-a")
    assert a.subscribe([("$share/g/sq2/t", 2)]) == [2]
    pub = connected(broker, "sq2-pub", V5)
    pub.publish("sq2/t", b"exactly-once", qos=2, pid=1)
    p = a.expect(R.PUBLISH)
    assert p.qos == 2 and p.payload == b"exactly-once"
    b = connected(broker, "sq2-b", V5)
    assert b.subscribe([("$share/g/sq2/t", 2)]) == [2]
    a.abort()  # session expiry 0: A's session terminates now, delivery incomplete
    got = publishes(b, 1.5)
    assert [x.payload for x in got] == [], (
        "a QoS 2 message already sent to one member was sent again to another member")


# ---------------------------------------------------------------- Maximum Packet Size

def test_disconnect_reason_string_respects_client_maximum_packet_size_MQTT_3_14_2_3(broker):
    """[MQTT-3.14.2-3]: the sender "MUST NOT send this Property [Reason String] if it would
    increase the size of the DISCONNECT packet beyond the Maximum Packet Size specified by
    the receiver" (and [MQTT-3.1.2-24]: no packet above the client's Maximum Packet Size).
    A client with Maximum Packet Size 16 (its CONNACK is exactly 16 bytes) sends a second
    CONNECT: the DISCONNECT 0x82 must come without the Reason String (3 bytes), not as a
    21-byte packet carrying "second CONNECT"."""
    c = RawClient(broker, V5)
    ack = c.connect("mps-disc", props={"maximum_packet_size": 16})
    assert len(ack.raw) <= 16
    c.send(R.connect("mps-disc", version=V5))
    got = c.expect_closed(3)
    discs = [p for p in got if p.type == R.DISCONNECT]
    assert discs and discs[0].code == 0x82, got
    assert all(len(p.raw) <= 16 for p in got), [(len(p.raw), p) for p in got]


# ---------------------------------------------------------------- Will

def test_delayed_will_gets_full_message_expiry_interval_MQTT_3_1_3_2(broker):
    """3.1.3.2.4 Message Expiry Interval (Will Properties): "the lifetime of the Will
    Message in seconds and is sent as the Publication Expiry Interval when the Server
    publishes the Will Message". The lifetime starts when the will is published, not when
    the connection closed: a will with Will Delay Interval 2 s and Message Expiry Interval
    1 s must still be published after the delay (with an expiry of 1 s). emqxd stamps the
    will when the connection closes, so after the delay it counts as expired and is
    dropped silently ([MQTT-3.1.2-8]: the will MUST be published)."""
    sub = connected(broker, "wexp-sub", V5)
    sub.subscribe([("wexp/#", 1)])
    c = RawClient(broker, V5)
    c.connect("wexp", props={"session_expiry_interval": 30},
              will={"topic": "wexp/t", "payload": b"bye", "qos": 1,
                    "props": {"will_delay_interval": 2, "message_expiry_interval": 1}})
    c.abort()
    got = publishes(sub, 4.0)
    assert [p.payload for p in got] == [b"bye"], "the delayed will was never published"
    assert got[0].props.get("message_expiry_interval") == 1


# ---------------------------------------------------------------- 4.6 message ordering

def test_qos0_order_kept_behind_queued_messages_MQTT_4_6_0_5(broker):
    """[MQTT-4.6.0-5]/[MQTT-4.6.0-6]: on a non-shared subscription the Server MUST send
    PUBLISH packets (for the same Topic and QoS) in the order they were received from a
    given Client. A resumed session holds queued m1, m2 (QoS 1) and m3 (QoS 0); the client
    allows one message in flight, so m2 and m3 wait. A live QoS 0 message m4 from the same
    publisher on the same topic must not overtake m3 (emqxd writes live QoS 0 straight to
    the socket while older QoS 0 messages still sit in the session queue)."""
    sub = RawClient(broker, V5)
    sub.connect("ord0-sub", props={"session_expiry_interval": 60})
    sub.subscribe([("ord0/t", 1)])
    sub.disconnect()
    pub = connected(broker, "ord0-pub", V5)
    pub.publish("ord0/t", b"m1", qos=1, pid=1)
    pub.publish("ord0/t", b"m2", qos=1, pid=2)
    pub.publish("ord0/t", b"m3", qos=0)
    pub.ping()
    sub = RawClient(broker, V5)
    ack = sub.connect("ord0-sub", clean=False,
                      props={"session_expiry_interval": 60, "receive_maximum": 1})
    assert ack.session_present
    first = sub.expect(R.PUBLISH)
    assert first.payload == b"m1"
    pub.publish("ord0/t", b"m4", qos=0)
    pub.ping()
    seen = [first.payload] + [p.payload for p in publishes(sub, 0.5)]
    sub.ack(first)  # opens the window: m2, then m3
    deadline = time.monotonic() + 5
    while len(seen) < 4 and time.monotonic() < deadline:
        for p in publishes(sub, 0.3):
            seen.append(p.payload)
            sub.ack(p)
    qos0 = [x for x in seen if x in (b"m3", b"m4")]
    assert qos0 == [b"m3", b"m4"], "QoS 0 messages out of order: %r" % seen


# ---------------------------------------------------------------- robustness (client-driven growth)

def rss_mb(broker):
    with open("/proc/%d/status" % broker.proc.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def test_one_topic_alias_does_not_cost_megabytes(broker):
    """Not a spec statement: a robustness check. The CONNACK offers Topic Alias Maximum
    65535 (the default mqtt.max_topic_alias), and Channel::handle_publish sizes its alias
    table by the largest alias seen (alias_in_.resize(alias + 1), 32 bytes per slot): one
    10-byte PUBLISH with Topic Alias 65535 makes the broker allocate ~2 MB for that
    connection. 100 such clients cost ~200 MB; enough of them exhaust the node. A map, or a
    default Topic Alias Maximum as small as mosquitto's (10), bounds it."""
    clients = []
    for i in range(100):
        c = connected(broker, "alias-mem-%d" % i, V5)
        clients.append(c)
    base = rss_mb(broker)
    for c in clients:
        c.send(R.publish("a", b"x", qos=0, props={"topic_alias": 65535}, version=V5))
    for c in clients:
        c.ping()
    grown = rss_mb(broker) - base
    assert grown < 50, "100 one-packet clients grew the broker by %.0f MB" % grown


def test_unread_responses_do_not_grow_without_bound(broker):
    """Not a spec statement: a robustness check. A client that pipelines requests and never
    reads the answers (PINGRESP here; PUBACK, SUBACK likewise) makes Connection::out_ grow
    by every answer: the connection keeps reading while its output backlog is unbounded
    (kMaxBacklog only drops QoS 0 deliveries). 32 MB of PINGREQ should not turn into 32 MB
    of broker memory per connection; the broker should stop reading (back-pressure, as
    EMQX's busy port does) or close the connection."""
    c = connected(broker, "flood", V5)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    base = rss_mb(broker)
    chunk = R.pingreq() * (1 << 19)  # 1 MB
    c.sock.settimeout(0.5)
    sent = 0
    deadline = time.monotonic() + 20
    try:
        while sent < 32 and time.monotonic() < deadline:
            c.sock.sendall(chunk)
            sent += 1
    except (socket.timeout, OSError):
        pass  # the broker stopped reading (or closed): good
    time.sleep(0.5)
    grown = rss_mb(broker) - base
    assert grown < 16, "sent %d MB of PINGREQ without reading; broker grew by %.0f MB" % (
        sent, grown)


# ---------------------------------------------------------------- 3.3.2.3.5 Response Topic

def test_response_topic_with_wildcard_not_forwarded_MQTT_3_3_2_14(broker):
    """[MQTT-3.3.2-14]: "The Topic Name in a Response Topic MUST NOT contain wildcard
    characters." The rule binds every sender of a PUBLISH, the Server forwarding one
    included. emqxd accepts a Response Topic "resp/#" from a client and forwards it
    verbatim, so the Server itself sends a PUBLISH that breaks the rule. The inbound PUBLISH
    should be treated as a Protocol Error (DISCONNECT 0x82, see 4.13), or at least never be
    forwarded with the wildcard."""
    sub = connected(broker, "rt-sub", V5)
    sub.subscribe([("rt/#", 0)])
    pub = connected(broker, "rt-pub", V5)
    pub.send(R.publish("rt/req", b"q", qos=0, props={"response_topic": "resp/#"}, version=V5))
    for p in publishes(sub, 0.7):
        rt = p.props.get("response_topic")
        assert rt is None or not any(ch in rt for ch in "+#"), (
            "the Server sent a PUBLISH with Response Topic %r" % rt)


# ---------------------------------------------------------------- 3.1.2.10 Keep Alive

def test_keepalive_counts_control_packets_not_bytes_MQTT_3_1_2_22(broker):
    """v5 [MQTT-3.1.2-22] (3.1.1 [MQTT-3.1.2-24]): "If the Keep Alive value is non-zero and
    the Server does not receive an MQTT Control Packet from the Client within one and a
    half times the Keep Alive time period, it MUST close the Network Connection". A client
    with Keep Alive 1 s that starts a PUBLISH and then trickles its body one byte every
    0.4 s sends no Control Packet for 4 s; emqxd re-arms the timer on every byte
    (Connection::on_bytes stamps last_read_), so it keeps the connection (and a partial
    packet buffer) open as long as the trickle lasts: a slow-loris."""
    c = RawClient(broker, V5)
    c.connect("ka-trickle", keepalive=1)
    c.send(bytes([0x30, 10]))  # PUBLISH QoS 0, Remaining Length 10: body still to come
    body = R.utf8("ka/t") + R.varint(0) + b"xxx"
    assert len(body) == 10
    start = time.monotonic()
    closed_at = None
    for b in body[:-1]:  # never complete the packet
        time.sleep(0.4)
        if not c.try_send(bytes([b])) or not c.is_open(0.02):
            closed_at = time.monotonic() - start
            break
    if closed_at is None:
        try:
            c.expect_closed(0.1)
            closed_at = time.monotonic() - start
        except AssertionError:
            pass
    assert closed_at is not None and closed_at <= 2.5, (
        "still open %.1f s after the last complete packet (Keep Alive 1 s)"
        % (time.monotonic() - start))




# ---------------------------------------------------------------- $SYS policy (not a spec statement)

def test_will_cannot_publish_into_sys(broker):
    """Not a spec statement: the broker's own policy. A client's PUBLISH to "$SYS/..." is
    acknowledged but neither delivered nor retained (Channel::handle_publish, see
    test_publish.py::test_client_publish_to_sys_not_delivered), but the same client can
    put that topic in its Will (Channel::handle_connect only checks it is a valid topic
    name) and have the server publish, and retain, a forged $SYS message for it when the
    connection drops (Channel::detach -> hub.publish bypasses the check)."""
    sub = connected(broker, "syswill-sub", V5)
    sub.subscribe([("$SYS/fake/#", 0)])
    c = RawClient(broker, V5)
    c.connect("syswill", will={"topic": "$SYS/fake/forged", "payload": b"forged",
                               "qos": 0, "retain": True})
    c.abort()
    got = publishes(sub, 0.8)
    assert got == [], "a will published into $SYS: %r" % got


# ---------------------------------------------------------------- 3.14 DISCONNECT reason codes

DISCONNECT_CODES = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F,
                    0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D,
                    0x9E, 0x9F, 0xA0, 0xA1, 0xA2}


def test_second_connect_with_unknown_level_gets_valid_disconnect_code_MQTT_3_14_2_1(broker):
    """[MQTT-3.14.2-1]: "The Client or Server sending the DISCONNECT packet MUST use one of
    the DISCONNECT Reason Code values" (table 3-10). A connected v5 client that sends a
    second CONNECT with protocol level 6 gets DISCONNECT 0x84 (Unsupported Protocol
    Version), a CONNACK-only code: Channel::handle_decode_error maps the codec's
    UnsupportedProtocolVersion straight into close_with(). A second CONNECT is a Protocol
    Error [MQTT-3.1.0-2] whatever its level: 0x82."""
    c = connected(broker, "disc-84", V5)
    body = R.utf8("MQTT") + bytes([6, 0x02]) + R.u16(60) + R.varint(0) + R.utf8("disc-84")
    c.send(R.packet(R.CONNECT, 0, body))
    got = c.expect_closed(3)
    codes = [p.code for p in got if p.type == R.DISCONNECT]
    assert codes and all(code in DISCONNECT_CODES for code in codes), (
        "DISCONNECT reason codes %s" % [hex(x) for x in codes])
