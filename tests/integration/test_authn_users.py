"""The built-in database's users through EMQX's API (/api/v5/authentication/{id}/users;
api/access_api.hpp, auth/builtin_db.hpp): added, listed, changed and removed with real HTTP
requests, and what each change means to real clients at CONNECT (paho, MQTT 3.1.1 and 5).
Users survive a restart (the replicated tables are stored with the node's data); bootstrap
users are added only where the database lacks them."""
import json
import os

import pytest

import mqttc
from test_api import assert_error, call, get_json

PW_DB = "/api/v5/authentication/password_based%3Abuilt_in_database/users"
CHAIN = ("authentication = [{mechanism = password_based, backend = built_in_database,"
         " password_hash_algorithm {name = %s}%s}]\n")


def code(connack):
    rc = connack[1]
    return rc.value if hasattr(rc, "value") else int(rc)


def connect(broker, client_id, username=None, password=None, version=mqttc.V5):
    c = mqttc.Client(broker, client_id, version=version, username=username, password=password,
                     connect=False)
    return code(c.connect())


def node(make_broker, algo="sha256", extra=""):
    return make_broker(config_text=CHAIN % (algo, extra))


def add(b, user_id, password, superuser=None, want=201):
    body = {"user_id": user_id, "password": password}
    if superuser is not None:
        body["is_superuser"] = superuser
    status, headers, data = call(b, "POST", PW_DB, body=body)
    assert status == want, (status, data)
    return json.loads(data)


@pytest.mark.parametrize("algo", ["sha256", "pbkdf2, mac_fun = sha256, iterations = 1000"])
def test_a_user_added_through_the_api_connects_and_a_wrong_password_does_not(make_broker, algo):
    b = node(make_broker, algo)
    assert add(b, "alice", "s3cret") == {"user_id": "alice", "is_superuser": False}
    assert connect(b, "c1", "alice", "s3cret") == 0
    assert connect(b, "c2", "alice", "wrong") == 0x86
    assert connect(b, "c3", "alice", "wrong", version=mqttc.V311) == 4
    assert connect(b, "c4", "bob", "s3cret") == 0x87  # nobody's: every authenticator ignores
    assert "s3cret" not in b.read_log()


def test_list_get_change_and_remove(make_broker):
    b = node(make_broker)
    for i in range(5):
        add(b, "user%d" % i, "pw%d" % i, superuser=(i == 3))
    doc = get_json(b, PW_DB + "?page=2&limit=2")
    assert [u["user_id"] for u in doc["data"]] == ["user2", "user3"]
    assert doc["data"][1]["is_superuser"] is True
    assert doc["meta"] == {"page": 2, "limit": 2, "count": 5, "hasnext": True}
    doc = get_json(b, PW_DB + "?like_user_id=er4")
    assert [u["user_id"] for u in doc["data"]] == ["user4"]
    assert doc["meta"]["count"] == 1 and doc["meta"]["hasnext"] is False
    doc = get_json(b, PW_DB + "?is_superuser=true")
    assert [u["user_id"] for u in doc["data"]] == ["user3"]
    assert get_json(b, PW_DB + "/user1") == {"user_id": "user1", "is_superuser": False}
    # A new password replaces the old one at once.
    status, _, data = call(b, "PUT", PW_DB + "/user1", body={"password": "new", "is_superuser": True})
    assert status == 200, data
    assert json.loads(data) == {"user_id": "user1", "is_superuser": True}
    assert connect(b, "c1", "user1", "pw1") == 0x86
    assert connect(b, "c2", "user1", "new") == 0
    # Removed: its CONNECT is no longer anyone's.
    status, _, _ = call(b, "DELETE", PW_DB + "/user1")
    assert status == 204
    assert connect(b, "c3", "user1", "new") == 0x87
    assert_error(*call(b, "GET", PW_DB + "/user1"), 404, "NOT_FOUND")
    assert_error(*call(b, "DELETE", PW_DB + "/user1"), 404, "NOT_FOUND")
    assert_error(*call(b, "PUT", PW_DB + "/nobody", body={"password": "x"}), 404, "NOT_FOUND")


def test_bad_requests_are_refused_and_change_nothing(make_broker):
    b = node(make_broker)
    add(b, "alice", "pw")
    assert_error(*call(b, "POST", PW_DB, body={"user_id": "alice", "password": "other"}),
                 409, "ALREADY_EXISTS")
    assert connect(b, "c1", "alice", "pw") == 0  # the first password still holds
    for body in ({"user_id": "x"}, {"password": "x"}, {"user_id": "", "password": "x"},
                 {"user_id": "x", "password": ""}, {"user_id": 7, "password": "x"},
                 {"user_id": "x", "password": "x", "is_superuser": "yes"},
                 {"user_id": "x" * 300, "password": "x"}, "not json", [1, 2]):
        assert_error(*call(b, "POST", PW_DB, body=body), 400, "BAD_REQUEST")
    assert_error(*call(b, "GET", PW_DB + "?limit=0"), 400, "BAD_REQUEST")
    assert_error(*call(b, "GET", PW_DB + "?page=x"), 400, "BAD_REQUEST")
    # An authenticator the chain does not have.
    assert_error(*call(b, "GET", "/api/v5/authentication/scram%3Abuilt_in_database/users"),
                 404, "NOT_FOUND")
    assert_error(*call(b, "GET", "/api/v5/authentication/jwt/users"), 404, "NOT_FOUND")
    status, headers, _ = call(b, "PATCH", PW_DB)
    assert status == 405 and "POST" in headers["allow"] and "GET" in headers["allow"]
    assert get_json(b, PW_DB)["meta"]["count"] == 1
    # Without credentials, nothing.
    assert call(b, "POST", PW_DB, body={"user_id": "m", "password": "m"}, auth=None)[0] == 401
    assert connect(b, "c2", "m", "m") == 0x87


def test_users_survive_a_restart_and_bootstrap_does_not_overwrite_them(make_broker, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("user_id,password,is_superuser\nalice,boot-pw,false\nbob,bob-pw,false\n")
    b = node(make_broker, extra=', bootstrap_file = "%s"' % users)
    assert connect(b, "c1", "alice", "boot-pw") == 0
    status, _, _ = call(b, "PUT", PW_DB + "/alice", body={"password": "changed"})
    assert status == 200
    status, _, _ = call(b, "DELETE", PW_DB + "/bob")
    assert status == 204
    add(b, "carol", "carol-pw")
    assert b.stop() == 0
    b.start()
    assert connect(b, "c2", "alice", "changed") == 0     # not the bootstrap's password
    assert connect(b, "c3", "alice", "boot-pw") == 0x86
    assert connect(b, "c4", "carol", "carol-pw") == 0   # stored, read back
    # bob was deleted on purpose, but his tombstone is not a user: bootstrap adds him again,
    # as EMQX imports a bootstrap file's users that the database lacks.
    assert connect(b, "c5", "bob", "bob-pw") == 0
    assert "replicated tables: " in b.read_log()
