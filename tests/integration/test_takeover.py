"""Takeover of a live connection by a second one with the same client id, when the first
connection's session would not outlive it (MQTT 5 Session Expiry 0, MQTT 3.1.1
CleanSession=1): the old session ends with the old connection, so the new connection,
even with Clean Start 0, gets a new session (Session Present 0) without the old
subscriptions [MQTT-3.1.2-4..6], [MQTT-3.2.2-2], [MQTT-3.1.4-3]."""
import pytest

from mqttc import Client, V311, V5, props, CONNECT


@pytest.mark.parametrize("version", [V311, V5])
def test_takeover_of_a_session_that_ends_with_its_connection(make_broker, version):
    b = make_broker()
    # Several ids so that both workers hold some of the old connections.
    for i in range(6):
        cid = "ephemeral-%d-%d" % (version, i)
        old = Client(b, cid, version, clean=True)
        assert old.subscribe("eph/%d" % i, qos=1)
        new = Client(b, cid, version, clean=False,
                     properties=props(CONNECT, SessionExpiryInterval=60) if version == V5 else None)
        flags, rc, _ = new.connack
        assert rc == 0
        assert flags["session present"] == 0
        assert old.disconnected.wait(5)
        # The old subscription went with the old session.
        pub = Client(b, "pub-%d-%d" % (version, i), version)
        pub.publish("eph/%d" % i, b"x", qos=1)
        assert new.expect_no_more(0)
        pub.disconnect()
        new.disconnect()


@pytest.mark.parametrize("version", [V311, V5])
def test_takeover_of_a_persistent_session_keeps_it(make_broker, version):
    b = make_broker()
    for i in range(6):
        cid = "durable-%d-%d" % (version, i)
        p = props(CONNECT, SessionExpiryInterval=60) if version == V5 else None
        old = Client(b, cid, version, clean=False, properties=p)
        assert old.subscribe("dur/%d" % i, qos=1)
        new = Client(b, cid, version, clean=False, properties=p)
        flags, rc, _ = new.connack
        assert rc == 0 and flags["session present"] == 1
        pub = Client(b, "pubd-%d-%d" % (version, i), version)
        pub.publish("dur/%d" % i, b"y", qos=1)
        got = new.wait_messages(1)
        assert [(m.topic, m.payload) for m in got] == [("dur/%d" % i, b"y")]
        pub.disconnect()
        new.disconnect()
