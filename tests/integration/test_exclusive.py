"""Exclusive subscriptions (EMQX's mqtt.exclusive_subscription) through a real emqxd: a
client that subscribes to "$exclusive/t" subscribes to "t" and holds it; nobody else can
subscribe to "$exclusive/t" (0x97, 3.1.1: 0x80) until it unsubscribes, subscribes plainly
or its session ends. Plain subscriptions to "t" are not affected."""
import signal
import time

import rawmqtt as R
from rawmqtt import connected, V311, V5
from test_api import get_json

ON = {"EMQX_MQTT__EXCLUSIVE_SUBSCRIPTION": "true"}
QUOTA_EXCEEDED = 0x97
INVALID = 0x8F


def sub(c, topic, qos=1, pid=1):
    return c.subscribe([(topic, R.sub_options(qos=qos))], pid=pid)


def topics_of(b, cid):
    return sorted(s["topic"] for s in get_json(b, "/api/v5/clients/%s/subscriptions" % cid))


def test_off_by_default_the_prefix_is_an_invalid_filter(make_broker):
    b = make_broker()
    c5 = connected(b, "x-off5", V5)
    assert sub(c5, "$exclusive/t/1") == [INVALID]
    c3 = connected(b, "x-off3", V311)
    assert sub(c3, "$exclusive/t/1") == [0x80]
    assert topics_of(b, "x-off5") == [] and topics_of(b, "x-off3") == []


def test_one_client_holds_it_others_are_refused(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-a", V5)
    assert sub(a, "$exclusive/t/1", qos=2) == [2]
    assert topics_of(b, "x-a") == ["t/1"]  # subscribed as its filter
    other5 = connected(b, "x-b", V5)
    assert sub(other5, "$exclusive/t/1") == [QUOTA_EXCEEDED]
    other3 = connected(b, "x-c", V311)
    assert sub(other3, "$exclusive/t/1") == [0x80]
    assert topics_of(b, "x-b") == [] and topics_of(b, "x-c") == []
    # The holder may subscribe again (a new QoS); a plain subscription is anyone's.
    assert sub(a, "$exclusive/t/1", qos=1, pid=2) == [1]
    assert sub(other5, "t/1", pid=2) == [1]
    # Other filters, wildcards included, are claimed separately.
    assert sub(other5, "$exclusive/t/+", pid=3) == [1]
    assert sub(a, "$exclusive/t/+", pid=3) == [QUOTA_EXCEEDED]
    # Both the holder and the plain subscriber receive.
    pub = connected(b, "x-pub", V5)
    pub.publish("t/1", b"m", qos=1, pid=1)
    got_a = a.wait_for(R.PUBLISH)
    assert (got_a.topic, got_a.payload, got_a.qos) == ("t/1", b"m", 1)
    got_b = [p for p in other5.recv_all(0.5) if p.type == R.PUBLISH]
    assert [p.payload for p in got_b] == [b"m"]  # one copy for "t/1" and "t/+" (MQTT 5, 3.3.4)


def test_a_subscribe_with_several_filters_gets_a_code_for_each(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-m1", V5)
    assert sub(a, "$exclusive/m/1") == [1]
    c = connected(b, "x-m2", V5)
    codes = c.subscribe([("$exclusive/m/1", R.sub_options(qos=1)),
                         ("$exclusive/m/2", R.sub_options(qos=0)),
                         ("m/1", R.sub_options(qos=2)),
                         ("$exclusive/m/2", R.sub_options(qos=2))])
    # The same filter twice in one SUBSCRIBE: the last one wins [MQTT-3.8.4-3].
    assert codes == [QUOTA_EXCEEDED, 0, 2, 2]
    assert topics_of(b, "x-m2") == ["m/1", "m/2"]


def test_invalid_forms_are_refused(make_broker):
    b = make_broker(env=ON)
    c = connected(b, "x-inv", V5)
    for f in ["$exclusive/", "$exclusive/$share/g/t", "$exclusive/$queue/t", "$exclusive/a/#/b"]:
        assert sub(c, f) == [INVALID], f
    assert topics_of(b, "x-inv") == []
    # The API subscribes no client exclusively.
    from test_api import call
    status, _, _ = call(b, "POST", "/api/v5/clients/x-inv/subscribe",
                     {"topic": "$exclusive/api/t", "qos": 1})
    assert status == 400
    assert sub(connected(b, "x-inv2", V5), "$exclusive/api/t") == [1]


def test_unsubscribe_in_either_form_releases(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-u1", V5)
    c = connected(b, "x-u2", V5)
    assert sub(a, "$exclusive/u/1") == [1]
    assert sub(a, "$exclusive/u/2") == [1]
    assert a.unsubscribe(["$exclusive/u/1"]) == [0]
    assert a.unsubscribe(["u/2"], pid=2) == [0]
    assert topics_of(b, "x-u1") == []
    assert sub(c, "$exclusive/u/1") == [1]
    assert sub(c, "$exclusive/u/2", pid=2) == [1]
    assert sub(a, "$exclusive/u/1", pid=3) == [QUOTA_EXCEEDED]


def test_an_unsubscribe_through_the_api_releases(make_broker):
    from test_api import call
    b = make_broker(env=ON)
    a = connected(b, "x-api1", V5)
    assert sub(a, "$exclusive/api/1") == [1]
    assert sub(a, "$exclusive/api/2", pid=2) == [1]
    for topic in ("$exclusive/api/1", "api/2"):
        status, _, body = call(b, "POST", "/api/v5/clients/x-api1/unsubscribe", {"topic": topic})
        assert status in (200, 204), body
    assert topics_of(b, "x-api1") == []
    c = connected(b, "x-api2", V5)
    assert sub(c, "$exclusive/api/1") == [1]
    assert sub(c, "$exclusive/api/2", pid=2) == [1]


def test_a_plain_subscription_by_the_holder_releases(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-p1", V5)
    assert sub(a, "$exclusive/p/1") == [1]
    assert sub(a, "p/1", pid=2) == [1]
    assert topics_of(b, "x-p1") == ["p/1"]
    assert sub(connected(b, "x-p2", V5), "$exclusive/p/1") == [1]


def test_the_end_of_a_session_releases(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-e1", V5)
    assert sub(a, "$exclusive/e/1") == [1]
    a.close()  # clean session, no expiry: the session ends with the connection
    c = connected(b, "x-e2", V5)
    deadline = time.time() + 5
    pid = 1
    while True:
        code = sub(c, "$exclusive/e/1", pid=pid)
        if code == [1] or time.time() > deadline:
            break
        pid += 1
        time.sleep(0.05)
    assert code == [1]


def test_a_persistent_session_holds_it_offline_until_it_expires(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-s1", V5, clean=False, props={"session_expiry_interval": 2})
    assert sub(a, "$exclusive/s/1") == [1]
    a.send(R.disconnect())
    a.expect_closed()
    c = connected(b, "x-s2", V5)
    assert sub(c, "$exclusive/s/1") == [QUOTA_EXCEEDED]  # offline, still held
    # Resumed, the session still holds it and receives.
    a = R.RawClient(b)
    assert a.connect("x-s1", clean=False,
                     props={"session_expiry_interval": 1}).session_present is True
    assert sub(c, "$exclusive/s/1", pid=2) == [QUOTA_EXCEEDED]
    a.send(R.disconnect())
    a.expect_closed()
    deadline = time.time() + 8
    pid = 3
    while sub(c, "$exclusive/s/1", pid=pid) != [1]:
        assert time.time() < deadline, "the expired session still holds it"
        pid += 1
        time.sleep(0.2)


def test_a_taken_over_session_keeps_it(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-t1", V5, clean=False, props={"session_expiry_interval": 300})
    assert sub(a, "$exclusive/tk/1") == [1]
    a2 = R.RawClient(b)
    assert a2.connect("x-t1", clean=False,
                      props={"session_expiry_interval": 300}).session_present is True
    assert sub(connected(b, "x-t2", V5), "$exclusive/tk/1") == [QUOTA_EXCEEDED]
    assert a2.unsubscribe(["tk/1"]) == [0]
    assert sub(connected(b, "x-t3", V5), "$exclusive/tk/1") == [1]


def test_a_restart_keeps_the_claims_of_stored_sessions(make_broker):
    b = make_broker(env=ON)
    a = connected(b, "x-r1", V5, clean=False, props={"session_expiry_interval": 300})
    assert sub(a, "$exclusive/r/1") == [1]
    a.close()
    for sig in (signal.SIGTERM, signal.SIGKILL):
        b.stop(sig)
        b.start()
        assert sub(connected(b, "x-r2", V5), "$exclusive/r/1") == [QUOTA_EXCEEDED]
        assert topics_of(b, "x-r1") == ["r/1"]
    # Resumed after the restarts, it still holds it, and gives it up.
    a = R.RawClient(b)
    assert a.connect("x-r1", clean=False,
                     props={"session_expiry_interval": 300}).session_present is True
    assert sub(a, "$exclusive/r/1") == [1]
    assert a.unsubscribe(["$exclusive/r/1"], pid=2) == [0]
    assert sub(connected(b, "x-r3", V5), "$exclusive/r/1") == [1]


def test_a_filter_not_authorized_is_not_held(make_broker, tmp_path):
    acl = tmp_path / "acl.conf"
    acl.write_text('{deny, {clientid, "x-z1"}, subscribe, ["z/#"]}.\n{allow, all}.\n')
    b = make_broker(env=ON, config_text='authorization {\n  no_match = allow\n'
                    '  sources = [{type = file, path = "%s"}]\n}\n' % acl)
    a = connected(b, "x-z1", V5)
    assert sub(a, "$exclusive/z/1") == [0x87]
    assert sub(connected(b, "x-z2", V5), "$exclusive/z/1") == [1]


def test_a_session_with_many_claims_bounded_by_max_subscriptions(make_broker):
    b = make_broker(env=dict(ON, EMQX_MQTT__MAX_SUBSCRIPTIONS="3"))
    a = connected(b, "x-q1", V5)
    codes = a.subscribe([("$exclusive/q/%d" % i, R.sub_options(qos=1)) for i in range(5)])
    assert codes == [1, 1, 1, QUOTA_EXCEEDED, QUOTA_EXCEEDED]
    # The claims of the refused ones went back.
    c = connected(b, "x-q2", V5)
    assert c.subscribe([("$exclusive/q/%d" % i, R.sub_options(qos=1)) for i in range(5)]) == \
        [QUOTA_EXCEEDED] * 3 + [1, 1]
