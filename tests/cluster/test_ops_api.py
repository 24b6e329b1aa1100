"""The operations API answers for the whole cluster from any node (cluster/cluster_admin.cpp):
clients on other nodes are listed, paged, described, kicked and subscribed through a node
that holds none of them, and a dead member is left out rather than waited for."""
import json

import cluster_support as cs
import rawmqtt as R
from cluster_support import poll


def ids(rows):
    return [r["clientid"] for r in rows]


def test_any_node_lists_pages_and_acts_on_every_node_s_clients(cluster):
    c = cluster(3)
    n1, n2, n3 = c.node(1), c.node(2), c.node(3)
    held = {1: [R.RawClient(n1) for _ in range(5)], 2: [R.RawClient(n2) for _ in range(4)]}
    for i, clients in held.items():
        for k, cl in enumerate(clients):
            cl.connect("c%d-%d" % (i, k))
    want = ["c1-%d" % k for k in range(5)] + ["c2-%d" % k for k in range(4)]

    done, seen, _, _ = poll(lambda: (lambda r: (r["meta"]["count"] == 9, r))(
        n3.api("GET", "/api/v5/clients")), 10, 0.2)
    assert done, seen
    assert sorted(ids(seen["data"])) == want
    assert {r["node"] for r in seen["data"]} == {n1.name, n2.name}
    # Pages over the cluster: every client once, none twice, in a stable order.
    pages = [n3.api("GET", "/api/v5/clients?limit=4&page=%d" % p) for p in (1, 2, 3)]
    assert [len(p["data"]) for p in pages] == [4, 4, 1]
    assert [p["meta"]["hasnext"] for p in pages] == [True, True, False]
    assert sorted(sum((ids(p["data"]) for p in pages), [])) == want
    assert ids(n3.api("GET", "/api/v5/clients?node=" + n2.name)["data"]) == want[5:]
    n3.api("GET", "/api/v5/clients?node=nobody@nowhere", expect=404)

    one = n3.api("GET", "/api/v5/clients/c2-1")
    assert one["node"] == n2.name and one["connected"] is True

    # Kicked through n3: the client on n1 gets DISCONNECT 0x98 and its session ends.
    n3.api("DELETE", "/api/v5/clients/c1-0", expect=204)
    assert held[1][0].expect(R.DISCONNECT).code == 0x98
    n3.api("GET", "/api/v5/clients/c1-0", expect=404)

    # Subscribed through n3 for a client of n2, then a publish through n1's API reaches it.
    sub = n3.api("POST", "/api/v5/clients/c2-1/subscribe", {"topic": "ops/x", "qos": 1})
    assert sub["node"] == n2.name
    c.wait_routed("ops/x", on=[1, 2, 3], via=2)
    assert [s["clientid"] for s in n1.api("GET", "/api/v5/subscriptions?topic=ops/x")["data"]] \
        == ["c2-1"]
    assert n1.api("POST", "/api/v5/publish", {"topic": "ops/x", "payload": "hi", "qos": 1})["id"]
    p = held[2][1].expect(R.PUBLISH)
    assert (p.topic, p.payload) == ("ops/x", b"hi")

    nodes = n3.api("GET", "/api/v5/nodes")
    assert sorted(n["node"] for n in nodes) == sorted([n1.name, n2.name, n3.name])
    assert {n["node"]: n["connections"] for n in nodes}[n2.name] == 4
    agg = n3.api("GET", "/api/v5/stats?aggregate=true")
    assert agg["connections.count"] == 8
    assert sorted(s["node"] for s in n3.api("GET", "/api/v5/stats")) == \
        sorted([n1.name, n2.name, n3.name])

    # Listeners: every member's view, from any member.
    def tcp():
        return [l for l in n3.api("GET", "/api/v5/listeners") if l["id"] == "tcp:default"][0]
    assert sorted(x["node"] for x in tcp()["node_status"]) == sorted([n1.name, n2.name, n3.name])
    # The kicked client's socket is counted until it closes (the node drains it up to 2 s).
    held[1][0].close()
    done, seen, _, _ = poll(lambda: (lambda l: (l["current_connections"] == 8, l))(tcp()), 5, 0.1)
    assert done and seen["running"] is True, seen

    # A dead member is left out, not waited for.
    n2.kill()
    c.wait_members(alive=[1, 3], dead=[2], on=[3])
    rows = n3.api("GET", "/api/v5/clients", timeout=5)
    assert sorted(ids(rows["data"])) == want[1:5]
    n3.api("GET", "/api/v5/clients/c2-1", expect=404, timeout=5)
    for cl in held[1][1:]:
        cl.close()
