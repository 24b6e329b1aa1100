#!/usr/bin/env python3
"""Durable sessions (issue 5): what storing costs, and how long a restart takes.

    bench/scenarios/durable.py fanin   [--rounds 3] [--duration 5]
    bench/scenarios/durable.py offline [--rounds 1] [--messages 200000]
    bench/scenarios/durable.py restart [--sessions 100000] [--per-session 10] [--batch 10000]

fanin    QoS 1 fan-in, 50 publishers -> 1 persistent subscriber on fan/+ (Clean Start 0,
         Session Expiry 3600 for every client), 64 B, unlimited rate, in three modes run
         alternately (A B C A B C ...): durable_sessions.sync = true, sync = false, and
         enable = false (in memory). Delivered msgs/s (median) and QoS 1 lost.
offline  the same subscriber subscribes and leaves; 50 publishers send --messages QoS 1
         messages (acknowledged rate); then the subscriber comes back and drains
         (delivered rate, lost).
restart  builds --sessions persistent sessions (offline, each subscribed to its own
         topic rs/%i, in batches of --batch connections: the open-file limit), publishes
         --per-session QoS 1 messages of 256 B to each topic (--layout fanout: all
         sessions on rs/all, --per-session messages to it, each stored once per session;
         the bench's final message is QoS 0 and not stored), stops emqxd
         (SIGTERM) and times `emqxd start` until the port accepts a connection, and the
         load time emqxd logs; repeated once after a SIGKILL-free second restart.

Brokers: like compare.py (mqtt.max_mqueue_len 1000000, max_inflight 1000,
max_awaiting_rel 1000, backpressure true), log level warning except the storage line,
node.data_dir on the machine's disk (/tmp here is the root file system). Every run stops
by itself. Figures go to bench/RESULTS.md.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EMQXD_BUILD", os.path.join(ROOT, "build"))

sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from ports import free_port  # noqa: E402
EMQXD = os.path.join(BUILD, "server", "emqxd")
BENCH = os.path.join(BUILD, "bench", "emqxd-bench")

MODES = {
    "sync": {"EMQX_DURABLE_SESSIONS__ENABLE": "true", "EMQX_DURABLE_SESSIONS__SYNC": "true"},
    "nosync": {"EMQX_DURABLE_SESSIONS__ENABLE": "true", "EMQX_DURABLE_SESSIONS__SYNC": "false"},
    "memory": {"EMQX_DURABLE_SESSIONS__ENABLE": "false"},
}
SESSION = ["-C", "false", "-x", "3600"]




class Emqxd:
    def __init__(self, mode, data_dir, log_path, extra_env=None):
        self.port = free_port()
        self.data_dir = data_dir
        self.log_path = log_path
        self.env = dict(os.environ,
                        EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % self.port,
                        EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
                        EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % free_port(),
                        EMQX_NODE__DATA_DIR=data_dir,
                        EMQX_LOG__CONSOLE__LEVEL="info",
                        EMQX_MQTT__MAX_MQUEUE_LEN="1000000",
                        EMQX_MQTT__MAX_INFLIGHT="1000",
                        EMQX_MQTT__MAX_AWAITING_REL="1000",
                        EMQX_MQTT__BACKPRESSURE="true",
                        **MODES[mode])
        self.env.update(extra_env or {})
        self.proc = None

    def start(self, timeout=600):
        """Starts emqxd; returns seconds from exec to the port accepting a connection."""
        log = open(self.log_path, "ab")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([EMQXD, "start"], env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT)
        log.close()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError("emqxd exited with %d; see %s" % (self.proc.returncode,
                                                                      self.log_path))
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return time.monotonic() - t0
            except OSError:
                time.sleep(0.01)
        raise RuntimeError("emqxd did not listen within %ds" % timeout)

    def stop(self, timeout=120):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def rss_mib(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
        return 0.0

    def storage_line(self):
        with open(self.log_path, errors="replace") as f:
            lines = [l.strip() for l in f if "storage " in l and " read " in l]
        return lines[-1] if lines else ""


def bench(port, args, timeout):
    cmd = [BENCH] + args[:1] + ["-h", "127.0.0.1", "-p", str(port)] + args[1:] + [
        "--json", "--quiet"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    lines = out.stdout.strip().splitlines()
    if not lines:
        raise RuntimeError("no result from %s:\n%s" % (" ".join(cmd), out.stderr[-2000:]))
    return json.loads(lines[-1]), " ".join(cmd).replace(str(port), "PORT")


def qos1_lost(r):
    return r.get("lost", 0) - r.get("lost_qos0", 0)


def fanin(a, tmp):
    args = ["pubsub", "-c", "50", "-I", "0", "-t", "fan/%i", "--sub-count", "1", "-q", "1",
            "-s", "64", "--prefix", "dfan"] + SESSION + [
            "--duration", str(a.duration), "--drain-timeout", "10"]
    results = {m: [] for m in MODES}
    cmd = ""
    for rnd in range(a.rounds):
        for mode in MODES:
            d = tempfile.mkdtemp(dir=tmp)
            b = Emqxd(mode, os.path.join(d, "data"), os.path.join(d, "emqxd.log"),
                      {"EMQX_LOG__CONSOLE__LEVEL": "warning"})
            b.start()
            try:
                r, cmd = bench(b.port, args, a.duration + 120)
            finally:
                b.stop()
                shutil.rmtree(d, ignore_errors=True)
            results[mode].append(r)
            print("fanin %-6s round %d: delivered %.0f msgs/s, acked %d, received %d, "
                  "lost %d, dup %d, p99 %.0f us" % (
                      mode, rnd + 1, r.get("recv_rate", 0), r.get("acked", 0),
                      r.get("received", 0), qos1_lost(r), r.get("duplicated", 0),
                      r.get("latency_us", {}).get("p99", 0)), file=sys.stderr)
    mem = statistics.median(r["recv_rate"] for r in results["memory"])
    print("| mode | delivered msgs/s (median of %d) | vs in-memory | QoS 1 lost (all runs) "
          "| p99 latency (median) |" % a.rounds)
    print("| --- | --- | --- | --- | --- |")
    for mode in MODES:
        rate = statistics.median(r["recv_rate"] for r in results[mode])
        p99 = statistics.median(r.get("latency_us", {}).get("p99", 0) for r in results[mode])
        print("| %s | %.0f | %.0f%% | %d | %.1f ms |" % (
            mode, rate, 100.0 * rate / mem if mem else 0, sum(qos1_lost(r) for r in results[mode]),
            p99 / 1000.0))
    print("\n- `%s`" % cmd)


def offline(a, tmp):
    n = a.messages
    rows = []
    cmds = []
    for rnd in range(a.rounds):
        for mode in MODES:
            d = tempfile.mkdtemp(dir=tmp)
            b = Emqxd(mode, os.path.join(d, "data"), os.path.join(d, "emqxd.log"),
                      {"EMQX_LOG__CONSOLE__LEVEL": "warning"})
            b.start()
            try:
                sub = ["sub", "-c", "1", "-t", "off/+", "-q", "1", "--prefix", "doff"] + SESSION
                r0, c0 = bench(b.port, sub + ["--duration", "1"], 60)
                assert r0.get("connected") == 1, r0
                rp, cp = bench(b.port, ["pub", "-c", "50", "-I", "0", "-t", "off/%i", "-q", "1",
                                        "-s", "64", "-L", str(n), "--prefix", "doff"] + SESSION,
                               600)
                rs, cs = bench(b.port, sub + ["--idle-timeout", "3"], 600)
            finally:
                b.stop()
                shutil.rmtree(d, ignore_errors=True)
            cmds = [c0, cp, cs]
            # The publishers' final messages (one per stream) are delivered too.
            rows.append((mode, rp.get("acked", 0), rp.get("sent_rate", 0), rs.get("received", 0),
                         rs.get("recv_rate", 0), qos1_lost(rs), rs.get("duplicated", 0)))
            print("offline %-6s: published %d acked at %.0f msgs/s; drained %d at %.0f msgs/s; "
                  "lost %d dup %d" % rows[-1], file=sys.stderr)
    print("| mode | publishers' acked | publish rate msgs/s | drained | drain rate msgs/s | "
          "lost | duplicated |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for row in rows:
        print("| %s | %d | %.0f | %d | %.0f | %d | %d |" % row)
    print()
    for c in cmds:
        print("- `%s`" % c)


def restart(a, tmp):
    d = tempfile.mkdtemp(dir=tmp)
    b = Emqxd("sync" if not a.nosync else "nosync", os.path.join(d, "data"),
              os.path.join(d, "emqxd.log"))
    t_build = time.monotonic()
    b.start()
    made = 0
    addrs = ",".join("127.0.0.%d" % i for i in range(1, 5))
    while made < a.sessions:
        n = min(a.batch, a.sessions - made)
        topic = "rs/all" if a.layout == "fanout" else "rs/%i"
        r, csub = bench(b.port, ["sub", "-c", str(n), "-n", str(made), "-t", topic, "-q", "1",
                                 "-i", "0.1", "--ifaddr", addrs, "--prefix", "drs",
                                 "-k", "600"] + ["-C", "false", "-x", "86400"] +
                        ["--duration", str(max(3.0, n / 4000.0))], 600)
        if r.get("connected") != n or r.get("sub_failed"):
            raise RuntimeError("batch at %d: %r" % (made, r))
        made += n
        print("restart: %d sessions made (%.0f s)" % (made, time.monotonic() - t_build),
              file=sys.stderr)
    if a.layout == "fanout":
        r, cpub = bench(b.port, ["pub", "-c", "1", "-I", "0", "-t", "rs/all", "-q", "1", "-s",
                                 "256", "--inflight", "1", "-L", str(a.per_session), "--prefix",
                                 "drs", "--drain-timeout", "600"], 3600)
    else:
        # One publisher per session's topic, in batches (the open-file limit).
        done = 0
        acked = 0
        while done < made:
            n = min(a.batch, made - done)
            r, cpub = bench(b.port, ["pub", "-c", str(n), "-n", str(done), "-I", "0", "-t",
                                     "rs/%i", "-q", "1", "-s", "256", "-L",
                                     str(n * a.per_session), "-i", "0.1", "--ifaddr", addrs,
                                     "--prefix", "drsp", "-k", "600", "--drain-timeout", "600"],
                            3600)
            acked += r.get("acked", 0)
            done += n
            print("restart: published to %d topics (%.0f s)" % (done, time.monotonic() - t_build),
                  file=sys.stderr)
        r["acked"] = acked
    print("restart: published %d x %d sessions, acked %d (%.0f s); rss %.0f MiB" % (
        a.per_session, made, r.get("acked", 0), time.monotonic() - t_build, b.rss_mib()),
        file=sys.stderr)
    du_before = subprocess.run(["du", "-sm", b.data_dir], capture_output=True, text=True).stdout
    t_stop = time.monotonic()
    b.stop(600)
    stop_s = time.monotonic() - t_stop
    rows = []
    for i in range(2):
        s = b.start(600)
        rss = b.rss_mib()
        line = b.storage_line()
        rows.append((s, rss, line))
        print("restart %d: listening after %.2f s, rss %.0f MiB; %s" % (i + 1, s, rss, line),
              file=sys.stderr)
        b.stop(600)
    du = subprocess.run(["du", "-sm", b.data_dir], capture_output=True, text=True).stdout
    if a.keep:
        print("kept %s (env as this script sets; port %d)" % (b.data_dir, b.port), file=sys.stderr)
    else:
        shutil.rmtree(d, ignore_errors=True)
    print("| sessions | stored messages | data dir | stop (SIGTERM) | start to listening | "
          "load logged by emqxd | RSS after start |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for s, rss, line in rows:
        m = re.search(r"in (\d+) ms", line)
        print("| %d | %d | %s MiB | %.1f s | %.2f s | %s ms | %.0f MiB |" % (
            made, made * a.per_session, du.split()[0] if du else "?", stop_s, s,
            m.group(1) if m else "?", rss))
    print("\n- sessions: `%s` (in batches, -n advancing)\n- messages: `%s`" % (csub, cpub))
    print("- before the stop: %s MiB" % (du_before.split()[0] if du_before else "?"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["fanin", "offline", "restart"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--per-session", type=int, default=10)
    ap.add_argument("--batch", type=int, default=10000)
    ap.add_argument("--nosync", action="store_true", help="restart: build with sync = false")
    ap.add_argument("--layout", choices=["own", "fanout"], default="own",
                    help="restart: each session on its own topic rs/%%i (default), or all on "
                    "rs/all (one subscriber list of --sessions entries)")
    ap.add_argument("--keep", action="store_true", help="restart: keep the data dir")
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="emqxd-durable-bench-")
    try:
        {"fanin": fanin, "offline": offline, "restart": restart}[a.what](a, tmp)
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
