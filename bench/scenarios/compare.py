#!/usr/bin/env python3
"""Runs benchmark scenarios against emqxd and mosquitto on this machine, alternating
A B A B ... so that drift hits both, and prints a markdown table of medians and ratios
(emqxd / mosquitto) for bench/RESULTS.md.

    bench/scenarios/compare.py [--rounds 3] [--duration 5] [--only fanin-q0,p2p-q0]
    bench/scenarios/compare.py --only fanout-max --duration 5     # rate search
    bench/scenarios/compare.py --only p2p-q0 --variant "acl:EMQX_AUTHORIZATION__SOURCES=[...]"
        # one more emqxd run per --variant NAME:VAR=VALUE;VAR=VALUE, its own column

Both brokers get a fair configuration: no persistence, queues and inflight windows large
enough that they measure forwarding rather than queue overflow (mosquitto:
max_queued_messages 1000000, max_inflight_messages 1000; emqxd: the same through
EMQX_MQTT__* variables), raised descriptor limits. With --defaults, neither gets any of
that: each runs as installed, only its port set (mosquitto: a listener, anonymous
clients, no persistence). emqxd runs with its default mqtt.backpressure = true
(EMQXD_BACKPRESSURE=false to measure without it): a QoS 1/2 publisher waits while its
live subscriber catches up, instead of the subscriber's queue dropping. Every run stops
by itself."""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EMQXD_BUILD", os.path.join(ROOT, "build"))
EMQXD = os.path.join(BUILD, "server", "emqxd")
BENCH = os.path.join(BUILD, "bench", "emqxd-bench")

sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from ports import free_port  # noqa: E402

# name -> (emqxd-bench arguments after -h/-p, metric key, what it means)
SCENARIOS = {
    "fanin-q0": (["pubsub", "-c", "50", "-I", "0", "-t", "fan/%i", "--sub-count", "1",
                  "-q", "0", "-s", "64"], "recv_rate",
                 "fan-in: 50 publishers -> 1 wildcard subscriber, QoS 0, 64 B, unlimited rate"),
    "fanin-q1": (["pubsub", "-c", "50", "-I", "0", "-t", "fan/%i", "--sub-count", "1",
                  "-q", "1", "-s", "64"], "recv_rate",
                 "fan-in, QoS 1"),
    "fanin-q2": (["pubsub", "-c", "50", "-I", "0", "-t", "fan/%i", "--sub-count", "1",
                  "-q", "2", "-s", "64"], "recv_rate",
                 "fan-in, QoS 2"),
    "p2p-q0": (["pubsub", "-c", "500", "-I", "0", "-t", "p2p/%i", "--sub-count", "500",
                "--sub-topic", "p2p/%i", "-q", "0", "-s", "64", "-i", "0.2"], "recv_rate",
               "point-to-point: 500 publisher/subscriber pairs, QoS 0, 64 B, unlimited rate"),
    "p2p-q1": (["pubsub", "-c", "500", "-I", "0", "-t", "p2p/%i", "--sub-count", "500",
                "--sub-topic", "p2p/%i", "-q", "1", "-s", "64", "-i", "0.2"], "recv_rate",
               "point-to-point, QoS 1"),
    "p2p-q2": (["pubsub", "-c", "500", "-I", "0", "-t", "p2p/%i", "--sub-count", "500",
                "--sub-topic", "p2p/%i", "-q", "2", "-s", "64", "-i", "0.2"], "recv_rate",
               "point-to-point, QoS 2"),
    "fanout-q1": (["pubsub", "-c", "1", "-I", "0", "-t", "out/x", "--sub-count", "100",
                   "-q", "1", "-s", "64", "-i", "0.2"], "recv_rate",
                  "fan-out: 1 publisher, unlimited rate -> 100 subscribers, QoS 1"),
    "fanout-q2": (["pubsub", "-c", "1", "-I", "0", "-t", "out/x", "--sub-count", "100",
                   "-q", "2", "-s", "64", "-i", "0.2"], "recv_rate",
                  "fan-out: 1 publisher, unlimited rate -> 100 subscribers, QoS 2"),
    "fanout-q0": (["pubsub", "-c", "1", "-I", "10", "-t", "out/x", "--sub-count", "1000",
                   "-q", "0", "-s", "64", "-i", "0.2"], "recv_rate",
                  "fan-out: 1 publisher at 100 msg/s -> 1000 subscribers, QoS 0"),
    # The same loads with JSON payloads (96 B), for rules that read them (rules_env.py).
    "fanin-q1-json": (["pubsub", "-c", "50", "-I", "0", "-t", "fan/%i", "--sub-count", "1",
                       "-q", "1", "-s", "96", "--json-payload"], "recv_rate",
                      "fan-in, QoS 1, 96 B JSON payloads"),
    "p2p-q0-json": (["pubsub", "-c", "500", "-I", "0", "-t", "p2p/%i", "--sub-count", "500",
                     "--sub-topic", "p2p/%i", "-q", "0", "-s", "96", "--json-payload", "-i", "0.2"],
                    "recv_rate", "point-to-point, QoS 0, 96 B JSON payloads"),
    "latency-q1": (["pubsub", "-c", "100", "-I", "100", "-t", "lat/%i", "--sub-count", "1",
                    "--sub-topic", "lat/+", "-q", "1", "-s", "64", "-i", "0.5"], "p99_us",
                   "latency: 100 publishers x 10 msg/s -> 1 subscriber, QoS 1 (p99, lower is better)"),
}

# Run with --defaults: each broker as installed, only its port (and emqxd's data directory)
# set. Otherwise both get the large queues and windows below.
DEFAULTS = False


def wait_port(port, proc, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("broker exited with %d" % proc.returncode)
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("broker did not listen on %d" % port)


# --variant "NAME:VAR=VALUE;VAR=VALUE": more emqxd runs, with these environment variables on top
# (EMQX_AUTHORIZATION__SOURCES=... selects authorization), alternated with the others.
VARIANTS = {}


# A variant's EMQXD_BENCH_TRACE=TYPE:FILTER[:DELAY] (clientid:nobody, topic:none/#) is no
# emqxd setting: once that emqxd listens, a log trace of that type and filter is created
# through its HTTP API (POST /api/v5/trace), so the run measures a node with a trace
# running; with DELAY (seconds) the trace starts that much later: a node with a trace
# defined but none running, the control.
def create_trace(api_port, spec):
    import base64
    import http.client
    kind, filt, *delay = spec.split(":")
    start = int(time.time()) + (int(delay[0]) if delay else 0)
    body = json.dumps({"name": "bench", "type": kind, kind: filt, "start_at": start,
                       "end_at": start + 3600})
    conn = http.client.HTTPConnection("127.0.0.1", api_port, timeout=5)
    auth = base64.b64encode(b"admin:public").decode()
    conn.request("POST", "/api/v5/trace", body=body,
                 headers={"Authorization": "Basic " + auth, "Content-Type": "application/json"})
    r = conn.getresponse()
    text = r.read()
    conn.close()
    if r.status != 200 and b"ALREADY_EXISTS" not in text:  # kept from the last round
        raise RuntimeError("POST /api/v5/trace: %d %s" % (r.status, text))


def start_broker(kind, port, tmp):
    if kind == "emqxd" or kind in VARIANTS:
        api_port = free_port()
        env = dict(os.environ,
                   EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % port,
                   EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
                   EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % api_port,
                   EMQX_NODE__DATA_DIR=os.path.join(tmp, "data"),
                   EMQX_LOG__CONSOLE__LEVEL="warning")
        if not DEFAULTS:
            env.update(EMQX_MQTT__MAX_MQUEUE_LEN="1000000",
                       EMQX_MQTT__MAX_INFLIGHT="1000",
                       EMQX_MQTT__MAX_AWAITING_REL="1000")
        if "EMQXD_BACKPRESSURE" in os.environ:
            env["EMQX_MQTT__BACKPRESSURE"] = os.environ["EMQXD_BACKPRESSURE"]
        env.update(VARIANTS.get(kind, {}))
        trace = env.pop("EMQXD_BENCH_TRACE", None)
        if trace:  # the trace is stored: in a data directory of its own
            env["EMQX_NODE__DATA_DIR"] = os.path.join(tmp, "data-" + kind)
        proc = subprocess.Popen([EMQXD, "start"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        if trace:
            wait_port(port, proc)
            wait_port(api_port, proc)
            create_trace(api_port, trace)
    else:
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
            if not DEFAULTS:
                f.write("max_queued_messages 1000000\nmax_inflight_messages 1000\n"
                        "max_connections -1\nset_tcp_nodelay true\n")
        proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def run_bench(args, port, duration):
    cmd = [BENCH] + args[:1] + ["-h", "127.0.0.1", "-p", str(port)] + args[1:] + [
        "--duration", str(duration), "--json", "--quiet", "--drain-timeout", "5"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else "{}"
    r = json.loads(line)
    r["p99_us"] = r.get("latency_us", {}).get("p99", 0.0)
    r["p50_us"] = r.get("latency_us", {}).get("p50", 0.0)
    return r, " ".join(cmd)


def run_once(kind, args, duration, tmp):
    port = free_port()
    proc = start_broker(kind, port, tmp)
    try:
        r, cmd = run_bench(args, port, duration)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    return r, cmd.replace(str(port), "PORT")


# Fan-out at rising rates: the highest publish rate at which all 1000 subscribers got
# every message (QoS 0: nothing lost, nothing late past the drain timeout).
FANOUT_RATES = [10, 20, 50, 100, 200, 300, 500, 700, 1000, 1500, 2000, 3000]


def fanout_max(duration, tmp):
    best = {"emqxd": 0, "mosquitto": 0}
    failed = set()
    cmd = ""
    for rate in FANOUT_RATES:
        for kind in ("emqxd", "mosquitto"):
            if kind in failed:
                continue
            args = ["pubsub", "-c", "1", "-I", "%g" % (1000.0 / rate), "-t", "out/x",
                    "--sub-count", "1000", "-q", "0", "-s", "64", "-i", "0.2"]
            r, cmd = run_once(kind, args, duration, tmp)
            offered = r.get("sent", 0) * 1000
            ok = r.get("lost_qos0", 1) == 0 and r.get("received", 0) >= offered > 0
            print("fanout-max %-9s %5d msg/s: received %d of %d, lost %d -> %s" % (
                kind, rate, r.get("received", 0), offered, r.get("lost_qos0", -1),
                "ok" if ok else "not sustained"), file=sys.stderr)
            if ok:
                best[kind] = rate
            else:
                failed.add(kind)
        if len(failed) == 2:
            break
    print("| fan-out: 1 publisher -> 1000 subscribers, QoS 0, highest rate with every message "
          "delivered (of %s msg/s tried) | deliveries/s | %d | %d | %.1fx | - | - |" % (
              ", ".join(map(str, FANOUT_RATES)), best["emqxd"] * 1000, best["mosquitto"] * 1000,
              best["emqxd"] / best["mosquitto"] if best["mosquitto"] else float("nan")))
    print("\n- fanout-max: `%s` with -I 1000/rate" % cmd)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--only", default="")
    ap.add_argument("--defaults", action="store_true",
                    help="both brokers on their defaults (no queue or window tuning)")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME:VAR=VALUE;VAR=VALUE... another emqxd run with these variables")
    a = ap.parse_args()
    global DEFAULTS
    DEFAULTS = a.defaults
    for v in a.variant:
        name, _, assignments = v.partition(":")
        VARIANTS[name] = dict(kv.split("=", 1) for kv in assignments.split(";") if kv)
    kinds = ["emqxd"] + list(VARIANTS) + ["mosquitto"]
    if a.only == "fanout-max":
        with tempfile.TemporaryDirectory() as tmp:
            fanout_max(a.duration, tmp)
        return
    names = [n for n in SCENARIOS if not a.only or n in a.only.split(",")]
    results = {}
    commands = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            args, metric, _ = SCENARIOS[name]
            for rnd in range(a.rounds):
                for kind in kinds:
                    r, cmd = run_once(kind, args, a.duration, tmp)
                    results.setdefault((name, kind), []).append(r)
                    commands[name] = cmd
                    print("%-10s %-9s round %d: %s=%.1f lost=%s p50=%.0fus p99=%.0fus" % (
                        name, kind, rnd + 1, metric, r.get(metric, 0.0), r.get("lost"),
                        r["p50_us"], r["p99_us"]), file=sys.stderr)
    print("| scenario | metric | emqxd (median) | mosquitto (median) | ratio | emqxd lost QoS1/2 | mosquitto lost QoS1/2 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        args, metric, what = SCENARIOS[name]
        e = statistics.median(r.get(metric, 0.0) for r in results[(name, "emqxd")])
        m = statistics.median(r.get(metric, 0.0) for r in results[(name, "mosquitto")])
        lost_e = sum(r.get("lost", 0) - r.get("lost_qos0", 0) for r in results[(name, "emqxd")])
        lost_m = sum(r.get("lost", 0) - r.get("lost_qos0", 0) for r in results[(name, "mosquitto")])
        ratio = (m / e if metric.endswith("_us") else e / m) if e and m else float("nan")
        print("| %s | %s | %.0f | %.0f | %.1fx | %d | %d |" % (what, metric, e, m, ratio, lost_e, lost_m))
    if VARIANTS:
        print()
        print("| scenario | metric | emqxd | " + " | ".join(VARIANTS) + " | mosquitto |")
        print("| --- | --- | --- | " + " | ".join("---" for _ in VARIANTS) + " | --- |")
        for name in names:
            _, metric, what = SCENARIOS[name]
            med = {k: statistics.median(r.get(metric, 0.0) for r in results[(name, k)])
                   for k in kinds}
            cells = ["%.0f" % med["emqxd"]]
            for k in VARIANTS:
                cells.append("%.0f (%.2fx)" % (med[k], med[k] / med["emqxd"] if med["emqxd"]
                                               else float("nan")))
            cells.append("%.0f" % med["mosquitto"])
            print("| %s | %s | %s |" % (what, metric, " | ".join(cells)))
    print()
    for name in names:
        print("- %s: `%s`" % (name, commands[name]))
    for k, env in VARIANTS.items():
        print("- %s: emqxd with %s" % (k, " ".join("%s=%s" % kv for kv in env.items())))


if __name__ == "__main__":
    main()
