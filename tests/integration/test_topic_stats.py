"""EMQX's topic metrics (/api/v5/mqtt/topic_metrics) and slow subscriptions
(/api/v5/slow_subscriptions), server/api/topic_stats_api.hpp, with real clients: what is
counted is what the clients did, a subscriber that acknowledges late is listed and one that
acknowledges at once is not."""
import time

import rawmqtt as R
from conftest import wait_for
from rawmqtt import connected, V5
from test_api import call, get_json, assert_error
from test_startup import base_env, run


def metrics_of(broker, topic):
    return get_json(broker, "/api/v5/mqtt/topic_metrics/" + topic.replace("/", "%2F"))["metrics"]


def test_topic_metrics_count_in_out_and_dropped_per_qos(make_broker):
    b = make_broker(config_text='topic_metrics = [{topic = "tm/a"}]\n')
    sub = connected(b, "tm-sub", V5)
    sub.subscribe([("tm/#", R.sub_options(qos=1))])
    pub = connected(b, "tm-pub", V5)
    pub.publish("tm/a", b"0", qos=0)
    pub.publish("tm/a", b"1", qos=1, pid=1)
    pub.publish("tm/a", b"2", qos=2, pid=2)
    pub.publish("tm/other", b"not counted", qos=0)
    got = sub.recv_publishes(4)
    assert sorted(p.payload for p in got) == [b"0", b"1", b"2", b"not counted"]
    for p in got:
        sub.ack(p)

    def counted():
        m = metrics_of(b, "tm/a")
        return m if m["messages.out.count"] == 3 else None
    m = wait_for(counted, 3)
    assert m, metrics_of(b, "tm/a")
    assert m["messages.in.count"] == 3
    assert (m["messages.qos0.in.count"], m["messages.qos1.in.count"],
            m["messages.qos2.in.count"]) == (1, 1, 1)
    # Out at the QoS of the delivery: the subscription's QoS 1 caps the QoS 2 message.
    assert (m["messages.qos0.out.count"], m["messages.qos1.out.count"],
            m["messages.qos2.out.count"]) == (1, 2, 0)
    assert m["messages.dropped.count"] == 0
    assert isinstance(m["messages.in.rate"], (int, float))
    everything = get_json(b, "/api/v5/mqtt/topic_metrics")
    assert [t["topic"] for t in everything] == ["tm/a"]
    assert everything[0]["create_time"].endswith("+00:00")

    # Registered at run time; nobody subscribes to it: every message is dropped.
    status, _, body = call(b, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "nobody/here"})
    assert status == 200, body
    for i in range(3):
        ack = pub.publish("nobody/here", b"x", qos=1, pid=10 + i)
        assert ack.code == 0x10  # No matching subscribers
    m = metrics_of(b, "nobody/here")
    assert (m["messages.in.count"], m["messages.dropped.count"], m["messages.out.count"]) == (3, 3, 0)

    # The rate follows (EMQX's 5-second moving average, ticked every second).
    for i in range(50):
        pub.publish("tm/a", b"r", qos=0)
    assert wait_for(lambda: metrics_of(b, "tm/a")["messages.in.rate"] > 0, 4)


def test_topic_metrics_api_errors_reset_and_delete(broker):
    assert_error(*call(broker, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "a/+"}),
                 400, "BAD_TOPIC")
    assert_error(*call(broker, "POST", "/api/v5/mqtt/topic_metrics", {"topic": ""}),
                 400, "BAD_REQUEST")
    assert_error(*call(broker, "POST", "/api/v5/mqtt/topic_metrics", "not json"),
                 400, "BAD_REQUEST")
    assert call(broker, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "r/1"})[0] == 200
    assert_error(*call(broker, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "r/1"}),
                 400, "BAD_TOPIC")
    assert_error(*call(broker, "GET", "/api/v5/mqtt/topic_metrics/r%2F2"), 404, "TOPIC_NOT_FOUND")
    pub = connected(broker, "reset-pub", V5)
    for i in range(4):
        pub.publish("r/1", b"x", qos=0)
    assert wait_for(lambda: metrics_of(broker, "r/1")["messages.in.count"] == 4, 3)
    status, _, body = call(broker, "PUT", "/api/v5/mqtt/topic_metrics",
                           {"action": "reset", "topic": "r/1"})
    assert status == 200, body
    doc = get_json(broker, "/api/v5/mqtt/topic_metrics/r%2F1")
    assert doc["metrics"]["messages.in.count"] == 0 and doc["metrics"]["messages.dropped.count"] == 0
    assert "reset_time" in doc
    assert_error(*call(broker, "PUT", "/api/v5/mqtt/topic_metrics",
                       {"action": "reset", "topic": "r/none"}), 404, "TOPIC_NOT_FOUND")
    assert_error(*call(broker, "PUT", "/api/v5/mqtt/topic_metrics", {"action": "zero"}),
                 400, "BAD_REQUEST")
    assert call(broker, "DELETE", "/api/v5/mqtt/topic_metrics/r%2F1")[0] == 204
    assert_error(*call(broker, "DELETE", "/api/v5/mqtt/topic_metrics/r%2F1"),
                 404, "TOPIC_NOT_FOUND")
    assert get_json(broker, "/api/v5/mqtt/topic_metrics") == []
    # Viewers read, they do not register.
    status, _, _ = call(broker, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "r/2"}, auth=None)
    assert status == 401


def test_at_most_512_topics_and_they_survive_a_restart(make_broker):
    b = make_broker()
    for i in range(512):
        status, _, body = call(b, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "lim/%d" % i})
        assert status == 200, (i, body)
    assert_error(*call(b, "POST", "/api/v5/mqtt/topic_metrics", {"topic": "lim/over"}),
                 409, "EXCEED_LIMIT")
    assert call(b, "DELETE", "/api/v5/mqtt/topic_metrics/lim%2F0")[0] == 204
    b.stop()
    b.start()
    topics = {t["topic"] for t in get_json(b, "/api/v5/mqtt/topic_metrics")}
    assert len(topics) == 511 and "lim/0" not in topics and "lim/511" in topics


def test_a_wildcard_in_the_config_stops_start_up(tmp_path):
    conf = tmp_path / "emqx.conf"
    conf.write_text('node.name = "emqx@127.0.0.1"\ntopic_metrics = [{topic = "a/#"}]\n')
    r = run(["start", "-c", str(conf)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert "%s:2: topic_metrics.topic: must be a topic name without wildcards" % conf in r.stderr
    conf.write_text("slow_subs {\n  enable = true\n  threshold = 50ms\n}\n")
    r = run(["start", "-c", str(conf)], base_env(tmp_path / "data"))
    assert r.returncode == 2, r.stderr
    assert "%s:3: slow_subs.threshold" % conf in r.stderr


SLOW = "slow_subs {\n  enable = true\n  threshold = 100ms\n  top_k_num = 10\n}\n"


def slow_list(broker):
    return get_json(broker, "/api/v5/slow_subscriptions")["data"]


def test_a_late_acknowledgement_is_listed_and_a_prompt_one_is_not(make_broker):
    b = make_broker(config_text=SLOW)
    slow = connected(b, "slow-one", V5)
    slow.subscribe([("slow/t", R.sub_options(qos=1))])
    fast = connected(b, "fast-one", V5)
    fast.subscribe([("slow/t", R.sub_options(qos=1))])
    qos0 = connected(b, "qos0-one", V5)
    qos0.subscribe([("slow/t", R.sub_options(qos=0))])
    pub = connected(b, "slow-pub", V5)
    pub.publish("slow/t", b"m", qos=1, pid=1)
    fast.ack(fast.recv_publishes(1)[0])
    qos0.recv_publishes(1)
    p = slow.recv_publishes(1)[0]
    time.sleep(0.4)
    slow.ack(p)
    rows = wait_for(lambda: slow_list(b) or None, 3)
    assert rows, "nothing listed"
    assert [(r["clientid"], r["topic"]) for r in rows] == [("slow-one", "slow/t")]
    r = rows[0]
    # The broker reads a coarse clock (CLOCK_MONOTONIC_COARSE: a 4 ms tick here, and a
    # tickless idle CPU may be later still): a few ms less than the client slept.
    assert 390 <= r["timespan"] < 5000, r
    assert r["node"] == "emqx@127.0.0.1"
    assert abs(r["last_update_time"] - time.time() * 1000) < 10000
    doc = get_json(b, "/api/v5/slow_subscriptions?page=1&limit=5")
    assert doc["meta"]["count"] == 1
    assert call(b, "DELETE", "/api/v5/slow_subscriptions")[0] == 204
    assert slow_list(b) == []


def test_slow_subs_settings_change_at_run_time_and_are_kept(make_broker):
    b = make_broker()
    s = get_json(b, "/api/v5/slow_subscriptions/settings")
    assert s == {"enable": False, "threshold": "500ms", "expire_interval": "300s",
                 "top_k_num": 10, "stats_type": "whole"}
    # Off: nothing is recorded however late the acknowledgement.
    sub = connected(b, "late-off", V5)
    sub.subscribe([("late/t", R.sub_options(qos=1))])
    pub = connected(b, "late-pub", V5)
    pub.publish("late/t", b"1", qos=1, pid=1)
    p = sub.recv_publishes(1)[0]
    time.sleep(0.6)
    sub.ack(p)
    time.sleep(0.2)
    assert slow_list(b) == []
    assert_error(*call(b, "PUT", "/api/v5/slow_subscriptions/settings", {"threshold": "50ms"}),
                 400, "BAD_REQUEST")
    assert_error(*call(b, "PUT", "/api/v5/slow_subscriptions/settings", {"top_k_num": 0}),
                 400, "BAD_REQUEST")
    assert_error(*call(b, "PUT", "/api/v5/slow_subscriptions/settings", {"stats_type": "x"}),
                 400, "BAD_REQUEST")
    status, _, body = call(b, "PUT", "/api/v5/slow_subscriptions/settings",
                           {"enable": True, "threshold": "100ms", "stats_type": "response"})
    assert status == 200, body
    pub.publish("late/t", b"2", qos=1, pid=2)
    p = sub.recv_publishes(1)[0]
    time.sleep(0.3)
    sub.ack(p)
    rows = wait_for(lambda: slow_list(b) or None, 3)
    assert rows and rows[0]["clientid"] == "late-off" and rows[0]["timespan"] >= 290
    b.stop()
    b.start()
    s = get_json(b, "/api/v5/slow_subscriptions/settings")
    assert s["enable"] is True and s["threshold"] == "100ms" and s["stats_type"] == "response"
    # Switched off, the records go.
    assert call(b, "PUT", "/api/v5/slow_subscriptions/settings", {"enable": False})[0] == 200
    assert slow_list(b) == []
