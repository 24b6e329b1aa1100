"""Log traces through EMQX's API (/api/v5/trace; session/trace.hpp): traces by client id, by
topic and by address see the packets of what they match (read back through /log and
/download), stop writing when stopped or at end_at, go when deleted; bounds (30 traces,
trace.max_file_size) and bad requests answered as EMQX does. Real paho clients."""
import io
import json
import os
import stat
import time
import zipfile

import mqttc
from conftest import wait_for
from test_api import assert_error, call, get_json

TRACE = "/api/v5/trace"
NODE = "emqx@127.0.0.1"


def create(b, want=200, **body):
    status, headers, data = call(b, "POST", TRACE, body=body)
    assert status == want, (status, data)
    return json.loads(data) if data else None


def log_of(b, name, position=0, nbytes=1000000):
    doc = get_json(b, "%s/%s/log?bytes=%d&position=%d" % (TRACE, name, nbytes, position))
    assert set(doc) == {"items", "meta"}, doc
    return doc


def text_of(b, name):
    return log_of(b, name)["items"]


def download(b, name):
    status, headers, data = call(b, "GET", "%s/%s/download" % (TRACE, name))
    assert status == 200, (status, data)
    assert headers["content-type"] == "application/x-zip"
    assert "attachment" in headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        names = z.namelist()
        assert len(names) == 1 and names[0].startswith(NODE + "-trace_" + name), names
        assert z.testzip() is None
        return z.read(names[0]).decode()


def trace_file(b, name):
    d = os.path.join(b.dir, "data", "trace")
    files = [f for f in os.listdir(d) if f.startswith("trace_%s_" % name)]
    assert len(files) == 1, os.listdir(d)
    return os.path.join(d, files[0])


def test_clientid_trace_sees_the_clients_packets(make_broker):
    b = make_broker()
    t = create(b, name="by-client", type="clientid", clientid="traced")
    assert t["name"] == "by-client" and t["type"] == "clientid" and t["clientid"] == "traced"
    assert t["status"] == "running"
    assert t["payload_encode"] == "text" and t["formatter"] == "text"
    assert t["log_size"] == {NODE: 0}

    sub = mqttc.Client(b, "traced")
    sub.subscribe("tr/#", qos=1)
    other = mqttc.Client(b, "not-traced")
    other.subscribe("other/#")
    other.publish("tr/x", b"hello-payload", qos=1)
    assert len(sub.wait_messages(1)) == 1
    sub.disconnect()

    def seen():
        text = text_of(b, "by-client")
        return all(p in text for p in ("CONNECT(", "CONNACK(", "SUBSCRIBE(", "SUBACK(",
                                         "PUBLISH(Q1", "hello-payload", "PUBACK(",
                                         "DISCONNECT(", "connection_closed"))
    assert wait_for(seen, 5.0), text_of(b, "by-client")
    text = text_of(b, "by-client")
    assert "mqtt_packet_received" in text and "mqtt_packet_sent" in text
    assert "authentication_success" in text
    assert "authorization_permission_allowed" in text and "topic: tr/#" in text
    assert "traced@127.0.0.1:" in text
    # Only this client: the other one's subscription is not there.
    assert "other/#" not in text and "not-traced" not in text
    # The whole file, through the download, says the same; the file is 0600.
    assert download(b, "by-client") == text
    assert stat.S_IMODE(os.stat(trace_file(b, "by-client")).st_mode) == 0o600
    # log_size and log_detail report this node's file.
    size = len(text.encode())
    listed = get_json(b, TRACE)
    assert [t["name"] for t in listed] == ["by-client"]
    assert listed[0]["log_size"] == {NODE: size}
    detail = get_json(b, TRACE + "/by-client/log_detail")
    assert len(detail) == 1 and detail[0]["node"] == NODE and detail[0]["size"] == size
    assert abs(detail[0]["mtime"] - time.time()) < 60


def test_log_reads_in_chunks_with_position(make_broker):
    b = make_broker()
    create(b, name="chunks", type="clientid", clientid="c1")
    c = mqttc.Client(b, "c1")
    for i in range(5):
        c.publish("t/%d" % i, b"x" * 50, qos=1)
    c.disconnect()
    # The trace is complete once the server has logged the connection's end (the client's
    # disconnect() returns before that, and a slow build shows it).
    deadline = time.monotonic() + 10
    whole = download(b, "chunks")
    while "connection_closed" not in whole and time.monotonic() < deadline:
        time.sleep(0.05)
        whole = download(b, "chunks")
    assert "connection_closed" in whole, whole[-500:]
    got, position = "", 0
    for _ in range(100):
        doc = log_of(b, "chunks", position, 100)
        assert doc["meta"]["bytes"] == 100
        assert doc["meta"]["position"] == position + len(doc["items"].encode())
        got += doc["items"]
        position = doc["meta"]["position"]
        if doc["meta"].get("hint") == "eof":
            break
    assert got == whole


def test_topic_trace_sees_publishes_and_subscribes_on_matching_topics(make_broker):
    b = make_broker()
    create(b, name="by-topic", type="topic", topic="sensors/+/temp", payload_encode="hex")
    sub = mqttc.Client(b, "s1")
    sub.subscribe("sensors/#")
    sub.subscribe("sensors/kitchen/temp")
    sub.subscribe("lights/#")
    pub = mqttc.Client(b, "p1")
    pub.publish("sensors/kitchen/temp", b"AB", qos=1)
    pub.publish("lights/kitchen", b"on", qos=1)
    pub.publish("sensors/kitchen/humidity", b"55", qos=1)
    assert len(sub.wait_messages(3)) >= 3

    def seen():
        text = text_of(b, "by-topic")
        return text.count("Topic=sensors/kitchen/temp") >= 2  # in and out
    assert wait_for(seen, 5.0), text_of(b, "by-topic")
    text = text_of(b, "by-topic")
    assert "Payload=4142" in text  # hex
    assert "sensors/kitchen/temp(qos=0)" in text
    assert "lights" not in text and "humidity" not in text
    assert "CONNECT(" not in text  # a topic trace sees no connections


def test_ip_address_trace_sees_only_clients_from_that_address(make_broker):
    b = make_broker()
    create(b, name="by-ip", type="ip_address", ip_address="127.0.0.2",
           payload_encode="hidden", formatter="json")
    near = mqttc.Client(b, "from-2", bind_address="127.0.0.2")
    near.publish("ip/t", b"secret", qos=1)
    far = mqttc.Client(b, "from-1", bind_address="127.0.0.1")
    far.publish("ip/t", b"secret", qos=1)
    near.disconnect()
    far.disconnect()
    assert wait_for(lambda: "connection_closed" in text_of(b, "by-ip"), 5.0)
    lines = [json.loads(l) for l in text_of(b, "by-ip").splitlines()]
    assert lines and all(l["clientid"] == "from-2" for l in lines), lines
    assert all(l["peername"].startswith("127.0.0.2:") for l in lines)
    packets = [l.get("packet", "") for l in lines]
    assert any(p.startswith("PUBLISH(Q1") and p.endswith("Payload=******)") for p in packets)
    assert not any("secret" in json.dumps(l) for l in lines)


def test_stop_and_delete(make_broker):
    b = make_broker()
    create(b, name="stopme", type="clientid", clientid="c")
    c = mqttc.Client(b, "c")
    c.publish("a", b"before", qos=1)
    assert wait_for(lambda: "before" in text_of(b, "stopme"), 5.0)
    status, _, data = call(b, "PUT", TRACE + "/stopme/stop")
    assert status == 200 and json.loads(data) == {"enable": False, "name": "stopme"}
    assert get_json(b, TRACE)[0]["status"] == "stopped"
    size = len(download(b, "stopme"))
    c.publish("a", b"after", qos=1)
    time.sleep(0.3)
    text = download(b, "stopme")
    assert len(text) == size and "after" not in text
    path = trace_file(b, "stopme")
    status, _, _ = call(b, "DELETE", TRACE + "/stopme")
    assert status == 204
    assert not os.path.exists(path)
    assert get_json(b, TRACE) == []
    assert_error(*call(b, "DELETE", TRACE + "/stopme"), 404, "NOT_FOUND")
    assert_error(*call(b, "PUT", TRACE + "/stopme/stop"), 404, "NOT_FOUND")
    assert_error(*call(b, "GET", TRACE + "/stopme/log"), 404, "NOT_FOUND")
    assert_error(*call(b, "GET", TRACE + "/stopme/download"), 404, "NOT_FOUND")
    # DELETE /trace: every one.
    create(b, name="one", type="clientid", clientid="x")
    create(b, name="two", type="topic", topic="#")
    status, _, _ = call(b, "DELETE", TRACE)
    assert status == 204
    assert get_json(b, TRACE) == []


def test_end_at_is_honoured_and_start_at_waits(make_broker):
    b = make_broker()
    now = int(time.time())
    create(b, name="short", type="clientid", clientid="c", end_at=now + 2)
    t = create(b, name="later", type="clientid", clientid="c2",
               start_at=time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 3600)))
    assert t["status"] == "waiting"
    assert t["end_at"] == time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(now + 4200))
    c = mqttc.Client(b, "c")
    c.publish("a", b"early", qos=1)
    assert wait_for(lambda: "early" in text_of(b, "short"), 5.0)
    assert wait_for(lambda: {t["name"]: t["status"] for t in get_json(b, TRACE)}["short"] ==
                    "stopped", 5.0)
    # The node closes the file within a second of end_at, and says so.
    assert wait_for(lambda: "trace short stopped" in b.read_log(), 5.0)
    c.publish("a", b"late", qos=1)
    time.sleep(0.3)
    assert "late" not in text_of(b, "short")
    # A waiting trace reads as empty.
    assert log_of(b, "later")["items"] == ""


def test_trace_file_is_bounded(make_broker):
    b = make_broker(env={"EMQX_TRACE__MAX_FILE_SIZE": "8KB"})
    create(b, name="big", type="clientid", clientid="c", payload_limit=0)
    c = mqttc.Client(b, "c")
    for _ in range(40):
        c.publish("a", b"y" * 500, qos=1)
    time.sleep(0.3)
    text = download(b, "big")
    assert len(text.encode()) <= 8 * 1024
    assert text.endswith("trace file reached trace.max_file_size: nothing more is written\n")
    assert os.path.getsize(trace_file(b, "big")) <= 8 * 1024


def test_at_most_30_traces(make_broker):
    b = make_broker()
    for i in range(30):
        create(b, name="t%d" % i, type="clientid", clientid="c%d" % i)
    assert_error(*call(b, "POST", TRACE, body={"name": "t30", "type": "clientid",
                                               "clientid": "c30"}), 400, "EXCEED_LIMIT")
    assert len(get_json(b, TRACE)) == 30


def test_bad_requests(make_broker):
    b = make_broker()

    def bad(body, status=400, code="BAD_REQUEST"):
        return assert_error(*call(b, "POST", TRACE, body=body), status, code)
    bad({"name": "x", "type": "ruleid", "ruleid": "r"})
    bad({"name": "x", "type": "nope", "clientid": "c"})
    bad({"name": "1x", "type": "clientid", "clientid": "c"})
    bad({"name": "a b", "type": "clientid", "clientid": "c"})
    bad({"name": "x" * 257, "type": "clientid", "clientid": "c"})
    bad({"type": "clientid", "clientid": "c"})
    bad({"name": "x", "type": "clientid"})
    bad({"name": "x", "type": "clientid", "clientid": "c", "start_at": "yesterday"})
    bad({"name": "x", "type": "clientid", "clientid": "c", "payload_encode": "base64"})
    bad({"name": "x", "type": "clientid", "clientid": "c", "formatter": "xml"})
    bad({"name": "x", "type": "clientid", "clientid": "c", "end_at": 1000, "start_at": 2000})
    bad({"name": "x", "type": "clientid", "clientid": "c", "end_at": 1000, "start_at": 10},
        400, "INVALID_PARAMS")
    bad({"name": "x", "type": "topic", "topic": "a/#/b"}, 400, "INVALID_PARAMS")
    bad({"name": "x", "type": "ip_address", "ip_address": "300.1.1.1"}, 400, "INVALID_PARAMS")
    status, _, _ = call(b, "POST", TRACE, body="not json")
    assert status == 400
    assert get_json(b, TRACE) == []
    create(b, name="dup", type="clientid", clientid="c")
    bad({"name": "dup", "type": "clientid", "clientid": "d"}, 409, "ALREADY_EXISTS")
    bad({"name": "dup2", "type": "clientid", "clientid": "c"}, 409, "DUPLICATE_CONDITION")
    # Without credentials, nothing.
    status, _, _ = call(b, "GET", TRACE, auth=None)
    assert status == 401
    status, _, _ = call(b, "POST", TRACE, body={"name": "y", "type": "topic", "topic": "#"},
                        auth=None)
    assert status == 401


def test_traces_survive_a_restart(make_broker):
    b = make_broker()
    create(b, name="kept", type="clientid", clientid="c")
    c = mqttc.Client(b, "c")
    c.publish("a", b"first-life", qos=1)
    c.disconnect()
    assert wait_for(lambda: "first-life" in text_of(b, "kept"), 5.0)
    create(b, name="gone", type="clientid", clientid="g")
    status, _, _ = call(b, "DELETE", TRACE + "/gone")
    assert status == 204
    assert b.stop() == 0
    b.start()
    assert [t["name"] for t in get_json(b, TRACE)] == ["kept"]
    c = mqttc.Client(b, "c")
    c.publish("a", b"second-life", qos=1)
    c.disconnect()
    # The same file goes on.
    assert wait_for(lambda: "second-life" in text_of(b, "kept"), 5.0)
    assert "first-life" in text_of(b, "kept")
