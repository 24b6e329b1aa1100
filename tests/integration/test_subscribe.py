"""SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK and topic matching (MQTT 5.0 sections 3.8-3.11,
3.3.4, 4.7; MQTT 3.1.1 sections 3.8-3.11, 4.7).

Raw clients see the exact SUBACK/UNSUBACK codes and every PUBLISH delivered, so a
missing or an extra delivery fails the test.
"""
import pytest

import rawmqtt as R
from rawmqtt import RawClient, connected, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def publishes(c, settle=0.4):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


# ---------------------------------------------------------------- matching

# Section 4.7.1 examples. filter -> the topics it matches among TOPICS.
TOPICS = ["sport", "sport/", "sport/tennis", "sport/tennis/player1",
          "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon",
          "/finance", "finance", "sport/badminton/player1"]
MATCHES = {
    "sport/tennis/player1/#": ["sport/tennis/player1", "sport/tennis/player1/ranking",
                               "sport/tennis/player1/score/wimbledon"],
    "sport/#": ["sport", "sport/", "sport/tennis", "sport/tennis/player1",
                "sport/tennis/player1/ranking", "sport/tennis/player1/score/wimbledon",
                "sport/badminton/player1"],
    "#": TOPICS,
    "sport/tennis/+": ["sport/tennis/player1"],
    "sport/+": ["sport/", "sport/tennis"],
    "+": ["sport", "finance"],
    "+/+": ["sport/", "sport/tennis", "/finance"],
    "/+": ["/finance"],
    "+/tennis/#": ["sport/tennis", "sport/tennis/player1", "sport/tennis/player1/ranking",
                   "sport/tennis/player1/score/wimbledon"],
    "sport/+/player1": ["sport/tennis/player1", "sport/badminton/player1"],
    "sport/tennis": ["sport/tennis"],
}


@pytest.mark.parametrize("version", VERSIONS)
def test_wildcard_matching_MQTT_4_7_1_2(broker, version):
    """Section 4.7.1: '#' matches the parent level and any number of levels below
    [MQTT-4.7.1-2]; '+' matches exactly one level, which may be empty [MQTT-4.7.1-3]. One
    subscriber per filter; each gets exactly the topics its filter matches, in order."""
    subs = {}
    for i, f in enumerate(MATCHES):
        c = connected(broker, "m%d" % i, version)
        assert c.subscribe([(f, 1)]) == [1]
        subs[f] = c
    pub = connected(broker, "m-pub", V5)
    for t in TOPICS:
        pub.publish(t, t.encode(), qos=1)
    for f, c in subs.items():
        want = MATCHES[f]
        got = c.recv_publishes(len(want)) if want else []
        assert [p.topic for p in got] == want, f
        assert all(p.payload == p.topic.encode() for p in got)
    for f, c in subs.items():
        assert publishes(c, 0.05) == [], f


@pytest.mark.parametrize("version", VERSIONS)
def test_dollar_topics_not_matched_by_leading_wildcards_MQTT_4_7_2_1(make_broker, version):
    """[MQTT-4.7.2-1] filters starting with '#' or '+' do not match topics starting with
    '$': a '#' or '+/...' subscriber gets neither the broker's $SYS messages (retained on
    subscribe or live) nor a client's '$foo/...' message; '$SYS/#' and '$foo/#' do."""
    b = make_broker(env={"EMQX_SYS_TOPICS__SYS_MSG_INTERVAL": "1s",
                         "EMQX_SYS_TOPICS__SYS_HEARTBEAT_INTERVAL": "1s"})
    hash_ = connected(b, "hash", version)
    assert hash_.subscribe([("#", 0)]) == [0]
    plus = connected(b, "plus", version)
    assert plus.subscribe([("+/x", 0), ("+/brokers/#", 0)]) == [0, 0]
    sys_ = connected(b, "sys", version)
    assert sys_.subscribe([("$SYS/#", 0)]) == [0]
    got = sys_.recv_publishes(1)  # the retained $SYS messages arrive at once
    assert got[0].topic.startswith("$SYS/brokers") and got[0].retain
    foo = connected(b, "foo", version)
    assert foo.subscribe([("$foo/#", 0)]) == [0]
    pub = connected(b, "dollar-pub", V5)
    pub.publish("$foo/x", b"dollar", qos=1)
    pub.publish("plain/x", b"plain", qos=1)
    assert [(p.topic, p.payload) for p in foo.recv_publishes(1)] == [("$foo/x", b"dollar")]
    live_sys = [p for p in sys_.recv_all(1.6) if p.type == R.PUBLISH and not p.retain]
    assert live_sys, "no live $SYS message within 1.6 s"
    assert [(p.topic, p.payload) for p in publishes(hash_, 0.1)] == [("plain/x", b"plain")]
    assert [(p.topic, p.payload) for p in publishes(plus, 0.1)] == [("plain/x", b"plain")]
    assert publishes(foo, 0.1) == []


# ---------------------------------------------------------------- SUBACK

@pytest.mark.parametrize("version", VERSIONS)
def test_suback_packet_id_and_granted_qos_MQTT_3_8_4_2(broker, version):
    """[MQTT-3.8.4-1]/[MQTT-3.8.4-2] SUBACK with the SUBSCRIBE's packet id; one code per
    filter in order [MQTT-3.8.4-6] [MQTT-3.9.3-1], the granted QoS [MQTT-3.8.4-7]."""
    c = connected(broker, "suback", version)
    c.send(R.subscribe(0x0A0B, [("s/0", 0), ("s/1", 1), ("s/2", 2)], version=version))
    ack = c.expect(R.SUBACK)
    assert ack.pid == 0x0A0B and ack.codes == [0, 1, 2]
    if version == V311:
        assert ack.raw == b"\x90\x05\x0a\x0b\x00\x01\x02"


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("bad", ["a/#/b", "a+", "#a", "a/b#", "+a/b", "a/+b", "",
                                 "$share/g", "$share//t", "$share/g+/t", "$share/g#/t",
                                 "$share/g/a/#/b", "$queue/"])
def test_invalid_filter_refused_MQTT_4_7_1_2(broker, version, bad):
    """Filters breaking 4.7.1 ('#' last and alone [MQTT-4.7.1-2], '+' alone
    [MQTT-4.7.1-3]), empty [MQTT-4.7.3-1], or a bad $share ([MQTT-4.8.2-1]/[MQTT-4.8.2-2]):
    v5 SUBACK 0x8F (Topic Filter invalid), 3.1.1 0x80. The filters around it in the same
    SUBSCRIBE are handled as separate requests [MQTT-3.8.4-5], and the connection stays."""
    c = connected(broker, "bad", version)
    codes = c.subscribe([("ok/1", 1), (bad, 1), ("ok/2", 2)])
    assert codes == [1, 0x8F if version == V5 else 0x80, 2]
    pub = connected(broker, "bad-pub", V5)
    pub.publish("ok/2", b"x", qos=1)
    assert [p.topic for p in c.recv_publishes(1)] == ["ok/2"]


@pytest.mark.parametrize("version", VERSIONS)
def test_wildcard_subscription_disabled_0xA2(make_broker, version):
    """mqtt.wildcard_subscription=false (CONNACK Wildcard Subscription Available 0): a
    filter with a wildcard is refused, v5 0xA2 (Wildcard Subscriptions not supported),
    3.1.1 0x80 [MQTT-3.8.3-2 (3.1.1)]; plain filters work."""
    b = make_broker(env={"EMQX_MQTT__WILDCARD_SUBSCRIPTION": "false"})
    c = connected(b, "nowild", version)
    bad = 0xA2 if version == V5 else 0x80
    assert c.subscribe([("w/+", 0), ("w/#", 0), ("w/t", 1), ("$share/g/w/+", 0)]) == [
        bad, bad, 1, bad]


@pytest.mark.parametrize("version", VERSIONS)
def test_shared_subscription_disabled_0x9E(make_broker, version):
    """mqtt.shared_subscription=false (CONNACK Shared Subscription Available 0): v5 SUBACK
    0x9E (Shared Subscriptions not supported), 3.1.1 0x80."""
    b = make_broker(env={"EMQX_MQTT__SHARED_SUBSCRIPTION": "false"})
    c = connected(b, "noshare", version)
    bad = 0x9E if version == V5 else 0x80
    assert c.subscribe([("$share/g/t", 1), ("$queue/t", 1), ("t", 1)]) == [bad, bad, 1]


@pytest.mark.parametrize("version", VERSIONS)
def test_max_subscriptions_quota_0x97(make_broker, version):
    """mqtt.max_subscriptions=2: a third filter gets v5 0x97 (Quota exceeded) / 3.1.1
    0x80; subscribing again to a filter the session has is a replacement, not a new one
    [MQTT-3.8.4-3]; after an UNSUBSCRIBE there is room again."""
    b = make_broker(env={"EMQX_MQTT__MAX_SUBSCRIPTIONS": "2"})
    c = connected(b, "quota", version)
    bad = 0x97 if version == V5 else 0x80
    assert c.subscribe([("q/1", 0), ("q/2", 0), ("q/3", 0)]) == [0, 0, bad]
    assert c.subscribe([("q/1", 1)], pid=2) == [1]
    c.unsubscribe(["q/2"], pid=3)
    assert c.subscribe([("q/3", 0)], pid=4) == [0]
    pub = connected(b, "quota-pub", V5)
    for t in ("q/1", "q/2", "q/3"):
        pub.publish(t, t.encode(), qos=1)
    assert sorted(p.topic for p in c.recv_publishes(2)) == ["q/1", "q/3"]
    assert publishes(c) == []


def test_max_qos_allowed_downgrades_granted_qos_MQTT_3_2_2_10(make_broker):
    """mqtt.max_qos_allowed=1: SUBSCRIBE with QoS 2 is still accepted [MQTT-3.2.2-10] and
    granted QoS 1 [MQTT-3.8.4-7]; deliveries are at QoS 1."""
    b = make_broker(env={"EMQX_MQTT__MAX_QOS_ALLOWED": "1"})
    c = connected(b, "mq1", V5)
    assert c.subscribe([("mq1/t", 2)]) == [1]
    pub = connected(b, "mq1-pub", V5)
    pub.publish("mq1/t", b"x", qos=1)
    assert [p.qos for p in c.recv_publishes(1)] == [1]


def test_max_topic_levels(make_broker):
    """mqtt.max_topic_levels=3: a deeper filter is refused (0x8F) and a deeper topic name
    ends the connection with DISCONNECT 0x90 (Topic Name invalid)."""
    b = make_broker(env={"EMQX_MQTT__MAX_TOPIC_LEVELS": "3"})
    c = connected(b, "levels", V5)
    assert c.subscribe([("a/b/c", 0), ("a/b/c/d", 0), ("a/+/#", 0)]) == [0, 0x8F, 0]
    c.publish("a/b/c", b"ok")
    assert [p.topic for p in c.recv_publishes(1)] == ["a/b/c"]  # overlapping: one copy
    c.send(R.publish("a/b/c/d", b"deep"))
    assert [(p.type, p.code) for p in c.expect_closed(3) if p.type != R.PUBLISH] == [
        (R.DISCONNECT, 0x90)]


# ---------------------------------------------------------------- subscription options

def test_subscription_identifier_delivered_MQTT_3_3_4_3(broker):
    """[MQTT-3.3.4-3] a message matching a subscription with a Subscription Identifier
    carries it; one matching only a subscription without one carries none. The largest
    value (268435455) works; a new SUBSCRIBE for the filter replaces the id."""
    c = connected(broker, "sid", V5)
    assert c.subscribe([("sid/+", 1)], props={"subscription_identifier": 7}) == [1]
    assert c.subscribe([("other/t", 1)], pid=2) == [1]
    assert c.subscribe([("big/t", 0)], pid=3, props={"subscription_identifier": 268435455}) == [0]
    pub = connected(broker, "sid-pub", V5)
    pub.publish("sid/a", b"1", qos=1)
    pub.publish("other/t", b"2", qos=1)
    pub.publish("big/t", b"3", qos=1)
    got = c.recv_publishes(3)
    assert [(p.payload, p.props.get("subscription_identifier")) for p in got] == [
        (b"1", [7]), (b"2", None), (b"3", [268435455])]
    for p in got:
        c.ack(p)
    assert c.subscribe([("sid/+", 1)], pid=4, props={"subscription_identifier": 9}) == [1]
    pub.publish("sid/a", b"4", qos=1)
    p = c.wait_for(R.PUBLISH)
    assert p.props["subscription_identifier"] == [9]


def test_subscription_identifier_zero_is_protocol_error(broker):
    """3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error: DISCONNECT 0x82 (or
    0x81 if treated as malformed)."""
    c = connected(broker, "sid0", V5)
    c.send(R.subscribe(1, [("x", 0)], props={"subscription_identifier": 0}))
    pkts = c.expect_closed(3)
    assert len(pkts) == 1 and pkts[0].type == R.DISCONNECT and pkts[0].code in (0x81, 0x82)


def test_overlapping_subscriptions_one_copy_all_ids_MQTT_3_3_4_4(broker):
    """Overlapping subscriptions of one client: the message goes at the highest granted
    QoS [MQTT-3.3.4-2]; sent once, it carries every matching Subscription Identifier
    [MQTT-3.3.4-3] [MQTT-3.3.4-4]."""
    c = connected(broker, "ovl", V5)
    c.subscribe([("ov/+", 0)], pid=1, props={"subscription_identifier": 1})
    c.subscribe([("ov/#", 2)], pid=2, props={"subscription_identifier": 2})
    c.subscribe([("ov/x", 1)], pid=3)
    c.subscribe([("+/x", 1)], pid=4, props={"subscription_identifier": 4})
    pub = connected(broker, "ovl-pub", V5)
    pub.publish("ov/x", b"x", qos=2)
    got = c.recv_publishes(1)
    assert publishes(c) == []
    p = got[0]
    assert p.qos == 2
    assert sorted(p.props["subscription_identifier"]) == [1, 2, 4]


def test_v311_overlapping_subscriptions_max_qos_MQTT_3_3_5_1(broker):
    """3.1.1 [MQTT-3.3.5-1]: overlapping subscriptions deliver respecting the maximum QoS
    of all matching subscriptions (extra copies are allowed there)."""
    c = connected(broker, "ovl3", V311)
    c.subscribe([("ov3/+", 0), ("ov3/#", 2), ("ov3/x", 1)])
    pub = connected(broker, "ovl3-pub", V5)
    pub.publish("ov3/x", b"x", qos=2)
    got = c.recv_publishes(1) + publishes(c)
    assert 1 <= len(got) <= 3
    assert max(p.qos for p in got) == 2
    assert all(p.payload == b"x" for p in got)


def test_no_local_MQTT_3_8_3_3(broker):
    """[MQTT-3.8.3-3] No Local=1: the client's own messages are not forwarded to it on
    that subscription; others' are. Its overlapping subscription without No Local still
    gets them, once."""
    a = connected(broker, "nl-a", V5)
    assert a.subscribe([("nl/t", R.sub_options(1, no_local=True))]) == [1]
    b = connected(broker, "nl-b", V5)
    assert b.subscribe([("nl/t", R.sub_options(1))]) == [1]
    a.publish("nl/t", b"from-a", qos=1)
    b.publish("nl/t", b"from-b", qos=1, pid=2)
    assert [p.payload for p in a.recv_publishes(1)] == [b"from-b"]
    assert sorted(p.payload for p in b.recv_publishes(2)) == [b"from-a", b"from-b"]
    assert publishes(a) == [] and publishes(b, 0.05) == []
    assert a.subscribe([("nl/+", R.sub_options(1))], pid=3) == [1]
    a.publish("nl/t", b"again", qos=1, pid=4)
    got = a.recv_publishes(1)
    assert [p.payload for p in got] == [b"again"]
    assert publishes(a) == []


def test_no_local_on_shared_subscription_is_protocol_error_MQTT_3_8_3_4(broker):
    """[MQTT-3.8.3-4] No Local on a Shared Subscription is a Protocol Error: DISCONNECT
    0x82."""
    c = connected(broker, "nl-share", V5)
    c.send(R.subscribe(1, [("$share/g/t", R.sub_options(1, no_local=True))]))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x82)]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("sub_qos", [0, 1, 2])
def test_subscription_max_qos_downgrade_MQTT_3_8_4_8(broker, version, sub_qos):
    """[MQTT-3.8.4-8] (3.1.1 [MQTT-3.8.4-6]): delivered QoS = min(published, granted); a
    QoS 0 delivery has no packet id."""
    c = connected(broker, "dg", version)
    assert c.subscribe([("dg/t", sub_qos)]) == [sub_qos]
    pub = connected(broker, "dg-pub", V5)
    for q in (0, 1, 2):
        pub.publish("dg/t", b"%d" % q, qos=q, pid=q + 1)
    got = c.recv_publishes(3)
    assert [(p.payload, p.qos) for p in got] == [(b"%d" % q, min(q, sub_qos)) for q in (0, 1, 2)]
    assert all((p.pid is None) == (p.qos == 0) for p in got)


def test_retain_as_published_MQTT_3_3_1_12_13(broker):
    """Live messages: Retain As Published 0 -> RETAIN 0 [MQTT-3.3.1-12]; 1 -> RETAIN as
    published [MQTT-3.3.1-13]. On subscribe, retained messages come with RETAIN 1 either
    way [MQTT-3.3.1-9]."""
    rap0 = connected(broker, "rap0", V5)
    rap0.subscribe([("rap/t", R.sub_options(1))])
    rap1 = connected(broker, "rap1", V5)
    rap1.subscribe([("rap/t", R.sub_options(1, retain_as_published=True))])
    pub = connected(broker, "rap-pub", V5)
    pub.publish("rap/t", b"retained", qos=1, retain=True)
    pub.publish("rap/t", b"plain", qos=1, pid=2)
    assert [(p.payload, p.retain) for p in rap0.recv_publishes(2)] == [
        (b"retained", False), (b"plain", False)]
    assert [(p.payload, p.retain) for p in rap1.recv_publishes(2)] == [
        (b"retained", True), (b"plain", False)]
    late0 = connected(broker, "late0", V5)
    late0.subscribe([("rap/t", R.sub_options(1))])
    late1 = connected(broker, "late1", V5)
    late1.subscribe([("rap/t", R.sub_options(1, retain_as_published=True))])
    assert [(p.payload, p.retain) for p in late0.recv_publishes(1)] == [(b"retained", True)]
    assert [(p.payload, p.retain) for p in late1.recv_publishes(1)] == [(b"retained", True)]


def test_v311_live_message_retain_flag_0_MQTT_3_3_1_9(broker):
    """3.1.1 [MQTT-3.3.1-9]: a message sent because it matches an established
    subscription has RETAIN 0, whatever the publisher set."""
    c = connected(broker, "r311", V311)
    c.subscribe([("r311/t", 1)])
    pub = connected(broker, "r311-pub", V311)
    pub.publish("r311/t", b"x", qos=1, retain=True)
    assert [(p.payload, p.retain) for p in c.recv_publishes(1)] == [(b"x", False)]


@pytest.mark.parametrize("version", VERSIONS)
def test_resubscribe_replaces_subscription_MQTT_3_8_4_3(broker, version):
    """[MQTT-3.8.4-3] a SUBSCRIBE with a filter the session has replaces that
    subscription: one delivery, at the new QoS."""
    c = connected(broker, "resub", version)
    assert c.subscribe([("rs/t", 0)]) == [0]
    assert c.subscribe([("rs/t", 2)], pid=2) == [2]
    pub = connected(broker, "resub-pub", V5)
    pub.publish("rs/t", b"x", qos=2)
    got = c.recv_publishes(1)
    assert [(p.payload, p.qos) for p in got] == [(b"x", 2)]
    assert publishes(c) == []


# ---------------------------------------------------------------- UNSUBSCRIBE

def test_v5_unsuback_reason_codes_MQTT_3_11_3_1(broker):
    """UNSUBACK has one reason code per filter, in order [MQTT-3.11.3-1]: 0x00 Success for
    a subscription that existed, 0x11 No subscription existed otherwise; the filter is
    compared character by character [MQTT-3.10.4-1] ("u/+" does not remove "u/a")."""
    c = connected(broker, "unsub", V5)
    c.subscribe([("u/a", 0), ("u/#", 0), ("$share/g/u/s", 0)])
    c.send(R.unsubscribe(0x0102, ["u/a", "u/b", "u/+", "$share/g/u/s", "u/a"]))
    ack = c.expect(R.UNSUBACK)
    assert ack.pid == 0x0102  # [MQTT-3.10.4-4]
    assert ack.codes == [0x00, 0x11, 0x11, 0x00, 0x11]


def test_v311_unsuback_bytes_MQTT_3_10_4_5(broker):
    """3.1.1: UNSUBACK (b0 02 id) with the UNSUBSCRIBE's id [MQTT-3.10.4-4], even when
    nothing was subscribed [MQTT-3.10.4-5]."""
    c = connected(broker, "unsub3", V311)
    c.send(R.unsubscribe(0x0304, ["never/subscribed"], version=V311))
    assert c.recv().raw == b"\xb0\x02\x03\x04"


@pytest.mark.parametrize("version", VERSIONS)
def test_no_delivery_after_unsubscribe_MQTT_3_10_4_1(broker, version):
    """[MQTT-3.10.4-1] after UNSUBSCRIBE the subscription is gone: deliveries stop, other
    subscriptions of the client go on (shared ones included)."""
    c = connected(broker, "stop", version)
    c.subscribe([("st/a", 1), ("st/b", 1), ("$share/g/st/c", 1)])
    pub = connected(broker, "stop-pub", V5)
    for t in ("st/a", "st/b", "st/c"):
        pub.publish(t, b"1", qos=1)
    got = c.recv_publishes(3)
    for p in got:
        c.ack(p)
    c.unsubscribe(["st/a", "$share/g/st/c"], pid=2)
    for t in ("st/a", "st/b", "st/c"):
        pub.publish(t, b"2", qos=1)
    got = c.recv_publishes(1)
    assert [(p.topic, p.payload) for p in got] == [("st/b", b"2")]
    c.ack(got[0])
    assert publishes(c) == []


# ---------------------------------------------------------------- malformed SUBSCRIBE/UNSUBSCRIBE

MALFORMED_SUB = [(v, c) for v in (V311, V5)
                 for c in ("no_filters", "flags_0000", "flags_0011", "options_reserved_bits",
                           "qos_3", "retain_handling_3", "unsub_no_filters",
                           "unsub_flags_0000", "packet_id_0")
                 if not (v == V311 and c == "retain_handling_3")]  # no Retain Handling in 3.1.1


@pytest.mark.parametrize("version,case", MALFORMED_SUB,
                         ids=["%s-%s" % ("v311" if v == V311 else "v5", c) for v, c in MALFORMED_SUB])
def test_malformed_subscribe_closes(broker, version, case):
    """SUBSCRIBE needs flags 0010 [MQTT-3.8.1-1] and at least one filter [MQTT-3.8.3-2]
    (3.1.1 [MQTT-3.8.3-3]); reserved option bits must be 0 [MQTT-3.8.3-5] (3.1.1
    [MQTT-3-8.3-4], also QoS 3); Retain Handling 3 is a Protocol Error; UNSUBSCRIBE needs
    flags 0010 [MQTT-3.10.1-1] and a filter [MQTT-3.10.3-2]; packet id 0 is not allowed
    [MQTT-2.2.1-3]. The connection is closed (v5 with a DISCONNECT >= 0x80 first)."""
    pid = R.u16(1)
    props = b"\x00" if version == V5 else b""
    if case == "no_filters":
        data = R.packet(R.SUBSCRIBE, 2, pid + props)
    elif case == "flags_0000":
        data = R.packet(R.SUBSCRIBE, 0, R.subscribe(1, [("a", 0)], version=version)[2:])
    elif case == "flags_0011":
        data = R.packet(R.SUBSCRIBE, 3, R.subscribe(1, [("a", 0)], version=version)[2:])
    elif case == "options_reserved_bits":
        data = R.subscribe(1, [("a", 0xC1)], version=version)
    elif case == "qos_3":
        data = R.subscribe(1, [("a", 3)], version=version)
    elif case == "retain_handling_3":
        data = R.subscribe(1, [("a", 0x30)], version=version)
    elif case == "unsub_no_filters":
        data = R.packet(R.UNSUBSCRIBE, 2, pid + props)
    elif case == "unsub_flags_0000":
        data = R.packet(R.UNSUBSCRIBE, 0, R.unsubscribe(1, ["a"], version=version)[2:])
    else:
        data = R.subscribe(0, [("a", 0)], version=version)
    c = connected(broker, "malsub", version)
    c.send(data)
    pkts = c.expect_closed(3)
    assert not any(p.type in (R.SUBACK, R.UNSUBACK) for p in pkts), pkts
    if version == V5:
        assert len(pkts) == 1 and pkts[0].type == R.DISCONNECT and pkts[0].code >= 0x80, pkts
    else:
        assert pkts == []


def test_no_topic_normalization_MQTT_4_7_3_4(broker):
    """[MQTT-4.7.3-4] matching compares characters as they are: no case folding, no
    Unicode normalization (composed vs decomposed é), empty levels and trailing '/'
    count, spaces are ordinary characters (4.7.3)."""
    c = connected(broker, "norm", V5)
    c.subscribe([("caf\u00e9/t", 0), ("Accounts", 0), ("a b/c d", 0), ("x/y", 0)])
    pub = connected(broker, "norm-pub", V5)
    for t in ("cafe\u0301/t", "ACCOUNTS", "accounts", "x//y", "x/y/", "/x/y",
              "caf\u00e9/t", "Accounts", "a b/c d", "x/y"):
        pub.publish(t, t.encode(), qos=1)
    got = c.recv_publishes(4)
    assert [p.topic for p in got] == ["caf\u00e9/t", "Accounts", "a b/c d", "x/y"]
    assert publishes(c) == []


def test_v5_unsubscribe_invalid_filter_0x8F(broker):
    """UNSUBACK reason 0x8F (Topic Filter invalid) for a malformed filter, next to the
    others' codes (table 3-9)."""
    c = connected(broker, "unsub-bad", V5)
    c.subscribe([("ub/t", 0)])
    assert c.unsubscribe(["a/#/b", "ub/t"], pid=2) == [0x8F, 0x00]
