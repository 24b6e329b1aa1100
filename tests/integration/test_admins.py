"""The HTTP API's own users, tokens and keys (server/api/admins.hpp, admin_api.hpp): EMQX's
POST /api/v5/login with Bearer tokens, /api/v5/users, /api/v5/api_key, and
`emqxd ctl admins`, against a real node; what survives a restart; what must never reach
the log."""
import base64
import json
import os
import time

from conftest import wait_for
from test_api import call, assert_error
from test_ctl import ctl


def login(broker, username="admin", password="public"):
    status, h, body = call(broker, "POST", "/api/v5/login",
                           {"username": username, "password": password}, auth=None)
    return status, json.loads(body) if body else None


def token_of(broker, username="admin", password="public"):
    status, doc = login(broker, username, password)
    assert status == 200, doc
    return doc["token"]


def bearer(broker, method, path, token, body=None):
    return call(broker, method, path, body, auth=None,
                headers={"Authorization": "Bearer " + token})


def bearer_json(broker, method, path, token, body=None, want=200):
    status, h, raw = bearer(broker, method, path, token, body)
    assert status == want, (method, path, status, raw)
    return json.loads(raw) if raw else None


def test_login_gives_a_bearer_token_that_logout_revokes(broker):
    status, doc = login(broker)
    assert status == 200, doc
    assert doc["role"] == "administrator" and doc["license"] == {"edition": "opensource"}
    assert isinstance(doc["version"], str) and len(doc["token"]) >= 32
    token = doc["token"]
    assert bearer_json(broker, "GET", "/api/v5/users", token)[0]["username"] == "admin"
    # A second login is a second token; logging one out leaves the other.
    other = token_of(broker)
    assert other != token
    status, h, body = bearer(broker, "POST", "/api/v5/logout", token, {"username": "admin"})
    assert status == 204, body
    status, h, body = bearer(broker, "GET", "/api/v5/nodes", token)
    assert_error(status, h, body, 401, "BAD_TOKEN")
    assert "www-authenticate" not in h  # no browser login box over the dashboard
    bearer_json(broker, "GET", "/api/v5/nodes", other)
    # A made-up token, a malformed header.
    assert_error(*bearer(broker, "GET", "/api/v5/nodes", "x" * 43), 401, "BAD_TOKEN")
    status, h, body = call(broker, "GET", "/api/v5/nodes", auth=None,
                           headers={"Authorization": "Bearer"})
    assert status == 401


def test_a_failed_login_is_emqx_s_error_and_locks_after_five(make_broker):
    b = make_broker(env={"EMQX_DASHBOARD__UNSUCCESSFUL_LOGIN_MAX_ATTEMPTS": "3"})
    for _ in range(3):
        status, h, body = call(b, "POST", "/api/v5/login",
                               {"username": "admin", "password": "wrong"}, auth=None)
        assert_error(status, h, body, 401, "BAD_USERNAME_OR_PWD")
        assert "www-authenticate" not in h
    status, h, body = call(b, "POST", "/api/v5/login",
                           {"username": "admin", "password": "public"}, auth=None)
    assert status == 429 and int(h["retry-after"]) > 0, body
    for bad in [b"", b"[]", b'{"username":"admin"}', b'{"username":1,"password":"x"}']:
        status, h, body = call(b, "POST", "/api/v5/login", bad, auth=None)
        assert_error(status, h, body, 400, "BAD_REQUEST")
    assert b.alive()


def test_tokens_expire(make_broker):
    b = make_broker(env={"EMQX_DASHBOARD__TOKEN_EXPIRED_TIME": "2s"})
    token = token_of(b)
    bearer_json(b, "GET", "/api/v5/nodes", token)
    assert wait_for(lambda: bearer(b, "GET", "/api/v5/nodes", token)[0] == 401, 6, 0.2)
    assert_error(*bearer(b, "GET", "/api/v5/nodes", token), 401, "TOKEN_TIME_OUT")


def test_a_user_holds_at_most_twenty_tokens(broker):
    tokens = [token_of(broker) for _ in range(25)]
    states = [bearer(broker, "GET", "/api/v5/nodes", t)[0] for t in tokens]
    assert states == [401] * 5 + [200] * 20, states


def test_editing_the_default_user_keeps_the_config_s_password(make_broker):
    b = make_broker()
    admin = token_of(b)
    bearer_json(b, "PUT", "/api/v5/users/admin", admin, {"description": "ops lead"})
    b.stop()
    b.env["EMQX_DASHBOARD__DEFAULT_PASSWORD"] = "From-config-2"
    b.start()
    assert login(b, "admin", "public")[0] == 401
    status, doc = login(b, "admin", "From-config-2")
    assert status == 200, doc
    assert bearer_json(b, "GET", "/api/v5/users", doc["token"])[0]["description"] == "ops lead"


def test_guessing_an_old_password_is_locked_as_logins_are(make_broker):
    b = make_broker(env={"EMQX_DASHBOARD__UNSUCCESSFUL_LOGIN_MAX_ATTEMPTS": "3"})
    admin = token_of(b)
    bearer_json(b, "POST", "/api/v5/users", admin,
                {"username": "v2", "password": "Viewer-pw-1", "role": "viewer"})
    v = token_of(b, "v2", "Viewer-pw-1")
    codes = [bearer(b, "POST", "/api/v5/users/v2/change_pwd", v,
                    {"old_pwd": "guess-%d-x" % i, "new_pwd": "Viewer-pw-2"})[0]
             for i in range(4)]
    assert codes == [400, 400, 400, 429], codes
    # Even the right one waits out the lock.
    assert bearer(b, "POST", "/api/v5/users/v2/change_pwd", v,
                  {"old_pwd": "Viewer-pw-1", "new_pwd": "Viewer-pw-2"})[0] == 429


def test_users_are_added_changed_and_deleted_with_roles(broker):
    admin = token_of(broker)
    # EMQX's password rules.
    for pw in ["short1", "onlyletters", "12345678901", "x" * 65]:
        status, h, body = bearer(broker, "POST", "/api/v5/users", admin,
                                 {"username": "viewer1", "password": pw, "role": "viewer"})
        assert_error(status, h, body, 400, "BAD_REQUEST")
    for name in ["", "-x", "a b", "é"]:
        status, h, body = bearer(broker, "POST", "/api/v5/users", admin,
                                 {"username": name, "password": "good-pass-1"})
        assert_error(status, h, body, 400, "BAD_REQUEST")
    u = bearer_json(broker, "POST", "/api/v5/users", admin,
                    {"username": "viewer1", "password": "good-pass-1", "role": "viewer",
                     "description": "reads"})
    assert u == {"username": "viewer1", "role": "viewer", "description": "reads",
                 "backend": "local"}
    status, h, body = bearer(broker, "POST", "/api/v5/users", admin,
                             {"username": "viewer1", "password": "good-pass-1"})
    assert status == 409, body
    names = [x["username"] for x in bearer_json(broker, "GET", "/api/v5/users", admin)]
    assert names == ["admin", "viewer1"]

    # A viewer reads, and may change only their own password, knowing the old one.
    v = token_of(broker, "viewer1", "good-pass-1")
    assert bearer_json(broker, "GET", "/api/v5/clients", v)["data"] == []
    assert_error(*bearer(broker, "POST", "/api/v5/users", v,
                         {"username": "x1", "password": "good-pass-1"}), 403, "FORBIDDEN")
    assert_error(*bearer(broker, "POST", "/api/v5/users/admin/change_pwd", v,
                         {"old_pwd": "public", "new_pwd": "good-pass-2"}), 403, "FORBIDDEN")
    assert_error(*bearer(broker, "POST", "/api/v5/users/viewer1/change_pwd", v,
                         {"new_pwd": "good-pass-2"}), 400, "BAD_REQUEST")
    assert_error(*bearer(broker, "POST", "/api/v5/users/viewer1/change_pwd", v,
                         {"old_pwd": "wrong-pass-1", "new_pwd": "good-pass-2"}),
                 400, "BAD_REQUEST")
    status, h, body = bearer(broker, "POST", "/api/v5/users/viewer1/change_pwd", v,
                             {"old_pwd": "good-pass-1", "new_pwd": "good-pass-2"})
    assert status == 204, body
    # A new password revokes the user's tokens; the old password is gone.
    assert bearer(broker, "GET", "/api/v5/clients", v)[0] == 401
    assert login(broker, "viewer1", "good-pass-1")[0] == 401
    v = token_of(broker, "viewer1", "good-pass-2")

    # Promoted: the same token can write at once.
    assert bearer_json(broker, "PUT", "/api/v5/users/viewer1", admin,
                       {"role": "administrator"})["role"] == "administrator"
    assert bearer_json(broker, "POST", "/api/v5/users", v,
                       {"username": "third", "password": "good-pass-3"})["role"] == \
        "administrator"
    # The default user stays (and stays an administrator); nobody deletes themselves.
    assert_error(*bearer(broker, "DELETE", "/api/v5/users/admin", v), 400, "BAD_REQUEST")
    assert_error(*bearer(broker, "PUT", "/api/v5/users/admin", v, {"role": "viewer"}),
                 400, "BAD_REQUEST")
    assert_error(*bearer(broker, "DELETE", "/api/v5/users/viewer1", v), 400, "BAD_REQUEST")
    # Deleting a user ends their tokens.
    third = token_of(broker, "third", "good-pass-3")
    assert bearer(broker, "DELETE", "/api/v5/users/third", admin)[0] == 204
    assert bearer(broker, "GET", "/api/v5/nodes", third)[0] == 401
    assert_error(*bearer(broker, "DELETE", "/api/v5/users/third", admin), 404, "NOT_FOUND")
    # HTTP Basic with a dashboard user works as well.
    status, h, body = call(broker, "GET", "/api/v5/nodes", auth=("viewer1", "good-pass-2"))
    assert status == 200, body


def test_users_and_passwords_survive_a_restart_and_no_secret_is_logged(make_broker):
    b = make_broker()
    admin = token_of(b)
    bearer_json(b, "POST", "/api/v5/users", admin,
                {"username": "ops", "password": "Restart-pw-1", "role": "viewer"})
    status, h, body = bearer(b, "POST", "/api/v5/users/admin/change_pwd", admin,
                             {"new_pwd": "New-admin-pw-1"})
    assert status == 400, body  # one's own password needs the old one
    status, h, body = bearer(b, "POST", "/api/v5/users/admin/change_pwd", admin,
                             {"old_pwd": "public", "new_pwd": "New-admin-pw-1"})
    assert status == 204, body
    key = bearer_json(b, "POST", "/api/v5/api_key", token_of(b, "admin", "New-admin-pw-1"),
                      {"name": "keep"})
    b.stop()
    b.start()
    assert login(b, "admin", "public")[0] == 401  # the table wins over the config
    assert login(b, "ops", "Restart-pw-1")[0] == 200
    admin = token_of(b, "admin", "New-admin-pw-1")
    assert [k["name"] for k in bearer_json(b, "GET", "/api/v5/api_key", admin)] == ["keep"]
    status, h, body = call(b, "GET", "/api/v5/nodes", auth=(key["api_key"], key["api_secret"]))
    assert status == 200, body
    log = b.read_log()
    for secret in ["Restart-pw-1", "New-admin-pw-1", key["api_secret"], admin]:
        assert secret not in log
    # The data directory holds hashes, never the secrets.
    data = b.env["EMQX_NODE__DATA_DIR"]
    for root, _, files in os.walk(data):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                raw = fh.read()
            for secret in [b"Restart-pw-1", b"New-admin-pw-1", key["api_secret"].encode(),
                           admin.encode()]:
                assert secret not in raw, (f, secret)


def test_api_keys_are_made_used_disabled_and_expire(broker):
    admin = token_of(broker)
    k = bearer_json(broker, "POST", "/api/v5/api_key", admin,
                    {"name": "prom", "desc": "scrapes", "role": "viewer"})
    assert k["name"] == "prom" and k["role"] == "viewer" and k["enable"] is True
    assert k["expired_at"] == "infinity" and k["expired"] is False and k["api_secret"]
    creds = (k["api_key"], k["api_secret"])
    status, h, body = call(broker, "GET", "/api/v5/prometheus/stats", auth=creds)
    assert status == 200, body
    assert_error(*call(broker, "POST", "/api/v5/api_key", {"name": "x"}, auth=creds),
                 403, "FORBIDDEN")
    listed = bearer_json(broker, "GET", "/api/v5/api_key", admin)
    assert [x["name"] for x in listed] == ["prom"] and "api_secret" not in listed[0]
    assert bearer_json(broker, "GET", "/api/v5/api_key/prom", admin)["desc"] == "scrapes"
    assert bearer(broker, "POST", "/api/v5/api_key", admin, {"name": "prom"})[0] == 409
    # Disabled: refused; enabled again: accepted.
    assert bearer_json(broker, "PUT", "/api/v5/api_key/prom", admin,
                       {"enable": False})["enable"] is False
    assert call(broker, "GET", "/api/v5/nodes", auth=creds)[0] == 401
    bearer_json(broker, "PUT", "/api/v5/api_key/prom", admin, {"enable": True})
    assert call(broker, "GET", "/api/v5/nodes", auth=creds)[0] == 200
    # Expired: refused, and listed as expired.
    past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60))
    assert bearer_json(broker, "PUT", "/api/v5/api_key/prom", admin,
                       {"expired_at": past})["expired"] is True
    assert call(broker, "GET", "/api/v5/nodes", auth=creds)[0] == 401
    assert call(broker, "GET", "/api/v5/nodes", auth=(k["api_key"], "wrong"))[0] == 401
    for bad in [{"name": "a b"}, {"name": "ok", "role": "root"},
                {"name": "ok", "expired_at": "tomorrow"}, {"name": "ok", "enable": "yes"}, {}]:
        assert_error(*bearer(broker, "POST", "/api/v5/api_key", admin, bad), 400, "BAD_REQUEST")
    assert bearer(broker, "DELETE", "/api/v5/api_key/prom", admin)[0] == 204
    assert call(broker, "GET", "/api/v5/nodes", auth=creds)[0] == 401
    assert_error(*bearer(broker, "DELETE", "/api/v5/api_key/prom", admin), 404, "NOT_FOUND")


def test_ctl_admins_add_passwd_del(broker):
    r = ctl(broker, "admins", "add", "ctl-user", "Ctl-pass-1", "from ctl", "viewer")
    assert r.returncode == 0 and r.stdout == "ok\n", (r.stdout, r.stderr)
    status, doc = login(broker, "ctl-user", "Ctl-pass-1")
    assert status == 200 and doc["role"] == "viewer"
    r = ctl(broker, "admins", "add", "ctl-user2", "weak")
    assert r.returncode == 1 and "password" in r.stderr, (r.stdout, r.stderr)
    r = ctl(broker, "admins", "passwd", "ctl-user", "Ctl-pass-2")
    assert r.returncode == 0, r.stderr
    assert login(broker, "ctl-user", "Ctl-pass-1")[0] == 401
    assert login(broker, "ctl-user", "Ctl-pass-2")[0] == 200
    r = ctl(broker, "admins", "del", "ctl-user")
    assert r.returncode == 0, r.stderr
    assert login(broker, "ctl-user", "Ctl-pass-2")[0] == 401
    assert ctl(broker, "admins", "del", "ctl-user").returncode == 1
    assert ctl(broker, "admins", "add", "only-name").returncode == 2
