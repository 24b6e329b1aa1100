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


def test_sigterm_at_any_moment_of_startup_exits_cleanly(tmp_path):
    """SIGTERM is a clean shutdown even when it lands while emqxd is still starting: main()
    blocks the signals before anything else (and before any thread starts), then waits
    for them. The test sends SIGTERM at several moments after that point."""
    import os
    import signal
    import time
    from conftest import EMQXD_BIN, free_port, wait_for

    def sigterm_blocked(pid):
        # Any thread: the main thread shows the mask until it sits in sigwait(), where the
        # kernel lifts it for the wait; the worker threads keep it.
        bit = 1 << (signal.SIGTERM - 1)
        try:
            for tid in os.listdir("/proc/%d/task" % pid):
                with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                    for line in f:
                        if line.startswith("SigBlk:") and int(line.split()[1], 16) & bit:
                            return True
        except OSError:
            pass
        return False

    env = dict(os.environ, EMQX_LOG__CONSOLE__LEVEL="error",
               EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % free_port(),
               EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % free_port(),
               EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % free_port(),
               EMQX_NODE__DATA_DIR=str(tmp_path))
    for delay in [0.0, 0.002, 0.005, 0.01, 0.02, 0.04, 0.08]:
        p = subprocess.Popen([EMQXD_BIN, "start"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        assert wait_for(lambda: sigterm_blocked(p.pid), 10), "signals never blocked"
        time.sleep(delay)
        p.send_signal(signal.SIGTERM)
        assert p.wait(10) == 0, "exit %d after SIGTERM %.3fs into start-up" % (p.returncode, delay)
