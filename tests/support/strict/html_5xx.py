"""html_5xx: AWS's front end answering a share of first attempts with an HTML 503 page, and the harness side
(retry_html_5xx, harness_retries_html_5xx) that lets test clients retry it as the 5xx it is."""

from __future__ import annotations

import hashlib
import threading

from tests.support.strict.core import Answer, Behaviour, draw, is_mutating


HTML_5XX_PAGE = b"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>503 Service Unavailable</title>
</head>
<body>
<h1>Service Unavailable</h1>
<p>The server is temporarily unable to service your request. Please try again later.<br>
</p>
</body>
</html>
"""


class Html5xx(Behaviour):
    """A share of requests is answered HTTP 503 with an HTML page instead of AWS's XML error, as a load balancer
    or an overloaded front end sends one; any 5xx is transient, whatever its body, and the request should be
    retried. botocore treats a 5xx body as a generic (retryable) error only when it starts with `<html>`; this
    page starts with `<!DOCTYPE html>`, so botocore tries to parse it as XML and raises ResponseParserError,
    which no botocore retry mode retries: the caller must. Which requests: the first attempt of about 1 in 50
    (`rate`) mutating EC2 and IAM requests, decided by a pure function of (seed, the request body, how many
    times that exact body was seen), so a retry (same body) passes and a run is repeatable. rate 0: never."""

    name = "html_5xx"
    source = ("AWS General Reference, \"Error retries and exponential backoff in AWS\" (retry 5xx server errors); "
              "EC2 developer guide, \"Request throttling for the Amazon EC2 API\", Retries and exponential backoff "
              "(\"retry an API request ... after it fails with a server error (5xx)\"); botocore/parsers.py "
              "ResponseParser._is_generic_error_response (only a body starting with <html> is generic)")
    PARAMS = ("rate", "seed", "services", "mutating_only", "first_attempt_only", "status")

    def __init__(self, rate=0.02, seed=0, services=("ec2", "iam"), mutating_only=True, first_attempt_only=True,
                 status=503):
        self.rate = float(rate)
        self.seed = seed
        self.services = list(services)
        self.mutating_only = bool(mutating_only)
        self.first_attempt_only = bool(first_attempt_only)
        self.status = int(status)
        self._lock = threading.Lock()
        self._seen = {}
        self.answered = 0

    def reset(self):
        with self._lock:
            self._seen.clear()

    def configure(self, **params):
        if "services" in params:
            params["services"] = list(params["services"])
        unknown = sorted(set(params) - set(self.PARAMS))
        if unknown:
            raise ValueError("%s: unknown parameter(s) %s; known: %s" % (self.name, unknown, list(self.PARAMS)))
        for key, value in params.items():
            current = getattr(self, key)
            setattr(self, key, value if isinstance(current, (list, str)) or key == "seed" else type(current)(value))

    def before(self, call, clock):
        if not self.rate or call.service not in self.services:
            return None
        if self.mutating_only and not is_mutating(call.action):
            return None
        key = "%s|%s|%s" % (call.service, call.action, hashlib.sha256(call.body).hexdigest())
        with self._lock:
            occurrence = self._seen.get(key, 0)
            self._seen[key] = occurrence + 1
        if self.first_attempt_only and occurrence:
            return None
        if draw(self.seed, key, occurrence) >= self.rate:
            return None
        return Answer(self.status, [("Content-Type", "text/html; charset=utf-8")], HTML_5XX_PAGE)


def _blank_html_5xx(response_dict=None, **_kwargs):
    """botocore before-parse: a 5xx whose body is not AWS's (an HTML page) gets an empty body, which botocore
    parses as a generic error of that status and retries like any 5xx."""
    if not response_dict or (response_dict.get("status_code") or 0) < 500:
        return
    body = response_dict.get("body") or b""
    head = body.lstrip()[:300].lower()
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        response_dict["body"] = b""


def retry_html_5xx(client):
    """Make one botocore client (of the test harness) retry html_5xx's pages as the 5xx they are."""
    client.meta.events.register("before-parse", _blank_html_5xx, unique_id="keyless-strict-html-5xx")
    return client


def harness_retries_html_5xx():
    """Every botocore session created from now on in this process retries HTML 5xx pages (for test processes
    whose product code runs elsewhere, e.g. in ansible-playbook subprocesses). Idempotent."""
    from botocore import handlers
    entry = ("before-parse", _blank_html_5xx)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)
