"""The cluster harness itself, proved with single-node emqxd processes (no membership
yet): nodes in network namespaces reached from the test process, partitions that cut
exactly the traffic between groups and heal, kill/restart on loopback with the same
ports and data dir, removal of what an aborted run left, nothing left after teardown,
and the API waits against a stub that serves the cluster API's JSON shapes."""
import errno
import json
import os
import subprocess
import tempfile
import threading
import time
from base64 import b64encode
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest

import cluster_support as cs
import mqttc


def pubsub_through_each(c):
    """From the test process: a subscriber and a publisher on every node, one message."""
    for n in c.nodes:
        sub = c.client(n.index, "sub-%d-%d" % (n.index, n.starts))
        sub.subscribe("h/%d" % n.index, qos=1)
        pub = c.client(n.index, "pub-%d-%d" % (n.index, n.starts))
        pub.publish("h/%d" % n.index, b"via-%d" % n.index, qos=1)
        sub.expect_messages([("h/%d" % n.index, b"via-%d" % n.index)])
        pub.disconnect()
        sub.disconnect()


def assert_gone(c, pids):
    assert c.leftovers() == [], c.leftovers()
    if c.network:
        assert not [ns for ns in cs.netns_list() if ns.startswith(c.network.prefix)]
        assert c.network.host_if not in cs.root_links()
    for pid in pids:
        assert cs.proc_start_time(pid) is None, "pid %d still exists" % pid


def test_netns_nodes_partition_and_heal(cluster):
    t0 = time.monotonic()
    c = cluster(3, netns=True, join=False)
    started = time.monotonic() - t0
    net = c.network
    for n in c.nodes:
        assert n.host == net.addr(n.index) == "10.213.%d.%d" % (c.slot.n, n.index)
        assert n.name == "n%d@%s" % (n.index, n.host)
        assert n.address == "%s:4370" % n.name
        assert cs.netns_pids(n.netns) == [n.pid], "emqxd is the only process in %s" % n.netns
        assert os.readlink("/proc/%d/exe" % n.pid) == cs.EMQXD_BIN

    # The test process reaches every node: paho, and the mosquitto clients (a retained
    # message, so that the subscriber needs no moment to settle).
    pubsub_through_each(c)
    host = c.node(3).host
    subprocess.run(["mosquitto_pub", "-h", host, "-p", "1883", "-t", "m/3", "-q", "1", "-r",
                    "-m", "hello-3"], check=True, timeout=10)
    out = subprocess.run(["mosquitto_sub", "-h", host, "-p", "1883", "-t", "m/3", "-q", "1",
                          "-C", "1", "-W", "10"], stdout=subprocess.PIPE, text=True,
                         timeout=15, check=True).stdout
    assert out.strip() == "hello-3"

    # Nodes reach each other before the partition.
    for a, b in ((1, 2), (2, 1), (2, 3), (1, 3)):
        r = c.can_connect(a, b)
        assert r["ok"], "n%d -> n%d before the partition: %r" % (a, b, r)
    held = c.hold(1, 2)
    held.ping()
    assert held.wait(1, 3.0), "PINGRESP on n1 -> n2 before the partition"
    subs = [c.client(i, "keep-%d" % i) for i in (1, 2, 3)]
    for i, s in enumerate(subs, 1):
        s.subscribe("k/%d" % i, qos=1)

    t1 = time.monotonic()
    c.partition([1], [2, 3])
    partition_s = time.monotonic() - t1
    for a, b in ((1, 2), (2, 1), (1, 3), (3, 1)):
        r = c.can_connect(a, b, timeout=1.0)
        assert not r["ok"] and r["errno"] == errno.ETIMEDOUT and r["seconds"] >= 0.9, (
            "n%d -> n%d across the partition should time out: %r" % (a, b, r))
    for a, b in ((2, 3), (3, 2)):
        r = c.can_connect(a, b)
        assert r["ok"], "n%d -> n%d inside a group: %r" % (a, b, r)
    # The test process still reaches all three, over new and established connections.
    for n in c.nodes:
        assert cs.mqtt_connack(n.host, n.mqtt_port, timeout=2.0), n
    pub = c.client(2, "pub-during")
    for i, s in enumerate(subs, 1):
        c.client(i, "pub-k-%d" % i).publish("k/%d" % i, b"during", qos=1)
        s.expect_messages([("k/%d" % i, b"during")])
    # The established connection n1 -> n2 is cut as well: its PINGRESP does not come.
    held.ping()
    assert not held.wait(2, 1.5), "PINGRESP crossed the partition"

    t1 = time.monotonic()
    c.heal()
    heal_s = time.monotonic() - t1
    r = c.can_connect(1, 2)
    assert r["ok"], "n1 -> n2 after heal: %r" % r
    r = c.can_connect(2, 1)
    assert r["ok"], "n2 -> n1 after heal: %r" % r
    # TCP retransmits the PINGREQ held back by the partition; its answer arrives.
    assert held.wait(2, 10.0), "no PINGRESP after heal"
    held.close()
    pub.disconnect()

    # reject: the other group's addresses are unreachable, connects fail at once.
    c.partition([1, 2], [3], mode="reject")
    r = c.can_connect(1, 3, timeout=2.0)
    assert not r["ok"] and r["errno"] == errno.EHOSTUNREACH and r["seconds"] < 1.0, r
    r = c.can_connect(3, 2, timeout=2.0)
    assert not r["ok"] and r["errno"] == errno.EHOSTUNREACH, r
    assert c.can_connect(1, 2)["ok"]
    # partition() replaces the partition in place; heal() removes it all.
    c.partition([1], [2, 3])
    assert c.can_connect(1, 3, timeout=0.5)["errno"] == errno.ETIMEDOUT
    c.heal()
    for a, b in ((1, 2), (1, 3), (3, 1), (2, 3)):
        assert c.can_connect(a, b)["ok"], (a, b)

    # A node in a namespace restarts with the same address, ports and data dir.
    old = c.node(2).pid
    assert c.node(2).kill() == -9
    assert not cs.mqtt_connack(c.node(2).host, 1883)
    c.node(2).start()
    assert c.node(2).pid != old and cs.netns_pids(c.node(2).netns) == [c.node(2).pid]
    pubsub_through_each(c)

    pids = [n.pid for n in c.nodes]
    t1 = time.monotonic()
    problems = c.close()
    teardown = time.monotonic() - t1
    assert problems == []
    assert_gone(c, pids)
    print("\nnetns timings (s): slot, namespaces and veths for 3 nodes %.3f, nodes ready %.3f, whole "
          "start %.3f, partition %.3f, heal %.3f, teardown %.3f (processes %.3f, namespaces "
          "%.3f)" % (c.timings["network_setup"], c.timings["nodes_ready"], started,
                     partition_s, heal_s, teardown, c.timings["processes_teardown"],
                     c.timings["network_teardown"]))


def test_loopback_kill_and_restart_same_ports(cluster):
    c = cluster(3, join=False)
    ports = [(n.mqtt_port, n.api_port, n.rpc_port) for n in c.nodes]
    flat = [p for t in ports for p in t]
    assert len(set(flat)) == 9, ports
    base = cs.PORT_BASE + cs.PORTS_PER_SLOT * c.slot.n
    assert all(base <= p < base + cs.PORTS_PER_SLOT for p in flat), (base, ports)
    for n in c.nodes:
        assert n.host == "127.0.0.1" and n.name == "n%d@127.0.0.1" % n.index
        assert n.address == "n%d@127.0.0.1:%d" % (n.index, n.rpc_port)
        assert n.netns is None
    pubsub_through_each(c)

    # A persistent session on n2 survives SIGKILL: same data dir, same port.
    s = c.client(2, "durable", clean=False,
                 properties=mqttc.props(mqttc.CONNECT, SessionExpiryInterval=600))
    s.subscribe("d/1", qos=1)
    s.disconnect()
    n2 = c.node(2)
    first_pid = n2.pid
    assert n2.kill() == -9
    assert not n2.alive() and not cs.mqtt_connack(n2.host, n2.mqtt_port)
    c.client(1, "pub-while-down").publish("d/1", b"x", qos=1)  # n1 is not clustered: no route
    n2.start()
    assert n2.pid != first_pid
    assert (n2.mqtt_port, n2.api_port, n2.rpc_port) == ports[1]
    s = c.client(2, "durable", clean=False,
                 properties=mqttc.props(mqttc.CONNECT, SessionExpiryInterval=600))
    assert s.connack[0]["session present"] == 1, s.connack
    c.client(2, "pub-after").publish("d/1", b"after-restart", qos=1)
    s.expect_messages([("d/1", b"after-restart")])

    # SIGTERM: a graceful exit 0, then the same ports again.
    assert c.node(3).stop() == 0
    c.node(3).start()
    pubsub_through_each(c)
    assert [how for how, _ in n2.exits] == ["SIGKILL"]
    log = n2.read_log()
    assert log.count("==== cluster harness: start #") == 2

    pids = [n.pid for n in c.nodes]
    assert c.close() == []
    assert_gone(c, pids)


def test_cluster_environment_is_accepted_by_the_config():
    # Every EMQX_* key the harness sets for a clustered node (static seeds, RPC bind,
    # SWIM timings) is known to the config: no warning, and the node starts.
    c = cs.Cluster(join=True)
    try:
        for _ in range(2):
            c.add_node(start=False)
        cs.wait_ready([n.start(wait=False) for n in c.nodes])
        assert c.node(2).env["EMQX_CLUSTER__STATIC__SEEDS"] == '["%s"]' % c.node(1).address
        for n in c.nodes:
            # The two warnings every node on the embedded defaults gives (anonymous MQTT
            # clients, the API's bootstrap password); nothing about the cluster keys.
            warnings = [line for line in n.read_log().splitlines() if "[warning]" in line
                        and "no authentication configured" not in line
                        and "default_password is still the default" not in line]
            assert warnings == [], n.log_tail()
            assert "node %s started" % n.name in n.read_log()
    finally:
        assert c.close() == []


def claim_unused_slot():
    """A slot number past SLOTS (never handed out, but swept) that nobody uses, with its
    lock held so that no sweep touches it until the caller closes the file."""
    for n in range(cs.SLOTS + 700, cs.SLOTS + 800):
        f = cs._try_lock(n)
        if f is None:
            continue
        if os.path.getsize(cs._slot_path(n)) == 0 and not [
                ns for ns in cs.netns_list() if ns.startswith("emqxdct-%d-" % n)]:
            return n, f
        f.close()
    raise AssertionError("no unused slot number to fake an aborted run with")


def test_leftovers_of_an_aborted_run_are_removed(cluster, netns_available):
    # What a run killed before its teardown leaves: namespaces with the harness prefix,
    # the root veth, a process inside a namespace, a recorded loopback process and a data
    # directory, all of a slot nobody holds once its lock is dropped.
    s, lock = claim_unused_slot()
    ns, hub, veth = "emqxdct-%d-1-n1" % s, "emqxdct-%d-1-hub" % s, "emqxdct%d" % s
    procs = []
    try:
        for name in (ns, hub):
            cs.run(["ip", "netns", "add", name])
        cs.run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "host", "netns",
                hub])
        in_ns = subprocess.Popen(["ip", "netns", "exec", ns, "sleep", "300"],
                                 start_new_session=True)
        loose = subprocess.Popen(["sleep", "300"], start_new_session=True)
        procs = [in_ns, loose]
        cs.poll(lambda: (cs.netns_pids(ns) == [in_ns.pid], None), 5.0, 0.02)
        lock.write("%d %s n1@127.0.0.1\n" % (loose.pid, cs.proc_start_time(loose.pid)))
        stale_dir = tempfile.mkdtemp(prefix=cs.DIR_PREFIX)
        lock.write("dir %s\n" % stale_dir)
        lock.close()  # the run "dies": its slot is free, what it made is stale

        t0 = time.monotonic()
        c = cluster(1, join=False)
        swept = time.monotonic() - t0
        assert ns not in cs.netns_list() and hub not in cs.netns_list()
        assert veth not in cs.root_links()
        assert in_ns.wait(5) == -9 and loose.wait(5) == -9
        assert os.path.getsize(cs._slot_path(s)) == 0
        assert not os.path.exists(stale_dir)
        assert c.node(1).alive()
        print("\nsweep + one loopback node ready: %.3f s" % swept)
    finally:
        lock.close()
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for name in (ns, hub):
            if name in cs.netns_list():
                cs.run(["ip", "netns", "del", name], check=False)
        if veth in cs.root_links():
            cs.run(["ip", "link", "del", veth], check=False)


def test_a_second_netns_cluster_gets_its_own_slot(cluster):
    a = cluster(1, netns=True, join=False)
    b = cluster(1, netns=True, join=False)
    assert a.slot.n != b.slot.n
    assert a.network.net != b.network.net and a.network.prefix != b.network.prefix
    assert a.node(1).host != b.node(1).host
    # Each cluster's nodes are reachable from the test, and not from the other's.
    assert cs.mqtt_connack(a.node(1).host, 1883) and cs.mqtt_connack(b.node(1).host, 1883)
    r = a.can_connect(1, 1)
    assert r["ok"], r
    host = b.node(1).host
    p = a.exec(1, [cs.PYTHON, cs.NETPROBE, "connect", host, "1883", "0.5"],
               stdout=subprocess.PIPE, text=True)
    r = json.loads(p.communicate(timeout=10)[0])
    assert not r["ok"], "a node of one cluster reached another cluster's subnet: %r" % r


# ---------------------------------------------------------------- the API waits

class StubApi:
    """A stand-in for one node's HTTP API, serving the cluster API's JSON shapes from
    `self.members` and `self.routes`; records the query strings it was asked."""

    def __init__(self, name):
        self.name = name
        self.members = []
        self.routes = []
        self.queries = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if self.path == "/status":
                    return self.reply(200, {"status": "up"})
                token = b64encode(("%s:%s" % (cs.API_USER, cs.API_PASSWORD)).encode()).decode()
                if self.headers.get("Authorization") != "Basic " + token:
                    return self.reply(401, {"code": "UNAUTHORIZED"})
                if self.path == "/api/v5/cluster":
                    return self.reply(200, {"name": "emqxdcl", "self": stub.name,
                                            "members": list(stub.members),
                                            "routes": {"local": 0, "remote": 0},
                                            "forward": {"sent": 0, "received": 0,
                                                        "dropped": 0}})
                if self.path.startswith("/api/v5/routes?topic="):
                    q = self.path.split("=", 1)[1]
                    stub.queries.append(q)
                    data = [r for r in stub.routes if r["topic"] == unquote(q)]
                    return self.reply(200, {"data": data, "meta": {"count": len(data)}})
                self.reply(404, {"code": "NOT_FOUND"})

            def reply(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def member(name, state):
    return {"node": name, "address": name + ":4370", "state": state,
            "incarnation": 1733140000000, "self": False, "routes": 0, "link": "up"}


@pytest.fixture
def stub_cluster():
    """A Cluster of three Node objects whose APIs are StubApi servers (no processes),
    plus a fourth whose API port has nothing listening."""
    c = cs.Cluster(join=False)
    stubs = []
    try:
        for i in (1, 2, 3, 4):
            name = "n%d@127.0.0.1" % i
            if i < 4:
                stubs.append(StubApi(name))
                api = stubs[-1].port
            else:
                api = c.slot.ports(1)[0]
            c.nodes.append(cs.Node(c, i, "127.0.0.1", 0, api, 4370 + i, None, {}))
        yield c, stubs
    finally:
        for s in stubs:
            s.close()
        assert c.close() == []


def test_wait_members_and_routes_against_stub_api(stub_cluster):
    c, (s1, s2, s3) = stub_cluster
    n1, n2, n3 = (c.node(i).name for i in (1, 2, 3))
    for s in (s1, s2, s3):
        s.members = [member(n1, "alive"), member(n2, "alive"), member(n3, "alive")]
    assert c.status(1)["self"] == n1  # Basic auth sent: the stub answers 401 without it
    assert set(c.wait_members(alive=[1, 2, 3], timeout=2.0)) == {1, 2, 3}

    # n2 goes suspect, then dead on n1 and is removed on n3: both count as dead.
    for s in (s1, s3):
        s.members = [member(n1, "alive"), member(n2, "suspect"), member(n3, "alive")]

    def later():
        time.sleep(0.3)
        s1.members = [member(n1, "alive"), member(n2, "dead"), member(n3, "alive")]
        s3.members = [member(n1, "alive"), member(n3, "alive")]
    threading.Thread(target=later, daemon=True).start()
    t0 = time.monotonic()
    c.wait_members(alive=[1, 3], dead=[2], on=[1, 3], timeout=5.0)
    assert time.monotonic() - t0 >= 0.25
    c.wait_members(alive=[1, 3], absent=[2], on=[3], exact=True, timeout=1.0)

    # A failed wait says what was expected and what each node showed, with log tails.
    with pytest.raises(AssertionError) as e:
        c.wait_members(alive=[1, 3], absent=[2], on=[1, 3], timeout=0.5)
    msg = str(e.value)
    assert "expected on n1@127.0.0.1, n3@127.0.0.1 within 0.5s" in msg, msg
    assert "n2@127.0.0.1=absent" in msg and '"state": "dead"' in msg, msg
    assert "---- n1@127.0.0.1 log" in msg, msg
    with pytest.raises(AssertionError) as e:
        c.wait_members(alive=[1, 3], on=[1], exact=True, timeout=0.3)
    assert "and no other member" in str(e.value)

    # Routes: the topic is sent encoded; the wait ends when every node lists it via n3.
    s1.routes = [{"topic": "a/+/c", "node": n3}]

    def later_routes():
        time.sleep(0.2)
        s2.routes = [{"topic": "a/+/c", "node": n3}, {"topic": "a/+/c", "node": n1}]
    threading.Thread(target=later_routes, daemon=True).start()
    seen = c.wait_routed("a/+/c", on=[1, 2], via=3, timeout=5.0)
    assert len(seen[2]) == 2 and "a/%2B/c" in s1.queries
    c.wait_routed("a/+/c", on=[2], via=[1, 3], timeout=1.0)
    c.wait_routed("a/+/c", on=[3], via=3, present=False, timeout=1.0)
    with pytest.raises(AssertionError) as e:
        c.wait_routed("x/#", on=[1], via=2, timeout=0.3)
    assert "expected 'x/#' routed via n2@127.0.0.1 on n1@127.0.0.1" in str(e.value)
    assert "x/%23" in s1.queries

    # No API at all: the message says so.
    with pytest.raises(AssertionError) as e:
        c.wait_members(alive=[4], on=[4], timeout=0.3)
    assert "Connection refused" in str(e.value) and "join=False" in str(e.value)
