"""The `http` authorization source (EMQX 5's; auth/authz_http.hpp) and the HTTP clients of
outside services (api::HttpPool: keep-alive, TLS), against a real HTTP(S) server running in
a thread of the test that decides by topic:

- allow / deny / ignore / 204 / 500 for publish and subscribe, MQTT 3.1.1 and 5 (a denied
  SUBACK is 0x87, 3.1.1: 0x80; a denied QoS 1 PUBLISH is answered 0x87 and not delivered);
  ignore and errors go on to no_match;
- the per-connection cache: the second check of a topic does not reach the server;
- a slow server: its client waits, in order; another client on the same node does not;
- a server that is down: ignore -> no_match, logged at most every 10 s;
- https with verify_peer: the right name is accepted, a wrong name refused;
- the http authenticator over https: one kept TCP connection serves several CONNECTs."""
import json
import os
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

import mqttc
import rawmqtt as R
from conftest import EMQXD_BIN, wait_for
from ports import free_port
from rawmqtt import V5, V311, connected
from test_api import call
from test_listeners import pki  # noqa: F401  (a fixture: a test CA, server.pem for 127.0.0.1/localhost)
from test_startup import base_env

NOT_AUTHORIZED = 0x87


class AuthzServer:
    """EMQX's authorization protocol, answered by the topic's first level:
    allow/... deny/... ignore/... -> {"result": ...}; 204/... -> 204; 500/... -> 500;
    slow/... -> allow after `delay` seconds; a subscription to "#" is allowed (the
    watcher). Keeps HTTP/1.1 connections open; counts them and records every request."""

    def __init__(self, tls_dir=None, delay=1.5):
        svc = self
        self.requests = []
        self.connections = 0
        self.delay = delay
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive

            def log_message(self, *a):
                pass

            def setup(self):
                with svc.lock:
                    svc.connections += 1
                super().setup()

            def _answer(self, fields):
                with svc.lock:
                    svc.requests.append((self.command, unquote(self.path), fields))
                topic = fields.get("topic", "")
                first = topic.split("/")[0]
                if fields.get("action") == "subscribe" and topic == "#":
                    first = "allow"
                if first == "slow":
                    time.sleep(svc.delay)
                    first = "allow"
                if fields.get("username") is not None and "topic" not in fields:
                    first = "auth"  # the authenticator's request
                if first in ("204", "500"):
                    status, data = int(first), b""
                elif first == "auth":
                    status, data = 200, b'{"result": "allow"}'
                else:
                    result = first if first in ("allow", "deny", "ignore") else "ignore"
                    status, data = 200, json.dumps({"result": result}).encode()
                self.send_response(status)
                if data:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                self._answer(json.loads(self.rfile.read(n).decode() or "{}"))

            def do_GET(self):
                q = parse_qs(urlsplit(self.path).query)
                self._answer({k: v[0] for k, v in q.items()})

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a refused TLS handshake is expected in a test

        self.server = Server(("127.0.0.1", 0), Handler)
        if tls_dir:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(os.path.join(tls_dir, "server.pem"),
                                os.path.join(tls_dir, "server.key"))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def topics(self):
        with self.lock:
            return [f.get("topic") for _, _, f in self.requests]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def server():
    s = AuthzServer()
    yield s
    s.close()


def source(url, method="post", extra=""):
    return ('{type = http, enable = true, method = %s, url = "%s", request_timeout = 5s,'
            ' headers { "X-From" = "emqxd" },'
            ' body { clientid = "${clientid}", username = "${username}", topic = "${topic}",'
            ' action = "${action}", qos = "${qos}", retain = "${retain}",'
            ' peerhost = "${peerhost}" }%s}' % (method, url, ", " + extra if extra else ""))


def conf(src, no_match="deny", cache="cache { enable = false }"):
    return "authorization {\n  no_match = %s\n  %s\n  sources = [%s]\n}\n" % (no_match, cache, src)


def metrics(broker):
    status, _, body = call(broker, "GET", "/api/v5/metrics?aggregate=true")
    assert status == 200, body
    return json.loads(body)


def url(server, scheme="http", host="127.0.0.1"):
    return "%s://%s:%d/authz/${clientid}" % (scheme, host, server.port)


# ----------------------------------------------------------------------------- decisions

@pytest.mark.parametrize("version", [V311, V5])
@pytest.mark.parametrize("method", ["post", "get"])
def test_allow_deny_ignore_for_publish_and_subscribe(make_broker, server, version, method):
    broker = make_broker(config_text=conf(source(url(server), method)))
    v5 = version == V5
    denied_sub = NOT_AUTHORIZED if v5 else 0x80
    watcher = connected(broker, "watcher", V5)
    assert watcher.subscribe([("#", 1)]) == [1]
    c = connected(broker, "c 1/x", version, username="alice")
    # SUBSCRIBE: allow, deny, ignore (-> no_match = deny), 204 (allow), 500 (-> no_match).
    assert c.subscribe([("allow/s", 1), ("deny/s", 1), ("ignore/s", 1), ("204/s", 0),
                        ("500/s", 0)], pid=2) == [1, denied_sub, denied_sub, 0, denied_sub]
    # PUBLISH QoS 1: allowed is delivered; denied is answered 0x87 (v5) and not delivered.
    ack = c.publish("allow/p", b"yes", qos=1, pid=3)
    assert ack.type == R.PUBACK and (not v5 or ack.code == 0)
    assert watcher.wait_for(R.PUBLISH).payload == b"yes"
    for pid, topic in ((4, "deny/p"), (5, "ignore/p"), (6, "500/p")):
        ack = c.publish(topic, b"no", qos=1, pid=pid)
        assert ack.type == R.PUBACK and ack.pid == pid
        if v5:
            assert ack.code == NOT_AUTHORIZED, topic
    c.publish("204/p", b"204", qos=1, pid=7)
    assert watcher.wait_for(R.PUBLISH).payload == b"204"
    assert watcher.recv_all() == []
    assert c.is_open()
    # What the server was sent: the placeholders, the client id URL-encoded in the URL.
    cmd, path, fields = [r for r in server.requests if r[2].get("topic") == "deny/p"][0]
    assert cmd == method.upper()
    assert path.startswith("/authz/c 1/x")
    assert fields["clientid"] == "c 1/x" and fields["username"] == "alice"
    assert fields["action"] == "publish" and fields["qos"] == "1"
    assert fields["retain"] == "false" and fields["peerhost"] == "127.0.0.1"
    m = metrics(broker)
    assert m["authorization.matched_allow"] >= 4
    assert m["authorization.matched_deny"] >= 2
    assert m["authorization.nomatch"] >= 4
    assert m["authorization.deny"] >= 6


def test_the_cache_answers_the_second_check(make_broker, server):
    broker = make_broker(config_text=conf(source(url(server)),
                                          cache="cache { enable = true, ttl = 1m }"))
    c = connected(broker, "cached", V5)
    for pid in (1, 2, 3):
        assert c.publish("allow/cached", b"x", qos=1, pid=pid).code in (0, 0x10)
    assert c.subscribe([("deny/cached", 0)], pid=4) == [NOT_AUTHORIZED]
    assert c.subscribe([("deny/cached", 0)], pid=5) == [NOT_AUTHORIZED]
    assert server.topics().count("allow/cached") == 1
    assert server.topics().count("deny/cached") == 1
    m = metrics(broker)
    assert m["authorization.cache_hit"] == 3
    assert m["authorization.cache_miss"] == 2
    # Another connection has its own cache.
    other = connected(broker, "cached-2", V5)
    assert other.publish("allow/cached", b"x", qos=1, pid=1).code in (0, 0x10)
    assert server.topics().count("allow/cached") == 2


# ----------------------------------------------------------------------------- waiting

def test_a_slow_server_holds_its_client_only(make_broker, server):
    broker = make_broker(config_text=conf(source(url(server))))
    slow = connected(broker, "slow", V5)
    quick = connected(broker, "quick", V5)
    start = time.monotonic()
    # Two packets at once: the second waits behind the first, whose answer is slow.
    slow.send(R.publish("slow/1", b"1", qos=1, pid=1))
    slow.send(R.publish("allow/2", b"2", qos=1, pid=2))
    time.sleep(0.2)
    # Another client on the same node is answered meanwhile.
    t = time.monotonic()
    assert quick.publish("allow/q", b"q", qos=1, pid=1).code in (0, 0x10)
    assert quick.subscribe([("allow/qs", 0)], pid=2) == [0]
    assert time.monotonic() - t < server.delay / 2
    first = slow.recv(timeout=10)
    second = slow.recv(timeout=10)
    assert (first.type, first.pid, second.type, second.pid) == (R.PUBACK, 1, R.PUBACK, 2)
    assert time.monotonic() - start >= server.delay - 0.1
    assert server.topics().index("slow/1") < server.topics().index("allow/2")
    assert slow.is_open()


def test_a_server_that_is_down_is_ignored(make_broker):
    port = free_port()  # nothing listens there
    broker = make_broker(config_text=conf(
        source("http://127.0.0.1:%d/authz" % port), no_match="allow"))
    c = connected(broker, "down", V5)
    assert c.publish("deny/x", b"x", qos=1, pid=1).code in (0, 0x10)  # no_match = allow
    assert c.subscribe([("deny/y", 0)], pid=2) == [0]
    for pid in range(3, 8):
        c.publish("deny/%d" % pid, b"x", qos=1, pid=pid)
    assert metrics(broker)["authorization.nomatch"] >= 7
    lines = [l for l in broker.read_log().splitlines() if "unreachable" in l]
    assert len(lines) == 1, lines  # at most every 10 s
    assert "authorization.sources[1]" in lines[0] and "ignore" in lines[0]


# ----------------------------------------------------------------------------- TLS

def test_https_with_verify_peer_checks_the_servers_name(make_broker, pki):
    tls = AuthzServer(tls_dir=pki)
    try:
        def ssl_block(sni):
            return ('ssl { enable = true, verify = verify_peer, cacertfile = "%s"%s }'
                    % (os.path.join(pki, "ca.pem"),
                       ', server_name_indication = "%s"' % sni if sni else ""))
        # The certificate names localhost and 127.0.0.1: both are accepted.
        for host, sni in (("localhost", None), ("127.0.0.1", None), ("127.0.0.1", "localhost")):
            b = make_broker(config_text=conf(source(url(tls, "https", host),
                                                    extra=ssl_block(sni))))
            c = connected(b, "tls-ok", V5)
            assert c.subscribe([("allow/t", 0), ("deny/t", 0)]) == [0, NOT_AUTHORIZED], host
        asked = len(tls.requests)
        # A name the certificate does not carry: refused, so ignore -> no_match = deny.
        b = make_broker(config_text=conf(source(url(tls, "https"),
                                                extra=ssl_block("wrong.example"))))
        c = connected(b, "tls-wrong", V5)
        assert c.subscribe([("allow/t", 0)]) == [NOT_AUTHORIZED]
        assert len(tls.requests) == asked
        assert wait_for(lambda: "certificate verify failed" in b.read_log(), 5)
    finally:
        tls.close()


def test_http_authenticator_over_https_keeps_its_connection(make_broker, pki):
    tls = AuthzServer(tls_dir=pki)
    try:
        b = make_broker(config_text=(
            'authentication = [{mechanism = password_based, backend = http, method = post,'
            ' url = "https://localhost:%d/auth", pool_size = 1, connect_timeout = 2s,'
            ' body { username = "${username}", password = "${password}" },'
            ' ssl { enable = true, verify = verify_peer, cacertfile = "%s" }}]\n'
            % (tls.port, os.path.join(pki, "ca.pem"))))
        for i in range(5):
            c = connected(b, "a%d" % i, V5, username="u%d" % i, password=b"pw")
            c.close()
        assert len(tls.requests) == 5
        assert tls.connections == 1
    finally:
        tls.close()


# ----------------------------------------------------------------------------- config

@pytest.mark.parametrize("src, expect", [
    ('{type = http, url = "http://127.0.0.1:1/${password}"}', "unknown placeholder ${password}"),
    ('{type = http, url = "ftp://x/"}', "expected http[s]://host[:port]/path"),
    ('{type = http, url = "https://x/", ssl {enable = true, cacertfile = "/nonexistent.pem"}}',
     "authorization.sources[1].ssl.cacertfile: cannot read /nonexistent.pem"),
    ('{type = http, url = "http://x/", pool = 3}', "authorization.sources[1].pool: unknown key"),
])
def test_bad_http_sources_stop_start_up(tmp_path, src, expect):
    path = tmp_path / "emqx.conf"
    path.write_text("authorization { sources = [%s] }\n" % src)
    r = subprocess.run([EMQXD_BIN, "start", "-c", str(path)], env=base_env(str(tmp_path / "data")),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert expect in r.stderr, r.stderr
