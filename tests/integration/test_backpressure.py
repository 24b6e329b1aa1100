"""mqtt.backpressure: a live subscriber that falls behind holds its QoS 1/2 publishers
back instead of dropping from its queue; a stalled one holds nobody for longer than the
stall timeout (2 s). Real emqxd, raw-socket publishers that pipeline as fast as the
socket takes them, subscribers that acknowledge more slowly than that."""
import threading
import time

import pytest

from rawmqtt import PUBACK, PUBLISH, V311, RawClient, publish, puback

N = 2000          # messages per publisher
PUBLISHERS = 3    # raw connections, spread over the broker's workers


def config(backpressure):
    return f"""
mqtt {{
  backpressure = {str(backpressure).lower()}
  max_mqueue_len = 100
  max_inflight = 10
}}
"""


def blast(broker, index, errors):
    """One publisher: N QoS 1 messages "index:seq" pipelined in one write, then every
    PUBACK read back."""
    try:
        c = RawClient(broker, version=V311, timeout=60)
        c.connect(f"pub{index}")
        data = b"".join(publish(f"bp/{index}", f"{index}:{i}".encode(), qos=1,
                                pid=i % 65535 + 1, version=V311) for i in range(N))
        c.send(data)
        for _ in range(N):
            c.wait_for(PUBACK, timeout=60)
    except Exception as e:  # reported by the test, not lost in the thread
        errors.append(e)


def slow_subscriber(broker, client_id):
    c = RawClient(broker, version=V311, timeout=10)
    c.connect(client_id)
    assert c.subscribe([("bp/#", 1)]) == [1]
    return c


def drain(c, expected, pace, deadline):
    """Reads PUBLISHes and acks each, sleeping `pace` s every 20 messages (slower than
    the publishers), until `expected` arrived or nothing comes for 3 s."""
    got = []
    while len(got) < expected and time.monotonic() < deadline:
        try:
            p = c.recv(timeout=3)
        except TimeoutError:
            break
        if p.type != PUBLISH:
            continue
        got.append(p.payload.decode())
        c.send(puback(p.pid, version=V311))
        if pace and len(got) % 20 == 0:
            time.sleep(pace)
    return got


def check_streams(got):
    """Every publisher's messages complete, once each, in order."""
    per = {}
    for m in got:
        i, seq = m.split(":")
        per.setdefault(i, []).append(int(seq))
    for i in range(PUBLISHERS):
        assert per.get(str(i), []) == list(range(N)), f"publisher {i}: lost, duplicated or reordered"


def run(broker, pace):
    sub = slow_subscriber(broker, "slow")
    errors = []
    threads = [threading.Thread(target=blast, args=(broker, i, errors)) for i in range(PUBLISHERS)]
    for t in threads:
        t.start()
    got = drain(sub, N * PUBLISHERS, pace, time.monotonic() + 90)
    for t in threads:
        t.join(60)
    assert not errors, errors
    return got


def test_backpressure_delivers_everything_in_order(make_broker):
    broker = make_broker(config_text=config(True))
    got = run(broker, pace=0.002)
    assert len(got) == N * PUBLISHERS
    check_streams(got)
    assert broker.alive()


def test_without_backpressure_the_full_queue_drops(make_broker):
    """The same load with the setting off loses messages (queue of 100): what the test
    above would see if back-pressure did not work."""
    broker = make_broker(config_text=config(False))
    got = run(broker, pace=0.002)
    assert len(got) < N * PUBLISHERS


def test_stalled_subscriber_holds_nobody_past_the_stall_timeout(make_broker):
    """One subscriber never reads; another acknowledges promptly. The publishers wait at
    most the stall timeout, then the stalled one's queue drops while the live one gets
    every message."""
    broker = make_broker(config_text=config(True))
    stalled = slow_subscriber(broker, "stalled")
    live = slow_subscriber(broker, "live")
    errors = []
    start = time.monotonic()
    threads = [threading.Thread(target=blast, args=(broker, i, errors)) for i in range(PUBLISHERS)]
    for t in threads:
        t.start()
    got = drain(live, N * PUBLISHERS, 0, time.monotonic() + 60)
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - start
    assert not errors, errors
    assert len(got) == N * PUBLISHERS
    check_streams(got)
    assert elapsed < 20, f"publishers held for {elapsed:.1f}s by a stalled subscriber"
    # The stalled one got at most its window and queue: the rest was dropped for it alone.
    assert len(stalled.recv_all(settle=0.5)) < N * PUBLISHERS
