"""A small synchronous wrapper over paho-mqtt 1.6 for tests: connect, subscribe,
publish and wait for messages with bounded waits. Works for MQTT 3.1.1 and 5."""
import threading
import time

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

V311 = mqtt.MQTTv311
V5 = mqtt.MQTTv5

# Every Client made, so that conftest can stop their network threads after each test.
_clients = []


def close_all():
    """Stops the network thread and closes the socket of every Client made so far."""
    while _clients:
        c = _clients.pop()
        try:
            c.c.loop_stop()
            s = c.c.socket()
            if s is not None:
                s.close()
        except Exception:
            pass


class Client:
    def __init__(self, broker, client_id="", version=V5, clean=True, keepalive=60,
                 username=None, password=None, will=None, properties=None, connect=True,
                 bind_address=""):
        self.broker = broker
        self.bind_address = bind_address  # the local address to connect from
        self.version = version
        # No automatic reconnect: a test must see every disconnection the broker makes
        # (and the network thread ends at once when the broker closes the connection).
        kw = {"client_id": client_id, "protocol": version, "reconnect_on_failure": False}
        if version != V5:
            kw["clean_session"] = clean
        self.c = mqtt.Client(**kw)
        self.clean = clean
        self.keepalive = keepalive
        self.connect_properties = properties
        self.messages = []
        self.lock = threading.Condition()
        self.connack = None
        self.disconnect_rc = None
        self.disconnected = threading.Event()
        self.subacks = {}
        self.unsubacks = {}
        self.published = set()
        _clients.append(self)
        if username is not None:
            self.c.username_pw_set(username, password)
        if will is not None:
            self.c.will_set(**will)
        self.c.on_message = self._on_message
        self.c.on_connect = self._on_connect
        self.c.on_disconnect = self._on_disconnect
        self.c.on_subscribe = self._on_subscribe
        self.c.on_unsubscribe = self._on_unsubscribe
        self.c.on_publish = self._on_publish
        if connect:
            self.connect()

    # --- callbacks (paho's thread) ---
    def _on_message(self, c, u, msg):
        with self.lock:
            self.messages.append(msg)
            self.lock.notify_all()

    def _on_connect(self, c, u, flags, rc, properties=None):
        with self.lock:
            self.connack = (flags, rc, properties)
            self.lock.notify_all()

    def _on_disconnect(self, c, u, rc, properties=None):
        self.disconnect_rc = rc
        self.disconnected.set()

    def _on_subscribe(self, c, u, mid, granted, properties=None):
        with self.lock:
            self.subacks[mid] = granted
            self.lock.notify_all()

    def _on_unsubscribe(self, c, u, mid, properties=None, reasons=None):
        with self.lock:
            self.unsubacks[mid] = reasons
            self.lock.notify_all()

    def _on_publish(self, c, u, mid):
        with self.lock:
            self.published.add(mid)
            self.lock.notify_all()

    def _wait(self, cond, timeout):
        deadline = time.monotonic() + timeout
        with self.lock:
            while not cond():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.lock.wait(left)
            return True

    # --- API ---
    def connect(self, timeout=5.0):
        kw = {"keepalive": self.keepalive, "bind_address": self.bind_address}
        if self.version == V5:
            kw["clean_start"] = self.clean
            if self.connect_properties is not None:
                kw["properties"] = self.connect_properties
        self.c.connect(self.broker.host, self.broker.port, **kw)
        self.c.loop_start()
        assert self._wait(lambda: self.connack is not None, timeout), "no CONNACK"
        return self.connack

    def subscribe(self, topic, qos=0, timeout=5.0, **kw):
        rc, mid = self.c.subscribe(topic, qos, **kw)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        assert self._wait(lambda: mid in self.subacks, timeout), "no SUBACK"
        return self.subacks[mid]

    def unsubscribe(self, topic, timeout=5.0, **kw):
        rc, mid = self.c.unsubscribe(topic, **kw)
        assert rc == mqtt.MQTT_ERR_SUCCESS
        assert self._wait(lambda: mid in self.unsubacks, timeout), "no UNSUBACK"
        return self.unsubacks[mid]

    def publish(self, topic, payload=b"", qos=0, retain=False, wait=True, timeout=5.0, **kw):
        info = self.c.publish(topic, payload, qos, retain, **kw)
        if wait and qos > 0:
            assert self._wait(lambda: info.mid in self.published, timeout), "no ack for publish"
        return info

    def wait_messages(self, n, timeout=5.0):
        """Waits until at least n messages arrived; returns all received so far."""
        self._wait(lambda: len(self.messages) >= n, timeout)
        with self.lock:
            return list(self.messages)

    def expect_no_more(self, n, settle=0.3):
        """Checks that no message beyond the n-th arrives within `settle` seconds."""
        time.sleep(settle)
        with self.lock:
            return len(self.messages) == n

    def disconnect(self, properties=None, reasoncode=None):
        kw = {}
        if properties is not None:
            kw["properties"] = properties
        if reasoncode is not None:
            kw["reasoncode"] = reasoncode
        self.c.disconnect(**kw)
        self.disconnected.wait(5)
        self.c.loop_stop()

    def kill(self):
        """Drops the TCP connection without DISCONNECT (an abnormal close)."""
        self.c.loop_stop()
        self.c.socket().close()


def props(packet_type, **values):
    p = Properties(packet_type)
    for k, v in values.items():
        setattr(p, k, v)
    return p


CONNECT = PacketTypes.CONNECT
PUBLISH = PacketTypes.PUBLISH
SUBSCRIBE = PacketTypes.SUBSCRIBE
DISCONNECT = PacketTypes.DISCONNECT
