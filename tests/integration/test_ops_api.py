"""EMQX's operations API on one node: clients, subscriptions, topics, publish, queues.

A real emqxd (conftest), real MQTT clients on raw sockets, the API through http.client.
The cluster-wide answers (clients of another node, paging across nodes) are in
tests/cluster/test_ops_api.py.
"""
import base64
import json
import time

import rawmqtt as R
from conftest import wait_for
from rawmqtt import RawClient, connected, V5
from test_api import call, get_json, assert_error

NODE = "emqx@127.0.0.1"


def post(broker, path, body):
    status, headers, raw = call(broker, "POST", path, body=body)
    return status, (json.loads(raw) if raw else None)


def clients(broker, query=""):
    return get_json(broker, "/api/v5/clients" + query)


def test_clients_are_listed_filtered_paged_and_described(broker):
    a = connected(broker, "ops-a", V5, username="alice")
    b = connected(broker, "ops-b", V5, username="bob")
    c = connected(broker, "ops-c", R.V311, keepalive=30)
    assert wait_for(lambda: clients(broker)["meta"]["count"] == 3, 5)

    page = clients(broker)
    assert [x["clientid"] for x in page["data"]] == ["ops-a", "ops-b", "ops-c"]
    assert page["meta"] == {"page": 1, "limit": 100, "count": 3, "hasnext": False}
    first = page["data"][0]
    assert first["node"] == NODE and first["connected"] is True
    assert first["listener"] == "tcp:default"
    assert first["username"] == "alice" and first["proto_ver"] == 5
    assert first["ip_address"] == "127.0.0.1" and first["port"] > 0
    assert first["created_at"].endswith("Z") or "+" in first["created_at"]

    assert [x["clientid"] for x in clients(broker, "?username=bob")["data"]] == ["ops-b"]
    assert [x["clientid"] for x in clients(broker, "?like_clientid=ps-c")["data"]] == ["ops-c"]
    assert [x["clientid"] for x in clients(broker, "?proto_ver=4")["data"]] == ["ops-c"]
    assert clients(broker, "?ip_address=10.0.0.1")["data"] == []
    two = clients(broker, "?limit=2&page=2")
    assert [x["clientid"] for x in two["data"]] == ["ops-c"]
    assert two["meta"]["hasnext"] is False and two["meta"]["count"] == 3
    assert clients(broker, "?limit=2")["meta"]["hasnext"] is True
    only = clients(broker, "?fields=clientid,username")["data"][0]
    assert set(only) == {"clientid", "username"}

    one = get_json(broker, "/api/v5/clients/ops-c")
    assert one["clientid"] == "ops-c" and one["proto_ver"] == 4 and one["keepalive"] == 30
    assert_error(*call(broker, "GET", "/api/v5/clients/nobody"), 404, "CLIENTID_NOT_FOUND")
    assert_error(*call(broker, "GET", "/api/v5/clients?limit=0"), 400, "BAD_REQUEST")
    assert_error(*call(broker, "GET", "/api/v5/clients?conn_state=maybe"), 400, "BAD_REQUEST")
    for x in (a, b, c):
        x.close()


def test_a_client_carries_emqx_traffic_counters(make_broker):
    """recv_* and send_* count what this connection did, as EMQX's client object does."""
    b = make_broker()
    sub = connected(b, "cnt-sub", V5, props={"maximum_packet_size": 200})
    assert sub.subscribe([("cnt/#", R.sub_options(qos=2))]) == [2]
    pub = connected(b, "cnt-pub", V5)
    pub.publish("cnt/a", b"zero", qos=0)
    pub.publish("cnt/a", b"one", qos=1, pid=1)
    pub.publish("cnt/a", b"two", qos=2, pid=2)
    pub.publish("cnt/a", b"x" * 500, qos=1, pid=3)  # too large for the subscriber
    got = sub.recv_publishes(3)
    assert [p.payload for p in got] == [b"zero", b"one", b"two"]
    for p in got:
        sub.ack(p)

    def settled():
        s = get_json(b, "/api/v5/clients/cnt-sub")
        return s if s["send_msg.dropped.too_large"] == 1 and s["recv_pkt"] >= 5 else None
    s = wait_for(settled, 3)
    assert s, get_json(b, "/api/v5/clients/cnt-sub")
    p = get_json(b, "/api/v5/clients/cnt-pub")
    assert (p["recv_msg"], p["recv_msg.qos0"], p["recv_msg.qos1"], p["recv_msg.qos2"]) == (4, 1, 2, 1)
    assert p["recv_msg.dropped"] == 0
    # CONNECT, 4 PUBLISH, PUBREL; CONNACK, 2 PUBACK, PUBREC, PUBCOMP.
    assert p["recv_pkt"] == 6 and p["send_pkt"] == 5
    assert p["recv_oct"] > 500 and p["send_oct"] > 0 and p["recv_cnt"] >= 1
    assert (s["send_msg"], s["send_msg.qos0"], s["send_msg.qos1"], s["send_msg.qos2"]) == (3, 1, 1, 1)
    assert s["send_msg.dropped"] == 1 and s["send_msg.dropped.expired"] == 0
    # CONNECT, SUBSCRIBE, PUBACK, PUBREC, PUBCOMP; CONNACK, SUBACK, 3 PUBLISH, PUBREL.
    assert s["recv_pkt"] == 5 and s["send_pkt"] == 6
    assert s["send_oct"] > s["recv_oct"] > 0
    for x in (sub, pub):
        x.close()


def test_a_disconnected_session_is_listed_and_its_queue_is_readable(broker):
    s = RawClient(broker)
    s.connect("ops-offline", clean=False, props={"session_expiry_interval": 300})
    s.subscribe([("q/+", 1)])
    s.send(R.disconnect())
    s.expect_closed()
    assert wait_for(lambda: clients(broker, "?conn_state=disconnected")["meta"]["count"] == 1, 5)
    row = clients(broker, "?conn_state=disconnected")["data"][0]
    assert row["clientid"] == "ops-offline" and row["connected"] is False
    assert "disconnected_at" in row and row["expiry_interval"] == 300

    pub = connected(broker, "ops-pub", V5)
    for i in range(3):
        assert pub.publish("q/%d" % i, b"m%d" % i, qos=1, pid=i + 1).code == 0
    assert wait_for(lambda: get_json(broker, "/api/v5/clients/ops-offline")["mqueue_len"] == 3, 5)
    q = get_json(broker, "/api/v5/clients/ops-offline/mqueue_messages?limit=2")
    assert [m["topic"] for m in q["data"]] == ["q/0", "q/1"]
    assert base64.b64decode(q["data"][0]["payload"]) == b"m0"
    assert q["meta"]["count"] == 3 and q["meta"]["position"] == "2"
    rest = get_json(broker, "/api/v5/clients/ops-offline/mqueue_messages?position=2")
    assert [m["topic"] for m in rest["data"]] == ["q/2"]
    assert rest["meta"]["position"] == "end_of_data"
    assert get_json(broker, "/api/v5/clients/ops-offline/inflight_messages")["data"] == []

    # DELETE ends the session too: nothing is left to list or to resume.
    assert call(broker, "DELETE", "/api/v5/clients/ops-offline")[0] == 204
    assert_error(*call(broker, "GET", "/api/v5/clients/ops-offline"), 404, "CLIENTID_NOT_FOUND")
    back = RawClient(broker)
    ack = back.connect("ops-offline", clean=False, props={"session_expiry_interval": 300})
    assert ack.session_present is False
    back.close()
    pub.close()


def test_kick_disconnects_with_0x98_and_the_others_carry_on(broker):
    victim = connected(broker, "ops-victim", V5)
    other = connected(broker, "ops-other", V5)
    other.subscribe([("still/here", 0)])
    assert call(broker, "DELETE", "/api/v5/clients/ops-victim")[0] == 204
    d = victim.expect(R.DISCONNECT)
    assert d.code == 0x98
    victim.expect_closed()
    assert_error(*call(broker, "DELETE", "/api/v5/clients/ops-victim"), 404, "CLIENTID_NOT_FOUND")

    many = [connected(broker, "ops-bulk-%d" % i, V5) for i in range(3)]
    status, _ = post(broker, "/api/v5/clients/kickout/bulk", ["ops-bulk-0", "ops-bulk-2"])
    assert status == 204
    many[0].expect_closed()
    many[2].expect_closed()
    assert many[1].is_open()
    other.publish("still/here", b"x")
    assert other.expect(R.PUBLISH).payload == b"x"
    for x in (many[1], other):
        x.close()


def test_the_api_subscribes_a_client_and_publishes_to_it(broker):
    c = connected(broker, "ops-sub", V5)
    status, body = post(broker, "/api/v5/clients/ops-sub/subscribe", {"topic": "api/t", "qos": 1})
    assert status == 200, body
    assert body["topic"] == "api/t" and body["qos"] == 1 and body["clientid"] == "ops-sub"

    subs = get_json(broker, "/api/v5/clients/ops-sub/subscriptions")
    assert [(s["topic"], s["qos"]) for s in subs] == [("api/t", 1)]
    listed = get_json(broker, "/api/v5/subscriptions?clientid=ops-sub")
    assert [s["topic"] for s in listed["data"]] == ["api/t"]
    assert get_json(broker, "/api/v5/subscriptions?match_topic=api/%2B")["meta"]["count"] == 1
    topics = get_json(broker, "/api/v5/topics")
    assert {"topic": "api/t", "node": NODE} in topics["data"]

    status, body = post(broker, "/api/v5/publish",
                        {"topic": "api/t", "payload": "hello", "qos": 1,
                         "properties": {"user_properties": {"k": "v"}}})
    assert status == 200 and isinstance(body["id"], str) and body["id"], body
    p = c.expect(R.PUBLISH)
    assert p.topic == "api/t" and p.payload == b"hello" and p.qos == 1
    assert p.props.get("user_property") == [("k", "v")]
    c.ack(p)

    status, body = post(broker, "/api/v5/publish",
                        {"topic": "api/t", "payload": base64.b64encode(b"\x00\xff").decode(),
                         "payload_encoding": "base64"})
    assert status == 200, body
    assert c.expect(R.PUBLISH).payload == b"\x00\xff"

    status, body = post(broker, "/api/v5/clients/ops-sub/unsubscribe", {"topic": "api/t"})
    assert status == 204 or status == 200, body
    assert get_json(broker, "/api/v5/clients/ops-sub/subscriptions") == []
    status, body = post(broker, "/api/v5/publish", {"topic": "api/t", "payload": "late"})
    assert status == 202 and body["reason_code"] == 16, body
    assert c.recv_all(settle=0.3) == []

    status, body = post(broker, "/api/v5/publish/bulk",
                        [{"topic": "nobody/1", "payload": "a"}, {"topic": "nobody/2"}])
    assert status == 202 and len(body) == 2
    assert_error(*call(broker, "POST", "/api/v5/publish", body={"topic": "a/+"}), 400, "BAD_TOPIC")
    for bad in ({"payload": "x"}, {"topic": "t", "qos": 3},
                {"topic": "t", "payload": "%%", "payload_encoding": "base64"}):
        assert_error(*call(broker, "POST", "/api/v5/publish", body=bad), 400, "BAD_REQUEST")
    assert_error(*call(broker, "POST", "/api/v5/clients/ops-sub/subscribe",
                       body={"topic": "a/#/b"}), 400, "BAD_REQUEST")
    assert_error(*call(broker, "POST", "/api/v5/clients/nobody/subscribe",
                       body={"topic": "x"}), 404, "CLIENTID_NOT_FOUND")
    c.close()


def test_nodes_stats_and_metrics(broker):
    nodes = get_json(broker, "/api/v5/nodes")
    assert [n["node"] for n in nodes] == [NODE]
    n = nodes[0]
    assert n["node_status"] == "running" and n["role"] == "core"
    assert n["uptime"] >= 0 and n["connections"] >= 0 and "version" in n
    assert get_json(broker, "/api/v5/nodes/" + NODE)["node"] == NODE
    assert_error(*call(broker, "GET", "/api/v5/nodes/nobody@nowhere"), 404, "NOT_FOUND")
    stats = get_json(broker, "/api/v5/nodes/%s/stats" % NODE)
    assert "connections.count" in stats and "topics.count" in stats
    agg = get_json(broker, "/api/v5/stats?aggregate=true")
    assert isinstance(agg, dict) and "connections.count" in agg
    assert "messages.received" in get_json(broker, "/api/v5/nodes/%s/metrics" % NODE)


def test_listeners_are_listed_stopped_and_started(broker):
    held = connected(broker, "ops-held", V5)
    ls = get_json(broker, "/api/v5/listeners")
    tcp = [l for l in ls if l["id"] == "tcp:default"][0]
    assert tcp["running"] is True and tcp["type"] == "tcp" and tcp["name"] == "default"
    assert tcp["bind"].endswith(":%d" % broker.port)
    assert tcp["current_connections"] >= 1
    assert [n["node"] for n in tcp["node_status"]] == [NODE]
    assert get_json(broker, "/api/v5/listeners/tcp:default")["id"] == "tcp:default"
    assert_error(*call(broker, "GET", "/api/v5/listeners/tcp:nope"), 404, "BAD_LISTENER_ID")

    assert post(broker, "/api/v5/listeners/tcp:default/stop", None)[0] == 200
    assert get_json(broker, "/api/v5/listeners/tcp:default")["running"] is False
    try:
        RawClient(broker, timeout=1.0).connect("ops-refused")
        refused = False
    except (ConnectionError, OSError, R.Closed):
        refused = True
    assert refused, "a stopped listener accepted a connection"
    # The connections it had carry on.
    held.subscribe([("held/t", 0)])
    held.publish("held/t", b"still")
    assert held.expect(R.PUBLISH).payload == b"still"

    assert post(broker, "/api/v5/listeners/tcp:default/start", None)[0] == 200
    again = connected(broker, "ops-again", V5)
    assert post(broker, "/api/v5/listeners/tcp:default/restart", None)[0] == 200
    connected(broker, "ops-after-restart", V5).close()
    assert get_json(broker, "/api/v5/listeners/tcp:default")["running"] is True
    assert_error(*call(broker, "POST", "/api/v5/listeners/tcp:nope/stop"), 404, "BAD_LISTENER_ID")
    again.close()
    held.close()
