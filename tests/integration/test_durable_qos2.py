"""QoS 2 exactly once across a crash, at the moments that matter: emqxd is killed
(SIGKILL) right after it sent a QoS 2 packet whose meaning depends on state it records
in storage. A packet that leaves before that state is stored can be contradicted after
the restart, which turns exactly once into twice (or into never).

  outbound PUBLISH  must come back with the same packet id (DUP=1) [MQTT-4.4.0-1]: a
                    receiver that already has that id does not deliver it again, one
                    that sees a new id must [MQTT-4.3.3-9..12];
  outbound PUBREL   once the receiver answered PUBCOMP it treats that id as new
                    [MQTT-4.3.3-12]: the PUBLISH must not come back;
  inbound PUBCOMP   once the sender got it, it may reuse the packet id for a new
                    message [MQTT-4.3.3-12 on the server's side]: that message must be
                    delivered, not taken for a resend.

The window between "sent" and "stored" is short, so a background publisher keeps the
store's writer busy (each group of commits waits for an fsync) while the test kills
emqxd the moment the client has the packet in hand; each case is tried 3 times.
The receiver is a spec receiver (Method B, section 4.3.3): it delivers a QoS 2 message
when its PUBLISH arrives with a packet id it is not already holding, and forgets the id
when it sends PUBCOMP.
"""
import signal
import time

import pytest

import rawmqtt as R
from durable_support import DURABLE_ENV, SeqPublisher, connect_persistent, consume
from rawmqtt import connected, V5

ATTEMPTS = 3


class Receiver:
    """A QoS 2 receiver with Method B state that outlives its connections."""

    def __init__(self, broker, client_id):
        self.broker, self.client_id = broker, client_id
        self.holding = set()   # packet ids received (PUBREC sent), PUBREL not yet seen
        self.delivered = []    # (payload, packet id, dup)
        self.c = connect_persistent(broker, client_id)

    def reconnect(self):
        self.c.close()
        self.c = connect_persistent(self.broker, self.client_id, expect_present=True)

    def on_publish(self, p, send_pubrec=True):
        if p.pid not in self.holding:
            self.delivered.append((p.payload, p.pid, p.dup))
            self.holding.add(p.pid)
        if send_pubrec:
            self.c.send(R.pubrec(p.pid, version=V5))

    def on_pubrel(self, p):
        self.holding.discard(p.pid)
        self.c.send(R.pubcomp(p.pid, version=V5))

    def settle(self, seconds=1.0):
        """Handles whatever the broker sends for `seconds`."""
        for p in self.c.recv_all(settle=seconds):
            if p.type == R.PUBLISH:
                self.on_publish(p)
            elif p.type == R.PUBREL:
                self.on_pubrel(p)

    def duplicates(self):
        seen, dups = set(), []
        for payload, pid, dup in self.delivered:
            if payload in seen:
                dups.append((payload, pid, dup))
            seen.add(payload)
        return dups


def start_load(b):
    """Keeps the store's writer busy: QoS 1 messages to an offline durable subscriber,
    as fast as a window of 50 allows, reconnecting across the kills."""
    s = connect_persistent(b, "load-sub")
    s.subscribe([("load/#", 1)])
    s.disconnect()
    load = SeqPublisher(b, "load-pub", "load/seq", window=50, reconnect_timeout=30)
    load.start()
    assert wait_acked(load, 200), "the load publisher got no acks"
    return load


def wait_acked(load, n, timeout=10):
    deadline = time.monotonic() + timeout
    start = len(load.acked)
    while len(load.acked) - start < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(load.acked) - start >= n


def stop_load(load):
    load.running.clear()
    load.join(30)
    assert load.error is None, repr(load.error)


def kill_now_and_restart(b, load):
    assert b.stop(signal.SIGKILL) == -signal.SIGKILL
    b.start()
    # The load must be running again before the next attempt's kill.
    assert wait_acked(load, 200), "the load publisher did not resume"


@pytest.fixture
def broker_with_load(make_broker):
    b = make_broker(env=DURABLE_ENV)
    load = start_load(b)
    yield b, load
    stop_load(load)


def test_outbound_qos2_publish_then_crash_is_resent_with_its_packet_id(broker_with_load):
    """A QoS 2 message is queued (and stored: its publisher got PUBREC) for the offline
    subscriber, whose session already used packet ids 1..5. The subscriber reconnects,
    receives the PUBLISH (and holds its packet id, 6); emqxd is killed at once. After the
    restart the message must come back with the same packet id and DUP=1
    [MQTT-4.4.0-1], not as a new delivery under another id, which the receiver would
    deliver a second time."""
    b, load = broker_with_load
    rx = Receiver(b, "q2out-sub")
    assert rx.c.subscribe([("q2out/t", 2)]) == [2]
    for attempt in range(ATTEMPTS):
        pub = connected(b, "", V5)
        for i in range(5):  # the session's packet ids move on: 1..5 used and released
            pub.publish("q2out/t", b"warm-%d-%d" % (attempt, i), qos=2)
            p = rx.c.wait_for(R.PUBLISH)
            rx.on_publish(p)
            rx.on_pubrel(rx.c.wait_for(R.PUBREL, p.pid))
        rx.c.disconnect()
        assert pub.publish("q2out/t", b"pub-%d" % attempt, qos=2).code == 0  # stored
        rx.reconnect()
        p = rx.c.wait_for(R.PUBLISH)
        rx.on_publish(p, send_pubrec=False)
        kill_now_and_restart(b, load)
        rx.reconnect()
        rx.settle()
    rx.settle()
    assert {x[0] for x in rx.delivered} >= {b"pub-%d" % i for i in range(ATTEMPTS)}
    assert rx.duplicates() == [], "delivered twice: %r; all: %r" % (rx.duplicates(),
                                                                    rx.delivered)


def test_outbound_pubrel_then_crash_does_not_resend_the_publish(broker_with_load):
    """The subscriber receives a QoS 2 message, sends PUBREC, gets PUBREL and answers
    PUBCOMP (its exchange is over, the packet id free); emqxd is killed at once. After
    the restart the message must not come back."""
    b, load = broker_with_load
    rx = Receiver(b, "q2rel-sub")
    assert rx.c.subscribe([("q2rel/t", 2)]) == [2]
    for attempt in range(ATTEMPTS):
        pub = connected(b, "", V5)
        pub.publish("q2rel/t", b"rel-%d" % attempt, qos=2)
        p = rx.c.wait_for(R.PUBLISH)
        rx.on_publish(p)
        rx.on_pubrel(rx.c.wait_for(R.PUBREL, p.pid))
        kill_now_and_restart(b, load)
        rx.reconnect()
        rx.settle()
    assert {x[0] for x in rx.delivered} >= {b"rel-%d" % i for i in range(ATTEMPTS)}
    assert rx.duplicates() == [], "delivered twice: %r; all: %r" % (rx.duplicates(),
                                                                    rx.delivered)


def test_inbound_pubcomp_then_crash_next_message_with_that_id_is_delivered(broker_with_load):
    """A persistent publisher completes a QoS 2 exchange with packet id 1 (PUBCOMP
    received); emqxd is killed at once. After the restart it publishes a new message
    with packet id 1 (free again [MQTT-4.3.3-12]): the subscriber must get both."""
    b, load = broker_with_load
    s = connect_persistent(b, "q2comp-sub")
    assert s.subscribe([("q2comp/t", 2)]) == [2]
    s.disconnect()
    want = []
    for attempt in range(ATTEMPTS):
        pub = connect_persistent(b, "q2comp-pub")
        pub.publish("q2comp/t", b"first-%d" % attempt, qos=2, pid=1)  # through PUBCOMP
        kill_now_and_restart(b, load)
        pub = connect_persistent(b, "q2comp-pub", expect_present=True)
        pub.publish("q2comp/t", b"second-%d" % attempt, qos=2, pid=1)
        pub.disconnect()
        want += [b"first-%d" % attempt, b"second-%d" % attempt]
    s = connect_persistent(b, "q2comp-sub", expect_present=True)
    got = consume(s, lambda g: len(g) >= len(want), timeout=10, settle=0.5, must=False)
    missing = sorted(set(want) - {p.payload for p in got})
    assert missing == [], "PUBREC'd and never delivered: %r" % missing
