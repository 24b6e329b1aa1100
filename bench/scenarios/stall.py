#!/usr/bin/env python3
"""A subscriber that stops reading, and what it does to everyone else (issue: "QoS 1 and 2
lose nothing acknowledged on the default configuration").

Each broker runs on its defaults (emqxd: only its ports and data directory are set;
mosquitto: a listener, anonymous clients, no persistence). P QoS 1 publishers each keep
a window of W messages in flight to the topics stall/<i>; two subscribers take stall/#
at QoS 1: `live` reads and acknowledges everything, `stalled` reads its first 50 messages
and then stops reading (its socket stays open). The run measures, per broker:

- held: the longest time any publisher waited for a PUBACK (how long the stalled
  subscriber held the publishers up);
- live lost: messages acknowledged to their publishers that the live subscriber never
  received (must be 0);
- gap: the longest pause in the live subscriber's deliveries;
- rate: messages per second the live subscriber received.

    bench/scenarios/stall.py [--duration 10] [--publishers 10] [--window 10]

Every run stops by itself (bounded by --duration plus a drain of 5 s)."""
import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("EMQXD_BUILD", os.path.join(ROOT, "build"))
EMQXD = os.path.join(BUILD, "server", "emqxd")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import rawmqtt as R  # noqa: E402
from ports import free_port  # noqa: E402


class Target:
    def __init__(self, port):
        self.host = "127.0.0.1"
        self.port = port


def start(kind, tmp):
    port = free_port()
    if kind == "emqxd":
        env = dict(os.environ,
                   EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % port,
                   EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
                   EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % free_port(),
                   EMQX_NODE__DATA_DIR=os.path.join(tmp, "data-%d" % port),
                   EMQX_LOG__CONSOLE__LEVEL="warning")
        proc = subprocess.Popen([EMQXD, "start"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    else:
        conf = os.path.join(tmp, "mosquitto-%d.conf" % port)
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
        proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("%s did not start" % kind)
            time.sleep(0.05)
    return proc, Target(port)


class Subscriber(threading.Thread):
    def __init__(self, target, name, stop_after=None):
        super().__init__(daemon=True)
        self.c = R.RawClient(target, R.V5, timeout=5)
        self.c.connect(name, props={"receive_maximum": 100})
        assert self.c.subscribe([("stall/#", R.sub_options(qos=1))]) == [1]
        self.stop_after = stop_after
        self.seen = set()  # (publisher, sequence)
        self.times = []
        self.done = threading.Event()

    def run(self):
        n = 0
        while not self.done.is_set():
            if self.stop_after is not None and n >= self.stop_after:
                self.done.wait()  # stalled: reads nothing more, the socket stays open
                return
            try:
                p = self.c.recv(timeout=0.2)
            except TimeoutError:
                continue
            except R.Closed:
                return
            if p.type != R.PUBLISH:
                continue
            self.seen.add(struct.unpack("!IQ", p.payload[:12]))
            self.times.append(time.monotonic())
            n += 1
            if p.qos == 1:
                self.c.try_send(R.puback(p.pid))


class Publisher(threading.Thread):
    def __init__(self, target, index, window, until):
        super().__init__(daemon=True)
        self.c = R.RawClient(target, R.V5, timeout=30)
        self.c.connect("stall-pub-%d" % index)
        self.index = index
        self.window = window
        self.until = until
        self.acked = []  # sequences acknowledged with reason < 0x80
        self.longest_wait = 0.0

    def run(self):
        seq = 0
        inflight = {}  # pid -> (seq, sent at)
        topic = "stall/%d" % self.index
        while time.monotonic() < self.until or inflight:
            while len(inflight) < self.window and time.monotonic() < self.until:
                pid = seq % 60000 + 1
                payload = struct.pack("!IQ", self.index, seq) + b"\0" * 52
                self.c.try_send(R.publish(topic, payload, qos=1, pid=pid))
                inflight[pid] = (seq, time.monotonic())
                seq += 1
            try:
                p = self.c.wait_for(R.PUBACK, timeout=max(0.5, self.until + 5 - time.monotonic()))
            except (TimeoutError, R.Closed):
                break
            s, at = inflight.pop(p.pid, (None, None))
            if s is None:
                continue
            self.longest_wait = max(self.longest_wait, time.monotonic() - at)
            if p.code < 0x80:
                self.acked.append(s)
            if time.monotonic() > self.until + 5:
                break


def run(kind, a, tmp):
    proc, target = start(kind, tmp)
    try:
        live = Subscriber(target, "live")
        stalled = Subscriber(target, "stalled", stop_after=50)
        live.start()
        stalled.start()
        t0 = time.monotonic()
        until = t0 + a.duration
        pubs = [Publisher(target, i, a.window, until) for i in range(a.publishers)]
        for p in pubs:
            p.start()
        for p in pubs:
            p.join(a.duration + 30)
        time.sleep(1.0)  # the last deliveries to the live subscriber
        live.done.set()
        stalled.done.set()
        acked = {(p.index, s) for p in pubs for s in p.acked}
        lost = len(acked - live.seen)
        times = [t for t in live.times if t0 <= t <= until]
        gaps = [b - c for c, b in zip(times, times[1:])]
        return {
            "acked": len(acked),
            "live_lost": lost,
            "held_s": max(p.longest_wait for p in pubs),
            "gap_s": max(gaps) if gaps else float("nan"),
            "rate": len(times) / a.duration,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--publishers", type=int, default=10)
    ap.add_argument("--window", type=int, default=10)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {kind: run(kind, a, tmp) for kind in ("emqxd", "mosquitto")}
    print("| broker (defaults) | acknowledged | live subscriber lost | publishers held (longest "
          "wait for PUBACK) | longest pause at the live subscriber | live subscriber msg/s |")
    print("| --- | --- | --- | --- | --- | --- |")
    for kind, r in results.items():
        print("| %s | %d | %d | %.2f s | %.2f s | %.0f |" % (
            kind, r["acked"], r["live_lost"], r["held_s"], r["gap_s"], r["rate"]))
    print("\n`bench/scenarios/stall.py --duration %g --publishers %d --window %d`" % (
        a.duration, a.publishers, a.window))


if __name__ == "__main__":
    main()
