"""Retained messages (MQTT 5.0 sections 3.3.1.3, 3.3.2.3.3, 3.8.3.1 Retain Handling,
4.8.2; MQTT 3.1.1 section 3.3.1.3) and the retainer's limits (retainer.enable,
max_retained_messages, max_payload_size, msg_expiry_interval).

Every check subscribes a fresh client after the retained state changed and counts
exactly what it receives on subscribe.
"""
import time

import pytest

import rawmqtt as R
from conftest import wait_for
from rawmqtt import RawClient, connected, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def publishes(c, settle=0.4):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


def retained_on_subscribe(broker, flt, version=V5, qos=2, n=None, settle=0.4, **sub_kw):
    """What a brand-new client gets right after subscribing to `flt`: [(topic, payload,
    qos, retain)], exactly (n messages awaited, then a settle for extras)."""
    c = connected(broker, "", version)
    c.subscribe([(flt, qos)], **sub_kw)
    got = c.recv_publishes(n) if n else []
    got += publishes(c, settle)
    for p in got:
        if p.qos:
            c.ack(p)
    c.disconnect()
    return [(p.topic, p.payload, p.qos, p.retain) for p in got]


@pytest.mark.parametrize("version", VERSIONS)
def test_set_replace_clear_MQTT_3_3_1_5_to_8(broker, version):
    """RETAIN=1 stores the message (replacing the topic's previous one) [MQTT-3.3.1-5];
    RETAIN=0 neither stores nor removes [MQTT-3.3.1-8]; an empty retained payload removes
    it [MQTT-3.3.1-6] and is not stored itself [MQTT-3.3.1-7], but is delivered normally
    to existing subscribers. Retained messages outlive the publisher's session."""
    live = connected(broker, "live", version)
    live.subscribe([("rt/t", 1)])
    pub = connected(broker, "rt-pub", version)
    pub.publish("rt/t", b"v1", qos=1, retain=True)
    pub.disconnect()
    assert retained_on_subscribe(broker, "rt/t", version, n=1) == [("rt/t", b"v1", 1, True)]
    pub = connected(broker, "rt-pub2", version)
    pub.publish("rt/t", b"v2", qos=1, retain=True)
    assert retained_on_subscribe(broker, "rt/t", version, n=1) == [("rt/t", b"v2", 1, True)]
    pub.publish("rt/t", b"not-retained", qos=1)
    assert retained_on_subscribe(broker, "rt/t", version, n=1) == [("rt/t", b"v2", 1, True)]
    pub.publish("rt/t", b"", qos=1, retain=True)
    assert retained_on_subscribe(broker, "rt/t", version) == []
    got = live.recv_publishes(4)
    assert [p.payload for p in got] == [b"v1", b"v2", b"not-retained", b""]
    assert all(not p.retain for p in got)  # established subscription: RETAIN 0


@pytest.mark.parametrize("version", VERSIONS)
def test_retained_on_subscribe_flag_and_qos_MQTT_3_3_1_9(broker, version):
    """On a new subscription every matching retained message is sent with RETAIN=1
    [MQTT-3.3.1-9] (3.1.1 [MQTT-3.3.1-6]/[MQTT-3.3.1-8]) at min(stored QoS, granted QoS)
    [MQTT-3.8.4-8]; QoS 0 retained messages are kept too (3.1.1 [MQTT-3.3.1-7])."""
    pub = connected(broker, "rq-pub", V5)
    for q in (0, 1, 2):
        pub.publish("rq/%d" % q, b"q%d" % q, qos=q, retain=True, pid=q + 1)
    pub.ping()
    for sub_qos in (0, 1, 2):
        got = sorted(retained_on_subscribe(broker, "rq/+", version, qos=sub_qos, n=3))
        assert got == [("rq/%d" % q, b"q%d" % q, min(q, sub_qos), True) for q in (0, 1, 2)]
    assert retained_on_subscribe(broker, "rq/1", version, n=1) == [("rq/1", b"q1", 1, True)]
    assert retained_on_subscribe(broker, "rq/none", version) == []


def test_retained_keeps_properties_and_gets_subscription_id(broker):
    """A retained message keeps its properties (Content Type, User Properties in order,
    Response Topic, Correlation Data, Payload Format Indicator) [MQTT-3.3.2-4]
    [MQTT-3.3.2-17]/[MQTT-3.3.2-18] [MQTT-3.3.2-20], and on subscribe carries the new
    subscription's identifier [MQTT-3.3.4-3] and no Topic Alias the publisher used."""
    props = {"payload_format_indicator": 1, "content_type": "application/json",
             "response_topic": "rp/reply", "correlation_data": b"\x01\x02",
             "user_property": [("b", "2"), ("a", "1"), ("b", "3")]}
    pub = connected(broker, "rp-pub", V5)
    pub.publish("rp/t", b"{}", qos=1, retain=True, props=dict(props, topic_alias=1))
    c = connected(broker, "rp-sub", V5)
    c.subscribe([("rp/#", 1)], props={"subscription_identifier": 42})
    p = c.recv_publishes(1)[0]
    assert (p.topic, p.payload, p.retain) == ("rp/t", b"{}", True)
    assert p.props == dict(props, subscription_identifier=[42])


def test_retain_handling_MQTT_3_3_1_9_10_11(broker):
    """Retain Handling 0: retained messages on every SUBSCRIBE, a repeated one included
    [MQTT-3.3.1-9] [MQTT-3.8.4-4]; 1: only if the subscription is new [MQTT-3.3.1-10];
    2: never [MQTT-3.3.1-11]."""
    pub = connected(broker, "rh-pub", V5)
    pub.publish("rh/t", b"kept", qos=1, retain=True)
    expected = [("rh/t", b"kept", 1, True)]
    for rh, first, again in ((0, expected, expected), (1, expected, []), (2, [], [])):
        c = connected(broker, "rh%d" % rh, V5)
        opts = R.sub_options(1, retain_handling=rh)
        assert c.subscribe([("rh/t", opts)]) == [1]
        got = c.recv_publishes(len(first)) + publishes(c, 0.3)
        assert [(p.topic, p.payload, p.qos, p.retain) for p in got] == first, rh
        for p in got:
            c.ack(p)
        assert c.subscribe([("rh/t", opts)], pid=2) == [1]
        got = c.recv_publishes(len(again)) + publishes(c, 0.3)
        assert [(p.topic, p.payload, p.qos, p.retain) for p in got] == again, rh


def test_retained_message_expiry_MQTT_3_3_2_5(broker):
    """A retained message whose Message Expiry Interval passed is not sent to new
    subscribers [MQTT-3.3.2-5]; one still live goes with the remaining interval
    [MQTT-3.3.2-6]."""
    pub = connected(broker, "re-pub", V5)
    pub.publish("re/short", b"s", qos=1, retain=True, props={"message_expiry_interval": 1})
    pub.publish("re/long", b"l", qos=1, retain=True, pid=2,
                props={"message_expiry_interval": 30})
    c = connected(broker, "re-now", V5)
    c.subscribe([("re/+", 1)])
    assert sorted(p.payload for p in c.recv_publishes(2)) == [b"l", b"s"]
    time.sleep(2.1)
    c = connected(broker, "re-later", V5)
    c.subscribe([("re/+", 1)])
    got = c.recv_publishes(1)
    assert [p.topic for p in got] == ["re/long"]
    assert 26 <= got[0].props["message_expiry_interval"] <= 28
    assert publishes(c) == []


def test_retainer_msg_expiry_interval(make_broker):
    """retainer.msg_expiry_interval=1s: a retained message without its own Message Expiry
    Interval is dropped after 1 s; one with its own interval follows that instead."""
    b = make_broker(env={"EMQX_RETAINER__MSG_EXPIRY_INTERVAL": "1s"})
    pub = connected(b, "rme-pub", V5)
    pub.publish("rme/default", b"d", qos=1, retain=True)
    pub.publish("rme/own", b"o", qos=1, retain=True, pid=2, props={"message_expiry_interval": 60})
    assert len(retained_on_subscribe(b, "rme/+", n=2, settle=0.1)) == 2
    time.sleep(1.2)
    assert [t for t, *_ in retained_on_subscribe(b, "rme/+", n=1)] == ["rme/own"]


def test_retained_not_sent_to_shared_subscriptions(broker):
    """Section 4.8.2: retained messages are not sent to a shared subscription when it is
    made; a plain subscription of the same client still gets them."""
    pub = connected(broker, "rs-pub", V5)
    pub.publish("rs/t", b"kept", qos=1, retain=True)
    for flt in ("$share/g/rs/t", "$queue/rs/t", "$share/g/rs/#"):
        c = connected(broker, "", V5)
        c.subscribe([(flt, 1)])
        assert publishes(c, 0.4) == [], flt
    c = connected(broker, "rs-both", V5)
    c.subscribe([("$share/g2/rs/t", 1), ("rs/t", 1)])
    got = c.recv_publishes(1)
    assert [(p.payload, p.retain) for p in got] == [(b"kept", True)]
    assert publishes(c) == []


def sys_retained_count(broker):
    """How many $SYS messages the broker keeps retained (they share the retainer)."""
    c = connected(broker, "", V5)
    c.subscribe([("$SYS/#", 0)])
    return sum(1 for p in publishes(c, 0.5) if p.retain)


def test_max_retained_messages(make_broker):
    """retainer.max_retained_messages: once the store is full a new topic is not retained
    (delivered live all the same); replacing a stored topic still works; after clearing
    one there is room. The broker's own retained $SYS messages share the store, so the
    limit is set to their number (measured on a default broker) + 2."""
    base = sys_retained_count(make_broker())
    b = make_broker(env={"EMQX_RETAINER__MAX_RETAINED_MESSAGES": str(base + 2)})
    live = connected(b, "mr-live", V5)
    live.subscribe([("mr/#", 1)])
    pub = connected(b, "mr-pub", V5)
    pub.publish("mr/1", b"a", qos=1, retain=True)
    pub.publish("mr/2", b"b", qos=1, retain=True)
    pub.publish("mr/3", b"c", qos=1, retain=True)
    assert [p.payload for p in live.recv_publishes(3)] == [b"a", b"b", b"c"]
    assert sorted(retained_on_subscribe(b, "mr/#", n=2)) == [
        ("mr/1", b"a", 1, True), ("mr/2", b"b", 1, True)]
    pub.publish("mr/1", b"a2", qos=1, retain=True)
    assert sorted(retained_on_subscribe(b, "mr/#", n=2)) == [
        ("mr/1", b"a2", 1, True), ("mr/2", b"b", 1, True)]
    pub.publish("mr/2", b"", qos=1, retain=True)
    pub.publish("mr/3", b"c2", qos=1, retain=True)
    assert sorted(retained_on_subscribe(b, "mr/#", n=2)) == [
        ("mr/1", b"a2", 1, True), ("mr/3", b"c2", 1, True)]


def test_sys_messages_leave_room_in_small_retainer(make_broker):
    """With retainer.max_retained_messages=5, clients can still retain two messages: the
    broker retains only its few fixed $SYS topics (EMQX retains version, sysdescr and
    brokers; uptime, datetime, stats and metrics are published non-retained), so periodic
    $SYS topics do not fill the client's retained store."""
    b = make_broker(env={"EMQX_RETAINER__MAX_RETAINED_MESSAGES": "5"})
    pub = connected(b, "small-pub", V5)
    pub.publish("small/1", b"a", qos=1, retain=True)
    pub.publish("small/2", b"b", qos=1, retain=True, pid=2)
    got = sorted(retained_on_subscribe(b, "small/#", settle=0.5))
    assert got == [("small/1", b"a", 1, True), ("small/2", b"b", 1, True)], \
        "retained $SYS messages on this broker: %d" % sys_retained_count(b)


def test_retainer_max_payload_size(make_broker):
    """retainer.max_payload_size=64: a bigger retained payload is not stored (and does not
    replace the stored one); the message itself is still delivered live."""
    b = make_broker(env={"EMQX_RETAINER__MAX_PAYLOAD_SIZE": "64"})
    live = connected(b, "mp-live", V5)
    live.subscribe([("mp/t", 0)])
    pub = connected(b, "mp-pub", V5)
    pub.publish("mp/t", b"s" * 64, qos=1, retain=True)
    pub.publish("mp/t", b"L" * 65, qos=1, retain=True)
    assert [len(p.payload) for p in live.recv_publishes(2)] == [64, 65]
    assert retained_on_subscribe(b, "mp/t", n=1) == [("mp/t", b"s" * 64, 1, True)]


def test_retainer_disabled(make_broker):
    """retainer.enable=false: nothing is retained; messages still go to subscribers."""
    b = make_broker(env={"EMQX_RETAINER__ENABLE": "false"})
    live = connected(b, "rd-live", V5)
    live.subscribe([("rd/t", 0)])
    pub = connected(b, "rd-pub", V5)
    pub.publish("rd/t", b"x", qos=1, retain=True)
    assert [p.payload for p in live.recv_publishes(1)] == [b"x"]
    assert retained_on_subscribe(b, "rd/t") == []


def test_sys_retained_count(make_broker):
    """$SYS/brokers/<node>/stats/retained/count follows the retained store (sys_msg_interval
    1s): +3 after three retained topics, -1 after one is cleared."""
    b = make_broker(env={"EMQX_SYS_TOPICS__SYS_MSG_INTERVAL": "1s"})
    c = connected(b, "rc", V5)
    c.subscribe([("$SYS/brokers/emqx@127.0.0.1/stats/retained/count", 0)])
    values = []

    def next_value(timeout=3.0):
        p = c.wait_for(R.PUBLISH, timeout=timeout)
        values.append(int(p.payload))
        return values[-1]

    next_value()  # the retained one, from start-up
    base = None
    for _ in range(5):  # a stable base: two equal consecutive values
        v = next_value()
        if len(values) >= 2 and values[-2] == v:
            base = v
            break
    assert base is not None, values
    pub = connected(b, "rc-pub", V5)
    for i in range(3):
        pub.publish("rc/%d" % i, b"x", qos=1, retain=True)
    assert wait_for(lambda: next_value() == base + 3, 5), values
    pub.publish("rc/0", b"", qos=1, retain=True)
    assert wait_for(lambda: next_value() == base + 2, 5), values


def test_retained_delivery_respects_receive_maximum_MQTT_3_3_4_9(broker):
    """Retained messages sent on subscribe count against the client's Receive Maximum
    [MQTT-3.3.4-9] like any others: with 2, ten retained QoS 1 messages come two at a
    time as they are acknowledged, all ten."""
    pub = connected(broker, "rrm-pub", V5)
    for i in range(10):
        pub.publish("rrm/%d" % i, b"%d" % i, qos=1, retain=True, pid=i + 1)
    c = RawClient(broker, V5)
    c.connect("rrm-sub", props={"receive_maximum": 2})
    c.subscribe([("rrm/+", 1)])
    seen = []
    while len(seen) < 10:
        batch = c.recv_publishes(2 if len(seen) < 10 else 0)
        assert publishes(c, 0.3) == [], "more than Receive Maximum outstanding"
        seen += batch
        for p in batch:
            c.send(R.puback(p.pid))
    assert sorted(p.payload for p in seen) == sorted(b"%d" % i for i in range(10))
    assert all(p.retain for p in seen)
