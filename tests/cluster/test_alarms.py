"""A cluster member goes down (SIGKILL): the nodes that see it dead raise
cluster_node_down/<node> (app/sysmon.hpp) in GET /api/v5/alarms and on
$SYS/brokers/<node>/alarms/activate; restarted, it is alive again and the alarm clears
(alarms/deactivate); the node list's gauges follow (emqx_cluster_nodes_running|stopped).
"""
import json
import time

from prometheus_client.parser import text_string_to_metric_families

from cluster_support import http_request

WITHIN = 15.0


def active(node):
    return [a["name"] for a in node.api("GET", "/api/v5/alarms?activated=true")["data"]]


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s not within %.0f s" % (what, timeout))
        time.sleep(0.2)


def nodes_gauges(node):
    status, text = http_request(node.host, node.api_port, "GET", "/api/v5/prometheus/stats",
                                auth=False)
    assert status == 200, text
    out = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            if s.name in ("emqx_cluster_nodes_running", "emqx_cluster_nodes_stopped"):
                out[s.name] = s.value
    return out


def sys_alarms(msgs, kind, name):
    return [json.loads(m.payload) for m in msgs
            if m.topic.endswith("/alarms/" + kind) and json.loads(m.payload)["name"] == name]


def test_a_dead_member_raises_cluster_node_down_until_it_is_back(cluster):
    c = cluster(2)
    n1, n2 = c.node(1), c.node(2)
    name = "cluster_node_down/" + n2.name
    watch = c.client(1, "alarm-watch")
    watch.subscribe("$SYS/brokers/%s/alarms/#" % n1.name, qos=0)
    assert nodes_gauges(n1) == {"emqx_cluster_nodes_running": 2, "emqx_cluster_nodes_stopped": 0}
    assert name not in active(n1)

    n2.kill()
    wait(lambda: name in active(n1), WITHIN, "%s on %s" % (name, n1.name))
    a = [x for x in n1.api("GET", "/api/v5/alarms")["data"] if x["name"] == name][0]
    assert a["node"] == n1.name and a["activated"] is True
    assert a["details"]["node"] == n2.name
    on = wait(lambda: sys_alarms(watch.wait_messages(1, 0.1), "activate", name), 5,
              "$SYS alarms/activate")
    assert on[0]["activated"] is True
    assert nodes_gauges(n1) == {"emqx_cluster_nodes_running": 1, "emqx_cluster_nodes_stopped": 1}
    # Still down a few seconds later: the alarm stays (a tombstone is still a member).
    time.sleep(3)
    assert name in active(n1)

    n2.start()
    c.wait_members(alive=[1, 2], timeout=20)
    wait(lambda: name not in active(n1), WITHIN, "%s cleared on %s" % (name, n1.name))
    off = wait(lambda: sys_alarms(watch.wait_messages(1, 0.1), "deactivate", name), 5,
               "$SYS alarms/deactivate")
    assert off[0]["activated"] is False
    old = n1.api("GET", "/api/v5/alarms?activated=false")["data"]
    assert [x["name"] for x in old] == [name]
    assert nodes_gauges(n1) == {"emqx_cluster_nodes_running": 2, "emqx_cluster_nodes_stopped": 0}


def prom_samples(node, mode):
    status, text = http_request(node.host, node.api_port, "GET",
                                "/api/v5/prometheus/stats?mode=" + mode, auth=False)
    assert status == 200, text
    return [(s.name, s.labels, s.value)
            for f in text_string_to_metric_families(text) for s in f.samples]


def test_alarms_and_prometheus_answer_for_every_member(cluster):
    c = cluster(3)
    n1, n2, n3 = c.node(1), c.node(2), c.node(3)
    clients = [c.client(1, "p1-a"), c.client(1, "p1-b"), c.client(2, "p2-a")]
    assert len(clients) == 3

    def connections(mode):
        return {tuple(sorted(labels.items())): v for name, labels, v in prom_samples(n1, mode)
                if name == "emqx_connections_count"}
    wait(lambda: connections("all_nodes_aggregated") == {(): 3}, 10, "3 connections summed")
    per_node = connections("all_nodes_unaggregated")
    assert per_node == {(("node", n1.name),): 2, (("node", n2.name),): 1,
                        (("node", n3.name),): 0}, per_node
    assert connections("node") == {(): 2}

    # n3 dies: n1 and n2 both raise cluster_node_down, and n1 lists both alarms.
    n3.kill()
    name = "cluster_node_down/" + n3.name

    def raised_by():
        rows = n1.api("GET", "/api/v5/alarms?activated=true")["data"]
        return sorted(r["node"] for r in rows if r["name"] == name)
    wait(lambda: raised_by() == sorted([n1.name, n2.name]), WITHIN, "the alarm on n1 and n2")
    n3.start()
    c.wait_members(alive=[1, 2, 3], timeout=20)
    wait(lambda: raised_by() == [], WITHIN, "both alarms cleared")
    gone = [r for r in n1.api("GET", "/api/v5/alarms?activated=false")["data"]
            if r["name"] == name]
    assert sorted(r["node"] for r in gone) == sorted([n1.name, n2.name])
    # DELETE forgets the deactivated alarms of every member, through any one.
    n2.api("DELETE", "/api/v5/alarms", expect=204)
    assert [r for r in n1.api("GET", "/api/v5/alarms?activated=false")["data"]
            if r["name"] == name] == []
