"""Shared subscriptions (MQTT 5.0 section 4.8.2; EMQX's $queue/ prefix and
mqtt.shared_subscription_strategy: round_robin, random, sticky, hash_clientid,
hash_topic).

Each message published to a shared subscription goes to exactly one member of each
group: the tests count every delivery at every member (acknowledging as they go) and
check exact totals, then wait a settle to prove nothing more arrives.
"""
import time

import pytest

import rawmqtt as R
from rawmqtt import RawClient, connected, V311, V5


def collect(members, total, timeout=10.0, settle=0.4):
    """Reads (and acknowledges) PUBLISH packets from all members until `total` arrived
    in all, then for `settle` more seconds; returns {member index: [packets]}."""
    got = {i: [] for i in range(len(members))}
    deadline = time.monotonic() + timeout
    n = 0
    while n < total and time.monotonic() < deadline:
        for i, m in enumerate(members):
            try:
                p = m.recv(0.02)
            except TimeoutError:
                continue
            if p.type == R.PUBLISH:
                got[i].append(p)
                n += 1
                if p.qos:
                    m.ack(p)
    end = time.monotonic() + settle
    while time.monotonic() < end:
        for i, m in enumerate(members):
            try:
                p = m.recv(0.02)
            except (TimeoutError, R.Closed):
                continue
            if p.type == R.PUBLISH:
                got[i].append(p)
                if p.qos:
                    m.ack(p)
    return got


def payloads(got):
    return sorted(p.payload for ps in got.values() for p in ps)


def group(broker, flt, n, version=V5, qos=1, prefix="m"):
    members = []
    for i in range(n):
        v = version if version else (V5 if i % 2 == 0 else V311)
        c = connected(broker, "%s%d" % (prefix, i), v)
        assert c.subscribe([(flt, qos)]) == [qos]
        members.append(c)
    return members


def publish_n(broker, topic, n, qos=1, client_id="shpub"):
    pub = connected(broker, client_id, V5)
    for i in range(n):
        pub.publish(topic, b"%03d" % i, qos=qos, pid=i % 60000 + 1)
    return [b"%03d" % i for i in range(n)]


# ---------------------------------------------------------------- delivery rules

@pytest.mark.parametrize("qos", [0, 1, 2])
def test_one_delivery_per_message_per_group(broker, qos):
    """Section 4.8.2: each message matching a shared subscription goes to one member of
    the group: 30 messages over 3 members (v5 and 3.1.1 mixed) arrive exactly once in
    total, at the subscription's QoS."""
    members = group(broker, "$share/g/sh/+", 3, version=None, qos=qos)
    sent = publish_n(broker, "sh/t", 30, qos=qos)
    got = collect(members, 30)
    assert payloads(got) == sent
    assert all(p.qos == qos and p.topic == "sh/t" for ps in got.values() for p in ps)


def test_queue_prefix(broker):
    """EMQX's $queue/t is the shared subscription $share/$queue/t: one delivery per
    message over its members."""
    members = group(broker, "$queue/q/t", 3)
    sent = publish_n(broker, "q/t", 30)
    assert payloads(collect(members, 30)) == sent


def test_each_group_gets_every_message(broker):
    """Section 4.8.2: every group gets each message once (one member each), and a
    non-shared subscriber gets every message too."""
    g1 = group(broker, "$share/g1/two/t", 2, prefix="a")
    g2 = group(broker, "$share/g2/two/t", 3, prefix="b")
    plain = connected(broker, "plain", V5)
    plain.subscribe([("two/t", 1)])
    sent = publish_n(broker, "two/t", 20)
    assert payloads(collect(g1, 20)) == sent
    assert payloads(collect(g2, 20)) == sent
    assert payloads(collect([plain], 20)) == sent


def test_shared_and_plain_subscription_of_one_client(broker):
    """A client with a shared and a plain subscription matching one message gets it
    through the plain one, and through the shared one when picked: with it the only
    member, twice."""
    c = connected(broker, "both", V5)
    c.subscribe([("$share/g/bo/t", 1), ("bo/t", 1)])
    publish_n(broker, "bo/t", 3)
    got = collect([c], 6)
    assert payloads(got) == sorted([b"000", b"001", b"002"] * 2)


def test_member_leaving_and_unsubscribing(broker):
    """Members that leave (UNSUBSCRIBE, or disconnect with a session that ends) get
    nothing more; the ones left get every later message."""
    members = group(broker, "$share/g/lv/t", 4)
    members[0].unsubscribe(["$share/g/lv/t"], pid=2)
    members[1].disconnect()
    stay = members[2:]
    sent = publish_n(broker, "lv/t", 20)
    assert payloads(collect(stay, 20)) == sent
    assert [p for p in members[0].recv_all(0.2) if p.type == R.PUBLISH] == []


# ---------------------------------------------------------------- strategies

def strategy_broker(make_broker, strategy):
    return make_broker(env={"EMQX_MQTT__SHARED_SUBSCRIPTION_STRATEGY": strategy,
                            "EMQX_NODE__IO_THREADS": "2"})


def test_round_robin_even_split(make_broker):
    """round_robin: 30 messages over 3 members from one publisher: exactly 10 each."""
    b = strategy_broker(make_broker, "round_robin")
    members = group(b, "$share/g/rr/t", 3)
    sent = publish_n(b, "rr/t", 30)
    got = collect(members, 30)
    assert payloads(got) == sent
    assert sorted(len(ps) for ps in got.values()) == [10, 10, 10]


def test_random_reaches_every_member(make_broker):
    """random: over 200 messages every one of 3 members gets some (the chance one gets
    none is 3 x (2/3)^200), the total is exact."""
    b = strategy_broker(make_broker, "random")
    members = group(b, "$share/g/rnd/t", 3)
    sent = publish_n(b, "rnd/t", 200)
    got = collect(members, 200, timeout=20)
    assert payloads(got) == sent
    assert all(len(ps) > 0 for ps in got.values()), {i: len(ps) for i, ps in got.items()}


def test_sticky_keeps_one_member(make_broker):
    """sticky: every message goes to the same member while it stays subscribed; when it
    leaves, all the following go to one of the others."""
    b = strategy_broker(make_broker, "sticky")
    members = group(b, "$share/g/st/t", 3)
    sent = publish_n(b, "st/t", 30)
    got = collect(members, 30)
    assert payloads(got) == sent
    counts = sorted(len(ps) for ps in got.values())
    assert counts == [0, 0, 30], counts
    chosen = next(i for i, ps in got.items() if ps)
    members[chosen].unsubscribe(["$share/g/st/t"], pid=9)
    rest = [m for i, m in enumerate(members) if i != chosen]
    sent = publish_n(b, "st/t", 30, client_id="shpub2")
    got = collect(rest, 30)
    assert payloads(got) == sent
    assert sorted(len(ps) for ps in got.values()) == [0, 30]


def test_hash_clientid_same_publisher_same_member(make_broker):
    """hash_clientid: all messages of one publisher go to one member; with 12 publishers
    more than one member is used; totals exact."""
    b = strategy_broker(make_broker, "hash_clientid")
    members = group(b, "$share/g/hc/t", 3)
    sent = []
    for k in range(12):
        pub = connected(b, "hc-pub-%d" % k, V5)
        for i in range(5):
            pub.publish("hc/t", b"%02d-%d" % (k, i), qos=1, pid=i + 1)
            sent.append(b"%02d-%d" % (k, i))
        pub.disconnect()
    got = collect(members, 60)
    assert payloads(got) == sorted(sent)
    owner = {}
    for i, ps in got.items():
        for p in ps:
            k = p.payload.split(b"-")[0]
            assert owner.setdefault(k, i) == i, "publisher %s split over members" % k
    assert len(set(owner.values())) > 1


def test_hash_topic_same_topic_same_member(make_broker):
    """hash_topic: all messages on one topic go to one member; with 12 topics more than
    one member is used; totals exact."""
    b = strategy_broker(make_broker, "hash_topic")
    members = group(b, "$share/g/ht/+", 3)
    pub = connected(b, "ht-pub", V5)
    sent = []
    for i in range(5):
        for k in range(12):
            pub.publish("ht/%d" % k, b"%02d-%d" % (k, i), qos=1, pid=k + 1)
            sent.append(b"%02d-%d" % (k, i))
    got = collect(members, 60)
    assert payloads(got) == sorted(sent)
    owner = {}
    for i, ps in got.items():
        for p in ps:
            assert owner.setdefault(p.topic, i) == i, "topic %s split over members" % p.topic
    assert len(owner) == 12 and len(set(owner.values())) > 1


# ---------------------------------------------------------------- redispatch

def test_unacked_messages_redispatched_when_member_leaves(broker):
    """Section 4.8.2: if the session of the member chosen for a QoS 1 message terminates
    before it acknowledged, the server SHOULD send the message to another member (EMQX
    redispatches). Both the message in flight and the one waiting behind Receive Maximum
    1 reach the other member, once each."""
    a = RawClient(broker, V5)
    a.connect("redis-a", props={"receive_maximum": 1})
    a.subscribe([("$share/g/rd/t", 1)])
    pub = connected(broker, "redis-pub", V5)
    pub.publish("rd/t", b"m1", qos=1, pid=1)
    pub.publish("rd/t", b"m2", qos=1, pid=2)
    p = a.expect(R.PUBLISH)
    assert p.payload == b"m1"  # in flight, never acknowledged; m2 waits behind it
    b_ = connected(broker, "redis-b", V5)
    b_.subscribe([("$share/g/rd/t", 1)])
    a.abort()  # session expiry 0: the session ends with the connection
    got = collect([b_], 2, timeout=5)
    assert payloads(got) == [b"m1", b"m2"]


def test_shared_subscription_identifier_and_qos(broker):
    """A shared subscription's Subscription Identifier comes with the messages it
    delivers [MQTT-3.3.4-3], at min(published, granted QoS) [MQTT-3.8.4-8]."""
    c = connected(broker, "sh-sid", V5)
    assert c.subscribe([("$share/g/sid/t", 1)], props={"subscription_identifier": 11}) == [1]
    publish_n(broker, "sid/t", 2, qos=2)
    got = collect([c], 2)[0]
    assert [(p.payload, p.qos, p.props.get("subscription_identifier")) for p in got] == [
        (b"000", 1, [11]), (b"001", 1, [11])]


@pytest.mark.parametrize("strategy", ["random", "round_robin", "round_robin_per_group",
                                      "sticky", "local", "hash_topic", "hash_clientid"])
def test_every_strategy_delivers_each_message_once(make_broker, strategy):
    """Whatever mqtt.shared_subscription_strategy, each message goes to exactly one member
    of the group (section 4.8.2): 40 messages on 4 topics over 3 members, exact total."""
    b = strategy_broker(make_broker, strategy)
    members = group(b, "$share/g/all/+", 3)
    pub = connected(b, "all-pub", V5)
    sent = []
    for i in range(40):
        pub.publish("all/%d" % (i % 4), b"%03d" % i, qos=1, pid=i + 1)
        sent.append(b"%03d" % i)
    assert payloads(collect(members, 40)) == sent


def test_negative_ack_discards_shared_message_MQTT_4_8_2_6(broker):
    """[MQTT-4.8.2-6] a member answering PUBACK with a reason code >= 0x80 makes the
    server discard the message: no other member gets it, not even after the first
    member's session ends; the next message flows."""
    a = RawClient(broker, V5)
    a.connect("nack-a", props={"receive_maximum": 1})
    a.subscribe([("$share/g/nk/t", 1)])
    pub = connected(broker, "nack-pub", V5)
    pub.publish("nk/t", b"refused", qos=1, pid=1)
    p = a.expect(R.PUBLISH)
    assert p.payload == b"refused"
    b_ = connected(broker, "nack-b", V5)
    b_.subscribe([("$share/g/nk/t", 1)])
    a.send(R.puback(p.pid, code=0x80))
    a.disconnect()
    assert [q for q in b_.recv_all(0.5) if q.type == R.PUBLISH] == []
    pub.publish("nk/t", b"next", qos=1, pid=2)
    assert payloads(collect([b_], 1)) == [b"next"]
