#!/usr/bin/env python3
"""Cluster (issue 4): what crossing nodes costs, and how fast the cluster converges.

    bench/scenarios/cluster.py throughput  [--rounds 3] [--duration 5]
    bench/scenarios/cluster.py convergence [--nodes 5] [--routes 100000]
    bench/scenarios/cluster.py purge       [--nodes 5] [--rounds 3]
    bench/scenarios/cluster.py takeover    [--times 50]
    bench/scenarios/cluster.py connections [--nodes 5] [--per-node 17990] [--duration 20]
    bench/scenarios/cluster.py all

throughput   fan-in, 50 publishers -> 1 wildcard subscriber, 64 B, unlimited rate, QoS 0
             and QoS 1: publishers on node 1 and the subscriber on node 2 of a 2-node
             cluster, against the same on one standalone node; rounds alternate (A B A B).
convergence  --nodes nodes; one node gets --routes distinct subscriptions (10 clients,
             SUBSCRIBE packets of 1,000 filters); time from the first SUBSCRIBE until every
             other node's view of that node holds them all (GET /api/v5/cluster).
purge        SIGKILL one node of --nodes that holds 1,000 routes; time until every other
             node shows it dead with none of its routes left.
takeover     a persistent MQTT 5 session connected on one node of 2 connects on the other:
             CONNECT to CONNACK (session present), and to the old connection's DISCONNECT
             0x8E, --times times alternating nodes; median and p99.
connections  --nodes nodes holding --per-node idle connections each (emqxd-bench conn, one
             process per node: the open-file limit is 20,000 a process), a wildcard
             subscriber on each node and 10 QoS 1 publishers on each node at 10 msg/s for
             --duration: every subscriber must get every message (lost 0).

Nodes run on loopback with their own ports and data dirs, cluster timings of production
(probe 1 s) unless said, log level warning; everything each scenario starts it stops.
Figures go to bench/RESULTS.md.
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
import rawmqtt as R  # noqa: E402

sys.path.insert(0, HERE)
from compare import BENCH, EMQXD, free_port  # noqa: E402

AUTH = "Basic " + base64.b64encode(b"admin:public").decode()


class Node:
    def __init__(self, i, tmp, seeds=(), env=None):
        self.i = i
        self.host = "127.0.0.1"
        self.name = "n%d@127.0.0.1" % i
        self.port, self.api_port, self.rpc_port = free_port(), free_port(), free_port()
        self.address = "%s:%d" % (self.name, self.rpc_port)
        self.dir = os.path.join(tmp, "n%d" % i)
        os.makedirs(self.dir, exist_ok=True)
        self.env = dict(os.environ,
                        EMQX_NODE__NAME=self.name,
                        EMQX_NODE__DATA_DIR=os.path.join(self.dir, "data"),
                        EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % self.port,
                        EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % self.api_port,
                        EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % self.rpc_port,
                        EMQX_LOG__CONSOLE__LEVEL="warning",
                        EMQX_MQTT__MAX_MQUEUE_LEN="1000000",
                        EMQX_MQTT__MAX_INFLIGHT="1000",
                        EMQX_MQTT__MAX_AWAITING_REL="1000",
                        EMQX_MQTT__BACKPRESSURE="true")
        if seeds:
            self.env["EMQX_CLUSTER__DISCOVERY_STRATEGY"] = "static"
            self.env["EMQX_CLUSTER__STATIC__SEEDS"] = json.dumps(list(seeds))
        self.env.update(env or {})
        self.proc = None

    def start(self):
        log = open(os.path.join(self.dir, "emqxd.log"), "ab")
        self.proc = subprocess.Popen([EMQXD, "start"], env=self.env, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited with %d" % (self.name, self.proc.returncode))
            try:
                urllib.request.urlopen("http://127.0.0.1:%d/status" % self.api_port, timeout=1)
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("%s did not start" % self.name)

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def api(self, path):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.api_port, path),
                                     headers={"Authorization": AUTH})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())

    def member(self, other):
        for m in self.api("/api/v5/cluster")["members"]:
            if m["node"] == other.name:
                return m
        return None


class Cluster:
    def __init__(self, n, env=None):
        self.tmp = tempfile.mkdtemp(prefix="emqxd-bench-cluster-")
        self.nodes = []
        first = Node(1, self.tmp, env=env)
        self.nodes.append(first)
        for i in range(2, n + 1):
            self.nodes.append(Node(i, self.tmp, seeds=[first.address], env=env))

    def __enter__(self):
        for nd in self.nodes:
            nd.start()
        self.wait(lambda: all(
            sum(m["state"] == "alive" for m in nd.api("/api/v5/cluster")["members"]) == len(self.nodes)
            for nd in self.nodes), 30, "all members alive")
        return self

    def __exit__(self, *exc):
        for nd in self.nodes:
            nd.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def wait(cond, timeout, what, interval=0.05):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if cond():
                    return
            except OSError:
                pass
            time.sleep(interval)
        raise RuntimeError("timed out waiting for " + what)


def bench(args, timeout):
    out = subprocess.run([BENCH] + args + ["--json", "--quiet"], capture_output=True, text=True,
                         timeout=timeout)
    lines = out.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-500:]}


# ---------------------------------------------------------------- throughput

FANIN = ["-c", "50", "-I", "0", "-t", "fan/%i", "--sub-count", "1", "-s", "64"]


def throughput(args):
    rows = {}
    cmds = {}
    for qos in ("0", "1"):
        for rnd in range(args.rounds):
            for kind in ("single", "cross"):
                if kind == "single":
                    tmp = tempfile.mkdtemp(prefix="emqxd-bench-single-")
                    nd = Node(1, tmp).start()
                    try:
                        cmd = ["pubsub", "-h", "127.0.0.1", "-p", str(nd.port)] + FANIN + [
                            "-q", qos, "--duration", str(args.duration), "--drain-timeout", "5"]
                        r = bench(cmd, args.duration + 60)
                    finally:
                        nd.stop()
                        shutil.rmtree(tmp, ignore_errors=True)
                    cmds[(qos, kind)] = " ".join(cmd).replace(str(nd.port), "PORT")
                else:
                    with Cluster(2) as c:
                        n1, n2 = c.nodes
                        cmd = ["pubsub", "-h", "127.0.0.1", "-p", str(n1.port), "--sub-port",
                               str(n2.port)] + FANIN + ["-q", qos, "--duration", str(args.duration),
                                                        "--drain-timeout", "5"]
                        r = bench(cmd, args.duration + 60)
                        st = n1.api("/api/v5/cluster")["forward"]
                        r["forward"] = st
                    cmds[(qos, kind)] = " ".join(cmd).replace(str(n1.port), "PORT1").replace(
                        str(n2.port), "PORT2")
                rows.setdefault((qos, kind), []).append(r)
                print("throughput qos %s %-6s round %d: delivered %.0f msgs/s, lost %s%s" % (
                    qos, kind, rnd + 1, r.get("recv_rate", 0), r.get("lost"),
                    (", forward %s" % r["forward"]) if "forward" in r else ""), file=sys.stderr)
    print("| QoS | single node msgs/s (median) | publishers on node 1, subscriber on node 2 | cross / single | lost (QoS 1, all runs) |")
    print("| --- | --- | --- | --- | --- |")
    for qos in ("0", "1"):
        s = statistics.median(r.get("recv_rate", 0) for r in rows[(qos, "single")])
        x = statistics.median(r.get("recv_rate", 0) for r in rows[(qos, "cross")])
        lost = sum(r.get("lost", 0) for r in rows[(qos, "cross")]) if qos == "1" else "-"
        print("| %s | %.0f | %.0f | %.0f%% | %s |" % (qos, s, x, 100.0 * x / s if s else 0, lost))
    for k, v in sorted(cmds.items()):
        print("- %s QoS %s: `emqxd-bench %s`" % (k[1], k[0], v))


# ---------------------------------------------------------------- convergence

def subscribe_many(node, n, clients=10, chunk=1000):
    """n distinct filters on `node` over `clients` raw connections; returns (t_first_sent,
    t_all_subacked)."""
    per = n // clients
    socks = []
    for k in range(clients):
        rc = R.RawClient(node, timeout=30)
        rc.send(R.connect("conv-%d" % k))
        rc.expect(R.CONNACK)
        socks.append(rc)
    t0 = time.monotonic()
    pid = 0
    want = {}
    for k, rc in enumerate(socks):
        for j in range(0, per, chunk):
            pid += 1
            filters = [("conv/%d/%d/+" % (k, i), 0) for i in range(j, min(per, j + chunk))]
            rc.send(R.subscribe(pid, filters))
            want.setdefault(k, []).append(pid)
    for k, rc in enumerate(socks):
        for p in want[k]:
            rc.wait_for(R.SUBACK, p, timeout=60)
    return t0, time.monotonic(), socks


def convergence(args):
    with Cluster(args.nodes) as c:
        origin = c.nodes[0]
        peers = c.nodes[1:]
        base = {p.i: (p.member(origin) or {}).get("routes", 0) for p in peers}
        t0, t_acked, socks = subscribe_many(origin, args.routes)
        done = {}

        def check():
            now = time.monotonic()
            for p in peers:
                if p.i in done:
                    continue
                m = p.member(origin)
                if m and m["routes"] - base[p.i] >= args.routes:
                    done[p.i] = now - t0
            return len(done) == len(peers)

        Cluster.wait(check, 120, "every peer to hold the routes", interval=0.02)
        for s in socks:
            s.sock.close()
    worst = max(done.values())
    print("| nodes | routes made on node 1 | all SUBACKed after | every peer routes them after | per peer | target < 5 s |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("| %d | %d | %.2f s | %.2f s | %s | %s |" % (
        args.nodes, args.routes, t_acked - t0, worst,
        ", ".join("n%d %.2f s" % (i, t) for i, t in sorted(done.items())),
        "met" if worst < 5 else "**not met**"))


# ---------------------------------------------------------------- purge

def purge(args):
    times = []
    for rnd in range(args.rounds):
        with Cluster(args.nodes) as c:
            victim = c.nodes[-1]
            others = c.nodes[:-1]
            t0, _, socks = subscribe_many(victim, 1000, clients=1)
            Cluster.wait(lambda: all((o.member(victim) or {}).get("routes", 0) >= 1000
                                     for o in others), 30, "routes of the victim everywhere")
            t_kill = time.monotonic()
            victim.stop(signal.SIGKILL)
            seen = {}

            def check():
                now = time.monotonic()
                for o in others:
                    if o.i in seen:
                        continue
                    m = o.member(victim)
                    if m is None or (m["state"] == "dead" and m["routes"] == 0):
                        seen[o.i] = now - t_kill
                return len(seen) == len(others)

            Cluster.wait(check, 60, "the victim purged everywhere", interval=0.05)
            times.append((min(seen.values()), max(seen.values())))
            print("purge round %d: first %.2f s, last %.2f s" % (rnd + 1, *times[-1]), file=sys.stderr)
    print("| nodes | SIGKILL to down and purged, first node (median) | last node (median) | rounds |")
    print("| --- | --- | --- | --- |")
    print("| %d | %.2f s | %.2f s | %d |" % (args.nodes, statistics.median(t[0] for t in times),
                                           statistics.median(t[1] for t in times), len(times)))


# ---------------------------------------------------------------- takeover

def takeover(args):
    connack_ms = []
    kick_ms = []
    with Cluster(2) as c:
        props = {"session_expiry_interval": 300}
        cur = R.RawClient(c.nodes[0], timeout=10)
        cur.send(R.connect("tk", clean=False, props=props))
        cur.expect(R.CONNACK)
        cur.send(R.subscribe(1, [("tk/#", 1)]))
        cur.expect(R.SUBACK)
        for k in range(args.times):
            to = c.nodes[(k + 1) % 2]
            nxt = R.RawClient(to, timeout=10)
            t0 = time.monotonic()
            nxt.send(R.connect("tk", clean=False, props=props))
            ack = nxt.expect(R.CONNACK)
            t1 = time.monotonic()
            d = cur.expect(R.DISCONNECT)
            t2 = time.monotonic()
            assert ack.code == 0 and ack.session_present, ack
            assert d.code == 0x8E, d
            connack_ms.append((t1 - t0) * 1000)
            kick_ms.append((t2 - t0) * 1000)
            cur.sock.close()
            cur = nxt
        cur.sock.close()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
    print("| takeovers between 2 nodes | CONNECT to CONNACK p50 | p99 | CONNECT to old DISCONNECT 0x8E p50 | p99 | target < 100 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("| %d | %.1f ms | %.1f ms | %.1f ms | %.1f ms | %s |" % (
        args.times, statistics.median(connack_ms), q(connack_ms, 0.99), statistics.median(kick_ms),
        q(kick_ms, 0.99), "met" if statistics.median(connack_ms) < 100 else "**not met**"))


# ---------------------------------------------------------------- connections

def connections(args):
    with Cluster(args.nodes) as c:
        subs, conns, pubs = [], [], []
        ifaddrs = "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"
        for nd in c.nodes:
            conns.append(subprocess.Popen(
                [BENCH, "conn", "-h", "127.0.0.1", "-p", str(nd.port), "-c", str(args.per_node),
                 "-i", "0", "-k", "600", "--ifaddr", ifaddrs, "--prefix", "idle%d-" % nd.i,
                 "--duration", str(args.duration + 120), "--json", "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        # Wait until each node holds its share.
        Cluster.wait(lambda: all(nd.api("/api/v5/stats?aggregate=true")["connections.count"]
                                 >= args.per_node for nd in c.nodes), 300, "idle connections")
        held = sum(nd.api("/api/v5/stats?aggregate=true")["connections.count"] for nd in c.nodes)
        total_msgs = 10 * args.nodes * args.duration * 10
        for nd in c.nodes:
            subs.append(subprocess.Popen(
                [BENCH, "sub", "-h", "127.0.0.1", "-p", str(nd.port), "-c", "1", "-t", "c5/#",
                 "-q", "1", "--prefix", "wsub%d-" % nd.i, "-L", str(total_msgs),
                 "--duration", str(args.duration + 60), "--json", "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        for nd in c.nodes:
            Cluster.wait(lambda: all((o.member(nd) or {"routes": 1})["routes"] >= 1
                                     for o in c.nodes if o is not nd), 30, "routes")
        time.sleep(1)
        for nd in c.nodes:
            pubs.append(subprocess.Popen(
                [BENCH, "pub", "-h", "127.0.0.1", "-p", str(nd.port), "-c", "10", "-n",
                 str(nd.i * 100), "-I", "100", "-t", "c5/%i", "-q", "1", "-s", "64",
                 "-L", str(10 * args.duration * 10), "--prefix", "wpub%d-" % nd.i,
                 "--json", "--quiet"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        pub_out = [json.loads(p.communicate(timeout=args.duration + 120)[0].strip().splitlines()[-1])
                   for p in pubs]
        sub_out = [json.loads(s.communicate(timeout=120)[0].strip().splitlines()[-1]) for s in subs]
        rss = []
        for nd in c.nodes:
            with open("/proc/%d/status" % nd.proc.pid) as f:
                rss.append(next(int(l.split()[1]) for l in f if l.startswith("VmRSS")))
        for p in conns:
            p.send_signal(signal.SIGINT)
        for p in conns:
            try:
                p.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
    acked = sum(p.get("acked", 0) for p in pub_out)
    print("| nodes | connections held (all nodes) | QoS 1 published (acked) | each wildcard subscriber received | lost | duplicated | node RSS (MiB, each) |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print("| %d | %d | %d | %s | %s | %s | %s |" % (
        args.nodes, held, acked, ", ".join(str(s.get("received")) for s in sub_out),
        ", ".join(str(s.get("lost")) for s in sub_out),
        ", ".join(str(s.get("duplicated")) for s in sub_out),
        ", ".join("%.0f" % (r / 1024) for r in rss)))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=["throughput", "convergence", "purge", "takeover",
                                         "connections", "all"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--nodes", type=int, default=5)
    ap.add_argument("--routes", type=int, default=100000)
    ap.add_argument("--times", type=int, default=50)
    ap.add_argument("--per-node", type=int, default=17990)
    args = ap.parse_args()
    run = {"throughput": throughput, "convergence": convergence, "purge": purge,
           "takeover": takeover, "connections": connections}
    for name in (run if args.scenario == "all" else [args.scenario]):
        print("\n### %s\n" % name)
        run[name](args)


if __name__ == "__main__":
    main()
