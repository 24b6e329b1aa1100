"""Authorization (EMQX's `authorization` section and acl.conf) through a real emqxd: EMQX's
default acl.conf meaning what it means, placeholders, QoS and retain conditions, denials
answered as EMQX 5 answers them (SUBACK 0x87 / 0x80, PUBACK / PUBREC 0x87, QoS 0 dropped),
deny_action = disconnect, no_match = deny, the per-connection cache seen through EMQX's
metrics, the will, and start-up errors that name the file and the line.

A "non-localhost" client connects from 127.0.0.2 (all of 127/8 is loopback on Linux): the
rules of EMQX's default acl.conf name 127.0.0.1 only."""
import json
import os
import ssl
import subprocess
import time

import paho.mqtt.client as paho
import pytest

import mqttc
import rawmqtt as R
from conftest import EMQXD_BIN, free_port, wait_for
from rawmqtt import V5, V311, connected
from test_api import call
from test_listeners import pki, tls_env  # noqa: F401  (pki is a fixture)
from test_startup import base_env, run

SOURCE_ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
DEFAULT_ACL = os.path.abspath(os.path.join(SOURCE_ROOT, "deploy", "acl.conf"))
OTHER = "127.0.0.2"
NOT_AUTHORIZED = 0x87

RULES = """\
%% The test rules: placeholders, QoS and retain conditions, one denied subscription.
{deny, all, subscribe, ["test/nosubscribe"]}.
{allow, all, all, ["users/${username}/#", "clients/${clientid}/#"]}.
{deny, all, {publish, [{qos, 2}]}, ["q/#"]}.
{deny, all, {publish, [{retain, true}]}, ["r/#"]}.
{allow, all, all, ["q/#", "r/#", "test/#", "open/#"]}.
{deny, all}.
"""


def conf(acl_path, extra=""):
    return ('authorization {\n  %s\n  sources = [{type = file, enable = true, path = "%s"}]\n}\n'
            % (extra, acl_path))


def acl_file(tmp_path, text=RULES):
    p = tmp_path / "acl.conf"
    p.write_text(text)
    return str(p)


def metrics(broker):
    status, _, body = call(broker, "GET", "/api/v5/metrics?aggregate=true")
    assert status == 200, body
    return json.loads(body)


def stats(broker):
    status, _, body = call(broker, "GET", "/api/v5/stats?aggregate=true")
    assert status == 200, body
    return json.loads(body)


def mosquitto_sub(broker, topic, *args):
    """mosquitto_sub subscribing once and leaving after the SUBACK (-E); its output."""
    r = subprocess.run(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port), "-t", topic,
                        "-E", "-W", "5"] + list(args), capture_output=True, text=True,
                       timeout=20)
    return r.stdout + r.stderr


def granted(codes):
    """paho's SUBACK codes as integers (v5: ReasonCodes, 3.1.1: ints)."""
    return [c if isinstance(c, int) else c.value for c in codes]


# ----------------------------------------------------------------------------- EMQX's acl.conf

def test_emqx_default_acl_conf_means_what_it_means(make_broker):
    broker = make_broker(config_text=conf(DEFAULT_ACL))
    # Not from 127.0.0.1: "#" itself ({eq, "#"}) and $SYS/# are denied, the rest allowed.
    far = mqttc.Client(broker, "far", bind_address=OTHER)
    assert granted(far.subscribe("#")) == [NOT_AUTHORIZED]
    assert granted(far.subscribe("$SYS/#")) == [NOT_AUTHORIZED]
    assert granted(far.subscribe("a/#", qos=1)) == [1]
    # From 127.0.0.1: everything.
    near = mqttc.Client(broker, "near")
    assert granted(near.subscribe("#")) == [0]
    assert granted(near.subscribe("$SYS/#")) == [0]
    # The dashboard user may subscribe to $SYS from anywhere.
    dash = mqttc.Client(broker, "dash", username="dashboard", bind_address=OTHER)
    assert granted(dash.subscribe("$SYS/#")) == [0]
    # MQTT 3.1.1 has one failure code: 0x80.
    far3 = mqttc.Client(broker, "far3", version=mqttc.V311, bind_address=OTHER)
    assert granted(far3.subscribe("#")) == [0x80]
    # The same with mosquitto_sub, from each address.
    assert "All subscription requests were denied." in mosquitto_sub(broker, "#", "-A", OTHER)
    assert "Subscribed (mid: 1): 0" in mosquitto_sub(broker, "#", "-d")
    # The allowed subscription works: a message reaches it.
    near.publish("a/b", b"hello", qos=1)
    assert far.wait_messages(1)[0].payload == b"hello"
    m = metrics(broker)
    assert m["authorization.deny"] >= 3
    assert m["authorization.matched_deny"] >= 3
    assert m["authorization.matched_allow"] >= 5
    assert m["authorization.nomatch"] == 0  # {allow, all} ends the file


# ----------------------------------------------------------------------------- rules

def test_placeholders_qos_and_retain_conditions(make_broker, tmp_path):
    broker = make_broker(config_text=conf(acl_file(tmp_path)))
    c = connected(broker, "cid-1", V5, username="alice")
    assert c.publish("users/alice/x", b"1", qos=1, pid=1).code in (0, 0x10)
    assert c.publish("users/bob/x", b"1", qos=1, pid=2).code == NOT_AUTHORIZED
    assert c.publish("clients/cid-1/x", b"1", qos=1, pid=3).code in (0, 0x10)
    assert c.publish("clients/cid-2/x", b"1", qos=1, pid=4).code == NOT_AUTHORIZED
    # {deny, all, {publish, [{qos, 2}]}, ["q/#"]}: QoS 2 refused in PUBREC, QoS 1 allowed.
    assert c.publish("q/1", b"1", qos=1, pid=5).code in (0, 0x10)
    c.send(R.publish("q/1", b"1", qos=2, pid=6))
    assert c.wait_for(R.PUBREC, 6).code == NOT_AUTHORIZED
    # {deny, all, {publish, [{retain, true}]}, ["r/#"]}: retained refused, plain allowed.
    assert c.publish("r/1", b"1", qos=1, retain=True, pid=7).code == NOT_AUTHORIZED
    assert c.publish("r/1", b"1", qos=1, pid=8).code in (0, 0x10)
    assert c.is_open()
    # Subscribing follows the same rules: the placeholder is the subscriber's own name.
    c.send(R.subscribe(9, [("users/alice/#", 1), ("users/bob/#", 1), ("elsewhere", 0)]))
    assert c.wait_for(R.SUBACK, 9).codes == [1, NOT_AUTHORIZED, NOT_AUTHORIZED]


def test_denied_qos0_publish_is_dropped_and_qos1_gets_0x87(make_broker, tmp_path):
    broker = make_broker(config_text=conf(acl_file(tmp_path)))
    bob = mqttc.Client(broker, "bob-sub", username="bob")
    assert granted(bob.subscribe("users/bob/#", qos=1)) == [1]
    alice = connected(broker, "alice-pub", V5, username="alice")
    alice.publish("users/bob/x", b"denied-qos0", qos=0)
    assert alice.publish("users/bob/x", b"denied-qos1", qos=1, pid=1).code == NOT_AUTHORIZED
    # bob publishes to his own topic: that one arrives, the others never did.
    bob.publish("users/bob/x", b"allowed", qos=1)
    msgs = bob.wait_messages(1)
    assert [m.payload for m in msgs] == [b"allowed"]
    assert bob.expect_no_more(1)
    assert alice.is_open()
    # MQTT 3.1.1: a plain PUBACK, the message still dropped.
    old = connected(broker, "alice-311", V311, username="alice")
    ack = old.publish("users/bob/x", b"denied-311", qos=1, pid=2)
    assert ack.type == R.PUBACK and ack.pid == 2
    assert bob.expect_no_more(1)


def test_nosubscribe_with_paho_and_mosquitto_sub(make_broker, tmp_path):
    broker = make_broker(config_text=conf(acl_file(tmp_path)))
    assert granted(mqttc.Client(broker, "p5").subscribe("test/nosubscribe")) == [NOT_AUTHORIZED]
    assert granted(mqttc.Client(broker, "p3", version=mqttc.V311).subscribe(
        "test/nosubscribe")) == [0x80]
    assert granted(mqttc.Client(broker, "p5b").subscribe("test/other")) == [0]
    for version, code in (("mqttv5", 135), ("mqttv311", 128)):
        out = mosquitto_sub(broker, "test/nosubscribe", "-V", version, "-d")
        assert "Subscribed (mid: 1): %d" % code in out, (version, out)
        assert "All subscription requests were denied." in out, (version, out)


def test_the_tls_client_certificate_cn_is_the_cn_placeholder(make_broker, tmp_path, pki):
    port = free_port()
    acl = acl_file(tmp_path, '{allow, all, subscribe, ["certs/${cn}/#"]}.\n{deny, all}.\n')
    make_broker(env=tls_env(pki, "ssl", port, verify=True), config_text=conf(acl))
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    ctx.load_cert_chain(os.path.join(pki, "client.pem"), os.path.join(pki, "client.key"))
    acks = {}
    c = paho.Client(client_id="cn-client", protocol=paho.MQTTv5)
    c.tls_set_context(ctx)
    c.on_subscribe = lambda cl, u, mid, codes, props=None: acks.update({mid: codes})
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        assert wait_for(c.is_connected, 5), "no CONNACK"
        _, mid = c.subscribe([("certs/client/#", 1), ("certs/other/#", 1)])
        assert wait_for(lambda: mid in acks, 5), "no SUBACK"
        assert granted(acks[mid]) == [1, NOT_AUTHORIZED]  # the certificate's CN is "client"
    finally:
        c.disconnect()
        c.loop_stop()


def test_publishing_to_sys_stays_refused(make_broker, tmp_path):
    broker = make_broker(config_text=conf(acl_file(tmp_path, "{allow, all}.\n")))
    c = connected(broker, "sys-pub", V5)
    assert c.publish("$SYS/brokers/x", b"1", qos=1, pid=1).code == NOT_AUTHORIZED
    assert c.publish("anything", b"1", qos=1, pid=2).code in (0, 0x10)


def test_a_denied_will_is_dropped_an_allowed_one_published(make_broker, tmp_path):
    broker = make_broker(config_text=conf(acl_file(tmp_path)))
    watcher = mqttc.Client(broker, "watcher", username="w")
    assert granted(watcher.subscribe("open/#", qos=1)) == [1]
    denied = connected(broker, "will-1", V5, username="u",
                       will={"topic": "nowhere/will", "payload": b"denied", "qos": 1})
    allowed = connected(broker, "will-2", V5, username="u",
                        will={"topic": "open/will", "payload": b"allowed", "qos": 1})
    # QoS 2 wills are refused on q/# by the QoS condition: dropped too.
    q2 = connected(broker, "will-3", V5, username="u",
                   will={"topic": "q/will", "payload": b"qos2", "qos": 2})
    assert granted(watcher.subscribe("q/#", qos=2)) == [2]
    for c in (denied, allowed, q2):
        c.close()
    msgs = watcher.wait_messages(1)
    assert [m.payload for m in msgs] == [b"allowed"]
    assert watcher.expect_no_more(1)


# ----------------------------------------------------------------------------- settings

def test_deny_action_disconnect(make_broker, tmp_path):
    broker = make_broker(config_text=conf(acl_file(tmp_path), "deny_action = disconnect"))
    c = connected(broker, "d-pub", V5, username="alice")
    assert c.publish("users/alice/ok", b"1", qos=1, pid=1).code in (0, 0x10)
    c.send(R.publish("users/bob/x", b"1", qos=1, pid=2))
    got = c.expect_closed()
    assert [p.type for p in got] == [R.DISCONNECT] and got[0].code == NOT_AUTHORIZED
    # A denied filter in a SUBSCRIBE: no SUBACK, DISCONNECT 0x87, and none of its filters
    # taken (the session outlives the connection: its subscriptions would show).
    s = connected(broker, "d-sub", V5, username="alice", clean=False,
                  props={"session_expiry_interval": 60})
    s.send(R.subscribe(1, [("users/alice/#", 0), ("test/nosubscribe", 0)]))
    got = s.expect_closed()
    assert [p.type for p in got] == [R.DISCONNECT] and got[0].code == NOT_AUTHORIZED
    assert stats(broker)["sessions.count"] >= 1
    assert stats(broker)["subscriptions.count"] == 0
    # MQTT 3.1.1: the connection is closed, nothing sent.
    old = connected(broker, "d-311", V311, username="alice")
    old.send(R.publish("users/bob/x", b"1", qos=0))
    assert old.expect_closed() == []


def test_no_match_deny_from_the_environment(make_broker, tmp_path):
    acl = acl_file(tmp_path, '{allow, all, all, ["open/#"]}.\n')
    broker = make_broker(env={"EMQX_AUTHORIZATION__NO_MATCH": "deny",
                              "EMQX_AUTHORIZATION__SOURCES": '[{type=file,path="%s"}]' % acl})
    c = connected(broker, "nm", V5)
    assert c.publish("open/x", b"1", qos=1, pid=1).code in (0, 0x10)
    assert c.publish("closed/x", b"1", qos=1, pid=2).code == NOT_AUTHORIZED
    c.send(R.subscribe(3, [("open/#", 0), ("closed/#", 0)]))
    assert c.wait_for(R.SUBACK, 3).codes == [0, NOT_AUTHORIZED]
    m = metrics(broker)
    assert m["authorization.nomatch"] == 2
    assert m["authorization.matched_allow"] == 2


def test_the_cache_through_metrics(make_broker, tmp_path):
    acl = acl_file(tmp_path, "{allow, all}.\n")
    broker = make_broker(config_text=conf(acl, 'cache { ttl = 1s, excludes = ["live/#"] }'))
    c = connected(broker, "cache", V5)
    base = metrics(broker)
    for pid in (1, 2, 3):
        c.publish("t/1", b"x", qos=1, pid=pid)
    m = metrics(broker)
    assert m["authorization.cache_miss"] - base["authorization.cache_miss"] == 1
    assert m["authorization.cache_hit"] - base["authorization.cache_hit"] == 2
    assert m["authorization.allow"] - base["authorization.allow"] == 3
    # QoS is part of the key: QoS 0 is another entry.
    c.publish("t/1", b"x", qos=0)
    assert wait_for(lambda: metrics(broker)["authorization.cache_miss"]
                    - base["authorization.cache_miss"] == 2, 2)
    # After the ttl (1 s) the decision is taken again.
    time.sleep(1.2)
    c.publish("t/1", b"x", qos=1, pid=4)
    m2 = metrics(broker)
    assert m2["authorization.cache_miss"] - base["authorization.cache_miss"] == 3
    assert m2["authorization.cache_hit"] - base["authorization.cache_hit"] == 2
    # Excluded topics are never cached.
    for pid in (5, 6):
        c.publish("live/1", b"x", qos=1, pid=pid)
    m3 = metrics(broker)
    assert m3["authorization.cache_miss"] == m2["authorization.cache_miss"]
    assert m3["authorization.cache_hit"] == m2["authorization.cache_hit"]
    assert m3["authorization.matched_allow"] - m2["authorization.matched_allow"] == 2


def test_cache_off_asks_every_time(make_broker, tmp_path):
    acl = acl_file(tmp_path, "{allow, all}.\n")
    broker = make_broker(config_text=conf(acl), env={"EMQX_AUTHORIZATION__CACHE__ENABLE": "false"})
    c = connected(broker, "nocache", V5)
    for pid in (1, 2, 3):
        c.publish("t/1", b"x", qos=1, pid=pid)
    m = metrics(broker)
    assert m["authorization.cache_hit"] == 0 and m["authorization.cache_miss"] == 0
    assert m["authorization.matched_allow"] == 3


def test_no_authorization_section_allows_everything(broker):
    c = connected(broker, "plain", V5)
    assert c.publish("any/where", b"1", qos=1, pid=1).code in (0, 0x10)
    c.send(R.subscribe(2, [("#", 0)]))
    assert c.wait_for(R.SUBACK, 2).codes == [0]
    m = metrics(broker)
    assert m["authorization.nomatch"] == 2 and m["authorization.allow"] == 2
    assert m["authorization.cache_miss"] == 0  # no source: nothing to cache


# ----------------------------------------------------------------------------- start-up

def test_an_acl_syntax_error_stops_start_up_naming_its_line(tmp_path):
    acl = acl_file(tmp_path, "{allow, all}.\n%% fine so far\n{allow, {usr, \"x\"}, all, [\"#\"]}.\n")
    cfg = tmp_path / "emqx.conf"
    cfg.write_text("mqtt.max_inflight = 10\n" + conf(acl))
    r = run(["start", "-c", str(cfg)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert ("emqxd: config error: %s:4: authorization.sources[1].path: %s:3:" % (cfg, acl)
            in r.stderr), r.stderr


def test_a_bad_source_stops_start_up_naming_file_line_and_key(tmp_path):
    cfg = tmp_path / "emqx.conf"
    cfg.write_text("authorization {\n  sources = [\n    {type = file, path = \"a\", pth = 1}\n  ]\n}\n")
    r = run(["start", "-c", str(cfg)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert ("%s:3: authorization.sources[1].pth: unknown key of a file source" % cfg) in r.stderr
    cfg.write_text("authorization.sources = [{type = file, path = \"a\"},\n  {type = mongodb}]\n")
    r = run(["start", "-c", str(cfg)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert ("%s:2: authorization.sources[2].type: source type mongodb not implemented yet"
            % cfg) in r.stderr
    cfg.write_text("authorization.sources = [{type = http}]\n")
    r = run(["start", "-c", str(cfg)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert ("%s:1: authorization.sources[1].url: required for an http source" % cfg) in r.stderr
    r = run(["start"], base_env(tmp_path / "data", EMQX_AUTHORIZATION__NO_MATCH="maybe"))
    assert r.returncode == 2, r.stderr
    assert "EMQX_AUTHORIZATION__NO_MATCH: authorization.no_match: must be allow or deny" in r.stderr


@pytest.mark.parametrize("field", ["cn", "dn", "md5"])
def test_the_certificate_as_username_and_client_id(make_broker, tmp_path, pki, field):
    """mqtt.peer_cert_as_username / _as_clientid: the certificate's value replaces what the
    client sent, before authorization sees it (a rule naming that value decides)."""
    import hashlib
    pem = open(os.path.join(pki, "client.pem")).read()
    if field == "cn":
        value = "client"
    elif field == "md5":
        value = hashlib.md5(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()
    else:
        out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-nameopt", "RFC2253",
                              "-in", os.path.join(pki, "client.pem")],
                             capture_output=True, text=True, check=True).stdout
        value = out.strip().split("subject=", 1)[1]
    port = free_port()
    acl = acl_file(tmp_path, '{allow, {username, "%s"}, subscribe, ["by-user/#"]}.\n'
                             '{allow, {clientid, "%s"}, subscribe, ["by-id/#"]}.\n'
                             '{deny, all}.\n' % (value, value))
    env = tls_env(pki, "ssl", port, verify=True)
    env.update({"EMQX_MQTT__PEER_CERT_AS_USERNAME": field,
                "EMQX_MQTT__PEER_CERT_AS_CLIENTID": field})
    make_broker(env=env, config_text=conf(acl))
    ctx = ssl.create_default_context(cafile=os.path.join(pki, "ca.pem"))
    ctx.load_cert_chain(os.path.join(pki, "client.pem"), os.path.join(pki, "client.key"))
    acks = {}
    c = paho.Client(client_id="what-the-client-says", protocol=paho.MQTTv5)
    c.username_pw_set("claimed-user")
    c.tls_set_context(ctx)
    c.on_subscribe = lambda cl, u, mid, codes, props=None: acks.update({mid: codes})
    c.connect("127.0.0.1", port, keepalive=30)
    c.loop_start()
    try:
        assert wait_for(c.is_connected, 5), "no CONNACK"
        _, mid = c.subscribe([("by-user/x", 1), ("by-id/x", 1), ("other/x", 1)])
        assert wait_for(lambda: mid in acks, 5), "no SUBACK"
        assert granted(acks[mid]) == [1, 1, NOT_AUTHORIZED], value
    finally:
        c.disconnect()
        c.loop_stop()
