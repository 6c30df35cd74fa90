# -*- coding: utf-8 -*-
# Copyright: keyless.aws contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""IMDSv2 client for code that runs on the instance itself.

Python 3.8+ standard library only (no boto3 on instances). Proxies from the environment are ignored on
purpose: the metadata service is link-local and must never be reached through a proxy. Credentials are
read to learn their Code/LastUpdated/Expiration; the key, secret and token are dropped at once and never
stored on the client.

Private to the collection (no stable API); it runs on the instances: standard library only.
"""

from __future__ import annotations

import datetime
import json
import time

from urllib.error import HTTPError
from urllib.request import ProxyHandler, Request, build_opener

DEFAULT_ENDPOINT = "http://169.254.169.254"
IPV6_ENDPOINT = "http://[fd00:ec2::254]"
TOKEN_PATH = "/latest/api/token"
TOKEN_TTL_HEADER = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HEADER = "X-aws-ec2-metadata-token"
MAX_TOKEN_TTL = 21600
CREDENTIALS_PATH = "/latest/meta-data/iam/security-credentials/"
SECRET_FIELDS = ("AccessKeyId", "SecretAccessKey", "Token")
# 5xx and connection problems are worth another try; 4xx answers are the service's verdict.
RETRY_STATUSES = (500, 502, 503, 504)


class ImdsUnreachable(Exception):
    """No HTTP answer at all (timeout, refused, reset) after every attempt."""

    def __init__(self, method, url, reason, attempts):
        self.method = method
        self.url = url
        self.reason = reason
        self.attempts = attempts
        super().__init__("%s %s: no answer after %d attempt(s): %s" % (method, url, attempts, reason))


class ImdsResponse:
    def __init__(self, status, body):
        self.status = status
        self.body = body

    @property
    def ok(self):
        return self.status == 200


class ImdsClient:
    """A small IMDSv2 client: one token per client, bounded retries, short timeouts."""

    def __init__(self, endpoint=DEFAULT_ENDPOINT, timeout=2.0, retries=2, token_ttl=MAX_TOKEN_TTL, backoff=0.25,
                 sleep=time.sleep):
        self.endpoint = endpoint.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.token_ttl = token_ttl
        self.backoff = backoff
        self._sleep = sleep
        self._opener = build_opener(ProxyHandler({}))
        self._token = None
        self.token_status = None  # HTTP status of the token PUT, or None when unreachable

    # --- transport -------------------------------------------------------------------------------
    def request(self, method, path, headers=None):
        """One HTTP exchange with bounded retries on 5xx/no answer; returns ImdsResponse or raises ImdsUnreachable."""
        url = self.endpoint + path
        last_reason = None
        attempts = 1 + max(0, self.retries)
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.backoff * (2 ** (attempt - 1)))
            req = Request(url, method=method, headers=dict(headers or {}))
            try:
                with self._opener.open(req, timeout=self.timeout) as resp:
                    response = ImdsResponse(resp.status, resp.read().decode("utf-8", "replace"))
            except HTTPError as exc:
                response = ImdsResponse(exc.code, _read_error_body(exc))
            except OSError as exc:  # URLError, timeouts, refused/reset connections
                last_reason = getattr(exc, "reason", None) or exc
                continue
            if response.status in RETRY_STATUSES and attempt + 1 < attempts:
                last_reason = "HTTP %d" % response.status
                continue
            return response
        raise ImdsUnreachable(method, url, last_reason, attempts)

    # --- IMDSv2 token ----------------------------------------------------------------------------
    def fetch_token(self):
        """PUT /latest/api/token; returns True when a token was issued (kept on the client only)."""
        response = self.request("PUT", TOKEN_PATH, {TOKEN_TTL_HEADER: str(self.token_ttl)})
        self.token_status = response.status
        self._token = response.body.strip() if response.ok and response.body.strip() else None
        return self._token is not None

    def get(self, path):
        """GET with the token when there is one."""
        headers = {TOKEN_HEADER: self._token} if self._token else {}
        return self.request("GET", path, headers)

    def get_without_token(self, path="/latest/meta-data/instance-id"):
        """A token-less (IMDSv1) GET: 200 allowed, 401 tokens required, 403 endpoint disabled."""
        return self.request("GET", path)

    def get_text(self, path):
        """The body of a 200 answer, or None (404 and friends)."""
        response = self.get(path)
        return response.body.strip() if response.ok else None

    # --- what we read ----------------------------------------------------------------------------
    def instance_id(self):
        return self.get_text("/latest/meta-data/instance-id")

    def region(self):
        region = self.get_text("/latest/meta-data/placement/region")
        if region:
            return region
        document = self.get_text("/latest/dynamic/instance-identity/document")
        try:
            return json.loads(document).get("region") if document else None
        except ValueError:
            return None

    def role_name(self):
        """The role of the instance profile, or None when none is attached (IMDS answers 404)."""
        text = self.get_text(CREDENTIALS_PATH)
        if not text:
            return None
        return text.splitlines()[0].strip() or None

    def instance_profile_arn(self):
        text = self.get_text("/latest/meta-data/iam/info")
        try:
            return json.loads(text).get("InstanceProfileArn") if text else None
        except ValueError:
            return None

    def credentials_metadata(self, role_name, now=None):
        """Code, LastUpdated, Expiration of the role's credentials; the secrets are dropped before returning."""
        response = self.get(CREDENTIALS_PATH + role_name)
        if not response.ok:
            return {"code": None, "http_status": response.status, "last_updated": None, "expiration": None,
                    "expires_in_seconds": None, "type": None}
        return credentials_metadata_from_body(response.body, now=now)


def credentials_metadata_from_body(body, now=None):
    """Parse the credentials JSON and keep only what is safe to show."""
    try:
        document = json.loads(body)
    except ValueError:
        document = {}
    if not isinstance(document, dict):
        document = {}
    for field in SECRET_FIELDS:
        document.pop(field, None)
    expiration = document.get("Expiration")
    return {
        "code": document.get("Code"),
        "http_status": 200,
        "type": document.get("Type"),
        "last_updated": document.get("LastUpdated"),
        "expiration": expiration,
        "expires_in_seconds": seconds_until(expiration, now),
    }


def parse_time(text):
    """IMDS timestamps: 2026-12-01T14:00:00Z -> aware datetime (None when unparsable)."""
    if not text:
        return None
    for fmt in ("%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ"):
        try:
            return datetime.datetime.strptime(text, fmt).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            continue
    return None


def seconds_until(text, now=None):
    when = parse_time(text)
    if when is None:
        return None
    now = now or datetime.datetime.now(datetime.timezone.utc)
    return int((when - now).total_seconds())


def _read_error_body(exc):
    try:
        return exc.read().decode("utf-8", "replace")
    except (OSError, ValueError, AttributeError):  # an unreadable error body is just empty
        return ""


# --- what the instance looks like, and the checks (pure) --------------------------------------------
def observe(client, now=None, probe_imdsv1=True):
    """Everything imds_info reports, read through `client`; never holds a secret. probe_imdsv1=False sends no
    token-less GET (and reads nothing without a token): on an instance that still allows IMDSv1 that GET is an
    IMDSv1 call, which CloudWatch counts in its MetadataNoToken metric, the very signal that holds it back."""
    obs = {"endpoint": client.endpoint, "token_ok": False, "token_status": None, "imdsv1_status": None,
           "instance_id": None, "region": None, "role_name": None, "instance_profile_arn": None,
           "credentials": None, "errors": []}
    try:
        obs["token_ok"] = client.fetch_token()
        obs["token_status"] = client.token_status
    except ImdsUnreachable as exc:
        obs["errors"].append("IMDSv2 token request: %s" % exc)
    if probe_imdsv1:
        try:
            obs["imdsv1_status"] = client.get_without_token().status
        except ImdsUnreachable as exc:
            obs["errors"].append("token-less GET: %s" % exc)
    if not obs["token_ok"] and obs["imdsv1_status"] != 200:
        return obs  # nothing more can be read: endpoint disabled, hop limit too low, or no IMDS here
    try:
        obs["instance_id"] = client.instance_id()
        obs["region"] = client.region()
        obs["role_name"] = client.role_name()
        if obs["role_name"]:
            obs["instance_profile_arn"] = client.instance_profile_arn()
            obs["credentials"] = client.credentials_metadata(obs["role_name"], now=now)
    except ImdsUnreachable as exc:
        obs["errors"].append(str(exc))
    return obs


def _last_segment(name):
    """A role given as ARN (arn:aws:iam::1:role/path/name) compares by its name."""
    return name.rsplit("/", 1)[-1] if name and name.startswith("arn:") else name


def checks(obs, expected_role=None, require_imdsv2=True, min_credential_seconds=0):
    """[{name, ok, detail}] from an observation; pure so every message is unit-tested."""
    out = []
    v1 = obs.get("imdsv1_status")
    token_status = obs.get("token_status")
    disabled = v1 == 403 or token_status == 403
    if disabled:
        out.append(_check("endpoint_enabled", False, "the instance metadata endpoint is disabled (HTTP 403): "
                          "set http_endpoint: enabled (keyless.aws.ec2_metadata_options) so the instance can "
                          "get its role's credentials"))
    elif v1 is None and token_status is None:
        out.append(_check("endpoint_enabled", False, "no answer from %s: %s" % (
            obs.get("endpoint"), "; ".join(obs.get("errors") or ["unreachable"]))))
    else:
        out.append(_check("endpoint_enabled", True, "the endpoint answers at %s" % obs.get("endpoint")))

    if obs.get("token_ok"):
        out.append(_check("imdsv2_token", True, "PUT /latest/api/token issued a session token"))
    elif not disabled:
        why = ("HTTP %s" % token_status) if token_status else (
            "no answer (a hop limit of 1 inside a container drops the token response)")
        out.append(_check("imdsv2_token", False, "the IMDSv2 token request failed: %s" % why))

    if require_imdsv2 and not disabled:
        if v1 == 401:
            out.append(_check("imdsv1_refused", True, "a GET without a token is refused (HTTP 401): IMDSv2 is required"))
        elif v1 == 200:
            out.append(_check("imdsv1_refused", False, "IMDSv1 is allowed: a GET without a token was answered with "
                              "HTTP 200; set http_tokens: required (keyless.aws.ec2_metadata_options)"))
        else:
            out.append(_check("imdsv1_refused", False, "could not tell whether IMDSv1 is refused (token-less GET: %s)"
                              % (("HTTP %s" % v1) if v1 else "no answer")))

    reachable = obs.get("token_ok") or v1 == 200
    if expected_role and reachable:
        want = _last_segment(expected_role)
        got = obs.get("role_name")
        if got == want:
            out.append(_check("role", True, "the instance profile carries role %s" % got))
        elif got is None:
            out.append(_check("role", False, "no role: the instance has no instance profile (or its profile has no "
                              "role); expected role %s" % want))
        else:
            out.append(_check("role", False, "the instance has role %s, expected %s" % (got, want)))

    creds = obs.get("credentials")
    if creds is not None:
        left = creds.get("expires_in_seconds")
        if creds.get("code") != "Success":
            out.append(_check("credentials", False, "the role's credentials are not usable: Code=%s (HTTP %s)"
                              % (creds.get("code"), creds.get("http_status"))))
        elif left is None or left <= min_credential_seconds:
            out.append(_check("credentials", False, "the role's credentials expired or expire too soon: "
                              "Expiration=%s" % creds.get("expiration")))
        else:
            out.append(_check("credentials", True, "Code=Success, expire in %d s (at %s)" % (left, creds.get("expiration"))))
    return out


def _check(name, ok, detail):
    return {"name": name, "ok": bool(ok), "detail": detail}
