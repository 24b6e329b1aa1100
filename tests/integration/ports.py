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


def free_udp_port(pair=False):
    """A free UDP port on 127.0.0.1 for a gateway's listener; with `pair`, one whose next
    port is free too."""
    with _lock:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
                if port in _handed or (pair and port + 1 in _handed):
                    continue
                if pair:
                    try:
                        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s2:
                            s2.bind(("127.0.0.1", port + 1))
                    except OSError:
                        continue
                    _handed.add(port + 1)
                _handed.add(port)
                return port
