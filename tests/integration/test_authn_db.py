"""Authentication and authorization backed by a real PostgreSQL, MariaDB and Redis
(`backend = postgresql | mysql | redis`, `authorization.sources = [{type = ...}]`;
auth/db/db_auth.hpp), each started by db_servers.py on a free port.

For each database: a right, a wrong and an unknown user (MQTT 3.1.1 and 5 codes), a
superuser, sha256 with a salt and bcrypt, usernames that would inject SQL (or split a
Redis command) if placeholders were pasted into the query, the rules of a client from
the database (a denied subscribe gets 0x87 / 0x80, a denied publish is not delivered, new
rules are fetched after authorization.cache.ttl), and the server stopped or frozen: the
chain goes on within query_timeout and the node keeps serving the others."""
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # bcrypt hashes; deprecated in Python 3.11, present in Debian 12's
import hashlib
import os
import time

import pytest

import mqttc
from conftest import wait_for
from db_servers import Mariadb, Postgres, Redis, RedisCluster, RedisSentinel
from pki import make_pki

BACKENDS = ["postgresql", "mysql", "redis"]
SALT = "s4lt"
USERS = [("alice", "alice-pw", False), ("root", "root-pw", True), ("o'brien", "obrien-pw", False)]
BCRYPT_USERS = [("bob", "bob-pw")]
# (username, permission, action, topic): SQL rows; Redis keeps the allow ones only.
RULES = [("alice", "deny", "all", "t/secret"), ("alice", "allow", "all", "t/ok"),
         ("alice", "allow", "subscribe", "t/sub/#")]


def sha256_suffix(pw):
    return hashlib.sha256((pw + SALT).encode()).hexdigest()


def bcrypt_hash(pw):
    return crypt.crypt(pw, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=32))


def q(s):
    return s.replace("'", "''")


class SqlBackend:
    """PostgreSQL or MariaDB with EMQX's example tables."""

    def __init__(self, kind, server, pki=None):
        self.kind = kind
        self.server = server
        self.pki = pki  # the server takes TLS only; the clients check its certificate
        text = "varchar(100)"
        boolean = "boolean" if kind == "postgresql" else "tinyint(1)"
        stmts = [
            "CREATE TABLE mqtt_user (username %s PRIMARY KEY, password_hash %s, salt %s,"
            " is_superuser %s DEFAULT false)" % (text, text, text, boolean),
            "CREATE TABLE mqtt_user_bcrypt (username %s PRIMARY KEY, password_hash %s)"
            % (text, text),
            "CREATE TABLE mqtt_acl (username %s, permission %s, action %s, topic %s, qos int,"
            " retain int, id int)" % (text, text, text, text),
        ]
        for u, pw, su in USERS:
            stmts.append("INSERT INTO mqtt_user VALUES ('%s', '%s', '%s', %s)"
                         % (q(u), sha256_suffix(pw), SALT, "true" if su else "false"))
        for u, pw in BCRYPT_USERS:
            stmts.append("INSERT INTO mqtt_user_bcrypt VALUES ('%s', '%s')" % (u, bcrypt_hash(pw)))
        for i, (u, perm, action, topic) in enumerate(RULES):
            stmts.append("INSERT INTO mqtt_acl VALUES ('%s', '%s', '%s', '%s', NULL, NULL, %d)"
                         % (u, perm, action, topic, i))
        if kind == "postgresql":
            stmts.append("GRANT SELECT ON ALL TABLES IN SCHEMA public TO %s" % Postgres.USER)
        self.server.sql("; ".join(stmts) + ";")

    def conn(self, timeout="2s"):
        s = self.server
        tls = ""
        if self.pki:
            tls = (', ssl {enable = true, verify = verify_peer, cacertfile = "%s"}'
                   % os.path.join(self.pki, "ca.pem"))
        return ('server = "127.0.0.1:%d", database = %s, username = %s, password = "%s",'
                ' pool_size = 2, query_timeout = %s%s'
                % (s.port, s.DB, s.USER, s.PASSWORD, timeout, tls))

    def authn(self, timeout="2s"):
        return ('{mechanism = password_based, backend = %s, %s,'
                ' query = "SELECT password_hash, salt, is_superuser FROM mqtt_user'
                ' WHERE username = ${username} LIMIT 1",'
                ' password_hash_algorithm {name = sha256, salt_position = suffix}}'
                % (self.kind, self.conn(timeout)))

    def authn_bcrypt(self):
        return ('{mechanism = password_based, backend = %s, %s,'
                ' query = "SELECT password_hash FROM mqtt_user_bcrypt WHERE username = ${username}",'
                ' password_hash_algorithm {name = bcrypt}}' % (self.kind, self.conn()))

    def authz(self, timeout="2s"):
        return ('{type = %s, %s, query = "SELECT permission, action, topic, qos, retain'
                ' FROM mqtt_acl WHERE username = ${username} ORDER BY id"}'
                % (self.kind, self.conn(timeout)))

    def allow(self, user, action, topic):
        self.server.sql("INSERT INTO mqtt_acl VALUES ('%s', 'allow', '%s', '%s', NULL, NULL, 99);"
                        % (user, action, topic))


class RedisBackend:
    kind = "redis"

    def __init__(self, server):
        self.server = server
        for u, pw, su in USERS:
            self.server.cmd("HSET", "mqtt_user:" + u, "password_hash", sha256_suffix(pw),
                            "salt", SALT, "is_superuser", "1" if su else "0")
        for u, pw in BCRYPT_USERS:
            self.server.cmd("HSET", "mqtt_user_bc:" + u, "password_hash", bcrypt_hash(pw))
        for u, perm, action, topic in RULES:
            if perm == "allow":
                self.server.cmd("HSET", "mqtt_acl:" + u, topic, action)

    def conn(self, timeout="2s"):
        if isinstance(self.server, RedisSentinel):
            where = 'redis_type = sentinel, servers = "127.0.0.1:%d", sentinel = %s, database = 0' \
                % (self.server.port, RedisSentinel.NAME)
        elif isinstance(self.server, RedisCluster):
            where = 'redis_type = cluster, servers = "%s"' % ",".join(
                "127.0.0.1:%d" % p for p in self.server.ports[:2])
        else:
            where = 'redis_type = single, server = "127.0.0.1:%d", database = 0' % self.server.port
        return ('%s, password = "%s", pool_size = 2, query_timeout = %s'
                % (where, Redis.PASSWORD, timeout))

    def authn(self, timeout="2s"):
        return ('{mechanism = password_based, backend = redis, %s,'
                ' cmd = "HMGET mqtt_user:${username} password_hash salt is_superuser",'
                ' password_hash_algorithm {name = sha256, salt_position = suffix}}'
                % self.conn(timeout))

    def authn_bcrypt(self):
        return ('{mechanism = password_based, backend = redis, %s,'
                ' cmd = "HMGET mqtt_user_bc:${username} password_hash",'
                ' password_hash_algorithm {name = bcrypt}}' % self.conn())

    def authz(self, timeout="2s"):
        return '{type = redis, %s, cmd = "HGETALL mqtt_acl:${username}"}' % self.conn(timeout)

    def allow(self, user, action, topic):
        self.server.cmd("HSET", "mqtt_acl:" + user, topic, action)


def make_backend(kind, tmp_dir=None):
    cls = {"postgresql": Postgres, "mysql": Mariadb, "redis": Redis,
           "redis-sentinel": RedisSentinel, "redis-cluster": RedisCluster,
           "postgresql-tls": Postgres, "mysql-tls": Mariadb}[kind]
    missing = cls.missing()
    if missing:
        pytest.skip("%s is not installed (scripts/install-deps.sh --test installs it)" % missing)
    pki = make_pki(tmp_dir) if kind.endswith("-tls") else None
    server = cls(tls=pki) if pki else cls()
    try:
        if kind.startswith("redis"):
            return RedisBackend(server)
        return SqlBackend(kind.replace("-tls", ""), server, pki)
    except BaseException:
        server.close()  # the tables could not be made: no server left behind
        raise


# Redis's other deployments (EMQX's redis_type) answer the same commands, and PostgreSQL
# and MariaDB over TLS (the server refuses anything else) the same queries: every test of
# the shared server runs on them too.
@pytest.fixture(scope="module",
                params=BACKENDS + ["redis-sentinel", "redis-cluster", "postgresql-tls", "mysql-tls"])
def backend(request, tmp_path_factory):
    b = make_backend(request.param, str(tmp_path_factory.mktemp("pki")))
    yield b
    b.server.close()


@pytest.fixture(params=BACKENDS)
def own_backend(request):
    """A server of its own, for a test that stops it."""
    b = make_backend(request.param)
    yield b
    b.server.close()


def code(connack):
    rc = connack[1]
    return rc.value if hasattr(rc, "value") else int(rc)


def connect(broker, version, client_id, username=None, password=None):
    c = mqttc.Client(broker, client_id, version=version, username=username, password=password,
                     connect=False)
    return c, code(c.connect(timeout=10))


def granted(suback):
    g = suback[0]
    return g.value if hasattr(g, "value") else int(g)


def broker_with(make_broker, chain, sources=(), extra=""):
    text = "authentication = [%s]\n" % ",\n".join(chain)
    text += ("authorization { no_match = deny, cache { ttl = 1s }, sources = [%s] }\n%s"
             % (",\n".join(sources), extra))
    return make_broker(config_text=text)


@pytest.mark.parametrize("version", [mqttc.V311, mqttc.V5])
def test_right_wrong_unknown_and_superuser(make_broker, backend, version, tmp_path):
    b = broker_with(make_broker, [backend.authn()], ['{type = file, path = "%s"}' % acl(tmp_path)])
    v5 = version == mqttc.V5
    c, rc = connect(b, version, "a1", "alice", "alice-pw")
    assert rc == 0
    c.subscribe("file/x", qos=1)
    c.publish("file/x", b"hi", qos=1)
    assert c.wait_messages(1)[0].payload == b"hi"
    assert connect(b, version, "a2", "alice", "wrong")[1] == (0x86 if v5 else 4)
    assert connect(b, version, "a3", "alice")[1] == (0x86 if v5 else 4)  # no password
    assert connect(b, version, "a4", "mallory", "x")[1] == (0x87 if v5 else 5)
    r, rc = connect(b, version, "r1", "root", "root-pw")
    assert rc == 0
    # The superuser may subscribe where alice may not (no rule: no_match = deny).
    assert granted(r.subscribe("t/secret", qos=1)) == 1
    assert granted(c.subscribe("t/secret", qos=1)) == (0x87 if v5 else 0x80)
    log = b.read_log()
    assert "alice-pw" not in log and "emqx-pg-pw" not in log and "emqx-my-pw" not in log
    assert "emqx-redis-pw" not in log


def test_bcrypt_after_an_authenticator_that_ignores(make_broker, backend):
    b = broker_with(make_broker, [backend.authn(), backend.authn_bcrypt()])
    assert connect(b, mqttc.V5, "b1", "bob", "bob-pw")[1] == 0
    assert connect(b, mqttc.V5, "b2", "bob", "alice-pw")[1] == 0x86
    assert connect(b, mqttc.V5, "b3", "alice", "alice-pw")[1] == 0


def test_placeholders_are_bound_not_pasted(make_broker, backend):
    b = broker_with(make_broker, [backend.authn()])
    # Pasted into the SQL these would select alice's row (or every row); pasted into the
    # Redis command, "alice password_hash" would read alice's hash. Bound, they are
    # usernames nobody has: ignored, so not authorized.
    for i, u in enumerate(["x' OR '1'='1", "username OR 1=1", "' OR ''='",
                           "alice password_hash", "alice\r\nFLUSHALL"]):
        assert connect(b, mqttc.V5, "inj%d" % i, u, "alice-pw")[1] == 0x87, u
    # A quote in a real username is just a character.
    assert connect(b, mqttc.V5, "ob", "o'brien", "obrien-pw")[1] == 0
    assert connect(b, mqttc.V5, "ok", "alice", "alice-pw")[1] == 0


@pytest.mark.parametrize("version", [mqttc.V311, mqttc.V5])
def test_rules_from_the_database(make_broker, backend, version):
    b = broker_with(make_broker, [backend.authn()], [backend.authz()])
    v5 = version == mqttc.V5
    denied = 0x87 if v5 else 0x80
    root, rc = connect(b, version, "root1", "root", "root-pw")
    assert rc == 0
    root.subscribe("t/#", qos=1)
    alice, rc = connect(b, version, "alice1", "alice", "alice-pw")
    assert rc == 0
    assert granted(alice.subscribe("t/secret", qos=1)) == denied
    assert granted(alice.subscribe("t/elsewhere", qos=1)) == denied  # no rule: no_match
    assert granted(alice.subscribe("t/sub/x", qos=1)) == 1
    assert granted(alice.subscribe("t/ok", qos=1)) == 1
    alice.publish("t/nopub", b"no", qos=0)
    alice.publish("t/ok", b"yes", qos=0)
    msgs = root.wait_messages(1)
    assert [m.topic for m in msgs] == ["t/ok"]
    assert root.expect_no_more(1)
    # New rules in the database are fetched once the old ones are older than
    # authorization.cache.ttl (1 s); the old ones answer until then.
    new = "t/new/%d" % version  # the backend is shared by both versions
    backend.allow("alice", "subscribe", new)
    assert granted(alice.subscribe(new, qos=1)) == denied
    time.sleep(1.1)
    assert wait_for(lambda: granted(alice.subscribe(new, qos=1)) == 1, timeout=5)


def test_server_down_or_frozen_the_chain_goes_on(make_broker, own_backend, tmp_path):
    users = tmp_path / "users.csv"
    users.write_text("user_id,password,is_superuser\ncarol,carol-pw,false\n")
    built_in = ('{mechanism = password_based, backend = built_in_database,'
                ' password_hash_algorithm {name = sha256}, bootstrap_file = "%s",'
                ' bootstrap_type = plain}' % users)
    b = broker_with(make_broker, [own_backend.authn("1s"), built_in],
                    [own_backend.authz("1s"), '{type = file, path = "%s"}' % acl(tmp_path)])
    alice, rc = connect(b, mqttc.V5, "alice1", "alice", "alice-pw")
    assert rc == 0
    alice.subscribe("t/ok", qos=1)

    # Frozen: connections hang; every CONNECT is answered within query_timeout (1 s) for
    # each database step (authentication, then the rules), and the chain goes on.
    own_backend.server.freeze()
    try:
        t0 = time.monotonic()
        assert connect(b, mqttc.V5, "alice2", "alice", "alice-pw")[1] == 0x87
        assert time.monotonic() - t0 < 4
        t0 = time.monotonic()
        carol, rc = connect(b, mqttc.V5, "carol1", "carol", "carol-pw")
        assert rc == 0
        assert time.monotonic() - t0 < 5
    finally:
        own_backend.server.thaw()

    # Stopped: refused at once; the same.
    own_backend.server.stop()
    assert connect(b, mqttc.V5, "alice3", "alice", "alice-pw")[1] == 0x87
    carol2, rc = connect(b, mqttc.V5, "carol2", "carol", "carol-pw")
    assert rc == 0
    # No rules from the database for carol (nomatch), the file source's still apply.
    assert granted(carol2.subscribe("t/ok", qos=1)) == 0x87
    assert granted(carol2.subscribe("file/x", qos=1)) == 1
    # The node goes on serving the client that was already in, with its rules.
    carol2.publish("t/ok", b"still", qos=1)
    assert alice.wait_messages(1)[0].payload == b"still"
    log = b.read_log()
    assert "the chain goes on (ignore)" in log
    assert "no rules from it for now (nomatch)" in log


def acl(tmp_path):
    p = tmp_path / "acl.conf"
    p.write_text('{allow, all, all, ["file/#"]}.\n{allow, {username, "carol"}, publish, ["t/ok"]}.\n')
    return str(p)


def test_rules_fetched_for_a_listener_without_authentication(make_broker, backend):
    """enable_authn = false skips the chain, not authorization: the client's rules still
    come from the database."""
    b = make_broker(
        config_text="authorization { no_match = deny, sources = [%s] }\n" % backend.authz(),
        env={"EMQX_LISTENERS__TCP__DEFAULT__ENABLE_AUTHN": "false"})
    alice, rc = connect(b, mqttc.V5, "noauthn", "alice")  # no password: not asked
    assert rc == 0
    assert granted(alice.subscribe("t/ok", qos=1)) == 1
    assert granted(alice.subscribe("t/secret", qos=1)) == 0x87
    nobody, rc = connect(b, mqttc.V5, "nobody", "nobody")
    assert rc == 0
    assert granted(nobody.subscribe("t/ok", qos=1)) == 0x87
