"""EMQX's rule engine (server/rules/, docs/rules.md) on a real node with real clients
(paho): rules from the config file and from /api/v5/rules run on publishes and on client
events, republish with EMQX's templates, print with `console`, count EMQX's metrics, and
refuse what EMQX refuses, with EMQX's codes."""
import json
import time

from conftest import wait_for
from mqttc import Client, V5, V311, props
from paho.mqtt.packettypes import PacketTypes
from test_api import call, get_json, assert_error
from test_ctl import ok, ctl

REPUBLISH_CONF = '''
rule_engine {
  rules.temp_alert {
    description = "hot rooms"
    sql = """SELECT payload.temp AS t, clientid, topic FROM "sensors/+/temp" WHERE payload.temp > 30"""
    actions = [
      {function = republish, args = {topic = "alerts/${clientid}", qos = 1,
                                      payload = "${t} C in ${topic}"}}
    ]
  }
}
'''


def client(broker, cid, **kw):
    return Client(broker, cid, **kw)


def metrics(broker, rule_id):
    return get_json(broker, "/api/v5/rules/%s/metrics" % rule_id)


def test_a_config_rule_republishes_what_its_where_lets_through(make_broker):
    b = make_broker(config_text=REPUBLISH_CONF)
    sub = client(b, "alerts-sub")
    sub.subscribe("alerts/#", qos=1)
    pub = client(b, "room-1")
    pub.publish("sensors/r1/temp", json.dumps({"temp": 35}).encode(), qos=1)
    pub.publish("sensors/r1/temp", json.dumps({"temp": 20}).encode(), qos=1)
    pub.publish("sensors/r1/humidity", json.dumps({"temp": 99}).encode(), qos=1)
    pub.publish("sensors/r1/temp", b"not json", qos=1)
    got = sub.wait_messages(1)
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        ("alerts/room-1", b"35 C in sensors/r1/temp", 1)]
    assert sub.expect_no_more(1)

    def counted():
        m = metrics(b, "temp_alert")["metrics"]
        return m if m["matched"] == 3 else None
    m = wait_for(counted, 3)
    assert m, metrics(b, "temp_alert")
    assert (m["passed"], m["failed"], m["failed.no_result"], m["failed.exception"]) == (1, 2, 1, 1)
    assert (m["actions.total"], m["actions.success"], m["actions.failed"]) == (1, 1, 0)
    node_metrics = metrics(b, "temp_alert")["node_metrics"]
    assert [n["node"] for n in node_metrics] == ["emqx@127.0.0.1"]
    rule = get_json(b, "/api/v5/rules/temp_alert")
    assert rule["from"] == ["sensors/+/temp"] and rule["enable"] is True
    assert rule["description"] == "hot rooms"
    assert rule["created_at"].endswith("+00:00")
    assert rule["actions"] == [{"function": "republish", "args": {
        "topic": "alerts/${clientid}", "qos": 1, "retain": "${retain}",
        "payload": "${t} C in ${topic}", "user_properties": "${user_properties}",
        "mqtt_properties": {}, "direct_dispatch": False}}]


def test_rules_made_through_the_api_run_at_once_and_go_on_restart(make_broker):
    b = make_broker()
    status, _, body = call(b, "POST", "/api/v5/rules", {
        "id": "fwd", "sql": 'SELECT * FROM "in/#"',
        "actions": [{"function": "republish", "args": {
            "topic": "out/${topic}", "retain": "${flags.retain}",
            "user_properties": "${pub_props.'User-Property'}",
            "mqtt_properties": {"Content-Type": "${pub_props.'Content-Type'}"}}}]})
    assert status == 201, body
    assert json.loads(body)["id"] == "fwd"
    sub = client(b, "fwd-sub")
    sub.subscribe("out/#", qos=2)
    pub = client(b, "fwd-pub")
    pub.publish("in/a", b"hello", qos=2,
                properties=props(PacketTypes.PUBLISH, UserProperty=[("k", "v")]))
    got = sub.wait_messages(1)
    assert [(m.topic, m.payload, m.qos) for m in got] == [("out/in/a", b"hello", 2)]
    assert got[0].properties.UserProperty == [("k", "v")]

    # A retained original gives a retained copy (the template reads flags.retain).
    pub.publish("in/r", b"kept", qos=1, retain=True)
    assert sub.wait_messages(2)[1].topic == "out/in/r"
    late = client(b, "late-sub")
    late.subscribe("out/in/r", qos=1)
    assert [(m.payload, m.retain) for m in late.wait_messages(1)] == [(b"kept", 1)]

    # Disabled, it stops at once; the definition and its state survive a restart.
    status, _, body = call(b, "PUT", "/api/v5/rules/fwd", {"enable": False})
    assert status == 200 and json.loads(body)["enable"] is False, body
    pub.publish("in/b", b"not forwarded", qos=1)
    assert sub.expect_no_more(2, settle=0.5)
    b.stop()
    b.start()
    rule = get_json(b, "/api/v5/rules/fwd")
    assert rule["enable"] is False and rule["sql"] == 'SELECT * FROM "in/#"'
    assert call(b, "PUT", "/api/v5/rules/fwd", {"enable": True})[0] == 200
    sub2 = client(b, "fwd-sub2")
    sub2.subscribe("out/in/c", qos=1)
    client(b, "fwd-pub2").publish("in/c", b"again", qos=1)
    assert [m.topic for m in sub2.wait_messages(1)] == ["out/in/c"]
    status, _, _ = call(b, "DELETE", "/api/v5/rules/fwd")
    assert status == 204
    assert_error(*call(b, "GET", "/api/v5/rules/fwd"), 404, "NOT_FOUND")
    assert_error(*call(b, "DELETE", "/api/v5/rules/fwd"), 404, "NOT_FOUND")


def test_bad_rules_are_refused_with_the_field_at_fault(make_broker):
    b = make_broker()
    cases = [
        ({"sql": "SELECT FROM"}, "sql"),
        ({"actions": []}, "sql: required"),
        ({"sql": 'SELECT * FROM "t"', "actions": [{"function": "republish"}]}, "actions[1].args"),
        ({"sql": 'SELECT * FROM "t"',
          "actions": [{"function": "republish", "args": {"topic": "x", "qos": 5}}]},
         "actions[1].args.qos"),
        ({"sql": 'SELECT * FROM "t"',
          "actions": [{"function": "republish", "args": {"topic": "a/${b"}}]},
         "actions[1].args.topic"),
        ({"sql": 'SELECT * FROM "$events/nope"'}, "$events/nope"),
        ({"sql": 'SELECT * FROM "t"', "actions": ["hook"]}, "an action reference"),
        ({"sql": 'SELECT * FROM "t"', "id": "bad id"}, "rule id"),
        ({"sql": 'SELECT * FROM "t"', "id": ""}, "empty rule id"),
    ]
    for body, want in cases:
        doc = assert_error(*call(b, "POST", "/api/v5/rules", body), 400, "BAD_REQUEST")
        assert want in doc["message"], (body, doc)
    assert call(b, "POST", "/api/v5/rules", {"id": "r1", "sql": 'SELECT * FROM "t"'})[0] == 201
    doc = assert_error(*call(b, "POST", "/api/v5/rules", {"id": "r1", "sql": 'SELECT * FROM "t"'}),
                       400, "BAD_REQUEST")
    assert doc["message"] == "rule id already exists"
    # A generated id: 8 hex digits.
    status, _, body = call(b, "POST", "/api/v5/rules", {"sql": 'SELECT * FROM "t"'})
    assert status == 201
    rid = json.loads(body)["id"]
    assert len(rid) == 8 and int(rid, 16) >= 0
    # A bad update leaves the rule as it was.
    assert_error(*call(b, "PUT", "/api/v5/rules/r1", {"sql": "SELEC"}), 400, "BAD_REQUEST")
    assert get_json(b, "/api/v5/rules/r1")["sql"] == 'SELECT * FROM "t"'
    # The node carries on.
    c = client(b, "still-here")
    c.subscribe("t", qos=1)
    client(b, "p").publish("t", b"x", qos=1)
    assert c.wait_messages(1)[0].payload == b"x"


def test_a_bad_rule_in_the_config_stops_start_up_naming_file_line_and_key(make_broker):
    from test_startup import base_env, run
    import os
    import tempfile
    d = tempfile.mkdtemp(prefix="emqxd-rules-")
    path = os.path.join(d, "emqx.conf")
    with open(path, "w") as f:
        f.write('rule_engine.rules.r1 {\n  sql = "SELECT * FROM \\"t\\""\n'
                '  actions = [{function = republish, args = {qos = 1}}]\n}\n')
    r = run(["check-config", "-c", path], base_env(d))
    assert r.returncode != 0
    assert "emqx.conf:3" in r.stderr and "rule_engine.rules.r1.actions[1].args.topic" in r.stderr, r.stderr
    with open(path, "w") as f:
        f.write('rule_engine.rules.r1 {\n  sql = "SELECT * FROM"\n}\n')
    r = run(["check-config", "-c", path], base_env(d))
    assert r.returncode != 0
    assert "emqx.conf:2" in r.stderr and "rule_engine.rules.r1.sql" in r.stderr, r.stderr
    with open(path, "w") as f:
        f.write('rule_engine.jq_function_default_timeout = 10s\n')
    r = run(["check-config", "-c", path], base_env(d))
    assert r.returncode != 0 and "jq" in r.stderr, r.stderr


def test_listing_filters_and_pages_as_emqx(make_broker):
    b = make_broker()
    for i, (sql, enable, desc) in enumerate([
            ('SELECT * FROM "a/1"', True, "first"),
            ('SELECT * FROM "a/+"', False, "second"),
            ('SELECT * FROM "$events/client_connected"', True, "third")]):
        assert call(b, "POST", "/api/v5/rules",
                    {"id": "r%d" % i, "sql": sql, "enable": enable, "description": desc})[0] == 201
    page = get_json(b, "/api/v5/rules")
    assert [r["id"] for r in page["data"]] == ["r0", "r1", "r2"]
    assert page["meta"]["count"] == 3 and page["meta"]["hasnext"] is False
    ids = lambda q: [r["id"] for r in get_json(b, "/api/v5/rules?" + q)["data"]]
    assert ids("enable=false") == ["r1"]
    assert ids("like_id=1") == ["r1"]
    assert ids("from=a/1") == ["r0"]
    assert ids("like_from=events") == ["r2"]
    assert ids("match_from=a/%2B") == ["r0", "r1"]
    assert ids("like_description=ir") == ["r0", "r2"]
    assert "count" not in get_json(b, "/api/v5/rules?like_id=r")["meta"]
    p2 = get_json(b, "/api/v5/rules?page=2&limit=2")
    assert [r["id"] for r in p2["data"]] == ["r2"] and p2["meta"]["hasnext"] is False
    assert get_json(b, "/api/v5/rules?page=1&limit=2")["meta"]["hasnext"] is True
    assert_error(*call(b, "GET", "/api/v5/rules?limit=0"), 400, "BAD_REQUEST")
    # ctl: EMQX's lines.
    lines = ok(b, "rules", "list").splitlines()
    assert lines[0] == "Rule{id=r0, name=, enabled=true, descr=first}"
    assert len(lines) == 3
    shown = ok(b, "rules", "show", "r1")
    assert shown.startswith("Id:\n  r1\nName:\n  \nDescription:\n  second\nEnabled:\n  false\n")
    assert 'SQL:\n  SELECT * FROM "a/+"\n' in shown
    assert ctl(b, "rules", "show", "nope").returncode != 0


def test_rule_test_runs_sql_over_a_sample_event(make_broker):
    b = make_broker()
    def test(sql, context=None):
        body = {"sql": sql}
        if context is not None:
            body["context"] = context
        return call(b, "POST", "/api/v5/rule_test", body)
    status, _, body = test('SELECT payload.msg as msg FROM "t/#"', {"topic": "t/a"})
    assert status == 200 and json.loads(body) == {"msg": "hello"}, body
    status, _, body = test('SELECT clientid, qos FROM "t/#"')
    assert status == 200 and json.loads(body) == {"clientid": "c_emqx", "qos": 1}
    assert_error(*test('SELECT * FROM "x/#"', {"topic": "t/a"}), 412, "NOT_MATCH")
    assert_error(*test('SELECT * FROM "t/#" WHERE qos = 2'), 412, "NOT_MATCH")
    doc = assert_error(*test('SELECT payload.x FROM "t/#"', {"payload": "not json"}), 400,
                       "BAD_REQUEST")
    assert "select_and_transform_error" in doc["message"]
    assert_error(*test("SELECT FROM"), 400, "BAD_REQUEST")
    status, _, body = test('FOREACH payload.l FROM "t/#"', {"payload": '{"l": [1, 2]}'})
    assert status == 200 and json.loads(body) == [{"item": 1}, {"item": 2}] or \
        len(json.loads(body)) == 2, body
    status, _, body = test('SELECT clientid, reason FROM "$events/client_disconnected"',
                           {"event_type": "client_disconnected", "clientid": "c9"})
    assert status == 200 and json.loads(body) == {"clientid": "c9", "reason": "normal"}, body
    events = get_json(b, "/api/v5/rule_events")
    names = [e["event"] for e in events]
    assert names[0] == "$events/message_publish" and "$events/client_connected" in names
    assert all(set(e) >= {"event", "title", "description", "columns", "test_columns",
                          "sql_example"} for e in events)
    assert get_json(b, "/api/v5/rule_engine") == {"ignore_sys_message": True}


def test_client_events_and_the_console_action(make_broker):
    conf = '''
rule_engine.rules {
  conn {
    sql = """SELECT clientid, username, proto_ver, keepalive FROM "$events/client_connected" """
    actions = [{function = republish,
                args = {topic = "ev/connected/${clientid}", payload = "${username} v${proto_ver} k${keepalive}"}}]
  }
  disc {
    sql = """SELECT clientid, reason FROM "$events/client_disconnected" """
    actions = [{function = republish, args = {topic = "ev/gone/${clientid}", payload = "${reason}"}}]
  }
  subs {
    sql = """SELECT clientid, topic, qos FROM "$events/session_subscribed", "$events/session_unsubscribed" """
    actions = [{function = republish, args = {topic = "ev/sub/${clientid}", payload = "${topic} ${qos}"}},
               {function = console}]
  }
}
'''
    b = make_broker(config_text=conf)
    watch = client(b, "watcher")
    watch.subscribe("ev/#", qos=1)
    n = len(watch.wait_messages(1, timeout=1))  # the watcher's own subscribe event
    c = client(b, "dev-1", username="alice", keepalive=30, version=V311)
    c.subscribe("data/#", qos=1)
    c.unsubscribe("data/#")
    c.disconnect()
    want = {("ev/connected/dev-1", b"alice v4 k30"), ("ev/sub/dev-1", b"data/# 1"),
            ("ev/sub/dev-1", b"data/# undefined"), ("ev/gone/dev-1", b"normal")}
    got = watch.wait_messages(n + 4)
    assert {(m.topic, m.payload) for m in got[n:]} == want, [(m.topic, m.payload) for m in got]
    # The console action prints to the node's standard output.
    assert wait_for(lambda: "[rule action] subs" in b.read_log(), 3), b.read_log()[-2000:]
    assert "Action Data: {\"clientid\":\"dev-1\"" in b.read_log()


def test_connack_and_authorization_events(make_broker, tmp_path):
    import rawmqtt as R
    acl = tmp_path / "acl.conf"
    acl.write_text('{deny, all, publish, ["secret/#"]}.\n{allow, all}.\n')
    conf = '''
authorization {
  no_match = deny
  cache { enable = false }
  sources = [{type = file, enable = true, path = "%s"}]
}
rule_engine.rules {
  connack {
    sql = """SELECT clientid, reason_code, proto_ver FROM "$events/client_connack" """
    actions = [{function = republish, args = {topic = "ev/connack/${clientid}",
                                              payload = "${reason_code} v${proto_ver}"}}]
  }
  authz {
    sql = """SELECT * FROM "$events/client_check_authz_complete" WHERE topic =~ 'secret/#' or topic =~ 'open/#' """
    actions = [{function = republish, args = {topic = "ev/authz/${clientid}",
                payload = "${action} ${topic} ${authz_source} ${result} ${event}"}}]
  }
}
''' % acl
    b = make_broker(config_text=conf)
    watch = client(b, "watcher")
    watch.subscribe("ev/#", qos=1)
    c = client(b, "dev-1", version=V311)
    c.publish("secret/x", b"no", qos=1)
    c.publish("open/x", b"yes", qos=1)
    status, _, _ = call(b, "POST", "/api/v5/banned", body={"as": "clientid", "who": "bad-1"})
    assert status == 200
    R.RawClient(b).connect("bad-1", expect_code=0x8A)
    want = {("ev/connack/dev-1", b"success v4"),
            ("ev/authz/dev-1", b"publish secret/x file deny client.check_authz_complete"),
            ("ev/authz/dev-1", b"publish open/x file allow client.check_authz_complete"),
            ("ev/connack/bad-1", b"banned v5")}
    got = watch.wait_messages(4)
    assert {(m.topic, m.payload) for m in got} == want, [(m.topic, m.payload) for m in got]
    # The events are listed for the dashboard and testable with rule_test.
    names = [e["event"] for e in get_json(b, "/api/v5/rule_events")]
    assert "$events/client_connack" in names and "$events/client_check_authz_complete" in names
    status, _, body = call(b, "POST", "/api/v5/rule_test", body={
        "sql": 'SELECT reason_code FROM "$events/client_connack"',
        "context": {"event_type": "client_connack", "reason_code": "not_authorized"}})
    assert status == 200 and json.loads(body) == {"reason_code": "not_authorized"}, body


def test_message_delivery_ack_and_drop_events(make_broker):
    conf = '''
mqtt { mqueue_store_qos0 = false, max_mqueue_len = 1 }
rule_engine.rules {
  delivered {
    sql = """SELECT * FROM "$events/message_delivered" WHERE topic =~ 'data/#' """
    actions = [{function = republish, args = {topic = "ev/delivered/${clientid}", qos = 1,
                payload = "${from_clientid} ${from_username} ${topic} ${qos} ${id}"}}]
  }
  acked {
    sql = """SELECT * FROM "$events/message_acked" WHERE topic =~ 'data/#' """
    actions = [{function = republish, args = {topic = "ev/acked/${clientid}", qos = 1,
                payload = "${from_clientid} ${from_username} ${topic} ${qos} ${id}"}}]
  }
  dropped {
    sql = """SELECT * FROM "$events/message_dropped" WHERE topic =~ 'nobody/#' """
    actions = [{function = republish, args = {topic = "ev/dropped/${clientid}", qos = 1,
                payload = "${reason} ${topic} ${username} ${event}"}}]
  }
  ddrop {
    sql = """SELECT * FROM "$events/delivery_dropped" WHERE topic =~ 'data/#' """
    actions = [{function = republish, args = {topic = "ev/ddrop/${clientid}", qos = 1,
                payload = "${reason} ${from_clientid} ${topic} ${event}"}}]
  }
}
'''
    b = make_broker(config_text=conf)
    watch = client(b, "watcher")
    watch.subscribe("ev/#", qos=1)
    sleeper = client(b, "sleeper", version=V311, clean=False)
    sleeper.subscribe("data/q/#", qos=1)
    sleeper.disconnect()
    sub = client(b, "sub")
    sub.subscribe("data/1", qos=1)
    sub2 = client(b, "sub2")
    sub2.subscribe("data/2", qos=2)
    pub = client(b, "pub", username="alice")
    pub.publish("data/1", b"one", qos=1)
    sub.wait_messages(1)
    pub.publish("data/2", b"two", qos=2)
    sub2.wait_messages(1)
    pub.publish("nobody/x", b"lost", qos=1)
    # The offline session takes no QoS 0 (qos0_msg) and one message (queue_full).
    pub.publish("data/q/a", b"q0", qos=0)
    pub.publish("data/q/b", b"q1", qos=1)
    pub.publish("data/q/c", b"q2", qos=1)
    got = [(m.topic, m.payload.decode()) for m in watch.wait_messages(7)]
    assert watch.expect_no_more(7), got
    ids = {}
    for topic, payload in got:
        if topic.startswith(("ev/delivered/", "ev/acked/")):
            *rest, msg_id = payload.split(" ")
            assert len(msg_id) == 32 and all(ch in "0123456789ABCDEF" for ch in msg_id), payload
            ids.setdefault(" ".join(rest), set()).add(msg_id)
    # Delivery and acknowledgement name the same message (QoS 2 is acked at PUBREC).
    assert sorted(ids) == ["pub alice data/1 1", "pub alice data/2 2"], got
    assert all(len(v) == 1 for v in ids.values()), got
    rest = sorted((t, p) for t, p in got if not t.startswith(("ev/delivered/", "ev/acked/")))
    assert rest == [
        ("ev/ddrop/sleeper", "qos0_msg pub data/q/a delivery.dropped"),
        ("ev/ddrop/sleeper", "queue_full pub data/q/b delivery.dropped"),
        ("ev/dropped/pub", "no_subscribers nobody/x alice message.dropped")], got
    assert sorted(t for t, _ in got if t.startswith(("ev/delivered/", "ev/acked/"))) == [
        "ev/acked/sub", "ev/acked/sub2", "ev/delivered/sub", "ev/delivered/sub2"], got
    names = [e["event"] for e in get_json(b, "/api/v5/rule_events")]
    for e in ("message_delivered", "message_acked", "message_dropped", "delivery_dropped"):
        assert "$events/" + e in names
    status, _, body = call(b, "POST", "/api/v5/rule_test", body={
        "sql": 'SELECT from_clientid, clientid, reason FROM "$events/delivery_dropped"',
        "context": {"event_type": "delivery_dropped", "reason": "expired"}})
    assert status == 200 and json.loads(body) == {
        "from_clientid": "c_emqx", "clientid": "c_emqx_2", "reason": "expired"}, body


def test_rules_do_not_loop_and_sys_messages_are_ignored(make_broker):
    # Two rules feeding each other stop after a bounded chain; a rule never republishes
    # its own output again (EMQX's guard); $SYS messages trigger nothing by default.
    conf = '''
sys_topics.sys_msg_interval = 1s
rule_engine.rules {
  ping { sql = """SELECT * FROM "loop/a" """
         actions = [{function = republish, args = {topic = "loop/b"}}] }
  pong { sql = """SELECT * FROM "loop/b" """
         actions = [{function = republish, args = {topic = "loop/a"}}] }
  self { sql = """SELECT * FROM "me/#" """
         actions = [{function = republish, args = {topic = "me/again"}}] }
  sys  { sql = """SELECT * FROM "$SYS/#" """
         actions = [{function = republish, args = {topic = "sys/copy"}}] }
}
'''
    b = make_broker(config_text=conf)
    sub = client(b, "loop-sub")
    sub.subscribe("loop/#", qos=0)
    sub.subscribe("me/#", qos=0)
    sub.subscribe("sys/#", qos=0)
    pub = client(b, "loop-pub")
    pub.publish("loop/a", b"x", qos=1)
    pub.publish("me/start", b"y", qos=1)
    time.sleep(1.5)
    got = sub.wait_messages(1)
    loops = [m for m in got if m.topic.startswith("loop/")]
    assert 2 <= len(loops) <= 10, len(loops)
    assert [m.topic for m in got if m.topic.startswith("me/")] == ["me/start", "me/again"]
    assert not [m for m in got if m.topic.startswith("sys/")]
    # The node is fine.
    pub.publish("me/start", b"z", qos=1)
    assert wait_for(lambda: len([m for m in sub.wait_messages(1) if m.payload == b"z"]) == 2, 3)


def test_a_rule_does_not_fire_on_the_delivery_of_what_it_republished(make_broker):
    # Each delivery of what the rule republished would be republished again, to every
    # subscriber, for ever: as EMQX, a rule's events skip the messages it republished
    # itself (and the republish depth bounds chains through several rules).
    b = make_broker(config_text='''
rule_engine.rules.echo {
  sql = """SELECT * FROM "$events/message_delivered" """
  actions = [{function = republish, args = {topic = "echo/${clientid}", payload = "again"}}]
}
''')
    a = client(b, "echo-a")
    a.subscribe("echo/#", qos=0)
    a.subscribe("start", qos=0)
    other = client(b, "echo-b")
    other.subscribe("echo/#", qos=0)
    client(b, "echo-pub").publish("start", b"go", qos=1)
    assert sorted((m.topic, m.payload) for m in a.wait_messages(2)) == [
        ("echo/echo-a", b"again"), ("start", b"go")]
    assert [(m.topic, m.payload) for m in other.wait_messages(1)] == [("echo/echo-a", b"again")]
    assert a.expect_no_more(2)
    assert other.expect_no_more(1)

def test_each_rule_s_metrics_are_published_on_sys(make_broker):
    b = make_broker(config_text=REPUBLISH_CONF + "sys_topics.sys_msg_interval = 1s\n")
    watch = client(b, "sys-watch")
    watch.subscribe("$SYS/brokers/+/rules/#", qos=0)
    pub = client(b, "room-8")
    pub.publish("sensors/r8/temp", json.dumps({"temp": 40}).encode(), qos=1)
    pub.publish("sensors/r8/temp", json.dumps({"temp": 10}).encode(), qos=1)

    def counted():
        for m in watch.wait_messages(1, timeout=3):
            doc = json.loads(m.payload)
            if doc["matched"] == 2:
                return m.topic, doc
        return None
    assert wait_for(counted, 5)
    topic, doc = counted()
    assert topic.startswith("$SYS/brokers/") and topic.endswith("/rules/temp_alert/metrics"), topic
    assert (doc["passed"], doc["failed.no_result"], doc["actions.success"]) == (1, 1, 1), doc
    assert "matched.rate" in doc


def test_prometheus_data_integration_counts_each_rule(make_broker):
    b = make_broker(config_text=REPUBLISH_CONF)
    pub = client(b, "room-9")
    pub.publish("sensors/r9/temp", json.dumps({"temp": 40}).encode(), qos=1)
    pub.publish("sensors/r9/temp", json.dumps({"temp": 10}).encode(), qos=1)
    assert wait_for(lambda: metrics(b, "temp_alert")["metrics"]["matched"] == 2, 3)
    # No credentials, as /api/v5/prometheus/stats.
    status, headers, body = call(b, "GET", "/api/v5/prometheus/data_integration", auth=None)
    assert status == 200 and headers["content-type"].startswith("text/plain"), body
    text = body.decode()
    assert "emqx_rules_count 1\n" in text
    assert 'emqx_rule_enable{id="temp_alert"} 1\n' in text
    assert 'emqx_rule_matched{id="temp_alert"} 2\n' in text
    assert 'emqx_rule_passed{id="temp_alert"} 1\n' in text
    assert 'emqx_rule_failed_no_result{id="temp_alert"} 1\n' in text
    assert "# TYPE emqx_rule_matched counter\n" in text
    text = call(b, "GET", "/api/v5/prometheus/data_integration?mode=all_nodes_unaggregated",
                auth=None)[2].decode()
    assert 'emqx_rule_matched{id="temp_alert",node="emqx@127.0.0.1"} 2\n' in text
    doc = json.loads(call(b, "GET", "/api/v5/prometheus/data_integration", auth=None,
                          headers={"Accept": "application/json"})[2])
    assert doc["data_integration_overview"]["emqx_rules_count"] == 1
    assert doc["rules"][0]["id"] == "temp_alert" and doc["rules"][0]["emqx_rule_matched"] == 2
    assert_error(*call(b, "GET", "/api/v5/prometheus/data_integration?mode=x"), 400, "BAD_REQUEST")


def test_a_rule_taken_out_of_the_config_file_goes_at_the_next_start(make_broker):
    # The file's rules are written into the cluster's table; one the file no longer has is
    # deleted at the next start, while the API's rules (and file rules the API changed)
    # stay, as an operator editing emqx.conf expects.
    b = make_broker(config_text='rule_engine.rules {\n'
                                '  a { sql = "SELECT * FROM \\"a\\"" }\n'
                                '  b { sql = "SELECT * FROM \\"b\\"" }\n'
                                '  c { sql = "SELECT * FROM \\"c\\"" }\n}\n')
    assert call(b, "POST", "/api/v5/rules", {"id": "api", "sql": 'SELECT * FROM "x"'})[0] == 201
    assert call(b, "PUT", "/api/v5/rules/c", {"description": "changed"})[0] == 200
    b.stop()
    with open(b.config_path, "w") as f:
        f.write('rule_engine.rules.b { sql = "SELECT * FROM \\"b2\\"" }\n')
    b.start()
    rules = {r["id"]: r for r in get_json(b, "/api/v5/rules")["data"]}
    assert set(rules) == {"b", "c", "api"}, rules
    assert rules["b"]["from"] == ["b2"]  # the file wins at restart
    assert rules["c"]["description"] == "changed"
