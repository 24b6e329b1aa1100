"""etcd discovery (cluster.discovery_strategy = etcd; cluster/discovery_etcd.cpp) against
Debian's etcd-server, started by the test on free loopback ports with a throw-away data
directory. Each node keeps "<prefix>/<cluster.name>/nodes/<name@host>" under a lease of
node_ttl; the test reads etcd through the same JSON gateway to see what the nodes wrote."""
import base64
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request

import pytest

import cluster_support as CS

PREFIX = "emqxdtest"
CLUSTER = "emqxdcl"  # cluster.name's default
NODE_TTL = 10        # seconds: the least emqxd takes, so that a dead node goes quickly


def b64(text):
    return base64.b64encode(text.encode()).decode()


class Etcd:
    """One etcd member on loopback, stopped (by PID) at the cluster's close()."""

    def __init__(self, c, tls_dir=None, client_auth=False):
        self.c = c
        self.tls_dir = tls_dir
        self.client_auth = client_auth  # clients must show a certificate of tls_dir's CA
        self.client_port, self.peer_port = c.slot.ports(2)
        self.scheme = "https" if tls_dir else "http"
        self.url = "%s://127.0.0.1:%d" % (self.scheme, self.client_port)
        self.proc = None
        self.generation = 0
        self.start()

    def start(self, fresh=False):
        """Starts etcd; fresh=True: on a new, empty data directory (an etcd that lost its
        data, and with it every lease)."""
        if fresh:
            self.generation += 1
        self.data = os.path.join(self.c.dir, "etcd-%d" % self.generation)
        peer = "http://127.0.0.1:%d" % self.peer_port
        argv = ["etcd", "--name", "t", "--data-dir", self.data,
                "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", "t=" + peer, "--log-level", "warn"]
        if self.tls_dir:
            argv += ["--cert-file", os.path.join(self.tls_dir, "etcd.pem"),
                     "--key-file", os.path.join(self.tls_dir, "etcd.key")]
        if self.client_auth:
            argv += ["--client-cert-auth",
                     "--trusted-ca-file", os.path.join(self.tls_dir, "ca.pem")]
        self.log = open(os.path.join(self.c.dir, "etcd.log"), "ab")
        self.proc = self.c.exec(1, argv, stdout=self.log, stderr=subprocess.STDOUT)
        ok, _, _, _ = CS.poll(lambda: (self.healthy(), None), 20, 0.2)
        assert ok, open(self.log.name, "rb").read()[-3000:]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)

    def _post(self, path, body, timeout=3.0):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        ctx = None
        if self.tls_dir:
            import ssl
            ctx = ssl.create_default_context(cafile=os.path.join(self.tls_dir, "ca.pem"))
            if self.client_auth:
                ctx.load_cert_chain(os.path.join(self.tls_dir, "client.pem"),
                                    os.path.join(self.tls_dir, "client.key"))
        with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
            return json.loads(r.read())

    def healthy(self):
        try:
            self._post("/v3/kv/range", {"key": b64("health")}, timeout=1.0)
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def nodes(self):
        """{node id: (value, lease)} under the cluster's nodes prefix."""
        key = "%s/%s/nodes/" % (PREFIX, CLUSTER)
        end = key[:-1] + chr(ord(key[-1]) + 1)
        got = self._post("/v3/kv/range", {"key": b64(key), "range_end": b64(end)})
        out = {}
        for kv in got.get("kvs", []):
            k = base64.b64decode(kv["key"]).decode()
            out[k[len(key):]] = (base64.b64decode(kv.get("value", "")).decode(),
                                 kv.get("lease", "0"))
        return out

    def wait_nodes(self, want, timeout=20.0):
        """Until the registered node ids are exactly `want` (a set)."""
        ok, seen, _, _ = CS.poll(lambda: (set(self.nodes()) == want, self.nodes()), timeout, 0.2)
        assert ok, "etcd holds %r, expected %r" % (seen, sorted(want))


def node_id(n):
    return n.name  # name@host: the key's last part


@pytest.fixture
def etcd_cluster():
    """(cluster, Etcd) with no node yet; closed at teardown, even on failure."""
    made = []

    def make(tls_dir=None, env=None, client_auth=False):
        server = {}
        c = CS.Cluster(join=False, env=dict({
            "EMQX_CLUSTER__DISCOVERY_STRATEGY": "etcd",
            "EMQX_CLUSTER__ETCD__PREFIX": PREFIX,
            "EMQX_CLUSTER__ETCD__NODE_TTL": "%ds" % NODE_TTL,
        }, **(env or {})))
        try:
            e = Etcd(c, tls_dir, client_auth)
        except BaseException:
            c.close()
            raise
        # The server's URL, and a second that nobody serves: a list is tried in turn.
        c.extra_env["EMQX_CLUSTER__ETCD__SERVER"] = "http://127.0.0.1:1,%s" % e.url \
            if not tls_dir else e.url
        made.append((c, e))
        return c, e

    yield make
    problems = []
    for c, e in made:
        problems += c.close()
        if e.proc.poll() is None:
            problems.append("etcd still running")
    assert not problems, "teardown:\n" + "\n".join(problems)


def start_all(nodes):
    for n in nodes:
        n.start(wait=False)
    CS.wait_ready(nodes)


def test_nodes_register_find_each_other_and_leave(etcd_cluster):
    c, e = etcd_cluster()
    nodes = [c.add_node(start=False) for _ in range(3)]
    start_all(nodes)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    e.wait_nodes({node_id(n) for n in nodes})
    held = e.nodes()
    for n in nodes:  # the value is the address to dial; each key under a lease
        value, lease = held[node_id(n)]
        assert value == n.address
        assert lease != "0"
    log = open(nodes[0].log_path).read()
    assert "etcd discovery: http://127.0.0.1:1,%s %s/%s/nodes/: " % (e.url, PREFIX, CLUSTER) \
        in log, log[-2000:]

    # Messages cross the cluster that etcd made.
    sub = c.client(3, "etcd-sub")
    sub.subscribe("etcd/#", qos=1)
    c.wait_routed("etcd/#", on=[1], via=3)
    c.client(1, "etcd-pub").publish("etcd/x", b"found through etcd", qos=1)
    sub.expect_messages([("etcd/x", b"found through etcd")], timeout=10)

    # A node that stops revokes its lease: its key goes at once, not after node_ttl.
    t0 = time.monotonic()
    assert nodes[2].stop() == 0
    e.wait_nodes({node_id(nodes[0]), node_id(nodes[1])}, timeout=NODE_TTL / 2)
    assert time.monotonic() - t0 < NODE_TTL

    # `emqxd cluster leave`: out of etcd too, and it stays out (discovery stops).
    c.leave(2)
    e.wait_nodes({node_id(nodes[0])}, timeout=NODE_TTL / 2)
    c.wait_members(alive=[1], absent=[2], on=[1], timeout=20)
    time.sleep(12)  # two rounds of discovery and more: it does not come back
    assert set(e.nodes()) == {node_id(nodes[0])}
    c.wait_members(alive=[2], on=[2], exact=True, timeout=5)


def test_the_first_node_alone_is_joined_by_the_others_not_a_second_cluster(etcd_cluster):
    c, e = etcd_cluster()
    first = c.add_node(start=False)
    first.start()
    e.wait_nodes({node_id(first)})
    c.wait_members(alive=[1], exact=True, timeout=5)
    rest = [c.add_node(start=False) for _ in range(2)]
    start_all(rest)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    e.wait_nodes({node_id(n) for n in [first] + rest})


def test_a_dead_node_expires_and_a_new_one_joins(etcd_cluster):
    c, e = etcd_cluster()
    nodes = [c.add_node(start=False) for _ in range(2)]
    start_all(nodes)
    c.wait_members(alive=[1, 2], exact=True, timeout=30)
    nodes[1].kill()  # no chance to revoke: the lease runs out
    e.wait_nodes({node_id(nodes[0])}, timeout=NODE_TTL + 10)
    n3 = c.add_node(start=False)
    n3.start()
    c.wait_members(alive=[1, 3], on=[1, 3], timeout=30)
    e.wait_nodes({node_id(nodes[0]), node_id(n3)})


def test_an_etcd_outage_keeps_the_cluster_and_the_nodes_register_again(etcd_cluster):
    c, e = etcd_cluster()
    nodes = [c.add_node(start=False) for _ in range(2)]
    start_all(nodes)
    c.wait_members(alive=[1, 2], exact=True, timeout=30)
    e.wait_nodes({node_id(n) for n in nodes})
    e.stop()
    ok, _, _, _ = CS.poll(lambda: ("no etcd server answered" in nodes[0].read_log(), None),
                          15, 0.3)
    assert ok, nodes[0].log_tail()
    c.wait_members(alive=[1, 2], exact=True, timeout=5)  # the cluster does not depend on it
    # etcd comes back without its data: the leases are gone, each node grants a new one
    # and writes its key again.
    e.start(fresh=True)
    e.wait_nodes({node_id(n) for n in nodes}, timeout=20)
    # And a node that starts now still finds the others.
    n3 = c.add_node(start=False)
    n3.start()
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)


@pytest.fixture(scope="module")
def etcd_pki(tmp_path_factory):
    from test_tls import make_ca, make_cert
    d = str(tmp_path_factory.mktemp("etcd-pki"))
    make_ca(d, "ca")
    make_ca(d, "other-ca")
    make_cert(d, "ca", "etcd")
    make_cert(d, "ca", "client")
    return d


@pytest.mark.parametrize("ca,works", [("ca", True), ("other-ca", False)])
def test_etcd_over_tls_checks_the_servers_certificate(etcd_cluster, etcd_pki, ca, works):
    c, e = etcd_cluster(tls_dir=etcd_pki, env={
        "EMQX_CLUSTER__ETCD__SSL_OPTIONS__ENABLE": "true",
        "EMQX_CLUSTER__ETCD__SSL_OPTIONS__VERIFY": "verify_peer",
        "EMQX_CLUSTER__ETCD__SSL_OPTIONS__CACERTFILE": os.path.join(etcd_pki, ca + ".pem"),
    })
    nodes = [c.add_node(start=False) for _ in range(2)]
    start_all(nodes)
    if works:
        c.wait_members(alive=[1, 2], exact=True, timeout=30)
        e.wait_nodes({node_id(n) for n in nodes})
    else:
        ok, _, _, _ = CS.poll(lambda: ("no etcd server answered" in nodes[0].read_log(), None),
                              15, 0.3)
        assert ok, nodes[0].log_tail()
        assert "certificate verify failed" in nodes[0].read_log(), nodes[0].log_tail()
        assert e.nodes() == {}
        c.wait_members(alive=[1], on=[1], exact=True, timeout=5)


@pytest.mark.parametrize("client_cert", [True, False])
def test_etcd_that_asks_for_a_client_certificate(etcd_cluster, etcd_pki, client_cert):
    env = {
        "EMQX_CLUSTER__ETCD__SSL_OPTIONS__ENABLE": "true",
        "EMQX_CLUSTER__ETCD__SSL_OPTIONS__VERIFY": "verify_peer",
        "EMQX_CLUSTER__ETCD__SSL_OPTIONS__CACERTFILE": os.path.join(etcd_pki, "ca.pem"),
    }
    if client_cert:
        env["EMQX_CLUSTER__ETCD__SSL_OPTIONS__CERTFILE"] = os.path.join(etcd_pki, "client.pem")
        env["EMQX_CLUSTER__ETCD__SSL_OPTIONS__KEYFILE"] = os.path.join(etcd_pki, "client.key")
    c, e = etcd_cluster(tls_dir=etcd_pki, env=env, client_auth=True)
    nodes = [c.add_node(start=False) for _ in range(2)]
    start_all(nodes)
    if client_cert:
        c.wait_members(alive=[1, 2], exact=True, timeout=30)
        e.wait_nodes({node_id(n) for n in nodes})
    else:
        ok, _, _, _ = CS.poll(lambda: ("no etcd server answered" in nodes[0].read_log(), None),
                              15, 0.3)
        assert ok, nodes[0].log_tail()
        assert e.nodes() == {}
        c.wait_members(alive=[1], on=[1], exact=True, timeout=5)


@pytest.mark.parametrize("env,error", [
    ({"EMQX_CLUSTER__DISCOVERY_STRATEGY": "etcd"}, "etcd needs cluster.etcd.server"),
    ({"EMQX_CLUSTER__DISCOVERY_STRATEGY": "etcd", "EMQX_CLUSTER__ETCD__SERVER": "127.0.0.1:2379"},
     "cluster.etcd.server: expected http[s]://host[:port]"),
    ({"EMQX_CLUSTER__ETCD__NODE_TTL": "1s"}, "cluster.etcd.node_ttl"),
    ({"EMQX_CLUSTER__ETCD__SSL_OPTIONS__CACERTFILE": "/nonexistent/ca.pem"},
     "cluster.etcd.ssl_options.cacertfile: cannot read /nonexistent/ca.pem"),
    ({"EMQX_CLUSTER__K8S__ADDRESS_TYPE": "pod"}, "cluster.k8s.address_type"),
    ({"EMQX_CLUSTER__K8S__APISERVER": "kubernetes:443"}, "cluster.k8s.apiserver"),
    ({"EMQX_CLUSTER__DISCOVERY_STRATEGY": "mcast"}, "mcast discovery is not supported"),
])
def test_bad_discovery_settings_stop_start_up_naming_the_key(env, error):
    full = {k: v for k, v in os.environ.items() if not k.startswith("EMQX_")}
    full.update(env)
    p = subprocess.run([CS.EMQXD_BIN, "start"], env=full, capture_output=True, text=True,
                       timeout=20)
    assert p.returncode != 0
    assert error in p.stderr, p.stderr[-2000:]
