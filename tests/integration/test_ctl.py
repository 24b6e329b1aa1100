"""`emqxd ctl`: EMQX's `emqx ctl` verbs against a real node, as an operator runs them
(server/app/ctl.cpp): the text EMQX prints, --json, and the exit codes (0 done, 1 the node
said no, 2 bad usage or no node)."""
import json
import os
import subprocess

import rawmqtt as R
from conftest import EMQXD_BIN, free_port, wait_for
from rawmqtt import connected, V5
from test_api import get_json

NODE = "emqx@127.0.0.1"


def ctl(broker, *args, timeout=20):
    e = {k: v for k, v in os.environ.items()
         if not k.startswith("EMQX_") and not k.startswith("EMQXD_API_")}
    api = "127.0.0.1:%d" % (broker.api_port if broker else free_port())
    return subprocess.run([EMQXD_BIN, "ctl", "--api", api] + list(args), env=e,
                          capture_output=True, text=True, timeout=timeout)


def ok(broker, *args):
    r = ctl(broker, *args)
    assert r.returncode == 0, (args, r.stdout, r.stderr)
    return r.stdout


def test_status_broker_and_stats(broker):
    assert NODE in ok(broker, "status")
    lines = ok(broker, "broker").splitlines()
    fields = {k.strip(): v for k, v in (l.split(" : ", 1) for l in lines)}
    assert fields["sysdescr"].strip() == "emqxd" and fields["node"].strip() == NODE
    assert "seconds" in fields["uptime"]
    stats = dict(l.split(" : ", 1) for l in ok(broker, "broker", "stats").splitlines())
    assert "connections.count" in {k.strip() for k in stats}
    metrics = json.loads(ok(broker, "broker", "metrics", "--json"))
    assert "messages.received" in metrics


def test_clients_subscriptions_and_topics(broker):
    c = connected(broker, "ctl-c1", V5, username="u1")
    assert wait_for(lambda: "ctl-c1" in ok(broker, "clients", "list"), 5)
    line = ok(broker, "clients", "show", "ctl-c1").strip()
    assert line.startswith("Client(ctl-c1, username=u1, peername=127.0.0.1:")
    assert "connected=true" in line
    listed = json.loads(ok(broker, "clients", "list", "--json"))
    assert [x["clientid"] for x in listed] == ["ctl-c1"]

    assert ok(broker, "subscriptions", "add", "ctl-c1", "ctl/t", "1") == "ok\n"
    assert ok(broker, "subscriptions", "show", "ctl-c1").strip() == \
        "ctl-c1 -> topic:ctl/t qos:1 nl:0 rh:0 rap:0 node:%s" % NODE
    assert "ctl-c1 -> topic:ctl/t" in ok(broker, "subscriptions", "list")
    assert ok(broker, "topics", "list").strip() == "ctl/t -> %s" % NODE
    assert ok(broker, "topics", "show", "ctl/t").strip() == "ctl/t -> %s" % NODE
    # The subscription is real: a publish reaches the client.
    pub = connected(broker, "ctl-pub", V5)
    pub.publish("ctl/t", b"via-ctl", qos=1, pid=1)
    assert c.expect(R.PUBLISH).payload == b"via-ctl"
    assert ok(broker, "subscriptions", "del", "ctl-c1", "ctl/t") == "ok\n"
    assert get_json(broker, "/api/v5/clients/ctl-c1/subscriptions") == []

    assert ok(broker, "clients", "kick", "ctl-c1") == "ok\n"
    assert c.expect(R.DISCONNECT).code == 0x98
    r = ctl(broker, "clients", "show", "ctl-c1")
    assert r.returncode == 1 and "not found" in r.stderr, r
    pub.close()


def test_log_traces_and_banned(broker):
    assert ok(broker, "log", "set-level", "debug") == "ok\n"
    assert ok(broker, "log", "primary-level", "info") == "ok\n"
    r = ctl(broker, "log", "set-level", "loud")
    assert r.returncode == 1 and r.stderr.startswith("emqxd: "), r

    assert ok(broker, "traces", "start", "t1", "client", "ctl-traced", "60") == "ok\n"
    assert ok(broker, "traces", "list").startswith("Trace(t1, clientid=ctl-traced, status=running")
    assert ok(broker, "traces", "stop", "t1") == "ok\n"
    assert "status=stopped" in ok(broker, "traces", "list")
    assert ok(broker, "traces", "delete", "t1") == "ok\n"
    assert ok(broker, "traces", "list") == ""
    assert ctl(broker, "traces", "start", "t2", "nothing", "x").returncode == 2

    assert ok(broker, "banned", "add", "clientid", "ctl-bad", "spam", "3600") == "ok\n"
    line = ok(broker, "banned", "list").strip()
    assert line.startswith("Banned(clientid=ctl-bad, by=emqxd ctl, reason=spam, at=")
    c = R.RawClient(broker)
    assert c.connect("ctl-bad", expect_code=None).code == 0x8A
    assert ok(broker, "banned", "del", "clientid", "ctl-bad") == "ok\n"
    assert ok(broker, "banned", "list") == ""
    assert ctl(broker, "banned", "del", "clientid", "ctl-bad").returncode == 1


def test_usage_errors_and_no_node_exit_2(broker):
    for args in ([], ["bogus"], ["clients", "show"], ["subscriptions", "add", "c", "t", "3"],
                 ["cluster", "join"]):
        r = ctl(broker, *args)
        assert r.returncode == 2, (args, r)
        assert r.stderr, args
    assert "clients list" in ok(broker, "help")
    r = ctl(None, "status")
    assert r.returncode == 2 and "cannot reach the node's HTTP API" in r.stderr
    # cluster is `emqxd cluster` under ctl.
    assert "1 member (1 alive)" in ok(broker, "cluster", "status")


def test_listeners(broker):
    out = ok(broker, "listeners")
    assert out.startswith("tcp:default\n"), out
    fields = {k.strip(): v.strip() for k, v in
              (l.split(" : ", 1) for l in out.splitlines() if " : " in l)}
    assert fields["running"] == "true" and fields["listen_on"].endswith(":%d" % broker.port)
    assert ok(broker, "listeners", "stop", "tcp:default") == "ok\n"
    assert json.loads(ok(broker, "listeners", "--json"))[0]["running"] is False
    assert ok(broker, "listeners", "restart", "tcp:default") == "ok\n"
    connected(broker, "ctl-after", V5).close()
    r = ctl(broker, "listeners", "stop", "tcp:nope")
    assert r.returncode == 1 and "tcp:nope" in r.stderr
