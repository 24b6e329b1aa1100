"""Topic rewrite (EMQX's rewrite = [...], server/session/rewrite.hpp) through a real emqxd:
PUBLISH topics and SUBSCRIBE/UNSUBSCRIBE filters rewritten with the regex's captures and
the client's placeholders, by the last matching rule as EMQX does; a bad rule stops
start-up naming the file, line and key."""
import json

import rawmqtt as R
from rawmqtt import connected, V5, V311
from test_api import assert_error, call, get_json
from test_startup import base_env, run

RULES = r'''
rewrite = [
  {action = publish, source_topic = "x/#", dest_topic = "z/y/$1", re = "^x/y/(.+)$"}
  {action = subscribe, source_topic = "s/#", dest_topic = "t/${clientid}/$2/$1",
   re = "^s/(\\w+)/(\\w+)$"}
  {action = all, source_topic = "o/#", dest_topic = "first/$1", re = "^o/(.+)$"}
  {action = all, source_topic = "o/+", dest_topic = "second/${username}/$1", re = "^o/(.+)$"}
]
'''


def publishes(c, settle):
    return [p for p in c.recv_all(settle) if p.type == R.PUBLISH]


def test_publish_topics_are_rewritten_with_captures(make_broker):
    b = make_broker(config_text=RULES)
    sub = connected(b, "rw-sub", V5)
    sub.subscribe([("z/#", R.sub_options(qos=1)), ("x/#", R.sub_options(qos=1))])
    pub = connected(b, "rw-pub", V311)
    pub.publish("x/y/hello/there", b"1", qos=1, pid=1)
    p = sub.wait_for(R.PUBLISH)
    assert (p.topic, p.payload) == ("z/y/hello/there", b"1")
    # The filter matches, the regex does not: the topic stays as it is (no later rule).
    pub.publish("x/other", b"2", qos=1, pid=2)
    p = sub.wait_for(R.PUBLISH)
    assert (p.topic, p.payload) == ("x/other", b"2")
    assert publishes(sub, 0.3) == []


def test_the_last_matching_rule_wins_and_placeholders_fill_in(make_broker):
    b = make_broker(config_text=RULES)
    sub = connected(b, "order-sub", V5)
    sub.subscribe([("first/#", 1), ("second/#", 1)])
    pub = connected(b, "order-pub", V5, username="ann")
    pub.publish("o/k", b"a", qos=1, pid=1)  # both rules match: EMQX takes the last
    assert sub.wait_for(R.PUBLISH).topic == "second/ann/k"
    pub.publish("o/k/m", b"b", qos=1, pid=2)  # only the first matches
    assert sub.wait_for(R.PUBLISH).topic == "first/k/m"
    # No username: ${username} stays as written, as EMQX leaves it.
    anon = connected(b, "order-anon", V5)
    anon.publish("o/q", b"c", qos=1, pid=3)
    assert sub.wait_for(R.PUBLISH).topic == "second/${username}/q"


def test_subscribe_and_unsubscribe_filters_are_rewritten(make_broker):
    b = make_broker(config_text=RULES)
    sub = connected(b, "c1", V5)
    assert sub.subscribe([("s/a/b", R.sub_options(qos=1)),
                          ("$share/g/s/c/d", R.sub_options(qos=1))]) == [1, 1]
    subs = get_json(b, "/api/v5/clients/c1/subscriptions")
    assert sorted(s["topic"] for s in subs) == ["$share/g/t/c1/d/c", "t/c1/b/a"]
    pub = connected(b, "c1-pub", V5)
    pub.publish("t/c1/b/a", b"in", qos=1, pid=1)
    assert sub.wait_for(R.PUBLISH).payload == b"in"
    # A publish to the filter as the client wrote it does not match (publish rules do not
    # touch s/...).
    pub.publish("s/a/b", b"no", qos=1, pid=2)
    assert publishes(sub, 0.3) == []
    assert sub.unsubscribe(["s/a/b"]) == [0]
    assert [s["topic"] for s in get_json(b, "/api/v5/clients/c1/subscriptions")] == \
        ["$share/g/t/c1/d/c"]


def test_the_api_shows_the_rules_and_refuses_changes(make_broker):
    b = make_broker(config_text=RULES)
    rules = get_json(b, "/api/v5/mqtt/topic_rewrite")
    assert rules[0] == {"action": "publish", "source_topic": "x/#", "dest_topic": "z/y/$1",
                        "re": "^x/y/(.+)$"}
    assert len(rules) == 4 and rules[1]["re"] == r"^s/(\w+)/(\w+)$"
    assert_error(*call(b, "PUT", "/api/v5/mqtt/topic_rewrite", []), 400, "UPDATE_FAILED")


def test_bad_rules_stop_start_up_naming_file_line_and_key(tmp_path):
    conf = tmp_path / "emqx.conf"
    for text, line, key, what in [
        ('rewrite = [\n  {action = all, source_topic = "a/#", dest_topic = "b",\n'
         '   re = "^a/(.+"}\n]\n', 3, "rewrite[1].re", "not a valid regular expression"),
        ('rewrite = [{action = all, source_topic = "a/#/b", dest_topic = "b", re = "x"}]\n',
         1, "rewrite[1].source_topic", "not a valid topic filter"),
        ('rewrite = [{action = all, source_topic = "a", dest_topic = "b", re = "x"},\n'
         '  {action = both, source_topic = "a", dest_topic = "b", re = "x"}]\n',
         2, "rewrite[2].action", ""),
        ('rewrite = [{action = all, source_topic = "a", re = "x"}]\n',
         1, "rewrite[1].dest_topic", "required"),
    ]:
        conf.write_text(text)
        r = run(["start", "-c", str(conf)], base_env(tmp_path / "data"))
        assert r.returncode == 2, r.stderr
        assert ("emqxd: config error: %s:%d: %s: %s" % (conf, line, key, what)) in r.stderr, \
            r.stderr
