"""NanoMQ's NNG bridges (bridges.nng.<pub|sub|rep>.<name>; docs/gateways.md, "NNG") through a
real emqxd, with NNG's own peer on the other side: nngcat from Debian's nng-utils, dialing
the sockets the bridges listen on."""
import subprocess
import threading
import time

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

import mqttc
from conftest import config_refused, free_port, wait_for
from rawmqtt import V311, connected
from test_api import get_json

NNGCAT = "nngcat"


def nngcat(*args, timeout=20):
    r = subprocess.run([NNGCAT] + list(args), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


def mqtt_sub(b, cid, topic):
    s = connected(b, cid, V311)
    assert s.subscribe([(topic, 1)]) == [1]
    return s


def test_sub_bridge_publishes_what_nng_publishers_send(make_broker):
    port = free_port()
    b = make_broker(config_text='''bridges.nng.sub.s1 {
  sub_url = "tcp://127.0.0.1:%d"
  subscription = [
    {remote_topic = "nng", local_topic = "local/nng", qos = 1},
    {remote_topic = "ek", nng_delimiter = ":"}
  ]
}''' % port)
    sub = mqtt_sub(b, "m-sub", "#")
    # An NNG publisher dials the bridge; pub/sub drops what is sent before the pipe is up,
    # so it sends every second until one arrives.
    pub = subprocess.Popen([NNGCAT, "--pub", "--dial", "tcp://127.0.0.1:%d" % port,
                            "--data", "nng/hello", "--interval", "1", "--count", "15"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        p = sub.recv_publishes(1, timeout=10)[0]
        assert (p.topic, p.payload, p.qos) == ("local/nng", b"hello", 1)
    finally:
        pub.kill()
        pub.wait()
    pub = subprocess.Popen([NNGCAT, "--pub", "--dial", "tcp://127.0.0.1:%d" % port,
                            "--data", "ek/a/b:the payload", "--interval", "1", "--count", "15"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # Another delimiter: the topic runs from remote_topic to it (NanoMQ's rule).
        deadline = time.monotonic() + 10
        while True:
            p = sub.recv_publishes(1, timeout=max(0.1, deadline - time.monotonic()))[0]
            if p.topic != "local/nng":
                break
        assert (p.topic, p.payload, p.qos) == ("ek/a/b", b"the payload", 0)
    finally:
        pub.kill()
        pub.wait()


def test_pub_bridge_sends_mqtt_messages_to_nng_subscribers(make_broker):
    port = free_port()
    b = make_broker(config_text='''bridges.nng.pub.p1 {
  pub_url = "tcp://127.0.0.1:%d"
  forwards = [{local_topic = "to-nng/#", remote_topic = "remote", qos = 1},
              {local_topic = "raw/+", nng_delimiter = ":"}]
}''' % port)
    assert wait_for(lambda: any(c["clientid"] == "emqxd_nng_pub_p1" for c in
                                get_json(b, "/api/v5/clients")["data"]), 5)
    got = {}

    def listen():
        got["r"] = nngcat("--sub", "--dial", "tcp://127.0.0.1:%d" % port, "--subscribe", "",
                          "--ascii", "--count", "2", "--recv-timeout", "15")
    t = threading.Thread(target=listen)
    t.start()
    pub = connected(b, "m-pub", V311)
    deadline = time.monotonic() + 15
    while t.is_alive() and time.monotonic() < deadline:
        pub.publish("to-nng/x", b"m1", qos=0)
        pub.publish("raw/y", b"m2", qos=0)
        time.sleep(0.2)
    t.join(20)
    rc, out, err = got["r"]
    # --ascii prints the messages' bytes one after the other.
    assert "remote/m1" in out and "raw/y:m2" in out, (rc, out, err)


def test_rep_bridge_answers_nng_requests_from_mqtt(make_broker):
    port = free_port()
    b = make_broker(config_text='''bridges.nng.rep.r1 {
  rep_url = "tcp://127.0.0.1:%d"
  request_topic = "svc/req"
  response_topic = "svc/resp"
  timeout = 2s
}''' % port)
    # An MQTT 5 responder: the request's Response Topic and Correlation Data say where and
    # how to answer.
    responder = mqttc.Client(b, "responder")
    responder.subscribe("svc/req", qos=1)

    def answer(c, u, msg):
        props = Properties(PacketTypes.PUBLISH)
        props.CorrelationData = msg.properties.CorrelationData
        c.publish(msg.properties.ResponseTopic, msg.payload.upper(), qos=1, properties=props)
    responder.c.on_message = answer
    assert wait_for(lambda: any(c["clientid"] == "emqxd_nng_rep_r1" for c in
                                get_json(b, "/api/v5/clients")["data"]), 5)
    rc, out, err = nngcat("--req", "--dial", "tcp://127.0.0.1:%d" % port, "--data", "ping",
                          "--ascii", timeout=15)
    assert rc == 0 and out.strip() == "PING", (rc, out, err)
    rc, out, err = nngcat("--req", "--dial", "tcp://127.0.0.1:%d" % port, "--data", "again",
                          "--ascii", timeout=15)
    assert out.strip() == "AGAIN", (rc, out, err)
    # Nobody answers: the reply is empty, after the timeout.
    responder.disconnect()
    start = time.monotonic()
    rc, out, err = nngcat("--req", "--dial", "tcp://127.0.0.1:%d" % port, "--data", "lost",
                          "--ascii", timeout=15)
    assert out.strip() == "" and time.monotonic() - start >= 1.5, (rc, out, err)


def test_api_lists_the_bridges_and_their_clients(make_broker):
    p1, p2 = free_port(), free_port()
    b = make_broker(config_text='''bridges.nng {
  pub.out { pub_url = "tcp://127.0.0.1:%d", forwards = [{local_topic = "a/#"}] }
  sub.in { sub_url = "tcp://127.0.0.1:%d", subscription = [{remote_topic = "x"}] }
}''' % (p1, p2))
    gws = {g["name"]: g for g in get_json(b, "/api/v5/gateways")}
    assert gws["nng"]["status"] == "running"
    assert {(l["type"], l["name"]) for l in gws["nng"]["listeners"]} == {("pub", "out"),
                                                                           ("sub", "in")}
    assert wait_for(lambda: len(get_json(b, "/api/v5/gateways/nng/clients")["data"]) == 2, 5)
    page = get_json(b, "/api/v5/gateways/nng/clients")
    assert {c["clientid"] for c in page["data"]} == {"emqxd_nng_pub_out", "emqxd_nng_sub_in"}
    assert {c["proto_name"] for c in page["data"]} == {"NNG"}
    gw = get_json(b, "/api/v5/gateways/nng")
    assert [x["name"] for x in gw["bridges"]] == ["out", "in"]


@pytest.mark.parametrize("text,expect", [
    ('bridges.nng.pub.p { forwards = [{local_topic = "a"}] }', "bridges.nng.pub.p.pub_url"),
    ('bridges.nng.pub.p { pub_url = "tcp://127.0.0.1:1" }', "bridges.nng.pub.p.forwards"),
    ('bridges.nng.sub.s { sub_url = "http://x", subscription = [{remote_topic = "a"}] }',
     "bridges.nng.sub.s.sub_url"),
    ('bridges.nng.sub.s { sub_url = "tcp://127.0.0.1:1", subscription = [{local_topic = "a"}] }',
     "subscription[1].remote_topic"),
    ('bridges.nng.rep.r { rep_url = "tcp://127.0.0.1:1", request_topic = "a" }',
     "bridges.nng.rep.r.response_topic"),
    ('bridges.nng { pub.a { pub_url = "tcp://127.0.0.1:1", forwards = [{local_topic = "a"}] }\n'
     '  sub.b { sub_url = "tcp://127.0.0.1:1", subscription = [{remote_topic = "a"}] } }',
     "already used by bridges.nng.pub.a"),
    ('bridges.mqtt.emqx1 { server = "mqtt-tcp://127.0.0.1:1883" }', "bridges.mqtt"),
    # NNG has no credentials: a url other hosts reach needs allow_remote.
    ('bridges.nng.sub.s { sub_url = "tcp://0.0.0.0:9901", subscription = [{remote_topic = "a"}] }',
     "allow_remote = true"),
])
def test_bad_nng_config_stops_start_up(tmp_path, text, expect):
    err = config_refused(tmp_path, text)
    assert expect in err, err


def test_allow_remote_lets_a_bridge_listen_where_other_hosts_reach(tmp_path):
    from conftest import EMQXD_BIN
    conf = tmp_path / "emqx.conf"
    conf.write_text('bridges.nng.sub.s { sub_url = "tcp://0.0.0.0:9901", allow_remote = true\n'
                    '  subscription = [{remote_topic = "a"}] }\n')
    r = subprocess.run([EMQXD_BIN, "check-config", "-c", str(conf)], capture_output=True,
                       text=True, timeout=20)
    assert r.returncode == 0, r.stderr


def test_a_taken_address_stops_start_up_naming_the_bridge(tmp_path):
    import socket
    from conftest import start_refused
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen(1)
    port = holder.getsockname()[1]
    try:
        out = start_refused(tmp_path, config_text=(
            'bridges.nng.sub.s { sub_url = "tcp://127.0.0.1:%d"\n'
            '  subscription = [{remote_topic = "a"}] }' % port))
        assert "bridges.nng.sub.s.sub_url" in out and "127.0.0.1:%d" % port in out, out
    finally:
        holder.close()
