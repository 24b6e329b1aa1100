"""A tiny raw-socket MQTT client for byte-exact tests (MQTT 3.1, 3.1.1 and 5.0).

Packets are built by hand with a small encoder (so a test can also send bytes no real
client would), sent over a plain socket, and the broker's packets are read back and
decoded: fixed header, Remaining Length, and the body of CONNACK, PUBLISH, PUBACK, PUBREC,
PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP, DISCONNECT and AUTH, with v5 reason codes and
properties. Every read has a bounded timeout; `expect_closed` tells that the broker closed
the connection.

    c = RawClient(broker)                     # TCP connect only
    ack = c.connect("cid", version=5, props={"session_expiry_interval": 10})
    c.send(publish("t", b"x", qos=1, pid=1, version=5))
    assert c.recv().type == PUBACK
"""
import socket
import struct
import time

# ---------------------------------------------------------------- packet types

CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP = 1, 2, 3, 4, 5, 6, 7
SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT, AUTH = (
    8, 9, 10, 11, 12, 13, 14, 15)

TYPE_NAMES = {1: "CONNECT", 2: "CONNACK", 3: "PUBLISH", 4: "PUBACK", 5: "PUBREC",
              6: "PUBREL", 7: "PUBCOMP", 8: "SUBSCRIBE", 9: "SUBACK", 10: "UNSUBSCRIBE",
              11: "UNSUBACK", 12: "PINGREQ", 13: "PINGRESP", 14: "DISCONNECT", 15: "AUTH"}

V31, V311, V5 = 3, 4, 5

# ---------------------------------------------------------------- v5 properties

BYTE, U16, U32, VARINT, UTF8, BINARY, PAIR = "byte", "u16", "u32", "varint", "utf8", "bin", "pair"

PROPERTIES = {
    0x01: ("payload_format_indicator", BYTE),
    0x02: ("message_expiry_interval", U32),
    0x03: ("content_type", UTF8),
    0x08: ("response_topic", UTF8),
    0x09: ("correlation_data", BINARY),
    0x0B: ("subscription_identifier", VARINT),
    0x11: ("session_expiry_interval", U32),
    0x12: ("assigned_client_identifier", UTF8),
    0x13: ("server_keep_alive", U16),
    0x15: ("authentication_method", UTF8),
    0x16: ("authentication_data", BINARY),
    0x17: ("request_problem_information", BYTE),
    0x18: ("will_delay_interval", U32),
    0x19: ("request_response_information", BYTE),
    0x1A: ("response_information", UTF8),
    0x1C: ("server_reference", UTF8),
    0x1F: ("reason_string", UTF8),
    0x21: ("receive_maximum", U16),
    0x22: ("topic_alias_maximum", U16),
    0x23: ("topic_alias", U16),
    0x24: ("maximum_qos", BYTE),
    0x25: ("retain_available", BYTE),
    0x26: ("user_property", PAIR),
    0x27: ("maximum_packet_size", U32),
    0x28: ("wildcard_subscription_available", BYTE),
    0x29: ("subscription_identifier_available", BYTE),
    0x2A: ("shared_subscription_available", BYTE),
}
PROPERTY_IDS = {name: (pid, kind) for pid, (name, kind) in PROPERTIES.items()}


class ProtocolViolation(Exception):
    """The broker sent bytes this decoder cannot parse."""


# ---------------------------------------------------------------- encoder

def varint(n):
    if n < 0 or n > 268435455:
        raise ValueError("variable byte integer out of range: %d" % n)
    out = bytearray()
    while True:
        b = n % 128
        n //= 128
        if n:
            b |= 0x80
        out.append(b)
        if not n:
            return bytes(out)


def u16(n):
    return struct.pack("!H", n)


def u32(n):
    return struct.pack("!I", n)


def binary(b):
    if isinstance(b, str):
        b = b.encode()
    return u16(len(b)) + b


def utf8(s):
    return binary(s.encode() if isinstance(s, str) else s)


def encode_properties(props):
    """props: dict of property name -> value. 'user_property' takes a list of (k, v) pairs,
    sent in that order; 'subscription_identifier' takes an int or a list of ints.
    Raw bytes (already encoded properties) may be passed as bytes."""
    if props is None:
        return varint(0)
    if isinstance(props, (bytes, bytearray)):
        return varint(len(props)) + bytes(props)
    body = bytearray()
    for name, value in props.items():
        pid, kind = PROPERTY_IDS[name]
        values = value if (kind == PAIR or (isinstance(value, list) and kind == VARINT)) else [value]
        for v in values:
            body += varint(pid)
            if kind == BYTE:
                body += bytes([v])
            elif kind == U16:
                body += u16(v)
            elif kind == U32:
                body += u32(v)
            elif kind == VARINT:
                body += varint(v)
            elif kind == UTF8:
                body += utf8(v)
            elif kind == BINARY:
                body += binary(v)
            elif kind == PAIR:
                body += utf8(v[0]) + utf8(v[1])
    return varint(len(body)) + bytes(body)


def packet(ptype, flags, body):
    """Fixed header (type, flags, Remaining Length) + body."""
    return bytes([(ptype << 4) | (flags & 0x0F)]) + varint(len(body)) + bytes(body)


def connect(client_id="", version=V5, clean=True, keepalive=60, will=None, username=None,
            password=None, props=None, flags_override=None, protocol_name=None):
    """will: dict(topic=, payload=, qos=0, retain=False, props=None)."""
    name = protocol_name or ("MQIsdp" if version == V31 else "MQTT")
    flags = 0
    if clean:
        flags |= 0x02
    if will is not None:
        flags |= 0x04 | (will.get("qos", 0) << 3) | (0x20 if will.get("retain") else 0)
    if password is not None:
        flags |= 0x40
    if username is not None:
        flags |= 0x80
    if flags_override is not None:
        flags = flags_override
    body = utf8(name) + bytes([version, flags]) + u16(keepalive)
    if version == V5:
        body += encode_properties(props)
    body += utf8(client_id)
    if will is not None:
        if version == V5:
            body += encode_properties(will.get("props"))
        body += utf8(will["topic"]) + binary(will.get("payload", b""))
    if username is not None:
        body += utf8(username)
    if password is not None:
        body += binary(password)
    return packet(CONNECT, 0, body)


def publish(topic, payload=b"", qos=0, retain=False, dup=False, pid=None, props=None,
            version=V5):
    if isinstance(payload, str):
        payload = payload.encode()
    flags = (0x08 if dup else 0) | (qos << 1) | (0x01 if retain else 0)
    body = utf8(topic)
    if qos > 0:
        body += u16(pid if pid is not None else 1)
    if version == V5:
        body += encode_properties(props)
    return packet(PUBLISH, flags, body + payload)


def _pub_response(ptype, flags, pid, code, props, version):
    body = u16(pid)
    if version == V5 and (code != 0 or props):
        body += bytes([code])
        if props:
            body += encode_properties(props)
    return packet(ptype, flags, body)


def puback(pid, code=0, props=None, version=V5):
    return _pub_response(PUBACK, 0, pid, code, props, version)


def pubrec(pid, code=0, props=None, version=V5):
    return _pub_response(PUBREC, 0, pid, code, props, version)


def pubrel(pid, code=0, props=None, version=V5):
    return _pub_response(PUBREL, 0x02, pid, code, props, version)  # [MQTT-3.6.1-1]


def pubcomp(pid, code=0, props=None, version=V5):
    return _pub_response(PUBCOMP, 0, pid, code, props, version)


def sub_options(qos=0, no_local=False, retain_as_published=False, retain_handling=0):
    return (qos | (0x04 if no_local else 0) | (0x08 if retain_as_published else 0)
            | (retain_handling << 4))


def subscribe(pid, filters, props=None, version=V5):
    """filters: list of (filter, options byte) or of filter strings (QoS 0)."""
    body = u16(pid)
    if version == V5:
        body += encode_properties(props)
    for f in filters:
        if isinstance(f, str):
            f = (f, 0)
        body += utf8(f[0]) + bytes([f[1]])
    return packet(SUBSCRIBE, 0x02, body)  # [MQTT-3.8.1-1]


def unsubscribe(pid, filters, props=None, version=V5):
    body = u16(pid)
    if version == V5:
        body += encode_properties(props)
    for f in filters:
        body += utf8(f)
    return packet(UNSUBSCRIBE, 0x02, body)  # [MQTT-3.10.1-1]


def pingreq():
    return packet(PINGREQ, 0, b"")


def disconnect(code=0, props=None, version=V5):
    if version != V5 or (code == 0 and not props):
        return packet(DISCONNECT, 0, b"")
    return packet(DISCONNECT, 0, bytes([code]) + (encode_properties(props) if props else b""))


def auth(code=0, props=None):
    return packet(AUTH, 0, bytes([code]) + encode_properties(props))


# ---------------------------------------------------------------- decoder

class Packet:
    """A decoded packet: `type`, `flags`, `raw` (all its bytes) and the fields of its kind:
    CONNACK session_present, code, props; PUBLISH topic, payload, qos, retain, dup, pid,
    props; PUBACK..PUBCOMP pid, code, props; SUBACK/UNSUBACK pid, codes, props;
    DISCONNECT/AUTH code, props. `props` is a dict by property name; 'user_property' is
    the list of pairs in wire order and 'subscription_identifier' the list of ids."""

    def __init__(self, ptype, flags, raw):
        self.type = ptype
        self.flags = flags
        self.raw = raw
        self.props = {}
        self.code = 0
        self.pid = None

    def __repr__(self):
        fields = {k: v for k, v in self.__dict__.items() if k not in ("raw", "type", "flags")}
        return "<%s flags=%#x %s>" % (TYPE_NAMES.get(self.type, self.type), self.flags, fields)


class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ProtocolViolation("truncated: need %d bytes at %d of %d" % (n, self.pos, len(self.data)))
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack("!H", self.take(2))[0]

    def u32(self):
        return struct.unpack("!I", self.take(4))[0]

    def varint(self):
        mult, value = 1, 0
        for _ in range(4):
            b = self.u8()
            value += (b & 0x7F) * mult
            if not b & 0x80:
                return value
            mult *= 128
        raise ProtocolViolation("variable byte integer longer than 4 bytes")

    def binary(self):
        return self.take(self.u16())

    def utf8(self):
        return self.binary().decode("utf-8")

    def rest(self):
        b = self.data[self.pos:]
        self.pos = len(self.data)
        return b

    def at_end(self):
        return self.pos >= len(self.data)

    def properties(self):
        length = self.varint()
        end = self.pos + length
        if end > len(self.data):
            raise ProtocolViolation("property length beyond the packet")
        props = {}
        while self.pos < end:
            pid = self.varint()
            if pid not in PROPERTIES:
                raise ProtocolViolation("unknown property id %#x" % pid)
            name, kind = PROPERTIES[pid]
            if kind == BYTE:
                v = self.u8()
            elif kind == U16:
                v = self.u16()
            elif kind == U32:
                v = self.u32()
            elif kind == VARINT:
                v = self.varint()
            elif kind == UTF8:
                v = self.utf8()
            elif kind == BINARY:
                v = bytes(self.binary())
            else:
                v = (self.utf8(), self.utf8())
            if kind == PAIR or name == "subscription_identifier":
                props.setdefault(name, []).append(v)
            elif name in props:
                raise ProtocolViolation("property %s twice" % name)
            else:
                props[name] = v
        if self.pos != end:
            raise ProtocolViolation("properties overrun their length")
        return props


def decode(ptype, flags, body, version, raw=b""):
    p = Packet(ptype, flags, raw)
    r = _Reader(body)
    v5 = version == V5
    if ptype == CONNACK:
        ack_flags = r.u8()
        if ack_flags & 0xFE:
            raise ProtocolViolation("CONNACK flags %#x" % ack_flags)
        p.session_present = bool(ack_flags & 1)
        p.code = r.u8()
        if v5 and not r.at_end():
            p.props = r.properties()
    elif ptype == PUBLISH:
        p.dup = bool(flags & 0x08)
        p.qos = (flags >> 1) & 0x03
        p.retain = bool(flags & 0x01)
        p.topic = r.utf8()
        if p.qos > 0:
            p.pid = r.u16()
        if v5:
            p.props = r.properties()
        p.payload = bytes(r.rest())
    elif ptype in (PUBACK, PUBREC, PUBREL, PUBCOMP):
        p.pid = r.u16()
        if v5 and not r.at_end():
            p.code = r.u8()
            if not r.at_end():
                p.props = r.properties()
    elif ptype in (SUBACK, UNSUBACK):
        p.pid = r.u16()
        if v5:
            p.props = r.properties()
        p.codes = list(r.rest())
    elif ptype in (DISCONNECT, AUTH):
        if not r.at_end():
            p.code = r.u8()
            if not r.at_end():
                p.props = r.properties()
    elif ptype == PINGRESP:
        pass
    else:
        raise ProtocolViolation("server sent packet type %d" % ptype)
    if not r.at_end():
        raise ProtocolViolation("%d bytes left over in %s" % (len(body) - r.pos, TYPE_NAMES[ptype]))
    return p


# ---------------------------------------------------------------- client

class Closed(Exception):
    """The broker closed the connection while a packet was expected."""


_sockets = []


def close_all():
    """Closes every RawClient socket still open (conftest calls it after each test)."""
    while _sockets:
        try:
            _sockets.pop().close()
        except OSError:
            pass


class RawClient:
    """One TCP connection to the broker. recv() returns the next decoded packet (waiting
    at most `timeout`), expect_closed() waits for the broker to close the connection.
    Packets read past while waiting for a particular one (wait_for) are kept, in order, and
    returned by the next recv() calls."""

    def __init__(self, broker, version=V5, timeout=5.0, source=None):
        self.version = version
        self.timeout = timeout
        # `source`: the local address to connect from (another loopback address, 127.0.0.2,
        # for a client that is not "127.0.0.1" to the broker).
        self.sock = socket.create_connection((broker.host, broker.port), timeout=timeout,
                                             source_address=(source, 0) if source else None)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pending = []
        self.eof = False
        self.reset = False  # the broker's side answered with RST instead of a clean close
        self.local_port = self.sock.getsockname()[1]
        _sockets.append(self.sock)

    # --- I/O
    def send(self, data):
        self.sock.sendall(bytes(data))

    def try_send(self, data):
        """send() that tolerates the broker having closed already."""
        try:
            self.send(data)
            return True
        except OSError:
            return False

    def _fill(self, deadline):
        """Reads more bytes into buf; False on EOF/reset, raises TimeoutError on deadline."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError
        except (ConnectionResetError, BrokenPipeError):
            self.reset = True
            chunk = b""
        if not chunk:
            self.eof = True
            return False
        self.buf += chunk
        return True

    def _frame(self):
        """A complete packet at the front of buf as (type, flags, body, raw), or None."""
        if len(self.buf) < 2:
            return None
        mult, length, i = 1, 0, 1
        while True:
            if i >= len(self.buf):
                return None
            b = self.buf[i]
            length += (b & 0x7F) * mult
            i += 1
            if not b & 0x80:
                break
            mult *= 128
            if i > 4:
                raise ProtocolViolation("Remaining Length longer than 4 bytes")
        if len(self.buf) < i + length:
            return None
        raw = bytes(self.buf[:i + length])
        del self.buf[:i + length]
        return raw[0] >> 4, raw[0] & 0x0F, raw[i:], raw

    def _read(self, deadline):
        while True:
            f = self._frame()
            if f is not None:
                return decode(f[0], f[1], f[2], self.version, f[3])
            if self.eof or not self._fill(deadline):
                raise Closed("connection closed by the broker")

    def recv(self, timeout=None):
        """The next packet. Raises TimeoutError if none arrives in time and Closed if the
        broker closes the connection first."""
        if self.pending:
            return self.pending.pop(0)
        return self._read(time.monotonic() + (self.timeout if timeout is None else timeout))

    def expect(self, ptype, timeout=None):
        """The next packet, which must be of type `ptype`."""
        p = self.recv(timeout)
        assert p.type == ptype, "expected %s, got %r" % (TYPE_NAMES[ptype], p)
        return p

    def wait_for(self, ptype, pid=None, timeout=None):
        """The first packet of `ptype` (and packet id `pid` if given); packets of other
        kinds that come first are kept for recv()."""
        for i, p in enumerate(self.pending):
            if p.type == ptype and (pid is None or p.pid == pid):
                return self.pending.pop(i)
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            p = self._read(deadline)
            if p.type == ptype and (pid is None or p.pid == pid):
                return p
            self.pending.append(p)

    def recv_publishes(self, n, timeout=None):
        """The next n PUBLISH packets (other packets are kept for recv())."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        return [self.wait_for(PUBLISH, timeout=max(0.0, deadline - time.monotonic()))
                for _ in range(n)]

    def recv_all(self, settle=0.3):
        """Every packet that arrives within `settle` seconds (the connection may close)."""
        out = list(self.pending)
        self.pending.clear()
        deadline = time.monotonic() + settle
        while True:
            try:
                out.append(self._read(deadline))
            except (TimeoutError, Closed):
                return out

    def expect_closed(self, timeout=None):
        """Waits until the broker closes the connection; returns the packets it sent
        before closing. Raises AssertionError if it is still open after `timeout`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out = list(self.pending)
        self.pending.clear()
        while True:
            try:
                out.append(self._read(deadline))
            except Closed:
                return out
            except TimeoutError:
                raise AssertionError("broker did not close the connection within %.1fs; got %r"
                                     % (timeout if timeout is not None else self.timeout, out))

    def is_open(self, settle=0.2):
        """True if the connection is still open after `settle` seconds (bytes that arrive
        meanwhile are kept for recv)."""
        deadline = time.monotonic() + settle
        try:
            while not self.eof and self._fill(deadline):
                pass
            return False
        except TimeoutError:
            return True

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Closes with a TCP RST (SO_LINGER 0): an abrupt drop."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    # --- conveniences
    def connect(self, client_id="", version=None, expect_code=0, **kw):
        """Sends CONNECT and returns the CONNACK (asserting its code unless expect_code is
        None)."""
        if version is not None:
            self.version = version
        self.send(connect(client_id, version=self.version, **kw))
        ack = self.expect(CONNACK)
        if expect_code is not None:
            assert ack.code == expect_code, "CONNACK %r" % ack
        return ack

    def subscribe(self, filters, pid=1, props=None):
        """SUBSCRIBE; returns the SUBACK's reason codes."""
        self.send(subscribe(pid, filters, props, self.version))
        return self.wait_for(SUBACK, pid).codes

    def unsubscribe(self, filters, pid=1, props=None):
        """UNSUBSCRIBE; returns the UNSUBACK's reason codes (empty list in 3.1.1)."""
        self.send(unsubscribe(pid, filters, props, self.version))
        return self.wait_for(UNSUBACK, pid).codes

    def publish(self, topic, payload=b"", qos=0, retain=False, dup=False, pid=None, props=None):
        """Sends PUBLISH; for QoS 1 returns the PUBACK, for QoS 2 completes the exchange
        (PUBREC, PUBREL, PUBCOMP) and returns the PUBREC."""
        if qos and pid is None:
            pid = 1
        self.send(publish(topic, payload, qos, retain, dup, pid, props, self.version))
        if qos == 1:
            return self.wait_for(PUBACK, pid)
        if qos == 2:
            rec = self.wait_for(PUBREC, pid)
            self.send(pubrel(pid, version=self.version))
            comp = self.wait_for(PUBCOMP, pid)
            assert comp.code == 0, comp
            return rec
        return None

    def ack(self, p):
        """Acknowledges a received PUBLISH as its QoS requires (QoS 2: PUBREC, then the
        PUBREL is awaited and PUBCOMP sent)."""
        if p.qos == 1:
            self.send(puback(p.pid, version=self.version))
        elif p.qos == 2:
            self.send(pubrec(p.pid, version=self.version))
            rel = self.wait_for(PUBREL, p.pid)
            assert rel.code == 0, rel
            self.send(pubcomp(p.pid, version=self.version))

    def ping(self, timeout=None):
        self.send(pingreq())
        return self.wait_for(PINGRESP, timeout=timeout)

    def disconnect(self, code=0, props=None, wait=2.0):
        """Sends DISCONNECT and waits (at most `wait` s) for the broker to close the
        connection, so that a test reconnecting right after finds the old connection
        gone on the broker's side too; returns True if it closed in time."""
        sent = self.try_send(disconnect(code, props, self.version))
        closed = False
        if sent and wait:
            try:
                self.expect_closed(wait)
                closed = True
            except AssertionError:
                pass
        self.close()
        return closed

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connected(broker, client_id="", version=V5, source=None, **kw):
    """A RawClient with CONNECT/CONNACK (code 0) done."""
    c = RawClient(broker, version, source=source)
    c.connect(client_id, **kw)
    return c
