"""DNS discovery (cluster.discovery_strategy = dns; cluster/discovery_dns.hpp,
cluster/cluster_discovery.cpp) against a real DNS server: Debian's dnsmasq, in a network
namespace of the test's own, answering for emqxd.test. Each node runs in its namespace
with /etc/netns/<namespace>/resolv.conf naming that server (`ip netns exec` mounts it
over /etc/resolv.conf). dnsmasq re-reads its hosts file on SIGHUP: that is how records
come and go."""
import ipaddress
import os
import shutil
import signal
import subprocess

import pytest

import cluster_support as CS

DNS_INDEX = 9  # the DNS server's namespace: 10.213.<slot>.9
DOMAIN = "emqxd.test"


class Dns:
    """dnsmasq for `c`'s network: A records from a hosts file, SRV records fixed at start."""

    def __init__(self, c, srv=()):
        self.c = c
        c.network.add_node(DNS_INDEX)
        self.addr = c.network.addr(DNS_INDEX)
        self.hosts = os.path.join(c.dir, "dns-hosts")
        self.etc = []
        self.set({})
        argv = ["dnsmasq", "--no-daemon", "--conf-file=/dev/null", "--user=root",
                "--no-resolv", "--no-hosts", "--bind-interfaces", "--listen-address=" + self.addr,
                "--local=/%s/" % DOMAIN, "--addn-hosts=" + self.hosts, "--log-queries"]
        argv += ["--srv-host=_emqxd._tcp.%s,%s,1883" % (DOMAIN, target) for target in srv]
        self.log = open(os.path.join(c.dir, "dnsmasq.log"), "wb")
        self.proc = c.exec(DNS_INDEX, argv, stdout=self.log, stderr=subprocess.STDOUT)
        ok, seen, _, _ = CS.poll(lambda: (self.proc.poll() is None and
                                          b"started" in open(self.log.name, "rb").read(), None),
                                 10, 0.1)
        assert ok, open(self.log.name, "rb").read()[-2000:]

    def set(self, records):
        """records: {name: [address, ...]}; takes effect at the next SIGHUP (or start)."""
        with open(self.hosts, "w") as f:
            for name, addrs in records.items():
                for a in addrs:
                    f.write("%s %s\n" % (a, name))
        os.chmod(self.hosts, 0o644)

    def publish(self, records):
        self.set(records)
        self.proc.send_signal(signal.SIGHUP)

    def resolv_conf(self, node):
        """Points node's namespace at this server (before the node starts)."""
        d = os.path.join("/etc/netns", node.netns)
        os.makedirs(d, exist_ok=True)
        self.etc.append(d)
        with open(os.path.join(d, "resolv.conf"), "w") as f:
            f.write("nameserver %s\noptions timeout:1 attempts:2\n" % self.addr)

    def close(self):
        for d in self.etc:
            shutil.rmtree(d, ignore_errors=True)
        self.log.close()


@pytest.fixture
def dns_cluster(netns_available):
    """(cluster, Dns) with no node yet; closed at teardown, even on failure."""
    made = []

    def make(record_type="a", srv=()):
        c = CS.Cluster(netns=True, join=False, env={
            "EMQX_CLUSTER__DISCOVERY_STRATEGY": "dns",
            "EMQX_CLUSTER__DNS__NAME": ("_emqxd._tcp." + DOMAIN) if record_type == "srv"
            else "nodes." + DOMAIN,
            "EMQX_CLUSTER__DNS__RECORD_TYPE": record_type,
        })
        try:
            d = Dns(c, srv)
        except BaseException:
            c.close()
            raise
        made.append((c, d))
        return c, d

    yield make
    problems = []
    for c, d in made:
        d.close()
        problems += c.close()
    assert not problems, "teardown:\n" + "\n".join(problems)


def add(c, d, host_name=None):
    """A node named emqxd@<its address> (or emqxd@<host_name>): discovery builds names
    from the records with this node's name part, so every node shares it."""
    n = c.add_node(start=False)
    n.name = "emqxd@%s" % (host_name or n.host)
    n.address = "%s:%d" % (n.name, n.rpc_port)
    n.env["EMQX_NODE__NAME"] = n.name
    d.resolv_conf(n)
    return n


def names(c, idx):
    return [c.node(i).name for i in idx]


def test_nodes_alone_until_the_records_appear_then_one_cluster(dns_cluster):
    c, d = dns_cluster()
    nodes = [add(c, d) for _ in range(3)]
    for n in nodes:
        n.start()
    # No records yet (pods not ready, say): each node is a cluster of one.
    for i in (1, 2, 3):
        c.wait_members(alive=[i], on=[i], exact=True)
    d.publish({"nodes." + DOMAIN: [n.host for n in nodes]})
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    log = open(nodes[0].log_path).read()
    assert "dns discovery: nodes.%s (a records): " % DOMAIN in log, log[-2000:]
    assert ", ".join("emqxd@%s:4370" % n.host for n in nodes) in log

    # Members come and go: n3 leaves the records and stops; a new node, in the records
    # with n1 and n2 only, joins them.
    d.publish({"nodes." + DOMAIN: [nodes[0].host, nodes[1].host]})
    nodes[2].stop()
    c.wait_members(alive=[1, 2], on=[1, 2], dead=[3], timeout=30)
    n4 = add(c, d)
    d.publish({"nodes." + DOMAIN: [nodes[0].host, nodes[1].host, n4.host]})
    n4.start()
    c.wait_members(alive=[1, 2, 4], on=[1, 2, 4], timeout=30)


def test_the_first_node_alone_is_joined_by_the_others(dns_cluster):
    c, d = dns_cluster()
    n1 = add(c, d)
    d.publish({"nodes." + DOMAIN: [n1.host]})
    n1.start()
    c.wait_members(alive=[1], on=[1], exact=True)
    n2, n3 = add(c, d), add(c, d)
    d.publish({"nodes." + DOMAIN: [n1.host, n2.host, n3.host]})
    n2.start(wait=False)
    n3.start(wait=False)
    CS.wait_ready([n2, n3])
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)


def test_aaaa_records_name_nodes_by_ipv6_address(dns_cluster):
    """record_type = aaaa: each node also has an IPv6 address (fd00:213:<slot>::<i>), named
    emqxd@[<that address>], its RPC on every address; dnsmasq serves the AAAA records."""
    c, d = dns_cluster("aaaa")
    nodes, v6 = [], []
    for _ in range(3):
        n = add(c, d)
        # As the resolver writes it (inet_ntop), since names are compared as written.
        addr = str(ipaddress.ip_address("fd00:213:%d::%s" % (c.slot.n,
                                                               n.host.rsplit(".", 1)[1])))
        c.network.ip(n.netns, "addr", "add", addr + "/64", "dev", "eth0", "nodad")
        n.name = "emqxd@[%s]" % addr  # an IPv6 host in brackets (cluster/node_address.hpp)
        n.address = "emqxd@[%s]:%d" % (addr, n.rpc_port)
        n.env["EMQX_NODE__NAME"] = n.name
        n.env["EMQX_CLUSTER__RPC__BIND"] = "[::]:%d" % n.rpc_port
        nodes.append(n)
        v6.append(addr)
    d.publish({"nodes." + DOMAIN: v6})
    for n in nodes:
        n.start(wait=False)
    CS.wait_ready(nodes)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    log = open(nodes[0].log_path).read()
    assert "dns discovery: nodes.%s (aaaa records): " % DOMAIN in log, log[-2000:]
    sub = c.client(3, "v6-sub")
    sub.subscribe("v6/#", qos=1)
    c.wait_routed("v6/#", on=[1], via=3)
    c.client(1, "v6-pub").publish("v6/x", b"over IPv6 RPC", qos=1)
    sub.expect_messages([("v6/x", b"over IPv6 RPC")], timeout=10)


def test_srv_records_name_nodes_by_host(dns_cluster):
    hosts = ["n%d.%s" % (i, DOMAIN) for i in (1, 2, 3)]
    c, d = dns_cluster("srv", srv=hosts)
    nodes = [add(c, d, host_name=h) for h in hosts]
    # The targets' own A records, which the nodes' RPC dials.
    d.publish({h: [n.host] for h, n in zip(hosts, nodes)})
    for n in nodes:
        n.start(wait=False)
    CS.wait_ready(nodes)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)
    status = c.status(1)
    assert sorted(m["node"] for m in status["members"]) == sorted("emqxd@" + h for h in hosts)


def test_a_node_back_at_a_new_address_is_the_same_member(dns_cluster):
    """Stable identity: a node is its name. n2, named by a DNS name, stops, comes back at
    another address (a StatefulSet pod rescheduled) with its data: it rejoins as the same
    member, keeps its durable session, and the others reach it at the new address."""
    import rawmqtt as R
    hosts = ["n%d.%s" % (i, DOMAIN) for i in (1, 2, 3)]
    c, d = dns_cluster("srv", srv=hosts)
    nodes = [add(c, d, host_name=h) for h in hosts]
    for n in nodes:  # bound to every address, so that a new one needs no new config
        n.env.update({"EMQX_LISTENERS__TCP__DEFAULT__BIND": "0.0.0.0:%d" % n.mqtt_port,
                      "EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "0.0.0.0:%d" % n.api_port,
                      "EMQX_CLUSTER__RPC__BIND": "0.0.0.0:%d" % n.rpc_port})
    records = {h: [n.host] for h, n in zip(hosts, nodes)}
    d.publish(records)
    for n in nodes:
        n.start(wait=False)
    CS.wait_ready(nodes)
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=30)

    n2 = nodes[1]
    kw = {"clean": False, "props": {"session_expiry_interval": 300}}
    sub = R.RawClient(n2)
    sub.connect("id-sub", **kw)
    assert sub.subscribe([("id/#", R.sub_options(qos=1))]) == [1]
    c.wait_routed("id/#", on=[1], via=2)
    sub.close()
    assert n2.stop() == 0
    c.wait_members(alive=[1, 3], dead=[2], on=[1, 3], timeout=30)

    # Another address for n2's namespace and its record; same name, same data.
    new = c.network.addr(20 + 2)
    c.network.ip(n2.netns, "addr", "del", "%s/24" % n2.host, "dev", "eth0")
    c.network.ip(n2.netns, "addr", "add", "%s/24" % new, "dev", "eth0")
    n2.host = new
    records[hosts[1]] = [new]
    d.publish(records)
    n2.start()
    c.wait_members(alive=[1, 2, 3], exact=True, timeout=40)
    sub = R.RawClient(n2)
    assert sub.connect("id-sub", **kw).session_present is True
    c.wait_routed("id/#", on=[1], via=2, timeout=20)
    pub = R.RawClient(nodes[0])
    pub.connect("id-pub")
    pub.publish("id/x", b"after the move", qos=1, pid=1)
    got = sub.wait_for(R.PUBLISH, timeout=10)
    assert got.payload == b"after the move"
