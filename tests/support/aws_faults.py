"""The fault model of the fault proxy (tests/support/aws_proxy.py, whose docstring describes each fault): the
parsed Request, the Decision per request, FaultState (rates, seeded draws, propagation windows, counters) and
the AWS error bodies the proxy answers with. Standard library only, besides the strict layer's draw."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

from tests.support.strict import draw, is_mutating

_SCOPE = re.compile(r"Credential=([^/]+)/[0-9]+/([^/]+)/([^/]+)/")
_INSTANCE_PARAM = re.compile(r"^InstanceIds?(\.\d+)?$")

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
