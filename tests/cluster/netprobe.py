"""Network probes that cluster tests run inside a node's network namespace
(`ip netns exec NS /usr/bin/python3 netprobe.py ...`), where the test process itself
cannot open sockets. Prints one JSON object per answer on stdout. Standard library only.

    netprobe.py connect HOST PORT TIMEOUT
        one TCP connect: {"ok": true|false, "error": "...", "errno": N, "seconds": S}

    netprobe.py hold HOST PORT TIMEOUT
        an MQTT 3.1.1 connection (keep alive 0) that stays open and answers commands read
        from stdin, one per line, so a test can watch an established connection across a
        partition:
          ping            sends PINGREQ              -> {"sent": N}
          wait N SECONDS  waits for N PINGRESPs in all -> {"ok": bool, "pongs": M}
          quit            closes the connection and exits
"""
import errno
import json
import select
import socket
import sys
import time


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def connect(host, port, timeout):
    t0 = time.monotonic()
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return {"ok": True, "error": "", "errno": 0,
                "seconds": round(time.monotonic() - t0, 3)}
    except OSError as e:
        code = e.errno if e.errno is not None else (errno.ETIMEDOUT
                                                    if isinstance(e, socket.timeout) else 0)
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e), "errno": code,
                "seconds": round(time.monotonic() - t0, 3)}


def mqtt_connect_packet(client_id):
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02\x00\x00" + len(cid).to_bytes(2, "big") + cid
    return bytes([0x10, len(body)]) + body


def hold(host, port, timeout):
    s = socket.create_connection((host, port), timeout=timeout)
    s.sendall(mqtt_connect_packet("netprobe-%d" % time.monotonic_ns()))
    ack = b""
    deadline = time.monotonic() + timeout
    while len(ack) < 4:
        s.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = s.recv(4 - len(ack))
        if not chunk:
            raise SystemExit("connection closed before CONNACK")
        ack += chunk
    if ack != b"\x20\x02\x00\x00":
        raise SystemExit("unexpected CONNACK %r" % ack)
    say({"connected": True})
    sent = pongs = 0
    buf = b""
    s.setblocking(False)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "ping":
            s.sendall(b"\xc0\x00")
            sent += 1
            say({"sent": sent})
        elif cmd[0] == "wait":
            want, end = int(cmd[1]), time.monotonic() + float(cmd[2])
            while pongs < want:
                left = end - time.monotonic()
                if left <= 0:
                    break
                if select.select([s], [], [], left)[0]:
                    chunk = s.recv(4096)
                    if not chunk:
                        say({"ok": False, "pongs": pongs, "error": "closed"})
                        return
                    buf += chunk
                    while len(buf) >= 2 and buf[:2] == b"\xd0\x00":
                        pongs += 1
                        buf = buf[2:]
            say({"ok": pongs >= want, "pongs": pongs})
        elif cmd[0] == "quit":
            break
    s.close()


def main(argv):
    mode, host, port, timeout = argv[1], argv[2], int(argv[3]), float(argv[4])
    if mode == "connect":
        say(connect(host, port, timeout))
    elif mode == "hold":
        hold(host, port, timeout)
    else:
        raise SystemExit("unknown mode %r" % mode)


if __name__ == "__main__":
    main(sys.argv)
