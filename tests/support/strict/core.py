"""The strict layer's interface, shared by every behaviour module: Call, Answer, error_answer, StrictClock,
Behaviour, and the parsing of a signed request into a Call (see the package docstring, tests/support/strict)."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field

ENV_SWITCHES = "KEYLESS_STRICT"
ENV_SPEED = "KEYLESS_STRICT_SPEED"
DEFAULT_SPEED = 10.0
READ_PREFIXES = ("Describe", "Get", "List", "Search", "Lookup")
_SCOPE = re.compile(r"Credential=([^/,\s]+)/[0-9]+/([^/]+)/([^/]+)/")


# -- the interface --------------------------------------------------------------------------------------------
@dataclass
class Call:
    service: str
    action: str
    region: str
    access_key: str = ""
    account: str = ""
    params: dict = field(default_factory=dict)
    body: bytes = b""
    json_protocol: bool = False


@dataclass
class Answer:
    status: int
    headers: list
    body: bytes


def _xml_escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def error_answer(service, status, code, message, json_protocol=False):
    """An AWS error in the shape botocore parses for `service` (EC2: <Response><Errors>; IAM/STS and the
    other query services: <ErrorResponse>; JSON services: {"__type", "message"})."""
    request_id = str(uuid.uuid4())
    if json_protocol:
        return Answer(status, [("Content-Type", "application/x-amz-json-1.1")],
                      json.dumps({"__type": code, "message": message}).encode())
    if service == "ec2":
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error><Code>%s</Code>"
                "<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>"
                % (code, _xml_escape(message), request_id))
    else:
        kind = "Receiver" if status >= 500 else "Sender"
        body = ("<ErrorResponse xmlns=\"https://%s.amazonaws.com/doc/\"><Error><Type>%s</Type>"
                "<Code>%s</Code><Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                % (service, kind, code, _xml_escape(message), request_id))
    return Answer(status, [("Content-Type", "text/xml")], body.encode())


class StrictClock:
    """AWS time as the strict layer sees it: real monotonic seconds times `speed` (tests run AWS's windows
    and buckets faster; the bench runs them at speed 1). Changing the speed keeps the time continuous."""

    def __init__(self, speed=1.0, clock=time.monotonic):
        self.speed = float(speed)
        self._clock = clock
        self._origin = clock()
        self._base = 0.0
        self._lock = threading.Lock()

    def now(self):
        return self._base + (self._clock() - self._origin) * self.speed

    def set_speed(self, speed):
        speed = float(speed)
        if speed <= 0:
            raise ValueError("speed must be > 0, not %r" % (speed,))
        with self._lock:
            self._base = self.now()
            self._origin = self._clock()
            self.speed = speed


_SCALARS = (bool, int, float, str)


class Behaviour:
    """One way AWS is stricter than moto. Subclasses set `name` and `source` and override what they need."""

    name = ""
    source = ""
    PARAMS = None  # names configure() may set; None: every public scalar attribute

    def reset(self):
        """Forget every state (moto was reset)."""

    def before(self, call, clock):
        """An Answer to send instead of forwarding the call to moto, or None to forward it."""
        return None

    def after(self, call, answer, clock):
        """The answer to send back, given what moto answered (rewrite it, or return it as it is)."""
        return answer

    def params(self):
        """The behaviour's parameters (JSON-able), as the control endpoint shows them."""
        names = self.PARAMS if self.PARAMS is not None else [
            k for k, v in vars(self).items() if not k.startswith("_") and isinstance(v, _SCALARS)]
        return {k: getattr(self, k) for k in names}

    def configure(self, **params):
        """Set parameters (POST /_keyless/strict {"<name>": {...}}); a value takes the type of the current one."""
        known = self.params()
        unknown = sorted(set(params) - set(known))
        if unknown:
            raise ValueError("%s: unknown parameter(s) %s; known: %s" % (self.name, unknown, sorted(known)))
        for key, value in params.items():
            current = known[key]
            if isinstance(current, bool):
                value = bool(value)
            elif isinstance(current, (int, float)) and not isinstance(value, bool):
                value = type(current)(value)
            setattr(self, key, value)

    def state(self):
        """Extra JSON-able state for GET /_keyless/strict (buckets, windows...)."""
        return {}


# -- request helpers -------------------------------------------------------------------------------------------
def is_mutating(action):
    """A mutating action (EC2's category): anything not Describe*/Get*/List*/Search* (or Lookup*)."""
    return not action.startswith(READ_PREFIXES)


def draw(seed, key, occurrence):
    """A uniform number in [0, 1), a pure function of its arguments."""
    digest = hashlib.sha256(("%s|%s|%d" % (seed, key, occurrence)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


_ASSUMED_KEY = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_ASSUMED_ARN = re.compile(rb"<Arn>arn:[^:<]+:sts::([0-9]{12}):assumed-role/")


def assumed_key_account(xml_bytes):
    """(access key id, account id) of an STS AssumeRole answer, or (None, None)."""
    key, arn = _ASSUMED_KEY.search(xml_bytes or b""), _ASSUMED_ARN.search(xml_bytes or b"")
    return (key.group(1).decode(), arn.group(1).decode()) if key and arn else (None, None)


def issued_key(xml_bytes):
    """The AccessKeyId an answer hands out (GetSessionToken, GetFederationToken, CreateAccessKey), or None."""
    key = _ASSUMED_KEY.search(xml_bytes or b"")
    return key.group(1).decode() if key else None


def parse_call(environ, body):
    """The Call of a SigV4-signed WSGI request, or None (unsigned: IMDS paths, moto's own API)."""
    match = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if not match:
        return None
    access_key, region, service = match.groups()
    target = environ.get("HTTP_X_AMZ_TARGET")
    path = environ.get("PATH_INFO", "")
    params = {}
    json_protocol = False
    if target:
        json_protocol = True
        action = target.rsplit(".", 1)[-1]
        try:
            loaded = json.loads(body or b"{}")
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = {}
    elif "/operation/" in path:  # smithy rpc-v2-cbor
        action = path.rsplit("/", 1)[-1]
    else:
        form = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        if body and environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
            form.update(urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        params = {k: v[0] for k, v in form.items()}
        action = params.get("Action") or "%s %s" % (environ.get("REQUEST_METHOD"), path)
    return Call(service=service, action=action, region=region, access_key=access_key, account=access_key,
                params=params, body=body, json_protocol=json_protocol)
