"""The rule engine and the connectors over a cluster (docs/rules.md, docs/connectors.md): a
rule, connector or action made through one node's API runs on every node, on the messages
published there (once, on the node that received the message), and any node's answer sums
the nodes' metrics and lists each node's status."""
from cluster_support import poll
from webhook_server import WebhookServer  # tests/integration, on the path cluster_support sets


def test_a_rule_made_on_one_node_runs_on_every_node_and_is_counted_per_node(cluster):
    c = cluster(2)
    rule = {"id": "tag", "sql": 'SELECT payload, clientid FROM "in/#"',
            "actions": [{"function": "republish",
                         "args": {"topic": "out/${clientid}", "qos": 1}}]}
    assert c.node(1).api("POST", "/api/v5/rules", rule, expect=201)["id"] == "tag"

    def everywhere():
        seen = [c.node(i).api("GET", "/api/v5/rules/tag", expect=None) for i in (1, 2)]
        return all(s and s.get("id") == "tag" for s in seen), seen
    done, seen, _, _ = poll(everywhere, 10)
    assert done, seen
    # A subscriber on node 1 gets what the rule made of a message published on node 2,
    # exactly once (the rule runs where the message was published).
    sub = c.client(1, "rsub")
    sub.subscribe("out/#", qos=1)
    c.wait_routed("out/#", on=[2], via=1)
    c.client(2, "pub-on-2").publish("in/a", b"from 2", qos=1)
    c.client(1, "pub-on-1").publish("in/b", b"from 1", qos=1)
    sub.expect_messages([("out/pub-on-2", b"from 2"), ("out/pub-on-1", b"from 1")])

    def counted():
        m = c.node(2).api("GET", "/api/v5/rules/tag/metrics")
        return m["metrics"]["matched"] == 2, m
    done, m, _, _ = poll(counted, 10)
    assert done, m
    per_node = {n["node"]: n["metrics"]["matched"] for n in m["node_metrics"]}
    assert per_node == {c.node(1).name: 1, c.node(2).name: 1}, m
    assert m["metrics"]["actions.success"] == 2

    # Reset and delete reach every node.
    c.node(2).api("PUT", "/api/v5/rules/tag/metrics/reset", expect=204)
    m = c.node(1).api("GET", "/api/v5/rules/tag/metrics")
    assert m["metrics"]["matched"] == 0, m
    c.node(2).api("DELETE", "/api/v5/rules/tag", expect=204)

    def gone():
        seen = [c.node(i).api("GET", "/api/v5/rules/tag", expect=None) for i in (1, 2)]
        return all(s and s.get("code") == "NOT_FOUND" for s in seen), seen
    done, seen, _, _ = poll(gone, 10)
    assert done, seen


def test_a_connector_and_action_made_on_one_node_run_on_every_node(cluster):
    srv = WebhookServer().start()
    try:
        c = cluster(2)
        c.node(1).api("POST", "/api/v5/connectors",
                      {"type": "http", "name": "hook", "url": srv.url,
                       "resource_opts": {"health_check_interval": "1s"}}, expect=201)
        c.node(1).api("POST", "/api/v5/actions",
                      {"type": "http", "name": "out", "connector": "hook",
                       "parameters": {"body": "${clientid} ${payload}"}}, expect=201)
        c.node(2).api("POST", "/api/v5/rules", {"id": "w", "sql": 'SELECT * FROM "w/#"',
                                                "actions": ["http:out"]}, expect=201)

        def connected_everywhere():
            a = c.node(2).api("GET", "/api/v5/actions/http:out", expect=None)
            ok = a and a.get("status") == "connected" and \
                sorted(n["node"] for n in a.get("node_status", [])) == \
                sorted([c.node(1).name, c.node(2).name])
            return ok, a
        done, seen, _, _ = poll(connected_everywhere, 15)
        assert done, seen

        # The rule was made on node 2: node 1 runs it once replication brought it there.
        def rule_everywhere():
            seen = [c.node(i).api("GET", "/api/v5/rules/w", expect=None) for i in (1, 2)]
            return all(r and r.get("id") == "w" for r in seen), seen
        done, seen, _, _ = poll(rule_everywhere, 10)
        assert done, seen
        # Each node sends what was published there.
        c.client(1, "on-1").publish("w/a", b"one", qos=1)
        c.client(2, "on-2").publish("w/b", b"two", qos=1)
        got = srv.wait(2, timeout=10)
        assert sorted(r[3] for r in got) == [b"on-1 one", b"on-2 two"]

        def counted():
            m = c.node(1).api("GET", "/api/v5/actions/http:out/metrics")
            return m["metrics"]["success"] == 2, m
        done, m, _, _ = poll(counted, 10)
        assert done, m
        assert sorted(n["metrics"]["success"] for n in m["node_metrics"]) == [1, 1]
    finally:
        srv.stop()


def test_delivery_events_name_the_publisher_on_another_node(cluster):
    """message_delivered fires on the node of the subscriber; who published the message
    travels with it from the node that received it (proto/cluster.proto: Origin)."""
    c = cluster(2)
    rule = {"id": "dlv", "sql": 'SELECT * FROM "$events/message_delivered" WHERE topic =~ \'x/#\'',
            "actions": [{"function": "republish",
                         "args": {"topic": "seen/${clientid}", "qos": 1,
                                  "payload": "${from_clientid} ${from_username} ${node}"}}]}
    c.node(1).api("POST", "/api/v5/rules", rule, expect=201)

    def everywhere():
        seen = [c.node(i).api("GET", "/api/v5/rules/dlv", expect=None) for i in (1, 2)]
        return all(s and s.get("id") == "dlv" for s in seen), seen
    done, seen, _, _ = poll(everywhere, 10)
    assert done, seen
    watch = c.client(2, "watch")
    watch.subscribe("seen/#", qos=1)
    sub = c.client(2, "far-sub")
    sub.subscribe("x/#", qos=1)
    c.wait_routed("x/#", on=[1], via=2)
    c.client(1, "near-pub", username="bob").publish("x/1", b"hi", qos=1)
    sub.expect_messages([("x/1", b"hi")])
    watch.expect_messages([("seen/far-sub", ("near-pub bob " + c.node(2).name).encode())])
