"""An HTTP proxy on 127.0.0.1 in front of the moto server: fault injection, and a tap that counts calls.

Point the modules' endpoint_url at the proxy; it forwards every request to the upstream (moto) over
keep-alive connections, unless it decides to answer it itself:

Faults (each rate a parameter, decided by a seeded generator so a run is repeatable):
  throttle_rate      EC2: HTTP 503 RequestLimitExceeded (EC2's <Response><Errors> body);
                     IAM/STS: HTTP 400 Throttling "Rate exceeded" (the query protocol's <ErrorResponse>)
  error_rate         HTTP 500 InternalError (in the service's error body shape)
  drop_rate          the connection is closed before the request is forwarded (the call never happened)
  drop_after_rate    the request is forwarded and applied, then the connection is closed without the
                     response (the nasty case: a retry repeats a call that already took effect)
  latency, latency_jitter   seconds added to every request (fixed + uniform extra)
  propagation_delay  for K seconds after an instance profile is created or gets its role (the proxy
                     watches CreateInstanceProfile / AddRoleToInstanceProfile succeed), EC2
                     AssociateIamInstanceProfile / ReplaceIamInstanceProfileAssociation naming it answers
                     HTTP 400 InvalidParameterValue "Value (NAME) for parameter iamInstanceProfile.name is
                     invalid. Invalid IAM Instance Profile name", as EC2 does while IAM propagates.
                     propagation_start="first_use" counts the K seconds from the first associate/replace
                     naming the profile instead: the worst case of a playbook that uses a profile the
                     instant it is created, independent of how slow the test machine is
  first_try_faults   {action: fault kind}: the first attempt of every distinct request of that action gets
                     that fault (throttle, error, drop or drop_after), its retry passes -- to hit one
                     code path on purpose, e.g. {"AssociateIamInstanceProfile": "drop_after"}
  fail_instances     {instance_id: error code}: every mutating EC2 call naming that instance (directly, or
                     through an association id the proxy has seen) fails with that error

Repeatability: a decision is a pure function of (seed, service, action, request body, how many times this
exact request was seen before). Thread interleaving therefore does not change which request is faulted, and a
retry of a faulted request (same body) gets a fresh, equally deterministic draw. Across two fleets the
instance ids differ, so the faulted requests differ while the rates stay the same.

AWS's rate limits are not here: EC2's per-API token buckets are the strict layer's rate_limit behaviour
(tests/support/strict/), which every moto server of the suite serves through; configure it there
(POST /_keyless/strict, strict.strict_config) -- one limiter model.

Upstream crashes: moto answers its own unhandled exceptions with werkzeug's HTML "500 Internal Server Error"
page (for instance its association dict is not thread-safe: concurrent Replace/Disassociate calls can raise
"dictionary changed size during iteration"). That page is moto's bug, not AWS's behaviour: the proxy rewrites
it (and only it: status 500 with werkzeug's title) into the service's InternalError body (counted as
upstream_errors). Other HTML 5xx pages pass through untouched: the strict layer's html_5xx sends them on
purpose, as AWS's front ends do.

Control endpoints (never faulted, never counted): GET /_proxy/stats (POST /_proxy/stats/reset or
GET /_proxy/stats?reset=1 to read and clear), POST /_proxy/config with a JSON object of parameters to change
(e.g. turn faults off), POST /_proxy/profile-created?name=NAME to start the propagation delay for a profile
created behind the proxy's back. /_keyless/* and /moto-api/* are passed through unfaulted and uncounted.

In-process:   with AwsProxy(moto.url, seed=1, throttle_rate=0.1) as proxy: ... proxy.url ... proxy.stats()
As a module:  python -m tests.support.aws_proxy --upstream URL --port-file F --throttle-rate 0.1 ...
Standard library only.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import json
import os
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request

from tests.support.aws_faults import FaultState, Request, error_body, is_moto_crash_page

_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
                "content-length"}


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None  # FaultState, set on the subclass made per server
    upstream = None  # (host, port)

    def log_message(self, *args):  # quiet
        pass

    def setup(self):
        super().setup()
        self._upstream_conn = None

    def finish(self):
        try:
            super().finish()
        finally:
            if self._upstream_conn is not None:
                self._upstream_conn.close()

    def do_GET(self):
        self._handle()

    def do_POST(self):
        self._handle()

    def do_PUT(self):
        self._handle()

    def do_DELETE(self):
        self._handle()

    def do_HEAD(self):
        self._handle()

    def _read_body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self):
        body = self._read_body()
        if self.path.startswith("/_proxy/"):
            return self._control(body)
        if self.path.startswith(("/_keyless/", "/moto-api/")):
            status, headers, payload = self._forward(body)
            return self._send(status, headers, payload)
        req = Request(self.command, self.path, self.headers, body)
        key, occurrence = self.state.record_call(req)
        delay = self.state.delay_for(key, occurrence)
        if delay:
            time.sleep(delay)
        decision = self.state.decide(req, key, occurrence)
        if decision.kind:
            self.state.record_fault(decision.kind, req)
        if decision.kind == "drop":
            return self._drop()
        if decision.kind and decision.kind != "drop_after":
            ctype, payload = error_body(req.service, decision.code, decision.message, req.json_protocol)
            return self._send(decision.status, [("Content-Type", ctype)], payload)
        try:
            status, headers, payload = self._forward(body)
        except (OSError, http.client.HTTPException):
            return self._drop()
        if status == 500 and not req.json_protocol and is_moto_crash_page(payload):
            self.state.record_upstream_error(req)
            ctype, payload = error_body(req.service, "InternalError", "An internal error has occurred")
            headers = [("Content-Type", ctype)]
        self.state.record_forwarded(req, status)
        self.state.observe_response(req, status, payload)
        if decision.kind == "drop_after":
            return self._drop()
        return self._send(status, headers, payload)

    def _forward(self, body):
        """Send the request upstream on this connection's keep-alive connection; one retry if it went stale."""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
        for attempt in (0, 1):
            if self._upstream_conn is None:
                self._upstream_conn = http.client.HTTPConnection(*self.upstream, timeout=300)
            try:
                self._upstream_conn.request(self.command, self.path, body=body, headers=headers)
                resp = self._upstream_conn.getresponse()
                payload = resp.read()
                out_headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_HEADERS]
                if resp.will_close:
                    self._upstream_conn.close()
                    self._upstream_conn = None
                return resp.status, out_headers, payload
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._upstream_conn.close()
                self._upstream_conn = None
                if attempt:
                    raise
        raise OSError("unreachable")

    def _send(self, status, headers, payload):
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _drop(self):
        """Close the client connection without a response."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _json(self, status, obj):
        self._send(status, [("Content-Type", "application/json")], json.dumps(obj, sort_keys=True).encode())

    def _control(self, body):
        parts = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(parts.query)
        if parts.path == "/_proxy/stats":
            return self._json(200, self.state.stats(reset=query.get("reset", ["0"])[0] in ("1", "true")))
        if parts.path == "/_proxy/stats/reset":
            return self._json(200, self.state.stats(reset=True))
        if parts.path == "/_proxy/config" and self.command == "POST":
            try:
                self.state.configure(**json.loads(body or b"{}"))
            except (ValueError, TypeError) as exc:
                return self._json(400, {"error": str(exc)})
            return self._json(200, {name: _jsonable(getattr(self.state, name)) for name in FaultState.PARAMS})
        if parts.path == "/_proxy/profile-created" and query.get("name"):
            self.state.mark_profile_created(query["name"][0])
            return self._json(200, {"profile": query["name"][0]})
        return self._json(404, {"error": "unknown control path %s" % parts.path})


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256
    allow_reuse_address = True


class AwsProxy:
    """The proxy, served from a background thread; use as a context manager. Parameters: see FaultState."""

    def __init__(self, upstream, port=0, host="127.0.0.1", **params):
        parts = urllib.parse.urlsplit(upstream)
        self.upstream_url = upstream.rstrip("/")
        self.state = FaultState(**params)
        handler = type("BoundProxyHandler", (ProxyHandler,), {
            "state": self.state, "upstream": (parts.hostname, parts.port or 80)})
        self.server = _Server((host, port), handler)
        self.host, self.port = self.server.server_address[:2]
        self.url = "http://%s:%d" % (self.host, self.port)
        self.thread = threading.Thread(target=self.server.serve_forever, name="aws-proxy", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def stats(self, reset=False):
        return self.state.stats(reset=reset)

    def configure(self, **params):
        self.state.configure(**params)

    def mark_profile_created(self, name):
        self.state.mark_profile_created(name)


# -- clients of a proxy running elsewhere (script mode) ----------------------------------------------------
def proxy_stats(url, reset=False):
    path = "/_proxy/stats/reset" if reset else "/_proxy/stats"
    req = urllib.request.Request(url.rstrip("/") + path, method="POST" if reset else "GET")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def proxy_configure(url, **params):
    req = urllib.request.Request(url.rstrip("/") + "/_proxy/config", data=json.dumps(params).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def _parse_fail_instance(text):
    iid, _sep, code = text.partition("=")
    return iid, code or "UnauthorizedOperation"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--upstream", required=True, help="the moto server's URL")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", help="write the bound port here once listening")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throttle-rate", type=float, default=0.0)
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--drop-rate", type=float, default=0.0)
    parser.add_argument("--drop-after-rate", type=float, default=0.0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--latency-jitter", type=float, default=0.0, help="up to this many seconds more")
    parser.add_argument("--propagation-delay", type=float, default=0.0)
    parser.add_argument("--propagation-start", choices=("created", "first_use"), default="created")
    parser.add_argument("--fail-instance", action="append", default=[], metavar="ID[=CODE]")
    parser.add_argument("--services", default="ec2,iam", help="services that get faults (comma-separated)")
    args = parser.parse_args(argv)
    proxy = AwsProxy(args.upstream, port=args.port, seed=args.seed, throttle_rate=args.throttle_rate,
                     error_rate=args.error_rate, drop_rate=args.drop_rate, drop_after_rate=args.drop_after_rate,
                     latency=args.latency, latency_jitter=args.latency_jitter,
                     propagation_delay=args.propagation_delay, propagation_start=args.propagation_start,
                     fail_instances=dict(_parse_fail_instance(t) for t in args.fail_instance),
                     services=[s for s in args.services.split(",") if s])
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as handle:
            handle.write(str(proxy.port))
        os.replace(args.port_file + ".tmp", args.port_file)
    print("aws proxy listening on %s -> %s" % (proxy.url, args.upstream), flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    try:
        proxy.server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
