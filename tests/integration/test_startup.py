"""Start-up through a real emqxd process: strict config (unknown keys and EMQX features not
implemented stop it, naming FILE:LINE and the key or the variable), ports another process
listens on (MQTT, HTTP API, cluster RPC) refused while the first node keeps serving, the
listener lines naming the bound address, and the command line naming its commands."""
import os
import signal
import socket
import subprocess

import pytest

import rawmqtt as R
from conftest import EMQXD_BIN, free_port, wait_for
from rawmqtt import connected, V5


def base_env(data_dir, **extra):
    """An environment of our own (no EMQX_* inherited) on free loopback ports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMQX_")}
    env.update({
        "EMQX_LISTENERS__TCP__DEFAULT__BIND": "127.0.0.1:%d" % free_port(),
        "EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "127.0.0.1:%d" % free_port(),
        "EMQX_CLUSTER__RPC__BIND": "127.0.0.1:%d" % free_port(),
        "EMQX_NODE__DATA_DIR": str(data_dir),
    })
    env.update(extra)
    return env


def run(args, env, timeout=30):
    """Runs emqxd to its exit (it must exit by itself, within `timeout`)."""
    return subprocess.run([EMQXD_BIN] + args, env=env, capture_output=True, text=True,
                          timeout=timeout)


def roundtrip(broker, topic):
    sub = connected(broker, "sub-" + topic.replace("/", "-"), V5)
    sub.subscribe([(topic, 1)])
    pub = connected(broker, "pub-" + topic.replace("/", "-"), V5)
    pub.publish(topic, b"still-serving", qos=1, pid=1)
    assert sub.wait_for(R.PUBLISH).payload == b"still-serving"
    sub.close()
    pub.close()


def api_status(port):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


# ----------------------------------------------------------------------------- strict config

def test_an_unknown_key_in_the_file_stops_start_up_naming_file_line_and_key(tmp_path):
    conf = tmp_path / "emqx.conf"
    conf.write_text("mqtt {\n  max_inflight = 10\n  max_inflght = 20\n}\n")
    r = run(["start", "-c", str(conf)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert ("emqxd: config error: %s:3: mqtt.max_inflght: unknown key (did you mean "
            "max_inflight?)" % conf) in r.stderr
    assert not (tmp_path / "data").exists()  # stopped before touching anything


def test_a_key_of_an_emqx_feature_not_built_stops_start_up(tmp_path):
    conf = tmp_path / "emqx.conf"
    conf.write_text('node.name = "emqx@127.0.0.1"\n'
                    'authentication = [{mechanism = password_based, backend = mongodb}]\n')
    r = run(["start", "-c", str(conf)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert ("%s:2: authentication[1].backend: not implemented yet by emqxd" % conf) in r.stderr


def test_an_unknown_key_in_the_environment_names_the_variable(tmp_path):
    r = run(["start"], base_env(tmp_path / "data", EMQX_MQTT__BOGUS="1"))
    assert r.returncode == 2, r.stderr
    assert "emqxd: config error: EMQX_MQTT__BOGUS: mqtt.bogus: unknown key" in r.stderr
    r = run(["start"], base_env(tmp_path / "data", EMQX_GATEWAY__EXPROTO__ENABLE="true"))
    assert r.returncode == 2, r.stderr
    assert "EMQX_GATEWAY__EXPROTO__ENABLE: gateway.exproto: not implemented yet by emqxd" in r.stderr
    r = run(["start"], base_env(tmp_path / "data", EMQX_NODE_NAME="emqx@elsewhere"))
    assert r.returncode == 2, r.stderr
    assert "EMQX_NODE_NAME: not a config key; EMQX_NODE__NAME sets node.name" in r.stderr


def test_variables_outside_the_config_roots_are_a_warning(make_broker):
    b = make_broker(env={"EMQX_LOG_DIR": "/var/log/emqx", "EMQX_HOST": "10.0.0.1"})
    log = b.read_log()
    assert "EMQX_LOG_DIR: not a config key (no config root log_dir): ignored" in log
    assert "EMQX_HOST: not a config key (no config root host): ignored" in log
    roundtrip(b, "startup/env")


def test_deploy_emqx_conf_starts_with_no_config_warning(make_broker):
    """The shipped config, on free ports (the environment wins over the file)."""
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "emqx.conf")
    b = make_broker(env={"EMQX_LISTENERS__WS__DEFAULT__BIND": "127.0.0.1:%d" % free_port()},
                    args=["-c", conf])
    assert "[warning] [config]" not in b.read_log()
    roundtrip(b, "startup/deploy")


# ----------------------------------------------------------------------------- command line

def test_an_unknown_command_names_the_commands_there_are():
    r = run(["bogus"], dict(os.environ))
    assert r.returncode == 2
    assert r.stderr == ('emqxd: unknown command "bogus": use one of start, check-config, '
                        "cluster, ctl, --help, --version (emqxd --help describes them)\n")
    r = run([], dict(os.environ))
    assert r.returncode == 2
    assert r.stderr.startswith("emqxd: a command is required: use one of start, check-config, "
                               "cluster, ctl, --help, --version")
    assert run(["--version"], dict(os.environ)).returncode == 0


def test_check_config_reads_a_config_as_start_would(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMQX_")}
    conf = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "emqx.conf")
    r = run(["check-config", "-c", conf], env)
    assert r.returncode == 0 and r.stdout == "config OK: %s\n" % conf, r.stdout + r.stderr
    assert run(["check-config"], env).stdout == "config OK: (embedded defaults)\n"
    bad = tmp_path / "bad.conf"
    bad.write_text("mqtt {\n  max_qos_allowed = 1\n  max_packet_sise = 1MB\n}\n")
    r = run(["check-config", "-c", str(bad)], env)
    assert r.returncode == 2
    assert "bad.conf:3: mqtt.max_packet_sise: unknown key" in r.stderr, r.stderr
    # The environment counts, as for start.
    r = run(["check-config", "-c", conf], dict(env, EMQX_MQTT__MAX_QOS_ALLOWED="7"))
    assert r.returncode == 2 and "EMQX_MQTT__MAX_QOS_ALLOWED" in r.stderr, r.stderr


# ----------------------------------------------------------------------------- listeners

def test_listener_lines_name_the_bound_address(make_broker):
    b = make_broker()
    log = b.read_log()
    assert "listener tcp:default on 127.0.0.1:%d" % b.port in log
    assert "listener http:dashboard on 127.0.0.1:%d" % b.api_port in log


def test_port_zero_still_picks_a_free_port_for_every_worker(tmp_path):
    env = base_env(tmp_path / "data", EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:0",
                   EMQX_NODE__IO_THREADS="4")
    log_path = tmp_path / "emqxd.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([EMQXD_BIN, "start"], env=env, stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        def bound_port():
            for line in log_path.read_text(errors="replace").splitlines():
                if "listener tcp:default on 127.0.0.1:" in line:
                    return int(line.rsplit(":", 1)[1])
            return None
        port = wait_for(bound_port, 10)
        assert port, log_path.read_text()
        assert wait_for(lambda: " started with " in log_path.read_text(), 10)

        class Node:
            host = "127.0.0.1"
        Node.port = port
        # Enough connections that every worker's acceptor likely takes some.
        clients = [connected(Node, "zero-%d" % i, V5) for i in range(16)]
        for c in clients:
            c.close()
        roundtrip(Node, "startup/zero")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0, log_path.read_text()


@pytest.fixture
def first(make_broker):
    """A node on free ports with several workers (so its MQTT port holds several
    SO_REUSEPORT acceptors), serving."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "3"})
    roundtrip(b, "startup/first")
    return b


def rpc_port(broker):
    return int(broker.env["EMQX_CLUSTER__RPC__BIND"].rsplit(":", 1)[1])


def second(tmp_path, **taken):
    """Starts a second emqxd on its own ports except `taken`; it must exit by itself."""
    return run(["start"], base_env(tmp_path / "second", **taken))


def test_a_second_node_on_the_same_mqtt_port_exits_and_the_first_serves_on(first, tmp_path):
    r = second(tmp_path, EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % first.port)
    assert r.returncode == 1, r.stderr
    assert ("listener tcp:default: cannot listen on 127.0.0.1:%d: Address already in use"
            % first.port) in r.stderr
    assert first.alive()
    roundtrip(first, "startup/mqtt")


def test_a_second_node_on_the_same_api_port_exits_and_the_first_serves_on(first, tmp_path):
    r = second(tmp_path, EMQX_DASHBOARD__LISTENERS__HTTP__BIND="127.0.0.1:%d" % first.api_port)
    assert r.returncode == 1, r.stderr
    assert ("listener http:dashboard (dashboard.listeners.http.bind): cannot listen on "
            "127.0.0.1:%d: Address already in use" % first.api_port) in r.stderr
    assert first.alive()
    assert api_status(first.api_port).startswith(b"HTTP/1.1 200")
    roundtrip(first, "startup/api")


# The gRPC bind fails after the workers started (GRPC_ARG_ALLOW_REUSEPORT = 0): Node::start
# must stop them again and exit 1, not hang joining threads nobody stopped.
def test_a_second_node_on_the_same_rpc_port_exits_and_the_first_serves_on(first, tmp_path):
    port = rpc_port(first)
    r = run(["start"], base_env(tmp_path / "second",
                                EMQX_CLUSTER__RPC__BIND="127.0.0.1:%d" % port), timeout=10)
    assert r.returncode == 1, r.stderr
    assert ("cluster.rpc.bind: cannot listen on 127.0.0.1:%d (address in use" % port) in r.stderr
    assert first.alive()
    assert api_status(first.api_port).startswith(b"HTTP/1.1 200")
    roundtrip(first, "startup/rpc")


def test_a_port_another_program_holds_with_so_reuseport_is_refused(tmp_path):
    """Not only emqxd's own sockets: any listener there, even one that allows sharing."""
    taken = socket.socket()
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    taken.bind(("127.0.0.1", 0))
    taken.listen(8)
    port = taken.getsockname()[1]
    try:
        r = second(tmp_path, EMQX_LISTENERS__TCP__DEFAULT__BIND="127.0.0.1:%d" % port)
    finally:
        taken.close()
    assert r.returncode == 1, r.stderr
    assert ("listener tcp:default: cannot listen on 127.0.0.1:%d: Address already in use"
            % port) in r.stderr
