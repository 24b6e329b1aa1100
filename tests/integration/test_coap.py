"""The CoAP gateway (gateway.coap; docs/gateways.md) through a real emqxd, driven by a real
client (coap-client from Debian's libcoap3-bin) and, where the bytes matter, by raw UDP
datagrams built as RFC 7252 section 3 lays them out, with MQTT clients on the same broker.
"""
import socket
import struct
import subprocess
import time

import pytest

import rawmqtt as R
from conftest import config_refused, wait_for
from rawmqtt import V311, connected
from test_api import call, get_json
from ports import free_udp_port

COAP = "coap-client-notls"


def gateway(make_broker, extra="", gw_extra="", listener_extra=""):
    port = free_udp_port()
    conf = ('gateway.coap {\n  %s\n  listeners.udp.default { bind = "127.0.0.1:%d"\n %s }\n}\n%s'
            % (gw_extra, port, listener_extra, extra))
    return make_broker(config_text=conf), port


def coap(port, method, path, payload=None, extra=(), timeout=20):
    """coap-client, to its end: (returncode, stdout, stderr)."""
    cmd = [COAP, "-m", method, "-B", "5"] + list(extra)
    if payload is not None:
        cmd += ["-e", payload]
    cmd.append("coap://127.0.0.1:%d/%s" % (port, path))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def observe(port, path, seconds, extra=()):
    """coap-client observing `path` for `seconds`, in the background."""
    cmd = [COAP, "-m", "get", "-s", str(seconds), "-w"] + list(extra) + [
        "coap://127.0.0.1:%d/%s" % (port, path)]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def mqtt_sub(b, cid, topic, qos=1):
    s = connected(b, cid, V311)
    assert s.subscribe([(topic, qos)]) == [qos]
    return s


def wait_subscribed(b, clientid, topic):
    def have():
        st, _, body = call(b, "GET", "/api/v5/clients/%s/subscriptions" % clientid)
        return st == 200 and topic in body.decode()
    assert wait_for(have, 10)


# --- raw CoAP (RFC 7252 3)

def message(mtype, code, mid, token=b"", options=(), payload=b""):
    out = bytes([0x40 | mtype << 4 | len(token), code]) + struct.pack(">H", mid) + token
    prev = 0
    for number, value in sorted(options, key=lambda o: o[0]):
        delta, length = number - prev, len(value)
        def nib(v):
            return v if v < 13 else (13 if v < 269 else 14)
        def ext(v):
            return b"" if v < 13 else (bytes([v - 13]) if v < 269 else struct.pack(">H", v - 269))
        out += bytes([nib(delta) << 4 | nib(length)]) + ext(delta) + ext(length) + value
        prev = number
    if payload:
        out += b"\xff" + payload
    return out


def parse(d):
    tkl = d[0] & 0x0F
    return {"type": (d[0] >> 4) & 3, "code": d[1], "id": struct.unpack(">H", d[2:4])[0],
            "token": d[4:4 + tkl], "rest": d[4 + tkl:]}


def uri(path, query=()):
    return [(11, seg.encode()) for seg in path.split("/")] + [(15, q.encode()) for q in query]


CON, NON, ACK, RST = 0, 1, 2, 3
POST, GET = 2, 1
CHANGED, CONTENT = 0x44, 0x45


class Raw:
    def __init__(self, port):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.addr = ("127.0.0.1", port)

    def send(self, data):
        self.s.sendto(data, self.addr)

    def recv(self, timeout=5):
        self.s.settimeout(timeout)
        return parse(self.s.recvfrom(65536)[0])

    def silent(self, timeout=0.4):
        self.s.settimeout(timeout)
        try:
            self.s.recvfrom(65536)
            return False
        except socket.timeout:
            return True


# --- tests

def test_post_and_put_publish_with_qos_from_the_message_type(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub", "coap/#", 2)
    rc, out, err = coap(port, "post", "ps/coap/con?clientid=c1", "con-payload")
    assert rc == 0, err
    rc, out, err = coap(port, "put", "ps/coap/non?clientid=c1", "non-payload", extra=["-N"])
    assert rc == 0, err
    rc, out, err = coap(port, "post", "ps/coap/q2?clientid=c1&qos=2&retain=true", "q2")
    assert rc == 0, err
    got = {p.topic: p for p in sub.recv_publishes(3, timeout=5)}
    assert got["coap/con"].payload == b"con-payload" and got["coap/con"].qos == 1  # CON: QoS 1
    assert got["coap/non"].qos == 0  # NON: QoS 0 (publish_qos = coap)
    assert got["coap/q2"].qos == 1  # QoS 2 is taken as 1 (docs/gateways.md)
    # The retained one is kept.
    late = mqtt_sub(b, "m-late", "coap/q2")
    p = late.expect(R.PUBLISH)
    assert p.retain and p.payload == b"q2"


def test_observe_delivers_notifications_and_con_ones_are_acknowledged(make_broker):
    b, port = gateway(make_broker)
    obs = observe(port, "ps/down/+?clientid=obs1", 4)
    wait_subscribed(b, "obs1", "down/+")
    pub = connected(b, "m-pub", V311)
    pub.publish("down/a", b"first", qos=1, pid=1)  # a CON notification (notify_type qos)
    pub.publish("down/b", b"second", qos=0)        # a NON one
    assert wait_for(lambda: get_json(b, "/api/v5/clients/obs1")["inflight_cnt"] == 0, 5)
    out, err = obs.communicate(timeout=20)
    assert [x for x in out.split("\n") if x] == ["first", "second"], (out, err)


def test_an_observation_ends_when_the_client_resets_a_notification(make_broker):
    b, port = gateway(make_broker)
    obs = observe(port, "ps/gone/t?clientid=obs2", 1)
    wait_subscribed(b, "obs2", "gone/t")
    obs.communicate(timeout=20)  # coap-client has gone
    pub = connected(b, "m-pub2", V311)
    # The next notification finds nobody: an RST (or no ACK at all) ends the observation,
    # and the gateway unsubscribes.
    pub.publish("gone/t", b"x", qos=0)

    def unsubscribed():
        st, _, body = call(b, "GET", "/api/v5/clients/obs2/subscriptions")
        return st == 404 or "gone/t" not in body.decode()
    assert wait_for(unsubscribed, 10)


def test_authorization_refuses_with_4_03(make_broker, tmp_path):
    acl = tmp_path / "acl.conf"
    acl.write_text('{deny, all, publish, ["secret/#"]}.\n{deny, all, subscribe, ["secret/#"]}.\n'
                   '{allow, all}.\n')
    b, port = gateway(make_broker, extra='authorization { no_match = allow\n'
                      '  sources = [{type = file, path = "%s"}] }\n' % acl)
    sub = mqtt_sub(b, "m-sub3", "#", 1)
    r = Raw(port)
    r.send(message(CON, POST, 0x1001, b"t1", uri("ps/secret/x", ["clientid=acl1"]), b"leak"))
    m = r.recv()
    assert (m["type"], m["code"], m["id"], m["token"]) == (ACK, 0x83, 0x1001, b"t1")  # 4.03
    r.send(message(CON, GET, 0x1002, b"t2", uri("ps/secret/#", ["clientid=acl1"]) + [(6, b"")]))
    m = r.recv()
    assert (m["code"], m["token"]) == (0x83, b"t2")
    assert [p for p in sub.recv_all(0.3) if p.type == R.PUBLISH] == []


def test_connection_mode_tokens_heartbeats_and_disconnect(make_broker, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("user_id,password,is_superuser\nsensor,s3cret,false\n")
    b, port = gateway(make_broker, gw_extra="connection_required = true\n heartbeat = 30s",
                      extra=('authentication = [{mechanism = password_based, backend = '
                             'built_in_database, user_id_type = username, password_hash_algorithm '
                             '{name = sha256}, bootstrap_file = "%s", bootstrap_type = plain}]\n'
                             'listeners.tcp.default.enable_authn = false\n' % users))
    sub = mqtt_sub(b, "m-sub4", "cm/#", 1)
    # Wrong password: 4.01.
    r = Raw(port)
    r.send(message(CON, POST, 1, b"a", uri("mqtt/connection",
                                          ["clientid=dev1", "username=sensor", "password=no"])))
    assert r.recv()["code"] == 0x81
    # Right: 2.01 and the token in the payload.
    r2 = Raw(port)
    r2.send(message(CON, POST, 2, b"b", uri("mqtt/connection",
                                           ["clientid=dev2", "username=sensor",
                                            "password=s3cret"])))
    m = r2.recv()
    assert m["code"] == 0x41 and m["rest"].startswith(b"\xff")
    token = m["rest"][1:].decode()
    # Without the token: 4.01; with it: published.
    r2.send(message(CON, POST, 3, b"c", uri("ps/cm/x", ["clientid=dev2"]), b"no"))
    assert r2.recv()["code"] == 0x81
    r2.send(message(CON, POST, 4, b"d", uri("ps/cm/x", ["clientid=dev2", "token=" + token]), b"yes"))
    assert r2.recv()["code"] == CHANGED
    p = sub.expect(R.PUBLISH)
    assert (p.topic, p.payload) == ("cm/x", b"yes")
    assert "s3cret" not in b.read_log()
    # Heartbeat: 2.04; DELETE: 2.02, and the client is gone.
    r2.send(message(CON, 3, 5, b"e", uri("mqtt/connection", ["clientid=dev2", "token=" + token])))
    assert r2.recv()["code"] == CHANGED
    assert get_json(b, "/api/v5/clients/dev2")["connected"] is True
    r2.send(message(CON, 4, 6, b"f", uri("mqtt/connection", ["clientid=dev2", "token=" + token])))
    assert r2.recv()["code"] == 0x42
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/dev2")[0] == 404)


def test_block_wise_transfers_both_ways(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub5", "big/#", 1)
    body = "".join("%04d" % i for i in range(750))  # 3000 octets
    rc, out, err = coap(port, "post", "ps/big/up?clientid=blk1", body, extra=["-b", "64"])
    assert rc == 0, err
    p = sub.expect(R.PUBLISH)
    assert p.payload == body.encode()  # put back together from 47 Block1 blocks
    obs = observe(port, "ps/big/down?clientid=blk2", 4)
    wait_subscribed(b, "blk2", "big/down")
    pub = connected(b, "m-pub6", V311)
    pub.publish("big/down", body.encode(), qos=0)
    out, err = obs.communicate(timeout=20)
    assert body in out, (out[:200], err)  # coap-client fetched the Block2 blocks


def test_pings_duplicates_and_bad_datagrams(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub7", "dup/#", 1)
    r = Raw(port)
    r.send(message(CON, 0, 0x2222))  # CoAP ping
    m = r.recv()
    assert (m["type"], m["code"], m["id"]) == (RST, 0, 0x2222)
    req = message(CON, POST, 0x3333, b"tk", uri("ps/dup/x", ["clientid=dup"]), b"once")
    r.send(req)
    first = r.recv()
    r.send(req)  # a retransmission: the same answer, not a second publish
    again = r.recv()
    assert first == again and first["code"] == CHANGED
    assert [p.payload for p in sub.recv_all(0.5) if p.type == R.PUBLISH] == [b"once"]
    # A CON with a format error: RST; garbage: dropped; the node carries on.
    r.send(bytes([0x40, 0x01, 0x44, 0x55, 0xff]))
    assert r.recv()["type"] == RST
    r.send(b"\x00\x01")
    r.send(bytes([0x80, 1, 2, 3]))
    assert r.silent()
    r.send(message(NON, POST, 0x4444, b"n", uri("ps/dup/y", ["clientid=dup"]), b"still"))
    m = r.recv()
    assert (m["type"], m["code"], m["token"]) == (NON, CHANGED, b"n")
    assert sub.expect(R.PUBLISH).payload == b"still"
    # Unknown resources and methods.
    r.send(message(CON, GET, 0x5555, b"u", uri("nothing/here")))
    assert r.recv()["code"] == 0x84  # 4.04
    r.send(message(CON, GET, 0x5556, b"v", uri("ps/dup/x", ["clientid=dup"])))
    assert r.recv()["code"] == 0x85  # 4.05: GET without Observe


def test_api_lists_coap_clients(make_broker):
    b, port = gateway(make_broker)
    rc, _, err = coap(port, "post", "ps/api/x?clientid=coap-api", "x")
    assert rc == 0, err
    gws = {g["name"]: g for g in get_json(b, "/api/v5/gateways")}
    assert gws["coap"]["status"] == "running" and gws["coap"]["current_connections"] == 1
    page = get_json(b, "/api/v5/gateways/coap/clients")
    assert [x["clientid"] for x in page["data"]] == ["coap-api"]
    assert page["data"][0]["proto_name"] == "CoAP"
    gw = get_json(b, "/api/v5/gateways/coap")
    assert gw["connection_required"] is False and gw["notify_type"] == "qos"


@pytest.mark.parametrize("text,expect", [
    ('gateway.coap { notify_type = sometimes }', "gateway.coap.notify_type"),
    ('gateway.coap { publish_qos = qos3 }', "gateway.coap.publish_qos"),
    ('gateway.coap { listeners.dtls.default { bind = 5684 } }', "gateway.coap.listeners.dtls"),
    ('gateway.coap { heartbeat = 0s }', "gateway.coap.heartbeat"),
])
def test_bad_coap_config_stops_start_up(tmp_path, text, expect):
    err = config_refused(tmp_path, text)
    assert expect in err, err


def test_a_refused_address_gets_a_bare_5_03(make_broker):
    b, port = gateway(make_broker, listener_extra="max_connections = 1")
    first = Raw(port)
    first.send(message(CON, POST, 1, b"a", uri("ps/x", ["clientid=one"]), b"1"))
    assert first.recv()["code"] == CHANGED
    second = Raw(port)
    second.send(message(CON, POST, 2, b"b", uri("ps/x", ["clientid=two"]), b"2"))
    m = second.recv()
    # 5.03, and no text: the source may be forged, and the answer is no larger than the ask.
    assert (m["type"], m["code"], m["token"], m["rest"]) == (ACK, 0xa3, b"b", b"")
