#!/usr/bin/env python3
"""What the MQTT-SN, STOMP and CoAP gateways deliver to MQTT subscribers, beside the same load
over plain MQTT into emqxd and into mosquitto, in one run (bench/RESULTS.md, issue 16):

    bench/scenarios/gateways.py [--messages 200000] [--publishers 4] [--rounds 3]

One sender (this script, one process) writes --messages QoS 0 PUBLISHes of 64 bytes from
--publishers clients as fast as it can, one message per system call either way: an
MQTT-SN datagram per message to the gateway (each client CONNECTed and its topic
REGISTERed first), a STOMP SEND frame per send() on a TCP connection per client (the
gateway publishes each with QoS 1 inside the node, so that a RECEIPT could follow it), a
CoAP NON POST ps/g/<i> per datagram (QoS 0: publish_qos coap, NON), or
an MQTT PUBLISH per send() on a TCP connection per client. The
payloads carry emqxd-bench's header, so one `emqxd-bench sub` on "g/#" counts what
arrives, what was lost and the latency. The rate is messages received per second, from
the first send to the last receipt. UDP has no flow control: what the gateway cannot take
in time is lost in the socket buffer, and shows as loss, not as a lower send rate.

The sender is the same Python loop for every target and bounds the rates on this 2-core
machine (it shares the cores with the server and the subscriber): a server that keeps up
shows the sender's rate. So the comparison is the server's CPU time per message delivered
(user + system, /proc/<pid>/stat, from before the first send to the last receipt), turned
into messages per CPU second; emqxd runs one worker (node.io_threads = 1), as mosquitto
runs one thread.
"""
import argparse
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))

import mqttsn as SN  # noqa: E402
from ports import free_port, free_udp_port  # noqa: E402

EMQXD = os.environ.get("EMQXD_BIN") or os.path.join(ROOT, "build", "server", "emqxd")
BENCH = os.environ.get("EMQXD_BENCH_BIN") or os.path.join(ROOT, "build", "bench", "emqxd-bench")
SIZE = 64


def wait_port(port, proc):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("server did not listen")


def start_emqxd(tmp, port, udp_port, stomp_port):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMQX_")}
    env.update({"EMQX_LISTENERS__TCP__DEFAULT__BIND": "127.0.0.1:%d" % port,
                "EMQX_GATEWAY__MQTTSN__LISTENERS__UDP__DEFAULT__BIND": "127.0.0.1:%d" % udp_port,
                "EMQX_GATEWAY__STOMP__LISTENERS__TCP__DEFAULT__BIND": "127.0.0.1:%d" % stomp_port,
                # CoAP on the next UDP port (free_udp_port checks both).
                "EMQX_GATEWAY__COAP__LISTENERS__UDP__DEFAULT__BIND": "127.0.0.1:%d" % (udp_port + 1),
                "EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "127.0.0.1:%d" % free_port(),
                "EMQX_CLUSTER__RPC__BIND": "127.0.0.1:%d" % free_port(),
                "EMQX_NODE__DATA_DIR": os.path.join(tmp, "data"),
                "EMQX_LOG__CONSOLE__LEVEL": "warning",
                # One worker: per core, as mosquitto (one thread) is measured.
                "EMQX_NODE__IO_THREADS": "1"})
    proc = subprocess.Popen([EMQXD, "start"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    wait_port(stomp_port, proc)
    return proc


def start_mosquitto(tmp, port):
    conf = os.path.join(tmp, "mosquitto.conf")
    with open(conf, "w") as f:
        f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n" % port)
    proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def start_sub(port):
    cmd = [BENCH, "sub", "-h", "127.0.0.1", "-p", str(port), "-c", "1", "-t", "g/#", "-q", "0",
           "--idle-timeout", "3", "--json", "--quiet", "--prefix", "gwsub"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    time.sleep(1.0)  # connected and subscribed
    return proc, " ".join(cmd)


def header(stream, seq, final):
    return (b"EQB1" + struct.pack(">IQQ", stream | (0x80000000 if final else 0), seq,
                                  time.clock_gettime_ns(time.CLOCK_REALTIME))).ljust(SIZE, b"p")


def send_mqttsn(udp_port, messages, publishers):
    clients, ids = [], []
    for i in range(publishers):
        c = SN.SnClient("127.0.0.1", udp_port)
        assert c.connect("gwpub%d" % i, duration=600) == SN.ACCEPTED
        ids.append(c.register("g/%d" % i).topic_id)
        clients.append(c)
    per = messages // publishers
    t0 = time.monotonic()
    for seq in range(per):
        final = seq == per - 1
        for i, c in enumerate(clients):
            c.sock.sendto(SN.publish(ids[i], header(i, seq, final)), c.addr)
    return t0, time.monotonic()


def mqtt_publish_frame(topic, payload):
    t = topic.encode()
    body = struct.pack(">H", len(t)) + t + payload
    return bytes([0x30, len(body)]) + body  # QoS 0, under 128 bytes


def send_mqtt(port, messages, publishers):
    socks = []
    for i in range(publishers):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cid = ("gwpub%d" % i).encode()
        vh = struct.pack(">H", 4) + b"MQTT" + bytes([4, 0x02]) + struct.pack(">H", 600)
        body = vh + struct.pack(">H", len(cid)) + cid
        s.sendall(bytes([0x10, len(body)]) + body)
        assert s.recv(4)[:2] == b"\x20\x02"
        socks.append(s)
    per = messages // publishers
    topics = ["g/%d" % i for i in range(publishers)]
    t0 = time.monotonic()
    for seq in range(per):
        final = seq == per - 1
        for i, s in enumerate(socks):
            s.sendall(mqtt_publish_frame(topics[i], header(i, seq, final)))
    t1 = time.monotonic()
    return t0, t1, socks


def send_stomp(port, messages, publishers):
    socks = []
    for i in range(publishers):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"CONNECT\naccept-version:1.2\nhost:bench\nclient-id:gwstomp%d\n\n\x00" % i)
        got = b""
        while b"\x00" not in got:
            got += s.recv(4096)
        assert got.startswith(b"CONNECTED"), got
        socks.append(s)
    per = messages // publishers
    heads = [b"SEND\ndestination:g/%d\ncontent-length:%d\n\n" % (i, SIZE) for i in range(publishers)]
    t0 = time.monotonic()
    for seq in range(per):
        final = seq == per - 1
        for i, s in enumerate(socks):
            s.sendall(heads[i] + header(i, seq, final) + b"\x00")
    return t0, time.monotonic(), socks


def cpu_seconds(pid):
    """The server's user + system CPU time so far (/proc/<pid>/stat, fields 14 and 15)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def coap_post(mid, topic, clientid, payload):
    """A NON POST ps/<topic>?clientid=<clientid> (RFC 7252 3), options in order."""
    out = bytes([0x50, 0x02]) + struct.pack(">H", mid & 0xFFFF)
    prev = 0
    opts = [(11, b"ps")] + [(11, seg.encode()) for seg in topic.split("/")] + [
        (15, b"clientid=" + clientid.encode())]
    for number, value in opts:
        delta, length = number - prev, len(value)  # both under 269 here
        out += bytes([(delta if delta < 13 else 13) << 4 | (length if length < 13 else 13)])
        out += (bytes([delta - 13]) if delta >= 13 else b"") + (
            bytes([length - 13]) if length >= 13 else b"") + value
        prev = number
    return out + b"\xff" + payload


def send_coap(coap_port, messages, publishers):
    socks = []
    for i in range(publishers):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        s.connect(("127.0.0.1", coap_port))
        socks.append(s)
    per = messages // publishers
    t0 = time.monotonic()
    for seq in range(per):
        final = seq == per - 1
        for i, s in enumerate(socks):
            s.send(coap_post(seq, "g/%d" % i, "gwcoap%d" % i, header(i, seq, final)))
    return t0, time.monotonic(), socks


def run(kind, o, tmp):
    port = free_port()
    udp_port = free_udp_port(pair=True)  # MQTT-SN, and CoAP on the next port
    stomp_port = free_port()
    proc = (start_mosquitto(tmp, port) if kind == "mosquitto"
            else start_emqxd(tmp, port, udp_port, stomp_port))
    try:
        sub, sub_cmd = start_sub(port)
        socks = []
        cpu0 = cpu_seconds(proc.pid)
        if kind == "emqxd MQTT-SN":
            t0, t1 = send_mqttsn(udp_port, o.messages, o.publishers)
        elif kind == "emqxd STOMP":
            t0, t1, socks = send_stomp(stomp_port, o.messages, o.publishers)
        elif kind == "emqxd CoAP":
            t0, t1, socks = send_coap(udp_port + 1, o.messages, o.publishers)
        else:
            t0, t1, socks = send_mqtt(port, o.messages, o.publishers)
        out, _ = sub.communicate(timeout=600)
        t_end = time.monotonic() - 3  # the subscriber stops --idle-timeout after the last
        cpu = cpu_seconds(proc.pid) - cpu0
        r = json.loads(out.strip().splitlines()[-1])
        for s in socks:
            s.close()
        sent = (o.messages // o.publishers) * o.publishers
        return {"received": r["received"], "sent": sent, "send_rate": sent / (t1 - t0),
                "rate": r["received"] / max(t_end - t0, 1e-6),
                "p50_ms": r["latency_us"]["p50"] / 1000, "sub": sub_cmd,
                "cpu_us": 1e6 * cpu / max(r["received"], 1)}
    finally:
        proc.terminate()
        proc.wait(20)
        SN.close_all()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=200000)
    ap.add_argument("--publishers", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    o = ap.parse_args()
    if not shutil.which("mosquitto"):
        sys.exit("mosquitto is not installed (scripts/install-deps.sh --test)")
    tmp = tempfile.mkdtemp(prefix="emqxd-bench-gw-")
    kinds = ["emqxd MQTT-SN", "emqxd STOMP", "emqxd CoAP", "emqxd MQTT", "mosquitto"]
    best = {k: None for k in kinds}
    try:
        for rnd in range(o.rounds):
            for kind in kinds:  # alternating, so that drift hits each alike
                r = run(kind, o, tmp)
                print("round %d %-14s sent %d at %.0f/s, received %d (%.1f%% lost), "
                      "delivered %.0f msg/s, latency p50 %.1f ms, server CPU %.2f us/msg"
                      % (rnd + 1, kind, r["sent"], r["send_rate"], r["received"],
                         100.0 * (r["sent"] - r["received"]) / r["sent"], r["rate"], r["p50_ms"],
                         r["cpu_us"]),
                      flush=True)
                if best[kind] is None or r["cpu_us"] < best[kind]["cpu_us"]:
                    best[kind] = r
        # Messages per CPU second of the server (the inverse of its cost per message): what
        # one core would carry, whatever the sender managed.
        if any(best[k]["cpu_us"] == 0 for k in kinds):
            sys.exit("too few messages to measure the servers' CPU time: raise --messages")
        rate = {k: 1e6 / best[k]["cpu_us"] for k in kinds}
        mq, mos = rate["emqxd MQTT"], rate["mosquitto"]
        print("best of %d, messages per server CPU second:" % o.rounds)
        for k in kinds:
            print("  %-14s %8.0f = %.2fx emqxd MQTT = %.2fx mosquitto MQTT"
                  % (k, rate[k], rate[k] / mq, rate[k] / mos))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
