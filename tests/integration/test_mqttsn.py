"""The MQTT-SN gateway (gateway.mqttsn; docs/gateways.md) through a real emqxd: an MQTT-SN
1.2 client over UDP (tests/integration/mqttsn.py, written from the specification) and MQTT
clients on the same broker. Each exchange is checked against the specification's section
6 (what the gateway must answer, and in which order)."""
import socket

import pytest

import mqttsn as SN
import rawmqtt as R
from conftest import config_refused, wait_for
from rawmqtt import V311, connected
from test_api import get_json, call
from test_ctl import ctl
from ports import free_udp_port

PREDEFINED = '[{id = 1, topic = "pre/one"}, {id = 2, topic = "pre/two"}]'


def gateway(make_broker, extra="", gw_extra="", listener_extra=""):
    """A broker with gateway.mqttsn on a free UDP port of 127.0.0.1; returns (broker, port)."""
    port = free_udp_port()
    conf = ('gateway.mqttsn {\n  gateway_id = 7\n  predefined = %s\n  %s\n'
            '  listeners.udp.default { bind = "127.0.0.1:%d"\n %s }\n}\n%s'
            % (PREDEFINED, gw_extra, port, listener_extra, extra))
    b = make_broker(config_text=conf)
    return b, port


@pytest.fixture(autouse=True)
def _close_sn():
    yield
    SN.close_all()


def mqtt_sub(b, cid, topic, qos=1):
    s = connected(b, cid, V311)
    assert s.subscribe([(topic, qos)]) == [qos]
    return s


def test_searchgw_connect_ping_disconnect(make_broker):
    b, port = gateway(make_broker)
    c = SN.SnClient("127.0.0.1", port)
    c.send(SN.searchgw(1))
    gw = c.expect(SN.GWINFO)
    assert gw.gw_id == 7 and gw.gw_add == b""  # 5.4.3: a gateway leaves GwAdd out
    assert c.connect("sn1") == SN.ACCEPTED
    c.send(SN.pingreq())
    c.expect(SN.PINGRESP)
    c.send(SN.disconnect())
    assert c.expect(SN.DISCONNECT).duration is None  # 6.3: acknowledged with DISCONNECT
    # Gone from the broker (a DISCONNECT ends the session as MQTT's does).
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/sn1")[0] == 404)


def test_register_then_publish_at_each_qos_reaches_mqtt(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub", "sn/#", 2)
    c = SN.connected(port, "sn-pub")
    ack = c.register("sn/temp", msg_id=5)
    assert ack.rc == SN.ACCEPTED and ack.msg_id == 5 and ack.topic_id not in (0, 0xFFFF)
    tid = ack.topic_id
    assert c.register("sn/temp", msg_id=6).topic_id == tid  # the same name, the same id
    c.send(SN.publish(tid, b"q0", qos=0))
    c.send(SN.publish(tid, b"q1", qos=1, msg_id=11))
    pa = c.expect(SN.PUBACK)
    assert (pa.topic_id, pa.msg_id, pa.rc) == (tid, 11, SN.ACCEPTED)  # 5.4.13
    c.send(SN.publish(tid, b"q2", qos=2, msg_id=12))
    assert c.expect(SN.PUBREC).msg_id == 12
    c.send(SN.pubrel(12))
    assert c.expect(SN.PUBCOMP).msg_id == 12
    got = sub.recv_publishes(3, timeout=5)
    assert [(p.topic, p.payload) for p in got] == [("sn/temp", b"q0"), ("sn/temp", b"q1"),
                                                   ("sn/temp", b"q2")]
    # A topic id nobody registered: PUBACK "rejected: invalid topic ID" (6.10), nothing sent.
    c.send(SN.publish(999, b"nope", qos=0))
    pa = c.expect(SN.PUBACK)
    assert (pa.topic_id, pa.rc) == (999, SN.INVALID_TOPIC_ID)
    assert [p for p in sub.recv_all(0.3) if p.type == R.PUBLISH] == []


def test_a_wildcard_name_is_refused_by_register(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-reg")
    ack = c.register("a/+")
    assert ack.rc != SN.ACCEPTED and ack.topic_id == 0


def test_subscribe_by_name_gets_an_id_and_the_messages(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-sub")
    sa = c.subscribe("room/1/temp", msg_id=3, qos=1)
    assert sa.rc == SN.ACCEPTED and sa.msg_id == 3 and sa.qos == 1 and sa.topic_id != 0
    pub = connected(b, "m-pub", V311)
    pub.publish("room/1/temp", b"21.5", qos=1, pid=1)
    p = c.expect(SN.PUBLISH)
    # No REGISTER first: SUBACK gave the id (6.9).
    assert (p.topic_type, p.topic, p.data, p.qos) == (SN.NORMAL, sa.topic_id, b"21.5", 1)
    c.send(SN.puback(p.topic, p.msg_id))
    assert c.recv_all(0.3) == []
    # UNSUBSCRIBE: UNSUBACK, and nothing more comes.
    c.send(SN.unsubscribe("room/1/temp", 4))
    assert c.expect(SN.UNSUBACK).msg_id == 4
    pub.publish("room/1/temp", b"22", qos=0)
    assert c.recv_all(0.3) == []


def test_a_wildcard_subscription_registers_each_new_topic_before_its_publish(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-wild")
    sa = c.subscribe("dev/+/state", msg_id=1, qos=0)
    assert sa.rc == SN.ACCEPTED and sa.topic_id == 0  # 5.4.16: 0x0000 for a wildcard
    pub = connected(b, "m-pub2", V311)
    pub.publish("dev/a/state", b"on", qos=0)
    pub.publish("dev/a/state", b"off", qos=0)
    reg = c.expect(SN.REGISTER)
    assert reg.name == "dev/a/state" and reg.topic_id != 0
    # 6.10: the PUBLISH waits for the REGACK.
    assert c.recv_all(0.4) == []
    c.send(SN.regack(reg.topic_id, reg.msg_id))
    got = [c.expect(SN.PUBLISH) for _ in range(2)]
    assert [(p.topic, p.data) for p in got] == [(reg.topic_id, b"on"), (reg.topic_id, b"off")]
    # A second topic: another REGISTER, another id.
    pub.publish("dev/b/state", b"x", qos=0)
    reg2 = c.expect(SN.REGISTER)
    assert reg2.name == "dev/b/state" and reg2.topic_id != reg.topic_id
    c.send(SN.regack(reg2.topic_id, reg2.msg_id))
    assert c.expect(SN.PUBLISH).data == b"x"


def test_a_refused_register_drops_what_waited_for_it(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-refuse")
    c.subscribe("r/#", msg_id=1)
    pub = connected(b, "m-pub3", V311)
    pub.publish("r/1", b"one", qos=0)
    reg = c.expect(SN.REGISTER)
    c.send(SN.regack(reg.topic_id, reg.msg_id, SN.INVALID_TOPIC_ID))
    assert c.recv_all(0.4) == []
    pub.publish("r/1", b"two", qos=0)
    reg2 = c.expect(SN.REGISTER)  # registered again for the next one
    c.send(SN.regack(reg2.topic_id, reg2.msg_id))
    assert c.expect(SN.PUBLISH).data == b"two"


def test_predefined_ids_and_short_names_both_ways(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub2", "#", 0)
    c = SN.connected(port, "sn-pre")
    sa = c.subscribe(2, msg_id=1, topic_type=SN.PREDEFINED)
    assert sa.rc == SN.ACCEPTED and sa.topic_id == 2
    sa = c.subscribe("ab", msg_id=2, topic_type=SN.SHORT)
    assert sa.rc == SN.ACCEPTED
    c.send(SN.publish(1, b"p1", topic_type=SN.PREDEFINED))
    c.send(SN.publish("xy", b"s1", topic_type=SN.SHORT))
    got = sub.recv_publishes(2, timeout=5)
    assert sorted((p.topic, p.payload) for p in got) == [("pre/one", b"p1"), ("xy", b"s1")]
    pub = connected(b, "m-pub4", V311)
    pub.publish("pre/two", b"to-pre", qos=0)
    pub.publish("ab", b"to-short", qos=0)
    got = [c.expect(SN.PUBLISH) for _ in range(2)]
    assert sorted((p.topic_type, str(p.topic), p.data) for p in got) == [
        (SN.PREDEFINED, "2", b"to-pre"), (SN.SHORT, "ab", b"to-short")]
    # An unknown pre-defined id: refused.
    assert c.subscribe(77, msg_id=3, topic_type=SN.PREDEFINED).rc == SN.INVALID_TOPIC_ID


def test_qos_minus_one_from_a_client_that_never_connected(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub3", "#", 0)
    c = SN.SnClient("127.0.0.1", port)
    c.send(SN.publish(1, b"m1", qos=-1, topic_type=SN.PREDEFINED))
    c.send(SN.publish("zz", b"m2", qos=-1, topic_type=SN.SHORT))
    c.send(SN.publish(500, b"normal id: not usable", qos=-1))
    got = sub.recv_publishes(2, timeout=5)
    assert sorted((p.topic, p.payload, p.qos) for p in got) == [("pre/one", b"m1", 0),
                                                                ("zz", b"m2", 0)]
    assert [p for p in sub.recv_all(0.3) if p.type == R.PUBLISH] == []
    assert c.recv_all(0.2) == []  # QoS -1 is never answered


def test_qos_minus_one_is_refused_when_enable_qos3_is_off(make_broker):
    b, port = gateway(make_broker, gw_extra="enable_qos3 = false")
    sub = mqtt_sub(b, "m-sub4", "#", 0)
    c = SN.SnClient("127.0.0.1", port)
    c.send(SN.publish(1, b"m1", qos=-1, topic_type=SN.PREDEFINED))
    assert [p for p in sub.recv_all(0.5) if p.type == R.PUBLISH] == []


def test_the_will_dialogue_and_the_will_of_a_lost_client(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-will", "will/#", 1)
    c = SN.SnClient("127.0.0.1", port)
    assert c.connect("sn-will", duration=1, will=("will/sn", b"gone", 1, False)) == SN.ACCEPTED
    # Silence past the keep alive (1 s x 1.5): lost; its will is published.
    p = sub.expect(R.PUBLISH, timeout=5)
    assert (p.topic, p.payload, p.qos) == ("will/sn", b"gone", 1)


def test_an_empty_willtopic_means_no_will(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-will2", "#", 0)
    c = SN.SnClient("127.0.0.1", port)
    c.send(SN.connect("sn-nowill", duration=1, will=True))
    c.expect(SN.WILLTOPICREQ)
    c.send(SN.frame(SN.WILLTOPIC))
    assert c.expect(SN.CONNACK).rc == SN.ACCEPTED
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/sn-nowill")[0] == 404, 5)
    assert [p for p in sub.recv_all(0.3) if p.type == R.PUBLISH] == []


def test_will_updates_change_what_is_published(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-will3", "will/#", 1)
    c = SN.SnClient("127.0.0.1", port)
    assert c.connect("sn-willupd", duration=2, will=("will/old", b"old", 0, False)) == SN.ACCEPTED
    c.send(SN.willtopicupd("will/new", qos=1))
    assert c.expect(SN.WILLTOPICRESP).rc == SN.ACCEPTED
    c.send(SN.willmsgupd(b"new"))
    assert c.expect(SN.WILLMSGRESP).rc == SN.ACCEPTED
    p = sub.expect(R.PUBLISH, timeout=8)
    assert (p.topic, p.payload, p.qos) == ("will/new", b"new", 1)


def test_a_sleeping_client_gets_what_waited_when_it_wakes(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-sleep", clean=False)
    tid = c.subscribe("sleep/t", msg_id=1, qos=1).topic_id
    c.send(SN.disconnect(duration=30))
    assert c.expect(SN.DISCONNECT).duration is None
    pub = connected(b, "m-pub5", V311)
    for i in range(3):
        pub.publish("sleep/t", b"m%d" % i, qos=1, pid=i + 1)
    # 6.14: nothing is sent to a sleeping client.
    assert c.recv_all(0.5) == []
    # The client is still there, asleep (its session is connected).
    client = get_json(b, "/api/v5/clients/sn-sleep")
    assert client["connected"] is True and client["mqueue_len"] == 3
    c.send(SN.pingreq("sn-sleep"))
    got = []
    while True:
        m = c.recv(3)
        if m.type == SN.PINGRESP:
            break
        assert m.type == SN.PUBLISH, m
        got.append(m)
        c.send(SN.puback(m.topic, m.msg_id))
    assert [(m.topic, m.data, m.qos) for m in got] == [(tid, b"m0", 1), (tid, b"m1", 1),
                                                      (tid, b"m2", 1)]
    # Asleep again: the next message waits for the next wake.
    pub.publish("sleep/t", b"later", qos=1, pid=9)
    assert c.recv_all(0.5) == []
    assert wait_for(lambda: get_json(b, "/api/v5/clients/sn-sleep")["inflight_cnt"] == 0)
    c.send(SN.pingreq("sn-sleep"))
    m = c.expect(SN.PUBLISH)
    assert m.data == b"later"
    c.send(SN.puback(m.topic, m.msg_id))
    c.expect(SN.PINGRESP)
    # A CONNECT makes it active again: messages flow at once (a new connection: its topic
    # ids are registered again first).
    assert c.connect("sn-sleep", clean=False) == SN.ACCEPTED
    pub.publish("sleep/t", b"awake", qos=0)
    reg = c.expect(SN.REGISTER)
    assert reg.name == "sleep/t"
    c.send(SN.regack(reg.topic_id, reg.msg_id))
    m = c.expect(SN.PUBLISH)
    assert (m.topic, m.data) == (reg.topic_id, b"awake")


def test_authorization_denies_subscribe_and_publish(make_broker, tmp_path):
    acl = tmp_path / "acl.conf"
    acl.write_text('{deny, all, subscribe, ["secret/#"]}.\n'
                   '{deny, all, publish, ["secret/#"]}.\n{allow, all}.\n')
    b, port = gateway(make_broker, extra='authorization { no_match = allow\n'
                      '  sources = [{type = file, path = "%s"}] }\n' % acl)
    sub = mqtt_sub(b, "m-sub6", "#", 1)
    c = SN.connected(port, "sn-acl")
    assert c.subscribe("secret/x", msg_id=1).rc != SN.ACCEPTED
    assert c.subscribe("open/x", msg_id=2).rc == SN.ACCEPTED
    tid = c.register("secret/y", msg_id=3).topic_id
    c.send(SN.publish(tid, b"leak", qos=1, msg_id=4))
    c.expect(SN.PUBACK)
    assert [p for p in sub.recv_all(0.4) if p.type == R.PUBLISH] == []
    m = get_json(b, "/api/v5/metrics")[0]
    assert m["authorization.deny"] >= 2


def test_authentication_uses_the_node_chain_and_clientinfo_override(make_broker, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("user_id,password,is_superuser\nsensor,s3cret,false\n")
    chain = ('authentication = [{mechanism = password_based, backend = built_in_database,'
             ' user_id_type = username, password_hash_algorithm {name = sha256},'
             ' bootstrap_file = "%s", bootstrap_type = plain}]\n' % users)
    b, port = gateway(make_broker, extra=chain)
    c = SN.SnClient("127.0.0.1", port)
    assert c.connect("no-creds") != SN.ACCEPTED  # MQTT-SN has no password: refused
    b2, port2 = gateway(make_broker, extra=chain, gw_extra=(
        'clientinfo_override { username = "sensor", password = "s3cret" }'))
    c2 = SN.SnClient("127.0.0.1", port2)
    assert c2.connect("with-override") == SN.ACCEPTED
    assert "s3cret" not in b2.read_log()
    # enable_authn = false on the listener lets it in without credentials.
    b3, port3 = gateway(make_broker, extra=chain, listener_extra="enable_authn = false")
    assert SN.SnClient("127.0.0.1", port3).connect("anon") == SN.ACCEPTED


def test_mountpoint_prefixes_topics_both_ways(make_broker):
    b, port = gateway(make_broker, gw_extra='mountpoint = "sn/${clientid}/"')
    sub = mqtt_sub(b, "m-sub7", "sn/#", 0)
    c = SN.connected(port, "dev9")
    tid = c.register("up").topic_id
    c.send(SN.publish(tid, b"hello"))
    p = sub.expect(R.PUBLISH)
    assert (p.topic, p.payload) == ("sn/dev9/up", b"hello")
    sa = c.subscribe("down", msg_id=2)
    pub = connected(b, "m-pub8", V311)
    pub.publish("sn/dev9/down", b"cmd", qos=0)
    m = c.expect(SN.PUBLISH)
    assert (m.topic, m.data) == (sa.topic_id, b"cmd")


def test_api_and_ctl_show_the_gateway_and_its_clients(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-api")
    connected(b, "mqtt-api", V311)
    gws = {g["name"]: g for g in get_json(b, "/api/v5/gateways")}
    assert gws["mqttsn"]["status"] == "running"
    assert gws["mqttsn"]["current_connections"] == 1
    assert gws["mqttsn"]["listeners"] == [{"id": "mqttsn:udp:default", "type": "udp",
                                           "name": "default", "running": True}]
    assert gws["stomp"] == {"name": "stomp", "status": "unloaded"}
    gw = get_json(b, "/api/v5/gateways/mqttsn")
    assert gw["gateway_id"] == 7 and gw["predefined"] == [{"id": 1, "topic": "pre/one"},
                                                          {"id": 2, "topic": "pre/two"}]
    ls = get_json(b, "/api/v5/gateways/mqttsn/listeners")
    assert ls[0]["bind"] == "127.0.0.1:%d" % port and ls[0]["current_connections"] == 1
    page = get_json(b, "/api/v5/gateways/mqttsn/clients")
    assert [x["clientid"] for x in page["data"]] == ["sn-api"]
    assert page["data"][0]["proto_name"] == "MQTT-SN" and page["data"][0]["proto_ver"] == "1.2"
    assert page["data"][0]["listener"] == "udp:default"
    one = get_json(b, "/api/v5/gateways/mqttsn/clients/sn-api")
    assert one["clientid"] == "sn-api"
    assert call(b, "GET", "/api/v5/gateways/mqttsn/clients/mqtt-api")[0] == 404
    assert call(b, "GET", "/api/v5/gateways/nope")[0] == 404
    every = {x["clientid"]: x for x in get_json(b, "/api/v5/clients")["data"]}
    assert every["sn-api"]["proto_name"] == "MQTT-SN" and every["mqtt-api"]["proto_name"] == "MQTT"
    r = ctl(b, "clients", "list")
    assert r.returncode == 0, r.stderr
    line = [x for x in r.stdout.splitlines() if x.startswith("Client(sn-api,")]
    assert len(line) == 1 and "proto_name=MQTT-SN" in line[0], r.stdout
    # DELETE kicks it: the client is told with DISCONNECT.
    assert call(b, "DELETE", "/api/v5/gateways/mqttsn/clients/sn-api")[0] == 204
    c.wait_for(SN.DISCONNECT)
    assert wait_for(lambda: get_json(b, "/api/v5/gateways/mqttsn/clients")["data"] == [])


def test_bad_datagrams_are_dropped_and_everyone_carries_on(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub9", "#", 0)
    good = SN.connected(port, "sn-good")
    tid = good.register("ok/t").topic_id
    noise = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        for junk in [b"", b"\x05", b"\x02\xff", b"\x03\x0c\x00", b"\x01\x00\x05\x0c\x00",
                     b"\xff" * 300, bytes(range(256)), SN.connect("x")[:-1] + b"\x00\x00"]:
            noise.sendto(junk, ("127.0.0.1", port))
    finally:
        noise.close()
    good.send(SN.publish(tid, b"still here"))
    p = sub.expect(R.PUBLISH)
    assert p.payload == b"still here"
    assert b.alive()


def test_a_peer_that_is_not_connected_is_told_to_connect(make_broker):
    b, port = gateway(make_broker)
    c = SN.SnClient("127.0.0.1", port)
    c.send(SN.publish(1, b"x", qos=1, msg_id=1))
    c.expect(SN.DISCONNECT)
    c.send(SN.pingreq())
    c.expect(SN.DISCONNECT)


def test_a_new_connect_from_the_same_address_replaces_the_old(make_broker):
    b, port = gateway(make_broker)
    c = SN.connected(port, "sn-again", clean=False)
    c.subscribe("again/t", msg_id=1, qos=1)
    assert c.connect("sn-again", clean=False) == SN.ACCEPTED
    pub = connected(b, "m-pub10", V311)
    pub.publish("again/t", b"after", qos=1, pid=1)
    # The session came along (clean = false): its subscription still delivers; its topic
    # ids did not (a new connection), so the gateway registers the topic first.
    reg = c.wait_for(SN.REGISTER)
    c.send(SN.regack(reg.topic_id, reg.msg_id))
    assert c.expect(SN.PUBLISH).data == b"after"
    assert len(get_json(b, "/api/v5/gateways/mqttsn/clients")["data"]) == 1


def test_max_connections_refuses_the_next_client(make_broker):
    b, port = gateway(make_broker, listener_extra="max_connections = 1")
    SN.connected(port, "first")
    c = SN.SnClient("127.0.0.1", port)
    c.send(SN.connect("second"))
    assert c.expect(SN.CONNACK).rc == SN.CONGESTION


@pytest.mark.parametrize("text,expect", [
    ('gateway.exproto { }', "gateway.exproto"),
    ('gateway.mqttsn { broadcast = true }', "gateway.mqttsn.broadcast"),
    ('gateway.mqttsn { predefined = [{id = 1, topic = "a"}, {id = 1, topic = "b"}] }',
     "predefined[2].id"),
    ('gateway.mqttsn { predefined = [{id = 0, topic = "a"}] }', "predefined[1].id"),
    ('gateway.mqttsn { predefined = [{id = 3, topic = "a/#"}] }', "predefined[1].topic"),
    ('gateway.mqttsn { listeners.dtls.default { bind = 5684 } }', "gateway.mqttsn.listeners.dtls"),
    ('gateway.mqttsn { nope = 1 }', "gateway.mqttsn.nope"),
    ('gateway.mqttsn { gateway_id = 300 }', "gateway.mqttsn.gateway_id"),
])
def test_bad_gateway_config_stops_start_up(tmp_path, text, expect):
    err = config_refused(tmp_path, text)
    assert expect in err, err


def test_a_udp_port_in_use_stops_start_up(tmp_path):
    from conftest import start_refused
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    try:
        # emqxd must exit by itself, naming the listener and the address.
        out = start_refused(tmp_path, {
            "EMQX_GATEWAY__MQTTSN__LISTENERS__UDP__DEFAULT__BIND": "127.0.0.1:%d" % port})
        assert "udp:default" in out and "127.0.0.1:%d" % port in out, out
    finally:
        holder.close()


def test_a_client_without_a_keep_alive_is_held_for_idle_timeout_only(make_broker):
    # Duration 0 is no keep alive in MQTT's terms; over UDP nothing else would ever notice a
    # client that went away, so the gateway's idle_timeout stands in.
    b, port = gateway(make_broker, gw_extra="idle_timeout = 1s")
    SN.connected(port, "sn-zero", duration=0)
    assert get_json(b, "/api/v5/clients/sn-zero")["keepalive"] == 1
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/sn-zero")[0] == 404, 5)
