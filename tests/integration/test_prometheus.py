"""GET /api/v5/prometheus/stats (api/prometheus.hpp): EMQX 5's metric names in the
Prometheus text format, read with prometheus_client's own parser (Debian's
python3-prometheus-client), moving with real MQTT traffic (paho clients); EMQX's JSON with
Accept: application/json; ?mode=; prometheus.enable_basic_auth; and the Grafana dashboard
in deploy/grafana/, whose every query must name metrics the endpoint emits.
"""
import glob
import json
import os
import re

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import wait_for
from mqttc import Client, V5
from test_api import call

NODE = "emqx@127.0.0.1"
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def scrape(broker, query="", auth=None, accept=None):
    headers = {"Accept": accept} if accept else None
    status, headers_out, body = call(broker, "GET", "/api/v5/prometheus/stats" + query,
                                     auth=auth, headers=headers)
    assert status == 200, (status, body)
    return headers_out, body


def families(broker, query=""):
    """{family name: Metric} as prometheus_client parses the text format."""
    headers, body = scrape(broker, query)
    assert headers["content-type"].startswith("text/plain; version=0.0.4"), headers
    return {f.name: f for f in text_string_to_metric_families(body.decode())}


def value(fams, name, **labels):
    """The value of the sample `name` (a counter's family drops its _total)."""
    fam = fams.get(name) or fams.get(re.sub(r"_total$", "", name))
    assert fam is not None, "no family %s in %s" % (name, sorted(fams))
    for s in fam.samples:
        # prometheus_client names a counter's samples <name>_total, whatever was sent.
        if s.name in (name, name + "_total") and \
                all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    raise AssertionError("no sample %s%r in %r" % (name, labels, fam.samples))


def test_names_types_and_help_as_emqx(broker):
    fams = families(broker)
    gauges = ["emqx_connections_count", "emqx_connections_max", "emqx_live_connections_count",
              "emqx_sessions_count", "emqx_topics_count", "emqx_subscriptions_count",
              "emqx_suboptions_count", "emqx_retained_count", "emqx_delayed_count",
              "emqx_delayed_max", "emqx_cluster_nodes_running",
              "emqx_cluster_nodes_stopped", "emqx_vm_total_memory", "emqx_vm_used_memory",
              "process_resident_memory_bytes", "process_open_fds", "process_max_fds"]
    counters = ["emqx_messages_received", "emqx_messages_sent", "emqx_messages_dropped",
                "emqx_messages_delayed",
                "emqx_messages_qos0_received", "emqx_messages_qos1_received",
                "emqx_messages_qos2_received", "emqx_packets_received", "emqx_packets_sent",
                "emqx_bytes_received", "emqx_bytes_sent", "emqx_delivery_dropped",
                "emqx_delivery_dropped_queue_full", "emqx_session_created",
                "emqx_session_resumed", "emqx_session_takenover", "emqx_session_discarded",
                "emqx_client_connected", "emqx_client_disconnected",
                "emqx_authentication_failure", "emqx_authorization_allow",
                "emqx_authorization_deny", "emqx_authorization_cache_hit"]
    for g in gauges:
        assert fams[g].type == "gauge", g
        assert fams[g].documentation, g
    for c in counters:
        assert fams[c].type == "counter", c
        assert fams[c].documentation, c
    assert fams["process_cpu_seconds"].type == "counter"
    assert value(fams, "process_cpu_seconds_total") > 0
    assert value(fams, "process_open_fds") > 0
    assert value(fams, "process_max_fds") >= value(fams, "process_open_fds")
    assert 0 < value(fams, "process_resident_memory_bytes") < value(fams, "emqx_vm_total_memory")
    # Alone: one node running (itself), none stopped. No node label in node mode.
    assert value(fams, "emqx_cluster_nodes_running") == 1
    assert value(fams, "emqx_cluster_nodes_stopped") == 0
    assert all(not s.labels for f in fams.values() for s in f.samples)
    # No fake zeros: EMQX metrics emqxd cannot measure are absent (docs/metrics.md).
    for absent in ["emqx_packets_connack_sent", "emqx_vm_run_queue", "emqx_channels_count",
                   "emqx_license_quota", "emqx_session_terminated"]:
        assert absent not in fams, absent


def test_values_move_with_real_traffic(broker):
    before = families(broker)
    sub = Client(broker, "prom-sub", V5)
    sub.subscribe("prom/#", qos=1)
    sub.subscribe("prom2/+", qos=0)
    pub = Client(broker, "prom-pub", V5)
    pub.publish("prom/a", b"0", qos=0)
    pub.publish("prom/b", b"1", qos=1)
    pub.publish("prom/c", b"2", qos=2)
    pub.publish("nobody/here", b"x", qos=0)
    pub.publish("prom/r", b"kept", qos=1, retain=True)
    assert len(sub.wait_messages(4)) == 4

    def moved():
        f = families(broker)
        return f if value(f, "emqx_messages_received") - \
            value(before, "emqx_messages_received") >= 5 else None
    after = wait_for(moved, 5)
    assert after, "emqx_messages_received did not move"
    d = lambda n: value(after, n) - value(before, n)  # noqa: E731
    assert value(after, "emqx_connections_count") == 2
    assert value(after, "emqx_live_connections_count") == 2
    assert value(after, "emqx_connections_max") >= 2
    assert value(after, "emqx_sessions_count") == 2
    assert value(after, "emqx_subscriptions_count") == 2
    assert value(after, "emqx_suboptions_count") == 2
    assert value(after, "emqx_topics_count") == 2
    assert d("emqx_retained_count") == 1  # $SYS keeps a few of its own
    assert d("emqx_messages_received") == 5
    assert d("emqx_messages_qos0_received") == 2
    assert d("emqx_messages_qos1_received") == 2
    assert d("emqx_messages_qos2_received") == 1
    assert d("emqx_messages_retained") == 1
    assert d("emqx_messages_dropped_no_subscribers") >= 1
    assert d("emqx_messages_sent") >= 4
    assert d("emqx_client_connected") == 2
    assert d("emqx_session_created") == 2
    assert d("emqx_packets_received") >= 9 and d("emqx_packets_sent") >= 4
    assert d("emqx_bytes_received") > 0 and d("emqx_bytes_sent") > 0

    pub.disconnect()
    sub.disconnect()
    done = wait_for(lambda: (lambda f: f if value(f, "emqx_connections_count") == 0 else None)(
        families(broker)), 5)
    assert done, "connections did not go back to 0"
    assert value(done, "emqx_connections_max") >= 2  # the peak stays
    assert value(done, "emqx_client_disconnected") - value(before, "emqx_client_disconnected") == 2


def test_json_as_emqx_when_asked(broker):
    c = Client(broker, "prom-json", V5)
    headers, body = scrape(broker, accept="application/json")
    assert headers["content-type"] == "application/json"
    doc = json.loads(body)
    for group in ["stats", "metrics", "packets", "messages", "delivery", "client", "session",
                  "cluster", "acl", "authn"]:
        assert isinstance(doc[group], dict), group
    assert doc["stats"]["emqx_connections_count"] == 1
    assert doc["cluster"]["emqx_cluster_nodes_running"] == 1
    assert doc["messages"]["emqx_messages_received"] >= 0
    assert doc["metrics"]["process_open_fds"] > 0


def test_modes(broker):
    fams = families(broker, "?mode=all_nodes_aggregated")
    assert value(fams, "emqx_connections_count") == 0
    # A node's own facts keep their node outside node mode, as EMQX labels them.
    assert value(fams, "process_open_fds", node=NODE) > 0
    fams = families(broker, "?mode=all_nodes_unaggregated")
    assert value(fams, "emqx_connections_count", node=NODE) == 0
    assert value(fams, "emqx_messages_received", node=NODE) >= 0
    # Replicated on every node: once, unlabelled.
    assert [s.labels for s in fams["emqx_retained_count"].samples] == [{}]
    assert families(broker, "?mode=node")["emqx_connections_count"].samples[0].labels == {}
    status, _, body = call(broker, "GET", "/api/v5/prometheus/stats?mode=cluster")
    assert status == 400 and json.loads(body)["code"] == "BAD_REQUEST"


def test_no_credentials_by_default_as_emqx(broker):
    # enable_basic_auth = false: Prometheus scrapes without credentials; a wrong password
    # is not even looked at. Nothing else opens up.
    scrape(broker, auth=None)
    scrape(broker, auth=("admin", "wrong"))
    status, _, _ = call(broker, "POST", "/api/v5/prometheus/stats", auth=None)
    assert status == 401
    status, _, _ = call(broker, "GET", "/api/v5/stats", auth=None)
    assert status == 401
    status, _, _ = call(broker, "GET", "/api/v5/alarms", auth=None)
    assert status == 401


def test_basic_auth_when_enabled(make_broker):
    b = make_broker(env={"EMQX_PROMETHEUS__ENABLE_BASIC_AUTH": "true"})
    status, headers, _ = call(b, "GET", "/api/v5/prometheus/stats", auth=None)
    assert status == 401 and "www-authenticate" in headers
    status, _, _ = call(b, "GET", "/api/v5/prometheus/stats", auth=("admin", "wrong"))
    assert status == 401
    scrape(b, auth=("admin", "public"))


def grafana_metric_names():
    """Every metric name in the expressions of deploy/grafana/*.json."""
    files = glob.glob(os.path.join(ROOT, "deploy", "grafana", "*.json"))
    assert files, "no dashboard in deploy/grafana"
    names = set()
    for path in files:
        with open(path) as f:
            doc = json.load(f)

        def walk(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    if k in ("expr", "query", "definition") and isinstance(x, str):
                        for n in re.findall(r"\b((?:emqx|emqxd|process)_[a-z0-9_]+)", x):
                            names.add(n)
                    else:
                        walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(doc)
    assert names, "the dashboards query nothing"
    return names


def test_grafana_dashboard_uses_only_emitted_metrics(broker):
    c = Client(broker, "prom-grafana", V5)
    emitted = set()
    for mode in ["node", "all_nodes_unaggregated"]:
        _, body = scrape(broker, "?mode=" + mode)
        for line in body.decode().splitlines():  # the names as sent
            if line and not line.startswith("#"):
                emitted.add(re.split(r"[{ ]", line, 1)[0])
    missing = sorted(grafana_metric_names() - emitted)
    assert not missing, "the dashboard queries metrics the endpoint does not emit: %s" % missing
