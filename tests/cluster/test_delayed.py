"""Delayed publish across a cluster (server/session/delayed.hpp): a message delayed on one
node reaches a subscriber on another after the delay, not before; each node keeps what it
received, and any node's API lists, reads and deletes them all (a deleted one never
fires); PUT /api/v5/mqtt/delayed applies on every node."""
import time
import urllib.parse

import rawmqtt as R
from cluster_support import poll

NO_MATCHING_SUBSCRIBERS = 0x10


def publishes(c, settle):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


def test_delayed_on_one_node_reaches_a_subscriber_on_another(cluster):
    c = cluster(2)
    n1, n2 = c.node(1), c.node(2)
    sub = R.RawClient(n2)
    sub.connect("cd-sub")
    sub.subscribe([("cd/#", R.sub_options(qos=1))])
    # The route reaches n1 before the message is published there.
    ok, seen, _, _ = poll(lambda: (lambda r: (any(x["topic"] == "cd/#" for x in r), r))(
        n1.api("GET", "/api/v5/routes")["data"]), 10, 0.1)
    assert ok, seen
    pub = R.RawClient(n1)
    pub.connect("cd-pub", username="carol")
    t0 = time.monotonic()
    assert pub.publish("$delayed/2/cd/a", b"x-node", qos=1, pid=1).code == \
        NO_MATCHING_SUBSCRIBERS
    pub.publish("$delayed/2/cd/gone", b"never", qos=1, pid=2)
    pub.publish("$delayed/60/cd/late", b"late", qos=1, pid=3)
    # n2 lists n1's messages, reads one and deletes another.
    doc = n2.api("GET", "/api/v5/mqtt/delayed/messages")
    assert doc["meta"]["count"] == 3, doc
    assert {m["node"] for m in doc["data"]} == {n1.name}
    by_topic = {m["topic"]: m for m in doc["data"]}
    assert by_topic["cd/a"]["from_clientid"] == "cd-pub"
    assert by_topic["cd/a"]["from_username"] == "carol"
    one = n2.api("GET", "/api/v5/mqtt/delayed/messages/%s/%s"
                 % (n1.name, by_topic["cd/late"]["msgid"]))
    assert one["topic"] == "cd/late" and one["payload"] == "bGF0ZQ=="
    n2.api("DELETE", "/api/v5/mqtt/delayed/messages/%s/%s"
           % (n1.name, by_topic["cd/gone"]["msgid"]), expect=204)
    assert publishes(sub, 1.2) == []
    p = sub.wait_for(R.PUBLISH, timeout=5)
    assert 1.9 <= time.monotonic() - t0 < 5
    assert (p.topic, p.payload) == ("cd/a", b"x-node")
    assert publishes(sub, 1.0) == []  # cd/gone never fires
    # Delete by topic from n2; settings changed through n2 hold on n1.
    n2.api("DELETE", "/api/v5/mqtt/delayed/messages/" + urllib.parse.quote("cd/late", safe=""),
           expect=204)
    assert n1.api("GET", "/api/v5/mqtt/delayed/messages")["meta"]["count"] == 0
    n2.api("PUT", "/api/v5/mqtt/delayed", {"max_delayed_messages": 1})
    assert n1.api("GET", "/api/v5/mqtt/delayed") == {"enable": True, "max_delayed_messages": 1}
    pub.publish("$delayed/60/cd/one", b"1", qos=1, pid=4)
    pub.publish("$delayed/60/cd/two", b"2", qos=1, pid=5)
    assert [m["topic"] for m in n2.api("GET", "/api/v5/mqtt/delayed/messages")["data"]] == \
        ["cd/one"]
