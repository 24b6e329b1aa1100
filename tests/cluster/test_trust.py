"""Cluster trust (README.md, "Security model"; cluster/auth.hpp): the attacks that used to
work against the cluster port with a small gRPC client, each scripted here against a real
cluster, and each refused. The attacker is Python gRPC with stubs generated at test time
from proto/cluster.proto (Debian's protoc and python3-grpcio), signing its calls as the
nodes do (HMAC-SHA256 under a key derived from node.cookie) when the test gives it the
cookie, and with no or a wrong cookie otherwise."""
import hashlib
import hmac
import os
import secrets
import socket
import subprocess
import sys
import threading
import time

import pytest

grpc = pytest.importorskip("grpc", reason="python3-grpcio is not installed")

from cluster_support import COOKIE  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
METHOD = "/emqxd.cluster.v1.%s"
LEFT = 3  # MEMBER_STATE_LEFT
U64_MAX = 2 ** 64 - 1


@pytest.fixture(scope="module")
def pb(tmp_path_factory):
    """cluster_pb2, generated from proto/cluster.proto into a temporary directory."""
    out = tmp_path_factory.mktemp("stubs")
    subprocess.run(["protoc", "-I", os.path.join(ROOT, "proto"), "--python_out", str(out),
                    os.path.join(ROOT, "proto", "cluster.proto")], check=True)
    sys.path.insert(0, str(out))
    try:
        import cluster_pb2
        return cluster_pb2
    finally:
        sys.path.remove(str(out))


def sign(cookie, cluster, method, node, to):
    """The metadata of one call, as cluster/auth.cpp makes it; cookie None: none at all."""
    if cookie is None:
        return []
    key = hmac.new(cookie.encode(), b"emqxd cluster v1", hashlib.sha256).digest()
    t = str(int(time.time() * 1000))
    nonce = secrets.token_hex(16)
    data = b""
    for f in ("call", cluster, method, node, to, t, nonce):
        b = f.encode()
        data += len(b).to_bytes(4, "big") + b
    mac = hmac.new(key, data, hashlib.sha256).hexdigest()
    return [("x-emqxd-node", node), ("x-emqxd-to", to), ("x-emqxd-time", t),
            ("x-emqxd-nonce", nonce), ("x-emqxd-mac", mac)]


class Attacker:
    """A gRPC client of one node's cluster port."""

    def __init__(self, pb, c, i, name="evil@127.0.0.1", cookie=None):
        self.pb, self.node = pb, c.node(i)
        self.cluster = c.status(i)["name"]
        self.name, self.cookie = name, cookie
        self.channel = grpc.insecure_channel(
            "%s:%d" % (self.node.host, self.node.rpc_port),
            options=[("grpc.max_send_message_length", -1)])

    def close(self):
        self.channel.close()

    def address(self, name=None):
        n, h = (name or self.name).split("@")
        return self.pb.NodeAddress(name=n, host=h, port=1)

    def call(self, service, request, reply, name=None, cookie="default"):
        """Returns the status code of the call (OK included)."""
        method = METHOD % service
        stub = self.channel.unary_unary(method, request_serializer=request.SerializeToString,
                                        response_deserializer=reply.FromString)
        md = sign(self.cookie if cookie == "default" else cookie, self.cluster, method,
                  name or self.name, self.node.name)
        try:
            stub(request, metadata=md, timeout=10)
            return grpc.StatusCode.OK
        except grpc.RpcError as e:
            return e.code()

    def takeover(self, client_id, name=None, **kw):
        req = self.pb.TakeoverRequest(cluster=self.cluster, client_id=client_id,
                                      **{"from": self.address(name)})
        return self.call("Sessions/Takeover", req, self.pb.TakeoverReply, name=name, **kw)

    def gossip(self, updates, **kw):
        m = self.pb.MembershipMessage(cluster=self.cluster, to=self.node.name,
                                      from_incarnation=1, gossip=self.pb.Gossip(),
                                      **{"from": self.address()})
        for node, inc, state in updates:
            n, rest = node.split("@")
            h, p = rest.rsplit(":", 1)
            m.updates.add(node=self.pb.NodeAddress(name=n, host=h, port=int(p)),
                          incarnation=inc, state=state)
        return self.call("Membership/Send", m, self.pb.SendReply, **kw)


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for %d" % pid)


def assert_no_cookie_in_logs(c, *cookies):
    for n in c.nodes:
        log = n.read_log()
        for k in cookies:
            assert k not in log, "node %s logged a cookie" % n.name


def test_a_non_member_cannot_take_an_offline_session(cluster, pb):
    c = cluster(2)
    from test_sessions import persistent, session_present, wait_forwarded
    s = persistent(c, 1, "victim")
    s.subscribe("v/#", qos=1)
    s.disconnect()
    c.wait_routed("v/#", on=[2], via=1)
    c.client(2, "v-pub").publish("v/1", b"for the victim", qos=1)
    wait_forwarded(c, 1, 1)  # in the session on node 1 before anything moves it

    a = Attacker(pb, c, 1)
    try:
        assert a.takeover("victim", cookie=None) == grpc.StatusCode.UNAUTHENTICATED
        assert a.takeover("victim", cookie="wrong") == grpc.StatusCode.UNAUTHENTICATED
        # With the cookie but not a member: refused before any session is touched.
        assert a.takeover("victim", cookie=COOKIE) == grpc.StatusCode.FAILED_PRECONDITION
        # With the cookie, signed as itself, claiming to act for the member n2.
        req = pb.TakeoverRequest(cluster=a.cluster, client_id="victim",
                                 **{"from": a.address(c.node(2).name)})
        assert a.call("Sessions/Takeover", req, pb.TakeoverReply, cookie=COOKIE) == \
            grpc.StatusCode.PERMISSION_DENIED
    finally:
        a.close()
    assert c.status(1)["sessions"]["takeovers_out"] == 0
    s2 = persistent(c, 2, "victim")
    assert session_present(s2), s2.connack
    s2.expect_messages([("v/1", b"for the victim")], timeout=10)
    log = c.node(1).read_log()
    assert "refused cluster call /emqxd.cluster.v1.Sessions/Takeover" in log
    assert_no_cookie_in_logs(c, COOKIE)


def test_a_node_with_a_wrong_cookie_cannot_join_and_receives_nothing(cluster):
    wrong = "not-the-" + COOKIE
    c = cluster(2, node_env={3: {"EMQX_NODE__COOKIE": wrong}})
    c.add_node()  # n3, seeded by n1, with the wrong cookie
    s3 = c.client(3, "outsider")
    s3.subscribe("news/#", qos=1)
    pub = c.client(1, "insider")
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        pub.publish("news/x", b"secret", qos=1)
        time.sleep(0.3)
    s3.expect(0, timeout=0.5)
    for i in (1, 2):
        names = [m["node"] for m in c.status(i)["members"]]
        assert c.node(3).name not in names, names
    members3 = c.status(3)["members"]
    assert [m["node"] for m in members3] == [c.node(3).name], members3
    assert "refused cluster call" in c.node(1).read_log()
    assert "refused this node's cluster credentials" in c.node(3).read_log()
    assert_no_cookie_in_logs(c, COOKIE, wrong)


def test_thousands_of_forged_names_do_not_grow_the_peer_table(cluster, pb):
    c = cluster(2)
    a = Attacker(pb, c, 1)
    try:
        codes = {}
        for k in range(2000):
            name = "forged%d@10.9.%d.%d" % (k, k // 250, k % 250)
            for cookie in (None, COOKIE):
                code = a.takeover("x", name=name, cookie=cookie)
                codes[(cookie is None, code)] = codes.get((cookie is None, code), 0) + 1
    finally:
        a.close()
    assert codes == {(True, grpc.StatusCode.UNAUTHENTICATED): 2000,
                     (False, grpc.StatusCode.FAILED_PRECONDITION): 2000}, codes
    members = c.status(1)["members"]
    assert len(members) == 2, members
    # The refusals were logged once per source address per minute, not 4000 times.
    assert c.node(1).read_log().count("refused cluster call") <= 2


def test_a_forged_left_at_the_highest_incarnation_evicts_nobody(cluster, pb):
    c = cluster(3)
    n2 = c.node(2).address
    a = Attacker(pb, c, 1)
    try:
        assert a.gossip([(n2, U64_MAX, LEFT)], cookie=None) == grpc.StatusCode.UNAUTHENTICATED
        # Even with the cookie the claim is dropped: incarnations never wrap.
        assert a.gossip([(n2, U64_MAX, LEFT)], cookie=COOKIE) == grpc.StatusCode.OK
    finally:
        a.close()
    time.sleep(2)
    c.wait_members(alive=[1, 2, 3], on=[1, 2, 3], timeout=10)


def test_invented_members_are_not_dialled(cluster, pb):
    c = cluster(2, env={"EMQX_CLUSTER__MAX_NODES": "6"})
    # A listener that sees every connection to 127.0.1.<k>:port, one per invented member.
    lsock = socket.socket()
    lsock.bind(("0.0.0.0", 0))
    lsock.listen(512)
    port = lsock.getsockname()[1]
    dialled = set()
    stop = threading.Event()

    def accept():
        lsock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = lsock.accept()
            except OSError:
                continue
            dialled.add(conn.getsockname()[0])
            conn.close()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    invented = [("ghost%d@127.0.1.%d:%d" % (k, k % 250 + 1, port), 5, 0) for k in range(300)]
    a = Attacker(pb, c, 1)
    try:
        assert a.gossip(invented, cookie=None) == grpc.StatusCode.UNAUTHENTICATED
        time.sleep(3)
        assert dialled == set(), dialled
        # A cookie holder's gossip is bounded by cluster.max_nodes: n1, n2, the attacker
        # and at most three invented ones.
        assert a.gossip(invented, cookie=COOKIE) == grpc.StatusCode.OK
        time.sleep(3)
    finally:
        a.close()
        stop.set()
        t.join()
        lsock.close()
    # Some were dialled (the listener does see them), never more than the bound allows.
    assert 0 < len(dialled) <= 3, dialled
    assert len(c.status(1)["members"]) <= 6


def test_a_huge_register_is_refused_before_it_is_parsed(cluster, pb):
    c = cluster(2)
    pid = c.node(1).pid
    before = rss_kb(pid)
    req = pb.RegisterRequest(cluster="x", client_ids=["c%07d" % k for k in range(3_000_000)])
    assert req.ByteSize() > 30_000_000
    a = Attacker(pb, c, 1)
    try:
        for cookie in (None, COOKIE):
            assert a.call("Sessions/Register", req, pb.RegisterReply, cookie=cookie) == \
                grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        a.close()
    grown = rss_kb(pid) - before
    assert grown < 40_000, "RSS grew by %d kB" % grown
    c.wait_members(alive=[1, 2], on=[1, 2], timeout=10)
