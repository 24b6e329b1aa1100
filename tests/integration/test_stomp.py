"""The STOMP gateway (gateway.stomp; docs/gateways.md) through a real emqxd, driven by a
real client (Debian's python3-stomp, stomp.py 8) and, where the bytes matter, by a raw
socket, with MQTT clients on the same broker. Checked against the STOMP 1.2
specification's frames and EMQX's behaviour (an ERROR frame and the end of the connection
for what authorization refuses)."""
import socket
import threading
import time

import pytest
import stomp

import rawmqtt as R
from conftest import config_refused, free_port, wait_for
from rawmqtt import V311, connected
from test_api import call, get_json


def gateway(make_broker, extra="", gw_extra="", listener_extra=""):
    port = free_port()
    conf = ('gateway.stomp {\n  %s\n  listeners.tcp.default { bind = "127.0.0.1:%d"\n %s }\n}\n%s'
            % (gw_extra, port, listener_extra, extra))
    return make_broker(config_text=conf), port


class Frames(stomp.ConnectionListener):
    """Every frame the client gets, with bounded waits."""

    def __init__(self):
        self.cond = threading.Condition()
        self.messages, self.receipts, self.errors = [], [], []
        self.heartbeats = 0
        self.disconnected = False

    def _add(self, where, frame):
        with self.cond:
            where.append(frame)
            self.cond.notify_all()

    def on_message(self, frame):
        self._add(self.messages, frame)

    def on_receipt(self, frame):
        self._add(self.receipts, frame)

    def on_error(self, frame):
        self._add(self.errors, frame)

    def on_heartbeat(self):
        with self.cond:
            self.heartbeats += 1
            self.cond.notify_all()

    def on_disconnected(self):
        with self.cond:
            self.disconnected = True
            self.cond.notify_all()

    def wait(self, cond, timeout=5.0):
        with self.cond:
            assert self.cond.wait_for(cond, timeout), "timed out"


_conns = []


@pytest.fixture(autouse=True)
def _close_stomp():
    yield
    while _conns:
        c = _conns.pop()
        try:
            if c.is_connected():
                c.disconnect()
        except Exception:
            pass


def client(port, client_id=None, login=None, passcode=None, heartbeats=(0, 0), wait=True):
    c = stomp.Connection12([("127.0.0.1", port)], heartbeats=heartbeats, auto_content_length=True)
    f = Frames()
    c.set_listener("t", f)
    headers = {"client-id": client_id} if client_id else {}
    c.connect(login, passcode, wait=wait, headers=headers)
    _conns.append(c)
    return c, f


def mqtt_sub(b, cid, topic, qos=1):
    s = connected(b, cid, V311)
    assert s.subscribe([(topic, qos)]) == [qos]
    return s


def test_send_with_receipt_reaches_mqtt_and_mqtt_reaches_a_subscription(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub", "st/#")
    c, f = client(port, "stomp-1")
    c.send(destination="st/a", body="hello", headers={"receipt": "r1"})
    f.wait(lambda: f.receipts)
    assert f.receipts[0].headers["receipt-id"] == "r1"
    p = sub.expect(R.PUBLISH)
    assert (p.topic, p.payload) == ("st/a", b"hello")

    c.subscribe(destination="down/+", id="s1", ack="auto", headers={"receipt": "r2"})
    f.wait(lambda: len(f.receipts) == 2)
    pub = connected(b, "m-pub", V311)
    pub.publish("down/x", b"to stomp\x00with a NUL", qos=1, pid=1)
    f.wait(lambda: f.messages)
    m = f.messages[0]
    assert m.headers["destination"] == "down/x" and m.headers["subscription"] == "s1"
    assert "message-id" in m.headers and "ack" not in m.headers
    assert m.body == "to stomp\x00with a NUL"  # content-length carries the NUL


def test_client_individual_ack_settles_each_message(make_broker):
    b, port = gateway(make_broker)
    c, f = client(port, "stomp-ack")
    c.subscribe(destination="q/1", id="s1", ack="client-individual", headers={"receipt": "r"})
    f.wait(lambda: f.receipts)
    pub = connected(b, "m-pub2", V311)
    pub.publish("q/1", b"one", qos=1, pid=1)
    pub.publish("q/1", b"two", qos=1, pid=2)
    f.wait(lambda: len(f.messages) == 2)
    acks = [m.headers["ack"] for m in f.messages]
    assert wait_for(lambda: get_json(b, "/api/v5/clients/stomp-ack")["inflight_cnt"] == 2)
    c.ack(acks[1])  # only the second
    assert wait_for(lambda: get_json(b, "/api/v5/clients/stomp-ack")["inflight_cnt"] == 1)
    c.nack(acks[0])  # NACK settles it too (as EMQX)
    assert wait_for(lambda: get_json(b, "/api/v5/clients/stomp-ack")["inflight_cnt"] == 0)


def test_client_ack_is_cumulative(make_broker):
    b, port = gateway(make_broker)
    c, f = client(port, "stomp-cum")
    c.subscribe(destination="q/2", id="s1", ack="client", headers={"receipt": "r"})
    f.wait(lambda: f.receipts)
    pub = connected(b, "m-pub3", V311)
    for i in range(3):
        pub.publish("q/2", b"m%d" % i, qos=1, pid=i + 1)
    f.wait(lambda: len(f.messages) == 3)
    assert wait_for(lambda: get_json(b, "/api/v5/clients/stomp-cum")["inflight_cnt"] == 3)
    c.ack(f.messages[1].headers["ack"])  # the first two
    assert wait_for(lambda: get_json(b, "/api/v5/clients/stomp-cum")["inflight_cnt"] == 1)


def test_transactions_hold_sends_until_commit_and_drop_them_on_abort(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub2", "tx/#")
    c, f = client(port, "stomp-tx")
    c.begin("t1")
    c.send(destination="tx/a", body="1", transaction="t1")
    c.send(destination="tx/a", body="2", transaction="t1")
    assert [p for p in sub.recv_all(0.4) if p.type == R.PUBLISH] == []
    c.commit("t1")
    got = sub.recv_publishes(2, timeout=5)
    assert [p.payload for p in got] == [b"1", b"2"]
    c.begin("t2")
    c.send(destination="tx/a", body="never", transaction="t2")
    c.abort("t2")
    c.send(destination="tx/a", body="after", headers={"receipt": "r"})
    f.wait(lambda: f.receipts)
    assert [p.payload for p in sub.recv_all(0.4) if p.type == R.PUBLISH] == [b"after"]
    # A transaction that does not exist: ERROR, and (STOMP 1.2) the connection ends.
    c.commit("nope")
    f.wait(lambda: f.errors)
    assert "nope" in f.errors[0].headers["message"]
    f.wait(lambda: f.disconnected)


def test_authorization_denies_a_subscribe_and_a_send_with_error_frames(make_broker, tmp_path):
    acl = tmp_path / "acl.conf"
    acl.write_text('{deny, all, subscribe, ["secret/#"]}.\n'
                   '{deny, all, publish, ["secret/#"]}.\n{allow, all}.\n')
    b, port = gateway(make_broker, extra='authorization { no_match = allow\n'
                      '  sources = [{type = file, path = "%s"}] }\n' % acl)
    c, f = client(port, "stomp-acl1")
    c.subscribe(destination="secret/x", id="s1", headers={"receipt": "r"})
    f.wait(lambda: f.errors)
    e = f.errors[0]
    assert "Insufficient permissions" in e.headers["message"] and e.headers["receipt-id"] == "r"
    f.wait(lambda: f.disconnected)
    sub = mqtt_sub(b, "m-sub3", "#")
    c2, f2 = client(port, "stomp-acl2")
    c2.send(destination="secret/y", body="leak")
    f2.wait(lambda: f2.errors)
    assert "Insufficient permissions" in f2.errors[0].headers["message"]
    assert [p for p in sub.recv_all(0.3) if p.type == R.PUBLISH] == []


def test_login_and_passcode_go_through_the_authentication_chain(make_broker, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("user_id,password,is_superuser\nalice,wonder,false\n")
    b, port = gateway(make_broker, extra=(
        'authentication = [{mechanism = password_based, backend = built_in_database,'
        ' user_id_type = username, password_hash_algorithm {name = sha256},'
        ' bootstrap_file = "%s", bootstrap_type = plain}]\n' % users))
    bad = RawStomp(port)
    bad.send_frame("CONNECT", {"accept-version": "1.2", "host": "x", "login": "alice",
                               "passcode": "wrong"})
    cmd, headers, _ = bad.frame()
    assert cmd == "ERROR" and "Login Failed" in headers["message"]
    assert bad.closed()
    c, f = client(port, "stomp-auth", login="alice", passcode="wonder")
    assert c.is_connected()
    assert "wonder" not in b.read_log()


class RawStomp:
    """A TCP socket speaking STOMP byte by byte."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def send_frame(self, command, headers=None, body=b""):
        h = "".join("%s:%s\n" % kv for kv in (headers or {}).items())
        self.s.sendall(command.encode() + b"\n" + h.encode() + b"\n" + body + b"\x00")

    def frame(self, timeout=5):
        """(command, headers, body) of the next frame, heart-beats skipped."""
        deadline = time.monotonic() + timeout
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            if b"\x00" in self.buf and b"\n\n" in self.buf:
                head, rest = self.buf.split(b"\n\n", 1)
                lines = head.decode().split("\n")
                headers = {}
                for line in lines[1:]:
                    k, v = line.split(":", 1)
                    headers.setdefault(k, v)
                n = int(headers["content-length"]) if "content-length" in headers else rest.index(b"\x00")
                if len(rest) > n:
                    self.buf = rest[n + 1:]
                    return lines[0], headers, rest[:n]
            left = deadline - time.monotonic()
            assert left > 0, "no frame in time: %r" % self.buf
            self.s.settimeout(left)
            data = self.s.recv(65536)
            assert data, "closed before a frame: %r" % self.buf
            self.buf += data

    def closed(self, timeout=5):
        self.s.settimeout(timeout)
        try:
            while True:
                data = self.s.recv(65536)
                if not data:
                    return True
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True


def test_connected_names_the_version_and_heart_beats(make_broker):
    b, port = gateway(make_broker)
    r = RawStomp(port)
    r.send_frame("CONNECT", {"accept-version": "1.0,1.1,1.2", "host": "x",
                             "heart-beat": "2000,500", "client-id": "raw-1"})
    cmd, headers, _ = r.frame()
    assert cmd == "CONNECTED"
    # 500 ms asked; the server sends no more often than every second.
    assert headers["version"] == "1.2" and headers["heart-beat"] == "1000,2000"
    # The server's heart-beats come every second while nothing else does.
    t0 = time.monotonic()
    r.s.settimeout(4)
    got = b""
    while got.count(b"\n") < 2 and time.monotonic() - t0 < 4:
        got += r.s.recv(10)
    assert got.count(b"\n") >= 2
    # Sent nothing for 2 s x 1.5: the client is lost, the connection closed.
    assert r.closed(timeout=6)


def test_frames_right_behind_connect_and_a_frame_in_one_octet_reads(make_broker):
    b, port = gateway(make_broker)
    sub = mqtt_sub(b, "m-sub-early", "early/#")
    r = RawStomp(port)
    # CONNECT, SUBSCRIBE and SEND in one segment: none is lost while the session is made.
    r.s.sendall(b"CONNECT\naccept-version:1.2\nhost:x\n\n\x00"
                b"SUBSCRIBE\nid:1\ndestination:early/back\nreceipt:s\n\n\x00"
                b"SEND\ndestination:early/a\nreceipt:p\n\nnow\x00")
    assert r.frame()[0] == "CONNECTED"
    receipts = {r.frame()[1]["receipt-id"] for _ in range(2)}
    assert receipts == {"s", "p"}
    assert sub.expect(R.PUBLISH).payload == b"now"
    # A frame sent one octet at a time arrives whole.
    frame = b"SEND\ndestination:early/b\ncontent-length:4\n\nslow\x00"
    for i in range(len(frame)):
        r.s.sendall(frame[i:i + 1])
        time.sleep(0.002)
    assert sub.expect(R.PUBLISH).payload == b"slow"


def test_version_negotiation_fails_with_an_error_frame(make_broker):
    b, port = gateway(make_broker)
    r = RawStomp(port)
    r.send_frame("CONNECT", {"accept-version": "2.0", "host": "x"})
    cmd, headers, _ = r.frame()
    assert cmd == "ERROR" and headers["version"] == "1.0,1.1,1.2"
    assert r.closed()


def test_a_malformed_frame_gets_an_error_and_others_carry_on(make_broker):
    b, port = gateway(make_broker)
    good, f = client(port, "stomp-good")
    good.subscribe(destination="ok/t", id="s1", headers={"receipt": "r"})
    f.wait(lambda: f.receipts)
    r = RawStomp(port)
    r.send_frame("CONNECT", {"accept-version": "1.2", "host": "x"})
    assert r.frame()[0] == "CONNECTED"
    r.s.sendall(b"SEND\ndestination:ok/t\nbad\\qescape:1\n\nx\x00")
    cmd, headers, _ = r.frame()
    assert cmd == "ERROR" and "malformed" in headers["message"]
    assert r.closed()
    # Too many headers (frame.max_headers 10) is refused the same way.
    r2 = RawStomp(port)
    r2.send_frame("CONNECT", {"accept-version": "1.2", "host": "x"})
    assert r2.frame()[0] == "CONNECTED"
    r2.send_frame("SEND", dict(("h%d" % i, "v") for i in range(20)))
    assert r2.frame()[0] == "ERROR" and r2.closed()
    pub = connected(b, "m-pub4", V311)
    pub.publish("ok/t", b"fine", qos=0)
    f.wait(lambda: f.messages)
    assert f.messages[0].body == "fine"


def test_api_and_ctl_list_stomp_clients(make_broker):
    from test_ctl import ctl
    b, port = gateway(make_broker)
    c, f = client(port, "stomp-api")
    gws = {g["name"]: g for g in get_json(b, "/api/v5/gateways")}
    assert gws["stomp"]["status"] == "running" and gws["stomp"]["current_connections"] == 1
    assert gws["stomp"]["listeners"][0]["id"] == "stomp:tcp:default"
    page = get_json(b, "/api/v5/gateways/stomp/clients")
    assert [x["clientid"] for x in page["data"]] == ["stomp-api"]
    assert page["data"][0]["proto_name"] == "STOMP" and page["data"][0]["proto_ver"] == "1.2"
    r = ctl(b, "clients", "list")
    assert "Client(stomp-api," in r.stdout and "proto_name=STOMP" in r.stdout
    assert call(b, "DELETE", "/api/v5/gateways/stomp/clients/stomp-api")[0] == 204
    f.wait(lambda: f.disconnected)


def test_disconnect_with_receipt(make_broker):
    b, port = gateway(make_broker)
    r = RawStomp(port)
    r.send_frame("CONNECT", {"accept-version": "1.2", "host": "x", "client-id": "bye"})
    assert r.frame()[0] == "CONNECTED"
    r.send_frame("DISCONNECT", {"receipt": "77"})
    cmd, headers, _ = r.frame()
    assert cmd == "RECEIPT" and headers["receipt-id"] == "77"
    assert r.closed()
    assert wait_for(lambda: call(b, "GET", "/api/v5/clients/bye")[0] == 404)


@pytest.mark.parametrize("text,expect", [
    ('gateway.stomp { frame { max_headers = 0 } }', "gateway.stomp.frame.max_headers"),
    ('gateway.stomp { listeners.ssl.default { bind = 61614 } }', "gateway.stomp.listeners.ssl"),
    ('gateway.stomp { nope = 1 }', "gateway.stomp.nope"),
    ('gateway.exproto { }', "gateway.exproto"),
])
def test_bad_stomp_config_stops_start_up(tmp_path, text, expect):
    err = config_refused(tmp_path, text)
    assert expect in err, err
