#!/usr/bin/env python3
"""Smoke test of emqxd-bench against a real emqxd (ctest `bench:smoke`, label bench).

Starts emqxd on a free loopback port with its own data directory, then runs, at QoS 1 with
--expect-no-loss --json:
  1. `pubsub` in one process for ~2 s;
  2. `sub` and `pub` as two processes (the sub stops once idle).
Each summary must show messages received and none lost or duplicated. Every wait has a
deadline; emqxd is stopped by PID. Not a benchmark: the rates are low on purpose, so that
the broker's queues never overflow and a lost message means a bug.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "integration"))
from ports import free_port  # noqa: E402




def wait_for(cond, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class Broker:
    def __init__(self, binary):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-bench-smoke-")
        env = dict(os.environ)
        env.update({
            "EMQX_LISTENERS__TCP__DEFAULT__BIND": f"127.0.0.1:{self.port}",
            "EMQX_LISTENERS__WS__DEFAULT__BIND": f"127.0.0.1:{free_port()}",
            "EMQX_DASHBOARD__LISTENERS__HTTP__BIND": f"127.0.0.1:{free_port()}",
            "EMQX_CLUSTER__RPC__BIND": f"127.0.0.1:{free_port()}",
            "EMQX_NODE__DATA_DIR": os.path.join(self.dir, "data"),
            "EMQX_LOG__CONSOLE__LEVEL": "warning",
        })
        self.log = open(os.path.join(self.dir, "emqxd.log"), "wb")
        self.proc = subprocess.Popen([binary, "start"], env=env, stdout=self.log,
                                     stderr=subprocess.STDOUT)

    def wait_ready(self):
        def listening():
            if self.proc.poll() is not None:
                raise RuntimeError(f"emqxd exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return True
            except OSError:
                return False
        if not wait_for(listening, 10):
            raise RuntimeError("emqxd did not listen within 10 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()

    def read_log(self):
        with open(os.path.join(self.dir, "emqxd.log"), "rb") as f:
            return f.read().decode(errors="replace")


def check(name, stdout, returncode, expect_received):
    lines = [l for l in stdout.splitlines() if l.startswith("{")]
    if not lines:
        raise AssertionError(f"{name}: no JSON summary in output:\n{stdout}")
    s = json.loads(lines[-1])
    print(f"{name}: {lines[-1]}")
    problems = []
    if returncode != 0:
        problems.append(f"exit code {returncode}")
    if expect_received and s["received"] <= 0:
        problems.append("nothing received")
    for key in ("lost", "duplicated", "conn_failed", "conn_lost", "sub_failed",
                "protocol_errors", "pub_errors"):
        if s[key] != 0:
            problems.append(f"{key} = {s[key]}")
    if expect_received and not s["tracked"]:
        problems.append("streams not tracked")
    if not s["ok"]:
        problems.append("ok = false")
    if problems:
        raise AssertionError(f"{name}: " + ", ".join(problems))
    return s


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emqxd", required=True)
    ap.add_argument("--bench", required=True)
    args = ap.parse_args()

    broker = Broker(args.emqxd)
    try:
        broker.wait_ready()
        common = ["-h", "127.0.0.1", "-p", str(broker.port), "-q", "1", "--json",
                  "--threads", "2", "--connect-timeout", "5"]

        # 1. One process: 5 publishers at 200 msgs/s each, 2 subscribers, 2 s of publishing.
        run = subprocess.run(
            [args.bench, "pubsub", *common, "-c", "5", "--sub-count", "2", "-I", "5",
             "-t", "smoke/one/%i", "--duration", "2", "--expect-no-loss"],
            capture_output=True, text=True, timeout=40)
        sys.stderr.write(run.stderr)
        s = check("pubsub", run.stdout, run.returncode, expect_received=True)
        assert s["received"] == 2 * s["sent"], s  # each subscriber got every message

        # 2. Two processes: the subscriber first, the publishers once it has subscribed; the
        #    subscriber stops 3 s after the last message (generous: the machine may be busy).
        sub = subprocess.Popen(
            [args.bench, "sub", *common, "-c", "2", "-t", "smoke/two/+", "--expect-no-loss",
             "--idle-timeout", "3", "--duration", "30"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        subscribed = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            line = sub.stderr.readline()
            if not line:
                break
            sys.stderr.write(line)
            if "subscribed" in line:
                subscribed = True
                break
        if not subscribed:
            sub.kill()
            raise AssertionError("sub did not report its subscriptions within 10 s")
        pub = subprocess.run(
            [args.bench, "pub", *common, "-c", "4", "-I", "5", "-t", "smoke/two/%i",
             "--duration", "2"],
            capture_output=True, text=True, timeout=40)
        sys.stderr.write(pub.stderr)
        p = check("pub", pub.stdout, pub.returncode, expect_received=False)
        out, err = sub.communicate(timeout=40)
        sys.stderr.write(err)
        s = check("sub", out, sub.returncode, expect_received=True)
        assert s["received"] == 2 * p["sent"], (s, p)
        assert s["streams"] == 2 * 4, s
    except BaseException:
        broker.stop()
        sys.stderr.write("emqxd log:\n" + broker.read_log()[-5000:])
        raise
    broker.stop()
    shutil.rmtree(broker.dir, ignore_errors=True)
    print("bench smoke test passed")


if __name__ == "__main__":
    main()
