"""Session state and its lifetime (MQTT 5.0 sections 3.1.2.4 Clean Start, 3.1.2.11.2
Session Expiry Interval, 3.14.2.2.2, 4.1, 3.1.4 takeover; MQTT 3.1.1 sections 3.1.2.4
CleanSession, 4.1; mqtt.session_expiry_interval for 3.1.1 persistent sessions).

"Session present" is checked in CONNACK and, independently, by whether subscriptions
and queued messages survived: a publish after reconnecting must (or must not) arrive.
"""
import time

import pytest

import rawmqtt as R
from rawmqtt import RawClient, connected, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def publishes(c, settle=0.4):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


def probe(broker, topic, payload=b"probe"):
    """Publishes one QoS 1 message from a throwaway client."""
    p = connected(broker, "", V5)
    p.publish(topic, payload, qos=1)
    p.disconnect()


# ---------------------------------------------------------------- Session Expiry Interval

def test_v5_session_expires_after_interval(broker):
    """3.1.2.11.2: Session Expiry Interval 1 s: reconnecting 2 s later finds no session
    (Session Present 0 [MQTT-3.1.2-6]); its subscription and the messages queued meanwhile
    are gone."""
    c = connected(broker, "exp1", V5, clean=False, props={"session_expiry_interval": 1})
    c.subscribe([("se/t", 1)])
    c.disconnect()
    probe(broker, "se/t", b"lost")
    time.sleep(2.0)
    c = RawClient(broker, V5)
    assert c.connect("exp1", clean=False, props={"session_expiry_interval": 1}).session_present is False
    probe(broker, "se/t", b"after")
    assert publishes(c) == []


def test_v5_session_kept_within_interval_MQTT_3_1_2_23(broker):
    """[MQTT-3.1.2-23] with Session Expiry Interval > 0 the session outlives the
    connection: reconnecting within it gives Session Present 1 [MQTT-3.1.2-5], the
    queued message and the subscription (with its options and identifier)."""
    props = {"session_expiry_interval": 5}
    c = connected(broker, "keep", V5, clean=False, props=props)
    c.subscribe([("sk/t", R.sub_options(2, retain_as_published=True))],
                props={"subscription_identifier": 77})
    c.disconnect()
    probe(broker, "sk/t", b"queued")
    time.sleep(0.3)
    c = RawClient(broker, V5)
    assert c.connect("keep", clean=False, props=props).session_present is True
    p = c.wait_for(R.PUBLISH)
    assert (p.payload, p.qos, p.props.get("subscription_identifier")) == (b"queued", 1, [77])
    c.ack(p)
    probe(broker, "sk/t", b"live")
    p = c.wait_for(R.PUBLISH)
    assert (p.payload, p.props.get("subscription_identifier")) == (b"live", [77])
    c.ack(p)
    assert publishes(c) == []


def test_v5_session_expiry_zero_ends_with_connection(broker):
    """3.1.2.11.2: Session Expiry Interval absent (0): the session ends when the
    connection closes; Clean Start 0 then finds none."""
    c = connected(broker, "zero", V5, clean=False)
    c.subscribe([("sz/t", 1)])
    c.abort()
    time.sleep(0.2)
    c = RawClient(broker, V5)
    assert c.connect("zero", clean=False).session_present is False
    probe(broker, "sz/t")
    assert publishes(c) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_clean_start_discards_session_MQTT_3_1_2_4(broker, version):
    """[MQTT-3.1.2-4] (3.1.1 [MQTT-3.1.2-6]) Clean Start 1 discards the existing session:
    Session Present 0, queued messages and subscriptions gone."""
    kw = {"props": {"session_expiry_interval": 60}} if version == V5 else {}
    c = connected(broker, "clean", version, clean=False, **kw)
    c.subscribe([("cs/t", 1)])
    c.disconnect()
    probe(broker, "cs/t", b"queued")
    c = RawClient(broker, version)
    assert c.connect("clean", clean=True, **kw).session_present is False
    assert publishes(c) == []
    probe(broker, "cs/t", b"after")
    assert publishes(c) == []


# ---------------------------------------------------------------- 3.1.1 CleanSession

def test_v311_persistent_session_MQTT_3_1_2_4(broker):
    """3.1.1 [MQTT-3.1.2-4]: CleanSession 0 keeps the session after disconnect: Session
    Present 1 [MQTT-3.2.2-2], subscriptions kept, QoS 1/2 messages kept and delivered in
    order; [MQTT-3.1.2-5] QoS 0 ones may be kept too (mqueue_store_qos0 default)."""
    c = connected(broker, "p311", V311, clean=False)
    c.subscribe([("p3/+", 2)])
    c.disconnect()
    pub = connected(broker, "p311-pub", V5)
    pub.publish("p3/a", b"1", qos=1, pid=1)
    pub.publish("p3/b", b"2", qos=2, pid=2)
    pub.publish("p3/c", b"3", qos=0)
    c = RawClient(broker, V311)
    assert c.connect("p311", clean=False).session_present is True
    got = c.recv_publishes(3)
    assert [(p.topic, p.payload, p.qos) for p in got] == [
        ("p3/a", b"1", 1), ("p3/b", b"2", 2), ("p3/c", b"3", 0)]
    for p in got:
        c.ack(p)
    assert publishes(c) == []
    c.disconnect()
    c = RawClient(broker, V311)  # CleanSession 1: discarded [MQTT-3.1.2-6]
    assert c.connect("p311", clean=True).session_present is False
    c.disconnect()
    c = RawClient(broker, V311)
    assert c.connect("p311", clean=False).session_present is False


def test_v311_persistent_session_expires_by_config(make_broker):
    """mqtt.session_expiry_interval (1 s here) bounds a 3.1.1 CleanSession 0 session."""
    b = make_broker(env={"EMQX_MQTT__SESSION_EXPIRY_INTERVAL": "1s"})
    c = connected(b, "p311x", V311, clean=False)
    c.subscribe([("px/t", 1)])
    c.disconnect()
    c = RawClient(b, V311)
    assert c.connect("p311x", clean=False).session_present is True
    c.disconnect()
    time.sleep(2.0)
    c = RawClient(b, V311)
    assert c.connect("p311x", clean=False).session_present is False
    probe(b, "px/t")
    assert publishes(c) == []


# ---------------------------------------------------------------- expiry on DISCONNECT

def test_disconnect_sets_expiry_from_zero_is_protocol_error(broker):
    """3.14.2.2.2: if CONNECT had Session Expiry 0, a non-zero one on DISCONNECT is a
    Protocol Error: the server sends DISCONNECT 0x82 and closes; the session does not
    survive."""
    c = connected(broker, "dz", V5, clean=False)
    c.subscribe([("dz/t", 1)])
    c.send(R.disconnect(0, {"session_expiry_interval": 30}))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x82)]
    c = RawClient(broker, V5)
    assert c.connect("dz", clean=False).session_present is False


def test_disconnect_expiry_zero_ends_session(broker):
    """3.14.2.2.2: Session Expiry 0 on DISCONNECT ends the session with the connection,
    whatever CONNECT said."""
    c = connected(broker, "d0", V5, clean=False, props={"session_expiry_interval": 60})
    c.subscribe([("d0/t", 1)])
    c.disconnect(0, {"session_expiry_interval": 0})
    time.sleep(0.2)
    c = RawClient(broker, V5)
    assert c.connect("d0", clean=False, props={"session_expiry_interval": 60}).session_present is False


def test_disconnect_expiry_extends_session(broker):
    """3.14.2.2.2: a DISCONNECT may change a non-zero Session Expiry Interval: 1 s in
    CONNECT, 30 s on DISCONNECT -> the session is still there 1.6 s later."""
    c = connected(broker, "dx", V5, clean=False, props={"session_expiry_interval": 1})
    c.subscribe([("dx/t", 1)])
    c.disconnect(0, {"session_expiry_interval": 30})
    time.sleep(1.6)
    c = RawClient(broker, V5)
    assert c.connect("dx", clean=False, props={"session_expiry_interval": 30}).session_present is True
    probe(broker, "dx/t", b"still")
    assert c.wait_for(R.PUBLISH).payload == b"still"


# ---------------------------------------------------------------- takeover keeps the session

@pytest.mark.parametrize("version", VERSIONS)
def test_takeover_keeps_session_and_messages(make_broker, version):
    """3.1.4: a new connection (Clean Start 0) for a connected client id takes the session
    over: the old connection is closed (v5 DISCONNECT 0x8E [MQTT-3.1.4-3]); Session
    Present 1; the messages in flight to the old connection are resent with DUP 1 and
    their packet ids [MQTT-4.4.0-1] and the queued ones follow, exactly once, in order.

    A chain of takeovers of one client id runs until both a same-worker and a
    cross-worker takeover happened (the broker logs each new connection's worker)."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2", "EMQX_MQTT__MAX_INFLIGHT": "2"})
    cid = "tk-sess-%d" % version
    kw = {"props": {"session_expiry_interval": 60}} if version == V5 else {}
    cur = connected(b, cid, version, clean=False, **kw)
    cur.subscribe([("tks/t", 1)])
    pub = connected(b, "tks-pub", V5)
    kinds = set()
    for step in range(60):
        sent = [b"%d-%d" % (step, i) for i in range(4)]
        for i, m in enumerate(sent):
            pub.publish("tks/t", m, qos=1, pid=i + 1)
        inflight = cur.recv_publishes(2)  # max_inflight 2: two out, two queued
        assert [p.payload for p in inflight] == sent[:2]
        new = RawClient(b, version)
        assert new.connect(cid, clean=False, **kw).session_present is True
        old_pkts = cur.expect_closed(3)
        if version == V5:
            assert [(p.type, p.code) for p in old_pkts] == [(R.DISCONNECT, 0x8E)]
        else:
            assert old_pkts == []
        again = new.recv_publishes(2)
        assert [(p.payload, p.pid, p.dup) for p in again] == [
            (p.payload, p.pid, True) for p in inflight]
        for p in again:
            new.ack(p)
        rest = new.recv_publishes(2)
        assert [(p.payload, p.dup) for p in rest] == [(m, False) for m in sent[2:]]
        for p in rest:
            new.ack(p)
        assert publishes(new, 0.1) == []
        cur = new
        workers = b.takeover_workers(cid)
        assert len(workers) == step + 1, workers
        kinds = {"same" if x == y else "cross" for x, y in zip(workers, workers[1:])}
        if kinds == {"same", "cross"}:
            break
    assert kinds == {"same", "cross"}, kinds


def test_takeover_of_offline_session_from_other_worker(make_broker):
    """A session left offline on one worker is resumed by connections landing on either
    worker: Session Present 1 and the queued messages, exactly once each time."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    props = {"session_expiry_interval": 60}
    c = connected(b, "wander", V5, clean=False, props=props)
    c.subscribe([("wd/t", 1)])
    pub = connected(b, "wd-pub", V5)
    for round_ in range(8):
        c.disconnect()
        pub.publish("wd/t", b"r%d" % round_, qos=1)
        c = RawClient(b, V5)
        assert c.connect("wander", clean=False, props=props).session_present is True
        got = c.recv_publishes(1)
        assert [p.payload for p in got] == [b"r%d" % round_]
        c.ack(got[0])
        assert publishes(c, 0.1) == []


def test_takeovers_under_load_lose_nothing(make_broker):
    """While a publisher sends 400 numbered QoS 1 messages, the subscriber's session is
    taken over (Clean Start 0) by a new connection after every ~50 messages, landing on
    either io thread. Every message arrives (at-least-once, [MQTT-4.4.0-1]); a message
    seen twice was resent (DUP 1) to the new connection after the old one missed its
    PUBACK; first arrivals come in publish order [MQTT-4.6.0-6]."""
    import threading
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    props = {"session_expiry_interval": 60}
    cur = connected(b, "under-load", V5, clean=False, props=props)
    cur.subscribe([("load/t", 1)])
    total = 400
    done = threading.Event()
    errors = []

    def publisher():
        try:
            pub = connected(b, "load-pub", V5)
            for i in range(total):
                pub.publish("load/t", b"%04d" % i, qos=1, pid=i % 1000 + 1)
            pub.disconnect()
        except Exception as e:  # reported by the main thread
            errors.append(e)
        finally:
            done.set()
    t = threading.Thread(target=publisher, daemon=True)
    t.start()
    first_seen = []
    counts = {}
    takeovers = 0
    deadline = time.monotonic() + 30
    since = 0
    while len(counts) < total and time.monotonic() < deadline:
        try:
            p = cur.recv(0.5)
        except TimeoutError:
            continue
        except R.Closed:
            raise AssertionError("subscriber connection closed unexpectedly")
        if p.type != R.PUBLISH:
            continue
        n = int(p.payload)
        if n in counts:
            assert p.dup, "message %d delivered twice without DUP" % n
        else:
            first_seen.append(n)
        counts[n] = counts.get(n, 0) + 1
        since += 1
        if since >= 50 and takeovers < 8:
            # Take over without acknowledging this one: it must come again.
            nxt = RawClient(b, V5)
            assert nxt.connect("under-load", clean=False, props=props).session_present is True
            cur.expect_closed(3)
            cur = nxt
            takeovers += 1
            since = 0
            continue
        cur.send(R.puback(p.pid))
    assert not errors, errors
    assert done.wait(10)
    assert takeovers == 8
    assert sorted(counts) == list(range(total))
    assert first_seen == sorted(first_seen)
    assert all(c <= 2 for c in counts.values())
    assert sum(1 for c in counts.values() if c == 2) >= takeovers


def test_expiry_timer_follows_session_between_workers(make_broker):
    """Session Expiry 1 s with the session moving between io threads on every reconnect:
    a reconnect within the interval always finds it (an old worker's timer must not end
    it after it moved, even when the client then stays connected past that timer), and
    once left alone it expires."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    props = {"session_expiry_interval": 1}
    c = connected(b, "mover", V5, clean=False, props=props)
    c.subscribe([("mv/t", 1)])
    for _ in range(6):
        c.disconnect()
        time.sleep(0.4)
        c = RawClient(b, V5)
        assert c.connect("mover", clean=False, props=props).session_present is True
    time.sleep(1.3)  # connected past the 1 s an old timer would have fired at
    c.disconnect()
    c = RawClient(b, V5)
    assert c.connect("mover", clean=False, props=props).session_present is True
    probe(b, "mv/t", b"kept")
    p = c.wait_for(R.PUBLISH)
    assert p.payload == b"kept"
    c.ack(p)
    c.disconnect()
    time.sleep(1.8)
    c = RawClient(b, V5)
    assert c.connect("mover", clean=False, props=props).session_present is False
