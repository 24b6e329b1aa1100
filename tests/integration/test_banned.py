"""The banned list through EMQX's API (/api/v5/banned; session/banned.hpp): each form of
ban (client id, username, address; client id and username regexes, CIDR), refused at
CONNECT with 0x8A (MQTT 3.1.1: return code 5), a connected client kicked when its ban
arrives, bans that end, bans kept across a restart, and bad requests refused with nothing
changed. Real paho clients and a raw MQTT 5 client."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

import mqttc
import rawmqtt as R
from conftest import wait_for
from test_api import assert_error, call, get_json

BANNED = "/api/v5/banned"


def code(connack):
    rc = connack[1]
    return rc.value if hasattr(rc, "value") else int(rc)


def connect(b, client_id, username=None, version=mqttc.V5):
    c = mqttc.Client(b, client_id, version=version, username=username, password="x" if username else None,
                     connect=False)
    return code(c.connect())


def ban(b, as_, who, want=200, **kw):
    body = {"as": as_, "who": who}
    body.update(kw)
    status, _, data = call(b, "POST", BANNED, body=body)
    assert status == want, (status, data)
    return json.loads(data)


@pytest.mark.parametrize("version", [mqttc.V311, mqttc.V5])
def test_each_form_of_ban_refuses_the_clients_it_names(make_broker, version):
    b = make_broker()
    refused = 0x8A if version == mqttc.V5 else 5
    ban(b, "clientid", "bad-client")
    ban(b, "username", "bad-user")
    ban(b, "clientid_re", "^bot-[0-9]+$")
    ban(b, "username_re", "^spam")
    assert connect(b, "bad-client", version=version) == refused
    assert connect(b, "c1", "bad-user", version=version) == refused
    assert connect(b, "bot-7", version=version) == refused
    assert connect(b, "c2", "spammer", version=version) == refused
    assert connect(b, "bot-x", "ham", version=version) == 0
    # Lifted: let in again.
    status, _, _ = call(b, "DELETE", BANNED + "/clientid/bad-client")
    assert status == 204
    assert connect(b, "bad-client", version=version) == 0


def test_addresses_and_ranges(make_broker):
    b = make_broker()
    ban(b, "peerhost", "127.0.0.1")
    assert connect(b, "c1") == 0x8A
    call(b, "DELETE", BANNED + "/peerhost/127.0.0.1")
    assert connect(b, "c2") == 0
    ban(b, "peerhost_net", "127.0.0.0/8")
    assert connect(b, "c3") == 0x8A
    # The API is not an MQTT client: it still answers.
    status, _, _ = call(b, "DELETE", BANNED + "/peerhost_net/127.0.0.0%2F8")
    assert status == 204
    assert connect(b, "c4") == 0


def test_a_connected_client_is_kicked_when_its_ban_arrives(make_broker):
    b = make_broker()
    v5 = R.RawClient(b)
    v5.connect("victim-5")
    v3 = mqttc.Client(b, "victim-3", version=mqttc.V311)
    bystander = R.RawClient(b)
    bystander.connect("bystander")
    ban(b, "clientid_re", "^victim-")
    d = v5.expect(R.DISCONNECT)
    assert d.code == 0x8A
    v5.expect_closed()
    assert v3.disconnected.wait(5)
    assert bystander.is_open()


def test_a_ban_ends_at_until(make_broker):
    b = make_broker()
    until = (datetime.now(timezone.utc) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    got = ban(b, "clientid", "brief", until=until, reason="cool down", by="ops")
    assert got["as"] == "clientid" and got["who"] == "brief"
    assert got["reason"] == "cool down" and got["by"] == "ops"
    assert got["until"].startswith(until[:-1])
    assert connect(b, "brief") == 0x8A
    assert wait_for(lambda: connect(b, "brief") == 0, 6, 0.5)
    # Expired entries leave the list when it is read.
    assert get_json(b, BANNED)["meta"]["count"] == 0


def test_list_shape_paging_and_clear(make_broker):
    b = make_broker()
    for i in range(5):
        ban(b, "clientid", "c%d" % i)
    doc = get_json(b, BANNED + "?page=2&limit=2")
    assert doc["meta"] == {"page": 2, "limit": 2, "count": 5, "hasnext": True}
    e = doc["data"][0]
    assert e["who"] == "c2" and e["as"] == "clientid" and e["by"] == "mgmt_api"
    assert e["until"] == "infinity"
    datetime.fromisoformat(e["at"])  # RFC 3339
    status, _, _ = call(b, "DELETE", BANNED)
    assert status == 204
    assert get_json(b, BANNED)["data"] == []
    assert connect(b, "c1") == 0


def test_bad_requests_change_nothing(make_broker):
    b = make_broker()
    ban(b, "clientid", "c1")
    assert_error(*call(b, "POST", BANNED, body={"as": "clientid", "who": "c1"}), 400, "ALREADY_EXISTS")
    past = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for body in ({"as": "nick", "who": "x"}, {"as": "clientid"}, {"as": "clientid", "who": ""},
                 {"as": "clientid_re", "who": "(["}, {"as": "peerhost_net", "who": "10.0.0.0/40"},
                 {"as": "peerhost", "who": "example.com"}, {"as": "clientid", "who": "x", "until": "soon"},
                 {"as": "clientid", "who": "x", "until": past}, {"as": "clientid", "who": "x", "by": 3},
                 "nope"):
        assert_error(*call(b, "POST", BANNED, body=body), 400, "BAD_REQUEST")
    assert_error(*call(b, "DELETE", BANNED + "/clientid/nobody"), 404, "NOT_FOUND")
    assert_error(*call(b, "DELETE", BANNED + "/nick/c1"), 404, "NOT_FOUND")
    assert get_json(b, BANNED)["meta"]["count"] == 1
    assert connect(b, "x") == 0


def test_bans_survive_a_restart_and_flapping_bans_are_listed(make_broker):
    b = make_broker(config_text="flapping_detect { enable = true, max_count = 2,"
                                " window_time = 1m, ban_time = 1h }")
    ban(b, "username", "kept")
    for _ in range(2):
        c = mqttc.Client(b, "flappy", version=mqttc.V5)
        c.disconnect()
        assert c.disconnected.wait(5)
    assert wait_for(lambda: any(e["who"] == "flappy" for e in get_json(b, BANNED)["data"]), 5)
    flap = [e for e in get_json(b, BANNED)["data"] if e["who"] == "flappy"][0]
    assert flap["as"] == "clientid" and flap["by"] == "flapping detector"
    assert flap["until"] != "infinity"
    assert b.stop() == 0
    b.start()
    assert connect(b, "c1", "kept") == 0x8A
    assert connect(b, "flappy") == 0x8A
    assert get_json(b, BANNED)["meta"]["count"] == 2
