"""The first thing a user does: start emqxd, subscribe with mosquitto_sub, publish with
mosquitto_pub and paho (3.1.1 and 5), and stop it with SIGTERM."""
import subprocess

import pytest

from mqttc import Client, V311, V5


def mosquitto_pub(broker, *args):
    subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port)] + list(args),
                   check=True, timeout=10)


@pytest.mark.parametrize("version", ["mqttv311", "mqttv5"])
def test_mosquitto_clients_pub_sub(broker, version):
    # A retained message tells us when mosquitto_sub's subscription is in place.
    mosquitto_pub(broker, "-V", version, "-t", "smoke/ready", "-m", "ready", "-r", "-q", "1")
    sub = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", str(broker.port),
                            "-V", version, "-t", "smoke/#", "-C", "4", "-v", "-q", "2",
                            "-W", "10"], stdout=subprocess.PIPE, text=True)
    assert sub.stdout.readline().strip() == "smoke/ready ready"
    for qos in (0, 1, 2):
        mosquitto_pub(broker, "-V", version, "-t", "smoke/q%d" % qos, "-m", "m%d" % qos,
                      "-q", str(qos))
    out, _ = sub.communicate(timeout=10)
    assert out.splitlines() == ["smoke/q0 m0", "smoke/q1 m1", "smoke/q2 m2"]
    assert sub.returncode == 0


@pytest.mark.parametrize("version", [V311, V5])
def test_paho_roundtrip_every_qos(broker, version):
    sub = Client(broker, "sub-%d" % version, version)
    assert sub.subscribe("rt/+", qos=2)
    pub = Client(broker, "pub-%d" % version, version)
    for qos in (0, 1, 2):
        pub.publish("rt/%d" % qos, b"m%d" % qos, qos=qos)
    got = sub.wait_messages(3)
    assert sorted((m.topic, m.payload, m.qos) for m in got) == [
        ("rt/0", b"m0", 0), ("rt/1", b"m1", 1), ("rt/2", b"m2", 2)]
    assert sub.expect_no_more(3)
    pub.disconnect()
    sub.disconnect()
