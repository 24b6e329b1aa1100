"""Authentication (`authentication = [...]`, EMQX's chain; auth/authentication.hpp), with
real clients: paho (MQTT 3.1.1 and 5) and mosquitto_pub -u/-P.

- password_based + built_in_database: users from a bootstrap file, sha256 and bcrypt
  (bcrypt runs on the node's blocking pool); a wrong password is 0x86 (3.1.1: 4); a user
  nobody knows is ignored by every authenticator, so refused 0x87 (3.1.1: 5).
- jwt: HS256 with a secret and RS256 with a public key; claims (exp, verify_claims); a
  token that expires disconnects its client (DISCONNECT 0x87).
- the chain: an authenticator that ignores passes to the next one.
- listeners: enable_authn = false and quick_deny_anonymous.
- bad bootstrap files stop start-up naming the file; passwords never reach the log."""
import os
import socket
import subprocess
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import mqttc
import rawmqtt
from conftest import wait_for
from ports import free_port

SECRET = "a-test-secret-for-hs256-tokens!!"


def users_csv(d, rows, header="user_id,password,is_superuser"):
    path = os.path.join(d, "users.csv")
    with open(path, "w") as f:
        f.write(header + "\n")
        for r in rows:
            f.write(",".join(r) + "\n")
    return path


def built_in(path, algo="name = sha256, salt_position = prefix", user_id_type="username"):
    return ("{mechanism = password_based, backend = built_in_database, user_id_type = %s,"
            " password_hash_algorithm {%s}, bootstrap_file = \"%s\", bootstrap_type = plain}"
            % (user_id_type, algo, path))


def jwt_hs(extra=""):
    return "{mechanism = jwt, algorithm = hmac-based, secret = \"%s\"%s}" % (SECRET, ", " + extra if extra else "")


def start(make_broker, tmp_path, chain, extra=""):
    return make_broker(config_text="authentication = [%s]\n%s" % (",\n".join(chain), extra))


def code(connack):
    """The CONNACK's code as a number, whatever paho gives for v3.1.1 and v5."""
    rc = connack[1]
    return rc.value if hasattr(rc, "value") else int(rc)


def connect(broker, version, client_id, username=None, password=None):
    c = mqttc.Client(broker, client_id, version=version, username=username, password=password,
                     connect=False)
    return c, code(c.connect())


@pytest.fixture
def users(tmp_path):
    return users_csv(str(tmp_path), [("alice", "alice-pw", "false"), ("root", "root-pw", "true")])


@pytest.mark.parametrize("version", [mqttc.V311, mqttc.V5])
def test_built_in_database_right_wrong_and_unknown(make_broker, tmp_path, users, version):
    b = start(make_broker, tmp_path, [built_in(users)])
    v5 = version == mqttc.V5
    c, rc = connect(b, version, "a1", "alice", "alice-pw")
    assert rc == 0
    c.subscribe("t", qos=1)
    c.publish("t", b"hello", qos=1)
    assert c.wait_messages(1)[0].payload == b"hello"
    assert connect(b, version, "a2", "alice", "wrong")[1] == (0x86 if v5 else 4)
    assert connect(b, version, "a3", "mallory", "x")[1] == (0x87 if v5 else 5)
    assert connect(b, version, "a4")[1] == (0x87 if v5 else 5)  # anonymous: nobody's
    log = b.read_log()
    assert "alice-pw" not in log and "authentication failed" in log


def test_mosquitto_clients_with_user_and_password(make_broker, tmp_path, users):
    b = start(make_broker, tmp_path, [built_in(users)])
    base = ["-h", "127.0.0.1", "-p", str(b.port), "-t", "m/x", "-q", "1"]
    sub = subprocess.Popen(["mosquitto_sub"] + base + ["-u", "root", "-P", "root-pw", "-C", "1",
                                                       "-W", "10"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(0.5)
        ok = subprocess.run(["mosquitto_pub"] + base + ["-u", "alice", "-P", "alice-pw",
                                                        "-m", "from-mosquitto"],
                            capture_output=True, timeout=10)
        assert ok.returncode == 0, ok.stderr
        out, _ = sub.communicate(timeout=10)
        assert out.strip() == b"from-mosquitto"
    finally:
        if sub.poll() is None:
            sub.kill()
            sub.wait()
    bad = subprocess.run(["mosquitto_pub"] + base + ["-u", "alice", "-P", "nope", "-m", "x"],
                         capture_output=True, timeout=10)
    assert bad.returncode != 0
    assert b"not authorised" in bad.stderr.lower() or b"bad user name" in bad.stderr.lower()


def test_bcrypt_runs_off_the_workers_and_many_connect_at_once(make_broker, tmp_path, users):
    b = start(make_broker, tmp_path, [built_in(users, "name = bcrypt, salt_rounds = 10")])
    clients = [mqttc.Client(b, "bc%d" % i, username="alice", password="alice-pw")
               for i in range(10)]
    t0 = time.monotonic()
    for c in clients:
        c.c.connect(b.host, b.port)
        c.c.loop_start()
    for c in clients:
        assert c._wait(lambda c=c: c.connack is not None, 20), "no CONNACK"
        assert code(c.connack) == 0
    # Meanwhile an anonymous-free plain client on the same node is served at once: the
    # workers are not the ones hashing.
    assert connect(b, mqttc.V5, "bc-wrong", "alice", "wrong")[1] == 0x86
    print("10 bcrypt connects in %.2f s" % (time.monotonic() - t0))


def test_a_client_that_leaves_while_its_password_is_checked(make_broker, tmp_path, users):
    b = start(make_broker, tmp_path, [built_in(users, "name = bcrypt, salt_rounds = 10")])
    for i in range(20):
        s = socket.create_connection((b.host, b.port), timeout=5)
        s.sendall(rawmqtt.connect("gone%d" % i, username="alice", password=b"alice-pw"))
        s.close()
    c, rc = connect(b, mqttc.V5, "after", "alice", "alice-pw")
    assert rc == 0 and b.alive()


def test_clientid_as_user_id(make_broker, tmp_path):
    path = users_csv(str(tmp_path), [("device-7", "d7-secret", "false")])
    b = start(make_broker, tmp_path, [built_in(path, user_id_type="clientid")])
    assert connect(b, mqttc.V5, "device-7", "anything", "d7-secret")[1] == 0
    assert connect(b, mqttc.V5, "device-7", "anything", "bad")[1] == 0x86


def token(claims, key=SECRET, alg="HS256"):
    return jwt.encode(claims, key, algorithm=alg)


def test_jwt_hs256_claims_and_the_chain(make_broker, tmp_path, users):
    b = start(make_broker, tmp_path, [jwt_hs('verify_claims { sub = "${clientid}" }'),
                                      built_in(users)])
    now = int(time.time())
    good = token({"sub": "j1", "exp": now + 60})
    assert connect(b, mqttc.V5, "j1", "any", good)[1] == 0
    assert connect(b, mqttc.V311, "j1", "any", good)[1] == 0
    # A claim that does not hold: refused by the JWT authenticator (0x86).
    assert connect(b, mqttc.V5, "other", "any", good)[1] == 0x86
    assert connect(b, mqttc.V5, "j1", "any", token({"sub": "j1", "exp": now - 10}))[1] == 0x86
    # Not a token for this key: ignored, so the built-in database decides.
    assert connect(b, mqttc.V5, "j1", "alice", token({"sub": "j1"}, "other-key-other-key-x"))[1] \
        == 0x86
    assert connect(b, mqttc.V5, "j1", "alice", "alice-pw")[1] == 0


def test_jwt_expiry_disconnects_the_client(make_broker, tmp_path):
    b = start(make_broker, tmp_path, [jwt_hs()])
    c, rc = connect(b, mqttc.V5, "exp1", "u", token({"exp": int(time.time()) + 2}))
    assert rc == 0
    assert c.disconnected.wait(6), "still connected after exp"
    assert c.disconnect_rc in (0x87, 135) or getattr(c.disconnect_rc, "value", None) == 0x87
    assert "credentials expired" in b.read_log()


def test_jwt_rs256_public_key_from_username(make_broker, tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    b = start(make_broker, tmp_path,
              ['{mechanism = jwt, from = username, algorithm = public-key, public_key = """%s"""}'
               % pem])
    t = token({"exp": int(time.time()) + 60}, key, "RS256")
    assert connect(b, mqttc.V5, "rs1", t, "ignored")[1] == 0
    assert connect(b, mqttc.V5, "rs2", t[:-4] + "AAAA", "ignored")[1] == 0x87  # ignored: none


def test_listener_enable_authn(make_broker, tmp_path, users):
    open_port, quick_port = free_port(), free_port()
    b = start(make_broker, tmp_path, [built_in(users)], """
listeners.tcp.open { bind = "127.0.0.1:%d", enable_authn = false }
listeners.tcp.quick { bind = "127.0.0.1:%d", enable_authn = quick_deny_anonymous }
""" % (open_port, quick_port))
    assert connect(b, mqttc.V5, "anon-default")[1] == 0x87  # the default listener asks

    class At:
        host = b.host

        def __init__(self, port):
            self.port = port
    assert connect(At(open_port), mqttc.V5, "anon-open")[1] == 0
    assert connect(At(quick_port), mqttc.V5, "anon-quick")[1] == 0x87
    assert connect(At(quick_port), mqttc.V5, "q", "alice", "alice-pw")[1] == 0
    assert "enable_authn = quick_deny_anonymous" in b.read_log()


@pytest.mark.parametrize("content, expect", [
    ("user_id,password,is_superuser\nalice\n", "users.csv:2"),
    ("nonsense", "users.csv"),
])
def test_a_bad_bootstrap_file_stops_start_up(make_broker, tmp_path, content, expect):
    path = os.path.join(str(tmp_path), "users.csv")
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(RuntimeError) as e:
        start(make_broker, tmp_path, [built_in(path)])
    assert expect in str(e.value)
    with pytest.raises(RuntimeError) as e:
        start(make_broker, tmp_path, [built_in(os.path.join(str(tmp_path), "missing.csv"))])
    assert "missing.csv" in str(e.value)


class AuthService:
    """A real HTTP authentication service (EMQX's protocol), in a thread of the test: it
    answers each request by the `answers` table keyed by username, and records what it
    was sent."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        import json as _json
        import threading
        from urllib.parse import parse_qs, urlsplit
        svc = self
        self.requests = []
        self.answers = {}
        self.delay = 0.0

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _answer(self, fields):
                svc.requests.append((self.command, self.path, dict(self.headers), fields))
                time.sleep(svc.delay)
                status, body = svc.answers.get(fields.get("username"), (200, {"result": "ignore"}))
                data = b"" if body is None else _json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n).decode()
                if self.headers.get("Content-Type", "").startswith("application/json"):
                    fields = _json.loads(raw)
                else:
                    fields = {k: v[0] for k, v in parse_qs(raw).items()}
                self._answer(fields)

            def do_GET(self):
                q = parse_qs(urlsplit(self.path).query)
                self._answer({k: v[0] for k, v in q.items()})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def auth_service():
    s = AuthService()
    yield s
    s.close()


def http_backend(port, method="post", extra=""):
    return ('{mechanism = password_based, backend = http, method = %s,'
            ' url = "http://127.0.0.1:%d/auth/${clientid}", request_timeout = 2s,'
            ' headers { "X-Request-Source" = "emqxd" },'
            ' body { username = "${username}", password = "${password}",'
            ' clientid = "${clientid}", peerhost = "${peerhost}" } %s}' % (method, port, extra))


@pytest.mark.parametrize("method", ["post", "get"])
def test_http_backend_allow_deny_ignore(make_broker, tmp_path, auth_service, users, method):
    auth_service.answers = {
        "ok": (200, {"result": "allow", "is_superuser": True}),
        "nocontent": (204, None),
        "no": (200, {"result": "deny"}),
        "broken": (500, {"oops": 1}),
    }
    b = start(make_broker, tmp_path, [http_backend(auth_service.port, method), built_in(users)])
    assert connect(b, mqttc.V5, "c/1 x", "ok", "pw ok")[1] == 0
    verb, path, headers, fields = auth_service.requests[-1]
    assert verb == method.upper()
    assert path.startswith("/auth/c%2F1%20x")  # ${clientid} URL-encoded in the URL
    assert headers.get("X-Request-Source") == "emqxd"
    assert fields == {"username": "ok", "password": "pw ok", "clientid": "c/1 x",
                      "peerhost": "127.0.0.1"}
    assert connect(b, mqttc.V5, "c2", "nocontent", "x")[1] == 0
    assert connect(b, mqttc.V311, "c3", "no", "x")[1] == 5
    # Ignored by the service (no answer for alice, or a 500): the built-in database decides.
    assert connect(b, mqttc.V5, "c4", "alice", "alice-pw")[1] == 0
    assert connect(b, mqttc.V5, "c5", "broken", "x")[1] == 0x87
    assert "answered HTTP 500" in b.read_log()
    assert "pw ok" not in b.read_log()


def test_http_backend_down_or_slow_is_ignored_not_hung_on(make_broker, tmp_path, auth_service,
                                                          users):
    dead = free_port()  # nothing listens there
    b = start(make_broker, tmp_path, [http_backend(dead), built_in(users)])
    t0 = time.monotonic()
    assert connect(b, mqttc.V5, "d1", "alice", "alice-pw")[1] == 0
    assert time.monotonic() - t0 < 3
    assert "unreachable" in b.read_log()
    auth_service.delay = 4.0  # longer than request_timeout = 2s
    b2 = start(make_broker, tmp_path, [http_backend(auth_service.port), built_in(users)])
    t0 = time.monotonic()
    assert connect(b2, mqttc.V5, "d2", "alice", "alice-pw", )[1] == 0
    assert 1.5 < time.monotonic() - t0 < 4
    # Meanwhile other clients of the same node were served: the request ran off the workers.
    assert "timed out" in b2.read_log()


def test_http_backend_form_body(make_broker, tmp_path, auth_service):
    auth_service.answers = {"f": (200, {"result": "allow"})}
    b = start(make_broker, tmp_path,
              [http_backend(auth_service.port, extra=', headers { "content-type" = '
                            '"application/x-www-form-urlencoded" }')])
    assert connect(b, mqttc.V5, "form1", "f", "p&q=r")[1] == 0
    assert auth_service.requests[-1][3]["password"] == "p&q=r"


def granted(c, topic):
    """The SUBACK code of one subscription, as a number."""
    rc, mid = c.c.subscribe(topic, 1)
    assert c._wait(lambda: mid in c.subacks, 5), "no SUBACK"
    g = c.subacks[mid][0]
    return g.value if hasattr(g, "value") else int(g)


def test_what_authentication_decides_reaches_authorization(make_broker, tmp_path, users):
    acl = os.path.join(str(tmp_path), "acl.conf")
    with open(acl, "w") as f:
        f.write('{allow, {username, "alice"}, subscribe, ["alice/#"]}.\n{deny, all}.\n')
    b = start(make_broker, tmp_path, [jwt_hs(), built_in(users)],
              'authorization { no_match = deny, cache { enable = false },'
              ' sources = [{type = file, path = "%s"}] }' % acl)
    # The built-in database's superuser may do anything; alice what the file allows her.
    root, rc = connect(b, mqttc.V5, "r1", "root", "root-pw")
    assert rc == 0 and granted(root, "anything/#") == 1
    alice, rc = connect(b, mqttc.V5, "a1", "alice", "alice-pw")
    assert rc == 0
    assert granted(alice, "alice/x") == 1 and granted(alice, "bob/x") == 0x87
    # A JWT's acl claim is the client's own rules, asked before the file.
    t = token({"exp": int(time.time()) + 60,
               "acl": {"sub": ["jwt/#"], "pub": ["jwt/#"]}})
    j, rc = connect(b, mqttc.V5, "j1", "alice", t)
    assert rc == 0
    assert granted(j, "jwt/x") == 1
    assert granted(j, "alice/x") == 0x87  # the claim's closing deny: the file is not asked


def test_jwt_keys_from_a_jwks_endpoint_refreshed(make_broker, tmp_path):
    """use_jwks: the keys come from a JWKS document served over HTTP; a rotated key is
    picked up at the next refresh; an endpoint that is down leaves tokens ignored."""
    import json as _json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    import threading
    from jwt.algorithms import RSAAlgorithm

    k1 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    k2 = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    served = {"keys": [k1], "status": 200, "hits": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            served["hits"] += 1
            keys = []
            for i, k in enumerate(served["keys"]):
                jwk = _json.loads(RSAAlgorithm.to_jwk(k.public_key()))
                jwk.update({"kid": "k%d" % id(k), "use": "sig", "alg": "RS256"})
                keys.append(jwk)
            data = _json.dumps({"keys": keys}).encode()
            self.send_response(served["status"])
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        b = start(make_broker, tmp_path,
                  ['{mechanism = jwt, use_jwks = true, endpoint = "http://127.0.0.1:%d/jwks",'
                   ' refresh_interval = 1s}' % srv.server_address[1]])

        def tok(k):
            return jwt.encode({"exp": int(time.time()) + 60}, k, algorithm="RS256",
                              headers={"kid": "k%d" % id(k)})
        assert connect(b, mqttc.V5, "w1", "u", tok(k1))[1] == 0
        assert connect(b, mqttc.V5, "w2", "u", tok(k2))[1] == 0x87  # not a key it has
        served["keys"] = [k2]
        assert wait_for(lambda: connect(b, mqttc.V5, "w3", "u", tok(k2))[1] == 0, 5, 0.3)
        assert connect(b, mqttc.V5, "w4", "u", tok(k1))[1] == 0x87  # rotated out
        served["status"] = 500  # a failing refresh keeps the keys it has
        hits = served["hits"]
        assert wait_for(lambda: served["hits"] > hits + 1, 5)
        assert connect(b, mqttc.V5, "w5", "u", tok(k2))[1] == 0
        assert "answered HTTP 500; the previous keys kept" in b.read_log()
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.mark.parametrize("version", [mqttc.V311, mqttc.V5])
def test_a_flapping_client_is_banned_for_a_while(make_broker, version):
    b = make_broker(config_text="flapping_detect { enable = true, max_count = 3,"
                                " window_time = 30s, ban_time = 3s }")
    v5 = version == mqttc.V5
    for i in range(3):  # the 3rd end within the window bans (EMQX: "goes offline 3 times")
        c, rc = connect(b, version, "flappy")
        assert rc == 0, i
        c.disconnect()
        assert c.disconnected.wait(5)
    assert wait_for(lambda: "client_id=flappy flapping" in b.read_log(), 5)
    assert connect(b, version, "flappy")[1] == (0x8A if v5 else 5)
    assert connect(b, version, "steady")[1] == 0  # another client is not touched
    t0 = time.monotonic()
    assert wait_for(lambda: connect(b, version, "flappy")[1] == 0, 6, 0.5)
    assert 1.5 < time.monotonic() - t0 < 6  # until ban_time is over
