"""Replicated tables across real nodes (tables/replicated_tables.hpp): a user added to the
built-in database through one node's API lets its client in on every node, a change or a
removal on another node holds everywhere, and a node that joins later, or was down while
the change was made, catches up from its peers' copies."""
import pytest

import cluster_support as cs
import rawmqtt as R
from cluster_support import poll

CHAIN = "[{mechanism = password_based, backend = built_in_database}]"
USERS = "/api/v5/authentication/password_based%3Abuilt_in_database/users"


def connack(c, i, client_id, username, password):
    """The CONNACK reason code a v5 client gets from node i with these credentials."""
    cl = cs.Client(c.node(i), client_id, version=5, username=username, password=password,
                   connect=False)
    c.clients.append(cl)
    rc = cl.connect()[1]
    cl.disconnect()
    return rc.value if hasattr(rc, "value") else int(rc)


def everywhere(c, nodes, username, password, want, timeout=10.0):
    for i in nodes:
        def check():
            rc = connack(c, i, "probe-%d" % i, username, password)
            return rc == want, rc
        done, seen, _, _ = poll(check, timeout, 0.2)
        assert done, "n%d: %s/%s gets %#x, not %#x" % (i, username, password, seen, want)


def test_users_reach_every_node_and_late_nodes_catch_up(cluster):
    c = cluster(3, env={"EMQX_AUTHENTICATION": CHAIN})
    c.node(1).api("POST", USERS, {"user_id": "alice", "password": "pw-1"}, expect=201)
    everywhere(c, [1, 2, 3], "alice", "pw-1", 0)
    # Changed through another node: the new password everywhere, the old one nowhere.
    c.node(2).api("PUT", USERS + "/alice", {"password": "pw-2"})
    everywhere(c, [1, 2, 3], "alice", "pw-2", 0)
    everywhere(c, [1, 2, 3], "alice", "pw-1", 0x86)
    # n3 is down while bob is added and alice removed; it learns both when it is back.
    c.node(3).stop()
    c.node(1).api("POST", USERS, {"user_id": "bob", "password": "pw-b"}, expect=201)
    c.node(2).api("DELETE", USERS + "/alice", expect=204)
    c.node(3).start()
    c.wait_members(alive=[1, 2, 3])
    everywhere(c, [3], "bob", "pw-b", 0)
    everywhere(c, [3], "alice", "pw-2", 0x87)
    # A node that was never there gets the whole table from its first link.
    c.add_node()
    c.wait_members(alive=[1, 2, 3, 4])
    everywhere(c, [4], "bob", "pw-b", 0)
    assert c.node(4).api("GET", USERS)["meta"]["count"] == 1


def test_a_ban_on_one_node_holds_on_every_node_and_kicks_there(cluster):
    c = cluster(3)
    victim = R.RawClient(c.node(2))
    victim.connect("victim")
    c.node(1).api("POST", "/api/v5/banned", {"as": "clientid", "who": "victim"})
    assert victim.expect(R.DISCONNECT, timeout=10).code == 0x8A  # kicked on n2
    for i in (1, 2, 3):
        assert poll(lambda: (connack(c, i, "victim", None, None) == 0x8A, None), 10, 0.2)[0]
    c.node(3).api("DELETE", "/api/v5/banned/clientid/victim", expect=204)
    for i in (1, 2, 3):
        assert poll(lambda: (connack(c, i, "victim", None, None) == 0, None), 10, 0.2)[0]
