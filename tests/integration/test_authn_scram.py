"""SCRAM-SHA-256 and -512 over MQTT 5 enhanced authentication (EMQX's `mechanism = scram`,
auth/scram.hpp, channel_connect.cpp): the client side is written here from RFC 5802 with
Python's hashlib and hmac, over a raw MQTT 5 connection (rawmqtt.py), so every byte of the
exchange is the test's: CONNECT with the method and client-first, AUTH 0x18 server-first,
AUTH 0x18 client-final, CONNACK 0x00 with server-final, which the client checks."""
import base64
import hashlib
import hmac
import os

import pytest

import rawmqtt as R
from test_api import call

SCRAM_DB = "/api/v5/authentication/scram%3Abuilt_in_database/users"


def chain(algorithm="sha256"):
    return ("authentication = [{mechanism = scram, backend = built_in_database,"
            " algorithm = %s, iteration_count = 4096}]\n" % algorithm)


class ScramClient:
    def __init__(self, user, password, algorithm="sha256"):
        self.h = hashlib.sha256 if algorithm == "sha256" else hashlib.sha512
        self.name = "sha256" if algorithm == "sha256" else "sha512"
        self.user, self.password = user, password
        self.nonce = base64.b64encode(os.urandom(18)).decode()
        self.first_bare = "n=%s,r=%s" % (user, self.nonce)

    def first(self):
        return ("n,," + self.first_bare).encode()

    def final(self, server_first, proof_tamper=False):
        attrs = dict(kv.split("=", 1) for kv in server_first.decode().split(","))
        assert attrs["r"].startswith(self.nonce)
        salt = base64.b64decode(attrs["s"])
        iterations = int(attrs["i"])
        salted = hashlib.pbkdf2_hmac(self.name, self.password.encode(), salt, iterations)
        client_key = hmac.new(salted, b"Client Key", self.h).digest()
        stored_key = self.h(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_message = ",".join([self.first_bare, server_first.decode(), without_proof])
        signature = hmac.new(stored_key, self.auth_message.encode(), self.h).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, signature))
        if proof_tamper:
            proof = bytes([proof[0] ^ 1]) + proof[1:]
        self.server_key = hmac.new(salted, b"Server Key", self.h).digest()
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def check_server_final(self, data):
        want = hmac.new(self.server_key, self.auth_message.encode(), self.h).digest()
        return data.decode() == "v=" + base64.b64encode(want).decode()


def method(algorithm):
    return "SCRAM-SHA-256" if algorithm == "sha256" else "SCRAM-SHA-512"


def exchange(b, client_id, user, password, algorithm="sha256", tamper=False):
    """Runs the exchange; returns (the client, the CONNACK, the ScramClient)."""
    s = ScramClient(user, password, algorithm)
    c = R.RawClient(b)
    c.send(R.connect(client_id, props={"authentication_method": method(algorithm),
                                       "authentication_data": s.first()}))
    p = c.recv()
    if p.type != R.AUTH:
        return c, p, s
    assert p.code == 0x18, p
    assert p.props["authentication_method"] == method(algorithm)
    c.send(R.auth(0x18, {"authentication_method": method(algorithm),
                         "authentication_data": s.final(p.props["authentication_data"], tamper)}))
    return c, c.expect(R.CONNACK), s


def add_user(b, user, password, superuser=False):
    status, _, body = call(b, "POST", SCRAM_DB,
                           body={"user_id": user, "password": password, "is_superuser": superuser})
    assert status == 201, body


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_the_right_password_connects_and_the_server_proves_it_knows_it(make_broker, algorithm):
    b = make_broker(config_text=chain(algorithm))
    add_user(b, "alice", "pencil")
    c, ack, s = exchange(b, "c1", "alice", "pencil", algorithm)
    assert ack.type == R.CONNACK and ack.code == 0, ack
    assert ack.props["authentication_method"] == method(algorithm)
    assert s.check_server_final(ack.props["authentication_data"])
    # A working session: it subscribes and gets what it publishes.
    c.subscribe([("t/scram", R.sub_options(1))])
    c.publish("t/scram", b"hi", qos=1, pid=1)
    got = c.recv_publishes(1)
    assert got[0].payload == b"hi"
    assert "pencil" not in b.read_log()


def test_a_wrong_password_or_an_unknown_user_is_refused(make_broker):
    b = make_broker(config_text=chain())
    add_user(b, "alice", "pencil")
    c, ack, _ = exchange(b, "c1", "alice", "wrong")
    assert ack.type == R.CONNACK and ack.code == 0x87, ack
    c.expect_closed()
    c, ack, _ = exchange(b, "c2", "alice", "pencil", tamper=True)
    assert ack.code == 0x87
    c, ack, _ = exchange(b, "c3", "mallory", "pencil")
    assert ack.type == R.CONNACK and ack.code == 0x87, ack  # no AUTH for a stranger


def test_a_method_the_node_does_not_have_is_0x8c(make_broker):
    b = make_broker(config_text=chain("sha256"))
    c = R.RawClient(b)
    c.send(R.connect("c1", props={"authentication_method": "SCRAM-SHA-512",
                                  "authentication_data": b"n,,n=a,r=x"}))
    assert c.expect(R.CONNACK).code == 0x8C
    c = R.RawClient(b)
    c.send(R.connect("c2", props={"authentication_method": "GS2-KRB5"}))
    assert c.expect(R.CONNACK).code == 0x8C


def test_protocol_errors_within_the_exchange(make_broker):
    b = make_broker(config_text=chain())
    add_user(b, "alice", "pencil")
    # A PUBLISH instead of AUTH: CONNACK 0x82.
    s = ScramClient("alice", "pencil")
    c = R.RawClient(b)
    c.send(R.connect("c1", props={"authentication_method": "SCRAM-SHA-256",
                                  "authentication_data": s.first()}))
    assert c.expect(R.AUTH).code == 0x18
    c.send(R.publish("t", b"x"))
    assert c.expect(R.CONNACK).code == 0x82
    # AUTH with another method: CONNACK 0x82 [MQTT-4.12.0-5].
    s = ScramClient("alice", "pencil")
    c = R.RawClient(b)
    c.send(R.connect("c2", props={"authentication_method": "SCRAM-SHA-256",
                                  "authentication_data": s.first()}))
    p = c.expect(R.AUTH)
    c.send(R.auth(0x18, {"authentication_method": "SCRAM-SHA-512",
                         "authentication_data": s.final(p.props["authentication_data"])}))
    assert c.expect(R.CONNACK).code == 0x82
    # Malformed client-first: refused, the node carries on.
    c = R.RawClient(b)
    c.send(R.connect("c3", props={"authentication_method": "SCRAM-SHA-256",
                                  "authentication_data": b"garbage"}))
    assert c.expect(R.CONNACK).code == 0x87
    c, ack, _ = exchange(b, "c4", "alice", "pencil")
    assert ack.code == 0


def test_password_based_clients_still_use_their_chain(make_broker):
    b = make_broker(config_text=(
        "authentication = [{mechanism = scram, backend = built_in_database},"
        " {mechanism = password_based, backend = built_in_database}]\n"))
    add_user(b, "alice", "pencil")
    status, _, _ = call(b, "POST",
                        "/api/v5/authentication/password_based%3Abuilt_in_database/users",
                        body={"user_id": "bob", "password": "pw"})
    assert status == 201
    c = R.RawClient(b)
    assert c.connect("c1", username="bob", password=b"pw").code == 0
    c = R.RawClient(b)
    # SCRAM users are not password users.
    assert c.connect("c2", username="alice", password=b"pencil", expect_code=None).code == 0x87
