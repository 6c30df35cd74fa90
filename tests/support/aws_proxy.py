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
(tests/support/strict_aws.py), which every moto server of the suite serves through; configure it there
(POST /_keyless/strict, strict_aws.strict_config) -- one limiter model.

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
As a script:  python tests/support/aws_proxy.py --upstream URL --port-file F --throttle-rate 0.1 ...
Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import http.server
import json
import os
import re
import signal
import socket
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import xml.etree.ElementTree as ET

if __name__ == "__main__":  # run as a script: the checkout's root, for tests.support.*
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# one home for these: the strict layer
from tests.support.strict_aws import draw, is_mutating  # noqa: E402

_SCOPE = re.compile(r"Credential=([^/]+)/[0-9]+/([^/]+)/([^/]+)/")
_INSTANCE_PARAM = re.compile(r"^InstanceIds?(\.\d+)?$")
_HOP_HEADERS = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te",
                "content-length"}

ASSOCIATE_ACTIONS = ("AssociateIamInstanceProfile", "ReplaceIamInstanceProfileAssociation")
PROFILE_WATCH = ("CreateInstanceProfile", "AddRoleToInstanceProfile")
FAULT_KINDS = ("throttle", "error", "drop", "drop_after", "propagation", "instance_rule")

# Error codes an always-failing instance can be given: code -> (HTTP status, message)
INSTANCE_ERRORS = {
    "UnauthorizedOperation": (403, "You are not authorized to perform this operation."),
    "IncorrectInstanceState": (400, "The instance is not in a valid state for this operation."),
    "InvalidInstanceID.NotFound": (400, "The instance ID does not exist"),
    "InternalError": (500, "An internal error has occurred"),
}


def error_body(service, code, message, json_protocol=False):
    """(content type, body) of an AWS error in the shape botocore parses for `service`."""
    request_id = str(uuid.uuid4())
    if json_protocol:
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    if service == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (code, _xml_escape(message), request_id))
    else:
        body = ("<ErrorResponse xmlns=\"https://%s.amazonaws.com/doc/\"><Error><Type>Sender</Type>"
                "<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                % (service, code, _xml_escape(message), request_id))
    return "text/xml", body.encode()


def _xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def throttle_error(service):
    """(status, code, message) of a throttle as `service` sends it."""
    if service == "ec2":
        return 503, "RequestLimitExceeded", "Request limit exceeded."
    return 400, "Throttling", "Rate exceeded"


def _local_name(tag):
    return tag.rsplit("}", 1)[-1]


def associations_in(xml_bytes):
    """{association id: instance id} found in an EC2 association response body."""
    found = {}
    try:
        root = ET.fromstring(xml_bytes)
    except ET.ParseError:
        return found
    for elem in root.iter():
        kids = {_local_name(child.tag): (child.text or "") for child in elem}
        if kids.get("associationId") and kids.get("instanceId"):
            found[kids["associationId"]] = kids["instanceId"]
    return found


def is_moto_crash_page(payload):
    """Werkzeug's "500 Internal Server Error" HTML page: what moto answers when it raised (its bug)."""
    head = payload.lstrip()[:400].lower()
    return b"<html" in head and b"500 internal server error" in head


class Request:
    """One parsed AWS request."""

    def __init__(self, method, path, headers, body):
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
        match = _SCOPE.search(headers.get("Authorization", ""))
        self.access_key, self.region, self.service = match.groups() if match else ("", "us-east-1", "unknown")
        self.json_protocol = bool(headers.get("X-Amz-Target"))
        self.params = {}
        if self.json_protocol:
            self.action = headers["X-Amz-Target"].rsplit(".", 1)[-1]
        elif "/operation/" in path:
            self.action = path.rsplit("/", 1)[-1]
        else:
            query = urllib.parse.urlsplit(path).query
            form = urllib.parse.parse_qs(query)
            if (headers.get("Content-Type") or "").startswith("application/x-www-form-urlencoded"):
                form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
            self.params = {k: v[0] for k, v in form.items()}
            self.action = self.params.get("Action", "%s %s" % (method, path.split("?")[0]))

    @property
    def name(self):
        return "%s:%s" % (self.service, self.action)

    @property
    def mutating(self):
        return is_mutating(self.action)

    def instance_ids(self):
        return [v for k, v in self.params.items() if _INSTANCE_PARAM.match(k)]

    def profile_ref(self):
        """('name'|'arn', value, profile name) of IamInstanceProfile.* in an associate/replace call."""
        if "IamInstanceProfile.Name" in self.params:
            name = self.params["IamInstanceProfile.Name"]
            return "name", name, name
        if "IamInstanceProfile.Arn" in self.params:
            arn = self.params["IamInstanceProfile.Arn"]
            return "arn", arn, arn.rsplit("/", 1)[-1]
        return None


class Decision:
    def __init__(self, kind=None, status=None, code=None, message=None):
        self.kind = kind
        self.status = status
        self.code = code
        self.message = message


class FaultState:
    """Parameters, counters and the decisions; shared by every handler thread."""

    PARAMS = ("seed", "throttle_rate", "error_rate", "drop_rate", "drop_after_rate", "latency",
              "latency_jitter", "propagation_delay", "propagation_start", "fail_instances", "services",
              "first_try_faults")

    def __init__(self, seed=0, throttle_rate=0.0, error_rate=0.0, drop_rate=0.0, drop_after_rate=0.0,
                 latency=0.0, latency_jitter=0.0, propagation_delay=0.0, propagation_start="created",
                 fail_instances=None, services=("ec2", "iam"), first_try_faults=None, clock=time.monotonic):
        self.lock = threading.Lock()
        self.clock = clock
        self.seen = {}
        self.profile_ready_at = {}
        self.association_instance = {}
        self.seed = seed
        self.throttle_rate = throttle_rate
        self.error_rate = error_rate
        self.drop_rate = drop_rate
        self.drop_after_rate = drop_after_rate
        self.latency = latency
        self.latency_jitter = latency_jitter
        self.propagation_delay = propagation_delay
        self.propagation_start = propagation_start
        self.fail_instances = dict(fail_instances or {})
        self.first_try_faults = dict(first_try_faults or {})
        self.services = tuple(services)
        self.reset_stats()

    # -- configuration -------------------------------------------------------------------------------------
    def configure(self, **params):
        unknown = set(params) - set(self.PARAMS)
        if unknown:
            raise ValueError("unknown proxy parameter(s): %s; known: %s" % (sorted(unknown), ", ".join(self.PARAMS)))
        with self.lock:
            for key, value in params.items():
                if key == "services":
                    value = tuple(value)
                if key in ("fail_instances", "first_try_faults"):
                    value = dict(value or {})
                setattr(self, key, value)

    def mark_profile_created(self, name):
        """Start the propagation delay of profile `name` (now, or at its first use)."""
        with self.lock:
            if self.propagation_start == "first_use":
                self.profile_ready_at[name] = None  # set by the first associate/replace naming it
            else:
                self.profile_ready_at[name] = self.clock() + float(self.propagation_delay)

    # -- statistics ------------------------------------------------------------------------------------------
    def reset_stats(self):
        with self.lock:
            self.calls = {}
            self.forwarded = {}
            self.repeats = {}
            self.upstream_errors = {}
            self.faults = {kind: {} for kind in FAULT_KINDS}
            self.started = self.clock()
            self.first_mutating = None
            self.last_mutating = None

    def stats(self, reset=False):
        with self.lock:
            faults = {kind: dict(v) for kind, v in self.faults.items()}
            throttles = dict(faults["throttle"])
            out = {
                "calls": dict(self.calls), "total_calls": sum(self.calls.values()),
                "forwarded": dict(self.forwarded), "total_forwarded": sum(self.forwarded.values()),
                "repeats": dict(self.repeats), "total_repeats": sum(self.repeats.values()),
                "upstream_errors": dict(self.upstream_errors),
                "faults": faults, "total_faults": sum(sum(v.values()) for v in faults.values()),
                "fault_totals": {kind: sum(v.values()) for kind, v in faults.items()},
                "throttles": throttles, "total_throttles": sum(throttles.values()),
                "mutating_window": [None if self.first_mutating is None else self.first_mutating - self.started,
                                    None if self.last_mutating is None else self.last_mutating - self.started],
            }
        if reset:
            self.reset_stats()
        return out

    def _bump(self, table, name):
        table[name] = table.get(name, 0) + 1

    def record_call(self, req):
        """Count the call; return its occurrence number (0 = first time this exact request was seen)."""
        key = "%s|%s|%s" % (req.service, req.action, hashlib.sha256(req.body).hexdigest())
        with self.lock:
            self._bump(self.calls, req.name)
            occurrence = self.seen.get(key, 0)
            self.seen[key] = occurrence + 1
            if occurrence:
                self._bump(self.repeats, req.name)
        return key, occurrence

    def record_fault(self, kind, req):
        with self.lock:
            self._bump(self.faults[kind], req.name)

    def record_upstream_error(self, req):
        with self.lock:
            self._bump(self.upstream_errors, req.name)

    def record_forwarded(self, req, status):
        now = self.clock()
        with self.lock:
            self._bump(self.forwarded, req.name)
            if req.service == "ec2" and req.mutating and status < 300:
                if self.first_mutating is None:
                    self.first_mutating = now
                self.last_mutating = now

    # -- decisions ---------------------------------------------------------------------------------------
    def delay_for(self, key, occurrence):
        if not (self.latency or self.latency_jitter):
            return 0.0
        return float(self.latency) + float(self.latency_jitter) * draw(self.seed, key + "|latency", occurrence)

    def decide(self, req, key, occurrence):
        """What to do with this request before it is forwarded; Decision(kind=None) means forward it."""
        if req.service not in self.services:
            return Decision()
        u = draw(self.seed, key, occurrence)
        forced = self.first_try_faults.get(req.action) if occurrence == 0 else None
        edge = 0.0
        for kind, rate in (("throttle", self.throttle_rate), ("error", self.error_rate),
                           ("drop", self.drop_rate), ("drop_after", self.drop_after_rate)):
            edge += float(rate or 0.0)
            if forced == kind or (forced is None and u < edge):
                if kind == "throttle":
                    return Decision(kind, *throttle_error(req.service))
                if kind == "error":
                    return Decision(kind, 500, "InternalError", "An internal error has occurred")
                return Decision(kind)
        if req.service == "ec2" and req.mutating and self.fail_instances:
            rule = self._instance_rule(req)
            if rule:
                return rule
        if req.service == "ec2" and req.action in ASSOCIATE_ACTIONS and self.propagation_delay:
            rule = self._propagation_rule(req)
            if rule:
                return rule
        return Decision()

    def _instance_rule(self, req):
        targets = list(req.instance_ids())
        assoc = req.params.get("AssociationId")
        if assoc:
            with self.lock:
                targets.append(self.association_instance.get(assoc, ""))
        for iid in targets:
            code = self.fail_instances.get(iid)
            if code:
                status, message = INSTANCE_ERRORS.get(code, (400, "Injected failure for %s" % iid))
                return Decision("instance_rule", status, code, message)
        return None

    def _propagation_rule(self, req):
        ref = req.profile_ref()
        if not ref:
            return None
        field, value, name = ref
        now = self.clock()
        with self.lock:
            if name in self.profile_ready_at and self.profile_ready_at[name] is None:
                self.profile_ready_at[name] = now + float(self.propagation_delay)
            ready_at = self.profile_ready_at.get(name)
        if ready_at is not None and now < ready_at:
            return Decision("propagation", 400, "InvalidParameterValue",
                            "Value (%s) for parameter iamInstanceProfile.%s is invalid. Invalid IAM Instance "
                            "Profile %s" % (value, field, field))
        return None

    def observe_response(self, req, status, body):
        """Learn from responses that passed: profile creation times, association -> instance."""
        if status >= 300:
            return
        if req.service == "iam" and req.action in PROFILE_WATCH and req.params.get("InstanceProfileName"):
            self.mark_profile_created(req.params["InstanceProfileName"])
        elif req.service == "ec2" and "IamInstanceProfileAssociation" in req.action:
            found = associations_in(body)
            if found:
                with self.lock:
                    self.association_instance.update(found)


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
