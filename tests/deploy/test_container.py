"""The container image (deploy/docker/Dockerfile) built for real with podman from the
package of the build under test, on a Debian 12 base made from Debian's packages
(deploy/docker/base-image.sh; no registry is reachable here): its user, ports and health
check; then three containers, each in a network namespace this test makes (the cluster
tests' Network: tests/cluster/cluster_support.py), that find each other through static
seeds, carry a message from one to another, and a member stopped and started again under
its name with its data volume rejoins with its durable session."""
import json
import os
import re
import shutil
import sys
import tempfile
import time

import pytest
import yaml

from deploy_support import BASE_IMAGE, BUILD_DIR, LIMITS, PODMAN, REPO, package, run

sys.path.insert(0, os.path.join(REPO, "tests", "cluster"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import cluster_support as CS  # noqa: E402
import rawmqtt as R  # noqa: E402
from cluster_support import poll  # noqa: E402

IMAGE = "localhost/emqxd:test-%d" % os.getpid()
COMPOSE = os.path.join(REPO, "deploy", "docker", "compose.yaml")
COMPOSE_NAME = "emqxd@n%d"  # n<k>'s node name in compose.yaml
COOKIE = "emqxd-container-test-cookie"
PASSWORD = CS.API_PASSWORD  # what CS.http_request sends


@pytest.fixture(scope="module")
def image():
    if shutil.which("podman") is None:
        pytest.fail("podman is not installed (scripts/install-deps.sh --test installs it)")
    run([os.path.join(REPO, "deploy", "docker", "base-image.sh"), BASE_IMAGE], timeout=900)
    deb = package()
    deb_dir = os.path.relpath(os.path.dirname(deb), REPO)
    assert not deb_dir.startswith(".."), "the build must be inside the repository: %s" % deb
    # Docker format: OCI images have no HEALTHCHECK.
    out = run(PODMAN + ["build", "--format", "docker", "--network", "host"] + LIMITS + [
        "-f", os.path.join(REPO, "deploy", "docker", "Dockerfile"),
        "--build-arg", "BASE=" + BASE_IMAGE, "--build-arg", "PACKAGE=context",
        "--build-arg", "DEB_DIR=" + deb_dir, "-t", IMAGE, REPO], timeout=900).stdout
    # Each stage's image ("--> <id>"): podman keeps them as cache; this test leaves none.
    stages = re.findall(r"^--> ([0-9a-f]{8,})$", out, re.M)
    try:
        yield IMAGE
    finally:
        run(["podman", "rmi", "-f", IMAGE] + stages, check=False)


def compose_env(service, exported, addresses):
    """compose.yaml's environment of `service`: ${VAR:-default} taken from `exported`
    (else the default), then each compose node name replaced by this test's."""
    env = yaml.safe_load(open(COMPOSE))["services"][service]["environment"]
    out = {}
    for k, v in env.items():
        v = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: exported.get(m.group(1), m.group(2)),
                   str(v))
        for old, new in addresses.items():
            v = v.replace(old, new)
        out[k] = v
    return out


def test_compose_file_describes_three_members_of_one_cluster():
    doc = yaml.safe_load(open(COMPOSE))
    services = doc["services"]
    assert sorted(services) == ["n1", "n2", "n3"]
    build = services["n1"]["build"]
    assert os.path.isfile(os.path.join(os.path.dirname(COMPOSE), build["context"],
                                       build["dockerfile"]))
    seeds = None
    for k in (1, 2, 3):
        svc = services["n%d" % k]
        env = svc["environment"]
        # Named by the service: the network's DNS answers it, whatever the address.
        assert svc["networks"] == ["emqxd"]
        assert env["EMQX_NODE__NAME"] == COMPOSE_NAME % k
        assert "EMQXD_COOKIE" in env["EMQX_NODE__COOKIE"]
        assert "EMQXD_PASSWORD" in env["EMQX_DASHBOARD__DEFAULT_PASSWORD"]
        seeds = seeds or json.loads(env["EMQX_CLUSTER__STATIC__SEEDS"])
        assert json.loads(env["EMQX_CLUSTER__STATIC__SEEDS"]) == seeds
        assert svc["volumes"] == ["n%d-data:/var/lib/emqxd" % k]
        # Published on loopback only until the secrets are the user's.
        assert all(p.startswith("127.0.0.1:") for p in svc["ports"])
    assert seeds == [COMPOSE_NAME % k for k in (1, 2, 3)]


def inspect(what, name):
    return json.loads(run(["podman", what, "inspect", name]).stdout)[0]


def test_the_image(image):
    info = inspect("image", image)
    cfg = info["Config"]
    assert cfg["User"] == "emqxd"
    assert cfg["Entrypoint"] == ["emqxd"]
    assert cfg["Cmd"] == ["start", "-c", "/etc/emqxd/emqx.conf"]
    assert set(cfg["ExposedPorts"]) == {"1883/tcp", "8883/tcp", "8083/tcp", "8084/tcp",
                                        "18083/tcp", "4370/tcp"}
    assert "/var/lib/emqxd" in cfg["Volumes"]
    health = info.get("Healthcheck") or cfg.get("Healthcheck") or {}
    assert health.get("Test") == ["CMD", "emqxd", "ctl", "-c", "/etc/emqxd/emqx.conf", "status"]
    # The size the docs state (docs/deploy.md): well under 200 MB with its base.
    assert info["Size"] < 200 * 1024 * 1024, info["Size"]
    # It runs as its own user, not root, at the uid and gid the Helm chart's securityContext
    # names (999: helm/emqxd/values.yaml).
    out = run(PODMAN + ["run", "--rm"] + LIMITS + ["--network", "none", "--entrypoint", "id",
                                                   image]).stdout
    assert out.startswith("uid=999(emqxd) gid=999(emqxd)"), out
    out = run(PODMAN + ["run", "--rm"] + LIMITS + ["--network", "none", image, "--help"]).stdout
    assert "start" in out and "ctl" in out


class Containers:
    """Three emqxd containers, n<i> in namespace <prefix>-n<i> at 10.213.<slot>.<i>."""

    def __init__(self, image):
        self.image = image
        self.slot = CS.Slot.acquire(True)
        self.net = CS.Network(self.slot)
        self.dir = tempfile.mkdtemp(prefix="emqxd-ct-")
        self.names = {}
        self.net.create()

    def host(self, i):
        return self.net.addr(i)

    def name(self, i):
        return "emqxd-ct-%d-n%d" % (os.getpid(), i)

    def start(self, i):
        """Starts n<i> with the environment of compose.yaml's service n<i>, as a user who
        exported EMQXD_COOKIE and EMQXD_PASSWORD would, its addresses mapped onto this
        test's."""
        ns = self.net.add_node(i)
        data = os.path.join(self.dir, "n%d" % i)
        os.makedirs(data)
        env = compose_env("n%d" % i, {"EMQXD_COOKIE": COOKIE, "EMQXD_PASSWORD": PASSWORD},
                          {COMPOSE_NAME % k: "emqxd@" + self.host(k) for k in (1, 2, 3)})
        argv = PODMAN + ["run", "-d", "--name", self.name(i), "--network", "ns:/run/netns/" + ns,
                         "-v", "%s:/var/lib/emqxd:U" % data] + LIMITS
        for k, v in env.items():
            argv += ["-e", "%s=%s" % (k, v)]
        run(argv + [self.image])
        self.names[i] = self.name(i)

    def api(self, i, path):
        return CS.http_request(self.host(i), 18083, "GET", path)

    def wait_cluster(self, on, alive, timeout=60):
        want = {"emqxd@%s" % self.host(a) for a in alive}

        def check():
            try:
                status, body = self.api(on, "/api/v5/cluster")
            except OSError as e:
                return False, str(e)
            if status != 200:
                return False, (status, body)
            doc = json.loads(body)
            seen = {m["node"] for m in doc.get("members", []) if m.get("state") == "alive"}
            return want <= seen, doc
        ok, seen, _, _ = poll(check, timeout, 0.5)
        assert ok, "n%d never saw %s alive: %s\n%s" % (on, sorted(want), seen, self.logs())

    def logs(self):
        out = []
        for i, n in self.names.items():
            p = run(["podman", "logs", "--tail", "30", n], check=False)
            out.append("---- %s ----\n%s%s" % (n, p.stdout, p.stderr))
        return "\n".join(out)

    def close(self):
        for n in self.names.values():
            run(["podman", "rm", "-f", "-t", "0", n], check=False, timeout=60)
        problems = self.net.destroy()
        self.slot.release()
        shutil.rmtree(self.dir, ignore_errors=True)
        return problems


@pytest.fixture
def containers(image):
    CS.Network.check_available()
    c = Containers(image)
    try:
        yield c
    finally:
        assert c.close() == []


class Node:
    def __init__(self, host):
        self.host, self.port = host, 1883


def mqtt(c, i, cid, **kw):
    """A connected RawClient and its CONNACK."""
    def attempt():
        try:
            cl = R.RawClient(Node(c.host(i)))
            return True, (cl, cl.connect(cid, **kw))
        except (OSError, R.Closed, AssertionError) as e:
            return False, e
    ok, got, _, _ = poll(attempt, 30, 0.5)
    assert ok, "no MQTT on n%d: %s\n%s" % (i, got, c.logs())
    return got


def test_three_containers_form_a_cluster_and_a_member_comes_back(containers):
    c = containers
    for i in (1, 2, 3):
        c.start(i)
    for i in (1, 2, 3):
        c.wait_cluster(on=i, alive=[1, 2, 3])
    # The image's health check, run as podman would.
    for i in (1, 2, 3):
        assert run(["podman", "healthcheck", "run", c.names[i]], check=False).returncode == 0

    # A persistent session on n2; a message published on n1 reaches it, and n3.
    kw = {"clean": False, "props": {"session_expiry_interval": 600}}
    sub2, _ = mqtt(c, 2, "ct-sub2", **kw)
    assert sub2.subscribe([("ct/#", R.sub_options(qos=1))]) == [1]
    sub3, _ = mqtt(c, 3, "ct-sub3")
    assert sub3.subscribe([("ct/#", R.sub_options(qos=1))]) == [1]
    pub, _ = mqtt(c, 1, "ct-pub")

    def delivered(client, payload, pid):
        def check():
            pub.publish("ct/a", payload, qos=1, pid=pid)
            got = [p.payload for p in client.recv_all(0.5) if p.type == R.PUBLISH]
            return payload in got, got
        ok, seen, _, _ = poll(check, 20, 0.2)
        assert ok, "%s never arrived: %s" % (payload, seen)
    delivered(sub2, b"one", 1)
    delivered(sub3, b"one-3", 2)

    # n2 stops gracefully (SIGTERM, exit 0) and the others see it go.
    sub2.close()
    run(["podman", "stop", "-t", "30", c.names[2]], timeout=60)
    state = inspect("container", c.names[2])["State"]
    assert state["ExitCode"] == 0, c.logs()

    def n2_gone():
        status, body = c.api(1, "/api/v5/cluster")
        doc = json.loads(body)
        alive = {m["node"] for m in doc.get("members", []) if m.get("state") == "alive"}
        return "emqxd@%s" % c.host(2) not in alive, doc
    ok, seen, _, _ = poll(n2_gone, 30, 0.5)
    assert ok, seen

    # Started again: same name, same address, same data volume. It rejoins, and its
    # durable session is there.
    t0 = time.monotonic()
    run(["podman", "start", c.names[2]])
    for i in (1, 2, 3):
        c.wait_cluster(on=i, alive=[1, 2, 3])
    sub2, ack = mqtt(c, 2, "ct-sub2", **kw)
    assert ack.session_present is True
    delivered(sub2, b"two", 3)
    assert time.monotonic() - t0 < 60


def test_one_command_brings_up_three_members_with_compose(image):
    """README's command, deploy/docker/cluster.sh up: podman-compose on compose.yaml (its
    own network and DNS, names rather than addresses), the image built from the tested
    package; ports on loopback chosen here; then down removes everything it made."""
    from ports import free_port
    project = "emqxdct%d" % os.getpid()
    ports = {k: free_port() for k in ("N1", "N2", "N3", "WS", "API")}
    deb_dir = os.path.relpath(os.path.dirname(package()), REPO)
    env = dict(os.environ, EMQXD_PROJECT=project, EMQXD_IMAGE=image + "-compose",
               EMQXD_BASE=BASE_IMAGE, EMQXD_DEB_DIR=deb_dir, EMQXD_COOKIE=COOKIE,
               EMQXD_PASSWORD=PASSWORD, EMQXD_WAIT="120",
               **{"EMQXD_%s_PORT" % k: str(p) for k, p in ports.items()})
    script = os.path.join(REPO, "deploy", "docker", "cluster.sh")
    try:
        up = run([script, "up"], timeout=600, check=False, env=env)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        assert "3 members (3 alive)" in up.stdout
        status = run([script, "status"], env=env).stdout
        assert all("emqxd@n%d" % k in status for k in (1, 2, 3)), status

        class At:
            def __init__(self, port):
                self.host, self.port = "127.0.0.1", port
        sub = R.RawClient(At(ports["N3"]))
        sub.connect("compose-sub")
        assert sub.subscribe([("cmp/#", R.sub_options(qos=1))]) == [1]
        pub = R.RawClient(At(ports["N1"]))
        pub.connect("compose-pub")

        def check():
            pub.publish("cmp/a", b"through compose", qos=1, pid=7)
            got = [p.payload for p in sub.recv_all(0.5) if p.type == R.PUBLISH]
            return b"through compose" in got, got
        ok, seen, _, _ = poll(check, 30, 0.2)
        assert ok, seen
        status, body = CS.http_request("127.0.0.1", ports["API"], "GET", "/api/v5/nodes")
        assert status == 200 and len(json.loads(body)) == 3, body
    finally:
        down = run([script, "down", "-v"], timeout=180, check=False, env=env)
        run(["podman", "rmi", "-f", image + "-compose"], check=False)
    assert down.returncode == 0, down.stderr[-2000:]
    left = run(["podman", "ps", "-a", "--format", "{{.Names}}"]).stdout.split()
    assert not [n for n in left if n.startswith(project + "_")], left
    assert run(["podman", "network", "exists", project + "_emqxd"], check=False).returncode != 0
    vols = run(["podman", "volume", "ls", "--format", "{{.Name}}"]).stdout.split()
    assert not [v for v in vols if v.startswith(project + "_")], vols
