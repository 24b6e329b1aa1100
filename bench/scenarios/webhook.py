#!/usr/bin/env python3
"""What the http action (webhook) sustains into a fast HTTP server (bench/RESULTS.md,
issue 15):

    bench/scenarios/webhook.py [--messages 50000] [--pool-sizes 8,32]

It starts Debian's nginx (`apt-get install nginx-light`; not one of the project's
dependencies: only this benchmark uses it) on a free loopback port, answering every POST
with 204 from memory, and emqxd (the build's, EMQXD_BIN to choose) with one rule,
SELECT * FROM "wh/#", sending to an http action with EMQX's default body (the rule's
output as JSON). emqxd-bench publishes --messages QoS 1 messages (96-byte JSON payloads)
from 20 publishers as fast as they go; the rate is requests answered 2xx (the action's
`success`) per second from the first publish to the last answer, beside the publish rate
of the same run, once for each connector pool_size. mosquitto has no webhook to compare
with."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, HERE)

from connectors import broker, publish  # noqa: E402
from ports import free_port  # noqa: E402
from test_api import get_json  # noqa: E402

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(port, d):
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""daemon off;
master_process off;
worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%d;
    location / { return 204; }
  }
}
""" % (d, d, d, port))
    proc = subprocess.Popen([NGINX, "-c", conf, "-p", d], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import socket
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nginx did not listen")


def conf(port, pool_size):
    return '''
log.console.level = warning
connectors.http.hook {
  url = "http://127.0.0.1:%d/hook", pool_size = %d
  resource_opts { health_check_interval = 1s }
}
actions.http.to_hook {
  connector = hook
  parameters { method = post }
  resource_opts { request_ttl = 10m, health_check_interval = 1s }
}
rule_engine.rules.to_hook { sql = """SELECT * FROM "wh/#" """, actions = ["http:to_hook"] }
''' % (port, pool_size)


def metrics(b):
    return get_json(b, "/api/v5/actions/http:to_hook/metrics")["metrics"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50000)
    ap.add_argument("--pool-sizes", default="8,32")
    o = ap.parse_args()
    if not os.access(NGINX, os.X_OK):
        sys.exit("nginx is not installed: apt-get install nginx-light")
    d = tempfile.mkdtemp(prefix="emqxd-bench-nginx-")
    port = free_port()
    srv = start_nginx(port, d)
    try:
        for pool in [int(x) for x in o.pool_sizes.split(",")]:
            b = broker(conf(port, pool))
            try:
                t0 = time.monotonic()
                r = publish(b, o.messages, 20, 0, topic="wh/%i")
                deadline = time.monotonic() + 600
                while metrics(b)["success"] + metrics(b)["failed"] < o.messages:
                    if time.monotonic() > deadline:
                        raise RuntimeError("not all answered: %s" % metrics(b))
                    time.sleep(0.05)
                t1 = time.monotonic()
                m = metrics(b)
                rate = m["success"] / (t1 - t0)
                print("pool_size %d: publish %.0f msg/s, requests %.0f/s (%.2fx the publish "
                      "rate), success %d, failed %d, dropped %d"
                      % (pool, r["sent_rate"], rate, rate / r["sent_rate"], m["success"],
                         m["failed"], m["dropped"]), flush=True)
            finally:
                b.stop()
    finally:
        srv.kill()
        srv.wait(10)
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
