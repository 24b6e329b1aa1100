"""Alarms (api/alarms.hpp, app/sysmon.hpp), made to happen for real: memory over a
watermark set low enough that emqxd trips it, a listener at its max_connections, a full
disk under node.data_dir. Each is seen in GET /api/v5/alarms (EMQX's fields and paging)
and on $SYS/brokers/<node>/alarms/activate, and, where the test can undo the cause, seen to
clear (deactivate, ?activated=false, DELETE /api/v5/alarms). The cluster member that goes
down is in tests/cluster/test_alarms.py.
"""
import json
import os
import time

import pytest

from conftest import wait_for
from mqttc import Client, V5
from test_api import call, get_json
from test_durable_diskfull import fill, small_disk  # noqa: F401  (a fixture)
from test_prometheus import families, value

NODE = "emqx@127.0.0.1"
# The first check comes one interval after start: the watcher subscribes meanwhile.
FAST = {"EMQX_SYSMON__OS__MEM_CHECK_INTERVAL": "2s"}


def alarms(broker, activated=None, **params):
    q = dict(params)
    if activated is not None:
        q["activated"] = "true" if activated else "false"
    path = "/api/v5/alarms" + ("?" + "&".join("%s=%s" % kv for kv in q.items()) if q else "")
    return get_json(broker, path)


def names(doc):
    return [a["name"] for a in doc["data"]]


def active(broker, name):
    return name in names(alarms(broker, True))


def sys_watch(broker, cid="alarm-watch"):
    w = Client(broker, cid, V5)
    w.subscribe("$SYS/brokers/+/alarms/#", qos=0)
    return w


def sys_alarm(watch, kind, name, timeout=10):
    """The first $SYS alarms/<kind> message about `name`, parsed."""
    topic = "$SYS/brokers/%s/alarms/%s" % (NODE, kind)

    def find():
        for m in watch.wait_messages(1, 0.1):
            if m.topic == topic:
                doc = json.loads(m.payload)
                if doc["name"] == name:
                    return doc
        return None
    doc = wait_for(find, timeout)
    assert doc, "no %s of %s on %s; got %r" % (
        kind, name, topic, [(m.topic, m.payload) for m in watch.messages])
    return doc


def test_system_memory_over_its_watermark(make_broker):
    # 1% of the machine's memory is in use on any machine running these tests.
    b = make_broker(env=dict(FAST, EMQX_SYSMON__OS__SYSMEM_HIGH_WATERMARK="1%"))
    w = sys_watch(b)
    assert wait_for(lambda: active(b, "high_system_memory_usage"), 10), alarms(b)
    a = [x for x in alarms(b, True)["data"] if x["name"] == "high_system_memory_usage"][0]
    assert a["node"] == NODE and a["activated"] is True
    assert a["deactivate_at"] == "infinity"
    assert a["details"]["high_watermark"] == 1
    assert a["details"]["usage"] > 1
    assert "1%" in a["message"]
    assert isinstance(a["duration"], int) and a["duration"] >= 0
    assert a["activate_at"].endswith("+00:00") and "T" in a["activate_at"]
    doc = sys_alarm(w, "activate", "high_system_memory_usage")
    assert doc["activated"] is True and doc["deactivate_at"] == "infinity"
    assert isinstance(doc["activate_at"], int)
    # Raised once, not every check.
    time.sleep(2.5)
    assert names(alarms(b, True)).count("high_system_memory_usage") == 1
    assert [json.loads(m.payload)["name"] for m in w.messages
            if m.topic.endswith("/activate")].count("high_system_memory_usage") == 1


def test_process_memory_over_its_watermark(make_broker):
    """emqxd's resident memory is made to grow past a watermark set 40 MB above what it
    holds idle, by retained messages kept in memory (durable sessions off). Not seen to
    clear: freed heap stays resident (glibc keeps most of it in its arenas), so nothing a
    test does brings the process back under for sure; clearing is the same code as the
    system alarm's and the listener's (app/sysmon.cpp)."""
    probe = make_broker(env={"EMQX_DURABLE_SESSIONS__ENABLE": "false"})
    fams = families(probe)
    rss, total = value(fams, "process_resident_memory_bytes"), value(fams, "emqx_vm_total_memory")
    probe.stop()
    margin = 40 << 20
    watermark = 100.0 * (rss + margin) / total
    b = make_broker(env=dict(FAST, EMQX_DURABLE_SESSIONS__ENABLE="false",
                             EMQX_SYSMON__OS__PROCMEM_HIGH_WATERMARK="%.6f%%" % watermark))
    w = sys_watch(b)
    time.sleep(2.5)
    assert not active(b, "high_process_memory_usage"), (rss, total, alarms(b))
    pub = Client(b, "big-retainer", V5)
    payload = b"m" * (1000 << 10)
    for i in range(100):  # ~100 MB
        pub.publish("big/%d" % i, payload, qos=1, retain=True)
    assert wait_for(lambda: active(b, "high_process_memory_usage"), 10), \
        (value(families(b), "process_resident_memory_bytes"), rss + margin, alarms(b))
    on = sys_alarm(w, "activate", "high_process_memory_usage")
    assert on["details"]["high_watermark"] == pytest.approx(watermark, abs=0.01)
    assert on["details"]["usage"] > on["details"]["high_watermark"]
    a = [x for x in alarms(b, True)["data"] if x["name"] == "high_process_memory_usage"][0]
    assert a["message"].startswith("Process memory usage is higher than")


def test_listener_at_its_max_connections_and_back(make_broker):
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MAX_CONNECTIONS": "4"})
    name = "listener_connections_high/tcp:default"
    w = sys_watch(b, "w")  # one of the four
    clients = []
    for i in range(2):
        c = Client(b, "c%d" % i, V5)
        clients.append(c)
    time.sleep(1.5)
    assert not active(b, name)  # 3 of 4: under 90%
    c = Client(b, "c3", V5)
    clients.append(c)
    assert wait_for(lambda: active(b, name), 5), alarms(b)
    a = [x for x in alarms(b, True)["data"] if x["name"] == name][0]
    assert a["details"] == {"listener": "tcp:default", "connections": 4, "max_connections": 4}
    sys_alarm(w, "activate", name)
    clients.pop().disconnect()  # 3 of 4: under 80%, cleared
    assert wait_for(lambda: not active(b, name), 5), alarms(b)
    sys_alarm(w, "deactivate", name)
    assert name in names(alarms(b, False))
    assert name in names(alarms(b))  # all: the deactivated one too


def test_paging_and_delete(make_broker):
    b = make_broker(env={"EMQX_LISTENERS__TCP__DEFAULT__MAX_CONNECTIONS": "1"})
    name = "listener_connections_high/tcp:default"
    for i in range(3):  # three activations, three deactivations
        c = Client(b, "p%d" % i, V5)
        assert wait_for(lambda: active(b, name), 5)
        c.disconnect()
        assert wait_for(lambda: not active(b, name), 5)
    doc = alarms(b, False, page=1, limit=2)
    assert doc["meta"] == {"page": 1, "limit": 2, "count": 3, "hasnext": True}
    assert len(doc["data"]) == 2
    doc2 = alarms(b, False, page=2, limit=2)
    assert len(doc2["data"]) == 1 and doc2["meta"]["hasnext"] is False
    status, _, body = call(b, "GET", "/api/v5/alarms?activated=maybe")
    assert status == 400 and json.loads(body)["code"] == "BAD_REQUEST"
    status, _, _ = call(b, "DELETE", "/api/v5/alarms")
    assert status == 204
    assert alarms(b, False)["data"] == []
    assert alarms(b)["meta"]["count"] == 0
    # A viewer may read the list, not clear it (the API's roles).
    status, _, _ = call(b, "DELETE", "/api/v5/alarms", auth=None)
    assert status == 401


def test_durable_storage_error_on_a_full_disk_and_back(make_broker, small_disk):  # noqa: F811
    from durable_support import DURABLE_ENV, connect_persistent
    from rawmqtt import connected
    import rawmqtt as R
    mnt, brokers = small_disk
    b = make_broker(env=dict(DURABLE_ENV, EMQX_NODE__DATA_DIR=str(mnt / "data"),
                             EMQX_DURABLE_STORAGE__ROCKSDB__WRITE_BUFFER_SIZE="1MB"))
    brokers.append(b)
    w = sys_watch(b)
    sub = connect_persistent(b, "disk-sub")
    assert sub.subscribe([("disk/#", 1)]) == [1]
    sub.disconnect()
    pub = connected(b, "disk-pub", R.V5)
    payload = b"d" * (16 << 10)
    seq = [0]

    def publish_one():
        seq[0] += 1
        return pub.publish("disk/t", payload, qos=1, pid=seq[0] % 65535 + 1).code
    assert publish_one() == 0
    assert not active(b, "durable_storage_error")
    filler = str(mnt / "filler")
    fill(filler)
    refused = False
    for _ in range(3000):
        if publish_one() == 0x97:
            refused = True
            break
    assert refused, "the disk never filled"
    assert wait_for(lambda: active(b, "durable_storage_error"), 5), alarms(b)
    a = [x for x in alarms(b, True)["data"] if x["name"] == "durable_storage_error"][0]
    assert a["details"]["health"] == "no_space"
    assert a["details"]["path"].endswith("/rocksdb")
    sys_alarm(w, "activate", "durable_storage_error")
    os.unlink(filler)
    assert wait_for(lambda: publish_one() == 0, 15), "the store did not recover"
    assert wait_for(lambda: not active(b, "durable_storage_error"), 5), alarms(b)
    sys_alarm(w, "deactivate", "durable_storage_error")
