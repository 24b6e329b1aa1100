"""Helpers for the durable-session tests (test_durable*.py): pipelined publishing with
every acknowledgement recorded, a consumer that acknowledges what it receives, a
publisher that survives broker crashes as a real client does, and a start that is
expected to fail.

Everything here waits with a deadline; nothing sleeps to let the broker "settle".
"""
import os
import random
import shutil
import subprocess
import threading
import time

import rawmqtt as R
from conftest import EMQXD_BIN, Broker
from rawmqtt import RawClient

# Queues without a length limit: an offline subscriber of these tests must not lose
# messages to mqtt.max_mqueue_len (1000 by default), only to a broken store.
DURABLE_ENV = {
    "EMQX_MQTT__MAX_MQUEUE_LEN": "0",
    "EMQX_LOG__CONSOLE__LEVEL": "info",  # debug logs a line per connection; not needed
}

EXPIRY = {"session_expiry_interval": 3600}


def connect_persistent(broker, client_id, version=R.V5, clean=False, expiry=3600,
                       expect_present=None, timeout=5.0):
    """A RawClient whose session outlives its connection: MQTT 5 with Session Expiry
    Interval `expiry`, MQTT 3.1.1 with CleanSession 0 (mqtt.session_expiry_interval)."""
    c = RawClient(broker, version, timeout=timeout)
    props = {"session_expiry_interval": expiry} if version == R.V5 else None
    ack = c.connect(client_id, clean=clean, props=props)
    c.connack = ack
    if expect_present is not None:
        assert ack.session_present is expect_present, "CONNACK %r" % ack
    return c


def publish_all(c, items, window=20, timeout=30.0):
    """Publishes items [(topic, payload, qos, retain, props)] (qos 1 or 2) with up to
    `window` in flight, completing every QoS 2 exchange. Returns the reason code of each
    item's PUBACK/PUBREC, in item order."""
    codes = [None] * len(items)
    inflight = {}  # pid -> index
    next_item, next_pid = 0, 1
    deadline = time.monotonic() + timeout
    while next_item < len(items) or inflight:
        while next_item < len(items) and len(inflight) < window:
            topic, payload, qos, retain, props = items[next_item]
            pid = next_pid
            next_pid = next_pid % 65535 + 1
            inflight[pid] = next_item
            c.send(R.publish(topic, payload, qos, retain, False, pid, props, c.version))
            next_item += 1
        p = c.recv(timeout=max(0.0, deadline - time.monotonic()))
        if p.type == R.PUBACK and p.pid in inflight:
            codes[inflight.pop(p.pid)] = p.code
        elif p.type == R.PUBREC and p.pid in inflight:
            idx = inflight[p.pid]
            codes[idx] = p.code
            if p.code >= 0x80:
                del inflight[p.pid]
            else:
                c.send(R.pubrel(p.pid, version=c.version))
        elif p.type == R.PUBCOMP and p.pid in inflight:
            assert p.code == 0, p
            del inflight[p.pid]
        else:
            raise AssertionError("unexpected packet while publishing: %r" % p)
    return codes


def consume(c, until, timeout=30.0, settle=0.5, ack=True, must=True):
    """Receives PUBLISH packets, acknowledging each as its QoS requires (QoS 2: PUBREC,
    then PUBCOMP for the PUBREL), until `until(received)` holds, then for `settle` more
    seconds to catch extra (duplicate) deliveries. Returns every PUBLISH received, in
    order; PUBRELs it saw are in c.pubrels. With must=False, a timeout returns what came
    instead of failing (the caller reports what is missing)."""
    got = []
    c.pubrels = getattr(c, "pubrels", [])
    deadline = time.monotonic() + timeout
    settle_end = None
    while True:
        now = time.monotonic()
        if settle_end is None and until(got):
            settle_end = now + settle
        end = settle_end if settle_end is not None else deadline
        if now >= end:
            if settle_end is None and must:
                raise AssertionError("consume: condition not met within %.0fs; got %d "
                                     "publishes" % (timeout, len(got)))
            return got
        try:
            p = c.recv(timeout=end - now)
        except TimeoutError:
            continue
        if p.type == R.PUBLISH:
            got.append(p)
            if ack and p.qos == 1:
                c.send(R.puback(p.pid, version=c.version))
            elif ack and p.qos == 2:
                c.send(R.pubrec(p.pid, version=c.version))
        elif p.type == R.PUBREL:
            c.pubrels.append(p)
            if ack:
                c.send(R.pubcomp(p.pid, version=c.version))
        elif p.type in (R.PINGRESP, R.SUBACK, R.UNSUBACK):
            pass
        else:
            raise AssertionError("unexpected packet while consuming: %r" % p)


def barrier(c, pid=60000):
    """Returns once everything c's session recorded so far is stored: a SUBSCRIBE to a
    persistent session's filter is acknowledged only after its own storage commit, and
    a worker's commits complete in order (server/session/channel_store.cpp)."""
    codes = c.subscribe([("$barrier/%s" % pid, 0)], pid=pid)
    assert codes[0] in (0, 0x00), codes


def start_expecting_failure(env, timeout=15.0):
    """Starts emqxd with `env` and waits for it to exit; returns (exit code, log)."""
    b = Broker(env=env)
    try:
        with open(b.log_path, "ab") as log:
            proc = subprocess.Popen([EMQXD_BIN, "start"] + b.args, env=b.env, stdout=log,
                                    stderr=subprocess.STDOUT)
            try:
                rc = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                raise AssertionError("emqxd kept running:\n" + b.read_log()[-3000:])
        return rc, b.read_log()
    finally:
        if not os.environ.get("EMQXD_KEEP_TEST_DIRS"):
            shutil.rmtree(b.dir, ignore_errors=True)


class SeqPublisher(threading.Thread):
    """Publishes QoS 1 messages "<prefix>/<seq>" on `topic` as fast as a window of
    `window` allows, for as long as `running` is set, over a persistent MQTT 5 session.
    When the connection breaks (the broker was killed) it reconnects, retrying for up to
    `reconnect_timeout` seconds, and resends every unacknowledged message with DUP=1 and
    its packet id [MQTT-4.4.0-1], as a real client does. Records which sequences got
    PUBACK 0 (`acked`), and any other reason code (`refused`)."""

    def __init__(self, broker, client_id, topic, window=20, reconnect_timeout=20.0, qos=1):
        super().__init__(daemon=True)
        self.broker = broker
        self.client_id = client_id
        self.topic = topic
        self.window = window
        self.reconnect_timeout = reconnect_timeout
        self.qos = qos
        self.running = threading.Event()
        self.running.set()
        self.acked = set()
        self.refused = []  # (seq, code)
        self.sent = 0
        self.resent = 0
        self.reconnects = 0
        self.error = None
        self.c = None
        self.unacked = {}  # pid -> seq

    def payload(self, seq):
        return b"%s/%08d" % (self.client_id.encode(), seq)

    def _connect(self):
        deadline = time.monotonic() + self.reconnect_timeout
        while True:
            try:
                c = RawClient(self.broker, R.V5, timeout=2.0)
                c.connect(self.client_id, clean=False, props=EXPIRY)
                return c
            except (OSError, R.Closed, TimeoutError, AssertionError):
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.05)

    def run(self):
        try:
            self._run()
        except Exception as e:  # reported by the test
            self.error = e

    def _run(self):
        self.c = self._connect()
        seq, pid = 0, 1
        while self.running.is_set() or self.unacked:
            try:
                while self.running.is_set() and len(self.unacked) < self.window:
                    while pid in self.unacked:
                        pid = pid % 65535 + 1
                    self.unacked[pid] = seq
                    self.c.send(R.publish(self.topic, self.payload(seq), self.qos, False,
                                          False, pid, None, R.V5))
                    self.sent += 1
                    seq += 1
                try:
                    p = self.c.recv(timeout=0.2)
                except TimeoutError:
                    continue
                if p.type == R.PUBACK and p.pid in self.unacked:
                    s = self.unacked.pop(p.pid)
                    if p.code == 0:
                        self.acked.add(s)
                    else:
                        self.refused.append((s, p.code))
                elif p.type == R.DISCONNECT:
                    raise R.Closed("DISCONNECT %#x" % p.code)
            except (OSError, R.Closed):
                self._reconnect()
        self.c.disconnect()

    def _reconnect(self):
        deadline = time.monotonic() + self.reconnect_timeout
        while True:
            self.c.close()
            try:
                self.c = self._connect()
                self.reconnects += 1
                # Resend what was not acknowledged, in order, same packet ids, DUP=1.
                for p_id, s in sorted(self.unacked.items(), key=lambda kv: kv[1]):
                    self.c.send(R.publish(self.topic, self.payload(s), self.qos, False,
                                          True, p_id, None, R.V5))
                    self.resent += 1
                return
            except (OSError, R.Closed):
                if time.monotonic() >= deadline:
                    raise


class Killer:
    """Kills the broker with SIGKILL `times` times at random moments (uniform in
    [lo, hi] seconds after each (re)start) and restarts it on the same data dir and
    port. Returns the kill times relative to its start."""

    def __init__(self, broker, times=5, lo=0.3, hi=1.5, seed=None):
        self.broker = broker
        self.times = times
        self.lo, self.hi = lo, hi
        self.rng = random.Random(seed)

    def run(self, on_restart=None):
        import signal
        t0 = time.monotonic()
        kills = []
        for i in range(self.times):
            time.sleep(self.rng.uniform(self.lo, self.hi))  # the random moment is the point
            kills.append(round(time.monotonic() - t0, 2))
            rc = self.broker.stop(signal.SIGKILL)
            assert rc == -signal.SIGKILL, rc
            self.broker.start()
            if on_restart:
                on_restart(i)
        return kills
