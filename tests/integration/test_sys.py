"""$SYS topics (EMQX's $SYS/brokers/<node>/...: version, sysdescr, uptime, datetime,
stats/*, metrics/*, clients/<clientid>/connected|disconnected events; config keys
sys_topics.sys_msg_interval, sys_heartbeat_interval, sys_event_messages.*, node.name).
MQTT 5.0 section 4.7.2 reserves topics starting with '$' for the server.

Periodic values are read as they are published (every second here): the tests wait,
bounded, for the value they expect and fail with the values they saw.
"""
import datetime
import json
import re
import subprocess
import time

import pytest

import rawmqtt as R
from conftest import EMQXD_BIN
from rawmqtt import RawClient, connected, V311, V5

NODE = "emqx@127.0.0.1"
FAST = {"EMQX_SYS_TOPICS__SYS_MSG_INTERVAL": "1s", "EMQX_SYS_TOPICS__SYS_HEARTBEAT_INTERVAL": "1s"}


def sys_topic(sub, node=NODE):
    return "$SYS/brokers/%s/%s" % (node, sub)


class Watch:
    """A v5 subscriber on some $SYS topics that remembers every value seen per topic."""

    def __init__(self, broker, *subs, node=NODE):
        self.c = connected(broker, "sys-watch", V5)
        self.node = node
        self.c.subscribe([(sys_topic(s, node), 0) for s in subs])
        self.seen = {}

    def next(self, sub, timeout=3.0):
        """The next value published on $SYS/brokers/<node>/<sub>."""
        topic = sys_topic(sub, self.node)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.1fs; seen %r" % (sub, timeout, self.seen))
            p = self.c.wait_for(R.PUBLISH, timeout=left)
            self.seen.setdefault(p.topic, []).append(p.payload)
            if p.topic == topic:
                return p.payload

    def until(self, sub, pred, timeout=5.0):
        """Waits for a published value of `sub` satisfying pred; returns it."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            v = self.next(sub, max(0.01, left))
            if pred(v):
                return v
            if time.monotonic() >= deadline:
                raise AssertionError("%s never satisfied the condition; seen %r"
                                     % (sub, self.seen.get(sys_topic(sub, self.node))))


def version_of_binary():
    out = subprocess.run([EMQXD_BIN, "--version"], capture_output=True, text=True, timeout=10)
    m = re.fullmatch(r"emqxd (\S+)\s*", out.stdout)
    assert m, out.stdout
    return m.group(1)


def test_version_and_sysdescr_retained(broker):
    """$SYS/brokers/<node>/version (as `emqxd --version` says) and sysdescr are retained:
    a new subscriber gets them at once with RETAIN 1 [MQTT-3.3.1-9]."""
    c = connected(broker, "sysv", V311)
    c.subscribe([(sys_topic("version"), 0), (sys_topic("sysdescr"), 0)])
    got = {p.topic: p for p in c.recv_publishes(2)}
    assert got[sys_topic("version")].payload.decode() == version_of_binary()
    assert got[sys_topic("version")].retain is True
    assert got[sys_topic("sysdescr")].payload == b"emqxd"


def test_uptime_and_datetime_heartbeat(make_broker):
    """sys_heartbeat_interval=1s: uptime (milliseconds, growing by about the interval)
    and datetime (RFC 3339, the current UTC time) are published every second."""
    b = make_broker(env=FAST)
    w = Watch(b, "uptime", "datetime")
    w.next("uptime")  # the retained one
    u1 = int(w.next("uptime"))
    t1 = time.monotonic()
    u2 = int(w.next("uptime"))
    t2 = time.monotonic()
    assert u2 > u1
    assert 0.5 * (t2 - t1) * 1000 <= u2 - u1 <= 2000, (u1, u2, t2 - t1)
    dt = w.next("datetime").decode()
    parsed = datetime.datetime.fromisoformat(dt.replace("Z", "+00:00"))
    assert parsed.tzinfo is not None, dt
    now = datetime.datetime.now(datetime.timezone.utc)
    assert abs((now - parsed).total_seconds()) <= 5, (dt, now)


def test_stats_connections_and_sessions_count(make_broker):
    """stats/connections/count follows connects and disconnects (the watcher counts);
    stats/sessions/count also counts an offline persistent session."""
    b = make_broker(env=FAST)
    w = Watch(b, "stats/connections/count", "stats/sessions/count")
    clients = [connected(b, "cnt%d" % i, V5) for i in range(3)]
    w.until("stats/connections/count", lambda v: v == b"4")
    persistent = connected(b, "persist", V5, clean=False, props={"session_expiry_interval": 60})
    w.until("stats/connections/count", lambda v: v == b"5")
    persistent.disconnect()
    for c in clients[:2]:
        c.disconnect()
    w.until("stats/connections/count", lambda v: v == b"2")
    w.until("stats/sessions/count", lambda v: v == b"3")  # watcher, cnt2, persist (offline)


def test_stats_subscriptions_count(make_broker):
    """stats/subscriptions/count and stats/subscriptions/shared/count follow SUBSCRIBE
    and UNSUBSCRIBE."""
    b = make_broker(env=FAST)
    w = Watch(b, "stats/subscriptions/count", "stats/subscriptions/shared/count")  # 2 subs
    c = connected(b, "subs", V5)
    c.subscribe([("a/1", 0), ("a/2", 0), ("$share/g/a/3", 0)])
    w.until("stats/subscriptions/count", lambda v: v == b"5")
    w.until("stats/subscriptions/shared/count", lambda v: v == b"1")
    c.unsubscribe(["a/1", "$share/g/a/3"], pid=2)
    w.until("stats/subscriptions/count", lambda v: v == b"3")
    w.until("stats/subscriptions/shared/count", lambda v: v == b"0")


def test_metrics_messages_received(make_broker):
    """metrics/messages/received counts client PUBLISH packets (6 here: 2 per QoS), with
    metrics/messages/qos0|qos1|qos2/received per QoS; $SYS messages are not counted."""
    b = make_broker(env=FAST)
    w = Watch(b, "metrics/messages/received", "metrics/messages/qos0/received",
              "metrics/messages/qos1/received", "metrics/messages/qos2/received")
    pub = connected(b, "mpub", V5)
    for q in (0, 1, 2, 0, 1, 2):
        pub.publish("m/t", b"x", qos=q)
    pub.ping()
    w.until("metrics/messages/received", lambda v: v == b"6")
    assert w.next("metrics/messages/qos0/received", 2) == b"2"
    assert w.next("metrics/messages/qos1/received", 2) == b"2"
    assert w.next("metrics/messages/qos2/received", 2) == b"2"
    assert w.next("metrics/messages/received", 2) == b"6"  # a period later: still 6


def test_metrics_dropped_no_subscribers(make_broker):
    """metrics/messages/dropped/no_subscribers counts messages nobody subscribed to."""
    b = make_broker(env=FAST)
    w = Watch(b, "metrics/messages/dropped/no_subscribers")
    pub = connected(b, "nsub", V5)
    for _ in range(3):
        pub.publish("nobody/t", b"x", qos=1)
    w.until("metrics/messages/dropped/no_subscribers", lambda v: v == b"3")


def test_node_name_in_sys_topics(make_broker):
    """node.name sets the <node> level of every $SYS topic."""
    b = make_broker(env=dict(FAST, EMQX_NODE__NAME="itnode@10.0.0.1"))
    w = Watch(b, "uptime", node="itnode@10.0.0.1")
    w.next("uptime")
    c = connected(b, "old-name", V5)
    c.subscribe([(sys_topic("uptime"), 0)])
    assert [p for p in c.recv_all(1.3) if p.type == R.PUBLISH] == []


# ---------------------------------------------------------------- client events

def events_watcher(broker):
    c = connected(broker, "ev-watch", V5)
    c.subscribe([(sys_topic("clients/+/connected"), 0), (sys_topic("clients/+/disconnected"), 0)])
    return c


def next_event(c, cid, kind, timeout=3.0):
    topic = sys_topic("clients/%s/%s" % (cid, kind))
    deadline = time.monotonic() + timeout
    while True:
        p = c.wait_for(R.PUBLISH, timeout=max(0.01, deadline - time.monotonic()))
        if p.topic == topic:
            assert p.retain is False
            return json.loads(p.payload)


@pytest.mark.parametrize("version", [V311, V5])
def test_client_connected_and_disconnected_events(broker, version):
    """$SYS/brokers/<node>/clients/<clientid>/connected carries JSON with clientid,
    username, proto_ver, keepalive, clean_start, connected_at and ts (ms); .../disconnected
    carries clientid, username, disconnected_at and ts."""
    w = events_watcher(broker)
    before = int(time.time() * 1000)
    c = RawClient(broker, version)
    c.connect("ev-%d" % version, keepalive=42, username="alice", password=b"pw")
    ev = next_event(w, "ev-%d" % version, "connected")
    assert ev["clientid"] == "ev-%d" % version
    assert ev["username"] == "alice"
    assert ev["proto_ver"] == version
    assert ev["keepalive"] == 42
    assert ev["clean_start"] is True
    after = int(time.time() * 1000)
    assert before - 1000 <= ev["connected_at"] <= after + 1000
    assert before - 1000 <= ev["ts"] <= after + 1000
    c.disconnect()
    ev = next_event(w, "ev-%d" % version, "disconnected")
    assert ev["clientid"] == "ev-%d" % version
    assert ev["username"] == "alice"
    assert before - 1000 <= ev["disconnected_at"] <= int(time.time() * 1000) + 1000


def test_events_for_anonymous_and_abrupt_clients(broker):
    """A client without a user name has "username": null; an abrupt close still produces
    the disconnected event; a JSON-hostile client id is escaped."""
    w = events_watcher(broker)
    cid = 'we"ird\\id'
    c = connected(broker, cid, V5)
    ev = next_event(w, cid, "connected")
    assert ev["clientid"] == cid and ev["username"] is None
    c.abort()
    assert next_event(w, cid, "disconnected")["clientid"] == cid


def test_takeover_produces_disconnected_then_connected(broker):
    """A takeover ends one connection and starts another: a disconnected event and a
    second connected event for the client id."""
    w = events_watcher(broker)
    connected(broker, "ev-tk", V5)
    next_event(w, "ev-tk", "connected")
    connected(broker, "ev-tk", V5)
    kinds = []
    deadline = time.monotonic() + 3
    while len(kinds) < 2 and time.monotonic() < deadline:
        p = w.wait_for(R.PUBLISH, timeout=deadline - time.monotonic())
        if "/clients/ev-tk/" in p.topic:
            kinds.append(p.topic.rsplit("/", 1)[1])
    assert sorted(kinds) == ["connected", "disconnected"]


def test_event_messages_can_be_disabled(make_broker):
    """sys_topics.sys_event_messages.client_connected=false: no connected events;
    disconnected ones still come (client_disconnected stays true)."""
    b = make_broker(env={"EMQX_SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_CONNECTED": "false"})
    w = events_watcher(b)
    c = connected(b, "quiet", V5)
    c.disconnect()
    ev = next_event(w, "quiet", "disconnected")
    assert ev["clientid"] == "quiet"
    seen = [p.topic for p in w.recv_all(0.3) if p.type == R.PUBLISH]
    assert seen == []


def test_event_payloads_have_emqx_fields(broker):
    """EMQX's event payloads also name the peer and the reason: connected has ipaddress
    and proto_name ("MQTT"); disconnected has reason ("normal" after DISCONNECT). Tools
    written for EMQX read these fields."""
    w = events_watcher(broker)
    c = connected(broker, "ev-emqx", V5, props={"session_expiry_interval": 30})
    ev = next_event(w, "ev-emqx", "connected")
    assert ev.get("ipaddress") == "127.0.0.1", ev
    assert ev.get("proto_name") == "MQTT", ev
    c.disconnect()
    ev = next_event(w, "ev-emqx", "disconnected")
    assert ev.get("reason") == "normal", ev


def test_event_topics_never_contain_wildcards_MQTT_3_3_2_2(broker):
    """Client ids may hold any characters, '+' and '#' included (3.1.3.1), but a topic
    name the server sends must not contain wildcards [MQTT-3.3.2-2]: events for such a
    client are published on a topic without them (escaped or left out), never on
    .../clients/+/connected. Events for ordinary ids still arrive."""
    w = events_watcher(broker)
    for cid in ("dev+1", "#", "a+b#c", "ordinary"):
        c = connected(broker, cid, V5)
        c.disconnect()
    got = [p for p in w.recv_all(0.6) if p.type == R.PUBLISH]
    assert [p.topic for p in got if "+" in p.topic or "#" in p.topic] == []
    assert sys_topic("clients/ordinary/connected") in [p.topic for p in got]


def test_connected_event_names_the_protocol(broker):
    """EMQX 5's event payloads carry "protocol": "mqtt" (gateway clients name their own)."""
    w = events_watcher(broker)
    connected(broker, "ev-proto", V311)
    assert next_event(w, "ev-proto", "connected")["protocol"] == "mqtt"


SUB_EVENTS = {"EMQX_SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_SUBSCRIBED": "true",
              "EMQX_SYS_TOPICS__SYS_EVENT_MESSAGES__CLIENT_UNSUBSCRIBED": "true"}


@pytest.mark.parametrize("version", [V311, V5])
def test_subscribed_and_unsubscribed_events(make_broker, version):
    """sys_event_messages.client_subscribed / client_unsubscribed (off by default, as in
    EMQX): $SYS/brokers/<node>/clients/<clientid>/subscribed carries clientid, username,
    protocol, topic (the filter as subscribed), subopts {qos, rh, rap, nl} and ts;
    .../unsubscribed the same without subopts. A refused filter makes no event."""
    b = make_broker(env=SUB_EVENTS)
    w = connected(b, "ev-watch", V5)
    w.subscribe([(sys_topic("clients/+/subscribed"), 0), (sys_topic("clients/+/unsubscribed"), 0)])
    c = RawClient(b, version)
    c.connect("ev-sub", username="bob", password=b"pw")
    before = int(time.time() * 1000)
    opts = R.sub_options(qos=1, retain_handling=2 if version == V5 else 0)
    assert c.subscribe([("a/+", opts), ("bad/#/x", R.sub_options(qos=0))]) == \
        ([1, 0x8F] if version == V5 else [1, 0x80])
    ev = next_event(w, "ev-sub", "subscribed")
    assert ev["clientid"] == "ev-sub" and ev["username"] == "bob"
    assert ev["protocol"] == "mqtt"
    assert ev["topic"] == "a/+"
    assert ev["subopts"] == {"qos": 1, "rh": 2 if version == V5 else 0, "rap": 0, "nl": 0}
    assert before - 1000 <= ev["ts"] <= int(time.time() * 1000) + 1000
    # Only the valid filter made an event.
    assert [p.topic for p in w.recv_all(0.3) if p.type == R.PUBLISH] == []
    c.unsubscribe(["a/+", "never/subscribed"])
    ev = next_event(w, "ev-sub", "unsubscribed")
    assert ev["topic"] == "a/+" and ev["clientid"] == "ev-sub" and "subopts" not in ev
    assert [p.topic for p in w.recv_all(0.3) if p.type == R.PUBLISH] == []


def test_subscribed_events_are_off_by_default(broker):
    w = connected(broker, "ev-watch", V5)
    w.subscribe([(sys_topic("clients/+/subscribed"), 0), (sys_topic("clients/+/unsubscribed"), 0)])
    c = connected(broker, "ev-quiet", V5)
    c.subscribe([("a", R.sub_options(qos=0))])
    c.unsubscribe(["a"])
    assert [p.topic for p in w.recv_all(0.5) if p.type == R.PUBLISH] == []
