"""The HTTP API's users, tokens and keys are the cluster's (server/api/admins.hpp, in
replicated tables): a user or key made through one node works on every other, a token
from one node's login is good on another (a load balancer in front of the cluster), a
logout or a password change on one ends it everywhere; and a retained message deleted
through one node is gone on all, delivered to nobody."""
import http.client
import json

import cluster_support as cs
import rawmqtt as R
from cluster_support import poll


def request(node, method, path, body=None, token=None, basic=None):
    conn = http.client.HTTPConnection(node.host, node.api_port, timeout=5)
    headers = {}
    if token:
        headers["Authorization"] = "Bearer " + token
    if basic:
        import base64
        headers["Authorization"] = "Basic " + base64.b64encode(
            ("%s:%s" % basic).encode()).decode()
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def login(node, username, password):
    return request(node, "POST", "/api/v5/login", {"username": username, "password": password})


def test_users_keys_and_tokens_hold_on_every_node(cluster):
    c = cluster(3)
    n1, n2, n3 = c.node(1), c.node(2), c.node(3)
    n1.api("POST", "/api/v5/users", {"username": "ops", "password": "Cluster-pw-1",
                                     "role": "viewer"})
    ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 200, r))(login(n3, "ops", "Cluster-pw-1")),
                          10, 0.2)
    assert ok, seen
    token = seen[1]["token"]
    assert seen[1]["role"] == "viewer"
    # The token n3 gave is good on n1 and n2 (a load balancer may send the next call there)
    # once the cluster's tables carried it there (replicated, as the user was above).
    for n in (n1, n2):
        ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 200, r))(
            request(n, "GET", "/api/v5/nodes", token=token)), 10, 0.1)
        status, doc = seen
        assert ok and len(doc) == 3, (n.name, status, doc)
        status, doc = request(n, "POST", "/api/v5/users",
                              {"username": "x", "password": "Cluster-pw-9"}, token=token)
        assert status == 403, doc  # still a viewer there
    # Logged out on n2: refused on n1 and n3 as well.
    assert request(n2, "POST", "/api/v5/logout", {"username": "ops"}, token=token)[0] == 204
    for n in (n1, n3):
        ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 401, r))(
            request(n, "GET", "/api/v5/nodes", token=token)), 10, 0.2)
        assert ok, (n.name, seen)
    # A password changed on n1 holds on n2 and ends the user's tokens everywhere.
    token = login(n3, "ops", "Cluster-pw-1")[1]["token"]
    n1.api("POST", "/api/v5/users/ops/change_pwd", {"new_pwd": "Cluster-pw-2"}, expect=204)
    ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 200, r))(login(n2, "ops", "Cluster-pw-2")),
                          10, 0.2)
    assert ok, seen
    assert login(n2, "ops", "Cluster-pw-1")[0] == 401
    ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 401, r))(
        request(n3, "GET", "/api/v5/nodes", token=token)), 10, 0.2)
    assert ok, seen
    # An API key made on n2 works on n3; deleted on n1, refused on n3.
    key = n2.api("POST", "/api/v5/api_key", {"name": "everywhere"})
    creds = (key["api_key"], key["api_secret"])
    ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 200, r))(
        request(n3, "GET", "/api/v5/nodes", basic=creds)), 10, 0.2)
    assert ok, seen
    n1.api("DELETE", "/api/v5/api_key/everywhere", expect=204)
    ok, seen, _, _ = poll(lambda: (lambda r: (r[0] == 401, r))(
        request(n3, "GET", "/api/v5/nodes", basic=creds)), 10, 0.2)
    assert ok, seen


def test_a_retained_message_deleted_through_one_node_is_gone_on_all(cluster):
    c = cluster(3)
    n1, n2, n3 = c.node(1), c.node(2), c.node(3)
    pub = R.RawClient(n1)
    pub.connect("ret-pub")
    pub.publish("cr/a", b"gone-soon", qos=1, retain=True, pid=1)
    pub.publish("cr/b", b"stays", qos=1, retain=True, pid=2)

    def listed(n):
        return sorted(m["topic"] for m in
                      n.api("GET", "/api/v5/mqtt/retainer/messages?topic=cr/%23")["data"])
    for n in (n2, n3):
        ok, seen, _, _ = poll(lambda: (lambda t: (t == ["cr/a", "cr/b"], t))(listed(n)), 10, 0.2)
        assert ok, (n.name, seen)
    watcher = R.RawClient(n3)
    watcher.connect("ret-watch")
    watcher.subscribe([("cr/#", R.sub_options(qos=1))])
    assert len(watcher.recv_publishes(2)) == 2
    n2.api("DELETE", "/api/v5/mqtt/retainer/message/cr%2Fa", expect=204)
    for n in (n1, n3):
        ok, seen, _, _ = poll(lambda: (lambda t: (t == ["cr/b"], t))(listed(n)), 10, 0.2)
        assert ok, (n.name, seen)
    assert [p for p in watcher.recv_all(0.5) if p.type == R.PUBLISH] == []
    late = R.RawClient(n1)
    late.connect("ret-late")
    late.subscribe([("cr/#", R.sub_options(qos=1))])
    assert [p.payload for p in late.recv_publishes(1)] == [b"stays"]
