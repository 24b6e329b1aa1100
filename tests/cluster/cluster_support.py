"""Multi-process harness for emqxd cluster tests: several real emqxd nodes, on loopback or
each in its own network namespace, with bounded waits on the cluster API and network
partitions. The `cluster` fixture (conftest.py) is the way in:

    c = cluster(3)                      # n1..n3 on 127.0.0.1, static seeds [n1], all alive
    c = cluster(3, netns=True)          # each node in its own namespace, 10.213.<slot>.<i>
    c = cluster(3, join=False)          # independent nodes, no seeds, no membership wait
    c.node(2).kill(); c.node(2).start()
    c.wait_members(alive=[1, 3], dead=[2], on=[1, 3])
    c.partition([1], [2, 3]); c.heal()

Every wait has a deadline and a bounded number of polls, and its failure says what was
expected and what was seen (with each node's status JSON and the tail of its log).
Processes are started in their own session (process group) and stopped by PID; they
also get SIGKILL from the kernel if the test process dies (setpriv --pdeathsig).

Hermetic across parallel runs (ctest -j): each Cluster holds a *slot*, an flock'ed file
under STATE_DIR, for as long as it lives. The slot number picks the loopback port block
(PORT_BASE + 40 * slot, outside the kernel's ephemeral range, so no client socket takes a
port while its node is down), the namespace names (emqxdct-<slot>-<pid>-...), the root
veth (emqxdct<slot>) and the subnet (10.213.<slot>.0/24). Whatever carries the prefix of a
slot nobody holds is left over from an aborted run and is removed before a slot is taken
(with its data directories, unless EMQXD_KEEP_TEST_DIRS is set).
"""
import fcntl
import http.client
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from base64 import b64encode
from urllib.parse import quote

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import mqttc  # noqa: E402  (tests/integration/mqttc.py: paho-mqtt with bounded waits)

EMQXD_BIN = os.path.abspath(os.environ.get("EMQXD_BIN") or os.path.join(
    HERE, "..", "..", "build", "server", "emqxd"))
PYTHON = "/usr/bin/python3"
NETPROBE = os.path.join(HERE, "netprobe.py")

PREFIX = "emqxdct"        # namespaces PREFIX-<slot>-<pid>-<role>, root veth PREFIX<slot>
SLOTS = 200               # concurrent clusters on one machine
NET_X = 213               # netns subnets 10.NET_X.<slot>.0/24
PORT_BASE = int(os.environ.get("EMQXD_CLUSTER_PORT_BASE", "20000"))
PORTS_PER_SLOT = 40       # 3 per node: up to 13 loopback nodes per cluster
NETNS_PORTS = (1883, 18083, 4370)  # mqtt, api, rpc inside a namespace: the defaults
API_GRACE = 0.3           # s a refused GET /status is given once MQTT is up
HOST_SUFFIX = 254         # the test process's address in each netns subnet
DIR_PREFIX = "emqxd-cl-"   # each cluster's temporary directory
DROP_MAC = "02:00:00:00:de:ad"     # no interface has it: frames sent to it go nowhere

# node.cookie of every test node (a test may give one node another through node_env).
COOKIE = "emqxd-cluster-tests-cookie"

# Faster SWIM for tests (the brief's numbers; production defaults are 1s/500ms/4/200ms).
FAST_SWIM = {
    "EMQX_CLUSTER__PROBE_INTERVAL": "200ms",
    "EMQX_CLUSTER__PROBE_TIMEOUT": "100ms",
    "EMQX_CLUSTER__SUSPICION_MULTIPLIER": "3",
    "EMQX_CLUSTER__GOSSIP_INTERVAL": "50ms",
    "EMQX_CLUSTER__RECONNECT_INTERVAL": "2s",
    "EMQX_CLUSTER__PUSH_PULL_INTERVAL": "2s",
}
# The API's password: not the default, which is taken from loopback clients only, and
# namespace nodes are reached over their veth.
API_USER, API_PASSWORD = "admin", "emqxd-cluster-tests-api"


def _state_dir():
    for d in (os.environ.get("EMQXD_CLUSTER_STATE_DIR"), "/run/emqxd-cluster-tests",
              os.path.join(tempfile.gettempdir(), "emqxd-cluster-tests")):
        if not d:
            continue
        try:
            os.makedirs(d, exist_ok=True)
            if os.access(d, os.W_OK):
                return d
        except OSError:
            pass
    raise RuntimeError("no writable directory for cluster test slots")


STATE_DIR = _state_dir()


class NetnsUnavailable(Exception):
    """Network namespaces cannot be made here (not root, no `ip`, or the kernel refused):
    netns tests skip with this message."""


# ---------------------------------------------------------------- small tools

def run(argv, check=True, timeout=10.0, input=None):
    """Runs a short command; returns (rc, stdout+stderr). Raises with both on failure."""
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       input=input, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (" ".join(argv), p.returncode,
                                                   p.stdout.strip()))
    return p.returncode, p.stdout


def poll(check, timeout, interval=0.1):
    """Calls check() -> (done, seen) until done or `timeout` seconds pass, at most
    timeout/interval + 2 times. Returns (done, seen, polls, elapsed)."""
    t0 = time.monotonic()
    deadline = t0 + timeout
    max_polls = int(timeout / interval) + 2
    polls = 0
    while True:
        polls += 1
        done, seen = check()
        now = time.monotonic()
        if done or now >= deadline or polls >= max_polls:
            return done, seen, polls, now - t0
        time.sleep(min(interval, max(0.0, deadline - now)))


def proc_start_time(pid):
    """The start time of process `pid` in clock ticks since boot (/proc/PID/stat field
    22), or None: with the PID it names one process even after the PID is reused."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def netns_list():
    if shutil.which("ip") is None:
        return []
    rc, out = run(["ip", "netns", "list"], check=False)
    return [line.split()[0] for line in out.splitlines() if line.strip()] if rc == 0 else []


def netns_pids(ns):
    rc, out = run(["ip", "netns", "pids", ns], check=False)
    return [int(p) for p in out.split() if p.isdigit()] if rc == 0 else []


def root_links():
    """Names of the interfaces in the root (the test's) network namespace."""
    if shutil.which("ip") is None:
        return []
    rc, out = run(["ip", "-o", "link", "show"], check=False)
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) >= 2:
            names.append(parts[1].strip().split("@")[0])
    return names


def kill_pids(pids, timeout=5.0):
    """SIGKILLs each PID and waits (bounded) until it is gone."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    poll(lambda: (all(proc_start_time(p) is None or _is_zombie(p) for p in pids), None),
         timeout, 0.02)


def _is_zombie(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def http_request(host, port, method, path, body=None, auth=True, timeout=2.0):
    """One HTTP request (http.client: no proxy from the environment). Returns
    (status, text); raises OSError when nothing answers."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        headers = {}
        if auth:
            token = b64encode(("%s:%s" % (API_USER, API_PASSWORD)).encode()).decode()
            headers["Authorization"] = "Basic " + token
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=data, headers=headers)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


class ApiError(Exception):
    """The node's HTTP API did not answer as expected; str() says how."""


def mqtt_connack(host, port, timeout=0.5):
    """True when an MQTT 3.1.1 CONNECT on host:port gets a CONNACK (then disconnects). Any
    return code will do: with authentication configured the anonymous probe is refused, yet
    the node serves MQTT."""
    cid = b"cluster-ready-%d" % time.monotonic_ns()
    body = b"\x00\x04MQTT\x04\x02\x00\x1e" + len(cid).to_bytes(2, "big") + cid
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(bytes([0x10, len(body)]) + body)
            ack = b""
            while len(ack) < 4:
                chunk = s.recv(4 - len(ack))
                if not chunk:
                    return False
                ack += chunk
            if ack[:3] != b"\x20\x02\x00":
                return False
            if ack[3] == 0:
                s.sendall(b"\xe0\x00")
            return True
    except OSError:
        return False


# ---------------------------------------------------------------- slots

def _slot_path(n):
    return os.path.join(STATE_DIR, "slot-%d" % n)


def _try_lock(n):
    f = open(_slot_path(n), "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return f
    except OSError:
        f.close()
        return None


def _clean_slot(n, f, names, links):
    """Removes what slot n left behind; its lock is held (by `f`), so nobody owns it."""
    f.seek(0)
    for line in f.read().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "dir":
            if os.path.basename(parts[1]).startswith(DIR_PREFIX) and \
                    not os.environ.get("EMQXD_KEEP_TEST_DIRS"):
                shutil.rmtree(parts[1], ignore_errors=True)
        elif len(parts) >= 2 and parts[0].isdigit():
            pid, start = int(parts[0]), parts[1]
            if str(proc_start_time(pid)) == start:
                kill_pids([pid])
    for ns in names:
        if ns.startswith("%s-%d-" % (PREFIX, n)):
            kill_pids(netns_pids(ns))
            run(["ip", "netns", "del", ns], check=False)
    if "%s%d" % (PREFIX, n) in links:
        run(["ip", "link", "del", "%s%d" % (PREFIX, n)], check=False)
    f.seek(0)
    f.truncate()


def sweep_stale():
    """Removes namespaces, root veths and recorded processes of every slot whose lock
    nobody holds (left by a run that was killed before its teardown)."""
    names, links = netns_list(), root_links()
    slots = set()
    for ns in names:
        m = re.match(r"%s-(\d+)-" % PREFIX, ns)
        if m:
            slots.add(int(m.group(1)))
    for link in links:
        m = re.fullmatch(r"%s(\d+)" % PREFIX, link)
        if m:
            slots.add(int(m.group(1)))
    for entry in os.listdir(STATE_DIR):
        m = re.fullmatch(r"slot-(\d+)", entry)
        if m and os.path.getsize(os.path.join(STATE_DIR, entry)) > 0:
            slots.add(int(m.group(1)))
    for n in sorted(slots):
        f = _try_lock(n)
        if f is not None:
            try:
                _clean_slot(n, f, names, links)
            finally:
                f.close()


def _subnet_in_use(net):
    """True when the root namespace already routes or holds an address in `net`."""
    _, out = run(["ip", "-4", "-o", "route", "show", "table", "all"], check=False)
    _, addrs = run(["ip", "-4", "-o", "addr", "show"], check=False)
    words = [line.split()[0] for line in out.splitlines() if line.split()]
    words += re.findall(r"inet (\S+)", addrs)
    for w in words:
        if w in ("default", "local", "broadcast", "unreachable", "blackhole", "prohibit"):
            continue
        try:
            if ipaddress.ip_network(w, strict=False).overlaps(net):
                return True
        except ValueError:
            pass
    return False


class Slot:
    """One cluster's claim on a port block, a subnet and a name prefix, held by an flock
    until release(). Records the processes started under it, for the sweep."""

    def __init__(self, n, f):
        self.n, self.f = n, f
        self.subnet = ipaddress.ip_network("10.%d.%d.0/24" % (NET_X, n))

    @classmethod
    def acquire(cls, netns):
        sweep_stale()
        for n in range(SLOTS):
            f = _try_lock(n)
            if f is None:
                continue
            slot = cls(n, f)
            _clean_slot(n, f, netns_list(), root_links())
            if netns and _subnet_in_use(slot.subnet):
                slot.release()
                continue
            return slot
        raise RuntimeError("all %d cluster test slots in %s are taken" % (SLOTS, STATE_DIR))

    def record(self, pid, role):
        self.f.write("%d %s %s\n" % (pid, proc_start_time(pid), role))
        self.f.flush()

    def record_dir(self, path):
        self.f.write("dir %s\n" % path)
        self.f.flush()

    def ports(self, count):
        """`count` loopback ports from this slot's block that are free right now."""
        base = PORT_BASE + PORTS_PER_SLOT * self.n
        out = []
        for p in range(base, base + PORTS_PER_SLOT):
            if len(out) == count:
                break
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    s.bind(("127.0.0.1", p))
                    out.append(p)
                except OSError:
                    pass
        if len(out) < count:
            raise RuntimeError("slot %d: only %d of %d ports free in %d-%d"
                               % (self.n, len(out), count, base, base + PORTS_PER_SLOT - 1))
        return out

    def release(self):
        if self.f is not None:
            self.f.seek(0)
            self.f.truncate()
            self.f.close()  # drops the flock
            self.f = None


# ---------------------------------------------------------------- namespaces

class Network:
    """Per-node network namespaces joined by a bridge in a hub namespace:

        root ns (test)  emqxdct<slot> 10.213.<slot>.254/24 --veth-- host ┐
        <prefix>-n<i>   eth0          10.213.<slot>.<i>/24 --veth-- n<i> ├ br0 in <prefix>-hub
                                                                        ┘
    The only thing in the root namespace is the veth emqxdct<slot> (and the connected
    route its address brings); deleting it removes its peer too.
    """

    def __init__(self, slot):
        self.slot = slot
        self.prefix = "%s-%d-%d" % (PREFIX, slot.n, os.getpid())
        self.hub = self.prefix + "-hub"
        self.host_if = "%s%d" % (PREFIX, slot.n)
        self.net = slot.subnet
        self.nodes = {}        # index -> namespace name
        self.undo = []         # (namespace, ip arguments) that heal() runs
        self.created = False

    @staticmethod
    def check_available():
        if os.geteuid() != 0:
            raise NetnsUnavailable("network namespaces need root (running as uid %d)"
                                   % os.geteuid())
        if shutil.which("ip") is None:
            raise NetnsUnavailable("`ip` (iproute2) is not installed")

    def addr(self, i):
        return str(self.net.network_address + i)

    @property
    def host_addr(self):
        return self.addr(HOST_SUFFIX)

    def ns(self, i):
        return self.nodes[i]

    def ip(self, ns, *args, check=True):
        argv = ["ip"] + (["-n", ns] if ns else []) + list(args)
        return run(argv, check=check)

    def create(self):
        self.check_available()
        rc, out = run(["ip", "netns", "add", self.hub], check=False)
        if rc != 0:
            raise NetnsUnavailable("the kernel refused a network namespace (ip netns add "
                                   "%s): %s" % (self.hub, out.strip()))
        self.created = True
        self.ip(self.hub, "link", "set", "lo", "up")
        self.ip(self.hub, "link", "add", "br0", "type", "bridge")
        self.ip(self.hub, "link", "set", "br0", "up")
        self.ip(None, "link", "add", self.host_if, "type", "veth", "peer", "name", "host",
                "netns", self.hub)
        self.ip(self.hub, "link", "set", "host", "master", "br0", "up")
        self.ip(None, "addr", "add", "%s/24" % self.host_addr, "dev", self.host_if)
        self.ip(None, "link", "set", self.host_if, "up")

    def add_node(self, i):
        ns = "%s-n%d" % (self.prefix, i)
        self.ip(None, "netns", "add", ns)
        self.nodes[i] = ns
        self.ip(ns, "link", "set", "lo", "up")
        self.ip(None, "link", "add", "eth0", "netns", ns, "type", "veth", "peer", "name",
                "n%d" % i, "netns", self.hub)
        self.ip(self.hub, "link", "set", "n%d" % i, "master", "br0", "up")
        self.ip(ns, "addr", "add", "%s/24" % self.addr(i), "dev", "eth0")
        self.ip(ns, "link", "set", "eth0", "up")
        return ns

    def partition(self, groups, mode="drop"):
        """Cuts traffic between every two nodes in different groups, both ways; nodes in
        one group, nodes in no group and the test process keep reaching each other.

        mode "drop": each side's neighbour entry for the other side's address points at a
        MAC no interface has, so the bridge floods the frames and nobody takes them: the
        packets vanish in the network, connects and established connections time out (a
        real partition). mode "reject": an `unreachable` route to the other side's
        addresses, so connects fail at once with EHOSTUNREACH (a peer whose host is down
        and a router says so)."""
        if mode not in ("drop", "reject"):
            raise ValueError("partition mode must be drop or reject, got %r" % mode)
        self.heal()
        for gi, ga in enumerate(groups):
            for gb in groups[gi + 1:]:
                for a in ga:
                    for b in gb:
                        self._cut(a, b, mode)
                        self._cut(b, a, mode)

    def _cut(self, a, b, mode):
        ns, to = self.ns(a), self.addr(b)
        if mode == "drop":
            self.ip(ns, "neigh", "replace", to, "lladdr", DROP_MAC, "dev", "eth0",
                    "nud", "permanent")
            self.undo.append((ns, ("neigh", "del", to, "dev", "eth0")))
        else:
            self.ip(ns, "route", "add", "unreachable", to + "/32")
            self.undo.append((ns, ("route", "del", "unreachable", to + "/32")))

    def heal(self):
        while self.undo:
            ns, args = self.undo.pop()
            self.ip(ns, *args)

    def pids(self):
        out = []
        for ns in [self.hub] + list(self.nodes.values()):
            out += netns_pids(ns)
        return out

    def destroy(self):
        """Kills whatever still runs in the namespaces, deletes them and the root veth.
        Returns a list of problems (empty when all went)."""
        problems = []
        if not self.created:
            return problems
        names = [self.hub] + list(self.nodes.values())
        leftover = self.pids()
        if leftover:
            kill_pids(leftover)
        if self.host_if in root_links():
            rc, out = self.ip(None, "link", "del", self.host_if, check=False)
            if rc != 0:
                problems.append("ip link del %s: %s" % (self.host_if, out.strip()))
        for ns in names:
            if ns in netns_list():
                rc, out = run(["ip", "netns", "del", ns], check=False)
                if rc != 0:
                    problems.append("ip netns del %s: %s" % (ns, out.strip()))
        self.created = False
        return problems

    def leftovers(self):
        """What of this network still exists (for asserting a clean teardown)."""
        left = [ns for ns in netns_list() if ns.startswith(self.prefix + "-")]
        if self.host_if in root_links():
            left.append("root veth " + self.host_if)
        return left


# ---------------------------------------------------------------- nodes

class Node:
    """One emqxd process: its name, ports, data dir and log survive stop()/start()."""

    def __init__(self, cluster, index, host, mqtt_port, api_port, rpc_port, netns, env):
        self.cluster = cluster
        self.index = index
        self.host = host
        self.mqtt_port, self.api_port, self.rpc_port = mqtt_port, api_port, rpc_port
        self.netns = netns                      # namespace name, or None on loopback
        self.name = "n%d@%s" % (index, host)
        self.address = "%s:%d" % (self.name, rpc_port)
        self.dir = os.path.join(cluster.dir, "n%d" % index)
        os.makedirs(self.dir, exist_ok=True)
        self.log_path = os.path.join(self.dir, "emqxd.log")
        self.env = env
        self.proc = None
        self.starts = 0
        self.expected_down = True   # False while the test expects it running
        self.exits = []             # (how, returncode) of every stop, kill or death seen
        self._mqtt_since = None     # when readiness first saw CONNACK

    # mqttc.Client and rawmqtt.RawClient connect to (broker.host, broker.port).
    @property
    def port(self):
        return self.mqtt_port

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def __repr__(self):
        return "<Node %s mqtt=%s api=%s rpc=%s pid=%s>" % (
            self.name, self.mqtt_port, self.api_port, self.rpc_port, self.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self, wait=True, timeout=20.0):
        """Starts emqxd (again) with the same name, ports and data dir; with wait=True
        returns once it serves MQTT (and GET /status, when the HTTP API answers)."""
        if self.alive():
            raise AssertionError("%s is already running (pid %d)" % (self.name, self.pid))
        self.starts += 1
        argv = [EMQXD_BIN, "start"]
        if self.netns:
            argv = ["ip", "netns", "exec", self.netns] + argv
        # The kernel SIGKILLs the node when the thread that started it dies (the test
        # process killed by a ctest timeout, say). Only from the main thread: a helper
        # thread that ends would take its nodes with it.
        if threading.current_thread() is threading.main_thread():
            argv = ["setpriv", "--pdeathsig", "KILL", "--"] + argv
        with open(self.log_path, "ab") as log:
            log.write(b"==== cluster harness: start #%d of %s: %s\n"
                      % (self.starts, self.name.encode(), " ".join(argv).encode()))
            log.flush()
            self.proc = subprocess.Popen(argv, env=self.env, cwd=self.dir, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        self.cluster.slot.record(self.proc.pid, self.name)
        self.expected_down = False
        if wait:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=20.0):
        """Waits until CONNACK on the MQTT port and, when the HTTP API answers at all,
        200 from GET /status. Until the API exists, a refused /status is given
        API_GRACE seconds after MQTT is up before readiness falls back to MQTT alone."""
        wait_ready([self], timeout)
        return self

    def _ready(self):
        """One readiness check: (ready, what was seen)."""
        if not self.alive():
            raise AssertionError("%s exited with %s while starting:\n%s"
                                 % (self.name, self.proc.returncode, self.log_tail()))
        mqtt = mqtt_connack(self.host, self.mqtt_port)
        try:
            code, _ = http_request(self.host, self.api_port, "GET", "/status", auth=False,
                                   timeout=0.5)
            api = "GET /status %d" % code
        except OSError as e:
            code, api = None, "GET /status: %s" % (e.strerror or e)
        if not mqtt:
            self._mqtt_since = None
            return False, "no CONNACK on %s:%d; %s" % (self.host, self.mqtt_port, api)
        if code == 200:
            return True, api
        now = time.monotonic()
        self._mqtt_since = getattr(self, "_mqtt_since", None) or now
        refused = code is None and "refused" in api.lower()
        return refused and now - self._mqtt_since >= API_GRACE, "CONNACK ok; " + api

    def _end(self, sig, how, timeout):
        if not self.alive():
            raise AssertionError("%s is not running (last exit %s)"
                                 % (self.name, self.proc.returncode if self.proc else None))
        self.expected_down = True
        try:
            if sig == signal.SIGKILL:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its session: it and any child
            else:
                self.proc.send_signal(sig)
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            rc = self.proc.wait(5)
            self.exits.append((how + " (timed out, then SIGKILL)", rc))
            raise AssertionError("%s did not exit within %.0fs of %s:\n%s"
                                 % (self.name, timeout, how, self.log_tail()))
        self.exits.append((how, rc))
        return rc

    def kill(self, timeout=5.0):
        """SIGKILL (a crash); returns once the process is gone."""
        return self._end(signal.SIGKILL, "SIGKILL", timeout)

    def stop(self, timeout=10.0):
        """SIGTERM and wait for a graceful exit; returns the exit code (0 expected)."""
        return self._end(signal.SIGTERM, "SIGTERM", timeout)

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines=40):
        tail = self.read_log().splitlines()[-lines:]
        return "---- %s log (%s), last %d lines ----\n%s" % (
            self.name, self.log_path, len(tail), "\n".join(tail))

    def api(self, method, path, body=None, expect=200, timeout=2.0):
        """Calls the HTTP API (Basic auth) and returns the parsed JSON body; raises
        ApiError saying what answered instead of `expect`."""
        try:
            code, text = http_request(self.host, self.api_port, method, path, body,
                                      timeout=timeout)
        except OSError as e:
            raise ApiError("%s %s on %s (%s:%d): %s" % (method, path, self.name, self.host,
                                                        self.api_port, e.strerror or e))
        if expect is not None and code != expect:
            raise ApiError("%s %s on %s: HTTP %d (expected %d): %s"
                           % (method, path, self.name, code, expect, text[:500]))
        try:
            return json.loads(text) if text else None
        except ValueError:
            raise ApiError("%s %s on %s: not JSON: %r" % (method, path, self.name, text[:500]))


def wait_ready(nodes, timeout=20.0):
    """Waits for all `nodes` together (see Node.wait_ready)."""
    pending = {n.index: n for n in nodes}
    for n in nodes:
        n._mqtt_since = None
    seen = {}

    def check():
        for i, n in list(pending.items()):
            ok, seen[i] = n._ready()
            if ok:
                del pending[i]
        return not pending, seen

    done, seen, polls, elapsed = poll(check, timeout, 0.05)
    if not done:
        raise AssertionError("not ready after %.1fs (%d polls): expected CONNACK on the MQTT "
                             "port and GET /status 200 (or no HTTP API); last seen:\n%s\n%s"
                             % (elapsed, polls, "\n".join("  %s: %s" % (pending[i].name, seen[i])
                                                          for i in pending),
                                "\n".join(pending[i].log_tail() for i in pending)))


class Client(mqttc.Client):
    """tests/integration/mqttc.Client (paho, bounded waits) plus exact-count checks."""

    def expect(self, n, timeout=5.0, settle=0.3):
        """Waits up to `timeout` for n messages, then `settle` seconds for any extra one;
        returns the n messages, or fails saying what came."""
        got = self.wait_messages(n, timeout)
        if len(got) < n:
            raise AssertionError("client %s: expected %d messages within %.1fs, got %d: %s"
                                 % (self.c._client_id.decode(), n, timeout, len(got),
                                    _show(got)))
        if settle > 0 and self._wait(lambda: len(self.messages) > n, settle):
            with self.lock:
                extra = list(self.messages)
            raise AssertionError("client %s: expected exactly %d messages, got %d: %s"
                                 % (self.c._client_id.decode(), n, len(extra), _show(extra)))
        return got[:n]

    def expect_messages(self, expected, timeout=5.0, settle=0.3, ordered=False):
        """Checks that exactly `expected` [(topic, payload bytes|str)] arrived."""
        want = [(t, p.encode() if isinstance(p, str) else p) for t, p in expected]
        got = self.expect(len(want), timeout, settle)
        seen = [(m.topic, m.payload) for m in got]
        if (seen if ordered else sorted(seen)) != (want if ordered else sorted(want)):
            raise AssertionError("client %s: expected %r, got %r"
                                 % (self.c._client_id.decode(), want, seen))
        return got


def _show(msgs, limit=20):
    out = ["%s=%r" % (m.topic, m.payload[:40]) for m in msgs[:limit]]
    return "[" + ", ".join(out) + (", ..." if len(msgs) > limit else "") + "]"


# ---------------------------------------------------------------- the cluster

class Cluster:
    def __init__(self, netns=False, join=True, env=None, node_env=None, log_level="info"):
        self.netns = netns
        self.join = join
        self.extra_env = dict(env or {})
        self.node_env = {int(k): dict(v) for k, v in (node_env or {}).items()}
        self.log_level = log_level
        self.nodes = []
        self.clients = []
        self.procs = []            # helper processes started with exec()
        self.timings = {}
        self.closed = False
        self.network = None
        t0 = time.monotonic()
        if netns:
            Network.check_available()
        self.slot = Slot.acquire(netns)
        self.dir = tempfile.mkdtemp(prefix=DIR_PREFIX)
        self.slot.record_dir(self.dir)
        if netns:
            self.network = Network(self.slot)
            try:
                self.network.create()
            except Exception:
                self.close()
                raise
        self.timings["network_setup"] = time.monotonic() - t0

    # -- nodes
    def node(self, i):
        if not 1 <= i <= len(self.nodes):
            raise IndexError("no node %d: the cluster has n1..n%d" % (i, len(self.nodes)))
        return self.nodes[i - 1]

    def indexes(self, which=None):
        return list(range(1, len(self.nodes) + 1)) if which is None else list(which)

    def add_node(self, start=True, timeout=20.0):
        """Adds node n<k+1> (own namespace with netns) seeded by n1; starts it."""
        i = len(self.nodes) + 1
        t0 = time.monotonic()
        if self.network:
            ns = self.network.add_node(i)
            host = self.network.addr(i)
            mqtt_port, api_port, rpc_port = NETNS_PORTS
        else:
            ns, host = None, "127.0.0.1"
            used = {p for n in self.nodes for p in (n.mqtt_port, n.api_port, n.rpc_port)}
            free = [p for p in self.slot.ports(3 * i) if p not in used]
            mqtt_port, api_port, rpc_port = free[:3]
        if self.network:
            self.timings["network_setup"] += time.monotonic() - t0
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMQX_")}
        seed = self.nodes[0].address if self.nodes else "n1@%s:%d" % (host, rpc_port)
        env.update({
            "EMQX_NODE__NAME": "n%d@%s" % (i, host),
            "EMQX_NODE__DATA_DIR": os.path.join(self.dir, "n%d" % i, "data"),
            "EMQX_LISTENERS__TCP__DEFAULT__BIND": "%s:%d" % (host, mqtt_port),
            "EMQX_DASHBOARD__LISTENERS__HTTP__BIND": "%s:%d" % (host, api_port),
            "EMQX_CLUSTER__RPC__BIND": "%s:%d" % (host, rpc_port),
            "EMQX_LOG__CONSOLE__LEVEL": self.log_level,
            # The cluster's secret: namespace nodes bind non-loopback addresses, which
            # emqxd refuses without one (README.md, "Security model").
            "EMQX_NODE__COOKIE": COOKIE,
            "EMQX_DASHBOARD__DEFAULT_PASSWORD": API_PASSWORD,
        })
        if self.join:
            env["EMQX_CLUSTER__DISCOVERY_STRATEGY"] = "static"
            env["EMQX_CLUSTER__STATIC__SEEDS"] = json.dumps([seed])
        else:
            env["EMQX_CLUSTER__DISCOVERY_STRATEGY"] = "manual"
        env.update(FAST_SWIM)
        env.update(self.extra_env)
        env.update(self.node_env.get(i, {}))
        n = Node(self, i, host, mqtt_port, api_port, rpc_port, ns, env)
        self.nodes.append(n)
        if start:
            n.start(timeout=timeout)
        return n

    # -- the HTTP API
    def status(self, i):
        """GET /api/v5/cluster on node i, parsed."""
        return self.node(i).api("GET", "/api/v5/cluster")

    def routes(self, i, topic):
        """GET /api/v5/routes?topic=... on node i: the "data" list."""
        return self.node(i).api("GET", "/api/v5/routes?topic=" + quote(topic, safe="/"))["data"]

    def wait_members(self, alive=(), dead=(), suspect=(), left=(), absent=(), on=None,
                     timeout=15.0, exact=False):
        """Polls /api/v5/cluster on every node in `on` (default: the nodes expected
        alive, else all) until each lists the nodes in `alive` as alive, `suspect` as
        suspect, `left` as left, `dead` as dead or no longer listed (a node confirmed
        down is removed everywhere), `absent` not at all; with exact=True, no other
        member either. Returns {i: status JSON}."""
        want = {}
        for states, idx in ((("alive",), alive), (("suspect",), suspect), (("left",), left),
                            (("dead", None), dead), ((None,), absent)):
            for i in idx:
                want[self.node(i).name] = states
        on = self.indexes(on if on is not None else (alive or None))
        last = {}

        def check():
            ok = True
            for i in on:
                try:
                    st = self.status(i)
                    members = {m.get("node"): m.get("state") for m in st.get("members", [])}
                    last[i] = st
                except (ApiError, AttributeError, TypeError) as e:
                    last[i] = "error: %s" % e
                    ok = False
                    continue
                for node, states in want.items():
                    if members.get(node) not in states:
                        ok = False
                if exact and set(members) - set(want):
                    ok = False
            return ok, dict(last)

        done, seen, polls, elapsed = poll(check, timeout, 0.1)
        if done:
            return seen
        expected = ", ".join("%s=%s" % (n, "|".join(s or "absent" for s in st))
                             for n, st in want.items())
        raise AssertionError(
            "wait_members: expected on %s within %.1fs: %s%s\nseen after %.1fs (%d polls):\n%s%s"
            % (", ".join(self.node(i).name for i in on), timeout, expected,
               " and no other member" if exact else "", elapsed, polls,
               self._describe(seen), self._api_hint(seen)))

    def wait_routed(self, topic, on=None, via=None, timeout=10.0, present=True):
        """Polls /api/v5/routes?topic= on every node in `on` until each lists `topic`
        routed to node `via` (an index or a list of them), or with present=False until
        none does. Returns {i: route list}."""
        if via is None:
            raise ValueError("wait_routed needs via=<node index>")
        vias = [via] if isinstance(via, int) else list(via)
        names = {self.node(v).name for v in vias}
        on = self.indexes(on)
        last = {}

        def check():
            ok = True
            for i in on:
                try:
                    data = self.routes(i, topic)
                    last[i] = data
                except (ApiError, KeyError, TypeError) as e:
                    last[i] = "error: %s" % e
                    ok = False
                    continue
                have = {r.get("node") for r in data if r.get("topic") == topic}
                if (names <= have) if present else not (names & have):
                    continue
                ok = False
            return ok, dict(last)

        done, seen, polls, elapsed = poll(check, timeout, 0.1)
        if done:
            return seen
        raise AssertionError(
            "wait_routed: expected %r %s via %s on %s within %.1fs\nseen after %.1fs "
            "(%d polls):\n%s%s"
            % (topic, "routed" if present else "not routed", ", ".join(sorted(names)),
               ", ".join(self.node(i).name for i in on), timeout, elapsed, polls,
               self._describe(seen), self._api_hint(seen)))

    def join(self, i, to):
        """POST /api/v5/cluster/join on node i, asking it to join node `to`."""
        return self.node(i).api("POST", "/api/v5/cluster/join", {"node": self.node(to).address})

    def leave(self, i):
        return self.node(i).api("POST", "/api/v5/cluster/leave")

    def force_leave(self, i, gone):
        """POST /api/v5/cluster/force_leave on node i, removing node `gone`."""
        return self.node(i).api("POST", "/api/v5/cluster/force_leave",
                                {"node": self.node(gone).name})

    def cli(self, i, *args, timeout=10.0):
        """Runs `emqxd cluster ARGS --api HOST:PORT --password ...` against node i from the test process;
        returns (exit code, stdout+stderr)."""
        n = self.node(i)
        return run([EMQXD_BIN, "cluster"] + list(args) +
                   ["--api", "%s:%d" % (n.host, n.api_port), "--password", API_PASSWORD],
                   check=False, timeout=timeout)

    def _describe(self, seen):
        lines = []
        for i, v in seen.items():
            text = v if isinstance(v, str) else json.dumps(v, sort_keys=True)
            lines.append("  %s: %s" % (self.node(i).name, text))
        lines.append("")
        for n in self.nodes:
            lines.append(n.log_tail(25))
        return "\n".join(lines)

    @staticmethod
    def _api_hint(seen):
        errors = [v for v in seen.values() if isinstance(v, str)]
        if errors and len(errors) == len(seen) and all(
                "refused" in e or "HTTP 404" in e for e in errors):
            return ("\n(no node serves the cluster API: single nodes without it want "
                    "cluster(n, join=False))")
        return ""

    # -- clients
    def client(self, i, client_id="", version=5, **kw):
        """A paho client connected to node i (version 4 = MQTT 3.1.1, 5 = MQTT 5)."""
        c = Client(self.node(i), client_id, version=version, **kw)
        self.clients.append(c)
        if c.connack is None or c.connack[1] != 0:
            raise AssertionError("client %r on %s: CONNACK %r" % (client_id, self.node(i).name,
                                                                 c.connack))
        return c

    # -- network
    def _need_netns(self, what):
        if not self.network:
            raise AssertionError("%s needs cluster(..., netns=True)" % what)

    def partition(self, *groups, mode="drop"):
        """Cuts traffic between the groups of node indexes (both ways), e.g.
        partition([1], [2, 3]); replaces any partition in place. See Network.partition."""
        self._need_netns("partition")
        seen = [i for g in groups for i in g]
        if len(seen) != len(set(seen)) or len(groups) < 2:
            raise ValueError("partition wants two or more disjoint groups, got %r" % (groups,))
        for i in seen:
            self.node(i)
        self.network.partition([list(g) for g in groups], mode)

    def heal(self):
        self._need_netns("heal")
        self.network.heal()

    def exec(self, i, argv, **kw):
        """Starts argv inside node i's namespace (plain on loopback); killed at close()."""
        if self.network:
            argv = ["ip", "netns", "exec", self.network.ns(i)] + list(argv)
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.slot.record(p.pid, "exec")
        self.procs.append(p)
        return p

    def _target(self, to, port):
        n = self.node(to)
        return n.host, {"mqtt": n.mqtt_port, "api": n.api_port, "rpc": n.rpc_port}.get(port, port)

    def can_connect(self, frm, to, port="mqtt", timeout=1.0):
        """One TCP connect from inside node `frm`'s namespace to node `to`'s port
        ("mqtt", "api", "rpc" or a number). Returns netprobe's JSON: ok, error, errno,
        seconds."""
        host, p = self._target(to, port)
        proc = self.exec(frm, [PYTHON, NETPROBE, "connect", host, str(p), str(timeout)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate(timeout=timeout + 10)
        try:
            return json.loads(out)
        except ValueError:
            raise AssertionError("netprobe failed (%s): %s %s" % (proc.returncode, out, err))

    def hold(self, frm, to, timeout=3.0):
        """An MQTT connection from inside node `frm`'s namespace to node `to` that stays
        open (netprobe hold): .ping() sends PINGREQ, .wait(n, t) waits for the n-th
        PINGRESP. Shows what a partition does to established connections."""
        host, p = self._target(to, "mqtt")
        proc = self.exec(frm, [PYTHON, NETPROBE, "hold", host, str(p), str(timeout)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        return Held(proc, timeout)

    # -- teardown
    def close(self, show_logs=False):
        """Stops clients, nodes (SIGTERM, then SIGKILL) and helper processes, deletes the
        namespaces and the root veth, releases the slot, removes the data dirs (kept
        with EMQXD_KEEP_TEST_DIRS). Idempotent. Returns a list of problems: a node that
        died on its own, a node that did not exit 0 on SIGTERM, anything left behind."""
        if self.closed:
            return []
        self.closed = True
        t0 = time.monotonic()
        problems = []
        for c in self.clients:
            # Shut the socket down first: paho's loop then sees the connection end at
            # once instead of at its next 1 s select timeout.
            try:
                s = c.c.socket()
                if s is not None:
                    s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.c.loop_stop()
                s = c.c.socket()
                if s is not None:
                    s.close()
            except Exception:
                pass
        for n in self.nodes:
            if n.proc is not None and not n.alive() and not n.expected_down:
                n.exits.append(("died", n.proc.returncode))
                hint = ""
                if n.proc.returncode == 0 and "signal 15 received" in n.log_tail(5):
                    hint = (" after a SIGTERM the harness did not send: something else on "
                            "this machine signalled it (pkill -f 'emqxd start'?)")
                problems.append("%s died during the test (exit %s)%s:\n%s"
                                % (n.name, n.proc.returncode, hint, n.log_tail()))
        running = [n for n in self.nodes if n.alive()]
        for n in running:
            n.expected_down = True
            n.proc.send_signal(signal.SIGTERM)
        for n in running:
            try:
                rc = n.proc.wait(10)
                n.exits.append(("SIGTERM", rc))
                if rc != 0:
                    problems.append("%s exited with %s on SIGTERM:\n%s"
                                    % (n.name, rc, n.log_tail()))
            except subprocess.TimeoutExpired:
                os.killpg(n.proc.pid, signal.SIGKILL)
                n.proc.wait(5)
                problems.append("%s did not exit within 10s of SIGTERM:\n%s"
                                % (n.name, n.log_tail()))
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                problems.append("helper process %d did not die" % p.pid)
        if show_logs:
            for n in self.nodes:
                sys.stderr.write(n.log_tail(80) + "\n")
        t1 = time.monotonic()
        self.timings["processes_teardown"] = t1 - t0
        if self.network:
            problems += self.network.destroy()
            left = self.network.leftovers()
            if left:
                problems.append("left behind: %s" % ", ".join(left))
        self.timings["network_teardown"] = time.monotonic() - t1
        self.slot.release()
        if not os.environ.get("EMQXD_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)
        return problems

    def leftovers(self):
        """Processes, namespaces and veths of this cluster that still exist."""
        left = []
        for n in self.nodes:
            if n.alive():
                left.append("node %s pid %d" % (n.name, n.pid))
        for p in self.procs:
            if p.poll() is None:
                left.append("helper pid %d" % p.pid)
        if self.network:
            left += self.network.leftovers()
        return left


class Held:
    """The test's end of a netprobe `hold` connection (see Cluster.hold)."""

    def __init__(self, proc, timeout):
        self.proc = proc
        line = self._line(timeout + 5)
        if not line.get("connected"):
            raise AssertionError("netprobe hold did not connect: %r" % line)

    def _line(self, timeout):
        box = {}
        t = threading.Thread(target=lambda: box.setdefault("line", self.proc.stdout.readline()),
                             daemon=True)
        t.start()
        t.join(timeout)
        if "line" not in box or not box["line"]:
            raise AssertionError("netprobe hold: no answer within %.1fs (exit %s)"
                                 % (timeout, self.proc.poll()))
        return json.loads(box["line"])

    def _send(self, cmd, timeout):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self._line(timeout)

    def ping(self):
        return self._send("ping", 5.0)

    def wait(self, n, timeout):
        """True when n PINGRESPs in all have come within `timeout` seconds."""
        return self._send("wait %d %f" % (n, timeout), timeout + 5.0)["ok"]

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except OSError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def start_cluster(n, netns=False, join=True, env=None, node_env=None, timeout=30.0,
                  log_level="info"):
    """Starts n nodes (in parallel) and waits until each is ready and, with join=True,
    until every node's /api/v5/cluster lists all n alive. Cleans up what it made when
    anything fails."""
    c = Cluster(netns=netns, join=join, env=env, node_env=node_env, log_level=log_level)
    try:
        t0 = time.monotonic()
        for _ in range(n):
            c.add_node(start=False)
        for node in c.nodes:
            node.start(wait=False)
        wait_ready(c.nodes, timeout)
        c.timings["nodes_ready"] = time.monotonic() - t0
        if join:
            c.wait_members(alive=c.indexes(), timeout=timeout)
            c.timings["members_alive"] = time.monotonic() - t0
        return c
    except BaseException:
        c.close()
        raise
