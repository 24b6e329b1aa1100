"""A stand-in for the Kubernetes API server, for tests/cluster/test_discovery_k8s.py: no
real API server can run on the test machines (README.md, "Tests"). It serves, over HTTPS,
the two reads k8s discovery makes, shaped as the Kubernetes API reference documents them:

  GET /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices?labelSelector=
      kubernetes.io/service-name=<service>                 -> EndpointSliceList
  GET /api/v1/namespaces/<ns>/endpoints/<service>          -> Endpoints

and answers anything else, or a request without the expected bearer token, with a Status
object (404, 401), as the real one does. What it serves comes from a JSON state file,
read again for every request so that the test can change it while nodes run:

  {"token": "...", "slices": "serve" | "absent" | "forbidden",
   "services": {"<ns>/<service>": [{"ip": "10.0.0.1", "hostname": "emqxd-0",
                                    "ready": true, "terminating": false}, ...]}}

Every request is logged as one JSON line (method, path, query, whether the token was
right) to the log file, for the test to read.

Usage: k8s_standin.py STATE CERT KEY HOST PORT LOG
"""
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def status(code, reason, message):
    return code, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": message, "reason": reason, "code": code}


def endpoint_slices(ns, service, pods):
    eps = []
    for p in pods:
        e = {"addresses": [p["ip"]],
             "conditions": {"ready": p.get("ready", True),
                            "serving": p.get("ready", True) or p.get("terminating", False),
                            "terminating": p.get("terminating", False)},
             "targetRef": {"kind": "Pod", "namespace": ns, "name": p.get("hostname", p["ip"])}}
        if p.get("hostname"):
            e["hostname"] = p["hostname"]
        eps.append(e)
    return {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
            "metadata": {"resourceVersion": "1"},
            "items": [{"kind": "EndpointSlice", "apiVersion": "discovery.k8s.io/v1",
                       "metadata": {"name": service + "-abcde", "namespace": ns,
                                    "labels": {"kubernetes.io/service-name": service}},
                       "addressType": "IPv4", "endpoints": eps,
                       "ports": [{"name": "mqtt", "protocol": "TCP", "port": 1883}]}]}


def endpoints(ns, service, pods):
    ready, not_ready = [], []
    for p in pods:
        if p.get("terminating"):
            continue  # Endpoints drops a terminating pod
        a = {"ip": p["ip"], "targetRef": {"kind": "Pod", "namespace": ns,
                                          "name": p.get("hostname", p["ip"])}}
        if p.get("hostname"):
            a["hostname"] = p["hostname"]
        (ready if p.get("ready", True) else not_ready).append(a)
    subset = {"ports": [{"name": "mqtt", "port": 1883, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = ready
    if not_ready:
        subset["notReadyAddresses"] = not_ready
    body = {"kind": "Endpoints", "apiVersion": "v1",
            "metadata": {"name": service, "namespace": ns}}
    if ready or not_ready:
        body["subsets"] = [subset]
    return body


def answer(state, path, query, token_ok):
    if not token_ok:
        return status(401, "Unauthorized", "Unauthorized")
    parts = path.strip("/").split("/")
    # /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices
    if parts[:3] == ["apis", "discovery.k8s.io", "v1"] and len(parts) == 6 \
            and parts[3] == "namespaces" and parts[5] == "endpointslices":
        mode = state.get("slices", "serve")
        if mode == "absent":
            return status(404, "NotFound", "the server could not find the requested resource")
        if mode == "forbidden":
            return status(403, "Forbidden", 'endpointslices.discovery.k8s.io is forbidden: '
                          'User "system:serviceaccount:%s:default" cannot list resource '
                          '"endpointslices"' % parts[4])
        ns = parts[4]
        selector = query.get("labelSelector", [""])[0]
        prefix = "kubernetes.io/service-name="
        if not selector.startswith(prefix):
            return 200, {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
                         "metadata": {}, "items": []}
        service = selector[len(prefix):]
        pods = state.get("services", {}).get(ns + "/" + service)
        if pods is None:
            return 200, {"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
                         "metadata": {}, "items": []}
        return 200, endpoint_slices(ns, service, pods)
    # /api/v1/namespaces/<ns>/endpoints/<service>
    if parts[:2] == ["api", "v1"] and len(parts) == 6 and parts[2] == "namespaces" \
            and parts[4] == "endpoints":
        ns, service = parts[3], parts[5]
        pods = state.get("services", {}).get(ns + "/" + service)
        if pods is None:
            return status(404, "NotFound", 'endpoints "%s" not found' % service)
        return 200, endpoints(ns, service, pods)
    return status(404, "NotFound", "the server could not find the requested resource")


def main():
    state_path, cert, key, host, port, log_path = sys.argv[1:7]
    log = open(log_path, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            with open(state_path) as f:
                state = json.load(f)
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            token_ok = self.headers.get("Authorization") == "Bearer " + state["token"]
            code, body = answer(state, url.path, query, token_ok)
            log.write(json.dumps({"method": "GET", "path": url.path, "query": url.query,
                                  "token_ok": token_ok, "code": code}) + "\n")
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    log.write(json.dumps({"started": True}) + "\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
