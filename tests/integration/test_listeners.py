"""Listeners other than plain TCP: MQTT over WebSocket (section 6, path and subprotocol
"mqtt"), MQTT over TLS, and WebSocket over TLS, with real clients: paho (websockets and
TLS transports), mosquitto_pub/sub with a CA file, and MQTT.js. Certificates are made by
the test with the openssl command line."""
import os
import socket
import ssl
import subprocess

import paho.mqtt.client as mqtt
import pytest

from conftest import free_port, wait_for
from pki import make_pki

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    return make_pki(str(tmp_path_factory.mktemp("pki")))


def tls_env(pki, kind, port, verify=False):
    prefix = "EMQX_LISTENERS__%s__DEFAULT__" % kind.upper()
    env = {
        prefix + "BIND": "127.0.0.1:%d" % port,
        prefix + "SSL_OPTIONS__CERTFILE": os.path.join(pki, "server.pem"),
        prefix + "SSL_OPTIONS__KEYFILE": os.path.join(pki, "server.key"),
        prefix + "SSL_OPTIONS__CACERTFILE": os.path.join(pki, "ca.pem"),
    }
    if verify:
        env[prefix + "SSL_OPTIONS__VERIFY"] = "verify_peer"
        env[prefix + "SSL_OPTIONS__FAIL_IF_NO_PEER_CERT"] = "true"
    return env


def paho_roundtrip(port, transport="tcp", tls=None, path="/mqtt", version=mqtt.MQTTv5):
    """Connects, subscribes, publishes QoS 1 to itself; returns the payload it got back."""
    got = []
    c = mqtt.Client(client_id="", protocol=version, transport=transport)
    if transport == "websockets":
        c.ws_set_options(path=path)
    if tls is not None:
        c.tls_set_context(tls)
    c.on_message = lambda cl, u, m: got.append(m.payload)
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        assert wait_for(c.is_connected, 5), "no CONNACK"
        rc, mid = c.subscribe("l/t", 1)
        assert rc == 0
        c.publish("l/t", b"over-" + transport.encode(), qos=1)
        wait_for(lambda: got, 5)
        return list(got)
    finally:
        c.disconnect()
        c.loop_stop()


@pytest.mark.parametrize("version", [mqtt.MQTTv311, mqtt.MQTTv5])
def test_websocket_paho(make_broker, version):
    ws = free_port()
    b = make_broker(env={"EMQX_LISTENERS__WS__DEFAULT__BIND": "127.0.0.1:%d" % ws})
    assert paho_roundtrip(ws, "websockets", version=version) == [b"over-websockets"]


def test_websocket_and_tcp_clients_share_the_broker(make_broker):
    ws = free_port()
    b = make_broker(env={"EMQX_LISTENERS__WS__DEFAULT__BIND": "127.0.0.1:%d" % ws})
    got = []
    sub = mqtt.Client(client_id="tcp-sub", protocol=mqtt.MQTTv5)
    sub.on_message = lambda c, u, m: got.append((m.topic, m.payload))
    sub.connect("127.0.0.1", b.port)
    sub.loop_start()
    assert wait_for(sub.is_connected, 5)
    sub.subscribe("mix/#", 1)
    wait_for(lambda: False, 0.3)
    pub = mqtt.Client(client_id="ws-pub", protocol=mqtt.MQTTv5, transport="websockets")
    pub.connect("127.0.0.1", ws)
    pub.loop_start()
    assert wait_for(pub.is_connected, 5)
    for i in range(20):
        pub.publish("mix/%d" % i, b"%d" % i, qos=1).wait_for_publish(5)
    assert wait_for(lambda: len(got) >= 20, 5)
    assert got == [("mix/%d" % i, b"%d" % i) for i in range(20)]
    pub.disconnect(); pub.loop_stop(); sub.disconnect(); sub.loop_stop()


def test_websocket_wrong_path_is_refused_with_404(make_broker):
    ws = free_port()
    make_broker(env={"EMQX_LISTENERS__WS__DEFAULT__BIND": "127.0.0.1:%d" % ws})
    s = socket.create_connection(("127.0.0.1", ws), timeout=5)
    s.sendall(b"GET /other HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    assert s.recv(100).startswith(b"HTTP/1.1 404")
    s.close()


def test_websocket_handshake_answers_mqtt_subprotocol(make_broker):
    ws = free_port()
    make_broker(env={"EMQX_LISTENERS__WS__DEFAULT__BIND": "127.0.0.1:%d" % ws})
    s = socket.create_connection(("127.0.0.1", ws), timeout=5)
    s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
              b"Sec-WebSocket-Protocol: mqtt\r\n\r\n")
    head = s.recv(1000).decode(errors="replace").lower()
    assert head.startswith("http/1.1 101")
    assert "sec-websocket-protocol: mqtt" in head  # [MQTT-6.0.0-4]
    s.close()


def test_tls_paho_and_mosquitto_clients(make_broker, pki):
    port = free_port()
    b = make_broker(env=tls_env(pki, "ssl", port))
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    assert paho_roundtrip(port, tls=ctx) == [b"over-tcp"]
    # mosquitto clients verify the server against the CA, as a user would run them.
    common = ["-h", "127.0.0.1", "-p", str(port), "--cafile", os.path.join(pki, "ca.pem")]
    subprocess.run(["mosquitto_pub"] + common + ["-t", "tls/r", "-m", "secret", "-r", "-q", "1"],
                   check=True, timeout=10)
    out = subprocess.run(["mosquitto_sub"] + common + ["-t", "tls/r", "-C", "1", "-W", "5"],
                         check=True, timeout=10, capture_output=True, text=True).stdout
    assert out.strip() == "secret"


def test_tls_rejects_a_client_that_does_not_trust_the_server(make_broker, pki):
    port = free_port()
    b = make_broker(env=tls_env(pki, "ssl", port))
    ctx = ssl.create_default_context()  # system CAs only: our test CA is unknown
    with pytest.raises(ssl.SSLError):
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            ctx.wrap_socket(raw, server_hostname="127.0.0.1").close()
    # The broker carries on.
    ok = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    assert paho_roundtrip(port, tls=ok) == [b"over-tcp"]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_tls_verify_peer_requires_a_client_certificate(make_broker, pki):
    port = free_port()
    make_broker(env=tls_env(pki, "ssl", port, verify=True))
    no_cert = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    with pytest.raises((ssl.SSLError, ConnectionError, OSError, AssertionError)):
        paho_roundtrip(port, tls=no_cert)
    with_cert = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    with_cert.load_cert_chain(os.path.join(pki, "client.pem"), os.path.join(pki, "client.key"))
    assert paho_roundtrip(port, tls=with_cert) == [b"over-tcp"]


def test_wss_with_mqttjs(make_broker, pki):
    port = free_port()
    make_broker(env=tls_env(pki, "wss", port))
    script = os.path.join(HERE, "mqttjs", "wss_roundtrip.js")
    out = subprocess.run(["node", script, str(port), os.path.join(pki, "ca.pem")], cwd=HERE,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip().splitlines() == ["wss/x hello-wss 1"]


def test_bad_certificate_path_fails_start_naming_the_file(pki, tmp_path):
    from conftest import Broker
    env = tls_env(pki, "ssl", free_port())
    env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE"] = str(tmp_path / "missing.pem")
    b = Broker(env=env)
    with pytest.raises(RuntimeError) as e:
        b.start(timeout=5)
    assert "missing.pem" in str(e.value)
    assert b.proc.wait(5) != 0
