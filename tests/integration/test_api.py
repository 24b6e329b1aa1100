"""The node's HTTP API (dashboard.listeners.http, EMQX's port 18083) and `emqxd cluster`.

A real emqxd per test with its API and its cluster RPC on free ports (conftest); requests
through Python's http.client and raw sockets for what no client library would send; the CLI
as a user runs it. Every node runs its cluster: alone it is a cluster of one, and the last
test joins two real nodes and takes one out again.
"""
import base64
import http.client
import json
import os
import socket
import subprocess
import time

import pytest

import rawmqtt as R
from conftest import EMQXD_BIN, free_port, wait_for
from rawmqtt import connected, V5

NODE = "emqx@127.0.0.1"


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def call(broker, method, path, body=None, auth=("admin", "public"), headers=None, timeout=5):
    """One request on a fresh connection; returns (status, headers dict, body bytes)."""
    conn = http.client.HTTPConnection("127.0.0.1", broker.api_port, timeout=timeout)
    h = dict(headers or {})
    if auth is not None:
        h["Authorization"] = basic(*auth)
    if body is not None:
        h["Content-Type"] = "application/json"
        body = json.dumps(body) if not isinstance(body, (bytes, str)) else body
    try:
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def get_json(broker, path, **kw):
    status, headers, body = call(broker, "GET", path, **kw)
    assert status == 200, (status, body)
    assert headers["content-type"] == "application/json"
    return json.loads(body)


def assert_error(status, headers, body, want_status, want_code):
    assert status == want_status, (status, body)
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["code"] == want_code, doc
    assert isinstance(doc["message"], str) and doc["message"], doc
    return doc


def rpc_port(broker):
    """The node's cluster.rpc.bind port, as the harness set it."""
    return int(broker.env["EMQX_CLUSTER__RPC__BIND"].rsplit(":", 1)[1])


def api_of(broker):
    return "127.0.0.1:%d" % broker.api_port


def self_address(broker, name=NODE):
    """The node's cluster address as the cluster writes it: name@host:rpc_port."""
    return "%s:%d" % (name, rpc_port(broker))


def unserved_address(name="n2@127.0.0.1"):
    """A node address on a free loopback port: nothing answers there."""
    return "%s:%d" % (name, free_port())


def raw_exchange(broker, data, timeout=5.0):
    """Sends raw bytes; returns (everything the API sent back, whether it then closed)."""
    s = socket.create_connection(("127.0.0.1", broker.api_port), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except OSError:
            pass  # it may close before taking everything: what it said is what counts
        got = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                return got, False
            except ConnectionResetError:
                return got, True
            if not chunk:
                return got, True
            got += chunk
        return got, False
    finally:
        s.close()


def cli(*args, env=None, timeout=20):
    """Runs `emqxd cluster ARGS`; the environment is the test's (no EMQX_ or EMQXD_ variables
    from outside) plus `env`."""
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("EMQX_") and not k.startswith("EMQXD_API_")}
    e.update(env or {})
    return subprocess.run([EMQXD_BIN, "cluster"] + list(args), env=e, capture_output=True,
                          text=True, timeout=timeout)


def mqtt_roundtrip(broker, topic="api/check"):
    sub = connected(broker, "api-sub-%s" % topic.replace("/", "-"), V5)
    sub.subscribe([(topic, 1)])
    pub = connected(broker, "api-pub-%s" % topic.replace("/", "-"), V5)
    pub.publish(topic, b"still-serving", qos=1, pid=1)
    p = sub.wait_for(R.PUBLISH)
    assert p.payload == b"still-serving"
    sub.close()
    pub.close()


# ----------------------------------------------------------------------------- auth

def test_status_needs_no_credentials(broker):
    status, headers, body = call(broker, "GET", "/status", auth=None)
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert body.decode() == "Node %s is started\nemqxd is running" % NODE
    # EMQX's second path and its JSON form, also without credentials.
    status, headers, body = call(broker, "GET", "/api/v5/status?format=json", auth=None)
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["node_name"] == NODE and doc["broker_status"] == "started"
    assert doc["app_status"] == "running" and doc["rel_vsn"]


def test_api_refuses_missing_and_wrong_credentials(broker):
    for auth, headers in [(None, None), (("admin", "wrong"), None), (("root", "public"), None),
                          (None, {"Authorization": "Basic !!notbase64"}),
                          (None, {"Authorization": "Basic " + base64.b64encode(b"adminpublic")
                                  .decode()})]:
        status, h, body = call(broker, "GET", "/api/v5/cluster", auth=auth, headers=headers)
        assert_error(status, h, body, 401, "UNAUTHORIZED")
        assert h["www-authenticate"] == 'Basic realm="emqxd"'
    # Unknown paths too: nothing is told before the credentials are checked.
    status, h, body = call(broker, "GET", "/api/v5/nothing", auth=None)
    assert_error(status, h, body, 401, "UNAUTHORIZED")
    status, h, body = call(broker, "GET", "/api/v5/cluster")
    assert status == 200
    # Failed logins are logged (rate-limited), never with the password or the header.
    log = broker.read_log()
    assert "HTTP API login failed" in log
    assert "wrong" not in log.split("HTTP API login failed")[1].split("\n")[0]
    assert basic("admin", "public").split()[1] not in log
    assert basic("admin", "wrong").split()[1] not in log


def test_default_password_is_warned_about(broker):
    assert 'dashboard.default_password is still the default "public"' in broker.read_log()


def non_loopback_address():
    """An address of this machine that is not loopback (the source of a connection made to
    it is that address), or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: only the route is looked up
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


def call_at(host, port, method, path, auth):
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request(method, path, headers={"Authorization": basic(*auth)})
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
    finally:
        conn.close()


def test_default_password_works_from_loopback_only(make_broker):
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no address but loopback")
    port = free_port()
    b = make_broker(env={"EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "0.0.0.0:%d" % port})
    status, h, body = call_at(host, port, "GET", "/api/v5/cluster", ("admin", "public"))
    doc = assert_error(status, h, body, 401, "UNAUTHORIZED")
    assert "dashboard.default_password" in doc["message"]
    assert "EMQX_DASHBOARD__DEFAULT_PASSWORD" in doc["message"]
    assert call_at("127.0.0.1", port, "GET", "/api/v5/cluster", ("admin", "public"))[0] == 200
    # Once changed, the password works from anywhere.
    b2 = make_broker(env={"EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "0.0.0.0:%d" % free_port(),
                          "EMQX_DASHBOARD__DEFAULT_PASSWORD": "not-public"})
    assert call_at(host, b2.api_port, "GET", "/api/v5/cluster", ("admin", "not-public"))[0] == 200
    assert call_at(host, b2.api_port, "GET", "/api/v5/cluster", ("admin", "public"))[0] == 401


def test_password_from_environment_replaces_the_default(make_broker):
    secret = "n3w!pa$$ #word"
    b = make_broker(env={"EMQX_DASHBOARD__DEFAULT_PASSWORD": secret})
    status, h, body = call(b, "GET", "/api/v5/cluster", auth=("admin", "public"))
    assert_error(status, h, body, 401, "UNAUTHORIZED")
    status, _, _ = call(b, "GET", "/api/v5/cluster", auth=("admin", secret))
    assert status == 200
    log = b.read_log()
    assert "still the default" not in log
    assert secret not in log and "n3w!pa" not in log


def test_username_and_password_from_the_config_file(make_broker):
    b = make_broker(config_text='dashboard { default_username = ops, default_password = "f1le" }')
    assert call(b, "GET", "/api/v5/stats", auth=("ops", "f1le"))[0] == 200
    assert call(b, "GET", "/api/v5/stats", auth=("admin", "f1le"))[0] == 401


# ----------------------------------------------------------------------------- endpoints

def test_unknown_paths_404_and_wrong_methods_405(broker):
    status, h, body = call(broker, "GET", "/api/v5/nothing")
    assert_error(status, h, body, 404, "NOT_FOUND")
    status, h, body = call(broker, "DELETE", "/api/v5/cluster")
    assert_error(status, h, body, 405, "METHOD_NOT_ALLOWED")
    assert h["allow"] == "GET"
    status, h, body = call(broker, "GET", "/api/v5/cluster/join")
    assert_error(status, h, body, 405, "METHOD_NOT_ALLOWED")
    assert h["allow"] == "POST"


def test_stats_and_metrics_move_after_a_publish(broker):
    def metric(name):
        return get_json(broker, "/api/v5/metrics?aggregate=true")[name]

    def stat(name):
        per_node = get_json(broker, "/api/v5/stats")
        assert [s["node"] for s in per_node] == [NODE]
        return per_node[0][name]

    received = metric("messages.received")
    qos1 = metric("messages.qos1.received")
    assert wait_for(lambda: stat("connections.count") == 0, 5)
    sub = connected(broker, "api-stats-sub", V5)
    sub.subscribe([("stats/+", 1)])
    pub = connected(broker, "api-stats-pub", V5)
    pub.publish("stats/x", b"1", qos=1, pid=1)
    sub.wait_for(R.PUBLISH)
    assert wait_for(lambda: metric("messages.received") >= received + 1, 5)
    assert metric("messages.qos1.received") >= qos1 + 1
    assert metric("messages.delivered") >= 1
    assert metric("client.connected") >= 2
    assert wait_for(lambda: stat("connections.count") == 2, 5)
    assert stat("subscriptions.count") == 1
    assert stat("topics.count") == 1
    # The same names $SYS uses: metrics.* keys are the $SYS metric topics with dots.
    names = get_json(broker, "/api/v5/metrics?aggregate=true").keys()
    assert {"messages.dropped.no_subscribers", "bytes.received", "packets.sent"} <= set(names)


def test_cluster_status_of_a_single_node(broker):
    sub = connected(broker, "api-cluster-sub", V5)
    sub.subscribe([("a/+", 0), ("b/#", 0), ("$share/g/s/#", 0)])
    doc = get_json(broker, "/api/v5/cluster")
    assert doc["name"] == "emqxdcl"
    assert doc["self"] == NODE
    assert len(doc["members"]) == 1, doc
    me = doc["members"][0]
    assert me["node"] == NODE and me["self"] is True and me["state"] == "alive"
    assert me["address"] == self_address(broker)
    assert me["link"] == "up"
    assert me["routes"] == 3  # a shared group is a route of its own
    assert abs(me["incarnation"] / 1000 - time.time()) < 3600
    assert doc["routes"] == {"local": 3, "remote": 0}
    assert doc["forward"] == {"sent": 0, "received": 0, "dropped": 0, "queued": 0}
    assert doc["sessions"] == {"takeovers_in": 0, "takeovers_out": 0}

    routes = get_json(broker, "/api/v5/routes")
    assert sorted(r["topic"] for r in routes["data"]) == ["$share/g/s/#", "a/+", "b/#"]
    assert all(r["node"] == NODE for r in routes["data"]), routes
    assert routes["meta"]["count"] == 3
    one = get_json(broker, "/api/v5/routes?topic=a%2F%2B")
    assert one["data"] == [{"topic": "a/+", "node": NODE}]
    assert get_json(broker, "/api/v5/routes?topic=a%2Fb")["data"] == []  # filters, not topics
    assert len(get_json(broker, "/api/v5/routes?limit=1")["data"]) == 1
    status, h, body = call(broker, "GET", "/api/v5/routes?limit=0")
    assert_error(status, h, body, 400, "BAD_REQUEST")


def test_leave_and_force_leave_on_a_node_alone(broker):
    status, _, body = call(broker, "POST", "/api/v5/cluster/leave")
    assert status == 200, body
    assert json.loads(body) == {"message": "this node was not in a cluster"}
    for method, path, payload in [
            ("POST", "/api/v5/cluster/force_leave", {"node": "n2@127.0.0.1"}),
            ("POST", "/api/v5/cluster/force_leave", {"node": "n2@127.0.0.1:4371"}),
            ("DELETE", "/api/v5/cluster/n2%40127.0.0.1/force_leave", None)]:
        status, h, resp = call(broker, method, path, body=payload)
        doc = assert_error(status, h, resp, 404, "NOT_FOUND")
        assert doc["message"] == "unknown node n2@127.0.0.1", (method, path, doc)
    # Still a cluster of one, and still serving.
    assert [m["node"] for m in get_json(broker, "/api/v5/cluster")["members"]] == [NODE]
    mqtt_roundtrip(broker, "api/alone")


def test_join_refuses_itself_and_bad_addresses(broker):
    for node, message in [
            (NODE, "a node cannot join itself"),
            (self_address(broker), "a node cannot join itself"),
            ("nohost", "bad node address 'nohost': no '@' (expected name@host or name@host:port)"),
            ("n2@127.0.0.1:99999",
             "bad node address 'n2@127.0.0.1:99999': the port 99999 is out of range 1-65535"),
            ("n 2@127.0.0.1", "bad node address 'n 2@127.0.0.1': the name has a space (letters, "
                              "digits, '_', '-' and '.' only)")]:
        status, h, body = call(broker, "POST", "/api/v5/cluster/join", body={"node": node})
        doc = assert_error(status, h, body, 400, "BAD_REQUEST")
        assert doc["message"] == message, node
    assert len(get_json(broker, "/api/v5/cluster")["members"]) == 1


def test_join_of_a_node_nobody_serves_answers_503_after_5_s(broker):
    node = unserved_address()
    t0 = time.monotonic()
    status, h, body = call(broker, "POST", "/api/v5/cluster/join", body={"node": node},
                           timeout=15)
    took = time.monotonic() - t0
    doc = assert_error(status, h, body, 503, "SERVICE_UNAVAILABLE")
    assert doc["message"] == ("no answer from %s within 5 s; still trying (is its "
                              "cluster.rpc.bind reachable from here?)" % node)
    assert 4.5 <= took <= 6.5, "the join answered after %.1f s" % took
    # The CLI waits as long (its deadline for a join is longer) and prints the message.
    t0 = time.monotonic()
    r = cli("join", node, "--api", api_of(broker))
    took = time.monotonic() - t0
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip() == "emqxd: " + doc["message"]
    assert r.stdout == ""
    assert took <= 8, "emqxd cluster join took %.1f s" % took
    # Nobody was added, and the node keeps serving.
    assert [m["node"] for m in get_json(broker, "/api/v5/cluster")["members"]] == [NODE]
    mqtt_roundtrip(broker, "api/joining")


def test_keep_alive_serves_several_requests_on_one_connection(broker):
    conn = http.client.HTTPConnection("127.0.0.1", broker.api_port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/api/v5/stats", headers={"Authorization": basic("admin", "public")})
            r = conn.getresponse()
            assert r.status == 200
            r.read()
        sock = conn.sock
        conn.request("GET", "/status")
        r = conn.getresponse()
        assert r.status == 200 and r.read().startswith(b"Node ")
        assert conn.sock is sock  # the same connection throughout
    finally:
        conn.close()


# ----------------------------------------------------------------------------- bad input

def test_malformed_http_gets_400_and_the_node_keeps_serving(broker):
    cases = [
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage\r\n\r\n",  # a TLS hello
        b"\x00\xff\xfe\xfd\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"POST /api/v5/cluster/join HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
        # A header over 8 KiB, and a body over 1 MiB (refused on its Content-Length while
        # the client keeps sending).
        b"GET /status HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
        b"POST /api/v5/cluster/join HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2000000,
    ]
    for data in cases:
        got, closed = raw_exchange(broker, data)
        assert got.startswith(b"HTTP/1.1 400 Bad Request\r\n"), (data[:40], got[:200])
        assert b'"code":"BAD_REQUEST"' in got
        assert closed, data[:40]
    got, _ = raw_exchange(broker, b"GET /status HTTP/1.1\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n")
    assert b"request header larger than 8 KiB" in got
    # Bytes that never make a request: closed once idle, no answer owed (shortened here:
    # the idle timeout is 30 s, so only check the node is unharmed meanwhile).
    half = socket.create_connection(("127.0.0.1", broker.api_port), timeout=5)
    half.sendall(b"GET /status HT")
    assert call(broker, "GET", "/status", auth=None)[0] == 200
    half.close()
    assert broker.alive()
    mqtt_roundtrip(broker)
    assert call(broker, "GET", "/api/v5/cluster")[0] == 200


def test_slow_clients_cannot_starve_the_64_connections(broker):
    # 70 requests whose header never ends hold no slot for long: a whole request still
    # gets its answer at once (the one waiting longest makes room), and each half-sent one
    # is dropped within the 5 s header deadline, however it trickles.
    slow = []
    try:
        for _ in range(70):
            s = socket.create_connection(("127.0.0.1", broker.api_port), timeout=10)
            s.sendall(b"GET /api/v5/cluster HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            slow.append(s)
        t0 = time.monotonic()
        assert call(broker, "GET", "/api/v5/cluster")[0] == 200
        assert time.monotonic() - t0 < 3
        # One more trickles a byte every half second: closed about 5 s after it began.
        trickle = socket.create_connection(("127.0.0.1", broker.api_port), timeout=10)
        t0 = time.monotonic()
        trickle.sendall(b"GET /status HTTP/1.1\r\n")
        closed = False
        while time.monotonic() - t0 < 12 and not closed:
            time.sleep(0.5)
            try:
                trickle.sendall(b"X")
                trickle.setblocking(False)
                try:
                    closed = trickle.recv(1) == b""
                except BlockingIOError:
                    pass
                finally:
                    trickle.setblocking(True)
            except OSError:
                closed = True
        elapsed = time.monotonic() - t0
        trickle.close()
        assert closed and 4 < elapsed < 8, elapsed
        mqtt_roundtrip(broker, "api/limit")
    finally:
        for s in slow:
            s.close()
    assert wait_for(lambda: call(broker, "GET", "/status", auth=None)[0] == 200, 5)
    assert "closing the one waiting longest for its client" in broker.read_log()


def test_failed_logins_lock_the_user_and_the_address(make_broker):
    host = non_loopback_address()
    if host is None:
        pytest.skip("this machine has no address but loopback")
    port = free_port()
    b = make_broker(env={"EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "0.0.0.0:%d" % port,
                         "EMQX_DASHBOARD__DEFAULT_PASSWORD": "right",
                         "EMQX_DASHBOARD__UNSUCCESSFUL_LOGIN_MAX_ATTEMPTS": "3",
                         "EMQX_DASHBOARD__UNSUCCESSFUL_LOGIN_LOCK_DURATION": "3s"})
    # Three wrong passwords in a row lock the user: from elsewhere even the right password
    # gets 429 with Retry-After, before it is hashed; loopback clients are not locked out.
    for guess in ("a", "b", "c"):
        assert call_at(host, port, "GET", "/api/v5/stats", ("admin", guess))[0] == 401
    status, h, body = call_at(host, port, "GET", "/api/v5/stats", ("admin", "right"))
    doc = assert_error(status, h, body, 429, "TOO_MANY_REQUESTS")
    assert "failed logins" in doc["message"]
    assert 1 <= int(h["retry-after"]) <= 3
    assert call_at("127.0.0.1", port, "GET", "/api/v5/stats", ("admin", "right"))[0] == 200
    log = b.read_log()
    assert "user locked for 3 s after 3 failed logins" in log
    assert "right" not in log.split("user locked")[1].split("\n")[0]
    # The lock ends after its duration.
    assert wait_for(lambda: call_at(host, port, "GET", "/api/v5/stats",
                                    ("admin", "right"))[0] == 200, 6, 0.2)


def test_a_port_in_use_stops_start_up_naming_the_listener(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    env = dict(os.environ, EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % free_port(),
               EMQX_LISTENERS__WS__DEFAULT__BIND="127.0.0.1:%d" % free_port(),
               EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % port,
               EMQX_NODE__DATA_DIR=str(tmp_path))
    try:
        r = subprocess.run([EMQXD_BIN, "start"], env=env, capture_output=True, text=True,
                           timeout=30)
    finally:
        taken.close()
    assert r.returncode == 1, r.stderr
    assert ("listener http:dashboard (dashboard.listeners.http.bind): cannot listen on "
            "127.0.0.1:%d: Address already in use" % port) in r.stderr


def test_api_keys_from_the_bootstrap_file(make_broker, tmp_path):
    keys = tmp_path / "keys.conf"
    keys.write_text("# EMQX's format\nops:0ps-secret\nro:r0-secret:viewer\n")
    b = make_broker(env={"EMQX_API_KEY__BOOTSTRAP_FILE": str(keys)})
    assert call(b, "GET", "/api/v5/cluster", auth=("ops", "0ps-secret"))[0] == 200
    assert call(b, "GET", "/api/v5/stats", auth=("ro", "r0-secret"))[0] == 200
    status, h, body = call(b, "POST", "/api/v5/cluster/leave", auth=("ro", "r0-secret"))
    assert_error(status, h, body, 403, "FORBIDDEN")
    status, h, body = call(b, "POST", "/api/v5/cluster/leave", auth=("ops", "0ps-secret"))
    assert status == 200, body
    status, h, body = call(b, "GET", "/api/v5/stats", auth=("ro", "0ps-secret"))
    assert_error(status, h, body, 401, "UNAUTHORIZED")
    log = b.read_log()
    assert "2 API keys from %s (1 viewer)" % keys in log
    assert "0ps-secret" not in log and "r0-secret" not in log


def test_a_bad_api_key_file_stops_start_up_naming_file_and_line(tmp_path):
    keys = tmp_path / "keys.conf"
    keys.write_text("ok:fine-secret\n\nk3:hunter22:root\n")
    env = dict(os.environ, EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % free_port(),
               EMQX_LISTENERS__WS__DEFAULT__BIND="127.0.0.1:%d" % free_port(),
               EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % free_port(),
               EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
               EMQX_NODE__DATA_DIR=str(tmp_path / "data"),
               EMQX_API_KEY__BOOTSTRAP_FILE=str(keys))
    r = subprocess.run([EMQXD_BIN, "start"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1, r.stderr
    assert ("api_key.bootstrap_file: %s:3: the role of key 'k3' must be administrator or viewer"
            % keys) in r.stderr
    assert "hunter22" not in r.stderr
    env["EMQX_API_KEY__BOOTSTRAP_FILE"] = str(tmp_path / "missing.conf")
    r = subprocess.run([EMQXD_BIN, "start"], env=env, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1
    assert "api_key.bootstrap_file: cannot read %s" % (tmp_path / "missing.conf") in r.stderr


def test_the_api_can_be_disabled(make_broker):
    b = make_broker(env={"EMQX_DASHBOARD__LISTENERS__HTTP__ENABLE": "false"})
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", b.api_port), timeout=2).close()
    assert "HTTP API disabled" in b.read_log()
    r = cli("status", env={"EMQX_DASHBOARD__LISTENERS__HTTP__ENABLE": "false"})
    assert r.returncode == 2
    assert "HTTP API is disabled" in r.stderr


# ----------------------------------------------------------------------------- the CLI

def test_cli_status_table_and_json(broker):
    sub = connected(broker, "api-cli-sub", V5)
    sub.subscribe([("cli/+", 0)])
    api = "127.0.0.1:%d" % broker.api_port
    r = cli("status", "--api", api)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "cluster emqxdcl, as seen from %s" % NODE
    header = lines[2].split()
    assert header == ["NODE", "ADDRESS", "STATE", "INCARNATION", "ROUTES", "LINK"]
    row = lines[3].split()
    assert row[:2] == [NODE, "(self)"]
    assert row[2:4] == [self_address(broker), "alive"]
    assert row[5:] == ["1", "up"]
    assert lines[-1] == ("1 member (1 alive); routes: 1 local, 0 remote; "
                         "forwarded: 0 sent, 0 received, 0 dropped")

    r = cli("status", "--json", "--api", api)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc == get_json(broker, "/api/v5/cluster")
    # Options before or after the subcommand.
    assert cli("--api", api, "status", "--json").returncode == 0


def test_cli_join_leave_and_force_leave_print_the_node_s_answer(broker):
    api = api_of(broker)
    r = cli("leave", "--api", api)
    assert (r.returncode, r.stdout, r.stderr) == (0, "this node was not in a cluster\n", "")
    for args, message in [(("force-leave", "n2@127.0.0.1"), "unknown node n2@127.0.0.1"),
                          (("join", NODE), "a node cannot join itself"),
                          (("join", "n2@"), "bad node address 'n2@': the host after '@' is empty")]:
        r = cli(*args, "--api", api)
        assert r.returncode == 1, (args, r.stdout, r.stderr)
        assert r.stderr.strip() == "emqxd: " + message, args


def test_cli_credentials_wrong_or_from_the_environment(make_broker):
    b = make_broker(env={"EMQX_DASHBOARD__DEFAULT_PASSWORD": "cl1-secret"})
    api = "127.0.0.1:%d" % b.api_port
    r = cli("status", "--api", api)  # the default password
    assert r.returncode == 2
    assert "emqxd: the node's HTTP API refused the credentials" in r.stderr
    r = cli("status", "--api", api, "--password", "wrong")
    assert r.returncode == 2
    assert "refused the credentials" in r.stderr
    assert cli("status", "--api", api, "--password", "cl1-secret").returncode == 0
    assert cli("status", "--api", api, env={"EMQXD_API_PASSWORD": "cl1-secret"}).returncode == 0
    # The node's own override, as the node's environment would have it.
    assert cli("status", "--api", api,
               env={"EMQX_DASHBOARD__DEFAULT_PASSWORD": "cl1-secret"}).returncode == 0
    # An explicit option wins over the environment.
    r = cli("status", "--api", api, "--password", "wrong",
            env={"EMQXD_API_PASSWORD": "cl1-secret"})
    assert r.returncode == 2


def test_cli_unreachable_api():
    port = free_port()
    r = cli("status", "--api", "127.0.0.1:%d" % port)
    assert r.returncode == 2
    assert r.stderr.strip() == ("emqxd: cannot reach the node's HTTP API at 127.0.0.1:%d: "
                                "Connection refused" % port)
    # With nothing said otherwise, the API is looked for at 127.0.0.1:18083 (checked only
    # when nothing listens there on this machine).
    try:
        socket.create_connection(("127.0.0.1", 18083), timeout=1).close()
    except OSError:
        r = cli("status")
        assert r.returncode == 2
        assert r.stderr.strip() == ("emqxd: cannot reach the node's HTTP API at 127.0.0.1:18083: "
                                    "Connection refused")


def test_cli_finds_the_api_in_the_config_file(make_broker, tmp_path):
    port = free_port()
    conf = tmp_path / "node.conf"
    conf.write_text('dashboard {\n  listeners.http.bind = "0.0.0.0:%d"\n'
                    '  default_password = "fr0m-file"\n}\n' % port)
    b = make_broker(args=["-c", str(conf)],
                    env={"EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "0.0.0.0:%d" % port})
    assert b.api_port == port
    # No --api, no credentials: both come from the file (0.0.0.0 means this machine).
    r = cli("status", "-c", str(conf))
    assert r.returncode == 0, r.stderr
    assert "%s (self)" % NODE in r.stdout
    r = cli("status", "--json", "-c", str(conf))
    assert json.loads(r.stdout)["self"] == NODE
    # EMQX_* overrides apply to the file, as they do for the node.
    r = cli("status", "-c", str(conf), env={"EMQX_DASHBOARD__DEFAULT_PASSWORD": "other"})
    assert r.returncode == 2 and "refused the credentials" in r.stderr
    r = cli("status", "-c", str(conf),
            env={"EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "127.0.0.1:%d" % free_port()})
    assert r.returncode == 2 and "cannot reach" in r.stderr


def test_cli_usage_errors_exit_2():
    for args in [(), ("join",), ("force-leave",), ("bogus",), ("status", "--api", "nonsense"),
                 ("status", "--api", "127.0.0.1:99999"), ("status", "--what")]:
        r = cli(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
    r = subprocess.run([EMQXD_BIN, "cluster", "--help"], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0
    for word in ["join", "leave", "force-leave", "status", "--api", "--username", "--password"]:
        assert word in r.stdout


# ----------------------------------------------------------------------------- two nodes

N1 = "n1@127.0.0.1"
N2 = "n2@127.0.0.1"
# SWIM timings for a test: a dead node is suspected within a few hundred ms and declared
# dead about a second later (suspicion: 4 x the probe interval).
FAST_SWIM = {"EMQX_CLUSTER__PROBE_INTERVAL": "200ms", "EMQX_CLUSTER__PROBE_TIMEOUT": "100ms",
             "EMQX_CLUSTER__GOSSIP_INTERVAL": "50ms"}


def cluster_members(broker):
    """{node: member} from `emqxd cluster status --json` against `broker`."""
    r = cli("status", "--json", "--api", api_of(broker))
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return {m["node"]: m for m in json.loads(r.stdout)["members"]}


def route_rows(broker, query=""):
    return get_json(broker, "/api/v5/routes" + query)["data"]


def poll(what, fn, ok, timeout):
    """Calls fn() until ok(value) or `timeout` seconds pass; fails naming `what` and the
    last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if ok(value):
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("%s: not within %s s; last seen: %r" % (what, timeout, value))
        time.sleep(0.1)


def holds(what, fn, ok, seconds):
    """Checks ok(fn()) again and again for `seconds`; fails at the first value that breaks
    it, naming `what` and that value."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = fn()
        assert ok(value), "%s: broken: %r" % (what, value)
        time.sleep(0.1)


def gone(members, node):
    return node not in members or members[node]["state"] in ("left", "dead")


def both_alive(members, a, b):
    return (set(members) == {a, b} and all(m["state"] == "alive" for m in members.values())
            and all(m["link"] == "up" for m in members.values()))


def test_two_nodes_join_route_leave_and_force_leave(make_broker):
    n1 = make_broker(env=dict(FAST_SWIM, EMQX_NODE__NAME=N1))
    n2 = make_broker(env=dict(FAST_SWIM, EMQX_NODE__NAME=N2))

    # n2 joins n1, by the CLI against n2's API.
    r = cli("join", self_address(n1, N1), "--api", api_of(n2))
    assert (r.returncode, r.stderr) == (0, ""), (r.stdout, r.stderr)
    assert r.stdout == "joined %s\n" % N1
    for b, me, peer in [(n1, N1, N2), (n2, N2, N1)]:
        members = poll("%s sees %s and itself alive with links up" % (me, peer),
                       lambda: cluster_members(b), lambda m: both_alive(m, me, peer), 10)
        assert members[me]["self"] is True and members[peer]["self"] is False
        assert members[peer]["address"] == self_address(n2 if peer == N2 else n1, peer)

    # A subscription on n1 is a route n2 lists, with its node.
    sub = connected(n1, "api-two-sub", V5)
    sub.subscribe([("two/+/nodes", 1), ("$share/g/two/#", 1)])
    rows = poll("n2 lists n1's routes", lambda: route_rows(n2),
                lambda rows: {"topic": "two/+/nodes", "node": N1} in rows
                and {"topic": "$share/g/two/#", "node": N1} in rows, 10)
    assert all(row["node"] == N1 for row in rows), rows
    assert route_rows(n2, "?topic=two%2F%2B%2Fnodes") == [{"topic": "two/+/nodes", "node": N1}]
    assert route_rows(n1, "?topic=two%2F%2B%2Fnodes") == [{"topic": "two/+/nodes", "node": N1}]
    status = get_json(n2, "/api/v5/cluster")
    assert status["routes"]["remote"] == 2, status
    assert {m["node"]: m["routes"] for m in status["members"]}[N1] == 2, status

    # n2 leaves: n1 no longer lists it (or shows it left or dead), and n2 is alone.
    r = cli("leave", "--api", api_of(n2))
    assert (r.returncode, r.stdout, r.stderr) == (0, "left the cluster\n", "")
    poll("n1 sees n2 gone after its leave", lambda: cluster_members(n1),
         lambda m: gone(m, N2), 15)
    assert list(cluster_members(n2)) == [N2]
    poll("n2 drops n1's routes once it left", lambda: route_rows(n2), lambda rows: rows == [], 5)
    # And it stays gone: n1 does not take it back over a few probe periods.
    holds("n1 keeps n2 out after its leave", lambda: cluster_members(n1),
          lambda m: gone(m, N2), 1.0)

    # n2 joins again, is killed, and n1 removes it with force-leave.
    r = cli("join", self_address(n1, N1), "--api", api_of(n2))
    assert r.returncode == 0, (r.stdout, r.stderr)
    poll("n1 sees n2 alive again", lambda: cluster_members(n1), lambda m: both_alive(m, N1, N2),
         10)
    sub2 = connected(n2, "api-two-sub2", V5)
    sub2.subscribe([("from/n2", 0)])
    poll("n1 lists n2's route", lambda: route_rows(n1),
         lambda rows: {"topic": "from/n2", "node": N2} in rows, 10)
    n2.proc.kill()
    n2.proc.wait(5)
    n2.log.close()
    poll("n1 suspects n2 after a SIGKILL", lambda: cluster_members(n1),
         lambda m: N2 in m and m[N2]["state"] in ("suspect", "dead"), 15)
    # EMQX's form of force-leave here; the CLI's below.
    status, _, body = call(n1, "DELETE", "/api/v5/cluster/%s/force_leave" % N2.replace("@", "%40"))
    assert (status, json.loads(body)) == (200, {"message": "%s removed from the cluster" % N2})
    members = poll("n1 no longer lists n2 after force-leave", lambda: cluster_members(n1),
                   lambda m: list(m) == [N1], 5)
    assert members[N1]["state"] == "alive"
    rows = route_rows(n1)  # n2's are gone with it
    assert sorted((row["topic"], row["node"]) for row in rows) == [
        ("$share/g/two/#", N1), ("two/+/nodes", N1)], rows
    # Once removed, it is unknown to force-leave.
    r = cli("force-leave", N2, "--api", api_of(n1))
    assert r.returncode == 1 and r.stderr.strip() == "emqxd: unknown node %s" % N2, r
    sub.close()


def test_the_openapi_document_lists_the_paths_that_answer(make_broker):
    b = make_broker()
    status, headers, body = call(b, "GET", "/api-docs/swagger.json", auth=None)
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["openapi"].startswith("3.") and doc["info"]["title"]
    paths = doc["paths"]
    assert {"get", "delete"} <= set(paths["/api/v5/clients/{clientid}"])
    assert paths["/api/v5/clients/{clientid}"]["get"]["parameters"][0]["name"] == "clientid"
    assert "post" in paths["/api/v5/publish"] and "get" in paths["/api/v5/prometheus/stats"]
    # EMQX's modules (docs/modules.md).
    assert {"get", "put"} <= set(paths["/api/v5/mqtt/delayed"])
    assert {"get", "delete"} <= set(paths["/api/v5/mqtt/delayed/messages/{node}/{msgid}"])
    assert "delete" in paths["/api/v5/mqtt/delayed/messages/{topic}"]
    assert {"get", "put"} <= set(paths["/api/v5/mqtt/topic_rewrite"])
    assert {"get", "put"} <= set(paths["/api/v5/mqtt/auto_subscribe"])
    assert doc["components"]["securitySchemes"]["basicAuth"]["scheme"] == "basic"
    # Made from the router's own table: every GET without parameters has a handler (a 404
    # may come from it, e.g. a source not configured, but never "no such API").
    plain = [p for p, ops in paths.items() if "get" in ops and "{" not in p]
    assert len(plain) >= 15
    for p in plain:
        status, _, answer = call(b, "GET", p)
        assert b"no such API" not in answer, (p, status)
    assert b"no such API" in call(b, "GET", "/api/v5/nothing-here")[2]
    assert json.loads(call(b, "GET", "/api-docs", auth=None)[2]) == doc
    off = make_broker(env={"EMQX_DASHBOARD__SWAGGER_SUPPORT": "false"})
    assert call(off, "GET", "/api-docs/swagger.json", auth=None)[0] == 404
