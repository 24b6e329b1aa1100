"""mqtt.retry_interval: an MQTT 3.1.1 client that does not acknowledge a QoS 1 or 2
message gets it again, same packet id, DUP set, after the interval (EMQX's behaviour;
3.1.1 allows it). MQTT 5 forbids resending on a live connection [MQTT-4.4.0-1]: a v5
client gets each message once, whatever the interval."""
import time

import pytest

from rawmqtt import connected, V311, V5


def test_v311_unacked_messages_are_resent_with_dup_after_retry_interval(make_broker):
    b = make_broker(env={"EMQX_MQTT__RETRY_INTERVAL": "1s"})
    sub = connected(b, "retry-sub", V311)
    assert sub.subscribe([("r/#", 2)]) == [2]
    pub = connected(b, "retry-pub", V311)
    pub.publish("r/1", b"one", qos=1, pid=1)
    pub.publish("r/2", b"two", qos=2, pid=2)
    first = sub.recv_publishes(2)
    assert [(p.topic, p.payload, p.dup) for p in first] == [("r/1", b"one", False),
                                                          ("r/2", b"two", False)]
    started = time.monotonic()
    again = sub.recv_publishes(2, timeout=5)
    waited = time.monotonic() - started
    assert [(p.topic, p.pid, p.dup) for p in again] == [("r/1", first[0].pid, True),
                                                       ("r/2", first[1].pid, True)]
    assert 0.7 <= waited <= 3.0, waited


def test_v5_never_resends_on_a_live_connection_MQTT_4_4_0_1(make_broker):
    b = make_broker(env={"EMQX_MQTT__RETRY_INTERVAL": "1s"})
    sub = connected(b, "noretry-sub", V5)
    assert [getattr(c, "value", c) for c in sub.subscribe([("r/#", 1)])] == [1]
    pub = connected(b, "noretry-pub", V5)
    pub.publish("r/1", b"one", qos=1, pid=1)
    assert len(sub.recv_publishes(1)) == 1
    assert sub.recv_all(settle=2.5) == []
