"""Gateways over a cluster (docs/gateways.md): an MQTT-SN, CoAP or LwM2M client on one node is
an MQTT client to the whole cluster. What it publishes reaches subscribers on other nodes; what
another node's client publishes reaches it, and waits for it while it sleeps, until it
wakes; every node's API lists it as a gateway client."""
import json
import socket

from cluster_support import poll
import lwm2m as L  # tests/integration, on the path cluster_support sets
import mqttsn as SN  # tests/integration, on the path cluster_support sets
from ports import free_udp_port  # tests/integration, on the path cluster_support sets


def test_an_mqttsn_client_on_one_node_talks_to_mqtt_clients_on_another(cluster):
    port = free_udp_port()
    c = cluster(2, node_env={1: {"EMQX_GATEWAY__MQTTSN__LISTENERS__UDP__DEFAULT__BIND":
                                 "127.0.0.1:%d" % port}})
    try:
        sub = c.client(2, "m-sub", version=4)
        sub.subscribe("sn/#", qos=1)
        c.wait_routed("sn/#", on=[1], via=2)
        sn = SN.connected(port, "sn-1", clean=False)
        tid = sn.register("sn/temp").topic_id
        sn.send(SN.publish(tid, b"21.5", qos=1, msg_id=1))
        assert sn.expect(SN.PUBACK).rc == SN.ACCEPTED
        sub.expect_messages([("sn/temp", b"21.5")])

        # Asleep, it misses nothing a client of node 2 sends it.
        down = sn.subscribe("down/sn-1", msg_id=2, qos=1).topic_id
        c.wait_routed("down/sn-1", on=[2], via=1)
        sn.send(SN.disconnect(duration=60))
        sn.expect(SN.DISCONNECT)
        c.client(2, "m-pub", version=4).publish("down/sn-1", b"cmd", qos=1)
        assert sn.recv_all(0.5) == []

        def queued():
            cl = c.node(2).api("GET", "/api/v5/clients/sn-1")
            return cl.get("mqueue_len") == 1, cl
        done, cl, _, _ = poll(queued, 10)
        assert done, cl
        assert cl["proto_name"] == "MQTT-SN" and cl["node"] == c.node(1).name
        sn.send(SN.pingreq("sn-1"))
        m = sn.expect(SN.PUBLISH)
        assert (m.topic, m.data, m.qos) == (down, b"cmd", 1)
        sn.send(SN.puback(m.topic, m.msg_id))
        sn.expect(SN.PINGRESP)

        # Node 2's API lists the gateway and its client on node 1.
        gws = {g["name"]: g for g in c.node(2).api("GET", "/api/v5/gateways")}
        assert gws["mqttsn"]["status"] == "running" and gws["mqttsn"]["current_connections"] == 1
        page = c.node(2).api("GET", "/api/v5/gateways/mqttsn/clients")
        assert [x["clientid"] for x in page["data"]] == ["sn-1"]
    finally:
        SN.close_all()


def test_a_coap_put_on_one_node_reaches_an_mqtt_subscriber_on_another(cluster):
    import subprocess
    port = free_udp_port()
    c = cluster(2, node_env={1: {"EMQX_GATEWAY__COAP__LISTENERS__UDP__DEFAULT__BIND":
                                 "127.0.0.1:%d" % port}})
    sub = c.client(2, "m-coap-sub", version=4)
    sub.subscribe("coap/#", qos=1)
    c.wait_routed("coap/#", on=[1], via=2)
    r = subprocess.run(["coap-client-notls", "-m", "put", "-B", "5", "-e", "22.5",
                        "coap://127.0.0.1:%d/ps/coap/room1?clientid=coap-1" % port],
                       capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    sub.expect_messages([("coap/room1", b"22.5")])
    # Node 2's API lists the gateway's client on node 1.
    page = c.node(2).api("GET", "/api/v5/gateways/coap/clients")
    assert [(x["clientid"], x["node"]) for x in page["data"]] == [("coap-1", c.node(1).name)]


def test_an_lwm2m_device_on_one_node_answers_commands_from_another(cluster):
    port = free_udp_port()
    c = cluster(2, node_env={1: {"EMQX_GATEWAY__LWM2M__LISTENERS__UDP__DEFAULT__BIND":
                                 "127.0.0.1:%d" % port}})
    try:
        app = c.client(2, "m-app", version=4)
        app.subscribe("lwm2m/dev-x/up/#", qos=1)
        c.wait_routed("lwm2m/dev-x/up/#", on=[1], via=2)
        dev = L.Lwm2mClient(port, "dev-x").start()
        assert dev.register()["code"] == L.CREATED
        reg = app.expect(1)[0]
        assert reg.topic == "lwm2m/dev-x/up/resp" and json.loads(reg.payload)["msgType"] == "register"
        # The device's command subscription is routed to node 2: a command published there
        # becomes its CoAP request on node 1, and the answer comes back.
        c.wait_routed("lwm2m/dev-x/dn/#", on=[2], via=1)
        c.client(2, "m-cmd", version=4).publish(
            "lwm2m/dev-x/dn/cmd",
            json.dumps({"reqID": 5, "msgType": "read", "data": {"path": "/3/0/9"}}), qos=1)
        resp = json.loads(app.expect(2)[1].payload)  # after the registration
        assert resp["reqID"] == 5 and resp["data"]["content"] == [{"path": "/3/0/9", "value": 100}]
        page = c.node(2).api("GET", "/api/v5/gateways/lwm2m/clients")
        assert [(x["clientid"], x["node"]) for x in page["data"]] == [("dev-x", c.node(1).name)]
    finally:
        L.close_all()
