#!/usr/bin/env python3
"""Operating the broker (issue: what the HTTP API costs): a listing of clients and a
Prometheus scrape at many connections, and what a scrape every second takes from publishing.

    bench/scenarios/ops_cost.py api    [--nodes 1] [--per-node 19000] [--samples 50]
    bench/scenarios/ops_cost.py api    --nodes 5 [--per-node 17990]
    bench/scenarios/ops_cost.py scrape [--idle 19000] [--rounds 3] [--duration 5]
                                       [--qos 0|1] [--with-clients] [--mosquitto-idle N]

api      --nodes nodes (a cluster when more than one) holding --per-node idle MQTT 3.1.1
         connections each (default 19,000 on one node, 17,990 each on several: the
         open-file limit is 20,000 a process, so one `emqxd-bench conn` per node, as
         cluster.py's `connections`). Node 1, which answers for the whole cluster, is then
         asked --samples times each, the four kinds alternating (1 2 3 4 1 2 3 4 ...), over
         one keep-alive HTTP connection:
           GET /api/v5/clients?limit=100                  (the first page)
           GET /api/v5/clients?limit=100&page=LAST        (the last page)
           GET /api/v5/prometheus/stats                   (mode node)
           GET /api/v5/prometheus/stats?mode=all_nodes_aggregated
         median and p99 latency (request written to body read), the response's size, and
         the CPU time the nodes used for them: utime + stime of each node before and after
         each call, read from the process's CPU clock to the nanosecond (/proc/PID/stat, in
         10 ms ticks, where that clock cannot be read), less what the nodes use while idle
         over as long (measured for --baseline seconds first); node 1's and all nodes'
         together, per call. The answers are checked: the listing's meta.count and the
         scrape's emqx_connections_count must be the connections held.
scrape   one emqxd node holding --idle idle connections (and, for the reference,
         mosquitto holding --mosquitto-idle, by default as many), both started once. Then
         --rounds rounds of three runs, in this order: A = emqxd's fan-in with no scraper,
         B = the same with a scraper thread doing GET /api/v5/prometheus/stats every second
         (and GET /api/v5/clients?limit=100 with --with-clients) from before the clients
         connect until the run ends, M = mosquitto's fan-in. The fan-in is compare.py's:
         50 publishers -> 1 wildcard subscriber, 64 B, unlimited rate, QoS --qos, --duration
         s of publishing, recv_rate. Reports the medians of A, B and M, B against A (as the
         ratio of the medians and as the median of each round's B/A), emqxd / mosquitto,
         and the scrapes' latency during B.

The emqxd nodes get cluster.py's configuration (compare.py's tuned queues and windows,
backpressure on, log level warning), loopback ports of their own, data dirs in a temporary
directory; mosquitto compare.py's tuned configuration. Everything a scenario starts it stops
by PID, every wait is bounded. Prints a Markdown table for bench/RESULTS.md and the command
line that produced it.
"""
import argparse
import base64
import http.client
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cluster import Cluster  # noqa: E402
from compare import BENCH, SCENARIOS, free_port, run_bench, start_broker  # noqa: E402

AUTH = "Basic " + base64.b64encode(b"admin:public").decode()
IFADDRS = "127.0.0.1,127.0.0.2,127.0.0.3,127.0.0.4"
PER_PROCESS = 19000  # idle connections one emqxd-bench process holds (open-file limit 20,000)
TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


# ---------------------------------------------------------------- helpers

class Http:
    """One keep-alive HTTP connection to an API port; reconnects when the server closed it."""

    def __init__(self, port, timeout=30):
        self.port, self.timeout, self.conn = port, timeout, None

    def get(self, path):
        """(status, body bytes, seconds from the request written to the body read)."""
        for attempt in (1, 2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
                self.conn.connect()
            try:
                t0 = time.perf_counter()
                self.conn.request("GET", path, headers={"Authorization": AUTH})
                r = self.conn.getresponse()
                body = r.read()
                dt = time.perf_counter() - t0
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, body, dt
            except (http.client.HTTPException, ConnectionError):
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def json(self, path):
        status, body, _ = self.get(path)
        if status != 200:
            raise RuntimeError("GET %s: %d %s" % (path, status, body[:200]))
        return json.loads(body)

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def cpu_ms(pid):
    """CPU time a process used so far, all its threads (also those gone), in ms: the
    utime + stime of /proc/PID/stat, read to the nanosecond from the process's CPU clock
    (clock_getcpuclockid(): ((~pid) << 3) | CPUCLOCK_SCHED); /proc/PID/stat itself (clock
    ticks, 10 ms) where that clock cannot be read."""
    try:
        return time.clock_gettime(((~pid) << 3) | 2) * 1000.0
    except OSError:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * TICK_MS  # fields 14 and 15 of proc(5)


def cpu_source(pid):
    try:
        time.clock_gettime(((~pid) << 3) | 2)
        return "the process CPU clock (utime + stime, to the ns)"
    except OSError:
        return "utime + stime of /proc/PID/stat (%.0f ms ticks)" % TICK_MS


def quantile(xs, q):
    s = sorted(xs)
    return s[min(len(s) - 1, int(len(s) * q))] if s else float("nan")


def prom_value(text, name):
    """The first sample of `name` in a Prometheus text body, or None."""
    for line in text.splitlines():
        if line.startswith(name) and (line[len(name):len(name) + 1] in (" ", "{")):
            try:
                return float(line.rsplit(None, 1)[1])
            except ValueError:
                return None
    return None


def start_idle(port, count, prefix):
    """emqxd-bench conn processes holding `count` idle connections to `port` (at most
    PER_PROCESS each); they run until stop_procs()."""
    procs = []
    part = 0
    while count > 0:
        n = min(count, PER_PROCESS)
        procs.append(subprocess.Popen(
            [BENCH, "conn", "-h", "127.0.0.1", "-p", str(port), "-c", str(n), "-i", "0",
             "-k", "600", "-V", "4", "--ifaddr", IFADDRS, "--prefix", "%s%d-" % (prefix, part),
             "--connect-timeout", "60", "--duration", "7200", "--json", "--quiet"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
        count -= n
        part += 1
    return procs


def stop_procs(procs, timeout=30):
    """SIGINT each (emqxd-bench then prints its summary), SIGKILL what is still running."""
    out = []
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            text, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            text, _ = p.communicate()
        lines = (text or "").strip().splitlines()
        try:
            out.append(json.loads(lines[-1]) if lines else {})
        except ValueError:
            out.append({})
    return out


def wait_for(cond, timeout, what, procs=(), interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                raise RuntimeError("%s: a generator exited (%d) while waiting" % (what, p.returncode))
        try:
            if cond():
                return
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            pass
        time.sleep(interval)
    raise RuntimeError("timed out waiting for " + what)


def node_connections(node):
    """connections.count of one emqxd node (its own, whatever the cluster)."""
    h = Http(node.api_port, timeout=5)
    try:
        return h.json("/api/v5/nodes/%s/stats" % urllib.parse.quote(node.name, safe=""))[
            "connections.count"]
    finally:
        h.close()


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def command_line():
    return "bench/scenarios/ops_cost.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])


# ---------------------------------------------------------------- api

def api(args):
    per_node = args.per_node if args.per_node is not None else (19000 if args.nodes == 1 else 17990)
    total = per_node * args.nodes
    c = Cluster(args.nodes)
    gens = []
    try:
        c.__enter__()
        t0 = time.monotonic()
        for nd in c.nodes:
            gens += start_idle(nd.port, per_node, "idle%d-" % nd.i)
        wait_for(lambda: all(node_connections(nd) >= per_node for nd in c.nodes),
                 60 + total / 200, "%d idle connections on each node" % per_node, gens)
        connect_s = time.monotonic() - t0
        print("api: %d x %d idle connections held after %.1f s" % (args.nodes, per_node, connect_s),
              file=sys.stderr)
        time.sleep(2)  # let the connect burst settle (acks, route and stats updates)
        pids = [nd.proc.pid for nd in c.nodes]
        cpu_src = cpu_source(pids[0])
        n1 = c.nodes[0]
        h = Http(n1.api_port)

        # What the nodes burn doing nothing (cluster probes, timers), per second.
        b0 = [cpu_ms(p) for p in pids]
        time.sleep(args.baseline)
        b1 = [cpu_ms(p) for p in pids]
        idle_rate = [(y - x) / args.baseline for x, y in zip(b0, b1)]  # ms per s

        first = h.json("/api/v5/clients?limit=100")
        count = first["meta"]["count"]
        last_page = max(1, (count + 99) // 100)
        calls = [
            ("GET /api/v5/clients?limit=100 (page 1)", "/api/v5/clients?limit=100"),
            ("GET /api/v5/clients?limit=100&page=%d (last)" % last_page,
             "/api/v5/clients?limit=100&page=%d" % last_page),
            ("GET /api/v5/prometheus/stats (mode node)", "/api/v5/prometheus/stats"),
            ("GET /api/v5/prometheus/stats?mode=all_nodes_aggregated",
             "/api/v5/prometheus/stats?mode=all_nodes_aggregated"),
        ]
        for _, path in calls:
            h.get(path)  # warm-up, not counted
        def check(path, body):
            """(ok, what the answer says) of one answer."""
            if path.startswith("/api/v5/clients"):
                v = json.loads(body)
                want = 100 if "page=" not in path else count - (last_page - 1) * 100
                ok = v["meta"]["count"] == total and len(v["data"]) == want
                return ok, "meta.count %d of %d held, %d rows" % (
                    v["meta"]["count"], total, len(v["data"]))
            got = prom_value(body.decode(errors="replace"), "emqx_connections_count")
            want = per_node if "mode=" not in path else total
            return got == want, "emqx_connections_count %s of %d" % (
                "%.0f" % got if got is not None else "none", want)

        # The calls alternate (1 2 3 4 1 2 3 4 ...): drift hits each kind alike.
        meas = [{"lat": [], "sizes": [], "bad": 0, "wrong": 0, "said": "",
                 "cpu": [0.0] * len(pids)} for _ in calls]
        for _ in range(args.samples):
            for (what, path), m in zip(calls, meas):
                c0 = [cpu_ms(p) for p in pids]
                status, body, dt = h.get(path)
                c1 = [cpu_ms(p) for p in pids]
                m["lat"].append(dt * 1000)
                m["sizes"].append(len(body))
                for k, (x, y, r) in enumerate(zip(c0, c1, idle_rate)):
                    m["cpu"][k] += (y - x) - r * dt
                if status != 200:
                    m["bad"] += 1
                    continue
                ok, said = check(path, body)
                m["wrong"] += not ok
                if not ok or not m["said"]:
                    m["said"] = said
        rows = []
        for (what, path), m in zip(calls, meas):
            used = [max(0.0, x) / args.samples for x in m["cpu"]]
            verdict = "ok" if not m["wrong"] and not m["bad"] else "**WRONG %d of %d**" % (
                m["wrong"] + m["bad"], args.samples)
            rows.append({"what": what, "p50": statistics.median(m["lat"]),
                         "p99": quantile(m["lat"], 0.99), "size": statistics.median(m["sizes"]),
                         "bad": m["bad"], "cpu1": used[0], "cpu_all": sum(used),
                         "check": "%s: %s" % (verdict, m["said"])})
            print("api: %-58s p50 %7.2f ms p99 %7.2f ms, %7d B, CPU node 1 %.2f ms/call, "
                  "all %.2f, %s" % (what, rows[-1]["p50"], rows[-1]["p99"], rows[-1]["size"],
                                    rows[-1]["cpu1"], rows[-1]["cpu_all"], rows[-1]["check"]),
                  file=sys.stderr)
        rss = []
        for nd in c.nodes:
            with open("/proc/%d/status" % nd.proc.pid) as f:
                rss.append(next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024)
        h.close()
        held = stop_procs(gens)
        gens = []
    finally:
        stop_procs(gens)
        c.__exit__(None, None, None)
    lost = sum(s.get("conn_lost", 0) for s in held)
    print()
    print("%d node%s x %d idle connections (%d in all), asked of node 1, %d calls each "
          "(keep-alive), idle connections made in %.1f s, node RSS %s MiB, idle connections lost %d:"
          % (args.nodes, "s" if args.nodes > 1 else "", per_node, total, args.samples, connect_s,
             ", ".join("%.0f" % r for r in rss), lost))
    print()
    print("| call | response | median | p99 | CPU per call, node 1 | CPU per call, all nodes | answer |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        print("| `%s` | %s B | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s%s |" % (
            r["what"], "{:,}".format(int(r["size"])), r["p50"], r["p99"], r["cpu1"], r["cpu_all"],
            r["check"], (", %d not 200" % r["bad"]) if r["bad"] else ""))
    print()
    print("Calls alternate between the four kinds; every answer is checked. CPU: %s of each node "
          "around each call, less the idle rate measured over %g s before (%s ms/s per node), "
          "averaged over the calls. p99 of %d samples%s. The listings send HTTP Basic "
          "credentials, checked on every request (PBKDF2, server/api/credentials.hpp); "
          "/api/v5/prometheus/stats asks none, as EMQX's. Idle connections: `emqxd-bench conn "
          "-c %d -i 0 -k 600 -V 4 --ifaddr %s` per node (at most %d a process)." % (
              cpu_src, args.baseline, ", ".join("%.2f" % r for r in idle_rate), args.samples,
              " (100 or fewer: the highest)" if args.samples <= 100 else "", per_node, IFADDRS,
              PER_PROCESS))
    print()
    print("```sh\n%s\n```" % command_line())


# ---------------------------------------------------------------- scrape

def scraper_paths(with_clients):
    return ["/api/v5/prometheus/stats"] + (["/api/v5/clients?limit=100"] if with_clients else [])


class Scraper(threading.Thread):
    """GET /api/v5/prometheus/stats (and /api/v5/clients?limit=100) once a second."""

    def __init__(self, api_port, with_clients):
        super().__init__(daemon=True)
        self.http = Http(api_port, timeout=10)
        self.paths = scraper_paths(with_clients)
        self.stop_event = threading.Event()
        self.lat = {p: [] for p in self.paths}
        self.counts = []  # meta.count of each listing: never below the idle connections
        self.errors = 0

    def run(self):
        t0 = time.monotonic()
        k = 0
        while not self.stop_event.is_set():
            for p in self.paths:
                try:
                    status, body, dt = self.http.get(p)
                    if status == 200:
                        self.lat[p].append(dt * 1000)
                        if p.startswith("/api/v5/clients"):
                            self.counts.append(json.loads(body)["meta"]["count"])
                    else:
                        self.errors += 1
                except (OSError, http.client.HTTPException, ValueError, KeyError):
                    self.errors += 1
            k += 1
            self.stop_event.wait(max(0.0, t0 + k - time.monotonic()))
        self.http.close()

    def stop(self):
        self.stop_event.set()
        self.join(15)


def scrape(args):
    fanin = SCENARIOS["fanin-q%d" % args.qos][0]
    mosq_idle = args.idle if args.mosquitto_idle is None else args.mosquitto_idle
    tmp = tempfile.mkdtemp(prefix="emqxd-bench-ops-")
    c = Cluster(1)
    gens, mosq, mosq_port = [], None, free_port()
    runs = {"A": [], "B": [], "M": []}
    scrapes = {}
    scrape_cpu = {}
    counts = []
    cmds = {}
    try:
        c.__enter__()
        nd = c.nodes[0]
        mosq = start_broker("mosquitto", mosq_port, tmp)
        base_m = fds(mosq.pid)
        t0 = time.monotonic()
        gens += start_idle(nd.port, args.idle, "idle-e")
        gens += start_idle(mosq_port, mosq_idle, "idle-m")
        wait_for(lambda: node_connections(nd) >= args.idle and fds(mosq.pid) >= base_m + mosq_idle,
                 60 + (args.idle + mosq_idle) / 200, "the idle connections", gens)
        print("scrape: emqxd holds %d idle connections, mosquitto %d, after %.1f s" % (
            args.idle, mosq_idle, time.monotonic() - t0), file=sys.stderr)
        time.sleep(2)
        # What the scraper's calls cost the node, alone (no publishing), as in `api`.
        pid = nd.proc.pid
        b0 = cpu_ms(pid)
        time.sleep(2)
        idle_rate = (cpu_ms(pid) - b0) / 2
        h = Http(nd.api_port)
        for path in scraper_paths(args.with_clients):
            h.get(path)
            used = 0.0
            for _ in range(20):
                c0 = cpu_ms(pid)
                _, _, dt = h.get(path)
                used += cpu_ms(pid) - c0 - idle_rate * dt
            scrape_cpu[path] = max(0.0, used / 20)
        h.close()
        for rnd in range(args.rounds):
            for kind in ("A", "B", "M"):
                port = mosq_port if kind == "M" else nd.port
                sc = None
                if kind == "B":
                    sc = Scraper(nd.api_port, args.with_clients)
                    sc.start()
                try:
                    r, cmd = run_bench(fanin, port, args.duration)
                finally:
                    if sc is not None:
                        sc.stop()
                cmds[kind] = cmd.replace(str(port), "PORT")
                runs[kind].append(r)
                extra = ""
                if sc is not None:
                    for p, xs in sc.lat.items():
                        scrapes.setdefault(p, []).extend(xs)
                    extra = ", " + ", ".join("%s x%d p50 %.1f ms max %.1f ms" % (
                        p.split("/")[-1], len(xs), statistics.median(xs) if xs else 0,
                        max(xs) if xs else 0) for p, xs in sc.lat.items())
                    if sc.counts:
                        extra += ", listing's meta.count %d-%d" % (min(sc.counts), max(sc.counts))
                        counts.extend(sc.counts)
                    if sc.errors:
                        extra += ", %d scrapes failed" % sc.errors
                        scrapes.setdefault("errors", []).append(sc.errors)
                print("scrape round %d %s: recv_rate %.0f msgs/s, lost %s (QoS 0 %s)%s" % (
                    rnd + 1, {"A": "emqxd", "B": "emqxd+scraper", "M": "mosquitto"}[kind],
                    r.get("recv_rate", 0), r.get("lost"), r.get("lost_qos0"), extra), file=sys.stderr)
        if node_connections(nd) < args.idle:
            print("scrape: WARNING emqxd holds only %d idle connections at the end" %
                  node_connections(nd), file=sys.stderr)
    finally:
        stop_procs(gens)
        c.__exit__(None, None, None)
        if mosq is not None and mosq.poll() is None:
            mosq.send_signal(signal.SIGTERM)
            try:
                mosq.wait(15)
            except subprocess.TimeoutExpired:
                mosq.kill()
                mosq.wait()
        shutil.rmtree(tmp, ignore_errors=True)

    rate = lambda k: [r.get("recv_rate", 0.0) for r in runs[k]]  # noqa: E731
    a, b, m = (statistics.median(rate(k)) for k in "ABM")
    per_round = [y / x for x, y in zip(rate("A"), rate("B")) if x]
    pct = lambda x: "%+.1f%%" % (100.0 * (x - 1)) if x == x else "-"  # noqa: E731
    lost = lambda k: sum(r.get("lost", 0) - r.get("lost_qos0", 0) for r in runs[k])  # noqa: E731
    scraper = "GET /api/v5/prometheus/stats" + (
        " + GET /api/v5/clients?limit=100" if args.with_clients else "")
    print()
    print("Fan-in, 50 publishers -> 1 wildcard subscriber, QoS %d, 64 B, unlimited rate, %g s; "
          "emqxd holding %d idle connections, mosquitto %d; medians of %d rounds (A B M each):"
          % (args.qos, args.duration, args.idle, mosq_idle, args.rounds))
    print()
    print("| recv_rate (msgs/s) | A: emqxd, no scraper | B: emqxd, %s every second | B vs A "
          "(ratio of medians) | B vs A (median of rounds) | mosquitto | A / mosquitto | "
          "B / mosquitto |" % scraper)
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print("| median | %.0f | %.0f | %s | %s | %.0f | %s | %s |" % (
        a, b, pct(b / a if a else float("nan")),
        pct(statistics.median(per_round)) if per_round else "-", m,
        "%.1fx" % (a / m) if m else "-", "%.1fx" % (b / m) if m else "-"))
    print()
    print("Per round (msgs/s): A %s; B %s; mosquitto %s; B/A %s. Lost QoS 1/2: A %d, B %d, "
          "mosquitto %d." % (
              ", ".join("%.0f" % x for x in rate("A")), ", ".join("%.0f" % x for x in rate("B")),
              ", ".join("%.0f" % x for x in rate("M")), ", ".join(pct(x) for x in per_round),
              lost("A"), lost("B"), lost("M")))
    for p, xs in scrapes.items():
        if p == "errors":
            print("Failed scrapes: %d." % sum(xs))
        elif xs:
            print("`GET %s` during B: %d calls, median %.1f ms, p99 %.1f ms, max %.1f ms." % (
                p, len(xs), statistics.median(xs), quantile(xs, 0.99), max(xs)))
    if counts:
        print("Listings during B: meta.count %d to %d, %s (the node held %d idle connections, "
              "plus the fan-in's 51 while it ran)." % (
                  min(counts), max(counts),
                  "never short" if min(counts) >= args.idle else "**SHORT**", args.idle))
    if scrape_cpu:
        per_s = sum(scrape_cpu.values())
        print("CPU of one scrape on the idle node (20 calls each, before the rounds): %s; every "
              "second: %.2f ms/s = %.2f%% of one core, %.2f%% of the machine's %d." % (
                  ", ".join("`GET %s` %.2f ms" % kv for kv in scrape_cpu.items()), per_s,
                  per_s / 10, per_s / 10 / (os.cpu_count() or 1), os.cpu_count() or 1))
    print()
    print("- fan-in: `%s`" % cmds.get("A", "").replace(BENCH, "emqxd-bench"))
    print("- idle connections: `emqxd-bench conn -h 127.0.0.1 -p PORT -c %d -i 0 -k 600 -V 4 "
          "--ifaddr %s` (at most %d a process)" % (args.idle, IFADDRS, PER_PROCESS))
    print()
    print("```sh\n%s\n```" % command_line())


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=["api", "scrape"])
    ap.add_argument("--nodes", type=int, default=1, help="api: nodes (default 1)")
    ap.add_argument("--per-node", type=int, default=None,
                    help="api: idle connections per node (19000 on one node, 17990 on several)")
    ap.add_argument("--samples", type=int, default=50, help="api: calls of each kind (50)")
    ap.add_argument("--baseline", type=float, default=3.0,
                    help="api: seconds of idle CPU measured before the calls (3)")
    ap.add_argument("--idle", type=int, default=19000,
                    help="scrape: idle connections the emqxd node holds (19000)")
    ap.add_argument("--mosquitto-idle", type=int, default=None,
                    help="scrape: idle connections mosquitto holds (default: --idle)")
    ap.add_argument("--rounds", type=int, default=3, help="scrape: rounds (3)")
    ap.add_argument("--duration", type=float, default=5, help="scrape: seconds of publishing (5)")
    ap.add_argument("--qos", type=int, choices=[0, 1], default=0, help="scrape: fan-in QoS (0)")
    ap.add_argument("--with-clients", action="store_true",
                    help="scrape: the scraper also lists GET /api/v5/clients?limit=100")
    args = ap.parse_args()
    if args.scenario == "api" and args.nodes < 1:
        ap.error("--nodes must be at least 1")
    {"api": api, "scrape": scrape}[args.scenario](args)


if __name__ == "__main__":
    main()
