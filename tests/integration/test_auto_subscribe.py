"""Auto subscribe (EMQX's auto_subscribe.topics) through a real emqxd: a client that
connects is subscribed to the configured topics, placeholders filled in, as if it had
sent SUBSCRIBE (no SUBACK), authorized as such, and receives on them."""
import rawmqtt as R
from rawmqtt import connected, V311, V5
from test_api import assert_error, call, get_json

CONF = '''
auto_subscribe {
  topics = [
    {topic = "c/${clientid}", qos = 1}
    {topic = "u/${username}/#", qos = 2, nl = 1}
    {topic = "h/${host}/${port}"}
    {topic = "deny/${clientid}"}
  ]
}
authorization {
  no_match = allow
  sources = [{type = file, path = "ACL"}]
}
'''

ACL = '{deny, all, subscribe, ["deny/#"]}.\n{allow, all}.\n'


def broker_with_acl(make_broker, tmp_path):
    acl = tmp_path / "acl.conf"
    acl.write_text(ACL)
    return make_broker(config_text=CONF.replace("ACL", str(acl)))


def test_a_client_is_subscribed_at_connect_and_receives(make_broker, tmp_path):
    b = broker_with_acl(make_broker, tmp_path)
    c = connected(b, "as1", V5, username="bob")
    port = c.local_port
    subs = {s["topic"]: s for s in get_json(b, "/api/v5/clients/as1/subscriptions")}
    assert set(subs) == {"c/as1", "u/bob/#", "h/127.0.0.1/%d" % port}  # deny/as1 refused
    assert subs["c/as1"]["qos"] == 1 and subs["u/bob/#"]["qos"] == 2
    assert subs["u/bob/#"]["nl"] == 1
    # No SUBACK came: the next packet is the publish.
    pub = connected(b, "as-pub", V311)
    pub.publish("c/as1", b"one", qos=1, pid=1)
    pub.publish("u/bob/x", b"two", qos=2, pid=2)
    pub.publish("h/127.0.0.1/%d" % port, b"three", qos=0)
    pub.publish("deny/as1", b"no", qos=0)
    got = [c.recv(timeout=3) for _ in range(3)]
    assert [(p.type, p.topic, p.payload, p.qos) for p in got] == [
        (R.PUBLISH, "c/as1", b"one", 1), (R.PUBLISH, "u/bob/x", b"two", 2),
        (R.PUBLISH, "h/127.0.0.1/%d" % port, b"three", 0)]
    assert [p for p in c.recv_all(0.3) if p.type == R.PUBLISH] == []


def test_without_a_username_that_topic_is_skipped(make_broker, tmp_path):
    b = broker_with_acl(make_broker, tmp_path)
    connected(b, "as2", V311)
    topics = sorted(s["topic"] for s in get_json(b, "/api/v5/clients/as2/subscriptions"))
    assert topics[0] == "c/as2" and len(topics) == 2 and topics[1].startswith("h/127.0.0.1/")


def test_the_api_shows_the_topics_and_refuses_changes(make_broker, tmp_path):
    b = broker_with_acl(make_broker, tmp_path)
    topics = get_json(b, "/api/v5/mqtt/auto_subscribe")
    assert topics[0] == {"topic": "c/${clientid}", "qos": 1, "rh": 0, "rap": 0, "nl": 0}
    assert len(topics) == 4 and topics[1]["nl"] == 1
    assert_error(*call(b, "PUT", "/api/v5/mqtt/auto_subscribe", []), 400, "UPDATE_FAILED")
