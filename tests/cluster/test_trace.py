"""Log traces across real nodes (session/trace.hpp): a trace created through one node's API
is stored in the replicated table "trace", runs on every node, and each node writes its own
file of what its clients do; stopping and deleting it on another node holds everywhere."""
import base64
import http.client
import io
import json
import os
import zipfile

import cluster_support as cs
from cluster_support import poll


def trace_text(node, name):
    return node.api("GET", "/api/v5/trace/%s/log?bytes=1000000" % name)["items"]


def test_a_trace_created_on_one_node_runs_on_every_node(cluster):
    c = cluster(2)
    n1, n2 = c.node(1), c.node(2)
    made = n1.api("POST", "/api/v5/trace",
                  {"name": "everywhere", "type": "clientid", "clientid": "roamer"})
    assert made["status"] == "running"

    def listed():
        traces = n2.api("GET", "/api/v5/trace")
        return [t["name"] for t in traces] == ["everywhere"], traces
    done, seen, _, _ = poll(listed, 10.0, 0.1)
    assert done, seen
    # The client on node 2 is traced by node 2, in node 2's file.
    cl = c.client(2, "roamer", version=5)
    cl.publish("t/x", b"on-node-2", qos=1)
    cl.disconnect()

    def seen_on_2():
        text = trace_text(n2, "everywhere")
        return "on-node-2" in text and "CONNECT(" in text, text
    done, text, _, _ = poll(seen_on_2, 10.0, 0.1)
    assert done, text
    assert "on-node-2" not in trace_text(n1, "everywhere")
    # Any node answers for every node: n1's API reads n2's file, sizes it and zips it.
    detail = {d["node"]: d for d in n1.api("GET", "/api/v5/trace/everywhere/log_detail")}
    assert set(detail) == {n1.name, n2.name}, detail
    assert detail[n2.name]["size"] == len(text.encode())
    remote = n1.api("GET", "/api/v5/trace/everywhere/log?bytes=1000000&node=" + n2.name)
    assert remote["items"] == text and remote["meta"]["hint"] == "eof"
    sizes = n1.api("GET", "/api/v5/trace")[0]["log_size"]
    assert sizes[n2.name] == len(text.encode()) and n1.name in sizes, sizes
    n1.api("GET", "/api/v5/trace/everywhere/log?node=nobody@nowhere", expect=404)
    conn = http.client.HTTPConnection(n1.host, n1.api_port, timeout=5)
    auth = base64.b64encode(("%s:%s" % (cs.API_USER, cs.API_PASSWORD)).encode()).decode()
    conn.request("GET", "/api/v5/trace/everywhere/download?node=" + n2.name,
                 headers={"Authorization": "Basic " + auth})
    r = conn.getresponse()
    body = r.read()
    conn.close()
    assert r.status == 200, body
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        names = z.namelist()
        assert [n for n in names if n.startswith(n2.name + "-")], names
        assert "on-node-2" in z.read(names[0]).decode()
    path = os.path.join(n2.dir, "data", "trace")
    assert any(f.startswith("trace_everywhere_") for f in os.listdir(path))

    # Stopped through node 2: stopped on node 1 too; deleted through node 1: gone on both,
    # files included.
    n2.api("PUT", "/api/v5/trace/everywhere/stop")

    def stopped_on_1():
        t = n1.api("GET", "/api/v5/trace")
        return t and t[0]["status"] == "stopped", t
    done, seen, _, _ = poll(stopped_on_1, 10.0, 0.1)
    assert done, seen
    n1.api("DELETE", "/api/v5/trace/everywhere", expect=204)

    def gone_on_2():
        return (n2.api("GET", "/api/v5/trace") == [] and
                not any(f.startswith("trace_everywhere_") for f in os.listdir(path))), None
    done, _, _, _ = poll(gone_on_2, 10.0, 0.1)
    assert done
