"""An MQTT-SN 1.2 client for the tests, written from the specification (MQTT For Sensor
Networks, Protocol Specification Version 1.2, section 5), since Debian has none.

Messages are built and parsed byte by byte as section 5 lays them out; `SnClient` sends
them over UDP to the gateway and waits (bounded) for what comes back. It answers nothing on
its own: a test decides each REGACK and PUBACK, so the gateway's side of every exchange is
seen as it is.
"""
import socket
import struct
import time

# 5.3.2: MsgType
ADVERTISE, SEARCHGW, GWINFO = 0x00, 0x01, 0x02
CONNECT, CONNACK = 0x04, 0x05
WILLTOPICREQ, WILLTOPIC, WILLMSGREQ, WILLMSG = 0x06, 0x07, 0x08, 0x09
REGISTER, REGACK = 0x0A, 0x0B
PUBLISH, PUBACK, PUBCOMP, PUBREC, PUBREL = 0x0C, 0x0D, 0x0E, 0x0F, 0x10
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK = 0x12, 0x13, 0x14, 0x15
PINGREQ, PINGRESP, DISCONNECT = 0x16, 0x17, 0x18
WILLTOPICUPD, WILLTOPICRESP, WILLMSGUPD, WILLMSGRESP = 0x1A, 0x1B, 0x1C, 0x1D

# 5.3.10: ReturnCode
ACCEPTED, CONGESTION, INVALID_TOPIC_ID, NOT_SUPPORTED = 0, 1, 2, 3

# 5.3.4: TopicIdType
NORMAL, PREDEFINED, SHORT = 0, 1, 2

_sockets = []


def close_all():
    while _sockets:
        try:
            _sockets.pop().close()
        except OSError:
            pass


def flags(dup=False, qos=0, retain=False, will=False, clean=False, topic_type=NORMAL):
    """5.3.4: DUP(7) QoS(6,5) Retain(4) Will(3) CleanSession(2) TopicIdType(1,0); QoS -1
    is 0b11."""
    q = 3 if qos == -1 else qos
    return ((0x80 if dup else 0) | (q << 5) | (0x10 if retain else 0) | (0x08 if will else 0)
            | (0x04 if clean else 0) | topic_type)


def frame(msg_type, body=b""):
    """5.2.1: Length is one octet, or 0x01 then two octets for 256 octets and more."""
    n = 2 + len(body)
    if n < 256:
        return bytes([n, msg_type]) + body
    return b"\x01" + struct.pack(">H", n + 2) + bytes([msg_type]) + body


def connect(client_id, duration=60, clean=True, will=False):
    return frame(CONNECT, bytes([flags(clean=clean, will=will), 0x01]) +
                 struct.pack(">H", duration) + client_id.encode())


def willtopic(topic, qos=0, retain=False):
    return frame(WILLTOPIC, bytes([flags(qos=qos, retain=retain)]) + topic.encode())


def willmsg(msg):
    return frame(WILLMSG, msg)


def register(topic_id, msg_id, name):
    return frame(REGISTER, struct.pack(">HH", topic_id, msg_id) + name.encode())


def regack(topic_id, msg_id, rc=ACCEPTED):
    return frame(REGACK, struct.pack(">HHB", topic_id, msg_id, rc))


def topic_field(topic):
    """A PUBLISH's two-octet topic: an int id, or a two-character short name."""
    return topic.encode() if isinstance(topic, str) else struct.pack(">H", topic)


def publish(topic, data, qos=0, msg_id=0, topic_type=NORMAL, retain=False, dup=False):
    return frame(PUBLISH, bytes([flags(dup=dup, qos=qos, retain=retain, topic_type=topic_type)]) +
                 topic_field(topic) + struct.pack(">H", msg_id) + data)


def puback(topic_id, msg_id, rc=ACCEPTED):
    return frame(PUBACK, struct.pack(">HHB", topic_id, msg_id, rc))


def pubrec(msg_id):
    return frame(PUBREC, struct.pack(">H", msg_id))


def pubrel(msg_id):
    return frame(PUBREL, struct.pack(">H", msg_id))


def pubcomp(msg_id):
    return frame(PUBCOMP, struct.pack(">H", msg_id))


def subscribe(topic, msg_id, qos=0, topic_type=NORMAL):
    t = topic.encode() if topic_type == NORMAL else topic_field(topic)
    return frame(SUBSCRIBE, bytes([flags(qos=qos, topic_type=topic_type)]) +
                 struct.pack(">H", msg_id) + t)


def unsubscribe(topic, msg_id, topic_type=NORMAL):
    t = topic.encode() if topic_type == NORMAL else topic_field(topic)
    return frame(UNSUBSCRIBE, bytes([flags(topic_type=topic_type)]) + struct.pack(">H", msg_id) + t)


def pingreq(client_id=""):
    return frame(PINGREQ, client_id.encode())


def disconnect(duration=None):
    return frame(DISCONNECT, b"" if duration is None else struct.pack(">H", duration))


def searchgw(radius=0):
    return frame(SEARCHGW, bytes([radius]))


def willtopicupd(topic, qos=0, retain=False):
    if topic is None:
        return frame(WILLTOPICUPD)
    return frame(WILLTOPICUPD, bytes([flags(qos=qos, retain=retain)]) + topic.encode())


def willmsgupd(msg):
    return frame(WILLMSGUPD, msg)


class Msg:
    """A decoded message: `type`, and the fields its type has."""

    def __init__(self, msg_type, **fields):
        self.type = msg_type
        self.__dict__.update(fields)

    def __repr__(self):
        return "Msg(%s)" % ", ".join("%s=%r" % kv for kv in sorted(self.__dict__.items()))


def decode(data):
    """One datagram -> Msg; asserts the Length is the datagram's (5.2.1)."""
    if data[0] == 0x01:
        n = struct.unpack(">H", data[1:3])[0]
        t, body = data[3], data[4:]
    else:
        n, t, body = data[0], data[1], data[2:]
    assert n == len(data), "Length %d of a %d-octet datagram" % (n, len(data))
    if t == GWINFO:
        return Msg(t, gw_id=body[0], gw_add=body[1:])
    if t == ADVERTISE:
        return Msg(t, gw_id=body[0], duration=struct.unpack(">H", body[1:3])[0])
    if t == CONNACK or t in (WILLTOPICRESP, WILLMSGRESP):
        return Msg(t, rc=body[0])
    if t in (WILLTOPICREQ, WILLMSGREQ, PINGRESP):
        assert body == b"", body
        return Msg(t)
    if t == REGISTER:
        tid, mid = struct.unpack(">HH", body[:4])
        return Msg(t, topic_id=tid, msg_id=mid, name=body[4:].decode())
    if t == REGACK:
        tid, mid, rc = struct.unpack(">HHB", body)
        return Msg(t, topic_id=tid, msg_id=mid, rc=rc)
    if t == PUBLISH:
        f = body[0]
        q = (f >> 5) & 3
        tt = f & 3
        topic = body[1:3].decode() if tt == SHORT else struct.unpack(">H", body[1:3])[0]
        return Msg(t, dup=bool(f & 0x80), qos=-1 if q == 3 else q, retain=bool(f & 0x10),
                   topic_type=tt, topic=topic, msg_id=struct.unpack(">H", body[3:5])[0],
                   data=body[5:])
    if t == PUBACK:
        tid, mid, rc = struct.unpack(">HHB", body)
        return Msg(t, topic_id=tid, msg_id=mid, rc=rc)
    if t in (PUBREC, PUBREL, PUBCOMP, UNSUBACK):
        assert len(body) == 2, body
        return Msg(t, msg_id=struct.unpack(">H", body)[0])
    if t == SUBACK:
        f = body[0]
        tid, mid, rc = struct.unpack(">HHB", body[1:])
        return Msg(t, qos=(f >> 5) & 3, topic_id=tid, msg_id=mid, rc=rc)
    if t == DISCONNECT:
        return Msg(t, duration=struct.unpack(">H", body)[0] if body else None)
    raise AssertionError("unexpected message type 0x%02x: %r" % (t, data))


class SnClient:
    """One UDP socket talking to the gateway at (host, port)."""

    def __init__(self, host, port, timeout=5.0, source="127.0.0.1"):
        self.addr = (host, port)
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((source, 0))
        _sockets.append(self.sock)
        self.pending = []

    def send(self, data):
        self.sock.sendto(bytes(data), self.addr)

    def recv(self, timeout=None):
        """The next message (waiting at most `timeout`); AssertionError when none came."""
        if self.pending:
            return self.pending.pop(0)
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data, _ = self.sock.recvfrom(65536)
        except socket.timeout:
            raise AssertionError("no datagram from the gateway in time")
        return decode(data)

    def expect(self, msg_type, timeout=None):
        m = self.recv(timeout)
        assert m.type == msg_type, "expected 0x%02x, got %r" % (msg_type, m)
        return m

    def wait_for(self, msg_type, timeout=None):
        """The next message of `msg_type`; the others read past are kept for recv()."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        skipped = []
        try:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no 0x%02x in time (got %r)" % (msg_type, skipped))
                m = self.recv(left) if not self.pending else self.pending.pop(0)
                if m.type == msg_type:
                    return m
                skipped.append(m)
        finally:
            self.pending = skipped + self.pending

    def recv_all(self, settle=0.3):
        """Everything that arrives until nothing has for `settle` seconds."""
        out = list(self.pending)
        self.pending = []
        while True:
            try:
                out.append(self.recv(settle))
            except AssertionError:
                return out

    # --- conveniences
    def connect(self, client_id, duration=60, clean=True, will=None):
        """CONNECT (with the will dialogue when `will` = (topic, msg, qos, retain));
        returns the CONNACK's return code."""
        self.send(connect(client_id, duration, clean, will is not None))
        if will is not None:
            self.expect(WILLTOPICREQ)
            topic, msg, qos, retain = will
            self.send(willtopic(topic, qos, retain))
            self.expect(WILLMSGREQ)
            self.send(willmsg(msg))
        return self.expect(CONNACK).rc

    def register(self, name, msg_id=1):
        """REGISTER; returns the REGACK."""
        self.send(register(0, msg_id, name))
        return self.wait_for(REGACK)

    def subscribe(self, topic, msg_id=1, qos=0, topic_type=NORMAL):
        self.send(subscribe(topic, msg_id, qos, topic_type))
        return self.wait_for(SUBACK)

    def close(self):
        self.sock.close()


def connected(port, client_id, host="127.0.0.1", **kw):
    c = SnClient(host, port)
    assert c.connect(client_id, **kw) == ACCEPTED
    return c
