"""Real database servers for the authentication and authorization tests
(test_authn_db.py): PostgreSQL 15, MariaDB and Redis, each on a free loopback port with a
throw-away data directory, started as a child process and stopped by PID.

The tests run as root: postgres refuses to, so it runs as the `postgres` system user
(Debian's package creates it) through Popen(user=...), which keeps the PID its own;
mariadbd runs with --user=root. `missing()` names the binary a server needs when it is
not installed (scripts/install-deps.sh --test installs them all)."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from ports import free_port

PG_BIN = "/usr/lib/postgresql/15/bin"


def _wait_port(port, proc, what, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("%s exited with %s" % (what, proc.returncode))
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s did not listen on %d within %d s" % (what, port, timeout))


def _stop(proc, sig=signal.SIGTERM, timeout=30):
    if proc is None or proc.poll() is not None:
        return
    try:
        _signal_family(proc.pid, signal.SIGCONT)  # in case a test froze it
        os.kill(proc.pid, sig)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _signal_family(pid, sig):
    for p in _family(pid):
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass  # a connection's backend that ended since it was listed


def _state(pid):
    """The process's state letter (/proc/<pid>/stat), None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _family(pid):
    """pid and its descendants (postgres forks a process per connection)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class Server:
    proc = None
    log = None
    dir = None
    STOP_SIGNAL = signal.SIGTERM

    def __init__(self):
        try:
            self._start()
        except BaseException:
            self.close()  # a set-up that failed half-way leaves no server behind
            raise

    def stop(self):
        _stop(self.proc, self.STOP_SIGNAL)

    def close(self):
        self.stop()
        if self.log is not None:
            self.log.close()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)

    def freeze(self):
        """SIGSTOP: the server keeps its sockets and answers nothing (a slow server).
        Returns once every process of it is stopped: a signal is delivered when the
        kernel next schedules the process, and a loaded machine may let a query through
        first."""
        _signal_family(self.proc.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = [_state(p) for p in _family(self.proc.pid)]
            if all(st in ("T", "t", "Z", None) for st in states):
                return
            time.sleep(0.01)
        raise RuntimeError("%s did not stop within 5 s" % type(self).__name__)

    def thaw(self):
        _signal_family(self.proc.pid, signal.SIGCONT)


class Postgres(Server):
    """`tls`: a directory with server.pem, server.key (test_listeners.pki): the server then
    takes TCP clients over TLS only (hostssl)."""
    USER, PASSWORD, DB = "emqx", "emqx-pg-pw", "mqtt"

    def __init__(self, tls=None):
        self.tls = tls
        super().__init__()

    @staticmethod
    def missing():
        for b in ("initdb", "postgres"):
            if not os.access(os.path.join(PG_BIN, b), os.X_OK):
                return os.path.join(PG_BIN, b)
        return None if shutil.which("psql") else "psql"

    STOP_SIGNAL = signal.SIGINT  # fast shutdown: clients are disconnected

    def _start(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-pg-")
        pw = pwd.getpwnam("postgres")
        os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.as_pg = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        subprocess.run([os.path.join(PG_BIN, "initdb"), "-D", self.data, "-U", "postgres",
                        "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
                        "-E", "UTF8"], check=True, capture_output=True, cwd=self.dir,
                       **self.as_pg)
        self.log = open(os.path.join(self.dir, "postgres.log"), "wb")
        self.tls_args = []
        if self.tls:
            for name in ("server.pem", "server.key"):
                dst = os.path.join(self.dir, name)
                shutil.copy(os.path.join(self.tls, name), dst)
                os.chown(dst, pw.pw_uid, pw.pw_gid)
                os.chmod(dst, 0o600)
            with open(os.path.join(self.data, "pg_hba.conf"), "w") as f:
                f.write("local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
            self.tls_args = ["-c", "ssl=on", "-c", "ssl_cert_file=" + os.path.join(self.dir, "server.pem"),
                             "-c", "ssl_key_file=" + os.path.join(self.dir, "server.key")]
        self._run()
        self.sql("CREATE ROLE %s LOGIN PASSWORD '%s'" % (self.USER, self.PASSWORD), db="postgres")
        self.sql("CREATE DATABASE %s OWNER %s" % (self.DB, self.USER), db="postgres")

    def _run(self):
        self.proc = subprocess.Popen(
            [os.path.join(PG_BIN, "postgres"), "-D", self.data, "-p", str(self.port),
             "-k", self.sock, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "shared_buffers=16MB"] + self.tls_args,
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir, **self.as_pg)
        _wait_port(self.port, self.proc, "postgres")

    def start_again(self):
        """After stop(): the same server again, its data and port (an outage ends)."""
        self._run()

    def sql(self, text, db=None):
        """Runs SQL as the superuser over the Unix socket."""
        deadline = time.monotonic() + 20
        while True:  # the socket may trail the TCP port by a moment
            r = subprocess.run(["psql", "-h", self.sock, "-p", str(self.port), "-U", "postgres",
                                "-d", db or self.DB, "-v", "ON_ERROR_STOP=1", "-q", "-c", text],
                               capture_output=True, text=True, cwd=self.dir, **self.as_pg)
            if r.returncode == 0 or time.monotonic() > deadline or "starting up" not in r.stderr:
                break
            time.sleep(0.1)
        assert r.returncode == 0, r.stderr
        return r.stdout



class Mariadb(Server):
    """`tls`: as Postgres's; TCP clients must then use TLS (require_secure_transport)."""
    USER, PASSWORD, DB = "emqx", "emqx-my-pw", "mqtt"

    def __init__(self, tls=None):
        self.tls = tls
        super().__init__()

    @staticmethod
    def missing():
        for b in ("mariadb-install-db", "mariadbd", "mariadb"):
            if not (shutil.which(b) or os.access("/usr/sbin/" + b, os.X_OK)):
                return b
        return None

    def _start(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-my-")
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "mysqld.sock")
        subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + self.data,
                        "--user=root", "--auth-root-authentication-method=normal",
                        "--skip-test-db", "--skip-name-resolve"],
                       check=True, capture_output=True, cwd=self.dir)
        init = os.path.join(self.dir, "init.sql")
        with open(init, "w") as f:
            f.write("CREATE DATABASE IF NOT EXISTS %s;\n"
                    "CREATE USER IF NOT EXISTS '%s'@'%%' IDENTIFIED BY '%s';\n"
                    "GRANT ALL ON %s.* TO '%s'@'%%';\n"
                    % (self.DB, self.USER, self.PASSWORD, self.DB, self.USER))
        mariadbd = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        self.log = open(os.path.join(self.dir, "mariadb.log"), "wb")
        self.proc = subprocess.Popen(
            [mariadbd, "--no-defaults", "--datadir=" + self.data, "--user=root",
             "--port=%d" % self.port, "--bind-address=127.0.0.1", "--socket=" + self.sock,
             "--pid-file=" + os.path.join(self.dir, "mariadb.pid"), "--init-file=" + init,
             "--skip-name-resolve", "--skip-log-bin", "--innodb-buffer-pool-size=16M",
             "--innodb-log-file-size=8M", "--log-error=" + os.path.join(self.dir, "error.log")]
            + (["--ssl-cert=" + os.path.join(self.tls, "server.pem"),
                "--ssl-key=" + os.path.join(self.tls, "server.key"),
                "--ssl-ca=" + os.path.join(self.tls, "ca.pem"),
                "--require-secure-transport=ON"] if self.tls else []),
            stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        _wait_port(self.port, self.proc, "mariadbd")

    def sql(self, text):
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.sock, "-u", "root",
                            self.DB, "-e", text], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        return r.stdout



class Redis(Server):
    PASSWORD = "emqx-redis-pw"

    @staticmethod
    def missing():
        for b in ("redis-server", "redis-cli"):
            if not shutil.which(b):
                return b
        return None

    def _start(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-redis-")
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
             "--save", "", "--appendonly", "no", "--requirepass", self.PASSWORD,
             "--daemonize", "no"], stdout=self.log, stderr=subprocess.STDOUT, cwd=self.dir)
        _wait_port(self.port, self.proc, "redis-server")

    def cmd(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port), "-a", self.PASSWORD,
                            "--no-auth-warning"] + list(args), capture_output=True, text=True)
        assert r.returncode == 0 and not r.stdout.startswith("(error)"), r.stdout + r.stderr
        return r.stdout



def _redis_server(port, dir, log, *extra):
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", dir,
         "--save", "", "--appendonly", "no", "--daemonize", "no"] + list(extra),
        stdout=log, stderr=subprocess.STDOUT, cwd=dir)


def _redis_cli(port, *args, password=None, cluster=False):
    argv = ["redis-cli", "-p", str(port)]
    if cluster:
        argv.append("-c")
    if password:
        argv += ["-a", password, "--no-auth-warning"]
    r = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and not r.stdout.startswith("(error)"), r.stdout + r.stderr
    return r.stdout


class RedisSentinel(Server):
    """A master, its replica and one sentinel (quorum 1) watching them as `mymaster`: what
    EMQX's redis_type = sentinel connects to. The servers ask for a password; the sentinel
    does not (it knows the master's, auth-pass). failover() promotes the replica."""
    PASSWORD = Redis.PASSWORD
    NAME = "mymaster"

    missing = staticmethod(Redis.missing)
    procs = ()

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="emqxd-redis-sentinel-")
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")
        self.master_port, self.replica_port, self.port = free_port(), free_port(), free_port()
        auth = ("--requirepass", self.PASSWORD, "--masterauth", self.PASSWORD)
        self.procs = [_redis_server(self.master_port, self.dir, self.log, *auth)]
        _wait_port(self.master_port, self.procs[0], "redis master")
        rdir = os.path.join(self.dir, "replica")
        os.mkdir(rdir)
        self.procs.append(_redis_server(self.replica_port, rdir, self.log, *auth,
                                        "--replicaof", "127.0.0.1", str(self.master_port)))
        _wait_port(self.replica_port, self.procs[1], "redis replica")
        conf = os.path.join(self.dir, "sentinel.conf")
        with open(conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndir %s\n"
                    "sentinel monitor %s 127.0.0.1 %d 1\n"
                    "sentinel auth-pass %s %s\n"
                    "sentinel down-after-milliseconds %s 2000\n"
                    "sentinel failover-timeout %s 10000\n"
                    % (self.port, self.dir, self.NAME, self.master_port, self.NAME,
                       self.PASSWORD, self.NAME, self.NAME))
        self.procs.append(subprocess.Popen(["redis-server", conf, "--sentinel"],
                                           stdout=self.log, stderr=subprocess.STDOUT,
                                           cwd=self.dir))
        self.proc = self.procs[-1]
        _wait_port(self.port, self.proc, "redis sentinel")
        # The sentinel knows the replica once the master told it (INFO, every 10 s at
        # first) and the replica has synced: until then no failover could happen.
        self._until(lambda: "slaves=1" in _redis_cli(self.port, "INFO", "sentinel") and
                    "master_link_status:up" in self.node_cmd(self.replica_port, "INFO",
                                                             "replication"),
                    60, "the sentinel to see a synced replica")

    def _until(self, cond, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.2)
        raise RuntimeError("waited %d s for %s" % (timeout, what))

    def master(self):
        """The master's port, as the sentinel says."""
        out = _redis_cli(self.port, "SENTINEL", "get-master-addr-by-name", self.NAME)
        return int(out.split()[1])

    def node_cmd(self, port, *args):
        return _redis_cli(port, *args, password=self.PASSWORD)

    def cmd(self, *args):
        """A command to the master."""
        return self.node_cmd(self.master_port, *args)

    def failover(self):
        """The replica becomes the master; returns once both servers agree."""
        old, new = self.master_port, self.replica_port
        _redis_cli(self.port, "SENTINEL", "failover", self.NAME)
        self._until(lambda: self.master() == new and
                    self.node_cmd(new, "ROLE").split()[0] == "master" and
                    self.node_cmd(old, "ROLE").split()[0] == "slave", 60, "the failover")
        self.master_port, self.replica_port = new, old

    def stop(self):
        for p in reversed(self.procs):
            _stop(p)


class RedisCluster(Server):
    """A Redis Cluster of three masters (no replicas), password on: what EMQX's
    redis_type = cluster connects to. Each node's cluster bus is its port + 10000."""
    PASSWORD = Redis.PASSWORD
    missing = staticmethod(Redis.missing)
    procs = ()

    @staticmethod
    def _port_pair():
        for _ in range(200):
            p = free_port()
            if p + 10000 < 65536:
                try:
                    with socket.socket() as s:
                        s.bind(("127.0.0.1", p + 10000))
                    return p
                except OSError:
                    pass
        raise RuntimeError("no free port pair for a cluster node")

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="emqxd-redis-cluster-")
        self.log = open(os.path.join(self.dir, "redis.log"), "wb")
        self.ports = []
        self.procs = []
        for i in range(3):
            port = self._port_pair()
            d = os.path.join(self.dir, str(i))
            os.mkdir(d)
            self.procs.append(_redis_server(
                port, d, self.log, "--cluster-enabled", "yes", "--cluster-config-file",
                "nodes.conf", "--requirepass", self.PASSWORD, "--masterauth", self.PASSWORD))
            self.ports.append(port)
        for port, proc in zip(self.ports, self.procs):
            _wait_port(port, proc, "redis cluster node")
        self.proc = self.procs[0]
        _redis_cli(self.ports[0], "--cluster", "create",
                   *["127.0.0.1:%d" % p for p in self.ports],
                   "--cluster-replicas", "0", "--cluster-yes", password=self.PASSWORD)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all("cluster_state:ok" in self.node_cmd(p, "CLUSTER", "INFO") for p in self.ports):
                return
            time.sleep(0.2)
        raise RuntimeError("the redis cluster did not become ok within 60 s")

    def node_cmd(self, port, *args):
        return _redis_cli(port, *args, password=self.PASSWORD)

    def cmd(self, *args):
        """A command sent where its key lives (redis-cli -c follows MOVED)."""
        return _redis_cli(self.ports[0], *args, password=self.PASSWORD, cluster=True)

    def stop(self):
        for p in reversed(self.procs):
            _stop(p)


class Influxdb(Server):
    """InfluxDB 1.x with authentication on: an admin user (the test's) and a database."""
    USER, PASSWORD, DB = "emqx", "emqx-influx-pw", "mqtt"

    @staticmethod
    def missing():
        return None if shutil.which("influxd") else "influxd"

    def _start(self):
        self.port = free_port()
        self.rpc_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-influx-")
        self.conf = os.path.join(self.dir, "influxdb.conf")
        with open(self.conf, "w") as f:
            f.write("""reporting-disabled = true
bind-address = "127.0.0.1:%d"
[meta]
  dir = "%s/meta"
[data]
  dir = "%s/data"
  wal-dir = "%s/wal"
  query-log-enabled = false
[http]
  bind-address = "127.0.0.1:%d"
  auth-enabled = true
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
""" % (self.rpc_port, self.dir, self.dir, self.dir, self.port))
        self.log = open(os.path.join(self.dir, "influxd.log"), "wb")
        self._run()
        # With no user yet, InfluxDB takes this one request without credentials.
        self.query("CREATE USER %s WITH PASSWORD '%s' WITH ALL PRIVILEGES"
                   % (self.USER, self.PASSWORD), auth=False)
        self.query("CREATE DATABASE %s" % self.DB)

    def _run(self):
        self.proc = subprocess.Popen(["influxd", "-config", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT, cwd=self.dir)
        _wait_port(self.port, self.proc, "influxd")

    def start_again(self):
        """After stop(): the same server again, its data and port (an outage ends)."""
        self._run()

    def query(self, q, auth=True, db=None):
        """InfluxQL over the HTTP API; the JSON answer's first result."""
        import base64
        import json
        import urllib.parse
        import urllib.request
        params = {"q": q, "epoch": "ms"}
        if db:
            params["db"] = db
        req = urllib.request.Request("http://127.0.0.1:%d/query?%s"
                                     % (self.port, urllib.parse.urlencode(params)),
                                     method="POST")
        if auth:
            token = base64.b64encode(("%s:%s" % (self.USER, self.PASSWORD)).encode()).decode()
            req.add_header("Authorization", "Basic " + token)
        with urllib.request.urlopen(req, timeout=10) as r:
            doc = json.loads(r.read())
        result = doc["results"][0]
        assert "error" not in result, result
        return result

    def points(self, measurement):
        """Every point of `measurement` as dicts of column: value, oldest first."""
        result = self.query('SELECT * FROM "%s"' % measurement.replace('"', '\\"'), db=self.DB)
        out = []
        for s in result.get("series", []):
            for row in s["values"]:
                out.append(dict(zip(s["columns"], row)))
        return out

    def field_types(self, measurement):
        result = self.query('SHOW FIELD KEYS FROM "%s"' % measurement, db=self.DB)
        return {k: t for s in result.get("series", []) for k, t in s["values"]}


class Rabbitmq(Server):
    """RabbitMQ on a free loopback port, with its own epmd (Erlang's port mapper, also on
    loopback and a free port, stopped by PID with it) and a user of the test's; no plugins."""
    USER, PASSWORD = "emqx", "emqx-rabbit-pw"
    BIN = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self, tls=None):
        """`tls`: a directory with ca.pem, server.pem, server.key (pki.make_pki): a TLS
        listener too, on tls_port."""
        self.tls = tls
        self.tls_port = None
        super().__init__()

    @staticmethod
    def missing():
        if not os.access(Rabbitmq.BIN, os.X_OK):
            return Rabbitmq.BIN
        if not shutil.which("epmd"):
            return "epmd"
        try:
            import pika  # noqa: F401
        except ImportError:
            return "python3-pika"
        return None

    def _start(self):
        self.port = free_port()
        self.epmd_port = free_port()
        self.dist_port = free_port()
        self.dir = tempfile.mkdtemp(prefix="emqxd-rabbit-")
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp.default = 127.0.0.1:%d\n" % self.port)
            f.write("default_user = %s\ndefault_pass = %s\n" % (self.USER, self.PASSWORD))
            f.write("loopback_users = none\n")
            if self.tls:
                self.tls_port = free_port()
                f.write("listeners.ssl.default = 127.0.0.1:%d\n" % self.tls_port)
                for k, name in (("cacertfile", "ca.pem"), ("certfile", "server.pem"),
                                ("keyfile", "server.key")):
                    f.write("ssl_options.%s = %s\n" % (k, os.path.join(self.tls, name)))
                f.write("ssl_options.verify = verify_none\n"
                        "ssl_options.fail_if_no_peer_cert = false\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        self.log = open(os.path.join(self.dir, "rabbitmq.log"), "wb")
        self.env = dict(
            os.environ, HOME=self.dir, ERL_EPMD_PORT=str(self.epmd_port),
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_NODENAME="rabbit%d@localhost" % self.port,
            RABBITMQ_DIST_PORT=str(self.dist_port),
            RABBITMQ_CONFIG_FILE=os.path.join(self.dir, "rabbitmq"),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(self.dir, "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=os.path.join(self.dir, "mnesia"),
            RABBITMQ_LOG_BASE=os.path.join(self.dir, "log"),
            RABBITMQ_PID_FILE=os.path.join(self.dir, "rabbit.pid"),
            RABBITMQ_LOGS="-",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}")
        self.epmd = subprocess.Popen(["epmd", "-port", str(self.epmd_port), "-address",
                                      "127.0.0.1"], stdout=self.log, stderr=subprocess.STDOUT,
                                     env=self.env)
        _wait_port(self.epmd_port, self.epmd, "epmd")
        self._run()

    def _run(self):
        self.proc = subprocess.Popen([self.BIN], stdout=self.log, stderr=subprocess.STDOUT,
                                     cwd=self.dir, env=self.env)
        _wait_port(self.port, self.proc, "rabbitmq-server", timeout=120)

    def start_again(self):
        """After stop(): the same server again, its data and port (an outage ends)."""
        self._run()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            family = _family(self.proc.pid)
            _stop(self.proc, self.STOP_SIGNAL, timeout=60)
            for p in family:  # erl_child_setup and friends, if any were left
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def close(self):
        super().close()
        _stop(getattr(self, "epmd", None))

    def channel(self):
        """A pika channel of the test's own (a real AMQP client)."""
        import pika
        params = pika.ConnectionParameters(
            "127.0.0.1", self.port, "/", pika.PlainCredentials(self.USER, self.PASSWORD),
            # The server opens its port a moment before it speaks AMQP (more than 1.5 s
            # on a loaded machine: the handshake met EOF once in the full suite).
            connection_attempts=20, retry_delay=0.5)
        conn = pika.BlockingConnection(params)
        return conn, conn.channel()

    def bound_queue(self, exchange, routing_key, queue, durable=False):
        conn, ch = self.channel()
        try:
            ch.exchange_declare(exchange, "direct", durable=durable)
            ch.queue_declare(queue, durable=durable)
            ch.queue_bind(queue, exchange, routing_key)
        finally:
            conn.close()

    def take(self, queue, n, timeout=20):
        """Up to n messages from `queue` within `timeout`: (body, properties, routing key)."""
        import time as _time
        conn, ch = self.channel()
        out = []
        try:
            deadline = _time.monotonic() + timeout
            while len(out) < n and _time.monotonic() < deadline:
                method, props, body = ch.basic_get(queue, auto_ack=True)
                if method is None:
                    _time.sleep(0.05)
                    continue
                out.append((body, props, method.routing_key))
        finally:
            conn.close()
        return out
