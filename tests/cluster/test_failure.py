"""A node dies (SIGKILL): the others confirm it down and purge its routes within the SWIM
timeouts and keep delivering among themselves; restarted with the same name it rejoins,
and its persistent sessions' routes come back. Also leave and force-leave.

Timings here (env below): probe 200 ms, probe timeout 100 ms, suspicion x3 (x max(1,
log10 n)) = 600 ms: a crashed node is declared down within about 2 s by the node that
probes it, and by all within a few gossip rounds more. The bound checked is 10 s."""
import time

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

DOWN_WITHIN = 10.0


def expiry(seconds):
    p = Properties(PacketTypes.CONNECT)
    p.SessionExpiryInterval = seconds
    return p


def test_a_killed_node_is_confirmed_down_its_routes_purged_and_the_rest_keeps_delivering(cluster):
    c = cluster(3)
    s3 = c.client(3, "doomed-sub")
    s3.subscribe("k/#", qos=1)
    s2 = c.client(2, "survivor-sub")
    s2.subscribe("k/#", qos=1)
    c.wait_routed("k/#", on=[1, 2], via=3)
    c.wait_routed("k/#", on=[1, 3], via=2)
    t0 = time.monotonic()
    c.node(3).kill()
    c.wait_members(alive=[1, 2], dead=[3], on=[1, 2], timeout=DOWN_WITHIN)
    c.wait_routed("k/#", on=[1, 2], via=3, present=False, timeout=DOWN_WITHIN)
    took = time.monotonic() - t0
    pub = c.client(1, "k-pub")
    for k in range(10):
        pub.publish("k/x", b"%d" % k, qos=1)
    s2.expect(10, timeout=5)
    assert took < DOWN_WITHIN
    # Back with the same name (and data dir): it rejoins and is alive everywhere again.
    c.node(3).start()
    c.wait_members(alive=[1, 2, 3], timeout=20)
    s3b = c.client(3, "back-sub")
    s3b.subscribe("k/#", qos=1)
    c.wait_routed("k/#", on=[1, 2], via=3)
    pub.publish("k/y", b"again", qos=1)
    s3b.expect_messages([("k/y", b"again")], timeout=5)


def test_a_restarted_node_brings_back_the_routes_of_its_persistent_sessions(cluster):
    c = cluster(2)
    s = c.client(2, "durable-2", version=5, clean=False, properties=expiry(3600))
    s.subscribe("dur/#", qos=1)
    s.disconnect()
    c.wait_routed("dur/#", on=[1], via=2)
    c.node(2).kill()
    c.wait_routed("dur/#", on=[1], via=2, present=False, timeout=DOWN_WITHIN)
    c.node(2).start()
    c.wait_members(alive=[1, 2], timeout=20)
    c.wait_routed("dur/#", on=[1], via=2, timeout=10)
    c.client(1, "dur-pub").publish("dur/x", b"kept", qos=1)
    time.sleep(0.3)
    back = c.client(2, "durable-2", version=5, clean=False, properties=expiry(3600))
    back.expect_messages([("dur/x", b"kept")], timeout=5)


def test_leave_and_rejoin_with_the_cli(cluster):
    c = cluster(3)
    rc, out = c.cli(3, "leave")
    assert rc == 0, out
    c.wait_members(alive=[1, 2], absent=[3], on=[1, 2], timeout=10)
    st = c.status(3)
    assert [m["node"] for m in st["members"]] == [c.node(3).name], st
    rc, out = c.cli(3, "join", c.node(2).address)
    assert rc == 0, out
    c.wait_members(alive=[1, 2, 3], timeout=15)


def test_force_leave_removes_a_dead_node_everywhere(cluster):
    c = cluster(3)
    c.node(3).kill()
    c.wait_members(alive=[1, 2], dead=[3], on=[1, 2], timeout=DOWN_WITHIN)
    rc, out = c.cli(1, "force-leave", c.node(3).name)
    assert rc == 0, out
    c.wait_members(alive=[1, 2], absent=[3], on=[1, 2], timeout=10)
    rc, out = c.cli(1, "force-leave", "nobody@127.0.0.1")
    assert rc == 1 and "unknown node" in out, (rc, out)
