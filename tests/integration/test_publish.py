"""PUBLISH and its acknowledgements in both directions (MQTT 5.0 sections 3.3-3.7, 4.3,
4.4, 4.9 and 3.1.2.11 / 3.2.2.3 limits; MQTT 3.1.1 sections 3.3-3.7, 4.3, 4.4).

Counts are exact: every test says how many messages must arrive, checks their content
and order, then waits a short settle to prove that nothing more arrives. Packet-level
flows (packet ids, DUP, PUBREL flags, reason codes, properties, topic aliases) use
rawmqtt so the broker's bytes are seen as sent.
"""
import time

import pytest

import rawmqtt as R
from conftest import wait_for
from mqttc import Client
from rawmqtt import RawClient, connected, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def no_publish(c, settle=0.4):
    """No PUBLISH arrives at raw client `c` within `settle` seconds."""
    extra = [p for p in c.recv_all(settle) if p.type == R.PUBLISH]
    return extra == []


# ---------------------------------------------------------------- QoS end to end

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("pub_qos", [0, 1, 2])
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_qos_end_to_end_exact_MQTT_3_8_4_8(broker, version, pub_qos, sub_qos):
    """Ten messages per QoS pair arrive exactly once each, in order [MQTT-4.6.0-6]
    (ordered topic), at min(published QoS, granted QoS) [MQTT-3.8.4-8] (3.1.1
    [MQTT-3.8.4-6])."""
    sub = Client(broker, "sub", version)
    assert [getattr(x, "value", x) for x in sub.subscribe("q/#", qos=sub_qos)] == [sub_qos]
    pub = Client(broker, "pub", version)
    for i in range(10):
        pub.publish("q/%d" % (i % 3), b"m%d" % i, qos=pub_qos)
    got = sub.wait_messages(10)
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        ("q/%d" % (i % 3), b"m%d" % i, min(pub_qos, sub_qos)) for i in range(10)]
    assert all(not m.retain and not m.dup for m in got)
    assert sub.expect_no_more(10)


@pytest.mark.parametrize("version", VERSIONS)
def test_many_publishers_one_subscriber_exact_total(broker, version):
    """Five publishers x 40 QoS 1 messages: exactly 200 arrive, each publisher's in its
    own order [MQTT-4.6.0-6]."""
    sub = Client(broker, "many-sub", version)
    sub.subscribe("many/+", qos=1)
    pubs = [Client(broker, "many-pub-%d" % i, version) for i in range(5)]
    infos = []
    for n in range(40):
        for i, p in enumerate(pubs):
            infos.append(p.publish("many/%d" % i, b"%d" % n, qos=1, wait=False))
    for p, inf in zip(pubs * 40, infos):
        assert p._wait(lambda: inf.mid in p.published, 10)
    got = sub.wait_messages(200, timeout=10)
    assert len(got) == 200
    for i in range(5):
        assert [m.payload for m in got if m.topic == "many/%d" % i] == [b"%d" % n for n in range(40)]
    assert sub.expect_no_more(200)


# ---------------------------------------------------------------- byte-exact QoS flows

def test_v311_qos1_inbound_puback_bytes_MQTT_4_3_2_4(broker):
    """QoS 1 from the client: PUBACK with the PUBLISH's packet id, byte-exact in 3.1.1
    (40 02 id) [MQTT-4.3.2-4] (3.1.1 [MQTT-4.3.2-2])."""
    c = connected(broker, "q1in", V311)
    c.send(R.publish("x/y", b"p", qos=1, pid=0x1234, version=V311))
    assert c.recv().raw == b"\x40\x02\x12\x34"
    c.send(R.publish("x/y", b"p", qos=1, pid=0xFFFF, version=V311))
    assert c.recv().raw == b"\x40\x02\xff\xff"


def test_v311_qos2_inbound_flow_bytes_MQTT_4_3_3_8(broker):
    """QoS 2 from the client: PUBREC (50 02 id) [MQTT-4.3.3-8], then PUBREL gets PUBCOMP
    (70 02 id) [MQTT-4.3.3-11]."""
    c = connected(broker, "q2in", V311)
    c.send(R.publish("x/y", b"p", qos=2, pid=0x0102, version=V311))
    assert c.recv().raw == b"\x50\x02\x01\x02"
    c.send(R.pubrel(0x0102, version=V311))
    assert c.recv().raw == b"\x70\x02\x01\x02"


@pytest.mark.parametrize("version", VERSIONS)
def test_qos1_outbound_flow_MQTT_4_3_2_1(broker, version):
    """QoS 1 to the client: a PUBLISH with QoS 1, DUP 0 and a non-zero packet id
    [MQTT-2.2.1-3]; after PUBACK it is not sent again."""
    sub = connected(broker, "q1out", version)
    assert sub.subscribe([("o/1", 1)]) == [1]
    pub = connected(broker, "q1out-pub", version)
    pub.publish("o/1", b"one", qos=1)
    p = sub.expect(R.PUBLISH)
    assert (p.qos, p.dup, p.retain, p.topic, p.payload) == (1, False, False, "o/1", b"one")
    assert p.pid != 0
    assert p.raw[0] == 0x32
    sub.send(R.puback(p.pid, version=version))
    assert no_publish(sub)


@pytest.mark.parametrize("version", VERSIONS)
def test_qos2_outbound_flow_pubrel_bytes_MQTT_4_3_3_4(broker, version):
    """QoS 2 to the client: PUBLISH (QoS 2), PUBREC from us, then the broker's PUBREL
    carries the same packet id [MQTT-4.3.3-4] with fixed-header flags 0010
    [MQTT-3.6.1-1]; PUBCOMP ends it and nothing is resent."""
    sub = connected(broker, "q2out", version)
    assert sub.subscribe([("o/2", 2)]) == [2]
    pub = connected(broker, "q2out-pub", version)
    pub.publish("o/2", b"two", qos=2)
    p = sub.expect(R.PUBLISH)
    assert (p.qos, p.dup, p.topic, p.payload) == (2, False, "o/2", b"two")
    assert p.raw[0] == 0x34
    sub.send(R.pubrec(p.pid, version=version))
    rel = sub.expect(R.PUBREL)
    assert rel.pid == p.pid and rel.code == 0
    if version == V311:
        assert rel.raw == b"\x62\x02" + p.pid.to_bytes(2, "big")
    else:
        assert rel.raw[0] == 0x62
    sub.send(R.pubcomp(p.pid, version=version))
    assert sub.recv_all(0.4) == []


def test_outbound_packet_ids_unique_while_inflight_MQTT_2_2_1_3(broker):
    """Unacknowledged QoS 1/2 PUBLISH packets in flight to one client use distinct
    non-zero packet ids [MQTT-2.2.1-3]."""
    sub = connected(broker, "ids", V5)
    sub.subscribe([("ids/#", 2)])
    pub = connected(broker, "ids-pub", V5)
    for i in range(10):
        pub.publish("ids/%d" % i, b"%d" % i, qos=1 + i % 2, pid=i + 1)
    got = sub.recv_publishes(10)
    pids = [p.pid for p in got]
    assert 0 not in pids and len(set(pids)) == 10
    assert [p.payload for p in got] == [b"%d" % i for i in range(10)]


@pytest.mark.parametrize("version", VERSIONS)
def test_qos2_duplicate_publish_delivered_once_MQTT_4_3_3_10(broker, version):
    """[MQTT-4.3.3-10] until PUBREL, a PUBLISH with the same packet id (DUP=1) is
    answered with PUBREC again and not delivered again: the subscriber gets it once.
    After PUBCOMP the id is free: a new message with it is a new message."""
    sub = connected(broker, "dup-sub", version)
    sub.subscribe([("dup/t", 2)])
    pub = connected(broker, "dup-pub", version)
    pub.send(R.publish("dup/t", b"first", qos=2, pid=7, version=version))
    assert pub.expect(R.PUBREC).pid == 7
    pub.send(R.publish("dup/t", b"first", qos=2, pid=7, dup=True, version=version))
    rec = pub.expect(R.PUBREC)
    assert rec.pid == 7 and rec.code < 0x80
    pub.send(R.publish("dup/t", b"first", qos=2, pid=7, dup=True, version=version))
    assert pub.expect(R.PUBREC).pid == 7
    pub.send(R.pubrel(7, version=version))
    comp = pub.expect(R.PUBCOMP)
    assert comp.pid == 7 and comp.code == 0
    p = sub.expect(R.PUBLISH)
    assert p.payload == b"first"
    sub.ack(p)
    assert no_publish(sub)
    pub.publish("dup/t", b"second", qos=2, pid=7)
    p = sub.expect(R.PUBLISH)
    assert p.payload == b"second"
    sub.ack(p)
    assert no_publish(sub)


@pytest.mark.parametrize("version", VERSIONS)
def test_pubrel_unknown_id_gets_pubcomp_MQTT_4_3_3_11(broker, version):
    """[MQTT-4.3.3-11] a PUBREL is answered with PUBCOMP with the same id, even for an
    unknown id; v5 says 0x92 (Packet Identifier not found)."""
    c = connected(broker, "relx", version)
    c.send(R.pubrel(0x4242, version=version))
    comp = c.expect(R.PUBCOMP)
    assert comp.pid == 0x4242
    if version == V5:
        assert comp.code == 0x92
    else:
        assert comp.raw == b"\x70\x02\x42\x42"
    assert c.is_open(0.2)


def test_v5_no_matching_subscribers_0x10(broker):
    """v5 PUBACK/PUBREC reason 0x10 (No matching subscribers) when nobody subscribed
    (table 3-4/3-5, a success code: the QoS 2 flow goes on to PUBCOMP); 0x00 once
    someone does [MQTT-3.4.2-1]."""
    c = connected(broker, "nosub", V5)
    assert c.publish("nobody/here", b"x", qos=1, pid=3).code == 0x10
    c.send(R.publish("nobody/here", b"x", qos=2, pid=4))
    rec = c.expect(R.PUBREC)
    assert (rec.pid, rec.code) == (4, 0x10)
    c.send(R.pubrel(4))
    comp = c.expect(R.PUBCOMP)
    assert (comp.pid, comp.code) == (4, 0)
    s = connected(broker, "somebody", V5)
    s.subscribe([("nobody/here", 0)])
    assert c.publish("nobody/here", b"x", qos=1, pid=5).code == 0x00


# ---------------------------------------------------------------- protocol errors

@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("topic", ["a/+", "a/#", "#", "+", "a/b+"])
def test_wildcard_in_topic_name_MQTT_3_3_2_2(broker, version, topic):
    """[MQTT-3.3.2-2] a Topic Name holds no wildcard: v5 DISCONNECT 0x90 (Topic Name
    invalid), 3.1.1 close. Nothing is delivered."""
    sub = connected(broker, "wc-sub", version)
    sub.subscribe([("#", 0)])
    c = connected(broker, "wc", version)
    c.send(R.publish(topic, b"x", qos=1, pid=1, version=version))
    pkts = c.expect_closed(3)
    if version == V5:
        assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x90)]
    else:
        assert pkts == []
    assert no_publish(sub, 0.2)


@pytest.mark.parametrize("version", VERSIONS)
def test_empty_topic_name_without_alias_MQTT_4_7_3_1(broker, version):
    """[MQTT-4.7.3-1] topic names are at least one character; in v5 an empty name is
    only valid with a Topic Alias (3.3.2.3.4: Protocol Error otherwise). The connection
    is closed (v5: DISCONNECT 0x82, or the more specific 0x90)."""
    c = connected(broker, "empty-topic", version)
    c.send(R.publish("", b"x", version=version))
    pkts = c.expect_closed(3)
    if version == V5:
        assert len(pkts) == 1 and pkts[0].type == R.DISCONNECT and pkts[0].code in (0x82, 0x90)
    else:
        assert pkts == []


def test_v5_qos_above_maximum_qos_0x9B_MQTT_3_2_2_11(make_broker):
    """mqtt.max_qos_allowed=1: CONNACK Maximum QoS 1 [MQTT-3.2.2-9]; a QoS 2 PUBLISH
    breaks [MQTT-3.2.2-11] and gets DISCONNECT 0x9B (QoS not supported, 3.3.1.2). QoS 1
    still works."""
    b = make_broker(env={"EMQX_MQTT__MAX_QOS_ALLOWED": "1"})
    c = RawClient(b, V5)
    assert c.connect("maxqos").props["maximum_qos"] == 1
    assert c.publish("mq/t", b"ok", qos=1).code in (0x00, 0x10)
    c.send(R.publish("mq/t", b"x", qos=2, pid=2))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x9B)]


def test_v5_retain_not_available_0x9A_MQTT_3_2_2_14(make_broker):
    """mqtt.retain_available=false: CONNACK Retain Available 0; a PUBLISH with RETAIN=1
    breaks [MQTT-3.2.2-14] and gets DISCONNECT 0x9A (Retain not supported)."""
    b = make_broker(env={"EMQX_MQTT__RETAIN_AVAILABLE": "false"})
    c = RawClient(b, V5)
    assert c.connect("noretain").props["retain_available"] == 0
    c.publish("nr/t", b"plain", qos=1)
    c.send(R.publish("nr/t", b"x", qos=1, pid=2, retain=True))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x9A)]


def test_v5_receive_maximum_exceeded_0x93(make_broker):
    """Receive Maximum of the server (mqtt.max_awaiting_rel=2): a client with more QoS 2
    PUBLISH packets unacknowledged (no PUBREL yet) breaks [MQTT-3.3.4-7]; the server
    sends DISCONNECT 0x93 (Receive Maximum exceeded, 3.3.4)."""
    b = make_broker(env={"EMQX_MQTT__MAX_AWAITING_REL": "2"})
    c = RawClient(b, V5)
    assert c.connect("rmx").props["receive_maximum"] == 2
    for pid in (1, 2):
        c.send(R.publish("rm/t", b"x", qos=2, pid=pid))
        assert c.expect(R.PUBREC).pid == pid
    c.send(R.publish("rm/t", b"x", qos=2, pid=3))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x93)]


@pytest.mark.parametrize("version", VERSIONS)
def test_packet_larger_than_max_packet_size(make_broker, version):
    """mqtt.max_packet_size=1024 (CONNACK Maximum Packet Size 1024): a bigger packet from
    the client breaks [MQTT-3.2.2-15]; v5 DISCONNECT 0x95 (Packet too large), 3.1.1 close.
    Other clients are unaffected and a packet just under the limit passes."""
    b = make_broker(env={"EMQX_MQTT__MAX_PACKET_SIZE": "1024"})
    sub = connected(b, "mps-sub", V5)
    sub.subscribe([("mps/#", 0)])
    c = connected(b, "mps", version)
    c.send(R.publish("mps/ok", b"x" * 900, version=version))
    assert sub.expect(R.PUBLISH).payload == b"x" * 900
    c.send(R.publish("mps/big", b"y" * 2000, version=version))
    pkts = c.expect_closed(3)
    if version == V5:
        assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x95)]
    else:
        assert pkts == []
    assert no_publish(sub, 0.2)
    other = connected(b, "mps-other", V5)
    other.publish("mps/after", b"z", qos=1)
    assert sub.expect(R.PUBLISH).payload == b"z"


# ---------------------------------------------------------------- flow control

def test_v5_receive_maximum_limits_inflight_MQTT_3_3_4_9(broker):
    """[MQTT-3.3.4-9] with Receive Maximum 2 the server has at most two unacknowledged
    QoS 1 PUBLISH packets out to the client; each PUBACK lets exactly one more go; all
    six arrive in order."""
    sub = RawClient(broker, V5)
    sub.connect("rm2", props={"receive_maximum": 2})
    sub.subscribe([("rx/t", 1)])
    pub = connected(broker, "rm2-pub", V5)
    for i in range(6):
        pub.publish("rx/t", b"%d" % i, qos=1, pid=i + 1)
    first = sub.recv_publishes(2)
    assert [p.payload for p in first] == [b"0", b"1"]
    assert no_publish(sub, 0.5)
    sub.send(R.puback(first[0].pid))
    third = sub.recv_publishes(1)
    assert [p.payload for p in third] == [b"2"]
    assert no_publish(sub, 0.3)
    for p in first[1:] + third:
        sub.send(R.puback(p.pid))
    rest = sub.recv_publishes(2)
    assert [p.payload for p in rest] == [b"3", b"4"]
    for p in rest:
        sub.send(R.puback(p.pid))
    last = sub.recv_publishes(1)
    assert [p.payload for p in last] == [b"5"]
    sub.send(R.puback(last[0].pid))
    assert no_publish(sub, 0.3)


def test_v5_receive_maximum_counts_qos2_until_pubcomp_MQTT_3_3_4_9(broker):
    """[MQTT-3.3.4-9] a QoS 2 PUBLISH counts against Receive Maximum until PUBCOMP (a
    PUBREC below 0x80 does not free the slot): with Receive Maximum 1 the second message
    waits for the first's PUBCOMP."""
    sub = RawClient(broker, V5)
    sub.connect("rm1", props={"receive_maximum": 1})
    sub.subscribe([("rx2/t", 2)])
    pub = connected(broker, "rm1-pub", V5)
    pub.publish("rx2/t", b"a", qos=2, pid=1)
    pub.publish("rx2/t", b"b", qos=2, pid=2)
    p1 = sub.expect(R.PUBLISH)
    assert p1.payload == b"a"
    sub.send(R.pubrec(p1.pid))
    assert sub.expect(R.PUBREL).pid == p1.pid
    assert sub.recv_all(0.4) == []
    sub.send(R.pubcomp(p1.pid))
    p2 = sub.expect(R.PUBLISH)
    assert p2.payload == b"b"
    sub.ack(p2)
    assert no_publish(sub, 0.3)


@pytest.mark.parametrize("version", VERSIONS)
def test_max_inflight_config(make_broker, version):
    """mqtt.max_inflight=3: at most three unacknowledged QoS 1 messages to a client that
    set no Receive Maximum; the rest wait and follow the acks, in order."""
    b = make_broker(env={"EMQX_MQTT__MAX_INFLIGHT": "3"})
    sub = connected(b, "mif", version)
    sub.subscribe([("mif/t", 1)])
    pub = connected(b, "mif-pub", V5)
    for i in range(7):
        pub.publish("mif/t", b"%d" % i, qos=1, pid=i + 1)
    got = sub.recv_publishes(3)
    assert no_publish(sub, 0.5)
    seen = list(got)
    while len(seen) < 7:
        sub.send(R.puback(got.pop(0).pid, version=version))
        nxt = sub.recv_publishes(1)
        got += nxt
        seen += nxt
    assert [p.payload for p in seen] == [b"%d" % i for i in range(7)]
    for p in got:
        sub.send(R.puback(p.pid, version=version))
    assert no_publish(sub, 0.3)


# ---------------------------------------------------------------- sessions: redelivery, queueing

@pytest.mark.parametrize("version", VERSIONS)
def test_redelivery_after_reconnect_MQTT_4_4_0_1(broker, version):
    """[MQTT-4.4.0-1] on reconnect with Clean Start 0 (v5, Session Expiry > 0) or
    CleanSession 0 (3.1.1) the server resends unacknowledged PUBLISH packets with their
    original packet ids and DUP=1 [MQTT-3.3.1-1], and PUBREL for QoS 2 messages past
    PUBREC, in the original order; then nothing else."""
    kw = {"props": {"session_expiry_interval": 60}} if version == V5 else {}
    sub = RawClient(broker, version)
    sub.connect("redeliver", clean=False, **kw)
    sub.subscribe([("rd/#", 2)])
    pub = connected(broker, "rd-pub", V5)
    pub.publish("rd/a", b"A", qos=1, pid=1)
    pub.publish("rd/b", b"B", qos=2, pid=2)
    pub.publish("rd/c", b"C", qos=2, pid=3)
    a, b_, c = sub.recv_publishes(3)
    assert [(x.payload, x.qos, x.dup) for x in (a, b_, c)] == [
        (b"A", 1, False), (b"B", 2, False), (b"C", 2, False)]
    sub.send(R.pubrec(c.pid, version=version))  # C goes on to PUBREL
    assert sub.expect(R.PUBREL).pid == c.pid
    sub.abort()

    sub2 = RawClient(broker, version)
    ack = sub2.connect("redeliver", clean=False, **kw)
    assert ack.session_present is True
    got = [sub2.recv() for _ in range(3)]
    assert [(p.type, p.pid) for p in got] == [
        (R.PUBLISH, a.pid), (R.PUBLISH, b_.pid), (R.PUBREL, c.pid)]
    assert [(p.payload, p.qos, p.dup, p.topic) for p in got[:2]] == [
        (b"A", 1, True, "rd/a"), (b"B", 2, True, "rd/b")]
    assert got[0].raw[0] == 0x3A and got[1].raw[0] == 0x3C  # DUP bit in the fixed header
    sub2.send(R.puback(a.pid, version=version))
    sub2.send(R.pubrec(b_.pid, version=version))
    assert sub2.expect(R.PUBREL).pid == b_.pid
    sub2.send(R.pubcomp(b_.pid, version=version))
    sub2.send(R.pubcomp(c.pid, version=version))
    assert sub2.recv_all(0.4) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_offline_messages_queued_and_delivered_in_order(broker, version):
    """Messages for a disconnected client with a session are kept (3.1.2.4: session state
    includes QoS 1/2 messages pending transmission) and delivered on reconnect, in
    order [MQTT-4.6.0-6]: QoS 1 and 2, and QoS 0 too (mqueue_store_qos0 defaults true)."""
    kw = {"props": {"session_expiry_interval": 60}} if version == V5 else {}
    sub = RawClient(broker, version)
    sub.connect("offq", clean=False, **kw)
    sub.subscribe([("off/#", 2)])
    sub.disconnect()
    pub = Client(broker, "offq-pub")
    expected = []
    for i in range(9):
        qos = i % 3
        pub.publish("off/%d" % qos, b"m%d" % i, qos=qos)
        expected.append(("off/%d" % qos, b"m%d" % i, qos))
    sub2 = RawClient(broker, version)
    assert sub2.connect("offq", clean=False, **kw).session_present is True
    got = sub2.recv_publishes(9)
    assert [(p.topic, p.payload, p.qos) for p in got] == expected
    for p in got:
        sub2.ack(p)
    assert no_publish(sub2)


def test_max_mqueue_len_drops_oldest(make_broker):
    """mqtt.max_mqueue_len=3: five QoS 1 messages for an offline session leave the
    newest three (the oldest are dropped, EMQX's policy)."""
    b = make_broker(env={"EMQX_MQTT__MAX_MQUEUE_LEN": "3"})
    sub = RawClient(b, V5)
    sub.connect("mq3", clean=False, props={"session_expiry_interval": 60})
    sub.subscribe([("mq/t", 1)])
    sub.disconnect()
    pub = connected(b, "mq3-pub", V5)
    for i in range(5):
        pub.publish("mq/t", b"%d" % i, qos=1, pid=i + 1)
    sub2 = RawClient(b, V5)
    assert sub2.connect("mq3", clean=False, props={"session_expiry_interval": 60}).session_present
    got = sub2.recv_publishes(3)
    assert [p.payload for p in got] == [b"2", b"3", b"4"]
    for p in got:
        sub2.ack(p)
    assert no_publish(sub2)


@pytest.mark.parametrize("store_qos0", ["true", "false"])
def test_mqueue_store_qos0(make_broker, store_qos0):
    """mqtt.mqueue_store_qos0: QoS 0 messages for an offline session are queued only when
    true; QoS 1 ones always are."""
    b = make_broker(env={"EMQX_MQTT__MQUEUE_STORE_QOS0": store_qos0})
    sub = RawClient(b, V5)
    sub.connect("q0", clean=False, props={"session_expiry_interval": 60})
    sub.subscribe([("q0/t", 1)])
    sub.disconnect()
    pub = connected(b, "q0-pub", V5)
    pub.publish("q0/t", b"zero-a", qos=0)
    pub.publish("q0/t", b"one", qos=1, pid=1)
    pub.publish("q0/t", b"zero-b", qos=0)
    pub.ping()  # the QoS 0 ones were handled before this answer
    sub2 = RawClient(b, V5)
    assert sub2.connect("q0", clean=False, props={"session_expiry_interval": 60}).session_present
    if store_qos0 == "true":
        got = sub2.recv_publishes(3)
        assert [(p.payload, p.qos) for p in got] == [(b"zero-a", 0), (b"one", 1), (b"zero-b", 0)]
    else:
        got = sub2.recv_publishes(1)
        assert [(p.payload, p.qos) for p in got] == [(b"one", 1)]
    for p in got:
        sub2.ack(p)
    assert no_publish(sub2)


# ---------------------------------------------------------------- v5 message properties

def test_message_expiry_while_queued_MQTT_3_3_2_5(broker):
    """[MQTT-3.3.2-5] a message whose Message Expiry Interval passed while queued for an
    offline client is not delivered; [MQTT-3.3.2-6] one still live arrives with the
    interval minus the time it waited; one without the property has none."""
    sub = RawClient(broker, V5)
    sub.connect("exp", clean=False, props={"session_expiry_interval": 60})
    sub.subscribe([("exp/#", 1)])
    sub.disconnect()
    pub = connected(broker, "exp-pub", V5)
    pub.publish("exp/short", b"short", qos=1, pid=1, props={"message_expiry_interval": 1})
    pub.publish("exp/long", b"long", qos=1, pid=2, props={"message_expiry_interval": 30})
    pub.publish("exp/none", b"none", qos=1, pid=3)
    time.sleep(2.2)  # the short one expires while the client is away
    sub2 = RawClient(broker, V5)
    assert sub2.connect("exp", clean=False, props={"session_expiry_interval": 60}).session_present
    got = sub2.recv_publishes(2)
    assert [p.payload for p in got] == [b"long", b"none"]
    assert 26 <= got[0].props["message_expiry_interval"] <= 28
    assert "message_expiry_interval" not in got[1].props
    for p in got:
        sub2.ack(p)
    assert no_publish(sub2)


def test_message_expiry_forwarded_live_MQTT_3_3_2_6(broker):
    """[MQTT-3.3.2-6] a message delivered at once carries its Message Expiry Interval
    (less the negligible time it waited)."""
    sub = connected(broker, "exp-live", V5)
    sub.subscribe([("el/t", 0)])
    pub = connected(broker, "exp-live-pub", V5)
    pub.publish("el/t", b"x", props={"message_expiry_interval": 100})
    p = sub.expect(R.PUBLISH)
    assert p.props["message_expiry_interval"] in (99, 100)


def test_publish_properties_passed_through_MQTT_3_3_2_17(broker):
    """The server forwards unaltered: Payload Format Indicator [MQTT-3.3.2-4], Content
    Type [MQTT-3.3.2-20], Response Topic [MQTT-3.3.2-15], Correlation Data
    [MQTT-3.3.2-16] and User Properties [MQTT-3.3.2-17], in their order, duplicates kept
    [MQTT-3.3.2-18]. A 3.1.1 subscriber gets the same topic and payload."""
    sub5 = connected(broker, "pp5", V5)
    sub5.subscribe([("pp/t", 1)])
    sub3 = connected(broker, "pp3", V311)
    sub3.subscribe([("pp/t", 1)])
    user = [("k", "v1"), ("a", "b"), ("k", "v2"), ("zz", ""), ("ünï", "çødé")]
    props = {"payload_format_indicator": 1, "content_type": "text/plain; charset=utf-8",
             "response_topic": "pp/reply", "correlation_data": b"\x00\x01corr\xff",
             "user_property": user}
    pub = connected(broker, "pp-pub", V5)
    pub.publish("pp/t", "héllo".encode(), qos=1, props=props)
    p = sub5.expect(R.PUBLISH)
    assert p.payload == "héllo".encode()
    assert p.props == props
    q = sub3.expect(R.PUBLISH)
    assert (q.topic, q.payload, q.qos) == ("pp/t", "héllo".encode(), 1)


def test_v3_publisher_to_v5_subscriber_has_no_properties(broker):
    """A message from a 3.1.1 client reaches a v5 subscriber with no message properties."""
    sub = connected(broker, "v3v5", V5)
    sub.subscribe([("vv/t", 0)])
    pub = connected(broker, "v3v5-pub", V311)
    pub.publish("vv/t", b"plain")
    p = sub.expect(R.PUBLISH)
    assert p.payload == b"plain" and p.props == {}


# ---------------------------------------------------------------- topic aliases

def test_inbound_topic_alias_MQTT_3_3_2_12(broker):
    """[MQTT-3.3.2-12] the server accepts aliases 1..Topic Alias Maximum: a PUBLISH with
    topic + alias sets the mapping, one with an empty topic + alias uses it, a new topic
    with the same alias replaces it."""
    sub = connected(broker, "ta-sub", V5)
    sub.subscribe([("ta/#", 0)])
    pub = connected(broker, "ta-pub", V5)
    pub.publish("ta/one", b"1", props={"topic_alias": 3})
    pub.publish("", b"2", props={"topic_alias": 3})
    pub.publish("ta/two", b"3", props={"topic_alias": 3})
    pub.publish("", b"4", qos=1, props={"topic_alias": 3})
    got = sub.recv_publishes(4)
    assert [(p.topic, p.payload) for p in got] == [
        ("ta/one", b"1"), ("ta/one", b"2"), ("ta/two", b"3"), ("ta/two", b"4")]
    assert all("topic_alias" not in p.props for p in got)  # the subscriber set no maximum


@pytest.mark.parametrize("alias", [0, 11])
def test_inbound_topic_alias_out_of_range_0x94_MQTT_3_3_2_8(make_broker, alias):
    """Alias 0 [MQTT-3.3.2-8] or above the server's Topic Alias Maximum (10 here)
    [MQTT-3.3.2-9]: DISCONNECT 0x94 (Topic Alias invalid)."""
    b = make_broker(env={"EMQX_MQTT__MAX_TOPIC_ALIAS": "10"})
    c = RawClient(b, V5)
    assert c.connect("ta-bad").props["topic_alias_maximum"] == 10
    c.publish("ta/x", b"ok", props={"topic_alias": 10})
    c.send(R.publish("ta/x", b"x", props={"topic_alias": alias}))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x94)]


def test_inbound_topic_alias_unknown_is_protocol_error_MQTT_3_3_2_7(broker):
    """An empty topic with an alias never set on this connection is a Protocol Error
    (3.3.2.3.4): DISCONNECT 0x82. Mappings do not carry over to a new connection
    [MQTT-3.3.2-7]."""
    c = connected(broker, "ta-unk", V5, clean=False, props={"session_expiry_interval": 30})
    c.publish("ta/set", b"x", props={"topic_alias": 1})
    c.disconnect()
    c2 = connected(broker, "ta-unk", V5, clean=False, props={"session_expiry_interval": 30})
    c2.send(R.publish("", b"x", props={"topic_alias": 1}))
    assert [(p.type, p.code) for p in c2.expect_closed(3)] == [(R.DISCONNECT, 0x82)]


def test_outbound_topic_alias_MQTT_3_3_2_11(broker):
    """A client announcing Topic Alias Maximum 2 gets aliases on repeated topics: the
    first PUBLISH on a topic may set an alias (topic + alias), later ones then carry only
    the alias (empty topic). No alias exceeds 2 [MQTT-3.1.2-26] [MQTT-3.3.2-11]; every
    PUBLISH resolves to its real topic."""
    sub = RawClient(broker, V5)
    sub.connect("ta-out", props={"topic_alias_maximum": 2})
    sub.subscribe([("al/#", 0)])
    plain = connected(broker, "ta-out-plain", V5)  # no Topic Alias Maximum
    plain.subscribe([("al/#", 0)])
    pub = connected(broker, "ta-out-pub", V5)
    topics = ["al/a", "al/a", "al/b", "al/b", "al/c", "al/c", "al/a", "al/b", "al/a"]
    for i, t in enumerate(topics):
        pub.publish(t, b"%d" % i)
    got = sub.recv_publishes(len(topics))
    mapping = {}
    resolved = []
    for p in got:
        alias = p.props.get("topic_alias")
        if alias is not None:
            assert 1 <= alias <= 2, p
            if p.topic:
                mapping[alias] = p.topic
            else:
                assert alias in mapping, "alias %d used before it was set" % alias
        else:
            assert p.topic, p
        resolved.append(p.topic or mapping[alias])
    assert resolved == topics
    assert [p.payload for p in got] == [b"%d" % i for i in range(len(topics))]
    assert got[1].topic == "" and got[1].props["topic_alias"] == got[0].props["topic_alias"]
    assert sum(1 for p in got if p.topic == "") >= 4
    for p in plain.recv_publishes(len(topics)):  # [MQTT-3.1.2-27]
        assert "topic_alias" not in p.props and p.topic


# ---------------------------------------------------------------- client's Maximum Packet Size

def test_client_maximum_packet_size_MQTT_3_1_2_25(broker):
    """[MQTT-3.1.2-24]/[MQTT-3.1.2-25] the server never sends a packet larger than the
    client's Maximum Packet Size: a too-large message is dropped for that client alone
    (others get it), as if sent, so it holds no inflight slot: later small messages flow."""
    small = RawClient(broker, V5)
    small.connect("mps-small", props={"maximum_packet_size": 64, "receive_maximum": 1})
    small.subscribe([("mx/#", 1)])
    big = connected(broker, "mps-big", V5)
    big.subscribe([("mx/#", 1)])
    pub = connected(broker, "mx-pub", V5)
    pub.publish("mx/t", b"B" * 200, qos=1, pid=1)
    pub.publish("mx/t", b"tiny", qos=1, pid=2)
    pub.publish("mx/t", b"C" * 100, qos=0)
    pub.publish("mx/t", b"tiny2", qos=1, pid=3)
    got_big = big.recv_publishes(4)
    assert [p.payload for p in got_big] == [b"B" * 200, b"tiny", b"C" * 100, b"tiny2"]
    p = small.expect(R.PUBLISH)
    assert p.payload == b"tiny" and len(p.raw) <= 64
    small.ack(p)
    p = small.expect(R.PUBLISH)
    assert p.payload == b"tiny2"
    small.ack(p)
    assert no_publish(small)
    assert small.is_open(0.1)


# ---------------------------------------------------------------- $SYS

@pytest.mark.parametrize("version", VERSIONS)
def test_client_publish_to_sys_not_delivered(broker, version):
    """Topics under $SYS/ belong to the server (4.7.2): a client's PUBLISH there is
    acknowledged but not delivered, and not retained."""
    sub = connected(broker, "sysfake-sub", V5)
    sub.subscribe([("$SYS/fake/#", 1)])
    c = connected(broker, "sysfake", version)
    ack = c.publish("$SYS/fake/x", b"forged", qos=1, pid=9)
    assert ack.pid == 9
    c.publish("$SYS/fake/r", b"forged-retained", qos=0, retain=True)
    assert no_publish(sub, 0.5)
    late = connected(broker, "sysfake-late", V5)
    late.subscribe([("$SYS/fake/#", 1)])
    assert no_publish(late, 0.3)
    assert c.is_open(0.1)


# ---------------------------------------------------------------- retransmission, large messages

def test_v5_no_resend_while_connected_MQTT_4_4_0_1(make_broker):
    """[MQTT-4.4.0-1] (v5): resending is done on reconnect only; a server MUST NOT resend
    at any other time, whatever mqtt.retry_interval (1 s here) says: an unacknowledged
    QoS 1 and QoS 2 message is not sent again while the client stays connected."""
    b = make_broker(env={"EMQX_MQTT__RETRY_INTERVAL": "1s"})
    sub = connected(b, "noresend", V5)
    sub.subscribe([("nr/#", 2)])
    pub = connected(b, "noresend-pub", V5)
    pub.publish("nr/1", b"one", qos=1)
    pub.publish("nr/2", b"two", qos=2, pid=2)
    got = sub.recv_publishes(2)
    assert [(p.payload, p.dup) for p in got] == [(b"one", False), (b"two", False)]
    assert sub.recv_all(2.5) == []


def test_await_rel_timeout_frees_awaiting_slots(make_broker):
    """mqtt.await_rel_timeout=1s with max_awaiting_rel=1: a QoS 2 packet id whose PUBREL
    never came stops counting once the timeout passed, so the next QoS 2 PUBLISH is
    accepted (PUBREC) instead of ending the connection with 0x93."""
    b = make_broker(env={"EMQX_MQTT__MAX_AWAITING_REL": "1", "EMQX_MQTT__AWAIT_REL_TIMEOUT": "1s"})
    sub = connected(b, "arel-sub", V5)
    sub.subscribe([("arel/t", 2)])
    c = connected(b, "arel", V5)
    c.send(R.publish("arel/t", b"abandoned", qos=2, pid=1))
    assert c.expect(R.PUBREC).pid == 1
    time.sleep(1.3)
    c.send(R.publish("arel/t", b"next", qos=2, pid=2))
    rec = c.expect(R.PUBREC)
    assert (rec.pid, rec.code) == (2, 0)
    c.send(R.pubrel(2))
    assert c.expect(R.PUBCOMP).pid == 2
    got = sub.recv_publishes(2)
    assert [p.payload for p in got] == [b"abandoned", b"next"]


@pytest.mark.parametrize("version", VERSIONS)
def test_large_message_intact(broker, version):
    """A 700 KB payload of random bytes arrives byte for byte at QoS 1 and 2."""
    import os
    data = os.urandom(700 * 1024)
    sub = connected(broker, "large-sub", version)
    sub.subscribe([("large/t", 2)])
    pub = connected(broker, "large-pub", version)
    pub.publish("large/t", data, qos=1)
    pub.publish("large/t", data[::-1], qos=2, pid=2)
    got = sub.recv_publishes(2, timeout=10)
    assert [p.payload == d for p, d in zip(got, (data, data[::-1]))] == [True, True]


def test_packet_of_exactly_max_packet_size_accepted(broker):
    """The default mqtt.max_packet_size is 1 MB (CONNACK Maximum Packet Size 1048576): a
    PUBLISH of exactly 1048576 bytes is accepted and delivered; one byte more is Packet
    too large: the connection is closed."""
    overhead = 1 + 3 + (2 + len("max/t")) + 2 + 1  # header, 3-byte length, topic, id, props
    payload = b"m" * (1048576 - overhead)
    exact = R.publish("max/t", payload, qos=1, pid=1)
    assert len(exact) == 1048576
    sub = connected(broker, "max-sub", V5)
    sub.subscribe([("max/t", 1)])
    c = connected(broker, "max-pub", V5)
    c.send(exact)
    assert c.wait_for(R.PUBACK, 1, timeout=10).code == 0
    assert sub.recv_publishes(1, timeout=10)[0].payload == payload
    # The broker refuses it from its header and closes while the rest is still being
    # sent; the DISCONNECT 0x95 may then be lost to the TCP reset.
    c.try_send(R.publish("max/t", payload + b"+", qos=1, pid=2))
    assert [(p.type, p.code) for p in c.expect_closed(10)] in ([(R.DISCONNECT, 0x95)], [])
    assert sub.is_open(0.1)


# ---------------------------------------------------------------- more flow-control edges

def test_resend_on_reconnect_respects_new_receive_maximum_MQTT_3_3_4_9(broker):
    """Receive Maximum is per connection (4.9: re-initialized with each new Network
    Connection) and [MQTT-3.3.4-9] bounds the unacknowledged QoS 1/2 PUBLISH packets the
    server has out: three unacknowledged messages, reconnect with Receive Maximum 1 ->
    one resent PUBLISH at a time, each after the previous PUBACK, all three in order."""
    props = {"session_expiry_interval": 60, "receive_maximum": 3}
    sub = RawClient(broker, V5)
    sub.connect("rm-resend", clean=False, props=props)
    sub.subscribe([("rr/t", 1)])
    pub = connected(broker, "rm-resend-pub", V5)
    for i in range(3):
        pub.publish("rr/t", b"%d" % i, qos=1, pid=i + 1)
    first = sub.recv_publishes(3)
    sub.abort()
    sub = RawClient(broker, V5)
    assert sub.connect("rm-resend", clean=False,
                       props={"session_expiry_interval": 60, "receive_maximum": 1}).session_present
    seen = []
    for i in range(3):
        got = sub.recv_publishes(1)
        assert publishes_in(sub, 0.4) == [], "more than Receive Maximum (1) unacknowledged"
        seen += got
        sub.send(R.puback(got[0].pid))
    assert [(p.payload, p.pid, p.dup) for p in seen] == [(p.payload, p.pid, True) for p in first]


def publishes_in(c, settle):
    """PUBLISH packets arriving within `settle` s; others are kept for recv()."""
    out = []
    deadline = time.monotonic() + settle
    while True:
        try:
            out.append(c.wait_for(R.PUBLISH, timeout=max(0.0, deadline - time.monotonic())))
        except (TimeoutError, R.Closed):
            return out


@pytest.mark.parametrize("qos", [1, 2])
def test_subscriber_error_ack_ends_flow_MQTT_4_3_3_4(broker, qos):
    """v5: a PUBACK or PUBREC with a reason code >= 0x80 from the client ends that
    message's flow (no PUBREL follows a failed PUBREC [MQTT-4.3.3-4]) and frees its
    Receive Maximum slot: the next message comes."""
    sub = RawClient(broker, V5)
    sub.connect("errack", props={"receive_maximum": 1})
    sub.subscribe([("ea/t", qos)])
    pub = connected(broker, "errack-pub", V5)
    pub.publish("ea/t", b"first", qos=qos, pid=1)
    pub.publish("ea/t", b"second", qos=qos, pid=2)
    p = sub.expect(R.PUBLISH)
    assert p.payload == b"first"
    sub.send((R.puback if qos == 1 else R.pubrec)(p.pid, code=0x80))
    p2 = sub.expect(R.PUBLISH)  # not a PUBREL
    assert p2.payload == b"second"
    sub.ack(p2)
    assert sub.recv_all(0.4) == []


def test_topic_aliases_reset_on_new_connection_MQTT_3_3_2_7(broker):
    """[MQTT-3.3.2-7] aliases do not carry over to a new connection: after reconnecting to
    the same session the first PUBLISH on a topic aliased before carries the topic name
    (the client's alias table is empty again)."""
    props = {"session_expiry_interval": 60, "topic_alias_maximum": 5}
    sub = RawClient(broker, V5)
    sub.connect("alias-reset", clean=False, props=props)
    sub.subscribe([("ar/t", 0)])
    pub = connected(broker, "alias-reset-pub", V5)
    pub.publish("ar/t", b"1", qos=1)
    pub.publish("ar/t", b"2", qos=1)
    got = sub.recv_publishes(2)
    assert got[1].topic == "" and "topic_alias" in got[1].props
    sub.disconnect()
    sub = RawClient(broker, V5)
    assert sub.connect("alias-reset", clean=False, props=props).session_present
    pub.publish("ar/t", b"3", qos=1)
    p = sub.recv_publishes(1)[0]
    assert (p.topic, p.payload) == ("ar/t", b"3")


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_fan_in_fan_out_across_workers(make_broker, qos):
    """4 publishers x 150 messages to 4 subscribers spread over both io threads: every
    subscriber gets all 600, each publisher's in order [MQTT-4.6.0-6] (QoS 0 included:
    loopback loses nothing and the broker must not drop or reorder)."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    subs = [Client(b, "fan-sub-%d" % i) for i in range(4)]
    for s in subs:
        s.subscribe("fan/+", qos=2)
    pubs = [Client(b, "fan-pub-%d" % i) for i in range(4)]
    infos = []
    for n in range(150):
        for i, p in enumerate(pubs):
            infos.append((p, p.publish("fan/%d" % i, b"%d" % n, qos=qos, wait=False)))
    for p, inf in infos:
        if qos:
            assert p._wait(lambda: inf.mid in p.published, 20)
    for s in subs:
        got = s.wait_messages(600, timeout=20)
        assert len(got) == 600
        for i in range(4):
            assert [m.payload for m in got if m.topic == "fan/%d" % i] == [
                b"%d" % n for n in range(150)]
        assert all(m.qos == qos for m in got)
        assert s.expect_no_more(600, settle=0.2)


def test_server_packets_respect_client_maximum_packet_size_MQTT_3_1_2_24(broker):
    """[MQTT-3.1.2-24] no packet from the server exceeds the client's Maximum Packet Size
    (16 bytes here), the DISCONNECT for a protocol error included: its Reason String is
    left out when it would not fit [MQTT-3.14.2-4]."""
    c = RawClient(broker, V5)
    ack = c.connect("tiny-max", props={"maximum_packet_size": 16})
    assert len(ack.raw) <= 16
    c.send(R.publish("a/#", b"x"))
    pkts = c.expect_closed(3)
    assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x90)]
    assert len(pkts[0].raw) <= 16, pkts[0]


def test_inbound_qos2_state_survives_reconnect_MQTT_4_3_3_10(make_broker):
    """The QoS 2 packet ids a publisher's session awaits PUBREL for are session state
    (4.1): after the publisher reconnects (Clean Start 0, on either io thread) and
    resends the PUBLISH with DUP 1 [MQTT-4.4.0-1], the server answers PUBREC without a
    second delivery [MQTT-4.3.3-10]; a resent PUBREL gets PUBCOMP. Each message arrives
    exactly once."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    sub = connected(b, "q2s-sub", V5)
    sub.subscribe([("q2s/t", 2)])
    props = {"session_expiry_interval": 60}
    for i in range(8):
        pid = 100 + i
        c = connected(b, "q2s-pub", V5, clean=False, props=props)
        c.send(R.publish("q2s/t", b"m%d" % i, qos=2, pid=pid))
        assert c.expect(R.PUBREC).pid == pid
        c.abort()  # the PUBREC "got lost": the client will resend the PUBLISH
        c = RawClient(b, V5)
        assert c.connect("q2s-pub", clean=False, props=props).session_present is True
        c.send(R.publish("q2s/t", b"m%d" % i, qos=2, pid=pid, dup=True))
        rec = c.expect(R.PUBREC)
        assert (rec.pid, rec.code) == (pid, 0)
        c.send(R.pubrel(pid))
        assert c.expect(R.PUBCOMP).pid == pid
        c.abort()  # and the PUBCOMP "got lost": the client resends PUBREL
        c = RawClient(b, V5)
        assert c.connect("q2s-pub", clean=False, props=props).session_present is True
        c.send(R.pubrel(pid))
        comp = c.expect(R.PUBCOMP)
        assert comp.pid == pid and comp.code in (0x00, 0x92)
        c.disconnect()
        p = sub.expect(R.PUBLISH)
        assert p.payload == b"m%d" % i
        sub.ack(p)
    assert sub.recv_all(0.4) == []


def test_dup_flag_not_forwarded_MQTT_3_3_1_3(broker):
    """[MQTT-3.3.1-3] the DUP flag of an outgoing PUBLISH depends only on whether the
    server is retransmitting it: a PUBLISH received with DUP 1 goes out with DUP 0."""
    sub = connected(broker, "dupfwd-sub", V5)
    sub.subscribe([("df/t", 2)])
    pub = connected(broker, "dupfwd-pub", V5)
    pub.send(R.publish("df/t", b"d1", qos=1, pid=1, dup=True))
    assert pub.expect(R.PUBACK).pid == 1
    pub.send(R.publish("df/t", b"d2", qos=2, pid=2, dup=True))
    assert pub.expect(R.PUBREC).pid == 2
    pub.send(R.pubrel(2))
    assert pub.expect(R.PUBCOMP).pid == 2
    got = sub.recv_publishes(2)
    assert [(p.payload, p.dup) for p in got] == [(b"d1", False), (b"d2", False)]
    assert all(not (p.raw[0] & 0x08) for p in got)


def test_v5_disconnect_reason_readable_while_the_client_still_writes(make_broker):
    """The server ends a connection with a reason code while the client still has packets
    on the way: the client must be able to read that DISCONNECT. A socket closed with
    unread input makes the kernel answer with RST: a client still writing gets EPIPE or
    ECONNRESET and never sees the reason. emqxd half-closes after the DISCONNECT and drops
    what still arrives (for a bounded time), so the whole stream is accepted, then the
    client reads DISCONNECT 0x93 and a clean end of stream."""
    b = make_broker(env={"EMQX_MQTT__MAX_AWAITING_REL": "2"})
    c = RawClient(b, V5)
    assert c.connect("rmx-stream").props["receive_maximum"] == 2
    # The third QoS 2 PUBLISH breaks the Receive Maximum; ~400 KB more follow at once.
    stream = b"".join(R.publish("rm/t", b"x" * 1024, qos=2, pid=pid) for pid in range(1, 400))
    c.send(stream)  # raises BrokenPipeError / ConnectionResetError if the broker reset
    got = c.expect_closed(5)
    assert not c.reset, "the broker reset the connection instead of closing it"
    assert [p.type for p in got if p.type != R.PUBREC] == [R.DISCONNECT], got
    assert got[-1].code == 0x93
