"""Topic metrics and slow subscriptions over a cluster (server/api/topic_stats_api.hpp):
a topic registered through one node is counted on every node, any node's answer sums
them all, and a slow subscriber on one node is listed by another."""
import time

import rawmqtt as R
from cluster_support import poll


def metrics(node, topic):
    return node.api("GET", "/api/v5/mqtt/topic_metrics/" + topic.replace("/", "%2F"))["metrics"]


def test_a_topic_registered_on_one_node_is_counted_on_all_and_summed(cluster):
    c = cluster(3)
    n1, n2, n3 = c.node(1), c.node(2), c.node(3)
    n1.api("POST", "/api/v5/mqtt/topic_metrics", {"topic": "ct/x"})
    # The registration reaches n2 and n3 through the replicated table. Any node's listing
    # is the cluster's (n1 answers for itself), so each node is probed: a message published
    # there is counted once that node has the topic.
    for i, n in enumerate((n1, n2, n3)):
        probe = R.RawClient(n)
        probe.connect("ct-probe-%d" % i)
        before = metrics(n1, "ct/x")["messages.in.count"]

        def counted():
            probe.publish("ct/x", b"probe", qos=1, pid=1)
            m = metrics(n1, "ct/x")["messages.in.count"]
            return m > before, m
        ok, seen, _, _ = poll(counted, 10, 0.2)
        assert ok, (n.name, seen)
        probe.close()
    n3.api("PUT", "/api/v5/mqtt/topic_metrics", {"action": "reset"})
    assert metrics(n2, "ct/x")["messages.in.count"] == 0
    sub = R.RawClient(n3)
    sub.connect("ct-sub")
    sub.subscribe([("ct/#", R.sub_options(qos=1))])
    # The route reaches the publishers' nodes before they publish.
    for n in (n1, n2):
        ok, seen, _, _ = poll(lambda: (lambda r: (len(r) >= 1, r))(
            n.api("GET", "/api/v5/routes?topic=ct%2F%23")["data"]), 10, 0.2)
        assert ok, (n.name, seen)
    for i, n in enumerate((n1, n2)):
        pub = R.RawClient(n)
        pub.connect("ct-pub-%d" % i)
        pub.publish("ct/x", b"a", qos=1, pid=1)
        pub.publish("ct/x", b"b", qos=0)
    got = sub.recv_publishes(4)
    for p in got:
        sub.ack(p)
    want = {"messages.in.count": 4, "messages.qos1.in.count": 2, "messages.out.count": 4,
            "messages.dropped.count": 0}
    # Any node's answer is the sum over all three: 2 in on n1, 2 on n2, 4 out on n3.
    for n in (n1, n2, n3):
        ok, seen, _, _ = poll(lambda: (lambda m: (all(m[k] == v for k, v in want.items()), m))(
            metrics(n, "ct/x")), 10, 0.2)
        assert ok, (n.name, seen)
    # Deleted through n2: no node counts it any more.
    n2.api("DELETE", "/api/v5/mqtt/topic_metrics/ct%2Fx", expect=204)
    for n in (n1, n3):
        ok, seen, _, _ = poll(lambda: (lambda r: (r == [], r))(
            n.api("GET", "/api/v5/mqtt/topic_metrics")), 10, 0.2)
        assert ok, (n.name, seen)


def test_a_slow_subscriber_on_one_node_is_listed_by_another(cluster):
    c = cluster(2)
    n1, n2 = c.node(1), c.node(2)
    n1.api("PUT", "/api/v5/slow_subscriptions/settings",
           {"enable": True, "threshold": "100ms"})
    ok, seen, _, _ = poll(lambda: (lambda s: (s["enable"] is True, s))(
        n2.api("GET", "/api/v5/slow_subscriptions/settings")), 10, 0.2)
    assert ok, seen
    sub = R.RawClient(n2)
    sub.connect("slow-far")
    sub.subscribe([("sl/t", R.sub_options(qos=1))])
    pub = R.RawClient(n2)
    pub.connect("slow-pub")
    pub.publish("sl/t", b"x", qos=1, pid=1)
    p = sub.recv_publishes(1)[0]
    time.sleep(0.3)
    sub.ack(p)
    ok, seen, _, _ = poll(lambda: (lambda d: (len(d) == 1, d))(
        n1.api("GET", "/api/v5/slow_subscriptions")["data"]), 10, 0.2)
    assert ok, seen
    row = seen[0]
    assert row["clientid"] == "slow-far" and row["node"] == n2.name and row["timespan"] >= 290  # a coarse clock
    n1.api("DELETE", "/api/v5/slow_subscriptions", expect=204)
    assert n2.api("GET", "/api/v5/slow_subscriptions")["data"] == []
