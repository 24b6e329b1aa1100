"""TLS options of the MQTT ssl/wss listeners (ssl_options.versions, ciphers, depth,
honor_cipher_order), checked from outside with `openssl s_client` against a real emqxd:
by default TLS 1.2 and 1.3 only, forward-secret AEAD ciphers only."""
import os
import subprocess

import pytest

from conftest import EMQXD_BIN, free_port
from test_listeners import pki, tls_env  # noqa: F401  (pki is a fixture)


def handshake(port, *args):
    """Whether `openssl s_client` completes a handshake with the listener, and what it
    printed. SECLEVEL=0 on the client side so that only the server's choice counts."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "localhost"] + list(args),
                       input=b"", capture_output=True, timeout=20)
    out = (r.stdout + r.stderr).decode(errors="replace")
    ok = r.returncode == 0 and "Cipher is (NONE)" not in out and "Cipher    : 0000" not in out
    return ok, out


def test_defaults_are_tls12_and_up_with_forward_secret_aead_ciphers(make_broker, pki):
    port = free_port()
    make_broker(env=tls_env(pki, "ssl", port))
    ok, out = handshake(port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
    assert not ok, out
    ok, out = handshake(port, "-tls1_2", "-cipher", "AES128-SHA256:@SECLEVEL=0")
    assert not ok, out  # RSA key exchange: no forward secrecy
    ok, out = handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256")
    assert not ok, out  # forward secret but CBC, not AEAD
    ok, out = handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")
    assert ok, out
    assert "ECDHE-RSA-AES128-GCM-SHA256" in out
    ok, out = handshake(port, "-tls1_3")
    assert ok, out
    assert "TLSv1.3" in out


def test_versions_and_ciphers_as_configured(make_broker, pki):
    port = free_port()
    env = tls_env(pki, "ssl", port)
    p = "EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__"
    env[p + "VERSIONS"] = '["tlsv1.2"]'
    env[p + "CIPHERS"] = "ECDHE-RSA-AES256-GCM-SHA384"
    env[p + "HONOR_CIPHER_ORDER"] = "false"
    env[p + "DEPTH"] = "3"
    make_broker(env=env)
    assert not handshake(port, "-tls1_3")[0]
    assert not handshake(port, "-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256")[0]
    ok, out = handshake(port, "-tls1_2")
    assert ok and "ECDHE-RSA-AES256-GCM-SHA384" in out, out
    # TLS 1.3 only.
    port = free_port()
    env = tls_env(pki, "wss", port)
    env["EMQX_LISTENERS__WSS__DEFAULT__SSL_OPTIONS__VERSIONS"] = '["tlsv1.3"]'
    make_broker(env=env)
    assert not handshake(port, "-tls1_2")[0]
    assert handshake(port, "-tls1_3")[0]


def start_fails(env, tmp_path, config_text=None):
    e = dict(os.environ)
    e.update({"EMQX_NODE__DATA_DIR": str(tmp_path / "data"),
              "EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "127.0.0.1:%d" % free_port(),
              "EMQX_CLUSTER__RPC__BIND": "127.0.0.1:%d" % free_port()})
    e.update(env)
    args = [EMQXD_BIN, "start"]
    if config_text is not None:
        path = tmp_path / "emqx.conf"
        path.write_text(config_text)
        args += ["-c", str(path)]
    r = subprocess.run(args, env=e, capture_output=True, text=True, timeout=30)
    assert r.returncode != 0, r.stderr
    return r.stderr


def test_bad_tls_options_stop_start_up_naming_them(pki, tmp_path):
    conf = """listeners.ssl.default {
  bind = "127.0.0.1:%d"
  ssl_options {
    certfile = "%s"
    keyfile = "%s"
    versions = ["tlsv1.2", "tlsv1.1"]
  }
}
""" % (free_port(), os.path.join(pki, "server.pem"), os.path.join(pki, "server.key"))
    err = start_fails({}, tmp_path, conf)
    assert "emqx.conf:6: listeners.ssl.default.ssl_options.versions: tlsv1.1 is not supported" in err
    env = tls_env(pki, "ssl", free_port())
    env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CIPHERS"] = \
        "ECDHE-RSA-AES128-GCM-SHA256,NO-SUCH-CIPHER"
    err = start_fails(env, tmp_path)
    assert "listener ssl:default: ssl_options.ciphers: unknown cipher 'NO-SUCH-CIPHER'" in err


def served_serial(port):
    """The serial of the certificate a new connection is shown, as openssl prints it."""
    r = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                        "-servername", "localhost"], input=b"", capture_output=True, timeout=20)
    x = subprocess.run(["openssl", "x509", "-noout", "-serial"], input=r.stdout,
                       capture_output=True, timeout=20)
    return x.stdout.decode().strip()


def test_certificates_reload_without_a_restart(make_broker, pki, tmp_path):
    import shutil
    from conftest import wait_for
    d = tmp_path / "certs"
    d.mkdir()
    shutil.copy(os.path.join(pki, "server.pem"), d / "cert.pem")
    shutil.copy(os.path.join(pki, "server.key"), d / "key.pem")
    port = free_port()
    env = tls_env(pki, "ssl", port)
    env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__CERTFILE"] = str(d / "cert.pem")
    env["EMQX_LISTENERS__SSL__DEFAULT__SSL_OPTIONS__KEYFILE"] = str(d / "key.pem")
    b = make_broker(env=env)
    first = served_serial(port)
    assert first.startswith("serial="), first
    # A new key and certificate (serial 4242), moved into place as a rotation tool does.
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(d / "new.key"), "-out", str(d / "new.csr"), "-subj", "/CN=server"],
                   check=True, capture_output=True, timeout=60)
    subprocess.run(["openssl", "x509", "-req", "-in", str(d / "new.csr"), "-CA",
                    os.path.join(pki, "ca.pem"), "-CAkey", os.path.join(pki, "ca.key"),
                    "-set_serial", "0x4242", "-out", str(d / "new.pem"), "-days", "2"],
                   check=True, capture_output=True, timeout=60)
    os.replace(d / "new.key", d / "key.pem")
    os.replace(d / "new.pem", d / "cert.pem")
    assert wait_for(lambda: served_serial(port) == "serial=4242", 10, 0.5)
    assert "TLS certificate files changed: reloaded" in b.read_log()
    # A broken certificate file: new connections keep the last good one; the log says why.
    (d / "cert.pem").write_text("-----BEGIN CERTIFICATE-----\nbroken\n")
    # (The files are looked at when a connection arrives, at most every 2 s.)
    assert wait_for(lambda: served_serial(port) == "serial=4242" and
                    "do not load" in b.read_log(), 10, 0.5)
    assert "certfile '%s'" % (d / "cert.pem") in b.read_log()
    assert served_serial(port) == "serial=4242"
