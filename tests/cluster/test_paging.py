"""Paging over 10,000 clients held by two nodes, asked of a third that holds none of them
(issue 13: "paging over 10,000 clients and answers from a node that holds none"): every
client comes exactly once, in one order, with EMQX's meta; `emqxd ctl clients list`
through that node prints them all. The clients are real MQTT connections, made by
emqxd-bench (bench/), one process per node."""
import json
import os
import signal
import subprocess

import cluster_support as cs
from cluster_support import poll

PER_NODE = 5000


def hold(node, prefix, count):
    bench = os.path.join(os.path.dirname(cs.EMQXD_BIN), "..", "bench", "emqxd-bench")
    assert os.path.exists(bench), "emqxd-bench is not built: " + bench
    return subprocess.Popen(
        [bench, "conn", "-h", node.host, "-p", str(node.port), "-c", str(count), "-i", "0",
         "-k", "600", "-V", "4", "--prefix", prefix, "--connect-timeout", "60",
         "--duration", "600", "--json", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_ten_thousand_clients_page_through_a_node_that_holds_none(cluster):
    c = cluster(3)
    n1, n2, n3 = c.node(1), c.node(2), c.node(3)
    procs = [hold(n1, "pa-", PER_NODE), hold(n2, "pb-", PER_NODE)]
    try:
        ok, seen, _, _ = poll(lambda: (lambda r: (r["meta"]["count"] == 2 * PER_NODE, r["meta"]))(
            n3.api("GET", "/api/v5/clients?limit=1", timeout=10)), 90, 0.5)
        assert ok, seen
        ids = []
        page = 1
        while True:
            r = n3.api("GET", "/api/v5/clients?limit=1000&page=%d&fields=clientid,node" % page,
                       timeout=10)
            assert r["meta"]["count"] == 2 * PER_NODE and r["meta"]["page"] == page
            ids += [x["clientid"] for x in r["data"]]
            if not r["meta"]["hasnext"]:
                break
            page += 1
            assert page <= 11
        assert page == 10 and len(ids) == 2 * PER_NODE
        assert len(set(ids)) == len(ids)  # none twice
        assert ids == sorted(ids)  # one order across the nodes
        assert {i[:3] for i in ids} == {"pa-", "pb-"}
        # A page in the middle asked with another size lines up with the full listing.
        mid = n3.api("GET", "/api/v5/clients?limit=100&page=57&fields=clientid", timeout=10)
        assert [x["clientid"] for x in mid["data"]] == ids[5600:5700]
        # Beyond the end: an empty page, EMQX's meta.
        end = n3.api("GET", "/api/v5/clients?limit=1000&page=11", timeout=10)
        assert end["data"] == [] and end["meta"]["hasnext"] is False
        only = n3.api("GET", "/api/v5/clients?limit=1&node=" + n2.name, timeout=10)
        assert only["meta"]["count"] == PER_NODE
        # The operator's view through the node that holds none.
        out = subprocess.run([cs.EMQXD_BIN, "ctl", "--api", "%s:%d" % (n3.host, n3.api_port),
                              "--json", "clients", "list"],
                             env=dict(os.environ, EMQXD_API_USERNAME=cs.API_USER,
                                      EMQXD_API_PASSWORD=cs.API_PASSWORD),
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        assert sorted(x["clientid"] for x in json.loads(out.stdout)) == ids
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in procs:
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.communicate()
