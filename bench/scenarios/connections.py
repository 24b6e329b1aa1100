#!/usr/bin/env python3
"""Scenario 5, connections: 19,000 idle connections to emqxd and to mosquitto in the same
run, then past the open-file limit (20,000 per process here, not raisable).

    bench/scenarios/connections.py [--count 19000] [--over 1500] [--rates 0,20000,10000,5000]

For each broker, in turn:
  1. start it (fd limit 20,000; mosquitto: no persistence, max_connections -1), read its
     VmRSS after a second: the idle footprint;
  2. open --count idle MQTT 3.1.1 connections with `emqxd-bench conn`, at the first rate of
     --rates (connections/s, 0 = as fast as they go) at which all of them connect; the
     connect rate is count / (time until the broker holds them all, from /proc/PID/fd);
  3. VmRSS again: bytes per connection = (after - before) / count;
  4. past the limit: a second generator opens --over more (MQTT 5); the excess must be
     refused cleanly, the broker must stay up and keep serving a subscriber and a publisher
     connected before (a QoS 1 round trip), and after the extra connections close, a new
     connection must succeed again.
Prints a markdown table for bench/RESULTS.md. Every step is bounded in time."""
import argparse
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "tests", "integration"))
from rawmqtt import PUBACK, PUBLISH, V311, RawClient, publish  # noqa: E402

from compare import BENCH, EMQXD, free_port, wait_port  # noqa: E402


class Endpoint:
    def __init__(self, port):
        self.host, self.port = "127.0.0.1", port


def limit_fds():
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))


def start(kind, port, tmp):
    log = open(os.path.join(tmp, kind + ".log"), "wb")
    if kind == "emqxd":
        env = dict(os.environ, EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % port,
                   EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
                   EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % free_port(),
                   EMQX_NODE__DATA_DIR=os.path.join(tmp, "data"),
                   EMQX_LOG__CONSOLE__LEVEL="warning")
        proc = subprocess.Popen([EMQXD, "start"], env=env, stdout=log, stderr=log,
                                preexec_fn=limit_fds)
    else:
        conf = os.path.join(tmp, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "max_connections -1\nlog_type error\nlog_type warning\n" % port)
        proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=log, stderr=log,
                                preexec_fn=limit_fds)
    wait_port(port, proc)
    return proc, log.name


def rss_bytes(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def conn_bench(port, count, rate, version, duration):
    args = [BENCH, "conn", "-h", "127.0.0.1", "-p", str(port), "-c", str(count), "-V",
            str(version), "-k", "600", "--duration", str(duration), "--json", "--quiet",
            "--connect-timeout", "20", "--prefix", "c%d" % version]
    args += ["-i", "0"] if rate == 0 else ["-R", str(rate)]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            preexec_fn=limit_fds), " ".join(args)


def summary(proc, timeout):
    out, _ = proc.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def round_trip(sub, pub, n):
    pub.send(publish("probe/t", b"p%d" % n, qos=1, pid=n, version=V311))
    pub.wait_for(PUBACK, n, timeout=10)
    p = sub.wait_for(PUBLISH, timeout=10)
    return p.payload == b"p%d" % n


def run(kind, a, tmp):
    port = free_port()
    proc, log_path = start(kind, port, tmp)
    res = {"broker": kind}
    try:
        time.sleep(1.0)
        res["idle_rss"] = rss_bytes(proc.pid)
        ep = Endpoint(port)
        sub = RawClient(ep, version=V311, timeout=10)
        sub.connect("probe-sub")
        sub.subscribe([("probe/t", 1)])
        pub = RawClient(ep, version=V311, timeout=10)
        pub.connect("probe-pub")
        base = fds(proc.pid)
        hold = 0
        for rate in a.rates:
            gen, cmd = conn_bench(port, a.count, rate, 4, 600)
            t0 = time.monotonic()
            deadline = t0 + 120
            while fds(proc.pid) < base + a.count and time.monotonic() < deadline and gen.poll() is None:
                time.sleep(0.02)
            t1 = time.monotonic()
            if fds(proc.pid) >= base + a.count:
                res["rate_tried"] = rate
                res["connect_rate"] = a.count / (t1 - t0)
                res["command"] = cmd.replace(str(port), "PORT")
                hold = gen
                break
            gen.send_signal(signal.SIGINT)
            summary(gen, 30)
            print("%s: not all %d connected at rate %s; slower" % (kind, a.count, rate or "max"),
                  file=sys.stderr)
            time.sleep(2)
        if not hold:
            res["error"] = "could not hold %d connections" % a.count
            return res
        time.sleep(2.0)
        res["rss"] = rss_bytes(proc.pid)
        res["per_conn"] = (res["rss"] - res["idle_rss"]) / a.count
        res["served_before"] = round_trip(sub, pub, 1)

        # Past the limit.
        over, _ = conn_bench(port, a.over, 0, 5, 8)
        s_over = summary(over, 120)
        res["over_connected"] = s_over.get("connected", 0)
        res["over_refused"] = s_over.get("conn_failed", 0) + s_over.get("not_connected", 0)
        res["alive_over"] = proc.poll() is None
        res["served_over"] = res["alive_over"] and round_trip(sub, pub, 2)
        time.sleep(1.0)  # the extra connections are closed now
        try:
            again = RawClient(ep, version=V311, timeout=10)
            again.connect("after")
            res["recovered"] = True
            again.close()
        except Exception as e:  # noqa: BLE001
            res["recovered"] = "no: %s" % e
        with open(log_path, "rb") as f:
            text = f.read().decode(errors="replace")
        res["log_lines"] = [l for l in text.splitlines()
                            if "refus" in l or "Too many open files" in l or "accept" in l][:2]
        hold.send_signal(signal.SIGINT)
        s_hold = summary(hold, 60)
        res["held_lost"] = s_hold.get("conn_lost", 0)
        sub.close()
        pub.close()
        return res
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=19000)
    ap.add_argument("--over", type=int, default=1500)
    ap.add_argument("--rates", default="0,20000,10000,5000,2000")
    a = ap.parse_args()
    a.rates = [int(x) for x in a.rates.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in ("emqxd", "mosquitto"):
            r = run(kind, a, tmp)
            print(json.dumps(r), file=sys.stderr)
            results.append(r)
    e, m = results
    ratio = lambda x, y: "%.2fx" % (x / y) if x and y else "-"  # noqa: E731
    print("| %d idle connections (MQTT 3.1.1) | emqxd | mosquitto | emqxd / mosquitto |" % a.count)
    print("| --- | --- | --- | --- |")
    print("| RSS right after start | %.1f MiB | %.1f MiB | %s |" % (
        e["idle_rss"] / 2**20, m["idle_rss"] / 2**20, ratio(e["idle_rss"], m["idle_rss"])))
    print("| RSS per idle connection | %.0f B | %.0f B | %s |" % (
        e.get("per_conn", 0), m.get("per_conn", 0), ratio(e.get("per_conn"), m.get("per_conn"))))
    print("| connect rate (rate asked: %s / %s) | %.0f/s | %.0f/s | %s |" % (
        e.get("rate_tried", "-") or "max", m.get("rate_tried", "-") or "max",
        e.get("connect_rate", 0), m.get("connect_rate", 0),
        ratio(e.get("connect_rate"), m.get("connect_rate"))))
    for key, what in (("over_connected", "of %d more: connected" % a.over),
                      ("over_refused", "of %d more: refused" % a.over),
                      ("alive_over", "alive past the limit"),
                      ("served_over", "QoS 1 round trip past the limit"),
                      ("recovered", "new connection after the excess left"),
                      ("held_lost", "held connections lost")):
        print("| %s | %s | %s | |" % (what, e.get(key), m.get(key)))
    print()
    print("- emqxd log: %s" % "; ".join(e.get("log_lines", [])))
    print("- mosquitto log: %s" % "; ".join(m.get("log_lines", [])))
    print("- command: `%s`" % e.get("command"))


if __name__ == "__main__":
    main()
