"""Delayed publish (EMQX's $delayed/<seconds>/<topic>, server/session/delayed.hpp) through a
real emqxd: the message reaches subscribers of <topic> after the delay and not before, as
its publisher; the API lists, reads and deletes what is kept (a deleted one never fires);
max_delayed_messages and bad intervals are handled as EMQX does; a durable node keeps its
delayed messages across a restart and a crash."""
import base64
import json
import signal
import time

import rawmqtt as R
from conftest import wait_for
from durable_support import connect_persistent
from rawmqtt import connected, V311, V5
from test_api import assert_error, call, get_json

NO_MATCHING_SUBSCRIBERS = 0x10


def listed(broker, path="/api/v5/mqtt/delayed/messages"):
    return get_json(broker, path)


def publishes(c, settle):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


def test_the_message_arrives_after_the_delay_and_not_before(broker):
    sub = connected(broker, "dl-sub", V5)
    sub.subscribe([("dl/a", R.sub_options(qos=1))])
    pub = connected(broker, "dl-pub", V5, username="alice")
    t0 = time.monotonic()
    ack = pub.publish("$delayed/2/dl/a", b"later", qos=1, pid=7,
                      props={"user_property": [("k", "v")]})
    # EMQX: nothing is published now, so nobody matched it.
    assert ack.code == NO_MATCHING_SUBSCRIBERS
    assert publishes(sub, 1.5) == []
    p = sub.wait_for(R.PUBLISH, timeout=5)
    elapsed = time.monotonic() - t0
    assert 1.9 <= elapsed < 4.5, elapsed
    assert p.topic == "dl/a" and p.payload == b"later" and p.qos == 1
    assert ("k", "v") in p.props.get("user_property", [])
    assert listed(broker)["data"] == []
    metrics = get_json(broker, "/api/v5/metrics")[0]
    assert metrics["messages.delayed"] == 1


def test_mqtt_311_publisher_and_no_local_as_the_publisher(broker):
    # The publisher keeps its identity: its own No Local subscription does not get it.
    pub = connected(broker, "dl-self", V5)
    pub.subscribe([("dl/self", R.sub_options(qos=1, no_local=True))])
    other = connected(broker, "dl-other", V311)
    other.subscribe([("dl/self", 1)])
    pub.publish("$delayed/1/dl/self", b"mine", qos=1, pid=2)
    assert other.wait_for(R.PUBLISH, timeout=4).payload == b"mine"
    assert publishes(pub, 0.5) == []


def test_list_get_and_delete_through_the_api(broker):
    sub = connected(broker, "api-sub", V5)
    sub.subscribe([("dq/#", R.sub_options(qos=1))])
    pub = connected(broker, "api-pub", V5, username="bob")
    pub.publish("$delayed/2/dq/keep", b"k", qos=1, pid=1)
    pub.publish("$delayed/2/dq/gone", b"\x00\xffg", qos=1, pid=2)
    pub.publish("$delayed/60/dq/late", b"l", qos=0)
    doc = listed(broker)
    assert doc["meta"] == {"page": 1, "limit": 100, "count": 3, "hasnext": False}
    assert [m["topic"] for m in doc["data"]] == ["dq/keep", "dq/gone", "dq/late"] or \
        [m["topic"] for m in doc["data"]] == ["dq/gone", "dq/keep", "dq/late"]
    m = {x["topic"]: x for x in doc["data"]}["dq/gone"]
    assert m["node"] == "emqx@127.0.0.1" and m["from_clientid"] == "api-pub"
    assert m["from_username"] == "bob" and m["qos"] == 1 and m["delayed_interval"] == 2
    assert 0 <= m["delayed_remaining"] <= 2 and "payload" not in m
    assert m["publish_at"].endswith("+00:00") and m["expected_at"].endswith("+00:00")
    assert len(m["msgid"]) == 32
    page = listed(broker, "/api/v5/mqtt/delayed/messages?page=2&limit=2")
    assert page["meta"] == {"page": 2, "limit": 2, "count": 3, "hasnext": False}
    assert [x["topic"] for x in page["data"]] == ["dq/late"]
    one = get_json(broker, "/api/v5/mqtt/delayed/messages/emqx@127.0.0.1/" + m["msgid"])
    assert base64.b64decode(one["payload"]) == b"\x00\xffg" and one["topic"] == "dq/gone"
    status, _, body = call(broker, "DELETE",
                           "/api/v5/mqtt/delayed/messages/emqx@127.0.0.1/" + m["msgid"])
    assert status == 204, body
    assert_error(*call(broker, "GET", "/api/v5/mqtt/delayed/messages/emqx@127.0.0.1/"
                       + m["msgid"]), 404, "MESSAGE_ID_NOT_FOUND")
    assert_error(*call(broker, "DELETE", "/api/v5/mqtt/delayed/messages/emqx@127.0.0.1/"
                       + m["msgid"]), 404, "MESSAGE_ID_NOT_FOUND")
    assert_error(*call(broker, "GET", "/api/v5/mqtt/delayed/messages/nobody@nowhere/" +
                       m["msgid"]), 400, "INVALID_NODE")
    assert_error(*call(broker, "GET", "/api/v5/mqtt/delayed/messages/emqx@127.0.0.1/xyz"),
                 400, "MESSAGE_ID_SCHEMA_ERROR")
    # Delete by topic (EMQX's DELETE /mqtt/delayed/messages/{topic}).
    assert call(broker, "DELETE", "/api/v5/mqtt/delayed/messages/dq%2Flate")[0] == 204
    assert_error(*call(broker, "DELETE", "/api/v5/mqtt/delayed/messages/dq%2Flate"),
                 404, "MESSAGE_NOT_FOUND")
    assert_error(*call(broker, "DELETE", "/api/v5/mqtt/delayed/messages/dq%2F%2B"),
                 400, "INVALID_TOPIC_NAME")
    # Only the one kept fires.
    got = sub.wait_for(R.PUBLISH, timeout=5)
    assert got.topic == "dq/keep"
    assert publishes(sub, 1.0) == []
    assert listed(broker)["meta"]["count"] == 0


def test_max_delayed_messages_and_settings_at_run_time(make_broker):
    b = make_broker(env={"EMQX_DELAYED__MAX_DELAYED_MESSAGES": "2"})
    assert get_json(b, "/api/v5/mqtt/delayed") == {"enable": True, "max_delayed_messages": 2}
    pub = connected(b, "max-pub", V5)
    for i in range(3):
        ack = pub.publish("$delayed/60/mx/%d" % i, b"x", qos=1, pid=i + 1)
        assert ack.code == NO_MATCHING_SUBSCRIBERS  # the third is dropped, as EMQX does
    assert [m["topic"] for m in listed(b)["data"]] == ["mx/0", "mx/1"]
    status, _, body = call(b, "PUT", "/api/v5/mqtt/delayed", {"max_delayed_messages": 3})
    assert status == 200, body
    assert json.loads(body) == {"enable": True, "max_delayed_messages": 3}
    pub.publish("$delayed/60/mx/3", b"x", qos=1, pid=9)
    assert listed(b)["meta"]["count"] == 3
    assert_error(*call(b, "PUT", "/api/v5/mqtt/delayed", {"max_delayed_messages": -1}),
                 400, "BAD_REQUEST")
    stats = get_json(b, "/api/v5/stats")[0]
    assert stats["delayed.count"] == 3 and stats["delayed.max"] == 3
    # Disabled: every kept message is dropped (EMQX), and $delayed/... is a plain topic.
    assert call(b, "PUT", "/api/v5/mqtt/delayed", {"enable": False})[0] == 200
    assert listed(b)["meta"]["count"] == 0
    raw = connected(b, "raw-sub", V5)
    raw.subscribe([("$delayed/60/mx/plain", R.sub_options(qos=1))])
    assert pub.publish("$delayed/60/mx/plain", b"now", qos=1, pid=11).code == 0
    assert raw.wait_for(R.PUBLISH, timeout=2).payload == b"now"
    assert call(b, "PUT", "/api/v5/mqtt/delayed", {"enable": True})[0] == 200
    assert pub.publish("$delayed/60/mx/4", b"x", qos=1, pid=12).code == NO_MATCHING_SUBSCRIBERS
    assert listed(b)["meta"]["count"] == 1


def test_bad_intervals_are_dropped(broker):
    watcher = connected(broker, "bad-watch", V5)
    watcher.subscribe([("bad/#", R.sub_options(qos=1)), ("$delayed/#", R.sub_options(qos=1))])
    pub = connected(broker, "bad-pub", V5)
    far = int(time.time()) + 4294967 + 100  # a Unix time too far away
    for i, topic in enumerate(["$delayed/abc/bad/a", "$delayed/5", "$delayed/5/",
                               "$delayed//bad/b", "$delayed/%d/bad/c" % far,
                               "$delayed/1.5/bad/d"]):
        ack = pub.publish(topic, b"x", qos=1, pid=i + 1)
        assert ack.code == NO_MATCHING_SUBSCRIBERS, topic
    assert listed(broker)["meta"]["count"] == 0
    # A Unix time within reach is a time (fires then), a negative delay fires at once.
    pub.publish("$delayed/%d/bad/at" % (int(time.time()) + 2), b"at", qos=1, pid=20)
    pub.publish("$delayed/-5/bad/now", b"now", qos=1, pid=21)
    assert watcher.wait_for(R.PUBLISH, timeout=2).payload == b"now"
    assert watcher.wait_for(R.PUBLISH, timeout=5).payload == b"at"
    assert publishes(watcher, 0.5) == []


def test_retained_and_qos2_delayed(broker):
    pub = connected(broker, "ret-pub", V5)
    rec = pub.publish("$delayed/1/dr/t", b"kept", qos=2, retain=True, pid=3)
    assert rec.code == NO_MATCHING_SUBSCRIBERS
    # Not retained under either topic until it fires; then under its real topic.
    assert get_json(broker, "/api/v5/mqtt/retainer/messages?topic=dr/%23")["data"] == []
    assert wait_for(lambda: get_json(
        broker, "/api/v5/mqtt/retainer/messages?topic=dr/%23")["data"], 4.0)
    late = connected(broker, "ret-late", V5)
    late.subscribe([("dr/#", R.sub_options(qos=2))])
    p = late.wait_for(R.PUBLISH, timeout=2)
    assert p.payload == b"kept" and p.retain and p.qos == 2


def test_delayed_messages_survive_a_crash_and_fire_after_it(make_broker):
    b = make_broker()
    sub = connect_persistent(b, "dur-sub")
    sub.subscribe([("dd/#", R.sub_options(qos=1))])
    sub.close()
    pub = connected(b, "dur-pub", V5)
    pub.publish("$delayed/2/dd/soon", b"soon", qos=1, pid=1)
    pub.publish("$delayed/40/dd/later", b"later", qos=1, pid=2)
    pub.publish("$delayed/40/dd/deleted", b"deleted", qos=1, pid=3)
    assert b.stop(signal.SIGKILL) == -signal.SIGKILL
    time.sleep(2.5)  # dd/soon is late when the node comes back
    b.start()
    sub = connect_persistent(b, "dur-sub", expect_present=True)
    p = sub.wait_for(R.PUBLISH, timeout=5)
    assert p.topic == "dd/soon" and p.payload == b"soon"
    sub.send(R.puback(p.pid))
    doc = listed(b)
    assert [m["topic"] for m in doc["data"]] == ["dd/later", "dd/deleted"] or \
        [m["topic"] for m in doc["data"]] == ["dd/deleted", "dd/later"], doc
    assert 30 <= doc["data"][0]["delayed_remaining"] <= 40
    assert "3 delayed messages read back" in b.read_log()
    gone = {m["topic"]: m for m in doc["data"]}["dd/deleted"]["msgid"]
    assert call(b, "DELETE", "/api/v5/mqtt/delayed/messages/emqx@127.0.0.1/" + gone)[0] == 204
    sub.close()
    # A clean restart too: what fired is not fired again, what was deleted stays deleted.
    assert b.stop() == 0
    b.start()
    sub = connect_persistent(b, "dur-sub", expect_present=True)
    assert publishes(sub, 0.5) == []
    assert [m["topic"] for m in listed(b)["data"]] == ["dd/later"]
