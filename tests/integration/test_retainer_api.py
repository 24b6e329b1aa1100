"""EMQX's retained-message API (/api/v5/mqtt/retainer..., server/api/retainer_api.hpp) and
`emqxd ctl retainer`, with real MQTT clients: what is listed is what a new subscriber
gets, and a delete clears the message without delivering anything to anyone."""
import base64
import json

import rawmqtt as R
from conftest import wait_for
from rawmqtt import connected, V5
from test_api import call, get_json, assert_error
from test_ctl import ctl


def user_topics(doc):
    return [m["topic"] for m in doc["data"] if not m["topic"].startswith("$SYS")]


def retain(broker, pub, topic, payload, qos=1):
    pub.publish(topic, payload, qos=qos, retain=True, pid=1 if qos else None)


def test_retained_messages_are_listed_read_paged_and_filtered(broker):
    pub = connected(broker, "ret-pub", V5)
    for i in range(5):
        retain(broker, pub, "ret/%d" % i, b"v%d" % i)
    retain(broker, pub, "other/x", b"\x00\xffbin")
    doc = get_json(broker, "/api/v5/mqtt/retainer/messages?topic=ret/%23&limit=2&page=2")
    assert [m["topic"] for m in doc["data"]] == ["ret/2", "ret/3"]
    assert doc["meta"] == {"page": 2, "limit": 2, "count": 5, "hasnext": True}
    m = doc["data"][0]
    assert m["qos"] == 1 and "payload" not in m and m["publish_at"].endswith("+00:00")
    everything = get_json(broker, "/api/v5/mqtt/retainer/messages")
    assert user_topics(everything) == ["other/x"] + ["ret/%d" % i for i in range(5)]
    one = get_json(broker, "/api/v5/mqtt/retainer/message/other%2Fx")
    assert base64.b64decode(one["payload"]) == b"\x00\xffbin" and one["topic"] == "other/x"
    assert_error(*call(broker, "GET", "/api/v5/mqtt/retainer/message/none%2Fhere"),
                 404, "NOT_FOUND")
    assert_error(*call(broker, "GET", "/api/v5/mqtt/retainer/messages?topic=a/%23/b"),
                 400, "BAD_TOPIC")
    conf = get_json(broker, "/api/v5/mqtt/retainer")
    assert conf["enable"] is True and conf["backend"]["type"] == "built_in_database"


def test_a_delete_clears_without_delivering(broker):
    pub = connected(broker, "del-pub", V5)
    retain(broker, pub, "del/a", b"keep-me-not")
    retain(broker, pub, "del/b", b"stays")
    watcher = connected(broker, "del-watch", V5)
    watcher.subscribe([("del/#", R.sub_options(qos=1))])
    got = sorted(p.payload for p in watcher.recv_publishes(2))
    assert got == [b"keep-me-not", b"stays"]
    status, h, body = call(broker, "DELETE", "/api/v5/mqtt/retainer/message/del%2Fa")
    assert status == 204, body
    # Nothing is delivered to the live subscriber (an empty retained PUBLISH would be).
    assert [p for p in watcher.recv_all(0.5) if p.type == R.PUBLISH] == []
    late = connected(broker, "del-late", V5)
    late.subscribe([("del/#", R.sub_options(qos=1))])
    assert [p.payload for p in late.recv_publishes(1)] == [b"stays"]
    assert [p for p in late.recv_all(0.3) if p.type == R.PUBLISH] == []
    assert_error(*call(broker, "DELETE", "/api/v5/mqtt/retainer/message/del%2Fa"),
                 404, "NOT_FOUND")
    # Without credentials nothing is deleted.
    status, h, body = call(broker, "DELETE", "/api/v5/mqtt/retainer/message/del%2Fb",
                           auth=None, headers={})
    assert status == 401


def test_a_delete_survives_a_restart(make_broker):
    b = make_broker()
    pub = connected(b, "dur-pub", V5)
    retain(b, pub, "dur/a", b"x")
    retain(b, pub, "dur/b", b"y")
    assert call(b, "DELETE", "/api/v5/mqtt/retainer/message/dur%2Fa")[0] == 204
    b.stop()
    b.start()
    assert user_topics(get_json(b, "/api/v5/mqtt/retainer/messages")) == ["dur/b"]


def test_ctl_retainer_info_topics_clean(broker):
    pub = connected(broker, "ctl-ret", V5)
    for t in ["c/1", "c/2", "d/1"]:
        retain(broker, pub, t, b"p")
    r = ctl(broker, "retainer", "topics")
    assert r.returncode == 0, r.stderr
    assert [t for t in r.stdout.split() if not t.startswith("$SYS")] == ["c/1", "c/2", "d/1"]
    r = ctl(broker, "retainer", "info")
    assert r.returncode == 0 and r.stdout.startswith("Number of retained messages: "), r.stdout
    before = int(r.stdout.split(": ")[1])
    assert before >= 3
    r = ctl(broker, "retainer", "clean", "c/#")
    assert r.returncode == 0 and r.stdout == "Cleared 2 retained messages\n", (r.stdout, r.stderr)
    assert int(ctl(broker, "retainer", "info").stdout.split(": ")[1]) == before - 2
    assert json.loads(ctl(broker, "--json", "retainer", "clean").stdout)["cleared"] == before - 2
    assert "Number of retained messages: 0" in ctl(broker, "retainer", "info").stdout
    assert ctl(broker, "retainer", "clean", "bad/#/x").returncode == 1
