"""A small HTTP server for the webhook tests (the http connector's peer): it records every
request (method, path, headers, body) and answers with the status the test sets. stop()
closes its port (the connector sees connection refused); start() opens the same port again."""
import http.server
import threading
import time

from ports import free_port


class WebhookServer:
    def __init__(self, port=None):
        self.port = port or free_port()
        self.lock = threading.Condition()
        self.requests = []  # (method, path, headers dict lower-case, body bytes), 2xx answered
        self.attempts = 0   # every request, whatever it was answered
        self.status = 200
        self.server = None
        self.thread = None

    def start(self):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with owner.lock:
                    owner.attempts += 1
                    status = owner.status
                    if 200 <= status < 300:
                        owner.requests.append((self.command, self.path,
                                               {k.lower(): v for k, v in self.headers.items()},
                                               body))
                    owner.lock.notify_all()
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_POST = do_PUT = do_GET = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.thread.join(5)
            self.server = None

    def set_status(self, status):
        with self.lock:
            self.status = status

    def wait(self, n, timeout=10.0):
        """Until at least n requests were answered 2xx; returns them all."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while len(self.requests) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.lock.wait(left)
            return list(self.requests)

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port
