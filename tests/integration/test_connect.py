"""CONNECT and CONNACK, keep alive and takeover (MQTT 3.1.1 and 5.0 sections 3.1, 3.2,
3.1.4, 3.12, 4.12, 4.13; MQTT 3.1.1 sections 3.1, 3.2).

Byte-level exchanges use rawmqtt, so the exact CONNACK/DISCONNECT bytes and the moment the
broker closes the connection are observed directly.
"""
import time

import pytest

import rawmqtt as R
from rawmqtt import RawClient, connected, V31, V311, V5

VERSIONS = [pytest.param(V311, id="v311"), pytest.param(V5, id="v5")]


def closed_without_accept(c, timeout=3.0):
    """The broker closes the connection; whatever it sent first is no CONNACK 0x00."""
    pkts = c.expect_closed(timeout)
    assert not any(p.type == R.CONNACK and p.code == 0 for p in pkts), pkts
    return pkts


# ---------------------------------------------------------------- CONNACK basics

def test_v311_connack_is_byte_exact_MQTT_3_2_2_1(broker):
    """[MQTT-3.2.0-1] CONNACK is the first packet; 3.1.1 CONNACK is exactly 20 02 00 00
    for a clean session (Session Present 0 [MQTT-3.2.2-1])."""
    c = RawClient(broker, V311)
    c.send(R.connect("exact311", version=V311))
    assert c.recv().raw == b"\x20\x02\x00\x00"
    assert c.ping().raw == b"\xd0\x00"  # [MQTT-3.12.4-1]


def test_v5_connack_success(broker):
    """[MQTT-3.2.0-1] CONNACK 0x00 with Session Present 0 for Clean Start 1 [MQTT-3.2.2-2]."""
    c = RawClient(broker, V5)
    ack = c.connect("exact5")
    assert ack.session_present is False and ack.code == 0
    assert "assigned_client_identifier" not in ack.props
    assert c.ping().raw == b"\xd0\x00"


def test_v31_mqisdp_level3_accepted(broker):
    """MQTT 3.1 ("MQIsdp", level 3) is accepted and served like 3.1.1."""
    c = RawClient(broker, V31)
    c.send(R.connect("old31", version=V31))
    assert c.recv().raw == b"\x20\x02\x00\x00"
    assert c.subscribe([("v31/t", 1)]) == [1]
    c.publish("v31/t", b"hello", qos=1)
    p = c.wait_for(R.PUBLISH)
    assert (p.topic, p.payload, p.qos) == ("v31/t", b"hello", 1)


@pytest.mark.parametrize("name,level", [("MQTT", 6), ("MQTT", 2), ("MQTT", 3), ("MQIsdp", 4)])
def test_unknown_protocol_level_MQTT_3_1_2_2(broker, name, level):
    """[MQTT-3.1.2-2] an unsupported Protocol Level: CONNACK return code 0x01
    (unacceptable protocol version), then the connection is closed."""
    c = RawClient(broker, V311)
    c.send(R.connect("lvl", version=level, protocol_name=name))
    pkts = c.expect_closed(3)
    assert [p.raw for p in pkts] == [b"\x20\x02\x00\x01"]


def test_wrong_protocol_name_closed_MQTT_3_1_2_1(broker):
    """[MQTT-3.1.2-1] a protocol name other than "MQTT": the server does not accept the
    connection (it MAY disconnect, it must not process it as MQTT)."""
    c = RawClient(broker, V311)
    c.send(R.connect("name", version=4, protocol_name="MQTX"))
    closed_without_accept(c)


@pytest.mark.parametrize("version", VERSIONS)
def test_reserved_connect_flag_closes_MQTT_3_1_2_3(broker, version):
    """[MQTT-3.1.2-3] the reserved flag of CONNECT is 0; if not, the packet is malformed
    and the connection is closed without accepting it."""
    c = RawClient(broker, version)
    c.send(R.connect("rsv", version=version, flags_override=0x03))
    closed_without_accept(c)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("case", [
    "will_qos_without_will",    # [MQTT-3.1.2-11] (3.1.1 [MQTT-3.1.2-13])
    "will_retain_without_will",  # [MQTT-3.1.2-13] (3.1.1 [MQTT-3.1.2-15])
    "will_qos_3",               # [MQTT-3.1.2-12] (3.1.1 [MQTT-3.1.2-14])
    "username_flag_no_username",  # [MQTT-3.1.2-17] (3.1.1 [MQTT-3.1.2-19])
    "trailing_bytes",
    "client_id_bad_utf8",       # [MQTT-1.5.4-1]
])
def test_malformed_connect_closes(broker, version, case):
    """A CONNECT that does not follow section 3.1 is malformed: the connection is closed
    and never accepted [MQTT-3.1.4-1]."""
    if case == "will_qos_without_will":
        data = R.connect("m", version=version, flags_override=0x02 | 0x08)
    elif case == "will_retain_without_will":
        data = R.connect("m", version=version, flags_override=0x02 | 0x20)
    elif case == "will_qos_3":
        data = R.connect("m", version=version, will={"topic": "w", "payload": b"x"},
                         flags_override=0x02 | 0x04 | 0x18)
    elif case == "username_flag_no_username":
        data = R.connect("m", version=version, flags_override=0x02 | 0x80)
    elif case == "trailing_bytes":
        good = R.connect("m", version=version)
        data = R.packet(R.CONNECT, 0, good[2:] + b"\x00\x01")
    else:
        good = R.connect("mm", version=version)
        data = good[:-2] + b"\xc0\x80"  # overlong NUL: not valid UTF-8
    c = RawClient(broker, version)
    c.send(data)
    closed_without_accept(c)


def test_v311_password_without_username_closes_MQTT_3_1_2_22(broker):
    """3.1.1 [MQTT-3.1.2-22]: the password flag needs the user name flag."""
    c = RawClient(broker, V311)
    c.send(R.connect("pw", version=V311, flags_override=0x02 | 0x40))
    closed_without_accept(c)


@pytest.mark.parametrize("first", ["pingreq", "publish", "subscribe", "disconnect"])
def test_first_packet_not_connect_closes_MQTT_3_1_0_1(broker, first):
    """[MQTT-3.1.0-1] the first packet from the client must be CONNECT; otherwise the
    connection is closed and nothing is sent back."""
    data = {"pingreq": R.pingreq(),
            "publish": R.publish("a/b", b"x", version=V311),
            "subscribe": R.subscribe(1, [("a/b", 0)], version=V311),
            "disconnect": R.disconnect(version=V311)}[first]
    c = RawClient(broker, V311)
    c.send(data)
    assert c.expect_closed(3) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_second_connect_is_protocol_error_MQTT_3_1_0_2(broker, version):
    """[MQTT-3.1.0-2] a second CONNECT is a Protocol Error: v5 DISCONNECT 0x82, 3.1.1
    close (no DISCONNECT exists from the server there)."""
    c = connected(broker, "twice", version)
    c.send(R.connect("twice", version=version))
    pkts = c.expect_closed(3)
    if version == V5:
        assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x82)]
    else:
        assert pkts == []


# ---------------------------------------------------------------- client identifiers

def test_v311_empty_client_id_clean_session_accepted_MQTT_3_1_3_6(broker):
    """[MQTT-3.1.3-6]/[MQTT-3.1.3-7] a zero-length ClientId with CleanSession=1 is
    accepted and given a unique id; the client works."""
    c = RawClient(broker, V311)
    c.send(R.connect("", version=V311, clean=True))
    assert c.recv().raw == b"\x20\x02\x00\x00"
    assert c.subscribe([("anon/t", 0)]) == [0]
    c.publish("anon/t", b"p")
    assert c.wait_for(R.PUBLISH).payload == b"p"


def test_v311_empty_client_id_persistent_rejected_MQTT_3_1_3_8(broker):
    """[MQTT-3.1.3-8] a zero-length ClientId with CleanSession=0: CONNACK return code 0x02
    (identifier rejected) and the connection is closed [MQTT-3.2.2-5]."""
    c = RawClient(broker, V311)
    c.send(R.connect("", version=V311, clean=False))
    assert [p.raw for p in c.expect_closed(3)] == [b"\x20\x02\x00\x02"]


def test_v5_empty_client_id_assigned_MQTT_3_2_2_16(broker):
    """[MQTT-3.1.3-6] a zero-length ClientId is given a unique one, returned in the
    Assigned Client Identifier property [MQTT-3.2.2-16]; it works as the client's id."""
    ids = []
    for _ in range(3):
        c = RawClient(broker, V5)
        ack = c.connect("", clean=True)
        cid = ack.props.get("assigned_client_identifier")
        assert cid, ack
        ids.append(cid)
    assert len(set(ids)) == 3
    # The assigned id is the session's id: reconnecting with it takes over the last one.
    again = RawClient(broker, V5)
    assert again.connect(ids[-1]).code == 0
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x8E)]


def test_v5_empty_client_id_clean_start_0_accepted(make_broker):
    """v5 3.1.3.1: a zero-length ClientId is allowed whatever Clean Start is; the
    server assigns one (no rule like 3.1.1's [MQTT-3.1.3-8] remains)."""
    b = make_broker()
    c = RawClient(b, V5)
    ack = c.connect("", clean=False)
    assert ack.session_present is False
    assert ack.props.get("assigned_client_identifier")


def test_23_char_alnum_client_id_accepted_MQTT_3_1_3_5(broker):
    """[MQTT-3.1.3-5] the server MUST allow ClientIds of 1 to 23 of [0-9a-zA-Z]."""
    cid = "abcdefghijKLMNOPQRST012"
    assert len(cid) == 23
    for v in (V311, V5):
        c = RawClient(broker, v)
        assert c.connect(cid, version=v).code == 0
        c.disconnect()


@pytest.mark.parametrize("version", VERSIONS)
def test_client_id_longer_than_max_clientid_len(make_broker, version):
    """mqtt.max_clientid_len: a longer id is refused with v5 CONNACK 0x85 / 3.1.1 return
    code 0x02 [MQTT-3.1.3-9] (Session Present 0 on refusal [MQTT-3.2.2-6]), then closed."""
    b = make_broker(env={"EMQX_MQTT__MAX_CLIENTID_LEN": "23"})  # EMQX's minimum
    ok = RawClient(b, version)
    assert ok.connect("x" * 23).code == 0
    c = RawClient(b, version)
    c.send(R.connect("y" * 24, version=version))
    pkts = c.expect_closed(3)
    assert len(pkts) == 1 and pkts[0].type == R.CONNACK
    assert pkts[0].session_present is False
    assert pkts[0].code == (0x85 if version == V5 else 0x02)


# ---------------------------------------------------------------- v5 CONNACK properties

def test_v5_connack_properties_as_configured(make_broker):
    """3.2.2.3: the CONNACK properties tell the limits configured: Receive Maximum
    (mqtt.max_awaiting_rel), Maximum QoS [MQTT-3.2.2-9], Retain Available, Maximum Packet
    Size, Topic Alias Maximum, Wildcard and Shared Subscription Available."""
    b = make_broker(env={
        "EMQX_MQTT__MAX_AWAITING_REL": "7",
        "EMQX_MQTT__MAX_QOS_ALLOWED": "1",
        "EMQX_MQTT__RETAIN_AVAILABLE": "false",
        "EMQX_MQTT__MAX_PACKET_SIZE": "4096",
        "EMQX_MQTT__MAX_TOPIC_ALIAS": "9",
        "EMQX_MQTT__WILDCARD_SUBSCRIPTION": "false",
        "EMQX_MQTT__SHARED_SUBSCRIPTION": "false",
    })
    p = RawClient(b, V5).connect("props").props
    assert p["receive_maximum"] == 7
    assert p["maximum_qos"] == 1
    assert p["retain_available"] == 0
    assert p["maximum_packet_size"] == 4096
    assert p["topic_alias_maximum"] == 9
    assert p["wildcard_subscription_available"] == 0
    assert p["shared_subscription_available"] == 0
    assert "server_keep_alive" not in p


def test_v5_connack_properties_defaults(broker):
    """With the defaults: QoS 2 and retain are available, so Maximum QoS and Retain
    Available are absent (absent means supported, 3.2.2.3.4/5); Maximum Packet Size is
    mqtt.max_packet_size (1MB); Topic Alias Maximum 65535; Receive Maximum 100."""
    p = RawClient(broker, V5).connect("defaults").props
    assert "maximum_qos" not in p
    assert p.get("retain_available", 1) == 1
    assert p["maximum_packet_size"] == 1024 * 1024
    assert p["topic_alias_maximum"] == 65535
    assert p["receive_maximum"] == 100
    assert p.get("wildcard_subscription_available", 1) == 1
    assert p.get("shared_subscription_available", 1) == 1


@pytest.mark.parametrize("case", [
    "receive_maximum_0", "maximum_packet_size_0", "session_expiry_twice",
    "request_problem_information_2", "topic_alias_in_connect", "auth_data_without_method"])
def test_v5_connect_property_errors(broker, case):
    """3.1.2.11: Receive Maximum 0, Maximum Packet Size 0, a property twice, Request
    Problem Information other than 0/1, Authentication Data without Authentication
    Method are Protocol Errors; a property not defined for CONNECT is malformed
    (2.2.2.2). The connection is not accepted (a CONNACK, if any, has a code >= 0x80)
    and is closed."""
    props = {
        "receive_maximum_0": R.varint(0x21) + R.u16(0),
        "maximum_packet_size_0": R.varint(0x27) + R.u32(0),
        "session_expiry_twice": (R.varint(0x11) + R.u32(10)) * 2,
        "request_problem_information_2": R.varint(0x17) + b"\x02",
        "topic_alias_in_connect": R.varint(0x23) + R.u16(1),
        "auth_data_without_method": R.varint(0x16) + R.binary(b"x"),
    }[case]
    c = RawClient(broker, V5)
    c.send(R.connect("cprop", version=V5, props=props))
    pkts = closed_without_accept(c)
    assert all(p.type == R.CONNACK and p.code >= 0x80 for p in pkts), pkts


def test_v5_response_information_only_when_requested_MQTT_3_1_2_28(make_broker):
    """mqtt.response_information: returned in CONNACK only to a client that asked with
    Request Response Information 1; 0 or absent means the server MUST NOT return it
    [MQTT-3.1.2-28]."""
    b = make_broker(env={"EMQX_MQTT__RESPONSE_INFORMATION": "replies/"})
    asked = RawClient(b, V5).connect("ri1", props={"request_response_information": 1})
    assert asked.props.get("response_information") == "replies/"
    assert "response_information" not in RawClient(b, V5).connect("ri0").props
    not_asked = RawClient(b, V5).connect("ri00", props={"request_response_information": 0})
    assert "response_information" not in not_asked.props


def test_v5_request_problem_information_0_MQTT_3_1_2_29(broker):
    """[MQTT-3.1.2-29] Request Problem Information 0: no Reason String or User Property
    on packets other than PUBLISH, CONNACK and DISCONNECT (SUBACK with a failure,
    UNSUBACK 0x11, PUBACK/PUBREC 0x10, PUBCOMP 0x92 here)."""
    c = RawClient(broker, V5)
    c.connect("rpi0", props={"request_problem_information": 0})
    c.send(R.subscribe(1, [("a/#/b", 1), ("ok/t", 1)]))
    acks = [c.expect(R.SUBACK)]
    c.send(R.unsubscribe(2, ["never"]))
    acks.append(c.expect(R.UNSUBACK))
    c.send(R.publish("nobody", b"x", qos=1, pid=3))
    acks.append(c.expect(R.PUBACK))
    c.send(R.publish("nobody", b"x", qos=2, pid=4))
    acks.append(c.expect(R.PUBREC))
    c.send(R.pubrel(9))
    acks.append(c.expect(R.PUBCOMP))
    assert [a.codes if a.type in (R.SUBACK, R.UNSUBACK) else a.code for a in acks] == [
        [0x8F, 1], [0x11], 0x10, 0x10, 0x92]
    for a in acks:
        assert "reason_string" not in a.props and "user_property" not in a.props, a


# ---------------------------------------------------------------- keep alive

@pytest.mark.parametrize("version", VERSIONS)
def test_silent_client_disconnected_after_1_5_keepalive_MQTT_3_1_2_24(broker, version):
    """[MQTT-3.1.2-24] no packet within 1.5 x Keep Alive: the server disconnects; v5 sends
    DISCONNECT 0x8D (Keep Alive timeout) first."""
    c = RawClient(broker, version)
    c.connect("silent", keepalive=1)
    t0 = time.monotonic()
    pkts = c.expect_closed(4)
    elapsed = time.monotonic() - t0
    assert 1.0 <= elapsed <= 3.0, elapsed
    if version == V5:
        assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x8D)]
    else:
        assert pkts == []


@pytest.mark.parametrize("version", VERSIONS)
def test_pinging_client_stays_MQTT_3_1_2_23(broker, version):
    """A client that sends PINGREQ within the Keep Alive stays connected; every PINGREQ
    gets a PINGRESP [MQTT-3.12.4-1]."""
    c = RawClient(broker, version)
    c.connect("pinger", keepalive=1)
    deadline = time.monotonic() + 2.4
    n = 0
    while time.monotonic() < deadline:
        assert c.ping(timeout=1.0).raw == b"\xd0\x00"
        n += 1
        time.sleep(0.4)
    assert n >= 4
    assert c.is_open(0.2)


def test_publishing_client_stays(broker):
    """Any control packet resets the keep alive timer, not only PINGREQ (3.1.2.10)."""
    c = RawClient(broker, V311)
    c.connect("pubber", keepalive=1)
    for i in range(6):
        c.send(R.publish("ka/x", b"%d" % i, version=V311))
        time.sleep(0.4)
    assert c.is_open(0.2)


def test_v5_server_keepalive_overrides_MQTT_3_2_2_21(make_broker):
    """mqtt.server_keepalive: CONNACK carries Server Keep Alive and the client must use it
    [MQTT-3.2.2-21]; the server enforces it (1 s here, the client asked 60 s)."""
    b = make_broker(env={"EMQX_MQTT__SERVER_KEEPALIVE": "1"})
    c = RawClient(b, V5)
    ack = c.connect("srvka", keepalive=60)
    assert ack.props["server_keep_alive"] == 1
    t0 = time.monotonic()
    pkts = c.expect_closed(4)
    assert 1.0 <= time.monotonic() - t0 <= 3.0
    assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x8D)]


def test_max_keepalive_caps_what_clients_ask(make_broker):
    """mqtt.max_keepalive (mosquitto's max_keepalive): an MQTT 5 client asking for more,
    or for 0 (none), is told the maximum in CONNACK (Server Keep Alive, which it must use
    [MQTT-3.2.2-21]) and the server holds it to that; one asking for less keeps its own
    and gets no Server Keep Alive. MQTT 3.1.1 cannot be told, so such a client is refused
    (return code 2, identifier rejected), as mosquitto does."""
    b = make_broker(env={"EMQX_MQTT__MAX_KEEPALIVE": "60"})
    for asked in (120, 0):
        c = RawClient(b, V5)
        assert c.connect("mka-%d" % asked, keepalive=asked).props.get("server_keep_alive") == 60
        c.close()
    for asked in (2, 5, 60):
        c = RawClient(b, V5)
        assert "server_keep_alive" not in c.connect("mka-%d" % asked, keepalive=asked).props
        c.close()
    # Held to the cap: a v5 client that asked for 2 s and goes silent is closed after 3 s.
    c = RawClient(b, V5)
    c.connect("mka-short", keepalive=2)
    t0 = time.monotonic()
    assert [(p.type, p.code) for p in c.expect_closed(6)] == [(R.DISCONNECT, 0x8D)]
    assert 2.5 <= time.monotonic() - t0 <= 5.0
    c = RawClient(b, V311)
    assert c.connect("mka-v3", keepalive=120, expect_code=None).code == 2
    c.expect_closed(3)
    c = RawClient(b, V311)
    c.connect("mka-v3-ok", keepalive=30)
    assert c.is_open(0.2)


def test_keepalive_zero_never_times_out(make_broker):
    """Keep Alive 0 turns the mechanism off (3.1.2.10): a silent client stays."""
    b = make_broker(env={"EMQX_MQTT__IDLE_TIMEOUT": "1s"})
    c = RawClient(b, V5)
    c.connect("ka0", keepalive=0)
    assert c.is_open(1.6)


def test_idle_timeout_closes_connection_without_connect(make_broker):
    """mqtt.idle_timeout: a TCP connection that sends no CONNECT is closed (3.1.4: the
    server SHOULD close a connection that sends no CONNECT within a reasonable time)."""
    b = make_broker(env={"EMQX_MQTT__IDLE_TIMEOUT": "1s"})
    silent = RawClient(b, V5)
    partial = RawClient(b, V5)
    partial.send(R.connect("partial", version=V5)[:5])
    t0 = time.monotonic()
    assert silent.expect_closed(4) == []
    assert partial.expect_closed(2) == []
    assert 0.8 <= time.monotonic() - t0 <= 3.5
    ok = RawClient(b, V5)
    assert ok.connect("after-idle").code == 0


# ---------------------------------------------------------------- authentication

def test_v5_unknown_authentication_method_MQTT_4_12_0_1(broker):
    """[MQTT-4.12.0-1] an Authentication Method the server does not support: CONNACK 0x8C
    (Bad authentication method) or 0x87, then the connection is closed."""
    c = RawClient(broker, V5)
    c.send(R.connect("scram", version=V5, props={"authentication_method": "SCRAM-SHA-1",
                                                  "authentication_data": b"abc"}))
    pkts = c.expect_closed(3)
    assert [(p.type, p.code) for p in pkts] == [(R.CONNACK, 0x8C)]
    assert pkts[0].session_present is False


def test_v5_auth_packet_without_method_is_protocol_error(broker):
    """[MQTT-3.15.2-1]/4.12: AUTH only belongs to an exchange started by an Authentication
    Method in CONNECT; otherwise it is a Protocol Error: DISCONNECT 0x82."""
    c = connected(broker, "authpkt", V5)
    c.send(R.auth(0x19, {"authentication_method": "X"}))
    assert [(p.type, p.code) for p in c.expect_closed(3)] == [(R.DISCONNECT, 0x82)]


# ---------------------------------------------------------------- session present

@pytest.mark.parametrize("version", VERSIONS)
def test_session_present_flag_MQTT_3_2_2_2_and_3(broker, version):
    """[MQTT-3.2.2-2] Clean Start 1 -> Session Present 0; [MQTT-3.2.2-3] Clean Start 0 ->
    Session Present 1 if a session exists, 0 otherwise."""
    kw = {"props": {"session_expiry_interval": 60}} if version == V5 else {}

    def conn(clean):
        c = RawClient(broker, version)
        ack = c.connect("sp-%d" % version, clean=clean, **kw)
        c.disconnect()
        return ack.session_present

    assert conn(False) is False     # no session yet
    assert conn(False) is True      # the one just made
    assert conn(True) is False      # discarded [MQTT-3.1.2-4]
    if version == V5:
        assert conn(False) is True  # Clean Start 1 made a new session that outlived it
    else:
        # 3.1.1 [MQTT-3.1.2-6]: a CleanSession=1 session ends with its connection.
        assert conn(False) is False
        assert conn(False) is True


# ---------------------------------------------------------------- takeover

@pytest.mark.parametrize("version", VERSIONS)
def test_takeover_same_and_cross_worker_MQTT_3_1_4_3(make_broker, version):
    """[MQTT-3.1.4-3] (3.1.1 [MQTT-3.1.4-2]): a connection with a client id already
    connected makes the server disconnect the existing one (v5: DISCONNECT 0x8E Session
    taken over [MQTT-3.1.4-3]) and close it; the new one works.

    A chain of connections with one client id: each takes over from the one before. The
    broker logs the worker of every connection that takes over, so once two of them are
    known, consecutive ones tell whether a takeover crossed io threads. The chain goes on
    until both a same-worker and a cross-worker takeover happened (2 io threads,
    SO_REUSEPORT spreads the connections)."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    cid = "chain-%d" % version
    prev = connected(b, cid, version)
    kinds = set()
    for n in range(1, 60):
        cur = RawClient(b, version)
        ack = cur.connect(cid, clean=True)
        assert ack.session_present is False
        pkts = prev.expect_closed(3)
        if version == V5:
            assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x8E)]
        else:
            assert pkts == []
        topic = "tk/%d" % n
        assert cur.subscribe([(topic, 1)]) == [1]
        assert cur.publish(topic, b"m%d" % n, qos=1).code == 0
        p = cur.wait_for(R.PUBLISH)
        assert (p.topic, p.payload, p.qos) == (topic, b"m%d" % n, 1)
        cur.ack(p)
        prev = cur
        workers = b.takeover_workers(cid)
        assert len(workers) == n, "expected %d takeover log lines, got %r" % (n, workers)
        kinds = {"same" if a == c else "cross" for a, c in zip(workers, workers[1:])}
        if kinds == {"same", "cross"}:
            break
    assert kinds == {"same", "cross"}, kinds


def test_takeover_many_pairs_concurrently(make_broker):
    """Ten takeovers at once over both io threads: every first connection gets 0x8E and
    is closed, every second one works."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    firsts = [connected(b, "multi-%d" % i, V5) for i in range(10)]
    seconds = [RawClient(b, V5) for _ in range(10)]
    for i, s in enumerate(seconds):
        s.send(R.connect("multi-%d" % i, version=V5))
    for s in seconds:
        assert s.expect(R.CONNACK).code == 0
    for f in firsts:
        assert [(p.type, p.code) for p in f.expect_closed(3)] == [(R.DISCONNECT, 0x8E)]
    for i, s in enumerate(seconds):
        assert s.subscribe([("multi/%d" % i, 0)]) == [0]
    for i, s in enumerate(seconds):
        s.publish("multi/%d" % i, b"%d" % i)
    for i, s in enumerate(seconds):
        p = s.wait_for(R.PUBLISH)
        assert (p.topic, p.payload) == ("multi/%d" % i, b"%d" % i)


def test_ping_just_inside_one_and_a_half_keepalive_stays(broker):
    """Packets every 1.25 s with Keep Alive 1 s stay within 1.5 x Keep Alive
    [MQTT-3.1.2-22]: the server must not disconnect."""
    c = RawClient(broker, V5)
    c.connect("edge-pinger", keepalive=1)
    for _ in range(3):
        assert c.is_open(1.25)
        c.ping(timeout=1.0)
    assert c.is_open(0.1)


def test_v5_assigned_client_id_keeps_persistent_session(broker):
    """A session created under an Assigned Client Identifier [MQTT-3.1.3-7] with Session
    Expiry > 0 is found again by reconnecting with that identifier (Session Present 1)
    and keeps its subscription."""
    c = RawClient(broker, V5)
    ack = c.connect("", clean=False, props={"session_expiry_interval": 60})
    cid = ack.props["assigned_client_identifier"]
    c.subscribe([("assigned/t", 1)])
    c.disconnect()
    c = RawClient(broker, V5)
    assert c.connect(cid, clean=False, props={"session_expiry_interval": 60}).session_present
    p = connected(broker, "assigned-pub", V5)
    p.publish("assigned/t", b"x", qos=1)
    assert c.wait_for(R.PUBLISH).payload == b"x"


# ---------------------------------------------------------------- pipelining

@pytest.mark.parametrize("version", VERSIONS)
def test_packets_pipelined_after_connect(make_broker, version):
    """A client may send packets right after CONNECT without waiting for CONNACK
    (3.1.4): CONNECT + SUBSCRIBE + PUBLISH (QoS 1) + PINGREQ in one write are all
    processed, in order, also when the CONNECT takes over a session held on either io
    thread (Clean Start 0). CONNACK comes first; SUBACK, PUBACK and PINGRESP answer in
    the order of their requests, and the message is delivered."""
    b = make_broker(env={"EMQX_NODE__IO_THREADS": "2"})
    kw = {"props": {"session_expiry_interval": 60}} if version == V5 else {}
    holder = None
    for i in range(12):
        data = (R.connect("pipe", version=version, clean=False, **kw)
                + R.subscribe(1, [("pipe/%d" % i, 1)], version=version)
                + R.publish("pipe/%d" % i, b"m%d" % i, qos=1, pid=7, version=version)
                + R.pingreq())
        c = RawClient(b, version)
        c.send(data)
        ack = c.expect(R.CONNACK)
        assert ack.code == 0 and ack.session_present is (i > 0)
        rest = [c.recv() for _ in range(4)]
        kinds = [p.type for p in rest]
        assert sorted(kinds) == sorted([R.SUBACK, R.PUBACK, R.PUBLISH, R.PINGRESP]), rest
        assert kinds.index(R.SUBACK) < kinds.index(R.PUBACK) < kinds.index(R.PINGRESP)
        assert rest[kinds.index(R.SUBACK)].codes == [1]
        msg = next(p for p in rest if p.type == R.PUBLISH)
        assert (msg.topic, msg.payload) == ("pipe/%d" % i, b"m%d" % i)
        c.ack(msg)
        # The PUBACK must be handled before the next connection takes the session over,
        # or the message is (rightly) resent to it with DUP: a PINGRESP proves it was.
        c.send(R.pingreq())
        c.expect(R.PINGRESP)
        if holder is not None:
            holder.expect_closed(3)
        holder = c


def test_keepalive_multiplier_config(make_broker):
    """mqtt.keepalive_multiplier=3 (EMQX's knob for the 1.5 of [MQTT-3.1.2-22]): a silent
    client with Keep Alive 1 s is still connected after 2.2 s and is disconnected (v5
    DISCONNECT 0x8D) by about 3 s."""
    b = make_broker(env={"EMQX_MQTT__KEEPALIVE_MULTIPLIER": "3"})
    c = RawClient(b, V5)
    c.connect("mult", keepalive=1)
    t0 = time.monotonic()
    assert c.is_open(2.2)
    pkts = c.expect_closed(3)
    assert 2.6 <= time.monotonic() - t0 <= 4.5
    assert [(p.type, p.code) for p in pkts] == [(R.DISCONNECT, 0x8D)]
