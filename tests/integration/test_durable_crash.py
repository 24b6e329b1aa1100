"""The crash loop (the durable-sessions issue's bar): a publisher sends QoS 1 messages
with sequence numbers in a loop while emqxd is killed with SIGKILL at random moments,
5 times, and started again on the same data dir; the publisher reconnects and resends
what was not acknowledged, as a real client does. At the end the persistent subscriber
(Clean Start 0) must hold every message whose PUBACK the publisher received: lost = 0.
Duplicates are allowed (QoS 1) and counted.

Variants: durable_sessions.sync true and false (both survive a crash of the process),
and a subscriber that stays online through the crashes (reconnecting after each),
acknowledging what it gets, so that sends, acknowledgements and redeliveries are
crashed in the middle of too. Counts are printed (acked, delivered, lost, duplicates).
"""
import os
import threading
import time

import pytest

import rawmqtt as R
from durable_support import DURABLE_ENV, Killer, SeqPublisher, connect_persistent, consume


class OnlineSubscriber(threading.Thread):
    """A persistent MQTT 5 subscriber that stays connected while `running` is set,
    acknowledging every QoS 1 message, and reconnects (Clean Start 0) whenever emqxd
    goes away. Records every payload received."""

    def __init__(self, broker, client_id):
        super().__init__(daemon=True)
        self.broker, self.client_id = broker, client_id
        self.running = threading.Event()
        self.running.set()
        self.received = []
        self.dups = 0
        self.not_present = 0
        self.error = None

    def run(self):
        try:
            while self.running.is_set():
                try:
                    c = connect_persistent(self.broker, self.client_id, timeout=2.0)
                except (OSError, R.Closed, TimeoutError, AssertionError):
                    time.sleep(0.05)
                    continue
                if not c.connack.session_present:
                    self.not_present += 1
                try:
                    while self.running.is_set():
                        try:
                            p = c.recv(timeout=0.2)
                        except TimeoutError:
                            continue
                        if p.type == R.PUBLISH:
                            self.received.append(p.payload)
                            self.dups += p.dup
                            c.send(R.puback(p.pid, version=R.V5))
                except (OSError, R.Closed):
                    pass
                finally:
                    c.close()
        except Exception as e:
            self.error = e


@pytest.mark.parametrize("sync,online", [
    pytest.param("true", False, id="sync-offline-sub"),
    pytest.param("false", False, id="nosync-offline-sub"),
    pytest.param("true", True, id="sync-online-sub"),
])
def test_crash_loop_loses_no_acknowledged_message(make_broker, capsys, sync, online):
    b = make_broker(env=dict(DURABLE_ENV, EMQX_DURABLE_SESSIONS__SYNC=sync))
    sub_id = "crash-sub-%s-%s" % (sync, online)
    sub = connect_persistent(b, sub_id)
    assert sub.subscribe([("crash/#", 1)]) == [1]
    sub.disconnect()

    online_sub = None
    if online:
        online_sub = OnlineSubscriber(b, sub_id)
        online_sub.start()
    pub = SeqPublisher(b, "crash-pub", "crash/seq", window=20)
    pub.start()
    started = time.monotonic()
    try:
        kills = Killer(b, times=5, lo=0.3, hi=2.0, seed=int.from_bytes(os.urandom(4), "big")).run()
        # After the last restart, publish a little longer, then let the publisher finish
        # (it waits for the acknowledgement of everything it sent).
        time.sleep(1.0)
    finally:
        pub.running.clear()
        pub.join(30)
        if online_sub:
            online_sub.running.clear()
            online_sub.join(10)
    assert not pub.is_alive(), "publisher did not finish"
    assert pub.error is None, "publisher: %r" % pub.error
    assert pub.refused == [], "refused: %r" % pub.refused[:10]
    acked = {pub.payload(s) for s in pub.acked}

    received = list(online_sub.received) if online_sub else []
    if online_sub:
        assert online_sub.error is None, repr(online_sub.error)
        assert online_sub.not_present == 0, "session lost on reconnect"
    sub = connect_persistent(b, sub_id, expect_present=True)
    missing = acked - set(received)

    def complete(g):  # incremental: g only grows
        while complete.seen < len(g):
            missing.discard(g[complete.seen].payload)
            complete.seen += 1
        return not missing
    complete.seen = 0
    got = consume(sub, complete, timeout=60, settle=1.0, must=False)
    received += [p.payload for p in got]
    delivered = set(received)
    lost = sorted(acked - delivered)
    duplicates = len(received) - len(delivered)
    unexpected = delivered - {pub.payload(s) for s in range(pub.sent + 1)}
    # Order of first arrivals in the final drain, reported only: a resent message that
    # was lost in a crash comes after later ones that were not.
    seqs = [int(p.split(b"/")[-1]) for p in dict.fromkeys(p.payload for p in got)]
    inversions = sum(1 for a, b_ in zip(seqs, seqs[1:]) if b_ < a)
    report = ("crash loop (sync=%s, subscriber %s): kills at %s s; %.1f s; sent %d, acked %d, "
              "resent %d, reconnects %d; delivered %d distinct (%d in all), lost %d, "
              "duplicates %d; order inversions in the drain %d" % (sync, "online" if online else "offline", kills,
                                 time.monotonic() - started, pub.sent, len(acked), pub.resent,
                                 pub.reconnects, len(delivered), len(received), len(lost),
                                 duplicates, inversions))
    with capsys.disabled():
        print("\n" + report)
    assert pub.reconnects >= 5, report
    assert not unexpected, unexpected
    assert lost == [], "%s; first lost: %r" % (report, lost[:10])
    assert len(acked) > 500, report  # the loop really published under the kills
