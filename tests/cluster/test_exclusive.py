"""Exclusive subscriptions across a cluster (server/session/exclusive.hpp,
cluster/cluster_exclusive.cpp): one client holds "$exclusive/<filter>" cluster-wide, the
filter's home deciding; an unsubscribe frees it for clients on other nodes; a holder's
node that dies frees its claims; a session taken over to another node keeps them."""
import rawmqtt as R
from cluster_support import poll

ON = {"EMQX_MQTT__EXCLUSIVE_SUBSCRIPTION": "true"}
QUOTA_EXCEEDED = 0x97
FILTERS = ["$exclusive/cx/%d" % i for i in range(8)]  # homes spread over the members


def connect(node, cid, **kw):
    c = R.RawClient(node)
    c.connect(cid, **kw)
    return c


class Subscriber:
    """A client that tries its SUBSCRIBEs with fresh packet ids."""

    def __init__(self, client):
        self.c = client
        self.pid = 0

    def codes(self, filters):
        self.pid += 1
        return self.c.subscribe([(f, R.sub_options(qos=1)) for f in filters], pid=self.pid)

    def until(self, filters, want, timeout=10.0):
        ok, seen, _, _ = poll(lambda: (lambda got: (got == want, got))(self.codes(filters)),
                              timeout, 0.2)
        assert ok, seen


def test_one_holder_cluster_wide_and_release_on_unsubscribe(cluster):
    c = cluster(3, env=ON)
    a = Subscriber(connect(c.node(1), "cx-a"))
    assert a.codes(FILTERS) == [1] * 8
    b = Subscriber(connect(c.node(2), "cx-b"))
    d = Subscriber(connect(c.node(3), "cx-d"))
    assert b.codes(FILTERS) == [QUOTA_EXCEEDED] * 8
    assert d.codes(FILTERS) == [QUOTA_EXCEEDED] * 8
    # The holder subscribes again through the home, granted.
    assert a.codes(FILTERS[:2]) == [1, 1]
    # A plain subscription on another node is anyone's, and both receive.
    assert b.codes(["cx/0"]) == [1]
    c.wait_routed("cx/0", on=[3], via=[1, 2])
    pub = connect(c.node(3), "cx-pub")
    pub.publish("cx/0", b"m", qos=1, pid=1)
    assert a.c.wait_for(R.PUBLISH).payload == b"m"
    assert b.c.wait_for(R.PUBLISH).payload == b"m"
    # Unsubscribed (both forms) on node 1: free for a client on node 2.
    assert a.c.unsubscribe(FILTERS[:2] + ["cx/2", "cx/3"], pid=100) == [0] * 4
    b.until(FILTERS[:4], [1] * 4)
    assert d.codes(FILTERS) == [QUOTA_EXCEEDED] * 8
    # The clean session of b ends with its connection: its claims go.
    b.c.close()
    d.until(FILTERS[:4], [1] * 4)


def test_a_dead_holders_claims_go_to_the_next_client(cluster):
    c = cluster(3, env=ON)
    a = Subscriber(connect(c.node(1), "cx-dead", clean=False,
                           props={"session_expiry_interval": 300}))
    assert a.codes(FILTERS) == [1] * 8
    d = Subscriber(connect(c.node(3), "cx-next"))
    assert d.codes(FILTERS) == [QUOTA_EXCEEDED] * 8
    c.node(1).kill()
    c.wait_members(alive=[2, 3], dead=[1])
    d.until(FILTERS, [1] * 8, timeout=15)
    b = Subscriber(connect(c.node(2), "cx-late"))
    assert b.codes(FILTERS) == [QUOTA_EXCEEDED] * 8


def test_a_session_taken_over_to_another_node_keeps_its_claims(cluster):
    c = cluster(3, env=ON)
    kw = {"clean": False, "props": {"session_expiry_interval": 300}}
    first = Subscriber(connect(c.node(2), "cx-move", **kw))
    assert first.codes(FILTERS) == [1] * 8
    moved = R.RawClient(c.node(3))
    assert moved.connect("cx-move", **kw).session_present is True
    first.c.expect_closed()
    other = Subscriber(connect(c.node(1), "cx-other"))
    assert other.codes(FILTERS) == [QUOTA_EXCEEDED] * 8
    # Released where the session now lives.
    assert moved.unsubscribe(["cx/%d" % i for i in range(8)], pid=7) == [0] * 8
    other.until(FILTERS, [1] * 8)
