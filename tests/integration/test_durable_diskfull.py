"""A full disk while emqxd runs (storage/store.hpp, "Disk full"): node.data_dir on a
small tmpfs mounted by the test (root needed; skipped, saying why, when mount fails),
filled with a file. A QoS 1 publish that has to be stored (a persistent subscriber
matches it) is answered PUBACK 0x97 Quota exceeded and an error line names the path;
what needs no storage still flows; nothing acknowledged before is lost; once the filler
is deleted the store reopens by itself (it retries every second) and publishes are
accepted again within RECOVERY_BOUND seconds.
"""
import errno
import os
import signal
import subprocess
import time

import pytest

import rawmqtt as R
from durable_support import DURABLE_ENV, connect_persistent, consume
from rawmqtt import connected, V311, V5

TMPFS_SIZE = "48m"
PAYLOAD = 16 * 1024
# storage retries every resume_interval (1 s) once at least 1 MB is free; a reopen
# replays the WAL. 15 s leaves room for a slow machine.
RECOVERY_BOUND = 15.0


def fill(path):
    """Writes `path` until the file system has no byte left; returns its size."""
    size = 0
    chunk = 1 << 20
    with open(path, "wb", buffering=0) as f:
        while chunk >= 512:
            try:
                f.write(b"\0" * chunk)
                size += chunk
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                chunk //= 2
    return size


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "small-disk"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + TMPFS_SIZE, "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip("cannot mount a %s tmpfs (needs root / CAP_SYS_ADMIN): %s"
                    % (TMPFS_SIZE, (r.stderr or r.stdout).strip()))
    brokers = []
    try:
        yield mnt, brokers
    finally:
        for b in brokers:  # emqxd holds files there: stop it before unmounting
            if b.alive():
                b.stop(signal.SIGKILL)
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_disk_full_refuses_with_0x97_keeps_what_was_stored_and_recovers(make_broker, small_disk):
    mnt, brokers = small_disk
    data = str(mnt / "data")
    b = make_broker(env=dict(DURABLE_ENV, EMQX_NODE__DATA_DIR=data,
                             EMQX_DURABLE_STORAGE__ROCKSDB__WRITE_BUFFER_SIZE="1MB"))
    brokers.append(b)
    sub = connect_persistent(b, "full-sub")
    assert sub.subscribe([("full/#", 1)]) == [1]
    sub.disconnect()
    live = connected(b, "full-live", V5)          # a subscriber without a stored session
    live.subscribe([("mem/#", 1)])

    pub = connected(b, "full-pub", V5)
    acked = []
    seq = 0

    def publish_one(topic="full/t"):
        nonlocal seq
        seq += 1
        payload = b"%06d" % seq + b"x" * (PAYLOAD - 6)
        code = pub.publish(topic, payload, qos=1, pid=seq % 65535 + 1).code
        if code == 0 and topic == "full/t":
            acked.append(payload[:6])
        return code

    for _ in range(50):
        assert publish_one() == 0

    filler = str(mnt / "filler")
    filled = fill(filler)
    # The WAL may still have preallocated room: publish until refused, within a bound of
    # more bytes than the whole tmpfs.
    refused_at = None
    for i in range(3000):
        code = publish_one()
        if code == 0x97:
            refused_at = i
            break
        assert code == 0, "PUBACK %#x while filling" % code
    assert refused_at is not None, "no 0x97 after %d more messages on a full disk" % 3000
    assert b.alive(), b.read_log()[-3000:]
    log = b.read_log()
    assert "[error]" in log and "disk is full" in log and data in log, log[-3000:]
    assert publish_one() == 0x97  # fails fast while full
    # What needs no storage goes on: QoS 1 to a subscriber whose session is in memory.
    assert publish_one("mem/t") == 0
    assert live.wait_for(R.PUBLISH).topic == "mem/t"
    # An MQTT 3.1.1 publisher cannot be refused one message: its connection closes.
    p3 = connected(b, "full-pub-v311", V311)
    p3.send(R.publish("full/t", b"v311", 1, pid=1, version=V311))
    assert all(p.type != R.PUBACK for p in p3.expect_closed(5))

    os.unlink(filler)
    t0 = time.monotonic()
    code = None
    while time.monotonic() - t0 < RECOVERY_BOUND:
        code = publish_one()
        if code == 0:
            break
        assert code == 0x97, "PUBACK %#x while recovering" % code
        time.sleep(0.2)
    recovered = time.monotonic() - t0
    assert code == 0, "still refused %.0f s after space was freed:\n%s" % (
        recovered, b.read_log()[-3000:])
    assert "writable again" in b.read_log()
    print("disk full: filler %d bytes; first 0x97 after %d more messages; accepted again "
          "%.2f s after the filler was deleted" % (filled, refused_at, recovered))
    for _ in range(20):
        assert publish_one() == 0

    # Nothing acknowledged is lost, before or after the full disk: a restart, then the
    # persistent subscriber drains.
    pub.disconnect()
    assert b.stop() == 0, b.read_log()[-3000:]
    b.start()
    sub = connect_persistent(b, "full-sub", expect_present=True)
    want = set(acked)
    got = consume(sub, lambda g: want <= {p.payload[:6] for p in g}, timeout=60)
    assert len(got) == len(acked), (len(got), len(acked))
    assert b.stop() == 0, b.read_log()[-3000:]


def test_disk_full_message_answered_0x97_is_not_delivered(make_broker, small_disk):
    """An online persistent subscriber and a publisher with one message in flight at a
    time: once the disk is full, no message answered 0x97 reaches the subscriber."""
    mnt, brokers = small_disk
    b = make_broker(env=dict(DURABLE_ENV, EMQX_NODE__DATA_DIR=str(mnt / "data"),
                             EMQX_DURABLE_STORAGE__ROCKSDB__WRITE_BUFFER_SIZE="1MB"))
    brokers.append(b)
    sub = connect_persistent(b, "full-online-sub")
    assert sub.subscribe([("full/#", 1)]) == [1]
    pub = connected(b, "full-online-pub", V5)
    fill(str(mnt / "filler"))
    refused = set()
    for i in range(3000):
        payload = b"%06d" % i + b"x" * (PAYLOAD - 6)
        code = pub.publish("full/t", payload, qos=1, pid=i % 65535 + 1).code
        assert code in (0, 0x97), hex(code)
        if code == 0x97:
            refused.add(payload[:6])
            if len(refused) >= 5:
                break
    assert refused, "never refused"
    got = consume(sub, lambda g: False, timeout=2, settle=0, must=False)
    delivered_refused = sorted(p.payload[:6] for p in got if p.payload[:6] in refused)
    assert delivered_refused == [], "answered 0x97 yet delivered: %r" % delivered_refused
