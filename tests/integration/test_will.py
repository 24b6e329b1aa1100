"""Will messages (MQTT 5.0 sections 3.1.2.5-3.1.2.7, 3.1.3.2 Will Properties incl. Will
Delay Interval, 3.14.2.1 DISCONNECT 0x04, 3.1.4 takeover; MQTT 3.1.1 section 3.1.2.5)
and the broker's shutdown (DISCONNECT 0x8B, exit status 0).

A raw subscriber on the will topic counts exactly what arrives and when.
"""
import signal
import time

import pytest

import rawmqtt as R
from rawmqtt import RawClient, connected, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def will(topic="will/t", payload=b"gone", qos=1, retain=False, props=None):
    w = {"topic": topic, "payload": payload, "qos": qos, "retain": retain}
    if props is not None:
        w["props"] = props
    return w


def watcher(broker, flt="will/#", qos=2):
    c = connected(broker, "", V5)
    c.subscribe([(flt, qos)])
    return c


def wills(c, settle=0.5):
    return [(p.topic, p.payload) for p in c.recv_all(settle) if p.type == R.PUBLISH]


# ---------------------------------------------------------------- when the will is sent

@pytest.mark.parametrize("version", VERSIONS)
def test_will_on_abnormal_close_MQTT_3_1_2_8(broker, version):
    """[MQTT-3.1.2-8] the connection closes without DISCONNECT (socket dropped): the will
    is published, once."""
    w = watcher(broker)
    c = connected(broker, "dropper", version, will=will())
    c.abort()
    p = w.wait_for(R.PUBLISH, timeout=3)
    assert (p.topic, p.payload, p.qos, p.retain) == ("will/t", b"gone", 1, False)
    w.ack(p)
    assert wills(w) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_will_on_half_close(broker, version):
    """A client that shuts its socket down (FIN) without DISCONNECT also gets its will
    published [MQTT-3.1.2-8]."""
    w = watcher(broker)
    c = connected(broker, "finner", version, will=will(payload=b"fin"))
    c.close()
    assert w.wait_for(R.PUBLISH, timeout=3).payload == b"fin"


@pytest.mark.parametrize("version", VERSIONS)
def test_no_will_on_normal_disconnect_MQTT_3_1_2_10(broker, version):
    """[MQTT-3.1.2-10] DISCONNECT (v5 reason 0x00) deletes the will: nothing is
    published when the connection then closes."""
    w = watcher(broker)
    c = connected(broker, "polite", version, will=will())
    c.disconnect()
    assert wills(w, 0.8) == []


def test_will_on_disconnect_with_will_0x04(broker):
    """DISCONNECT with reason 0x04 (Disconnect with Will Message, 3.14.2.1): the will is
    published."""
    w = watcher(broker)
    c = connected(broker, "with-will", V5, will=will(payload=b"asked"))
    c.disconnect(0x04)
    p = w.wait_for(R.PUBLISH, timeout=3)
    assert p.payload == b"asked"


@pytest.mark.parametrize("version", VERSIONS)
def test_will_on_keepalive_timeout(broker, version):
    """No packet within 1.5 x Keep Alive: the server closes the connection and publishes
    the will (3.1.2.5: the client fails to communicate within the Keep Alive time)."""
    w = watcher(broker)
    t0 = time.monotonic()
    c = connected(broker, "sleepy", version, keepalive=1, will=will(payload=b"timeout"))
    p = w.wait_for(R.PUBLISH, timeout=4)
    assert p.payload == b"timeout"
    assert 1.0 <= time.monotonic() - t0 <= 3.5
    c.expect_closed(1)


@pytest.mark.parametrize("version", VERSIONS)
def test_will_on_protocol_error(broker, version):
    """The server closes the connection for a protocol error (a wildcard in a PUBLISH
    topic): no DISCONNECT came from the client, so the will is published (3.1.2.5)."""
    w = watcher(broker)
    c = connected(broker, "erring", version, will=will(payload=b"error"))
    c.send(R.publish("bad/#", b"x", version=version))
    c.expect_closed(3)
    assert w.wait_for(R.PUBLISH, timeout=3).payload == b"error"


def test_will_on_takeover_MQTT_3_1_4_3(broker):
    """3.1.4: the connection taken over is closed by the server ([MQTT-3.1.4-3]); its
    will is published (no Will Delay)."""
    w = watcher(broker)
    connected(broker, "taken", V5, will=will(payload=b"taken-over"))
    connected(broker, "taken", V5)
    assert w.wait_for(R.PUBLISH, timeout=3).payload == b"taken-over"


# ---------------------------------------------------------------- will QoS, retain, properties

@pytest.mark.parametrize("version", VERSIONS)
def test_will_qos_and_retain_MQTT_3_1_2_15(broker, version):
    """Will QoS is kept; Will Retain 1 publishes it as a retained message
    [MQTT-3.1.2-15] (a later subscriber gets it with RETAIN 1); Will Retain 0 does not
    [MQTT-3.1.2-14]."""
    w = watcher(broker)
    connected(broker, "wr1", version, will=will("will/r1", b"kept", qos=2, retain=True)).abort()
    connected(broker, "wr0", version, will=will("will/r0", b"not-kept", qos=0)).abort()
    got = w.recv_publishes(2, timeout=3)
    assert sorted((p.topic, p.payload, p.qos) for p in got) == [
        ("will/r0", b"not-kept", 0), ("will/r1", b"kept", 2)]
    for p in got:
        w.ack(p)
    late = connected(broker, "late", V5)
    late.subscribe([("will/#", 2)])
    got = late.recv_publishes(1)
    assert [(p.topic, p.payload, p.qos, p.retain) for p in got] == [("will/r1", b"kept", 2, True)]
    late.ack(got[0])
    assert wills(late) == []


def test_will_properties_MQTT_3_1_3_10(broker):
    """Will Properties go with the will: Payload Format Indicator, Content Type, Response
    Topic, Correlation Data, User Properties in order [MQTT-3.1.3-10], Message Expiry
    Interval."""
    props = {"payload_format_indicator": 1, "content_type": "text/plain",
             "response_topic": "will/reply", "correlation_data": b"\x07\x08",
             "user_property": [("x", "1"), ("a", "2"), ("x", "3")],
             "message_expiry_interval": 60}
    w = watcher(broker)
    connected(broker, "wprops", V5, will=will(props=props)).abort()
    p = w.wait_for(R.PUBLISH, timeout=3)
    assert p.payload == b"gone"
    assert p.props.pop("message_expiry_interval") in (59, 60)
    props.pop("message_expiry_interval")
    assert p.props == props


def test_will_qos_above_maximum_refused_MQTT_3_2_2_12(make_broker):
    """[MQTT-3.2.2-12] a Will QoS above the server's maximum: CONNACK 0x9B (QoS not
    supported), connection closed."""
    b = make_broker(env={"EMQX_MQTT__MAX_QOS_ALLOWED": "1"})
    c = RawClient(b, V5)
    c.send(R.connect("wq", version=V5, will=will(qos=2)))
    pkts = c.expect_closed(3)
    assert [(p.type, p.code) for p in pkts] == [(R.CONNACK, 0x9B)]


def test_will_retain_unavailable_refused_MQTT_3_2_2_13(make_broker):
    """[MQTT-3.2.2-13] Will Retain 1 when retain is not available: CONNACK 0x9A (Retain
    not supported), connection closed."""
    b = make_broker(env={"EMQX_MQTT__RETAIN_AVAILABLE": "false"})
    c = RawClient(b, V5)
    c.send(R.connect("wret", version=V5, will=will(retain=True)))
    pkts = c.expect_closed(3)
    assert [(p.type, p.code) for p in pkts] == [(R.CONNACK, 0x9A)]


@pytest.mark.parametrize("version", VERSIONS)
def test_will_topic_with_wildcard_refused(broker, version):
    """The Will Topic is a topic name: no wildcards [MQTT-3.3.2-2]. The CONNECT is not
    accepted and the connection is closed."""
    c = RawClient(broker, version)
    c.send(R.connect("wwild", version=version, will=will(topic="will/+")))
    pkts = c.expect_closed(3)
    assert not any(p.type == R.CONNACK and p.code == 0 for p in pkts), pkts


# ---------------------------------------------------------------- Will Delay Interval

def test_will_delay_not_sent_if_reconnected_MQTT_3_1_3_9(broker):
    """[MQTT-3.1.3-9] a new connection to the session before the Will Delay Interval
    (2 s) passes: the will is never sent."""
    w = watcher(broker)
    props = {"session_expiry_interval": 30}
    c = connected(broker, "delayed", V5, clean=False, props=props,
                  will=will(props={"will_delay_interval": 2}))
    c.abort()
    time.sleep(0.5)
    c2 = RawClient(broker, V5)
    assert c2.connect("delayed", clean=False, props=props).session_present is True
    assert wills(w, 2.5) == []
    c2.disconnect()


def test_will_delay_sent_after_delay_MQTT_3_1_2_8(broker):
    """[MQTT-3.1.2-8] with Will Delay Interval 2 s and a longer session, the will goes
    out once the delay has passed, not before."""
    w = watcher(broker)
    c = connected(broker, "delayed2", V5, props={"session_expiry_interval": 30},
                  will=will(props={"will_delay_interval": 2}))
    t0 = time.monotonic()
    c.abort()
    p = w.wait_for(R.PUBLISH, timeout=4)
    elapsed = time.monotonic() - t0
    assert p.payload == b"gone"
    assert 1.8 <= elapsed <= 3.5, elapsed
    w.ack(p)
    assert wills(w) == []


def test_will_sent_at_session_end_before_delay_MQTT_3_1_2_8(broker):
    """[MQTT-3.1.2-8] the will goes out when the delay passes or the session ends,
    whichever is first: Session Expiry 1 s < Will Delay 10 s -> sent after ~1 s."""
    w = watcher(broker)
    c = connected(broker, "expiring", V5, props={"session_expiry_interval": 1},
                  will=will(props={"will_delay_interval": 10}))
    t0 = time.monotonic()
    c.abort()
    p = w.wait_for(R.PUBLISH, timeout=4)
    elapsed = time.monotonic() - t0
    assert p.payload == b"gone"
    assert 0.8 <= elapsed <= 3.0, elapsed


def test_will_delay_without_session_expiry_is_immediate(broker):
    """Session Expiry Interval 0: the session ends with the connection, so a will with a
    Will Delay is published at once (3.1.3.2.2, the session ends first)."""
    w = watcher(broker)
    c = connected(broker, "noexpiry", V5, will=will(props={"will_delay_interval": 10}))
    t0 = time.monotonic()
    c.abort()
    assert w.wait_for(R.PUBLISH, timeout=3).payload == b"gone"
    assert time.monotonic() - t0 < 1.0


def test_will_delay_takeover_keeps_will_back_MQTT_3_1_3_9(broker):
    """A takeover (Clean Start 0) within the Will Delay is a new connection to the
    session: the old connection's delayed will is not sent [MQTT-3.1.3-9]."""
    w = watcher(broker)
    props = {"session_expiry_interval": 30}
    connected(broker, "tk-delay", V5, clean=False, props=props,
              will=will(props={"will_delay_interval": 2}))
    c2 = RawClient(broker, V5)
    assert c2.connect("tk-delay", clean=False, props=props).session_present is True
    assert wills(w, 2.6) == []


# ---------------------------------------------------------------- shutdown

def test_shutdown_publishes_wills_and_disconnects_0x8B(make_broker):
    """SIGTERM: the sessions end with the server, so the wills of connected clients are
    published (3.1.2.5); a v5 subscriber gets them, then DISCONNECT 0x8B (Server
    shutting down), then the connection closes; a 3.1.1 subscriber gets them and is
    closed; the process exits 0."""
    b = make_broker()
    w5 = watcher(b, qos=1)
    w3 = connected(b, "w3", V311)
    w3.subscribe([("will/#", 1)])
    connected(b, "dying5", V5, will=will("will/5", b"five", qos=1))
    connected(b, "dying3", V311, will=will("will/3", b"three", qos=1))
    b.proc.send_signal(signal.SIGTERM)
    pkts5 = w5.expect_closed(5)
    pkts3 = w3.expect_closed(5)
    assert b.proc.wait(10) == 0
    b.log.close()
    pubs5 = [p for p in pkts5 if p.type == R.PUBLISH]
    assert sorted((p.topic, p.payload) for p in pubs5) == [("will/3", b"three"), ("will/5", b"five")]
    assert [(p.type, p.code) for p in pkts5 if p.type != R.PUBLISH] == [(R.DISCONNECT, 0x8B)]
    assert pkts5[-1].type == R.DISCONNECT
    assert sorted((p.topic, p.payload) for p in pkts3) == [("will/3", b"three"), ("will/5", b"five")]
