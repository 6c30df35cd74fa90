"""The middleware (StrictAws), its switches (parse_switches, settings_from_env) and which behaviours it runs
(own_behaviours, default_behaviours)."""

from __future__ import annotations

import http.client
import io
import json
import os
import sys
import threading
import traceback

from tests.support.strict.core import (DEFAULT_SPEED, ENV_SPEED, ENV_SWITCHES, Answer, StrictClock, assumed_key_account,
                                       issued_key, parse_call)
from tests.support.strict.ec2_windows import AssociationWindows, MetadataPending
from tests.support.strict.html_5xx import Html5xx
from tests.support.strict.iam_propagation import Ec2ProfilePropagation, IamPropagation, UniqueIdArns
from tests.support.strict.rate_limit import RateLimit
from tests.support.strict.validation import FilterLimit, StsRegion

# The state behaviours (IAM propagation, unique-id ARNs, association and metadata windows), in the order the layer
# runs them. Classes, not instances: default_behaviours() makes a fresh instance of each per server, so two servers
# in one process (one pytest worker) never share windows; each class's defaults are AWS's.
STATE_BEHAVIOURS = [IamPropagation, Ec2ProfilePropagation, UniqueIdArns, AssociationWindows, MetadataPending]
# The WSGI environ key under which the layer hands the account of each signed call (learnt from the STS answers
# that passed through it, see _learn; else the access key itself) to the app inside it: the call counter
# (tests/support/moto_server.py CallCounter) counts calls per account with it.
ACCOUNT_ENVIRON = "keyless.account"


def own_behaviours():
    """A fresh instance of each behaviour of this module, in the order the layer runs them: the front end
    (html_5xx) first, then throttling, then request validation."""
    return [Html5xx(), RateLimit(), FilterLimit(), StsRegion()]


def default_behaviours():
    """Every behaviour of the layer: the request-side ones (own_behaviours, fresh) and STATE_BEHAVIOURS."""
    return own_behaviours() + [b() if isinstance(b, type) else b for b in STATE_BEHAVIOURS]


def parse_switches(spec, names):
    """The enabled names of a KEYLESS_STRICT spec: "all", "none", "a,b" (only those), "-a,-b" (all but those),
    "none,+a" / "all,-a"; an unknown name is an error (a typo would silently leave a behaviour on)."""
    if spec is None:
        spec = "all"
    if not isinstance(spec, str):
        spec = ",".join(spec)
    tokens = [t.strip() for t in spec.split(",") if t.strip()]
    if not tokens:
        return []
    enabled = set(names) if tokens[0] == "all" or tokens[0].startswith("-") else set()
    for token in tokens:
        if token in ("all", "none"):
            enabled = set(names) if token == "all" else set()
            continue
        sign, name = (token[0], token[1:]) if token[0] in "+-" else ("+", token)
        if name not in names:
            raise ValueError("%s: unknown strict behaviour %r; known: %s" % (ENV_SWITCHES, name, ", ".join(names)))
        (enabled.add if sign == "+" else enabled.discard)(name)
    return [n for n in names if n in enabled]


# -- the middleware --------------------------------------------------------------------------------------------
class StrictAws:
    """WSGI middleware: AWS's strictness in front of `app` (moto). See the module docstring."""

    def __init__(self, app, behaviours=None, speed=DEFAULT_SPEED, enabled="all"):
        self.app = app
        items = default_behaviours() if behaviours is None else list(behaviours)
        self.behaviours = [b() if isinstance(b, type) else b for b in items]
        self.by_name = {b.name: b for b in self.behaviours}
        if len(self.by_name) != len(self.behaviours):
            raise ValueError("two strict behaviours share a name: %s" % [b.name for b in self.behaviours])
        self.clock = StrictClock(speed)
        self.lock = threading.Lock()
        self.enabled = set(parse_switches(enabled, list(self.by_name)))
        self.key_account = {}
        self.refused = {}
        self.rewritten = {}

    # -- state ---------------------------------------------------------------------------------------------------
    def reset(self):
        for behaviour in self.behaviours:
            behaviour.reset()
        with self.lock:
            self.key_account.clear()
        self.reset_stats()

    def reset_stats(self):
        with self.lock:
            self.refused = {}
            self.rewritten = {}
        for behaviour in self.behaviours:
            if hasattr(behaviour, "reset_stats"):
                behaviour.reset_stats()

    def snapshot(self):
        with self.lock:
            enabled = [b.name for b in self.behaviours if b.name in self.enabled]
            stats = {"refused": {k: dict(v) for k, v in self.refused.items()},
                     "rewritten": {k: dict(v) for k, v in self.rewritten.items()}}
        return {"enabled": enabled, "available": [b.name for b in self.behaviours], "speed": self.clock.speed,
                "stats": stats,
                "behaviours": {b.name: {"enabled": b.name in enabled, "source": b.source, "params": b.params(),
                                        "state": b.state()} for b in self.behaviours}}

    def configure(self, settings):
        """Apply a POST /_keyless/strict body (validated first: nothing changes when a part is wrong)."""
        settings = dict(settings)
        names = list(self.by_name)

        def expand(items):
            if items in ("all", ["all"]):
                return names
            return [items] if isinstance(items, str) else list(items)

        disable, enable = expand(settings.pop("disable", [])), expand(settings.pop("enable", []))
        speed = settings.pop("speed", None)
        reset, reset_stats = settings.pop("reset", False), settings.pop("reset_stats", False)
        for name in disable + enable + list(settings):
            if name not in self.by_name:
                raise ValueError("unknown strict behaviour or setting %r; known: %s, and disable, enable, speed, reset, "
                                 "reset_stats" % (name, ", ".join(names)))
        if speed is not None and float(speed) <= 0:
            raise ValueError("speed must be > 0, not %r" % (speed,))
        for name, params in settings.items():
            if not isinstance(params, dict):
                raise ValueError("%s: parameters must be an object, not %r" % (name, params))
            self.by_name[name].configure(**params)
        with self.lock:
            self.enabled.difference_update(disable)
            self.enabled.update(enable)
        if speed is not None:
            self.clock.set_speed(speed)
        if reset:
            for behaviour in self.behaviours:
                behaviour.reset()
        if reset_stats:
            self.reset_stats()

    def _count(self, table, behaviour, call):
        with self.lock:
            per = table.setdefault(behaviour.name, {})
            key = "%s:%s" % (call.service, call.action)
            per[key] = per.get(key, 0) + 1

    def _learn(self, call, answer):
        if answer.status >= 300:
            return
        if call.service == "sts":
            key, account = assumed_key_account(answer.body)
            if not key:
                key, account = issued_key(answer.body), call.account
        elif call.service == "iam" and call.action == "CreateAccessKey":
            key, account = issued_key(answer.body), call.account
        else:
            return
        if key and account:
            with self.lock:
                self.key_account[key] = account

    # -- WSGI ----------------------------------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.rstrip("/") == "/_keyless/strict":
            return self._control(environ, start_response)
        if path.startswith(("/_keyless/", "/moto-api")):
            if not path.startswith("/moto-api/reset"):
                return self.app(environ, start_response)
            out = list(self.app(environ, start_response))
            self.reset()
            return out
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        call = parse_call(environ, body)
        if call is None:
            return self.app(environ, start_response)
        with self.lock:
            call.account = self.key_account.get(call.access_key, call.access_key)
            enabled = [b for b in self.behaviours if b.name in self.enabled]
        environ[ACCOUNT_ENVIRON] = call.account  # for the call counter inside (moto_server.CallCounter.by_account)
        current = None
        try:
            for current in enabled:
                answer = current.before(call, self.clock)
                if answer is not None:
                    self._count(self.refused, current, call)
                    return self._send(start_response, answer)
            current = None
            answer = self._forward(environ)
            self._learn(call, answer)
            for current in enabled:
                rewritten = current.after(call, answer, self.clock)
                if rewritten is not answer:
                    self._count(self.rewritten, current, call)
                    answer = rewritten
        except Exception:
            sys.stderr.write("strict layer (%s) on %s:%s:\n%s" % (
                current.name if current else "moto", call.service, call.action, traceback.format_exc()))
            raise
        return self._send(start_response, answer)

    def _forward(self, environ):
        captured = {}
        chunks = []

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return chunks.append

        result = self.app(environ, capture)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            if hasattr(result, "close"):
                result.close()
        return Answer(int(captured["status"].split(" ", 1)[0]), list(captured["headers"]), b"".join(chunks))

    @staticmethod
    def _send(start_response, answer):
        headers = [(k, v) for k, v in answer.headers if k.lower() not in ("content-length", "transfer-encoding")]
        headers.append(("Content-Length", str(len(answer.body))))
        start_response("%d %s" % (answer.status, http.client.responses.get(answer.status, "Unknown")), headers)
        return [answer.body]

    def _control(self, environ, start_response):
        status = "200 OK"
        if environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            raw = environ["wsgi.input"].read(length) if length else b""
            try:
                settings = json.loads(raw or b"{}")
                if not isinstance(settings, dict):
                    raise ValueError("a JSON object, not %r" % (settings,))
                self.configure(settings)
                payload = self.snapshot()
            except (ValueError, TypeError, KeyError) as exc:
                status, payload = "400 Bad Request", {"error": str(exc)}
        else:
            payload = self.snapshot()
        data = json.dumps(payload, sort_keys=True, default=list).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def settings_from_env(environ=None):
    """(switch spec, speed) from KEYLESS_STRICT / KEYLESS_STRICT_SPEED."""
    environ = os.environ if environ is None else environ
    return environ.get(ENV_SWITCHES) or "all", float(environ.get(ENV_SPEED) or DEFAULT_SPEED)
