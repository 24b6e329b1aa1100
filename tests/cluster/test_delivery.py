"""Messages across nodes: exact and wildcard subscriptions with exact counts, one forward
per peer however many of its subscribers match, shared subscriptions delivered once per
group in the whole cluster, per-publisher order, and retained messages seen from every
node with the last writer winning everywhere. 3- and 5-node clusters of real emqxd
processes on loopback (cluster_support.py)."""
import time

import pytest

import cluster_support as cs

V311 = 4
V5 = 5


def forward(c, i, what):
    return c.status(i)["forward"][what]


def test_exact_and_wildcard_subscribers_on_every_node_get_every_message_once(cluster):
    c = cluster(3)
    exact = c.client(1, "exact-1")
    exact.subscribe("d/a/b", qos=1)
    plus = c.client(2, "plus-2", version=V311)
    plus.subscribe("d/+/b", qos=1)
    hash_ = c.client(3, "hash-3")
    hash_.subscribe("d/#", qos=1)
    other = c.client(3, "other-3")
    other.subscribe("d/a/other", qos=1)  # matches nothing published below
    c.wait_routed("d/a/b", on=[2, 3], via=1)
    c.wait_routed("d/+/b", on=[1, 3], via=2)
    c.wait_routed("d/#", on=[1, 2], via=3)
    want = []
    for i in (1, 2, 3):
        p = c.client(i, "pub-%d" % i)
        for k in range(5):
            payload = ("n%d-%d" % (i, k)).encode()
            p.publish("d/a/b", payload, qos=1)
            want.append(("d/a/b", payload))
    exact.expect_messages(want, timeout=10)
    plus.expect_messages(want, timeout=10)
    hash_.expect_messages(want, timeout=10)
    other.expect(0, timeout=0.1, settle=0.5)


def test_a_peer_gets_one_forward_per_message_however_many_of_its_subscribers_match(cluster):
    c = cluster(3)
    subs = []
    for k in range(10):
        s = c.client(2, "many-%d" % k)
        s.subscribe("one/x" if k % 2 else "one/+", qos=0)
        subs.append(s)
    c.wait_routed("one/x", on=[1], via=2)
    c.wait_routed("one/+", on=[1], via=2)
    sent_before = forward(c, 1, "sent")
    received_before = forward(c, 2, "received")
    pub = c.client(1, "one-pub")
    for k in range(7):
        pub.publish("one/x", b"%d" % k, qos=1)
    for s in subs:
        s.expect(7, timeout=10)
    # Node 3 has no route for it: it gets nothing; node 2 gets each message once.
    assert forward(c, 2, "received") - received_before == 7
    assert forward(c, 1, "sent") - sent_before == 7
    assert forward(c, 3, "received") == 0


def test_a_topic_nobody_subscribed_is_not_forwarded(cluster):
    c = cluster(3)
    pub = c.client(1, "lonely")
    before = [forward(c, i, "received") for i in (2, 3)]
    for k in range(20):
        pub.publish("nobody/%d" % k, b"x", qos=1)
    time.sleep(0.5)
    assert [forward(c, i, "received") for i in (2, 3)] == before


def test_each_publishers_order_holds_for_a_subscriber_on_another_node(cluster):
    c = cluster(3)
    sub = c.client(3, "ordered")
    sub.subscribe("ord/#", qos=1)
    c.wait_routed("ord/#", on=[1, 2], via=3)
    pubs = {i: c.client(i, "ord-pub-%d" % i) for i in (1, 2)}
    for k in range(300):
        for i, p in pubs.items():
            # Several topics: the order is the publisher's, not only per topic.
            p.publish("ord/%d/%d" % (i, k % 7), b"%d:%d" % (i, k), qos=1, wait=False)
    got = sub.expect(600, timeout=20)
    for i in (1, 2):
        seq = [int(m.payload.split(b":")[1]) for m in got if m.payload.startswith(b"%d:" % i)]
        assert seq == list(range(300)), "publisher %d out of order: %r" % (i, seq[:50])


@pytest.mark.parametrize("strategy", ["round_robin", "random", "local"])
def test_a_shared_group_across_nodes_gets_each_message_once(cluster, strategy):
    c = cluster(3, env={"EMQX_MQTT__SHARED_SUBSCRIPTION_STRATEGY": strategy})
    members = []
    for i in (1, 2, 3):
        m = c.client(i, "g-%d" % i)
        m.subscribe("$share/g/sh/+", qos=1)
        members.append(m)
    other = c.client(2, "h-2")
    other.subscribe("$share/h/sh/+", qos=1)  # another group: gets everything too
    plain = c.client(3, "plain-3")
    plain.subscribe("sh/+", qos=1)
    for via in (2, 3):
        c.wait_routed("$share/g/sh/+", on=[1], via=via)
    c.wait_routed("$share/h/sh/+", on=[1], via=2)
    pub = c.client(1, "sh-pub")
    n = 60
    for k in range(n):
        pub.publish("sh/t", b"%d" % k, qos=1)
    plain.expect(n, timeout=10)
    other.expect(n, timeout=10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(len(m.messages) for m in members) < n:
        time.sleep(0.05)
    time.sleep(0.5)
    got = [m.messages for m in members]
    payloads = sorted(int(x.payload) for msgs in got for x in msgs)
    assert payloads == list(range(n)), "group g: each message once in the cluster, got %r" % (
        [len(g) for g in got])
    counts = [len(g) for g in got]
    if strategy == "local":
        assert counts == [n, 0, 0], "local: the publisher's node has a member: %r" % counts
    elif strategy == "round_robin":
        assert counts == [n // 3] * 3, counts
    else:
        assert all(x > 0 for x in counts), counts


def test_local_strategy_uses_a_peer_only_when_no_member_is_local(cluster):
    c = cluster(2, env={"EMQX_MQTT__SHARED_SUBSCRIPTION_STRATEGY": "local"})
    remote = c.client(2, "loc-2")
    remote.subscribe("$share/g/loc", qos=1)
    c.wait_routed("$share/g/loc", on=[1], via=2)
    pub = c.client(1, "loc-pub")
    for k in range(10):
        pub.publish("loc", b"%d" % k, qos=1)
    remote.expect(10, timeout=10)


def retained_seen(c, i, flt, want, timeout=10):
    """Subscribes to `flt` on node i (again, with a new client, until the deadline) until
    exactly the retained messages `want` [(topic, payload)] come; returns what came last."""
    deadline = time.monotonic() + timeout
    n = 0
    while True:
        n += 1
        s = c.client(i, "rs-%d-%d-%d" % (i, n, int(time.monotonic() * 1000)))
        s.subscribe(flt, qos=1)
        got = s.wait_messages(len(want) or 1, timeout=0.7)
        seen = sorted((m.topic, m.payload) for m in got)
        s.disconnect()
        if seen == sorted(want) or time.monotonic() > deadline:
            assert all(m.retain for m in got)
            return seen


def test_retained_messages_are_seen_from_every_node_and_the_last_writer_wins(cluster):
    c = cluster(3)
    c.client(1, "r-1").publish("ret/a", b"first", qos=1, retain=True)
    time.sleep(0.05)  # later by the clock too
    c.client(2, "r-2").publish("ret/a", b"second", qos=1, retain=True)
    c.client(3, "r-3").publish("ret/b", b"only", qos=1, retain=True)
    for i in (1, 2, 3):
        deadline = time.monotonic() + 10
        while True:
            s = c.client(i, "rsub-%d-%d" % (i, int(time.monotonic() * 1000)))
            s.subscribe("ret/#", qos=1)
            got = s.wait_messages(2, timeout=1)
            seen = sorted((m.topic, m.payload) for m in got)
            if seen == [("ret/a", b"second"), ("ret/b", b"only")] or time.monotonic() > deadline:
                break
            s.disconnect()
        assert seen == [("ret/a", b"second"), ("ret/b", b"only")], "node %d: %r" % (i, seen)
        assert all(m.retain for m in got)
    # A clear on any node clears it everywhere.
    c.client(3, "r-clear").publish("ret/a", b"", qos=1, retain=True)
    for i in (1, 2, 3):
        deadline = time.monotonic() + 10
        while True:
            s = c.client(i, "rsub2-%d-%d" % (i, int(time.monotonic() * 1000)))
            s.subscribe("ret/#", qos=1)
            got = s.wait_messages(2, timeout=0.7)
            seen = sorted((m.topic, m.payload) for m in got)
            if seen == [("ret/b", b"only")] or time.monotonic() > deadline:
                break
            s.disconnect()
        assert seen == [("ret/b", b"only")], "node %d: %r" % (i, seen)


def test_a_node_that_joins_late_gets_the_routes_and_retained_messages(cluster):
    c = cluster(2)
    c.client(1, "late-r").publish("late/r", b"kept", qos=1, retain=True)
    assert retained_seen(c, 2, "late/#", [("late/r", b"kept")]) == [("late/r", b"kept")]
    sub = c.client(2, "late-sub")
    sub.subscribe("late/#", qos=1)
    sub.expect(1, timeout=5)
    n3 = c.add_node()
    c.wait_members(alive=[1, 2, 3])
    c.wait_routed("late/#", on=[n3.index], via=2)
    s3 = c.client(n3.index, "late-3")
    s3.subscribe("late/r", qos=1)
    s3.expect_messages([("late/r", b"kept")], timeout=5)
    c.client(n3.index, "late-pub").publish("late/x", b"from3", qos=1)
    got = sub.wait_messages(2, timeout=5)
    assert [(m.topic, m.payload) for m in got][1:] == [("late/x", b"from3")]


def test_five_nodes_wildcard_subscribers_receive_from_publishers_on_all_nodes(cluster):
    c = cluster(5)
    subs = {}
    for i in range(1, 6):
        s = c.client(i, "w5-%d" % i)
        s.subscribe("five/+/#", qos=1)
        subs[i] = s
    for via in range(1, 6):
        c.wait_routed("five/+/#", on=[i for i in range(1, 6) if i != via], via=via)
    want = []
    for i in range(1, 6):
        p = c.client(i, "p5-%d" % i)
        for k in range(4):
            payload = b"%d-%d" % (i, k)
            p.publish("five/%d/x" % i, payload, qos=1)
            want.append(("five/%d/x" % i, payload))
    for i, s in subs.items():
        s.expect_messages(want, timeout=10)


def test_with_backpressure_a_slow_subscriber_on_another_node_loses_nothing(cluster):
    """mqtt.backpressure across nodes: publishers on node 1 flood QoS 1 at one subscriber
    on node 2 whose queue holds 1,000 messages; node 2 stops reading node 1's stream while
    the subscriber is behind, node 1's link then holds the publishers, and every message
    arrives (without back-pressure the subscriber's queue would drop most of them)."""
    import json
    import os
    import subprocess
    bench = os.path.join(os.path.dirname(cs.EMQXD_BIN), "..", "bench", "emqxd-bench")
    if not os.path.exists(bench):
        pytest.skip("emqxd-bench is not built (EMQXD_BUILD_BENCH=OFF)")
    # A subscriber that sends its client nothing for backpressure_stall_timeout (2 s) is
    # stalled and its queue drops, by design: on a loaded machine the bench's subscriber
    # can be starved that long, which is not what this test is about.
    c = cluster(2, env={"EMQX_MQTT__BACKPRESSURE": "true", "EMQX_MQTT__MAX_MQUEUE_LEN": "1000",
                        "EMQX_MQTT__BACKPRESSURE_STALL_TIMEOUT": "60s"})
    n1, n2 = c.node(1), c.node(2)
    out = subprocess.run(
        [bench, "pubsub", "-h", n1.host, "-p", str(n1.port), "--sub-host", n2.host,
         "--sub-port", str(n2.port), "-c", "20", "-I", "0", "-t", "bp/%i", "--sub-count", "1",
         "-q", "1", "-s", "64", "-L", "200000", "--drain-timeout", "20", "--expect-no-loss",
         "--json", "--quiet"], capture_output=True, text=True, timeout=120)
    r = json.loads(out.stdout.strip().splitlines()[-1])

    def where_lost():
        """Both nodes' drop counters and the cluster's forward counts, for the message of a
        failure (a loss seen once under a loaded -j2 run, not reproduced alone)."""
        drops = {}
        for i in (1, 2):
            m = c.node(i).api("GET", "/api/v5/metrics")
            m = m[0] if isinstance(m, list) else m
            drops[i] = {k: v for k, v in m.items() if "dropped" in k and v}
        return {"bench": r, "drops": drops, "forward": {i: c.status(i)["forward"] for i in (1, 2)}}

    assert out.returncode == 0 and r["lost"] == 0 and r["duplicated"] == 0, where_lost()
    assert r["received"] == 200000, where_lost()
    assert c.status(1)["forward"]["dropped"] == 0
