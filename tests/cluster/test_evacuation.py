"""Node evacuation (net/evacuation.hpp, api/rebalance_api.hpp), EMQX's: a node about to stop
refuses new clients (CONNACK 0x9C with the Server Reference for MQTT 5, 3 for 3.1.1),
answers 503 on /status (a Kubernetes readiness probe) and on availability_check, sends its
clients away with DISCONNECT 0x9C at the rate asked, and waits for them to take their
sessions over on another node. `emqxd ctl rebalance start --evacuation --wait` is what the
Helm chart's preStop hook runs."""
import re
import subprocess
import time

import pytest

import cluster_support as CS
import rawmqtt as R

EXPIRY = {"session_expiry_interval": 300}


def status_code(node, path="/status", auth=False):
    code, _ = CS.http_request(node.host, node.api_port, "GET", path, auth=auth)
    return code


def start(c, on, target, **body):
    return c.node(on).api("POST", "/api/v5/load_rebalance/%s/evacuation/start"
                          % c.node(target).name, body)


def ctl(node, *args, timeout=60):
    return subprocess.run([CS.EMQXD_BIN, "ctl", "--api", "%s:%d" % (node.host, node.api_port),
                           "--password", CS.API_PASSWORD] + list(args),
                          capture_output=True, text=True, timeout=timeout)


def test_clients_are_sent_to_another_node_and_take_their_sessions(cluster):
    c = cluster(2)
    n1, n2 = c.node(1), c.node(2)
    clients = []
    for i in range(20):
        cl = R.RawClient(n1)
        cl.connect("evac-%d" % i, clean=False, props=EXPIRY)
        assert cl.subscribe([("evac/%d" % i, R.sub_options(qos=1))]) == [1]
        clients.append(cl)
    old = R.RawClient(n1, version=R.V311)
    old.connect("evac-old", version=R.V311)
    c.wait_routed("evac/19", on=[2], via=1)
    assert status_code(n1) == 200

    # Asked through n2's API: the node named does it.
    ref = "%s:%d" % (n2.host, n2.mqtt_port)
    # wait_health_check leaves room for the checks below on a loaded machine: they must all
    # see the node still in waiting_health_check.
    assert start(c, 2, 1, conn_evict_rate=10, wait_health_check=4, wait_takeover=20,
                 redirect_to=ref) == {}
    # At once: out of its Service, and no new client.
    assert status_code(n1) == 503
    assert status_code(n1, "/api/v5/load_rebalance/availability_check") == 503
    assert status_code(n2, "/api/v5/load_rebalance/availability_check") == 200
    assert status_code(n2) == 200
    refused = R.RawClient(n1).connect("evac-new", expect_code=0x9C)
    assert refused.props.get("server_reference") == ref
    assert R.RawClient(n1, version=R.V311).connect("evac-new-3", version=R.V311,
                                                   expect_code=3).code == 3
    st = n1.api("GET", "/api/v5/load_rebalance/status")
    assert st["process"] == "evacuation" and st["state"] == "waiting_health_check"
    assert st["stats"]["initial_connected"] == 21 and st["connection_eviction_rate"] == 10

    # Then the connections are closed, at about 10 a second: 21 take about 2 s, as the
    # node's own count shows.
    first = last = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now_connected = n1.api("GET", "/api/v5/load_rebalance/status")["stats"][
            "current_connected"]
        if now_connected < 21 and first is None:
            first = time.monotonic()
        if now_connected == 0:
            last = time.monotonic()
            break
        time.sleep(0.05)
    assert first is not None and last is not None
    assert last - first >= 1.0, "21 connections at 10/s went in %.2fs" % (last - first)
    # Each with DISCONNECT 0x9C and where to go.
    for cl in clients:
        d = cl.wait_for(R.DISCONNECT, timeout=5)
        assert d.code == 0x9C and d.props.get("server_reference") == ref
    old.expect_closed(timeout=5)  # 3.1.1: closed without a word
    g = n2.api("GET", "/api/v5/load_rebalance/global_status")
    assert [e["node"] for e in g["evacuations"]] == [n1.name] and g["rebalances"] == []

    # They reconnect where they were sent, and find their sessions there.
    moved = []
    for i in range(20):
        cl = R.RawClient(n2)
        assert cl.connect("evac-%d" % i, clean=False, props=EXPIRY).session_present is True
        moved.append(cl)
    c.wait_routed("evac/0", on=[1], via=2)
    pub = R.RawClient(n2)
    pub.connect("evac-pub")
    pub.publish("evac/7", b"after the move", qos=1, pid=1)
    assert moved[7].wait_for(R.PUBLISH, timeout=10).payload == b"after the move"
    # Every session taken over before wait_takeover ran out: done.
    ok, seen, _, _ = CS.poll(lambda: (n1.api("GET", "/api/v5/load_rebalance/status")
                                      .get("state") == "prohibiting", None), 15, 0.2)
    assert ok, n1.api("GET", "/api/v5/load_rebalance/status")
    st = n1.api("GET", "/api/v5/load_rebalance/status")
    # evac-old (3.1.1, clean session) ended with its connection; the others were taken over.
    assert st["stats"]["current_connected"] == 0 and st["stats"]["current_sessions"] == 0
    assert status_code(n1) == 503

    # Stopped: it takes clients again.
    assert ctl(n1, "rebalance", "stop").returncode == 0
    assert status_code(n1) == 200
    R.RawClient(n1).connect("evac-back")
    assert n1.api("GET", "/api/v5/load_rebalance/status") == {"status": "disabled"}


def test_ctl_waits_until_the_node_is_evacuated(cluster):
    c = cluster(2)
    n1 = c.node(1)
    cl = R.RawClient(n1)
    cl.connect("waited", clean=False, props=EXPIRY)
    t0 = time.monotonic()
    p = ctl(n1, "rebalance", "start", "--evacuation", "--wait-health-check", "1",
            "--conn-evict-rate", "100", "--sess-evict-rate", "100", "--wait-takeover", "2",
            "--wait")
    assert p.returncode == 0, p.stdout + p.stderr
    # Health check, eviction, then the takeover it waited for in vain (nobody reconnected).
    assert time.monotonic() - t0 >= 3.0
    assert "evacuation: prohibiting" in p.stdout, p.stdout
    assert cl.wait_for(R.DISCONNECT, timeout=1).code == 0x9C
    out = ctl(n1, "rebalance", "node-status").stdout
    pairs = dict(re.split(r"\s+:\s+", line, 1) for line in out.splitlines())
    assert pairs["state"] == "prohibiting" and pairs["initial_connected"] == "1", out
    # The session nobody took over stays here.
    assert pairs["current_sessions"] == "1", out
    assert ctl(n1, "status").returncode != 0  # its health check: not taking clients


@pytest.mark.parametrize("body,message", [
    ({"migrate_to": ["n2@127.0.0.1"]}, "migrate_to is not supported"),
    ({"conn_evict_rate": 0}, "conn_evict_rate must be"),
    ({"wait_takeover": "soon"}, "wait_takeover must be"),
    ({"bogus": 1}, "unknown field bogus"),
])
def test_bad_requests_are_refused_and_change_nothing(cluster, body, message):
    c = cluster(1)
    n1 = c.node(1)
    with pytest.raises(CS.ApiError) as e:
        n1.api("POST", "/api/v5/load_rebalance/%s/evacuation/start" % n1.name, body)
    assert "HTTP 400" in str(e.value) and message in str(e.value)
    assert status_code(n1) == 200


def test_twice_started_stopped_when_not_started_and_unknown_nodes(cluster):
    c = cluster(1)
    n1 = c.node(1)
    assert start(c, 1, 1, wait_health_check=30) == {}
    with pytest.raises(CS.ApiError, match="already_started"):
        start(c, 1, 1)
    assert n1.api("POST", "/api/v5/load_rebalance/%s/evacuation/stop" % n1.name) == {}
    with pytest.raises(CS.ApiError, match="not_started"):
        n1.api("POST", "/api/v5/load_rebalance/%s/evacuation/stop" % n1.name)
    with pytest.raises(CS.ApiError, match="HTTP 404"):
        n1.api("POST", "/api/v5/load_rebalance/nobody@nowhere/evacuation/start", {})
    # The operations change the node: credentials needed (availability_check aside).
    code, _ = CS.http_request(n1.host, n1.api_port, "POST",
                              "/api/v5/load_rebalance/%s/evacuation/start" % n1.name, {},
                              auth=False)
    assert code == 401
    p = ctl(n1, "rebalance", "start", "--wait")
    assert p.returncode != 0 and "needs --evacuation" in p.stderr, p.stderr
    assert status_code(n1) == 200
