#!/usr/bin/env python3
"""Is emqxd-bench the bottleneck? Drives mosquitto in the fan-in QoS 0 scenario (50
publishers -> 1 wildcard subscriber, 64-byte payloads, unlimited rate) with different
load generators and reports what mosquitto delivered to the subscriber (emqxd-bench sub
in every case, so that only the publishing side changes):

  - emqxd-bench pub -c 50 -I 0, with its default threads (one per core) and with one: the
    generator shares the two cores with mosquitto, so a generator that takes less CPU
    leaves more to the broker
  - 50 mosquitto_pub -l processes, each fed by a pipe of 64-byte lines
  - 50 MQTT.js clients in one node process (tests/integration/node_modules), each
    publishing in a loop

    bench/scenarios/generators.py [--rounds 3] [--duration 5]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from compare import BENCH, ROOT, free_port, start_broker

MQTTJS = r"""
const mqtt = require(process.argv[2]);
const port = +process.argv[3], n = +process.argv[4], seconds = +process.argv[5];
const payload = Buffer.alloc(64, 120);
let done = 0;
for (let i = 0; i < n; i++) {
  const c = mqtt.connect({host: '127.0.0.1', port, protocolVersion: 4, clean: true,
                          clientId: 'js' + i});
  c.on('connect', () => {
    const end = Date.now() + seconds * 1000;
    const pump = () => {
      // Write while the socket takes it, then wait for 'drain': as fast as it goes.
      while (Date.now() < end) {
        if (!c.stream.write(mqtt_publish(i))) { c.stream.once('drain', pump); return; }
      }
      c.end(true); if (++done === n) process.exit(0);
    };
    pump();
  });
}
// A pre-encoded QoS 0 PUBLISH per client (the client's own publish() allocates per call
// and queues behind its callbacks: slower still).
const cache = {};
function mqtt_publish(i) {
  if (cache[i]) return cache[i];
  const topic = Buffer.from('fan/' + i);
  const len = 2 + topic.length + payload.length;
  const b = Buffer.alloc(2 + len);
  b[0] = 0x30; b[1] = len; b.writeUInt16BE(topic.length, 2); topic.copy(b, 4);
  payload.copy(b, 4 + topic.length);
  return cache[i] = b;
}
"""


def subscriber(port, seconds):
    cmd = [BENCH, "sub", "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-t", "fan/+", "-q", "0",
           "-V", "4", "--duration", str(seconds), "--json", "--quiet"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def gen_bench(port, seconds, tmp, threads=None):
    extra = ["--threads", str(threads)] if threads else []
    return [subprocess.Popen([BENCH, "pub", "-h", "127.0.0.1", "-p", str(port), "-c", "50", "-I",
                              "0", "-t", "fan/%i", "-q", "0", "-s", "64", "-V", "4",
                              "--duration", str(seconds), "--quiet"] + extra,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]


def gen_mosquitto_pub(port, seconds, tmp):
    procs = []
    for i in range(50):
        # timeout on mosquitto_pub itself: `yes` then ends on SIGPIPE.
        sh = ("yes %s | timeout %s mosquitto_pub -h 127.0.0.1 -p %d -V mqttv311 -q 0 "
              "-t fan/%d -l" % ("x" * 64, seconds, port, i))
        procs.append(subprocess.Popen(sh, shell=True, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL))
    return procs


def gen_mqttjs(port, seconds, tmp):
    script = os.path.join(tmp, "gen.js")
    with open(script, "w") as f:
        f.write(MQTTJS)
    mod = os.path.join(ROOT, "tests", "integration", "node_modules", "mqtt")
    return [subprocess.Popen(["node", script, mod, str(port), "50", str(seconds)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]


GENERATORS = {"emqxd-bench": gen_bench,
              "emqxd-bench --threads 1": lambda p, s, t: gen_bench(p, s, t, threads=1),
              "mosquitto_pub x50": gen_mosquitto_pub,
              "MQTT.js x50": gen_mqttjs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5)
    a = ap.parse_args()
    rates = {}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(a.rounds):
            for name, gen in GENERATORS.items():
                port = free_port()
                broker = start_broker("mosquitto", port, tmp)
                try:
                    sub = subscriber(port, a.duration + 2)
                    time.sleep(0.5)
                    procs = gen(port, a.duration, tmp)
                    for p in procs:
                        try:
                            p.wait(a.duration + 30)
                        except subprocess.TimeoutExpired:
                            p.kill()
                    out, _ = sub.communicate(timeout=60)
                    r = json.loads(out.strip().splitlines()[-1])
                finally:
                    broker.send_signal(signal.SIGTERM)
                    broker.wait(15)
                rates.setdefault(name, []).append(r.get("recv_rate", 0.0))
                print("%-18s round %d: mosquitto delivered %.0f msgs/s" % (
                    name, rnd + 1, r.get("recv_rate", 0.0)), file=sys.stderr)
    print("| generator (fan-in QoS 0 into mosquitto, 50 publishers) | delivered msgs/s (median) |")
    print("| --- | --- |")
    for name, v in rates.items():
        print("| %s | %.0f |" % (name, statistics.median(v)))


if __name__ == "__main__":
    main()
