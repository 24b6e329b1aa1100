"""An LwM2M 1.0 client for the tests, written from the specifications (OMA LightweightM2M
TS 1.0: the interfaces of section 5, the data formats of 6.4, the CoAP mapping of 8.2;
RFC 7252 CoAP, RFC 7641 Observe, RFC 6690 link-format), since Debian has none.

`encode`/`decode` build and parse CoAP messages byte by byte as RFC 7252 section 3 lays
them out. `tlv_encode`/`tlv_decode` do the same for the TLV format of TS 1.0 6.4.3.
`Lwm2mClient` is the device. It registers, updates and de-registers with the gateway over
UDP and waits (bounded) for each answer. It also answers the gateway's Read, Discover,
Observe, Write, Write-Attributes, Execute, Create and Delete from a small resource store.
It does that while it waits for something, in `serve(seconds)`, or all the time in a
background thread between `start()` and `stop()`. Each request the gateway sent is kept in
`requests`, so a test sees the gateway's side of every exchange as it was.
"""
import base64
import collections
import json
import os
import random
import socket
import struct
import threading
import time

# --- CoAP (RFC 7252)

# 3: message types
CON, NON, ACK, RST = 0, 1, 2, 3

# 12.1.1: methods; 12.1.2: response codes (class << 5 | detail)
EMPTY = 0x00
GET, POST, PUT, DELETE = 1, 2, 3, 4
CREATED, DELETED, VALID, CHANGED, CONTENT = 0x41, 0x42, 0x43, 0x44, 0x45
CONTINUE = 0x5F  # 2.31, RFC 7959
BAD_REQUEST, UNAUTHORIZED, BAD_OPTION, FORBIDDEN = 0x80, 0x81, 0x82, 0x83
NOT_FOUND, METHOD_NOT_ALLOWED, NOT_ACCEPTABLE = 0x84, 0x85, 0x86
REQUEST_ENTITY_INCOMPLETE = 0x88  # 4.08, RFC 7959
PRECONDITION_FAILED, REQUEST_ENTITY_TOO_LARGE, UNSUPPORTED_CONTENT_FORMAT = 0x8C, 0x8D, 0x8F
INTERNAL_SERVER_ERROR, NOT_IMPLEMENTED, BAD_GATEWAY = 0xA0, 0xA1, 0xA2
SERVICE_UNAVAILABLE, GATEWAY_TIMEOUT, PROXYING_NOT_SUPPORTED = 0xA3, 0xA4, 0xA5

# 12.2 (and RFC 7641, RFC 7959): option numbers
IF_MATCH, URI_HOST, ETAG, IF_NONE_MATCH = 1, 3, 4, 5
OBSERVE, URI_PORT, LOCATION_PATH, URI_PATH = 6, 7, 8, 11
CONTENT_FORMAT, MAX_AGE, URI_QUERY, ACCEPT = 12, 14, 15, 17
LOCATION_QUERY, BLOCK2, BLOCK1, SIZE2 = 20, 23, 27, 28
PROXY_URI, PROXY_SCHEME, SIZE1 = 35, 39, 60

# 12.3, and the LwM2M 1.0 ones (TS 1.0 6.4): content formats
TEXT, LINK, OPAQUE, SENML_JSON = 0, 40, 42, 110
TLV, LWM2M_JSON = 11542, 11543

# 4.8: transmission parameters
ACK_TIMEOUT, ACK_RANDOM_FACTOR, MAX_RETRANSMIT = 2.0, 1.5, 4

METHOD_NAMES = {GET: "GET", POST: "POST", PUT: "PUT", DELETE: "DELETE"}


def code_str(code):
    """0x45 -> "2.05"."""
    return "%d.%02d" % (code >> 5, code & 0x1F)


def uint(n):
    """An option's uint value (3.2): big-endian in as few octets as hold it; 0 is empty."""
    return n.to_bytes((n.bit_length() + 7) // 8, "big")


def uint_of(b):
    return int.from_bytes(b, "big")


def _option_bytes(value):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int):
        return uint(value)
    return bytes(value)


def _nibble(v):
    return v if v < 13 else (13 if v < 269 else 14)


def _extended(v):
    if v < 13:
        return b""
    if v < 269:
        return bytes([v - 13])
    if v < 269 + 0x10000:
        return struct.pack(">H", v - 269)
    raise ValueError("option delta or length %d does not fit" % v)


def encode(mtype, code, mid, token=b"", options=(), payload=b""):
    """One CoAP message (3). `options` are (number, value) pairs, value bytes, str or int
    (as uint); they go out sorted by number (a stable sort keeps the order of repeated
    options), each as a delta from the one before, with the 13/14 extended forms (3.1)."""
    token = bytes(token)
    if len(token) > 8:
        raise ValueError("a token has 0 to 8 octets, not %d" % len(token))
    out = bytearray([0x40 | (mtype & 3) << 4 | len(token), code])
    out += struct.pack(">H", mid & 0xFFFF) + token
    prev = 0
    for number, value in sorted(((n, _option_bytes(v)) for n, v in options), key=lambda o: o[0]):
        delta, length = number - prev, len(value)
        out.append(_nibble(delta) << 4 | _nibble(length))
        out += _extended(delta) + _extended(length) + value
        prev = number
    if payload:
        out += b"\xff" + bytes(payload)
    return bytes(out)


def _extended_of(nibble, data, pos, what):
    if nibble < 13:
        return nibble, pos
    if nibble == 13:
        if pos + 1 > len(data):
            raise ValueError("option %s: the extended octet is missing" % what)
        return data[pos] + 13, pos + 1
    if nibble == 14:
        if pos + 2 > len(data):
            raise ValueError("option %s: the extended octets are missing" % what)
        return struct.unpack(">H", data[pos:pos + 2])[0] + 269, pos + 2
    raise ValueError("option %s nibble 15 outside a payload marker" % what)


def decode(data):
    """One datagram -> dict(type, code, id, token, options: [(number, bytes)] in order,
    payload). ValueError for what 3 and 4.1 call a message format error."""
    data = bytes(data)
    if len(data) < 4:
        raise ValueError("%d octets, shorter than the header" % len(data))
    if data[0] >> 6 != 1:
        raise ValueError("version %d" % (data[0] >> 6))
    tkl = data[0] & 0x0F
    if tkl > 8:
        raise ValueError("token length %d" % tkl)
    if len(data) < 4 + tkl:
        raise ValueError("the token is cut short")
    msg = {"type": (data[0] >> 4) & 3, "code": data[1], "id": struct.unpack(">H", data[2:4])[0],
           "token": data[4:4 + tkl], "options": [], "payload": b""}
    if msg["code"] == EMPTY and len(data) != 4:
        raise ValueError("an Empty message with %d octets after the header" % (len(data) - 4))
    pos, number = 4 + tkl, 0
    while pos < len(data):
        byte = data[pos]
        pos += 1
        if byte == 0xFF:
            msg["payload"] = data[pos:]
            if not msg["payload"]:
                raise ValueError("a payload marker with no payload")
            break
        delta, pos = _extended_of(byte >> 4, data, pos, "delta")
        length, pos = _extended_of(byte & 0x0F, data, pos, "length")
        if pos + length > len(data):
            raise ValueError("option %d is cut short" % (number + delta))
        number += delta
        msg["options"].append((number, data[pos:pos + length]))
        pos += length
    return msg


def option(msg, number, default=None):
    """The first value of option `number` in a decoded message, or `default`."""
    for n, v in msg["options"]:
        if n == number:
            return v
    return default


def option_values(msg, number):
    return [v for n, v in msg["options"] if n == number]


def path_of(msg, number=URI_PATH):
    """"/3/0/1" from the Uri-Path (or, with LOCATION_PATH, the Location-Path) options."""
    return "/" + "/".join(v.decode("utf-8", "replace") for v in option_values(msg, number))


def query_of(msg):
    return [v.decode("utf-8", "replace") for v in option_values(msg, URI_QUERY)]


# --- TLV (TS 1.0 6.4.3)

OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE = 0, 1, 2, 3


def tlv_encode(items):
    """Items (kind, id, value), value bytes or a list of items, to TLV. The type octet:
    bits 7-6 the kind, bit 5 a 16-bit identifier, bits 4-3 how the length is given (00:
    in bits 2-0; 01, 10, 11: in 8, 16, 24 bits after the identifier); always the
    shortest form."""
    out = bytearray()
    for kind, ident, value in items:
        body = tlv_encode(value) if isinstance(value, (list, tuple)) else bytes(value)
        if not 0 <= ident <= 0xFFFF:
            raise ValueError("identifier %d" % ident)
        t = (kind & 3) << 6
        if ident > 0xFF:
            t |= 0x20
            idb = struct.pack(">H", ident)
        else:
            idb = bytes([ident])
        n = len(body)
        if n < 8:
            t |= n
            lb = b""
        elif n < 0x100:
            t |= 0x08
            lb = bytes([n])
        elif n < 0x10000:
            t |= 0x10
            lb = struct.pack(">H", n)
        elif n < 0x1000000:
            t |= 0x18
            lb = n.to_bytes(3, "big")
        else:
            raise ValueError("a TLV value of %d octets" % n)
        out += bytes([t]) + idb + lb + body
    return bytes(out)


def tlv_decode(data):
    """TLV to a list of (kind, id, value): value a list of items for an Object Instance or a
    Multiple Resource, bytes for a Resource or a Resource Instance. ValueError when cut
    short."""
    data = bytes(data)
    items, pos = [], 0
    while pos < len(data):
        t = data[pos]
        pos += 1
        kind = t >> 6
        idlen = 2 if t & 0x20 else 1
        lenlen = (t >> 3) & 3
        if pos + idlen + lenlen > len(data):
            raise ValueError("TLV header cut short at octet %d" % (pos - 1))
        ident = int.from_bytes(data[pos:pos + idlen], "big")
        pos += idlen
        if lenlen:
            n = int.from_bytes(data[pos:pos + lenlen], "big")
            pos += lenlen
        else:
            n = t & 0x07
        if pos + n > len(data):
            raise ValueError("TLV value of id %d: %d octets, %d left"
                             % (ident, n, len(data) - pos))
        body = data[pos:pos + n]
        pos += n
        if kind in (OBJECT_INSTANCE, MULTIPLE_RESOURCE):
            items.append((kind, ident, tlv_decode(body)))
        else:
            items.append((kind, ident, body))
    return items


def tlv_int(n):
    """Integer (and Time) value: signed big-endian, the shortest of 1, 2, 4, 8 octets."""
    for size in (1, 2, 4, 8):
        if -(1 << (8 * size - 1)) <= n < (1 << (8 * size - 1)):
            return n.to_bytes(size, "big", signed=True)
    raise ValueError("%d needs more than 64 bits" % n)


def tlv_float(x):
    return struct.pack(">d", x)


def tlv_bool(b):
    return b"\x01" if b else b"\x00"


def tlv_objlnk(obj, inst):
    return struct.pack(">HH", obj, inst)


def int_of(b):
    if len(b) not in (1, 2, 4, 8):
        raise ValueError("an Integer of %d octets" % len(b))
    return int.from_bytes(b, "big", signed=True)


def float_of(b):
    if len(b) == 4:
        return struct.unpack(">f", b)[0]
    if len(b) == 8:
        return struct.unpack(">d", b)[0]
    raise ValueError("a Float of %d octets" % len(b))


def bool_of(b):
    if b not in (b"\x00", b"\x01"):
        raise ValueError("a Boolean of %r" % (b,))
    return b == b"\x01"


def objlnk_of(b):
    if len(b) != 4:
        raise ValueError("an Objlnk of %d octets" % len(b))
    return struct.unpack(">HH", b)


# TS 1.0 6.4.3.1, "Single Object Instance": the TLV a client answers to a Read of /3/0
# with, written down from the octets the TS shows.
DEVICE_EXAMPLE_TLV = bytes.fromhex(
    "C8 00 14 4F 70 65 6E 20 4D 6F 62 69 6C 65 20 41 6C 6C 69 61 6E 63 65"  # 0 Manufacturer
    "C8 01 16 4C 69 67 68 74 77 65 69 67 68 74 20 4D 32 4D 20 43 6C 69 65 6E 74"  # 1 Model
    "C8 02 09 33 34 35 30 30 30 31 32 33"  # 2 Serial Number
    "C3 03 31 2E 30"                       # 3 Firmware Version
    "86 06 41 00 01 41 01 05"              # 6 Available Power Sources [1, 5]
    "88 07 08 42 00 0E D8 42 01 13 88"     # 7 Power Source Voltage [3800, 5000]
    "87 08 41 00 7D 42 01 03 84"           # 8 Power Source Current [125, 900]
    "C1 09 64"                             # 9 Battery Level 100
    "C1 0A 0F"                             # 10 Memory Free 15
    "83 0B 41 00 00"                       # 11 Error Code [0]
    "C4 0D 51 82 42 8F"                    # 13 Current Time 1367491215
    "C6 0E 2B 30 32 3A 30 30"              # 14 UTC Offset "+02:00"
    "C1 10 55"                             # 16 Supported Binding and Modes "U"
)


def device_example_items():
    """The same Device instance as items, built from the values."""
    def multi(res, values):
        return (MULTIPLE_RESOURCE, res,
                [(RESOURCE_INSTANCE, k, tlv_int(v)) for k, v in enumerate(values)])
    return [
        (RESOURCE, 0, b"Open Mobile Alliance"),
        (RESOURCE, 1, b"Lightweight M2M Client"),
        (RESOURCE, 2, b"345000123"),
        (RESOURCE, 3, b"1.0"),
        multi(6, [1, 5]),
        multi(7, [3800, 5000]),
        multi(8, [125, 900]),
        (RESOURCE, 9, tlv_int(100)),
        (RESOURCE, 10, tlv_int(15)),
        multi(11, [0]),
        (RESOURCE, 13, tlv_int(1367491215)),
        (RESOURCE, 14, b"+02:00"),
        (RESOURCE, 16, b"U"),
    ]


# --- the objects of TS 1.0 Appendix E, as far as the client needs them: each resource's
# type by resource ID ("-" none, "*" Multiple, E executable). They type what a server
# writes into, or creates, a resource that the store does not hold yet.
_CORE = {
    0: "S B I O O O I O O S I I I",
    1: "I I I I E I B S E",
    2: "I I I* I",
    3: "S S S S E E I* I* I* I I I* E T S S S S S S I I L*",
    4: "I I* I I S* S* I S* I I I",
    5: "O S E I - I S S I* I",
    6: "F F F F O T F",
    7: "I I I I I I E E I",
}
_LETTERS = {"S": "String", "I": "Integer", "F": "Float", "B": "Boolean", "O": "Opaque",
            "T": "Time", "L": "Objlnk", "E": ""}
TYPES = {}  # (object, resource) -> (type, multiple)
for _o, _spec in _CORE.items():
    for _r, _tok in enumerate(_spec.split()):
        if _tok != "-":
            TYPES[(_o, _r)] = (_LETTERS[_tok[0]], _tok.endswith("*"))


def default_store(lifetime=60, binding="U"):
    """/3/0 with the values of the TS's Device example, and /1/0 (a Server instance; its
    Lifetime and Binding left out when the client registers without lt or b)."""
    store = {
        (3, 0, 0): ("String", "Open Mobile Alliance"),
        (3, 0, 1): ("String", "Lightweight M2M Client"),
        (3, 0, 2): ("String", "345000123"),
        (3, 0, 3): ("String", "1.0"),
        (3, 0, 6): ("Integer", [1, 5]),
        (3, 0, 7): ("Integer", [3800, 5000]),
        (3, 0, 8): ("Integer", [125, 900]),
        (3, 0, 9): ("Integer", 100),
        (3, 0, 10): ("Integer", 15),
        (3, 0, 11): ("Integer", [0]),
        (3, 0, 13): ("Time", 1367491215),
        (3, 0, 14): ("String", "+02:00"),
        (3, 0, 16): ("String", "U"),
        (1, 0, 0): ("Integer", 1),
    }
    if isinstance(lifetime, int):
        store[(1, 0, 1)] = ("Integer", lifetime)
    if isinstance(binding, str):
        store[(1, 0, 7)] = ("String", binding)
    return store


def _is_multi(value):
    return isinstance(value, (list, dict))


def _multi_items(value):
    """A Multiple resource's instances as sorted (instance id, value) pairs."""
    return list(enumerate(value)) if isinstance(value, list) else sorted(value.items())


def _multi_value(d):
    """{id: value} -> a list when the ids are 0..n-1, else the dict."""
    return [d[k] for k in range(len(d))] if sorted(d) == list(range(len(d))) else dict(d)


def tlv_value(rtype, value):
    if rtype == "String":
        return value.encode()
    if rtype in ("Integer", "Time"):
        return tlv_int(int(value))
    if rtype == "Float":
        return tlv_float(float(value))
    if rtype == "Boolean":
        return tlv_bool(value)
    if rtype == "Objlnk":
        return tlv_objlnk(*value)
    return bytes(value)


def text_value(rtype, value):
    """TS 1.0 6.4.2 plain text: decimal integers, floats, "1"/"0", "o:i"."""
    if rtype in ("Integer", "Time"):
        return str(int(value))
    if rtype == "Float":
        return repr(float(value))
    if rtype == "Boolean":
        return "1" if value else "0"
    if rtype == "Objlnk":
        return "%d:%d" % tuple(value)
    if rtype == "Opaque":
        return base64.b64encode(bytes(value)).decode()
    return value


def _json_value(rtype, value):
    if rtype in ("Integer", "Time"):
        return {"v": int(value)}
    if rtype == "Float":
        return {"v": float(value)}
    if rtype == "Boolean":
        return {"bv": bool(value)}
    if rtype == "Objlnk":
        return {"ov": "%d:%d" % tuple(value)}
    if rtype == "Opaque":
        return {"sv": base64.b64encode(bytes(value)).decode()}
    return {"sv": value}


def _convert(rtype, fmt, raw):
    """What a server wrote (TLV or opaque octets, plain text, or a JSON (key, value))
    -> the store's Python value of `rtype`. ValueError when it is not one."""
    if fmt == TLV:
        if rtype == "String":
            return raw.decode("utf-8")
        if rtype in ("Integer", "Time"):
            return int_of(raw)
        if rtype == "Float":
            return float_of(raw)
        if rtype == "Boolean":
            return bool_of(raw)
        if rtype == "Objlnk":
            return objlnk_of(raw)
        return bytes(raw)
    if fmt == OPAQUE:
        if rtype != "Opaque":
            raise ValueError("application/octet-stream for a %s resource" % rtype)
        return bytes(raw)
    if fmt == TEXT:
        s = raw.decode("utf-8")
        if rtype == "String":
            return s
        if rtype in ("Integer", "Time"):
            return int(s)
        if rtype == "Float":
            return float(s)
        if rtype == "Boolean":
            if s not in ("0", "1"):
                raise ValueError("a Boolean of %r" % s)
            return s == "1"
        if rtype == "Objlnk":
            o, i = s.split(":")
            return int(o), int(i)
        raise ValueError("plain text for an Opaque resource")
    key, v = raw  # LWM2M_JSON
    want = {"String": "sv", "Opaque": "sv", "Boolean": "bv", "Objlnk": "ov"}.get(rtype, "v")
    if key != want:
        raise ValueError("%r for a %s resource" % (key, rtype))
    if rtype in ("Integer", "Time"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != int(v):
            raise ValueError("%r for an Integer" % (v,))
        return int(v)
    if rtype == "Float":
        return float(v)
    if rtype == "Opaque":
        return base64.b64decode(v)
    if rtype == "Objlnk":
        o, i = v.split(":")
        return int(o), int(i)
    if rtype == "Boolean" and not isinstance(v, bool):
        raise ValueError("%r for a Boolean" % (v,))
    return v


def parse_path(path):
    """"/3/0/1" (or a tuple) -> (3, 0, 1)."""
    if isinstance(path, (tuple, list)):
        return tuple(int(p) for p in path)
    return tuple(int(p) for p in path.strip("/").split("/") if p != "")


def path_str(path):
    return "/" + "/".join(str(p) for p in path)


class _Reply(Exception):
    """An error response to the request being handled."""

    def __init__(self, code, diagnostic=""):
        super().__init__(diagnostic)
        self.code = code
        self.diagnostic = diagnostic


_sockets = []
_clients = []


def close_all():
    while _clients:
        try:
            _clients.pop().stop()
        except Exception:
            pass
    while _sockets:
        try:
            _sockets.pop().close()
        except OSError:
            pass


class Lwm2mClient:
    """One LwM2M client on a UDP socket bound to 127.0.0.1:0, talking to the LwM2M server
    (the gateway) at (host, port).

    The resource store `store` maps (object, instance, resource) to (type, value). The type
    is String, Integer, Float, Boolean, Opaque, Time or Objlnk. The value is a Python value
    (Objlnk a pair); a Multiple resource holds a list (instances 0..n-1) or a dict
    {instance id: value}. `writable` and `executable` are sets of (o, i, r). Every resource
    of an instance made by Create is writable as well.

    What the gateway did is kept: `requests` holds each request it sent (decoded, with
    "path", "query", "addr", and "duplicate"/"dropped" flags), in order. `executed` holds
    (path, arguments) pairs, `attributes` maps a path to its Write-Attributes,
    `observations` maps a path to its token and format, and `malformed` holds the datagrams
    that were no CoAP message, with the reason. Knobs: `separate = True` answers CON
    requests with an empty ACK and then a separate CON response. `drop_requests = n`
    ignores the next n requests. `retransmit = False` sends each CON once.
    """

    def __init__(self, port, endpoint, lifetime=60, binding="U", objects=None, version="1.0",
                 host="127.0.0.1", timeout=5.0):
        self.addr = (host, port)
        self.endpoint, self.lifetime = endpoint, lifetime
        self.binding, self.version = binding, version
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _sockets.append(self.sock)
        self.sock.bind(("127.0.0.1", 0))
        self.local_port = self.sock.getsockname()[1]
        _clients.append(self)
        self.store = dict(default_store(lifetime, binding) if objects is None else objects)
        self.writable = {(3, 0, 13), (3, 0, 14), (3, 0, 15), (1, 0, 1)}
        self.executable = {(3, 0, 4), (3, 0, 5), (3, 0, 12)}
        self.created = set()
        self.attributes = {}
        self.observations = {}
        self.observe_seq = 0
        self.location = None
        self.requests, self.executed, self.sent, self.malformed = [], [], [], []
        self.last_ack = None
        self.separate = False
        self.drop_requests = 0
        self.retransmit = True
        self._mid = random.randrange(0x10000)
        self._lock = threading.RLock()      # the store and the client's state
        self._io = threading.Lock()         # one reader of the socket at a time
        self._cv = threading.Condition()    # responses for the waiting calls
        self._responses = []
        self._answered = collections.OrderedDict()  # (addr, mid) -> the reply sent, or None
        self._pending = {}                  # mid -> [datagram, due, interval, sends]
        self._notified = collections.OrderedDict()  # notification mid -> observed path
        self._thread = None
        self._stopping = threading.Event()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- the store

    def instances(self, obj=None):
        with self._lock:
            found = {(o, i) for (o, i, _) in self.store} | self.created
        return sorted(x for x in found if obj is None or x[0] == obj)

    def links(self):
        """The Registration's object list (5.3.1): each instance but the Security ones."""
        return ",".join("</%d/%d>" % oi for oi in self.instances() if oi[0] != 0)

    def set(self, path, value, rtype=None):
        """Sets /o/i/r (or one instance /o/i/r/k of a Multiple resource); the type is the
        one the store has, `rtype`, Appendix E's, or guessed from the value."""
        p = parse_path(path)
        with self._lock:
            key = p[:3]
            if rtype is None:
                rtype = (self.store[key][0] if key in self.store else
                         TYPES.get((p[0], p[2]), ("", False))[0] or _guess_type(value))
            if len(p) == 4:
                old = dict(_multi_items(self.store[key][1])) if key in self.store else {}
                old[p[3]] = value
                self.store[key] = (rtype, _multi_value(old))
            elif len(p) == 3:
                self.store[key] = (rtype, value)
            else:
                raise ValueError("set() takes a resource path, not %s" % path_str(p))

    def get(self, path):
        p = parse_path(path)
        with self._lock:
            value = self.store[p[:3]][1]
        return dict(_multi_items(value))[p[3]] if len(p) == 4 else value

    # --- registration interface (5.3)

    def register(self, extra_query=(), payload=None, timeout=5):
        """Register: CON POST /rd?ep=&lt=&lwm2m=&b= with the object list in link-format;
        keeps the Location-Path of the answer; returns the answer."""
        query = ["%s=%s" % (k, v) for k, v in (("ep", self.endpoint), ("lt", self.lifetime),
                                               ("lwm2m", self.version), ("b", self.binding))
                 if v is not None] + list(extra_query)
        body = self.links() if payload is None else payload
        resp = self.request(POST, ["rd"], query, body, content_format=LINK, timeout=timeout,
                            what="Register")
        loc = [v.decode() for v in option_values(resp, LOCATION_PATH)]
        if loc:
            self.location = loc
        return resp

    def update(self, query=(), payload=None, timeout=5):
        """Update: CON POST on the registration's location, with the object list when
        `payload` is given."""
        return self.request(POST, self._location(), query, payload,
                            content_format=None if payload is None else LINK, timeout=timeout,
                            what="Update")

    def deregister(self, timeout=5):
        """De-register: CON DELETE on the registration's location."""
        resp = self.request(DELETE, self._location(), timeout=timeout, what="De-register")
        if resp["code"] == DELETED:
            self.location = None
        return resp

    def _location(self):
        if self.location is None:
            raise RuntimeError("%s has no registration location" % self.endpoint)
        return self.location

    def request(self, code, path=(), query=(), payload=None, content_format=None, con=True,
                options=(), timeout=None, what=None):
        """Any request to the server; returns its response (piggybacked, or separate, whose
        CON is acknowledged), or an RST. TimeoutError when none comes in time."""
        if isinstance(path, str):
            path = [s for s in path.strip("/").split("/") if s]
        if isinstance(payload, str):
            payload = payload.encode()
        mid, token = self._next_mid(), os.urandom(4)
        opts = ([(URI_PATH, s) for s in path] + [(URI_QUERY, q) for q in query] + list(options))
        if content_format is not None:
            opts.append((CONTENT_FORMAT, content_format))
        what = "%s (%s /%s)" % (what or "the answer", METHOD_NAMES.get(code, code_str(code)),
                                "/".join(path))
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        self._send(encode(CON if con else NON, code, mid, token, opts, payload or b""), con, mid)

        def match(m):
            if m["type"] in (ACK, RST) and m["id"] == mid:
                return True
            return m["code"] >= 0x40 and m["token"] == token and m["type"] in (CON, NON)
        while True:
            m = self._wait(match, deadline, what)
            if not (m["type"] == ACK and m["code"] == EMPTY):
                return m  # else the response comes separately (5.2.2)

    # --- information reporting (5.5)

    def notify(self, path, value=None, con=False, timeout=None):
        """Notify: a 2.05 with the observation's token and the next Observe number, NON (or
        CON, waiting for its ACK, kept in `last_ack`), after setting `value` when given.
        Returns the message id."""
        p = parse_path(path)
        if value is not None:
            self.set(p, value)
        key = path_str(p)
        with self._lock:
            obs = self.observations.get(key)
            if obs is None:
                raise KeyError("no observation of %s" % key)
            try:
                cf, payload = self._content(p, obs["format"])
            except _Reply as r:
                raise LookupError("%s: %s" % (key, r.diagnostic))
            mid = self._next_mid()
            self._notified[mid] = key
            while len(self._notified) > 256:
                self._notified.popitem(last=False)
            data = encode(CON if con else NON, CONTENT, mid, obs["token"],
                          [(OBSERVE, self._next_seq()), (CONTENT_FORMAT, cf)], payload)
        self._send(data, con, mid)
        if con:
            deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
            self.last_ack = self._wait(lambda m: m["type"] in (ACK, RST) and m["id"] == mid,
                                       deadline, "the ACK of the notification of %s" % key)
        return mid

    # --- serving the server's requests

    def start(self):
        """Answers the server's requests in a background thread until stop()."""
        if self._thread is None:
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name="lwm2m-%s" % self.endpoint)
            self._thread.start()
        return self

    def stop(self):
        t = self._thread
        if t is not None:
            self._stopping.set()
            t.join(5)
            self._thread = None

    def serve(self, seconds):
        """Answers the server's requests for `seconds` (just waits when the thread does)."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._running():
                time.sleep(min(left, 0.05))
            else:
                self._pump(left)

    def wait_request(self, method=None, path=None, since=0, timeout=None):
        """The first request in `requests[since:]` with `method` and `path` ("/3/0"), waiting
        (bounded, answering requests meanwhile) until one comes."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        want = None if path is None else path_str(parse_path(path))
        while True:
            with self._lock:
                for r in self.requests[since:]:
                    if method not in (None, r["code"]) or want not in (None, r["path"]):
                        continue
                    return r
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no %s %s from the server in time" % (
                    METHOD_NAMES.get(method, "request"), want or ""))
            if self._running():
                time.sleep(min(left, 0.05))
            else:
                self._pump(min(left, 0.2))

    def send_raw(self, data):
        """A datagram to the server as it is."""
        self.sock.sendto(bytes(data), self.addr)

    def close(self):
        self.stop()
        try:
            self.sock.close()
        except OSError:
            pass

    # --- the machinery

    def _running(self):
        return self._thread is not None and self._thread.is_alive()

    def _run(self):
        while not self._stopping.is_set() and self.sock.fileno() != -1:
            self._pump(0.05)

    def _next_mid(self):
        with self._lock:
            self._mid = (self._mid + 1) & 0xFFFF
            return self._mid

    def _next_seq(self):
        with self._lock:
            seq = self.observe_seq
            self.observe_seq = (self.observe_seq + 1) & 0xFFFFFF
            return seq

    def _sendto(self, data, addr):
        self.sent.append(decode(data))
        try:
            self.sock.sendto(data, addr)
        except OSError:
            pass

    def _send(self, data, con, mid, addr=None):
        """Sends; a CON is retransmitted (4.2) until its ACK or RST, while someone pumps."""
        if con and self.retransmit:
            interval = ACK_TIMEOUT * random.uniform(1, ACK_RANDOM_FACTOR)
            with self._lock:
                self._pending[mid] = [data, time.monotonic() + interval, interval, 1,
                                      addr or self.addr]
        self._sendto(data, addr or self.addr)

    def _retransmit_due(self):
        now = time.monotonic()
        with self._lock:
            for mid, p in list(self._pending.items()):
                if p[1] > now:
                    continue
                if p[3] > MAX_RETRANSMIT:
                    del self._pending[mid]
                    continue
                p[2] *= 2
                p[1] = now + p[2]
                p[3] += 1
                self._sendto(p[0], p[4])

    def _next_due(self):
        with self._lock:
            if not self._pending:
                return float("inf")
            return max(0.0, min(p[1] for p in self._pending.values()) - time.monotonic())

    def _pump(self, timeout):
        """Reads and handles at most one datagram, waiting at most `timeout` for it."""
        if not self._io.acquire(timeout=max(timeout, 0.001)):
            return
        try:
            self._retransmit_due()
            try:
                self.sock.settimeout(max(min(timeout, self._next_due()), 0.001))
                data, addr = self.sock.recvfrom(65536)
            except (socket.timeout, BlockingIOError):
                return
            except OSError:
                time.sleep(min(timeout, 0.05))  # closed under us
                return
            self._dispatch(data, addr)
        finally:
            self._io.release()

    def _wait(self, match, deadline, what):
        while True:
            with self._cv:
                for k, m in enumerate(self._responses):
                    if match(m):
                        return self._responses.pop(k)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("%s: nothing from %s:%d in time" % (what, *self.addr))
                if self._running():
                    self._cv.wait(min(left, 0.1))
                    continue
            self._pump(min(left, 0.1))

    def _queue(self, m):
        with self._cv:
            self._responses.append(m)
            del self._responses[:-1000]
            self._cv.notify_all()

    def _dispatch(self, data, addr):
        try:
            m = decode(data)
        except ValueError as e:
            self.malformed.append((data, str(e)))
            return
        m["addr"] = addr
        code, mtype = m["code"], m["type"]
        if code == EMPTY:
            if mtype == CON:  # a CoAP ping (4.3)
                self._sendto(encode(RST, EMPTY, m["id"]), addr)
            elif mtype in (ACK, RST):
                self._acknowledged(m)
            return
        if code < 0x20:
            self._serve(m, addr)
            return
        if code < 0x40:
            self.malformed.append((data, "reserved code class 1"))
            return
        if mtype == ACK:
            self._acknowledged(m)
            return
        if mtype == CON:
            self._sendto(encode(ACK, EMPTY, m["id"]), addr)
            key = ("response", addr, m["id"])
            with self._lock:
                if key in self._answered:
                    return
                self._remember(key, None)
        self._queue(m)

    def _acknowledged(self, m):
        with self._lock:
            self._pending.pop(m["id"], None)
            if m["type"] == RST and m["id"] in self._notified:  # RFC 7641 3.6
                self.observations.pop(self._notified.pop(m["id"]), None)
        self._queue(m)

    def _remember(self, key, reply):
        self._answered[key] = reply
        while len(self._answered) > 500:
            self._answered.popitem(last=False)

    def _serve(self, m, addr):
        rec = dict(m, path=path_of(m), query=query_of(m), duplicate=False, dropped=False)
        key = (addr, m["id"])
        with self._lock:
            self.requests.append(rec)
            if key in self._answered:  # 4.5: the same answer again
                rec["duplicate"] = True
                if self._answered[key] is not None:
                    self._sendto(self._answered[key], addr)
                return
            if self.drop_requests > 0:
                self.drop_requests -= 1
                rec["dropped"] = True
                return
            try:
                code, opts, payload = self._handle(m)
            except _Reply as r:
                code, opts, payload = r.code, [], r.diagnostic.encode()
            except Exception as e:  # a bug here shows as 5.00 with the error
                code, opts, payload = INTERNAL_SERVER_ERROR, [], repr(e).encode()
            if m["type"] == CON and self.separate:
                empty = encode(ACK, EMPTY, m["id"])
                self._remember(key, empty)
                self._sendto(empty, addr)
                mid = self._next_mid()
                self._send(encode(CON, code, mid, m["token"], opts, payload), True, mid, addr)
            elif m["type"] == CON:
                reply = encode(ACK, code, m["id"], m["token"], opts, payload)
                self._remember(key, reply)
                self._sendto(reply, addr)
            else:
                self._remember(key, None)
                self._sendto(encode(NON, code, self._next_mid(), m["token"], opts, payload), addr)

    def _handle(self, m):
        """(code, options, payload) answering one request (TS 1.0 8.2)."""
        segs = [v.decode("utf-8", "replace") for v in option_values(m, URI_PATH)]
        if not segs or len(segs) > 4 or not all(s.isdigit() and int(s) <= 0xFFFF for s in segs):
            raise _Reply(NOT_FOUND, "no %s here" % path_of(m))
        path = tuple(int(s) for s in segs)
        method = m["code"]
        if method == GET:
            return self._get(m, path)
        if method == PUT:
            return self._put(m, path)
        if method == POST:
            return self._post(m, path)
        if method == DELETE:
            return self._delete(path)
        raise _Reply(METHOD_NOT_ALLOWED, "method %s" % code_str(method))

    # Read, Discover, Observe (5.4.1, 5.4.2, 5.5.1)

    def _get(self, m, path):
        accept = option(m, ACCEPT)
        accept = None if accept is None else uint_of(accept)
        if accept == LINK:
            return CONTENT, [(CONTENT_FORMAT, LINK)], self._discover(path).encode()
        cf, payload = self._content(path, accept)
        opts = [(CONTENT_FORMAT, cf)]
        obs = option(m, OBSERVE)
        key = path_str(path)
        if obs is not None and uint_of(obs) == 0:
            self.observations[key] = {"token": m["token"], "format": accept, "path": path}
            opts.append((OBSERVE, self._next_seq()))
        elif obs is not None and uint_of(obs) == 1:
            if key in self.observations and self.observations[key]["token"] == m["token"]:
                del self.observations[key]
        return CONTENT, opts, payload

    def _instance_exists(self, o, i):
        return (o, i) in self.instances(o)

    def _resources(self, o, i):
        return sorted({r for (oo, ii, r) in list(self.store) + list(self.executable)
                       if (oo, ii) == (o, i)})

    def _check(self, path):
        """4.04 unless `path` is there (resources: with a value, or executable)."""
        o = path[0]
        if len(path) == 1 and not self.instances(o):
            raise _Reply(NOT_FOUND, "no instance of /%d" % o)
        if len(path) >= 2 and not self._instance_exists(o, path[1]):
            raise _Reply(NOT_FOUND, "no %s" % path_str(path[:2]))
        if len(path) >= 3 and path[:3] not in self.store and path[:3] not in self.executable:
            raise _Reply(NOT_FOUND, "no %s" % path_str(path[:3]))
        if len(path) == 4:
            value = self.store.get(path[:3], ("", None))[1]
            if not _is_multi(value) or path[3] not in dict(_multi_items(value)):
                raise _Reply(NOT_FOUND, "no %s" % path_str(path))

    def _content(self, path, accept):
        """(content format, payload) of a Read of `path`."""
        self._check(path)
        single = None
        if len(path) >= 3:
            if path[:3] not in self.store:
                raise _Reply(METHOD_NOT_ALLOWED, "%s is executable" % path_str(path))
            rtype, value = self.store[path[:3]]
            if len(path) == 4:
                single = (rtype, dict(_multi_items(value))[path[3]])
            elif not _is_multi(value):
                single = (rtype, value)
        if accept is None:
            accept = TLV if single is None else (OPAQUE if single[0] == "Opaque" else TEXT)
        if accept == TEXT:
            if single is None or single[0] == "Opaque":
                raise _Reply(NOT_ACCEPTABLE, "no plain text for %s" % path_str(path))
            return TEXT, text_value(*single).encode()
        if accept == OPAQUE:
            if single is None or single[0] != "Opaque":
                raise _Reply(NOT_ACCEPTABLE, "%s is not one Opaque value" % path_str(path))
            return OPAQUE, bytes(single[1])
        if accept == TLV:
            return TLV, tlv_encode(self._tlv_items(path))
        if accept == LWM2M_JSON:
            return LWM2M_JSON, self._json(path)
        raise _Reply(NOT_ACCEPTABLE, "content format %d" % accept)

    def _resource_item(self, key):
        rtype, value = self.store[key]
        if _is_multi(value):
            return (MULTIPLE_RESOURCE, key[2], [(RESOURCE_INSTANCE, k, tlv_value(rtype, v))
                                                for k, v in _multi_items(value)])
        return (RESOURCE, key[2], tlv_value(rtype, value))

    def _instance_items(self, o, i):
        return [self._resource_item((o, i, r)) for r in self._resources(o, i)
                if (o, i, r) in self.store]

    def _tlv_items(self, path):
        if len(path) == 1:
            return [(OBJECT_INSTANCE, i, self._instance_items(o, i))
                    for o, i in self.instances(path[0])]
        if len(path) == 2:
            return self._instance_items(*path)
        if len(path) == 3:
            return [self._resource_item(path)]
        rtype, value = self.store[path[:3]]
        return [(RESOURCE_INSTANCE, path[3], tlv_value(rtype, dict(_multi_items(value))[path[3]]))]

    def _json(self, path):
        """TS 1.0 6.4.4: {"bn": base name, "e": [{"n": name, "v"/"sv"/"bv"/"ov": value}]}."""
        entries = []

        def resource(prefix, key):
            rtype, value = self.store[key]
            if _is_multi(value):
                for k, v in _multi_items(value):
                    entries.append(dict(n="%s%d/%d" % (prefix, key[2], k),
                                        **_json_value(rtype, v)))
            else:
                entries.append(dict(n="%s%d" % (prefix, key[2]), **_json_value(rtype, value)))
        if len(path) == 1:
            base = "/%d/" % path[0]
            for o, i in self.instances(path[0]):
                for r in self._resources(o, i):
                    if (o, i, r) in self.store:
                        resource("%d/" % i, (o, i, r))
        elif len(path) == 2:
            base = path_str(path) + "/"
            for r in self._resources(*path):
                if path + (r,) in self.store:
                    resource("", path + (r,))
        elif len(path) == 3:
            base = path_str(path[:2]) + "/"
            resource("", path)
        else:
            base = path_str(path[:3]) + "/"
            rtype, value = self.store[path[:3]]
            v = dict(_multi_items(value))[path[3]]
            entries.append(dict(n=str(path[3]), **_json_value(rtype, v)))
        return json.dumps({"bn": base, "e": entries}, separators=(",", ":")).encode()

    def _discover(self, path):
        """RFC 6690 links of what is under `path`, with its Write-Attributes; a Multiple
        resource carries dim (TS 1.0 5.1.2)."""
        if len(path) > 3:
            raise _Reply(NOT_FOUND, "no Discover of a resource instance in 1.0")
        self._check(path)
        links = []

        def link(p):
            s = "<%s>" % path_str(p)
            if len(p) == 3 and p in self.store and _is_multi(self.store[p][1]):
                s += ";dim=%d" % len(_multi_items(self.store[p][1]))
            for k, v in self.attributes.get(path_str(p), {}).items():
                s += ";%s=%s" % (k, v)
            links.append(s)
        if len(path) == 3:
            link(path)
        else:
            o = path[0]
            if len(path) == 1:
                link(path)
            for oo, i in self.instances(o):
                if len(path) == 2 and i != path[1]:
                    continue
                link((oo, i))
                for r in self._resources(oo, i):
                    link((oo, i, r))
        return ",".join(links)

    # Write, Write-Attributes, Execute, Create, Delete (5.4.3 - 5.4.7)

    def _put(self, m, path):
        query = query_of(m)
        if not m["payload"]:
            if query:
                return self._write_attributes(path, query)
            raise _Reply(BAD_REQUEST, "a PUT with neither a payload nor attributes")
        if len(path) not in (2, 3):
            raise _Reply(METHOD_NOT_ALLOWED, "no Write on %s" % path_str(path))
        self._check(path[:2])
        self._apply(*self._decode_write(m, path), partial=False)
        return CHANGED, [], b""

    def _write_attributes(self, path, query):
        if len(path) > 3:
            raise _Reply(BAD_REQUEST, "no attributes on a resource instance in 1.0")
        self._check(path)
        changes = []
        for q in query:
            k, eq, v = q.partition("=")
            if k not in ("pmin", "pmax", "gt", "lt", "st"):
                raise _Reply(BAD_REQUEST, "attribute %r" % k)
            if eq:
                try:
                    (int if k in ("pmin", "pmax") else float)(v)
                except ValueError:
                    raise _Reply(BAD_REQUEST, "%s=%r" % (k, v))
            changes.append((k, v if eq else None))
        attrs = self.attributes.setdefault(path_str(path), {})
        for k, v in changes:
            if v is None:
                attrs.pop(k, None)
            else:
                attrs[k] = v
        return CHANGED, [], b""

    def _post(self, m, path):
        if len(path) == 1:
            return self._create(m, path[0])
        if len(path) == 2:
            self._check(path)
            if not m["payload"]:
                raise _Reply(BAD_REQUEST, "a partial update with no payload")
            self._apply(*self._decode_write(m, path), partial=True)
            return CHANGED, [], b""
        if len(path) == 3:
            if path in self.executable and self._instance_exists(*path[:2]):
                self.executed.append((path_str(path), m["payload"].decode("utf-8", "replace")))
                return CHANGED, [], b""
            self._check(path[:2])
            if path in self.store or (path[0], path[2]) in TYPES:
                raise _Reply(METHOD_NOT_ALLOWED, "%s is not executable" % path_str(path))
            raise _Reply(NOT_FOUND, "no %s" % path_str(path))
        raise _Reply(METHOD_NOT_ALLOWED, "no POST on a resource instance")

    def _delete(self, path):
        if len(path) != 2:
            raise _Reply(METHOD_NOT_ALLOWED, "Delete is for object instances")
        self._check(path)
        prefix = path_str(path)
        for key in [k for k in self.store if k[:2] == path]:
            del self.store[key]
        self.created.discard(path)
        for d in (self.observations, self.attributes):
            for k in [k for k in d if k == prefix or k.startswith(prefix + "/")]:
                del d[k]
        return DELETED, [], b""

    def _create(self, m, o):
        cf = option(m, CONTENT_FORMAT)
        cf = OPAQUE if cf is None else uint_of(cf)
        groups = []  # (instance id or None, {resource: raw or {instance: raw}})
        if not m["payload"]:
            groups.append((None, {}))
        elif cf == TLV:
            items = self._tlv(m["payload"])
            kinds = {k for k, _, _ in items}
            if kinds == {OBJECT_INSTANCE}:
                groups = [(i, self._resources_of(sub)) for _, i, sub in items]
            elif OBJECT_INSTANCE in kinds:
                raise _Reply(BAD_REQUEST, "object instances mixed with resources")
            else:
                groups.append((None, self._resources_of(items)))
        elif cf == LWM2M_JSON:
            byinst = {}
            for p, raw in self._json_entries(m["payload"], (o,)):
                if len(p) < 3:
                    raise _Reply(BAD_REQUEST, "Create: %s names no instance" % path_str(p))
                res = byinst.setdefault(p[1], {})
                if len(p) == 4:
                    res.setdefault(p[2], {})[p[3]] = raw
                else:
                    res[p[2]] = raw
            groups = sorted(byinst.items()) or [(None, {})]
        else:
            raise _Reply(UNSUPPORTED_CONTENT_FORMAT, "content format %d for a Create" % cf)
        made = []
        for i, res in groups:
            if i is None:
                used = {ii for _, ii in self.instances(o)} | {ii for ii, _ in made}
                i = next(k for k in range(0x10000) if k not in used)
            if self._instance_exists(o, i) or i in [ii for ii, _ in made]:
                raise _Reply(BAD_REQUEST, "/%d/%d exists" % (o, i))
            made.append((i, self._typed({(o, i, r): raw for r, raw in res.items()},
                                        TLV if cf != LWM2M_JSON else LWM2M_JSON)))
        for i, values in made:
            self.created.add((o, i))
            self.store.update(values)
        return CREATED, [(LOCATION_PATH, str(o)), (LOCATION_PATH, str(made[0][0]))], b""

    def _tlv(self, payload):
        try:
            return tlv_decode(payload)
        except ValueError as e:
            raise _Reply(BAD_REQUEST, str(e))

    @staticmethod
    def _resources_of(items, only=None):
        """Resource-level TLV items -> {resource: raw or {instance: raw}}."""
        out = {}
        for kind, ident, value in items:
            if kind == RESOURCE:
                out[ident] = value
            elif kind == MULTIPLE_RESOURCE:
                if any(k != RESOURCE_INSTANCE for k, _, _ in value):
                    raise _Reply(BAD_REQUEST, "Multiple Resource %d: not instances" % ident)
                out[ident] = {k: v for _, k, v in value}
            elif kind == RESOURCE_INSTANCE and only is not None:
                out.setdefault(only, {})[ident] = value
            else:
                raise _Reply(BAD_REQUEST, "TLV kind %d where resources go" % kind)
            if only is not None and kind != RESOURCE_INSTANCE and ident != only:
                raise _Reply(BAD_REQUEST, "resource %d written on /.../%d" % (ident, only))
        return out

    def _json_entries(self, payload, path):
        try:
            doc = json.loads(payload)
            base = doc.get("bn", path_str(path) + "/")
            out = []
            for e in doc["e"]:
                full = parse_path(base + e.get("n", ""))
                keys = [k for k in ("v", "sv", "bv", "ov") if k in e]
                if len(keys) != 1:
                    raise ValueError("entry %r" % (e,))
                out.append((full, (keys[0], e[keys[0]])))
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise _Reply(BAD_REQUEST, "LwM2M JSON: %s" % e)
        for full, _ in out:
            if full[:len(path)] != path:
                raise _Reply(BAD_REQUEST, "%s is not under %s" % (path_str(full), path_str(path)))
        return out

    def _decode_write(self, m, path):
        """A Write's payload -> ({(o, i, r): raw or {instance: raw}}, its format)."""
        cf = option(m, CONTENT_FORMAT)
        cf = OPAQUE if cf is None else uint_of(cf)  # RFC 7252 5.10.3: octets when not said
        o, i = path[:2]
        only = path[2] if len(path) == 3 else None
        if cf == TLV:
            items = self._tlv(m["payload"])
            if len(path) == 2 and len(items) == 1 and items[0][0] == OBJECT_INSTANCE:
                if items[0][1] != i:
                    raise _Reply(BAD_REQUEST, "instance %d written on %s"
                                 % (items[0][1], path_str(path)))
                items = items[0][2]
            raw = {(o, i, r): v for r, v in self._resources_of(items, only).items()}
        elif cf in (TEXT, OPAQUE):
            if only is None:
                raise _Reply(BAD_REQUEST, "format %d is for one resource" % cf)
            raw = {path: m["payload"]}
        elif cf == LWM2M_JSON:
            raw = {}
            for p, v in self._json_entries(m["payload"], path):
                if len(p) == 4:
                    raw.setdefault(p[:3], {})[p[3]] = v
                elif len(p) == 3:
                    raw[p] = v
                else:
                    raise _Reply(BAD_REQUEST, "a Write entry %s" % path_str(p))
        else:
            raise _Reply(UNSUPPORTED_CONTENT_FORMAT, "content format %d" % cf)
        return raw, cf

    def _type_of(self, key):
        if key in self.store:
            return self.store[key][0]
        return TYPES.get((key[0], key[2]), ("", False))[0] or "Opaque"

    def _typed(self, raw, fmt):
        out = {}
        for key, v in raw.items():
            rtype = self._type_of(key)
            try:
                if isinstance(v, dict):
                    out[key] = (rtype, {k: _convert(rtype, fmt, x) for k, x in v.items()})
                else:
                    out[key] = (rtype, _convert(rtype, fmt, v))
            except (ValueError, UnicodeDecodeError, struct.error) as e:
                raise _Reply(BAD_REQUEST, "%s: %s" % (path_str(key), e))
        return out

    def _apply(self, raw, fmt, partial):
        """Checks every resource first (4.04 unknown, 4.05 not writable, 4.00 a single
        value for a Multiple resource or the other way round, or a value that is not of
        the resource's type), then writes them all."""
        for key, v in raw.items():
            if not self._instance_exists(*key[:2]):
                raise _Reply(NOT_FOUND, "no %s" % path_str(key[:2]))
            if key not in self.writable and key[:2] not in self.created:
                known = key in self.store or key in self.executable or (key[0], key[2]) in TYPES
                raise _Reply(METHOD_NOT_ALLOWED if known else NOT_FOUND,
                             "%s is not writable" % path_str(key))
            if key in self.store:
                multi = _is_multi(self.store[key][1])
            else:
                multi = TYPES.get((key[0], key[2]), (None, None))[1]
            if multi is not None and multi != isinstance(v, dict):
                raise _Reply(BAD_REQUEST, "%s is %s" % (
                    path_str(key), "Multiple" if multi else "Single"))
        for key, (rtype, v) in self._typed(raw, fmt).items():
            if isinstance(v, dict):
                if partial and key in self.store and _is_multi(self.store[key][1]):
                    merged = dict(_multi_items(self.store[key][1]))  # 5.4.3: adds or
                    merged.update(v)                                 # replaces instances
                    v = merged
                v = _multi_value(v)
            self.store[key] = (rtype, v)


def _guess_type(value):
    if isinstance(value, (list, dict)):
        items = _multi_items(value)
        return _guess_type(items[0][1]) if items else "Integer"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, (bytes, bytearray)):
        return "Opaque"
    if isinstance(value, tuple):
        return "Objlnk"
    return "String"
