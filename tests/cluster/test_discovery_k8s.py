"""Kubernetes discovery (cluster.discovery_strategy = k8s; cluster/discovery_k8s.cpp)
against a stand-in API server (k8s_standin.py: no real one can run here, README.md says
so) that serves the EndpointSlice and Endpoints documents of the Kubernetes API reference
over HTTPS. As in a pod: each node runs in a network namespace of the test's own, reads
its service account's token and CA from a directory, and resolves the API server's and
the pods' names through /etc/hosts (`ip netns exec` mounts /etc/netns/<ns>/hosts over
it), as cluster DNS would answer them."""
import json
import os
import shutil
import subprocess

import pytest

import cluster_support as CS
from test_tls import make_ca, make_cert, openssl

API_INDEX = 9          # the stand-in's namespace: 10.213.<slot>.9
API_PORT = 6443
API_HOST = "kubernetes.default.svc"
SERVICE = "emqxd-headless"
NAMESPACE = "mqtt"
SUFFIX = "svc.cluster.local"
HERE = os.path.dirname(os.path.abspath(__file__))


def make_api_cert(d, ca, addr):
    """The API server's certificate, for its service name and address."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "api.key", "-out", "api.csr",
            "-subj", "/CN=kube-apiserver", cwd=d)
    with open(os.path.join(d, "api.ext"), "w") as f:
        f.write("subjectAltName=DNS:%s,IP:%s\nextendedKeyUsage=serverAuth\n" % (API_HOST, addr))
    openssl("x509", "-req", "-in", "api.csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", "api.pem", "-days", "2", "-extfile", "api.ext", cwd=d)


class Api:
    """The stand-in API server in its own namespace, and the pods' view of the world: the
    service account directory and each namespace's /etc/hosts."""

    def __init__(self, c, slices="serve", ca="ca"):
        self.c = c
        c.network.add_node(API_INDEX)
        self.addr = c.network.addr(API_INDEX)
        self.dir = os.path.join(c.dir, "k8s")
        os.makedirs(self.dir)
        make_ca(self.dir, "ca")
        make_ca(self.dir, "other-ca")
        make_api_cert(self.dir, "ca", self.addr)
        # The service account as kubelet mounts it.
        self.sa = os.path.join(self.dir, "serviceaccount")
        os.makedirs(self.sa)
        shutil.copy(os.path.join(self.dir, ca + ".pem"), os.path.join(self.sa, "ca.crt"))
        self.set_token("token-of-the-pods")
        with open(os.path.join(self.sa, "namespace"), "w") as f:
            f.write(NAMESPACE)
        self.state = {"token": "token-of-the-pods", "slices": slices, "services": {}}
        self.state_path = os.path.join(self.dir, "state.json")
        self.save()
        self.log_path = os.path.join(self.dir, "requests.log")
        open(self.log_path, "w").close()
        self.hosts = {API_HOST: self.addr}
        self.etc = []
        self.proc = c.exec(API_INDEX, [CS.PYTHON, os.path.join(HERE, "k8s_standin.py"),
                                       self.state_path, os.path.join(self.dir, "api.pem"),
                                       os.path.join(self.dir, "api.key"), self.addr,
                                       str(API_PORT), self.log_path],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ok, _, _, _ = CS.poll(lambda: (self.proc.poll() is None and
                                       "started" in open(self.log_path).read(), None), 10, 0.1)
        assert ok, "the stand-in API server did not start"

    def save(self):
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.state, f)
        os.replace(tmp, self.state_path)

    def set_token(self, token):
        """Writes the pods' token file (kubelet rotates it in place)."""
        tmp = os.path.join(self.sa, "token.tmp")
        with open(tmp, "w") as f:
            f.write(token + "\n")
        os.replace(tmp, os.path.join(self.sa, "token"))

    def serve(self, pods):
        """The service's pods: [{"ip", "hostname", "ready", "terminating"}]."""
        self.state["services"][NAMESPACE + "/" + SERVICE] = pods
        self.save()

    def requests(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.strip() and "path" in line]

    def publish_hosts(self, nodes):
        """Every namespace's /etc/hosts: the API server and the pods by their names."""
        for n in nodes:
            if n.name.split("@")[1] != n.host:
                self.hosts[n.name.split("@")[1]] = n.host
        for n in nodes:
            d = os.path.join("/etc/netns", n.netns)
            os.makedirs(d, exist_ok=True)
            if d not in self.etc:
                self.etc.append(d)
            with open(os.path.join(d, "hosts"), "w") as f:
                f.write("127.0.0.1 localhost\n")
                for name, addr in self.hosts.items():
                    f.write("%s %s\n" % (addr, name))

    def close(self):
        for d in self.etc:
            shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def k8s_cluster(netns_available):
    made = []

    def make(address_type="hostname", slices="serve", ca="ca"):
        c = CS.Cluster(netns=True, join=False)
        try:
            api = Api(c, slices, ca)
        except BaseException:
            c.close()
            raise
        c.extra_env.update({
            "EMQX_CLUSTER__DISCOVERY_STRATEGY": "k8s",
            "EMQX_CLUSTER__K8S__APISERVER": "https://%s:%d" % (API_HOST, API_PORT),
            "EMQX_CLUSTER__K8S__SERVICE_NAME": SERVICE,
            "EMQX_CLUSTER__K8S__NAMESPACE": NAMESPACE,
            "EMQX_CLUSTER__K8S__ADDRESS_TYPE": address_type,
            "EMQX_CLUSTER__K8S__SUFFIX": SUFFIX,
            "EMQX_CLUSTER__K8S__SERVICE_ACCOUNT_DIR": api.sa,
        })
        made.append((c, api))
        return c, api

    yield make
    problems = []
    for c, api in made:
        api.close()
        problems += c.close()
    assert not problems, "teardown:\n" + "\n".join(problems)


def add(c, hostname=None, dns=False):
    """A pod: emqxd@<hostname>.<service>.<namespace>.<suffix> (a StatefulSet's pod
    under its headless service), emqxd@<its address, dashed>.<namespace>.<suffix> with
    dns (address_type = dns: the pod's DNS A record), or emqxd@<its address>."""
    n = c.add_node(start=False)
    if hostname:
        host = "%s.%s.%s.%s" % (hostname, SERVICE, NAMESPACE, SUFFIX)
    elif dns:
        host = "%s.%s.%s" % (n.host.replace(".", "-"), NAMESPACE, SUFFIX)
    else:
        host = n.host
    n.name = "emqxd@" + host
    n.address = "%s:%d" % (n.name, n.rpc_port)
    n.env["EMQX_NODE__NAME"] = n.name
    return n


def pod(n, hostname=None, ready=True, terminating=False):
    p = {"ip": n.host, "ready": ready, "terminating": terminating}
    if hostname:
        p["hostname"] = hostname
    return p


def start_all(nodes):
    for n in nodes:
        n.start(wait=False)
    CS.wait_ready(nodes)


def test_statefulset_pods_by_hostname_from_endpointslices(k8s_cluster):
    c, api = k8s_cluster("hostname")
    names = ["emqxd-0", "emqxd-1", "emqxd-2"]
    nodes = [add(c, h) for h in names]
    api.publish_hosts(nodes)
    # Pods start together; none is ready yet (readiness waits for the node), and the
    # headless service publishes them anyway: they must find each other.
    api.serve([pod(n, h, ready=False) for n, h in zip(nodes, names)])
    start_all(nodes)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    status = c.status(1)
    assert sorted(m["node"] for m in status["members"]) == sorted(n.name for n in nodes)
    reqs = api.requests()
    assert reqs and all(r["token_ok"] for r in reqs), reqs[:5]
    assert {r["path"] for r in reqs} == {
        "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % NAMESPACE}
    assert reqs[0]["query"] == "labelSelector=kubernetes.io%2Fservice-name%3D" + SERVICE
    log = open(nodes[0].log_path).read()
    assert "k8s discovery: https://%s:%d service %s/%s (hostname addresses): " % (
        API_HOST, API_PORT, NAMESPACE, SERVICE) in log, log[-2000:]

    # Messages cross the cluster.
    sub = c.client(3, "k8s-sub")
    sub.subscribe("k8s/#", qos=1)
    c.wait_routed("k8s/#", on=[1], via=3)
    c.client(1, "k8s-pub").publish("k8s/x", b"found through the API", qos=1)
    sub.expect_messages([("k8s/x", b"found through the API")], timeout=10)

    # A pod of a scaled-up StatefulSet is found and joins.
    n4 = add(c, "emqxd-3")
    api.publish_hosts(nodes + [n4])
    api.serve([pod(n, h) for n, h in zip(nodes + [n4], names + ["emqxd-3"])])
    n4.start()
    c.wait_members(alive=[1, 2, 3, 4], exact=True, timeout=30)


def test_first_pod_alone_then_the_others_and_one_scaled_down_and_up_by_pod_dns(k8s_cluster):
    """The first pod starts alone (the others not yet scheduled): a cluster of one, not
    waiting. The others join it, not a second cluster. A pod scaled down leaves the
    endpoints and stops; the others carry on without it and it rejoins when scaled up."""
    c, api = k8s_cluster("dns")
    nodes = [add(c, dns=True) for _ in range(3)]
    api.publish_hosts(nodes)
    api.serve([pod(nodes[0], ready=False)])
    nodes[0].start()
    c.wait_members(alive=[1], exact=True, timeout=15)
    ok, _, _, _ = CS.poll(lambda: ("k8s discovery: " in nodes[0].read_log(), None), 15, 0.3)
    assert ok, nodes[0].log_tail()

    api.serve([pod(n, ready=(n is nodes[0])) for n in nodes])
    start_all(nodes[1:])
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    assert sorted(m["node"] for m in c.status(3)["members"]) == sorted(n.name for n in nodes)
    log = nodes[1].read_log()
    assert nodes[0].name.split("@")[1] in log[log.index("k8s discovery: "):], log[-2000:]

    # Scaled down: the pod is terminating in the endpoints, then gone, and stops.
    api.serve([pod(n, terminating=(n is nodes[2])) for n in nodes])
    assert nodes[2].stop() == 0
    api.serve([pod(n) for n in nodes[:2]])
    c.wait_members(alive=[1, 2], dead=[3], on=[1, 2], timeout=30)
    sub = c.client(2, "k8s-dn-sub")
    sub.subscribe("k8sdn/#", qos=1)
    c.wait_routed("k8sdn/#", on=[1], via=2)
    c.client(1, "k8s-dn-pub").publish("k8sdn/x", b"two of three", qos=1)
    sub.expect_messages([("k8sdn/x", b"two of three")], timeout=10)

    # Scaled up again: the same pod name and address, found and rejoined.
    api.serve([pod(n) for n in nodes])
    nodes[2].start()
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)


def test_pod_ips_from_endpoints_when_the_api_has_no_endpointslices(k8s_cluster):
    c, api = k8s_cluster("ip", slices="absent")
    nodes = [add(c) for _ in range(3)]
    api.publish_hosts(nodes)
    api.serve([pod(n) for n in nodes])
    start_all(nodes)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    assert sorted(m["node"] for m in c.status(2)["members"]) == \
        sorted("emqxd@" + n.host for n in nodes)
    paths = [r["path"] for r in api.requests()]
    slices = "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % NAMESPACE
    endpoints = "/api/v1/namespaces/%s/endpoints/%s" % (NAMESPACE, SERVICE)
    # Each node asked for EndpointSlices once, then read Endpoints from then on.
    assert paths.count(slices) == 3, paths
    assert paths.count(endpoints) >= 3, paths


def test_a_refused_token_is_reported_and_a_rotated_one_is_read(k8s_cluster):
    c, api = k8s_cluster("hostname", slices="forbidden")
    nodes = [add(c, "emqxd-%d" % i) for i in range(2)]
    api.publish_hosts(nodes)
    api.serve([pod(n, "emqxd-%d" % i) for i, n in enumerate(nodes)])
    api.set_token("an-expired-token")
    start_all(nodes)
    ok, _, _, _ = CS.poll(lambda: ("the service account token was refused" in
                                   nodes[0].read_log(), None), 15, 0.3)
    assert ok, nodes[0].log_tail()
    c.wait_members(alive=[1], on=[1], exact=True, timeout=5)
    # kubelet writes the new token: the next request carries it. (The Role grants only
    # Endpoints here: 403 on EndpointSlices makes the nodes read Endpoints.)
    api.set_token("token-of-the-pods")
    c.wait_members(alive=[1, 2], exact=True, timeout=30)
    assert any(r["path"].endswith("/endpoints/" + SERVICE) and r["code"] == 200
               for r in api.requests())


def test_the_api_servers_certificate_is_checked_against_the_service_account_ca(k8s_cluster):
    c, api = k8s_cluster("hostname", ca="other-ca")
    n = add(c, "emqxd-0")
    api.publish_hosts([n])
    api.serve([pod(n, "emqxd-0")])
    n.start()
    ok, _, _, _ = CS.poll(lambda: ("certificate verify failed" in n.read_log(), None), 15, 0.3)
    assert ok, n.log_tail()
    assert api.requests() == []  # nothing, token included, went to an unproven server
