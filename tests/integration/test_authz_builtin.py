"""The built-in database authorization source (EMQX's `type = built_in_database`;
auth/authz_builtin.hpp): rules per client id, per username and for all, added, changed
and removed through EMQX's /api/v5/authorization/sources/built_in_database/rules paths,
and what real clients (raw MQTT 5 and paho 3.1.1) may then publish and subscribe to.
Rules survive a restart; a bad rule is refused and changes nothing."""
import json

import pytest

import rawmqtt as R
from test_api import assert_error, call, get_json

BASE = "/api/v5/authorization/sources/built_in_database/rules"
CONF = ("authorization { no_match = deny, cache { enable = false },"
        " sources = [{type = built_in_database, max_rules = 3}] }\n")


def allow(topic, action="all", **kw):
    r = {"topic": topic, "permission": "allow", "action": action}
    r.update(kw)
    return r


def deny(topic, action="all"):
    return {"topic": topic, "permission": "deny", "action": action}


def ok(status_headers_body, want=204):
    status, _, body = status_headers_body
    assert status == want, (status, body)
    return json.loads(body) if body else None


def may_subscribe(b, topic, client_id="c", username=None):
    c = R.RawClient(b)
    c.connect(client_id, username=username)
    code = c.subscribe([(topic, R.sub_options(0))])[0]
    c.close()
    return code == 0


def test_rules_by_username_clientid_and_all_decide_in_that_order(make_broker):
    b = make_broker(config_text=CONF)
    assert not may_subscribe(b, "a/1", username="alice")  # no rules: no_match = deny
    ok(call(b, "POST", BASE + "/users",
            body=[{"username": "alice", "rules": [allow("a/#"), deny("shared/#")]}]))
    ok(call(b, "POST", BASE + "/clients",
            body=[{"clientid": "dev-1", "rules": [allow("shared/dev")]}]))
    ok(call(b, "POST", BASE + "/all", body={"rules": [allow("shared/#", "subscribe")]}))
    assert may_subscribe(b, "a/1", username="alice")
    assert not may_subscribe(b, "a/1", username="bob")
    assert may_subscribe(b, "shared/x", username="bob")           # the rules for all
    assert not may_subscribe(b, "shared/x", username="alice")     # her deny comes first
    # The client id's rules come before the username's.
    assert may_subscribe(b, "shared/dev", client_id="dev-1", username="alice")
    # 3.1.1: a denied subscription is 0x80.
    c = R.RawClient(b, version=R.V311)
    c.connect("v3", username="bob")
    assert c.subscribe([("a/1", 0), ("shared/x", 0)]) == [0x80, 0]


def test_publish_rules_with_qos_and_retain(make_broker):
    b = make_broker(config_text=CONF)
    ok(call(b, "POST", BASE + "/users", body=[{"username": "p", "rules": [
        allow("t/q", "publish", qos=[0], retain=False)]}]))
    sub = R.RawClient(b)
    ok(call(b, "POST", BASE + "/clients", body=[{"clientid": "sub", "rules": [allow("t/#", "subscribe")]}]))
    sub.connect("sub")
    sub.subscribe([("t/#", R.sub_options(1))])
    pub = R.RawClient(b)
    pub.connect("pub", username="p")
    assert pub.publish("t/q", b"qos1", qos=1, pid=1).code == 0x87  # qos [0] only
    pub.publish("t/q", b"retained", qos=0, retain=True)               # retain false only
    pub.publish("t/q", b"ok", qos=0)
    got = sub.recv_publishes(1)
    assert got[0].payload == b"ok"
    assert sub.recv_all(settle=0.3) == []


def test_list_get_change_and_remove(make_broker):
    b = make_broker(config_text=CONF)
    ok(call(b, "POST", BASE + "/users", body=[{"username": "u%d" % i, "rules": [allow("x/%d" % i)]}
                                               for i in range(4)]))
    doc = get_json(b, BASE + "/users?page=2&limit=3")
    assert doc["meta"] == {"page": 2, "limit": 3, "count": 4, "hasnext": False}
    assert doc["data"][0]["username"] == "u3"
    assert doc["data"][0]["rules"][0]["topic"] == "x/3"
    assert get_json(b, BASE + "/users?like_username=u2")["meta"]["count"] == 1
    assert get_json(b, BASE + "/users/u1")["rules"][0]["topic"] == "x/1"
    assert may_subscribe(b, "x/1", username="u1")
    ok(call(b, "PUT", BASE + "/users/u1", body={"rules": [allow("y/1")]}))
    assert not may_subscribe(b, "x/1", username="u1")
    assert may_subscribe(b, "y/1", username="u1")
    ok(call(b, "DELETE", BASE + "/users/u1"))
    assert not may_subscribe(b, "y/1", username="u1")
    assert_error(*call(b, "GET", BASE + "/users/u1"), 404, "NOT_FOUND")
    ok(call(b, "DELETE", BASE))
    assert get_json(b, BASE + "/users")["meta"]["count"] == 0
    assert get_json(b, BASE + "/all") == {"rules": []}


def test_bad_rules_are_refused_and_change_nothing(make_broker):
    b = make_broker(config_text=CONF)
    ok(call(b, "POST", BASE + "/users", body=[{"username": "u", "rules": [allow("a")]}]))
    assert_error(*call(b, "POST", BASE + "/users", body=[{"username": "u", "rules": [allow("b")]}]),
                 409, "ALREADY_EXISTS")
    for body in ([{"username": "v", "rules": [{"topic": "a", "permission": "maybe", "action": "all"}]}],
                 [{"username": "v", "rules": [allow("a", qos=[7])]}],
                 [{"username": "v", "rules": [allow("a")] * 4}],  # max_rules = 3
                 [{"rules": []}], {"username": "v"}, "nope", []):
        assert_error(*call(b, "POST", BASE + "/users", body=body), 400, "BAD_REQUEST")
    assert_error(*call(b, "PUT", BASE + "/users/u", body={"rules": "a"}), 400, "BAD_REQUEST")
    assert get_json(b, BASE + "/users")["meta"]["count"] == 1
    assert may_subscribe(b, "a", username="u")


def test_rules_survive_a_restart(make_broker):
    b = make_broker(config_text=CONF)
    ok(call(b, "POST", BASE + "/users", body=[{"username": "u", "rules": [allow("kept")]}]))
    assert b.stop() == 0
    b.start()
    assert may_subscribe(b, "kept", username="u")


def test_without_the_source_the_paths_say_so(make_broker):
    b = make_broker()
    assert_error(*call(b, "GET", BASE + "/users"), 404, "NOT_FOUND")
