"""The LwM2M gateway (gateway.lwm2m; docs/gateways.md, "LwM2M") through a real emqxd: a
client written from the specification (lwm2m.py; Debian has none) registers and answers,
and MQTT clients on the same broker send EMQX's JSON commands and read the answers.
"""
import json
import socket
import time

import pytest

import lwm2m as L
from conftest import config_refused, wait_for
from rawmqtt import V311, connected
from test_api import call, get_json
from ports import free_udp_port


@pytest.fixture(autouse=True)
def _close_clients():
    yield
    L.close_all()


def gateway(make_broker, gw_extra="", extra=""):
    port = free_udp_port()
    conf = ('gateway.lwm2m {\n  %s\n  listeners.udp.default { bind = "127.0.0.1:%d" }\n}\n%s'
            % (gw_extra, port, extra))
    return make_broker(config_text=conf), port


def watcher(b, ep, cid=None):
    """An MQTT client subscribed to everything the endpoint's registration publishes."""
    s = connected(b, cid or "w-" + ep, V311)
    assert s.subscribe([("lwm2m/%s/up/#" % ep, 1)]) == [1]
    return s


def next_json(sub, topic_suffix=None, timeout=5):
    """The next PUBLISH (on a topic ending with `topic_suffix`), its payload as JSON."""
    deadline = time.monotonic() + timeout
    while True:
        p = sub.recv_publishes(1, timeout=max(0.1, deadline - time.monotonic()))[0]
        if topic_suffix is None or p.topic.endswith(topic_suffix):
            return p.topic, json.loads(p.payload)


def registered(b, port, ep, **kw):
    """A started client, registered; the watcher has seen its registration."""
    w = watcher(b, ep)
    c = L.Lwm2mClient(port, ep, **kw).start()
    r = c.register()
    assert r["code"] == L.CREATED, L.code_str(r["code"])
    topic, reg = next_json(w)
    assert topic == "lwm2m/%s/up/resp" % ep and reg["msgType"] == "register"
    return c, w


def command(b, ep, body, cid="cmd"):
    pub = connected(b, "%s-%s-%d" % (cid, ep, body.get("reqID", 0)), V311)
    pub.publish("lwm2m/%s/dn/cmd" % ep, json.dumps(body).encode(), qos=1, pid=1)  # PUBACKed
    pub.disconnect()


def ask(b, w, ep, body):
    """A command, and its answer on the response topic."""
    command(b, ep, body)
    topic, resp = next_json(w, "/up/resp")
    return resp


# --- tests

def test_register_publishes_and_the_client_is_listed(make_broker):
    b, port = gateway(make_broker)
    w = watcher(b, "dev1")
    c = L.Lwm2mClient(port, "dev1", lifetime=120).start()
    r = c.register()
    assert r["code"] == L.CREATED
    assert c.location == ["rd", "dev1"]  # Location-Path rd/{endpoint}
    topic, reg = next_json(w)
    assert topic == "lwm2m/dev1/up/resp"
    assert reg["msgType"] == "register"
    d = reg["data"]
    assert (d["ep"], d["lt"], d["lwm2m"], d["b"]) == ("dev1", 120, "1.0", "U")
    assert set(d["objectList"]) >= {"/1/0", "/3/0"} and d["alternatePath"] == "/"
    page = get_json(b, "/api/v5/gateways/lwm2m/clients")
    assert [x["clientid"] for x in page["data"]] == ["dev1"]
    assert page["data"][0]["proto_name"] == "LwM2M"
    gws = {g["name"]: g for g in get_json(b, "/api/v5/gateways")}
    assert gws["lwm2m"]["status"] == "running"
    gw = get_json(b, "/api/v5/gateways/lwm2m")
    assert gw["translators"]["command"] == {"topic": "dn/#", "qos": 0}
    assert gw["mountpoint"] == "lwm2m/${endpoint_name}/"
    assert get_json(b, "/api/v5/clients/dev1")["proto_name"] == "LwM2M"


def test_read_an_instance_as_tlv_and_a_resource_as_text(make_broker):
    b, port = gateway(make_broker)
    c, w = registered(b, port, "dev2")
    resp = ask(b, w, "dev2", {"reqID": 11, "msgType": "read", "data": {"path": "/3/0"}})
    assert resp["reqID"] == 11 and resp["msgType"] == "read"
    d = resp["data"]
    assert (d["reqPath"], d["code"], d["codeMsg"]) == ("/3/0", "2.05", "content")
    values = {x["path"]: x["value"] for x in d["content"]}
    # The TS's Device example, typed by the built-in object 3.
    assert values["/3/0/0"] == "Open Mobile Alliance"
    assert values["/3/0/7/0"] == 3800 and values["/3/0/7/1"] == 5000
    assert values["/3/0/9"] == 100 and values["/3/0/13"] == 1367491215
    get = c.wait_request(L.GET, "/3/0")
    assert get["type"] == L.CON
    resp = ask(b, w, "dev2", {"reqID": 12, "msgType": "read", "data": {"path": "/3/0/1"}})
    assert resp["data"]["content"] == [{"path": "/3/0/1", "value": "Lightweight M2M Client"}]
    resp = ask(b, w, "dev2", {"reqID": 13, "msgType": "read", "data": {"path": "/3/7"}})
    assert (resp["data"]["code"], resp["data"]["codeMsg"]) == ("4.04", "not_found")


def test_write_execute_discover_attributes_create_and_delete(make_broker):
    b, port = gateway(make_broker)
    c, w = registered(b, port, "dev3")
    resp = ask(b, w, "dev3", {"reqID": 1, "msgType": "write",
                              "data": {"path": "/3/0/13", "type": "Time", "value": 1700000000}})
    assert resp["data"]["code"] == "2.04"
    assert c.get("/3/0/13") == 1700000000
    resp = ask(b, w, "dev3", {"reqID": 2, "msgType": "write", "data": {
        "basePath": "/3/0", "content": [{"path": "14", "type": "String", "value": "+01:00"},
                                        {"path": "15", "type": "String", "value": "Europe/Oslo"}]}})
    assert resp["data"]["code"] == "2.04"
    assert (c.get("/3/0/14"), c.get("/3/0/15")) == ("+01:00", "Europe/Oslo")
    # A resource the client does not let be written: its answer comes back.
    resp = ask(b, w, "dev3", {"reqID": 3, "msgType": "write",
                              "data": {"path": "/3/0/0", "type": "String", "value": "x"}})
    assert resp["data"]["code"] == "4.05"
    resp = ask(b, w, "dev3", {"reqID": 4, "msgType": "execute",
                              "data": {"path": "/3/0/4", "args": "5"}})
    assert resp["data"]["code"] == "2.04" and c.executed[-1] == ("/3/0/4", "5")
    resp = ask(b, w, "dev3", {"reqID": 5, "msgType": "discover", "data": {"path": "/3/0"}})
    assert resp["data"]["code"] == "2.05"
    assert "</3/0/0>" in resp["data"]["content"]
    resp = ask(b, w, "dev3", {"reqID": 6, "msgType": "write-attr",
                              "data": {"path": "/3/0/9", "pmin": "10", "pmax": 60}})
    assert resp["data"]["code"] == "2.04"
    assert c.attributes["/3/0/9"] == {"pmin": "10", "pmax": "60"}
    resp = ask(b, w, "dev3", {"reqID": 7, "msgType": "create", "data": {
        "basePath": "/1", "content": [{"path": "1/0", "type": "Integer", "value": 2},
                                      {"path": "1/1", "type": "Integer", "value": 300}]}})
    assert resp["data"]["code"] == "2.01"
    assert c.get("/1/1/1") == 300
    resp = ask(b, w, "dev3", {"reqID": 8, "msgType": "delete", "data": {"path": "/1/1"}})
    assert resp["data"]["code"] == "2.02"
    assert (1, 1) not in c.instances(1)


def test_observe_notifications_and_cancel(make_broker):
    b, port = gateway(make_broker)
    c, w = registered(b, port, "dev4")
    resp = ask(b, w, "dev4", {"reqID": 20, "msgType": "observe", "data": {"path": "/3/0/9"}})
    assert resp["data"]["code"] == "2.05"
    assert resp["data"]["content"] == [{"path": "/3/0/9", "value": 100}]
    assert wait_for(lambda: "/3/0/9" in c.observations, 5)
    c.notify("/3/0/9", 77)
    topic, n = next_json(w, "/up/notify")
    assert topic == "lwm2m/dev4/up/notify"
    assert n["msgType"] == "notify" and n["reqID"] == 20 and n["seqNum"] > 0
    assert n["data"]["content"] == [{"path": "/3/0/9", "value": 77}]
    c.notify("/3/0/9", 66, con=True)  # a CON notification is acknowledged
    assert c.last_ack["type"] == L.ACK
    assert next_json(w, "/up/notify")[1]["data"]["content"][0]["value"] == 66
    resp = ask(b, w, "dev4", {"reqID": 21, "msgType": "cancel-observe",
                              "data": {"path": "/3/0/9"}})
    assert resp["data"]["code"] == "2.05"


def test_update_deregister_and_the_lifetime(make_broker):
    b, port = gateway(make_broker, gw_extra='update_msg_publish_condition = contains_object_list')
    c, w = registered(b, port, "dev5", lifetime=30)
    assert c.update()["code"] == L.CHANGED  # no objects: not published
    assert c.update(payload="</3/0>,</5/0>")["code"] == L.CHANGED
    topic, u = next_json(w)
    assert topic == "lwm2m/dev5/up/update" and u["msgType"] == "update"
    assert u["data"]["objectList"] == ["/3/0", "/5/0"] and u["data"]["ep"] == "dev5"
    assert c.deregister()["code"] == L.DELETED
    assert wait_for(lambda: get_json(b, "/api/v5/gateways/lwm2m/clients")["data"] == [], 5)
    # An Update to a location that is gone: 4.04, and the client registers again.
    c.location = ["rd", "dev5"]
    assert c.update()["code"] == L.NOT_FOUND
    # A registration that is not updated within its lifetime ends.
    short = L.Lwm2mClient(port, "dev6", lifetime=2).start()
    assert short.register()["code"] == L.CREATED
    assert wait_for(lambda: [x["clientid"] for x in
                             get_json(b, "/api/v5/gateways/lwm2m/clients")["data"]] == ["dev6"], 5)
    assert wait_for(lambda: get_json(b, "/api/v5/gateways/lwm2m/clients")["data"] == [], 8)


def test_queue_mode_holds_commands_until_the_client_shows_itself(make_broker):
    b, port = gateway(make_broker, gw_extra="qmode_time_window = 1s")
    c, w = registered(b, port, "dev7", binding="UQ")
    time.sleep(1.5)  # past the window: the client sleeps
    command(b, "dev7", {"reqID": 30, "msgType": "read", "data": {"path": "/3/0/9"}})
    time.sleep(1)
    assert [r for r in c.requests if r["code"] == L.GET] == []
    assert c.update()["code"] == L.CHANGED  # it wakes
    c.wait_request(L.GET, "/3/0/9")
    topic, resp = next_json(w, "/up/resp")
    assert resp["reqID"] == 30 and resp["data"]["code"] == "2.05"


def test_a_separate_response_reports_ack_first(make_broker):
    b, port = gateway(make_broker)
    c, w = registered(b, port, "dev8")
    c.separate = True
    command(b, "dev8", {"reqID": 40, "msgType": "read", "data": {"path": "/3/0/9"}})
    _, ack = next_json(w, "/up/resp")
    assert ack["msgType"] == "ack" and ack["reqID"] == 40
    _, resp = next_json(w, "/up/resp")
    assert resp["msgType"] == "read" and resp["data"]["content"][0]["value"] == 100


def test_bad_commands_are_answered_and_nothing_else_stops(make_broker):
    b, port = gateway(make_broker)
    c, w = registered(b, port, "dev9")
    resp = ask(b, w, "dev9", {"reqID": 50, "msgType": "read", "data": {"path": "/abc"}})
    assert (resp["data"]["code"], resp["data"]["codeMsg"]) == ("4.00", "bad_request")
    resp = ask(b, w, "dev9", {"reqID": 51, "msgType": "write",
                              "data": {"path": "/3/0/13", "type": "Time", "value": "soon"}})
    assert resp["data"]["code"] == "4.00"
    resp = ask(b, w, "dev9", {"reqID": 52, "msgType": "explode", "data": {"path": "/3/0"}})
    assert resp["data"]["code"] == "4.00"
    pub = connected(b, "raw-pub", V311)
    pub.publish("lwm2m/dev9/dn/cmd", b"\xff not json", qos=0)  # dropped
    # Datagrams that are no CoAP, and requests from nowhere.
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.sendto(b"\x00\x01", ("127.0.0.1", port))
    s.sendto(L.encode(L.CON, L.POST, 7, b"x", [(L.URI_PATH, b"rd"), (L.URI_PATH, b"nobody")]),
             ("127.0.0.1", port))
    s.settimeout(5)
    m = L.decode(s.recvfrom(2048)[0])
    assert (m["type"], m["code"], m["id"]) == (L.ACK, L.NOT_FOUND, 7)
    s.close()
    # The registered client carries on.
    resp = ask(b, w, "dev9", {"reqID": 53, "msgType": "read", "data": {"path": "/3/0/9"}})
    assert resp["data"]["content"][0]["value"] == 100


def test_a_banned_endpoint_is_refused_with_4_03(make_broker):
    b, port = gateway(make_broker)
    st, _, body = call(b, "POST", "/api/v5/banned", body={"as": "clientid", "who": "bad-ep"})
    assert st == 200, body
    c = L.Lwm2mClient(port, "bad-ep").start()
    assert c.register()["code"] == 0x83  # 4.03 Forbidden (TS 1.0 5.3.1)
    ok = L.Lwm2mClient(port, "good-ep").start()
    assert ok.register()["code"] == L.CREATED


def test_registration_refusals(make_broker):
    b, port = gateway(make_broker, gw_extra="lifetime_max = 3600s")
    c = L.Lwm2mClient(port, "too-long", lifetime=7200).start()
    assert c.register()["code"] == 0x80  # lt above lifetime_max: 4.00
    c2 = L.Lwm2mClient(port, "v2", version="2.0").start()
    assert c2.register()["code"] == 0x80
    c3 = L.Lwm2mClient(port, "no-ep").start()
    r = c3.request(L.POST, ["rd"], ["lt=60"], "</3/0>", content_format=L.LINK)
    assert r["code"] == 0x80


def test_xml_dir_adds_objects(make_broker, tmp_path):
    xml = tmp_path / "xml"
    xml.mkdir()
    (xml / "3303.xml").write_text(
        '<?xml version="1.0"?><LWM2M><Object><Name>Temperature</Name><ObjectID>3303'
        '</ObjectID><MultipleInstances>Multiple</MultipleInstances><Resources>'
        '<Item ID="5700"><Name>Sensor Value</Name><Operations>R</Operations>'
        '<MultipleInstances>Single</MultipleInstances><Type>Float</Type></Item>'
        '</Resources></Object></LWM2M>')
    b, port = gateway(make_broker, gw_extra='xml_dir = "%s"' % xml)
    store = L.default_store(60)
    store[(3303, 0, 5700)] = ("Float", 21.5)
    c, w = registered(b, port, "temp1", objects=store)
    resp = ask(b, w, "temp1", {"reqID": 60, "msgType": "read", "data": {"path": "/3303/0"}})
    assert resp["data"]["content"] == [{"path": "/3303/0/5700", "value": 21.5}]


def test_a_bad_xml_file_stops_start_up_naming_it(tmp_path):
    from conftest import start_refused
    xml = tmp_path / "xml"
    xml.mkdir()
    (xml / "9999.xml").write_text("<LWM2M>\n<Object>\n<ObjectID>9999</ObjectID>\n</LWM2M>\n")
    out = start_refused(tmp_path, {
        "EMQX_GATEWAY__LWM2M__XML_DIR": str(xml),
        "EMQX_GATEWAY__LWM2M__LISTENERS__UDP__DEFAULT__BIND": "127.0.0.1:%d" % free_udp_port(),
    })
    assert str(xml / "9999.xml") + ":5: unexpected end of data" in out, out


@pytest.mark.parametrize("text,expect", [
    ('gateway.lwm2m { lifetime_min = 100s, lifetime_max = 10s }', "gateway.lwm2m.lifetime_min"),
    ('gateway.lwm2m { translators.command.qos = 3 }', "gateway.lwm2m.translators.command.qos"),
    ('gateway.lwm2m { translators.response.topic = "up/#" }',
     "gateway.lwm2m.translators.response.topic"),
    ('gateway.lwm2m { update_msg_publish_condition = never }',
     "gateway.lwm2m.update_msg_publish_condition"),
    ('gateway.lwm2m { auto_observe = ["3/0"] }', "gateway.lwm2m.auto_observe"),
    ('gateway.lwm2m { listeners.dtls.default { bind = 5784 } }', "gateway.lwm2m.listeners.dtls"),
])
def test_bad_lwm2m_config_stops_start_up(tmp_path, text, expect):
    err = config_refused(tmp_path, text)
    assert expect in err, err


def test_auto_observe_observes_what_the_client_registers(make_broker):
    b, port = gateway(make_broker, gw_extra='auto_observe = ["/3/0"]')
    c, w = registered(b, port, "auto1")
    get = c.wait_request(L.GET, "/3/0")
    assert L.option(get, L.OBSERVE) in (b"", b"\x00", 0)
    topic, resp = next_json(w, "/up/resp")
    assert resp["msgType"] == "observe" and resp["is_auto_observe"] is True
    c.notify("/3/0")
    topic, n = next_json(w, "/up/notify")
    assert n["msgType"] == "notify" and n["data"]["reqPath"] == "/3/0"
