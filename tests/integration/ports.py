"""Free loopback ports for the brokers a test or benchmark starts.

The kernel may hand out the same ephemeral port twice in a row once the first probe
socket is closed, and a node needs three at once (MQTT, HTTP API, cluster RPC): a port
this process already handed out is never handed out again."""
import socket
import threading

_handed = set()
_lock = threading.Lock()


def free_port():
    with _lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            if port not in _handed:
                _handed.add(port)
                return port
