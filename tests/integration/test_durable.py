"""Durable sessions (durable_sessions.*, storage/store.hpp): what a session with an
expiry interval > 0 holds survives a restart (SIGTERM) and a crash (SIGKILL) of emqxd:
its subscriptions, the QoS 1/2 messages queued while it was offline, the messages sent
and not acknowledged (resent with DUP=1 and their packet ids [MQTT-4.4.0-1]
[MQTT-3.3.1-1]) and its inbound QoS 2 state (no second delivery of a resent PUBLISH
[MQTT-4.3.3-10]); retained messages survive too, with their expiry honoured; expired
sessions and their routes are gone; durable_sessions.enable = false keeps nothing.

Each test restarts the same Broker object (same port, same data dir) with stop(sig)
and start(). Counting is exact: every message published is accounted for.
"""
import os
import signal
import time

import pytest

import rawmqtt as R
from conftest import wait_for
from durable_support import (DURABLE_ENV, barrier, connect_persistent, consume, publish_all,
                             start_expecting_failure)
from rawmqtt import connected, V311, V5

# (version, Clean Start of the first connection): MQTT 5 with Session Expiry > 0 is
# durable with Clean Start 0 or 1; MQTT 3.1.1 with CleanSession 0.
SESSION_KINDS = [pytest.param(V5, False, id="v5"),
                 pytest.param(V5, True, id="v5-clean-start"),
                 pytest.param(V311, False, id="v311")]
SIGNALS = [pytest.param(signal.SIGTERM, id="restart"), pytest.param(signal.SIGKILL, id="crash")]


def restart(b, sig):
    rc = b.stop(sig)
    assert rc == (0 if sig == signal.SIGTERM else -signal.SIGKILL), \
        "emqxd exited with %s:\n%s" % (rc, b.read_log()[-3000:])
    b.start()


def payloads(ps):
    return [p.payload for p in ps]


# ---------------------------------------------------------------- 1. queued messages

@pytest.mark.parametrize("sig", SIGNALS)
@pytest.mark.parametrize("version,first_clean", SESSION_KINDS)
def test_offline_messages_survive(make_broker, version, first_clean, sig):
    """A persistent subscriber (QoS 2 on dq/#) goes offline; 200 QoS 1 and 200 QoS 2
    messages are published (each PUBACK/PUBREC code 0: a durable subscriber matched);
    emqxd stops (SIGTERM) or is killed (SIGKILL) and starts again on the same data dir.
    Before the subscriber is back, 20 more of each are published: its restored
    subscription must route them. It reconnects (Clean Start 0; Session Present 1) and
    receives all 440: QoS 1 at least once, QoS 2 exactly once, each in publish order;
    then a live message, and nothing else."""
    n, m = 200, 20
    b = make_broker(env=DURABLE_ENV)
    cid = "dq-sub-%d-%s" % (version, "c" if first_clean else "p")
    sub = connect_persistent(b, cid, version, clean=first_clean)
    assert sub.subscribe([("dq/#", 2)]) == [2]
    sub.disconnect()

    def batch(start, count):
        items = []
        for i in range(start, start + count):
            items.append(("dq/q1", b"q1-%04d" % i, 1, False, None))
            items.append(("dq/q2", b"q2-%04d" % i, 2, False, None))
        return items

    pub = connected(b, "dq-pub", V5)
    codes = publish_all(pub, batch(0, n))
    assert codes == [0] * (2 * n), "PUBACK/PUBREC codes: %r" % sorted(set(codes))
    pub.disconnect()

    restart(b, sig)
    assert "read 1 sessions" in b.read_log() or "read 2 sessions" in b.read_log(), \
        b.read_log()[-2000:]

    pub = connected(b, "dq-pub2", V5)
    codes = publish_all(pub, batch(n, m))
    # 0x10 No matching subscribers would mean the subscription was not restored.
    assert codes == [0] * (2 * m), "after restart: codes %r" % sorted(set(codes))

    sub = connect_persistent(b, cid, version, expect_present=True)
    total = 2 * (n + m)

    def complete(got):
        return len({p.payload for p in got}) >= total

    got = consume(sub, complete, timeout=60)
    q1 = [p for p in got if p.topic == "dq/q1"]
    q2 = [p for p in got if p.topic == "dq/q2"]
    want_q1 = [b"q1-%04d" % i for i in range(n + m)]
    want_q2 = [b"q2-%04d" % i for i in range(n + m)]
    assert list(dict.fromkeys(payloads(q1))) == want_q1  # each at least once, in order
    assert payloads(q2) == want_q2                       # exactly once, in order
    assert all(p.qos == 1 for p in q1) and all(p.qos == 2 for p in q2)

    pub.publish("dq/live", b"live", qos=1)
    live = consume(sub, lambda g: len(g) >= 1, timeout=10)
    assert payloads(live) == [b"live"]
    sub.disconnect()
    pub.disconnect()


# ---------------------------------------------------------------- session state changes

def test_subscription_options_and_message_properties_survive_a_crash(make_broker):
    """What a subscription was made with (QoS, Subscription Identifier, Retain As
    Published, No Local) and what a queued message carries (MQTT 5 properties) come
    back after a crash: SUBACK/UNSUBACK wait for the store, so an UNSUBSCRIBE is not
    undone either."""
    b = make_broker(env=DURABLE_ENV)
    c = connect_persistent(b, "opts")
    assert c.subscribe([("o/rap", R.sub_options(1, retain_as_published=True))],
                       props={"subscription_identifier": 42}) == [1]
    assert c.subscribe([("o/nl", R.sub_options(2, no_local=True))], pid=2) == [2]
    assert c.subscribe([("o/gone", 1)], pid=3) == [1]
    assert c.unsubscribe(["o/gone"], pid=4) == [0]
    c.disconnect()
    restart(b, signal.SIGKILL)

    props = {"payload_format_indicator": 1, "message_expiry_interval": 3600,
             "content_type": "text/plain", "response_topic": "o/reply",
             "correlation_data": b"\x01\x02", "user_property": [("k", "v"), ("k", "w")]}
    pub = connected(b, "opts-pub", V5)
    assert pub.publish("o/rap", b"rap", qos=2, retain=True, props=props).code == 0
    assert pub.publish("o/nl", b"nl", qos=2).code == 0
    assert pub.publish("o/gone", b"gone", qos=1).code == 0x10  # unsubscribed before
    restart(b, signal.SIGKILL)

    c = connect_persistent(b, "opts", expect_present=True)
    got = {p.topic: p for p in consume(c, lambda g: len(g) >= 2, timeout=10)}
    assert sorted(got) == ["o/nl", "o/rap"]
    rap = got["o/rap"]
    assert (rap.payload, rap.qos, rap.retain) == (b"rap", 1, True)
    assert rap.props.get("subscription_identifier") == [42]
    left = rap.props.pop("message_expiry_interval")
    assert 3590 <= left <= 3600
    want = dict(props)
    del want["message_expiry_interval"]
    want["subscription_identifier"] = [42]
    assert rap.props == want
    assert (got["o/nl"].qos, got["o/nl"].payload) == (2, b"nl")
    # No Local is still there: the subscriber's own message does not come back.
    c.publish("o/nl", b"own", qos=1)
    assert c.recv_all(settle=0.5) == []


def test_queue_overflow_drops_stay_dropped_after_restart(make_broker):
    """mqtt.max_mqueue_len = 10: an offline session keeps the newest 10 of 30 QoS 1
    messages (the oldest are dropped, and erased from storage): after a restart it gets
    exactly those 10."""
    b = make_broker(env=dict(DURABLE_ENV, EMQX_MQTT__MAX_MQUEUE_LEN="10"))
    c = connect_persistent(b, "ovf")
    c.subscribe([("ovf/t", 1)])
    c.disconnect()
    pub = connected(b, "ovf-pub", V5)
    items = [("ovf/t", b"%02d" % i, 1, False, None) for i in range(30)]
    assert publish_all(pub, items, window=1) == [0] * 30
    pub.disconnect()
    restart(b, signal.SIGTERM)
    c = connect_persistent(b, "ovf", expect_present=True)
    got = consume(c, lambda g: len(g) >= 10, timeout=10, settle=0.8)
    assert payloads(got) == [b"%02d" % i for i in range(20, 30)]


def test_queued_message_expiry_across_restart(make_broker):
    """A queued message whose Message Expiry Interval (2 s) passes while emqxd is down
    is not delivered after the restart [MQTT-3.3.2-5]; one with 3600 s is, with the
    interval that is left [MQTT-3.3.2-6]."""
    b = make_broker(env=DURABLE_ENV)
    c = connect_persistent(b, "qexp")
    c.subscribe([("qexp/t", 1)])
    c.disconnect()
    pub = connected(b, "qexp-pub", V5)
    pub.publish("qexp/t", b"short", qos=1, props={"message_expiry_interval": 2})
    sent = time.monotonic()
    pub.publish("qexp/t", b"long", qos=1, props={"message_expiry_interval": 3600})
    pub.disconnect()
    assert b.stop() == 0
    time.sleep(max(0.0, 2.5 - (time.monotonic() - sent)))  # the expiry is the point
    b.start()
    c = connect_persistent(b, "qexp", expect_present=True)
    got = consume(c, lambda g: len(g) >= 1, timeout=10, settle=0.8)
    assert payloads(got) == [b"long"]
    assert 3590 <= got[0].props["message_expiry_interval"] <= 3600


def test_session_that_expired_while_running_stays_gone(make_broker):
    """A session that expires while emqxd runs is erased from storage too: after a
    restart it is not back, and neither is its route."""
    b = make_broker(env=DURABLE_ENV)
    c = connect_persistent(b, "gone", expiry=1)
    c.subscribe([("gone/t", 1)])
    c.disconnect()
    pub = connected(b, "gone-pub", V5)
    assert wait_for(lambda: pub.publish("gone/t", b"x", qos=1).code == 0x10, 5.0, 0.1)
    pub.disconnect()
    restart(b, signal.SIGTERM)
    pub = connected(b, "gone-pub", V5)
    assert pub.publish("gone/t", b"y", qos=1).code == 0x10
    c = R.RawClient(b, V5)
    assert c.connect("gone", clean=False, props={"session_expiry_interval": 60}) \
        .session_present is False


def test_clean_start_and_disconnect_expiry_zero_end_the_stored_session(make_broker):
    """Clean Start 1 discards the stored session [MQTT-3.1.2-4] (the new one, expiry >
    0, is stored in its place), and a DISCONNECT with Session Expiry Interval 0 ends a
    stored session: after a restart neither old subscription routes anything."""
    b = make_broker(env=DURABLE_ENV)
    c = connect_persistent(b, "cs")
    c.subscribe([("cs/old", 1)])
    c.disconnect()
    c = connect_persistent(b, "cs", clean=True, expect_present=False)
    c.subscribe([("cs/new", 1)])
    c.disconnect()
    d = connect_persistent(b, "dz")
    d.subscribe([("dz/t", 1)])
    d.disconnect(props={"session_expiry_interval": 0})
    restart(b, signal.SIGTERM)
    pub = connected(b, "cs-pub", V5)
    assert pub.publish("cs/old", b"old", qos=1).code == 0x10
    assert pub.publish("dz/t", b"dz", qos=1).code == 0x10
    assert pub.publish("cs/new", b"new", qos=1).code == 0
    c = connect_persistent(b, "cs", expect_present=True)
    assert payloads(consume(c, lambda g: len(g) >= 1, timeout=10)) == [b"new"]
    d = R.RawClient(b, V5)
    assert d.connect("dz", clean=False, props={"session_expiry_interval": 60}) \
        .session_present is False


def test_shared_subscription_survives_a_crash(make_broker):
    """A persistent session's shared subscription ($share/g/...) is restored: after a
    crash and the member's return, a publish is routed to it and delivered."""
    b = make_broker(env=DURABLE_ENV)
    c = connect_persistent(b, "shm")
    assert c.subscribe([("$share/g/sh/t", 1)]) == [1]
    c.disconnect()
    restart(b, signal.SIGKILL)
    c = connect_persistent(b, "shm", expect_present=True)
    pub = connected(b, "sh-pub", V5)
    assert pub.publish("sh/t", b"shared", qos=1).code == 0
    assert payloads(consume(c, lambda g: len(g) >= 1, timeout=10)) == [b"shared"]


# ---------------------------------------------------------------- 3. inflight

@pytest.mark.parametrize("version", [pytest.param(V5, id="v5"), pytest.param(V311, id="v311")])
def test_unacknowledged_messages_are_resent_after_a_crash_MQTT_4_4_0_1(make_broker, version):
    """A persistent subscriber receives 10 QoS 1 and 6 QoS 2 messages and acknowledges
    none of them, except that it sends PUBREC for 3 of the QoS 2 ones (and does not
    answer their PUBREL). emqxd is killed (SIGKILL) and started again. On reconnecting
    (Clean Start 0) the subscriber gets the 13 unacknowledged PUBLISH again with DUP=1
    and the same packet ids, and PUBREL again for the 3 [MQTT-4.4.0-1] [MQTT-3.3.1-1]
    (MQTT 5 keeps the original order [MQTT-4.6.0-1]). Once it acknowledges them, a
    further restart brings nothing back."""
    b = make_broker(env=dict(DURABLE_ENV, EMQX_MQTT__RETRY_INTERVAL="1h"))
    cid = "infl-%d" % version
    sub = connect_persistent(b, cid, version)
    assert sub.subscribe([("if/#", 2)]) == [2]
    pub = connected(b, "infl-pub", V5)
    items = [("if/q1", b"a%02d" % i, 1, False, None) for i in range(10)]
    items += [("if/q2", b"b%02d" % i, 2, False, None) for i in range(6)]
    assert publish_all(pub, items) == [0] * 16
    first = consume(sub, lambda g: len(g) >= 16, ack=False, settle=0.2)
    assert [p.payload for p in first] == [it[1] for it in items]
    assert not any(p.dup for p in first)
    q2 = [p for p in first if p.qos == 2]
    for p in q2[:3]:
        sub.send(R.pubrec(p.pid, version=version))
        assert sub.wait_for(R.PUBREL, p.pid).code == 0
    barrier(sub)  # the sends and the PUBRECs are stored now

    restart(b, signal.SIGKILL)
    sub = connect_persistent(b, cid, version, expect_present=True)
    again = []
    rels = []
    deadline = time.monotonic() + 10
    while len(again) < 13 or len(rels) < 3:
        p = sub.recv(timeout=max(0.0, deadline - time.monotonic()))
        (again if p.type == R.PUBLISH else rels).append(p)
        assert p.type in (R.PUBLISH, R.PUBREL), p
    assert sub.recv_all(settle=0.5) == []
    want = [(p.topic, p.payload, p.pid, p.qos) for p in first if p not in q2[:3]]
    got = [(p.topic, p.payload, p.pid, p.qos) for p in again]
    if version == V5:
        assert got == want
    else:
        assert sorted(got) == sorted(want)
    assert all(p.dup for p in again), [p for p in again if not p.dup]
    assert sorted(p.pid for p in rels) == sorted(p.pid for p in q2[:3])

    for p in again:
        sub.send(R.puback(p.pid, version=version) if p.qos == 1
                 else R.pubrec(p.pid, version=version))
    for p in rels:
        sub.send(R.pubcomp(p.pid, version=version))
    for p in again:
        if p.qos == 2:
            sub.wait_for(R.PUBREL, p.pid)
            sub.send(R.pubcomp(p.pid, version=version))
    barrier(sub, pid=60001)
    sub.disconnect()

    restart(b, signal.SIGTERM)
    sub = connect_persistent(b, cid, version, expect_present=True)
    assert sub.recv_all(settle=0.8) == []


# ---------------------------------------------------------------- 4. QoS 2 inbound

@pytest.mark.parametrize("version", [pytest.param(V5, id="v5"), pytest.param(V311, id="v311")])
def test_inbound_qos2_exactly_once_across_a_crash_MQTT_4_3_3_10(make_broker, version):
    """A persistent publisher sends a QoS 2 PUBLISH (packet id 7) and gets PUBREC, then
    emqxd is killed before the PUBREL. After the restart the publisher reconnects
    (Session Present 1), resends the PUBLISH with DUP=1 and gets PUBREC again; its PUBREL
    gets PUBCOMP 0 (the packet id was still known, not 0x92). The (persistent, offline)
    subscriber gets the message exactly once [MQTT-4.3.3-10]; a second id sent before
    the crash with PUBREL not yet sent is completed the same way without resending."""
    b = make_broker(env=DURABLE_ENV)
    sub = connect_persistent(b, "q2in-sub", V5)
    assert sub.subscribe([("q2in/t", 2)]) == [2]
    sub.disconnect()
    pcid = "q2in-pub-%d" % version
    pub = connect_persistent(b, pcid, version)
    pub.send(R.publish("q2in/t", b"once", 2, pid=7, version=version))
    pub.send(R.publish("q2in/t", b"twice?", 2, pid=8, version=version))
    assert pub.wait_for(R.PUBREC, 7).code == 0
    assert pub.wait_for(R.PUBREC, 8).code == 0

    restart(b, signal.SIGKILL)
    pub = connect_persistent(b, pcid, version, expect_present=True)
    pub.send(R.publish("q2in/t", b"once", 2, dup=True, pid=7, version=version))
    assert pub.wait_for(R.PUBREC, 7).code == 0
    pub.send(R.pubrel(7, version=version))
    assert pub.wait_for(R.PUBCOMP, 7).code == 0
    pub.send(R.pubrel(8, version=version))
    assert pub.wait_for(R.PUBCOMP, 8).code == 0
    pub.disconnect()

    sub = connect_persistent(b, "q2in-sub", V5, expect_present=True)
    got = consume(sub, lambda g: len(g) >= 2, timeout=10, settle=0.8)
    assert sorted(payloads(got)) == [b"once", b"twice?"], got


# ---------------------------------------------------------------- 5. retained

@pytest.mark.parametrize("sig", SIGNALS)
def test_retained_messages_survive_with_expiry(make_broker, sig):
    """Retained messages (QoS 1 publishes: the PUBACK waits for the store) survive a
    restart and a crash: one without expiry, one with Message Expiry Interval 3600 (sent
    after the restart with the remaining interval [MQTT-3.3.2-6]), one replaced (the
    latest value only). One with expiry 2 s, expired while emqxd was down, is gone, and
    one cleared with an empty payload [MQTT-3.3.1-6] stays cleared."""
    b = make_broker(env=DURABLE_ENV)
    pub = connected(b, "ret-pub", V5)
    pub.publish("ret/keep", b"keep", qos=1, retain=True)
    pub.publish("ret/long", b"long", qos=1, retain=True,
                props={"message_expiry_interval": 3600})
    pub.publish("ret/short", b"short", qos=1, retain=True,
                props={"message_expiry_interval": 2})
    published_short = time.monotonic()
    pub.publish("ret/replaced", b"old", qos=1, retain=True)
    pub.publish("ret/replaced", b"new", qos=1, retain=True)
    pub.publish("ret/cleared", b"gone", qos=1, retain=True)
    pub.publish("ret/cleared", b"", qos=1, retain=True)
    pub.disconnect()
    b.stop(sig)
    # The 2 s expiry must pass while emqxd is down: what is measured is the restore.
    time.sleep(max(0.0, 2.5 - (time.monotonic() - published_short)))
    b.start()

    c = connected(b, "ret-sub", V5)
    c.subscribe([("ret/#", 1)])
    got = consume(c, lambda g: len(g) >= 3, timeout=10, settle=0.8)
    by_topic = {p.topic: p for p in got}
    assert sorted(by_topic) == ["ret/keep", "ret/long", "ret/replaced"], got
    assert len(got) == 3
    assert all(p.retain for p in got)
    assert by_topic["ret/keep"].payload == b"keep"
    assert by_topic["ret/replaced"].payload == b"new"
    assert by_topic["ret/long"].payload == b"long"
    left = by_topic["ret/long"].props.get("message_expiry_interval")
    assert left is not None and 3590 <= left <= 3600, left
    assert "message_expiry_interval" not in by_topic["ret/keep"].props


# ---------------------------------------------------------------- 6. expiry, enable=false

@pytest.mark.parametrize("version", [pytest.param(V5, id="v5"), pytest.param(V311, id="v311")])
def test_expired_sessions_and_their_routes_are_erased_at_restart(make_broker, version):
    """Two persistent sessions: one with expiry 2 s (MQTT 5 Session Expiry Interval, or
    mqtt.session_expiry_interval = 2s for MQTT 3.1.1), one with an hour. Both subscribe,
    go offline and get a queued message; emqxd stops; the short one expires while it is
    down. After the restart: the log says one expired session was erased; a QoS 1
    publish to the expired session's topic is answered 0x10 No matching subscribers (its
    route is gone too); reconnecting finds no session (Session Present 0 [MQTT-3.1.2-6])
    and no message. The long one is back with its message and its route."""
    env = dict(DURABLE_ENV)
    if version == V311:
        env["EMQX_MQTT__SESSION_EXPIRY_INTERVAL"] = "2s"
    b = make_broker(env=env)
    short = connect_persistent(b, "exp-short", version, expiry=2)
    short.subscribe([("exp/short", 1)])
    short.disconnect()
    gone_at = time.monotonic() + 2
    long_ = connect_persistent(b, "exp-long", V5, expiry=3600)
    long_.subscribe([("exp/long", 1)])
    long_.disconnect()
    pub = connected(b, "exp-pub", V5)
    assert pub.publish("exp/short", b"s1", qos=1).code == 0
    assert pub.publish("exp/long", b"l1", qos=1).code == 0
    pub.disconnect()
    assert b.stop() == 0
    time.sleep(max(0.0, gone_at + 0.5 - time.monotonic()))  # expiry is the point
    b.start()
    assert "erased 1 expired" in b.read_log(), b.read_log()[-2000:]

    pub = connected(b, "exp-pub", V5)
    assert pub.publish("exp/short", b"s2", qos=1).code == 0x10  # no route left
    assert pub.publish("exp/long", b"l2", qos=1).code == 0
    pub.disconnect()

    short = R.RawClient(b, version)
    props = {"session_expiry_interval": 2} if version == V5 else None
    assert short.connect("exp-short", clean=False, props=props).session_present is False
    assert short.recv_all(settle=0.5) == []
    long_ = connect_persistent(b, "exp-long", V5, expect_present=True)
    got = consume(long_, lambda g: len(g) >= 2, timeout=10)
    assert payloads(got) == [b"l1", b"l2"]


def test_enable_false_keeps_nothing_across_restart(make_broker):
    """durable_sessions.enable = false: sessions live in memory only. After a restart
    the persistent subscriber's session, its subscription, its queued message and the
    retained message are all gone; no RocksDB directory is made."""
    b = make_broker(env=dict(DURABLE_ENV, EMQX_DURABLE_SESSIONS__ENABLE="false"))
    sub = connect_persistent(b, "mem-sub", V5)
    sub.subscribe([("mem/t", 1)])
    sub.disconnect()
    pub = connected(b, "mem-pub", V5)
    assert pub.publish("mem/t", b"queued", qos=1).code == 0
    assert pub.publish("mem/r", b"retained", qos=1, retain=True).code == 0x10
    pub.disconnect()
    restart(b, signal.SIGTERM)
    assert not os.path.exists(os.path.join(b.dir, "data", "rocksdb"))
    pub = connected(b, "mem-pub", V5)
    assert pub.publish("mem/t", b"after", qos=1).code == 0x10
    sub = R.RawClient(b, V5)
    assert sub.connect("mem-sub", clean=False, props={"session_expiry_interval": 3600}) \
        .session_present is False
    assert sub.recv_all(settle=0.5) == []
    c = connected(b, "mem-ret", V5)
    c.subscribe([("mem/#", 1)])
    assert c.recv_all(settle=0.5) == []


def test_sync_false_survives_a_crash(make_broker):
    """durable_sessions.sync = false: a message is acknowledged once it is in the WAL
    (the page cache), which survives a crash of emqxd (not a power loss). SIGKILL right
    after the PUBACKs loses none of 300 queued messages."""
    b = make_broker(env=dict(DURABLE_ENV, EMQX_DURABLE_SESSIONS__SYNC="false"))
    sub = connect_persistent(b, "nosync-sub", V5)
    sub.subscribe([("ns/t", 1)])
    sub.disconnect()
    pub = connected(b, "nosync-pub", V5)
    items = [("ns/t", b"%04d" % i, 1, False, None) for i in range(300)]
    assert publish_all(pub, items, window=50) == [0] * 300
    restart(b, signal.SIGKILL)
    assert "sync=false" in b.read_log()
    sub = connect_persistent(b, "nosync-sub", V5, expect_present=True)
    got = consume(sub, lambda g: len({p.payload for p in g}) >= 300, timeout=30)
    assert list(dict.fromkeys(payloads(got))) == [it[1] for it in items]


# ---------------------------------------------------------------- 7. start-up errors

def test_corrupt_data_dir_fails_startup_naming_it(make_broker):
    """A data dir whose RocksDB MANIFEST was overwritten with garbage: emqxd exits
    non-zero at start-up with a log line naming node.data_dir/rocksdb."""
    b = make_broker(env=DURABLE_ENV)
    sub = connect_persistent(b, "corrupt-sub", V5)
    sub.subscribe([("c/t", 1)])
    sub.disconnect()
    assert b.stop() == 0
    db = os.path.join(b.dir, "data", "rocksdb")
    manifests = [f for f in os.listdir(db) if f.startswith("MANIFEST-")]
    assert manifests, os.listdir(db)
    for f in manifests:
        with open(os.path.join(db, f), "r+b") as fh:
            size = max(fh.seek(0, 2), 4096)
            fh.seek(0)
            fh.write(b"\xde\xad\xbe\xef" * (size // 4))
    rc, log = start_expecting_failure(dict(DURABLE_ENV, EMQX_NODE__DATA_DIR=os.path.join(b.dir, "data")))
    assert rc != 0
    assert db in log, log[-2000:]
    assert "corrupt" in log or "damaged" in log, log[-2000:]


def test_locked_data_dir_fails_startup_naming_it(make_broker):
    """A second emqxd on the data dir of a running one exits non-zero, saying the
    directory is locked by another emqxd; the first keeps serving."""
    first = make_broker(env=DURABLE_ENV)
    data = os.path.join(first.dir, "data")
    rc, log = start_expecting_failure(dict(DURABLE_ENV, EMQX_NODE__DATA_DIR=data))
    assert rc != 0
    assert os.path.join(data, "rocksdb") in log and "locked" in log, log[-2000:]
    assert first.alive()
    c = connected(first, "still-there", V5)
    c.ping()


def test_data_dir_under_a_regular_file_fails_startup_naming_it(tmp_path):
    """node.data_dir below a regular file cannot be created: non-zero exit, and the log
    names the path."""
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    data = str(blocker / "data")
    rc, log = start_expecting_failure(dict(DURABLE_ENV, EMQX_NODE__DATA_DIR=data))
    assert rc != 0
    assert data in log, log[-2000:]
