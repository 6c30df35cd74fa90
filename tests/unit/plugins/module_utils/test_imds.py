"""imds.py: the checks table, secret dropping, time maths, retries and proxies (stdlib HTTP server)."""

from __future__ import annotations

import datetime
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_collections.keyless.aws.plugins.module_utils import imds

NOW = datetime.datetime(2026, 12, 1, 8, 0, 0, tzinfo=datetime.timezone.utc)
GOOD_CREDS = {"code": "Success", "http_status": 200, "type": "AWS-HMAC", "last_updated": "2026-12-01T07:00:00Z",
              "expiration": "2026-12-01T14:00:00Z", "expires_in_seconds": 21600}


def obs(**kw):
    base = {"endpoint": "http://169.254.169.254", "token_ok": True, "token_status": 200, "imdsv1_status": 401,
            "instance_id": "i-1", "region": "us-east-1", "role_name": "app", "credentials": dict(GOOD_CREDS),
            "errors": []}
    base.update(kw)
    return base


def by_name(checks):
    return dict((c["name"], c) for c in checks)


def test_all_good():
    checks = imds.checks(obs(), expected_role="app")
    assert [c["name"] for c in checks] == ["endpoint_enabled", "imdsv2_token", "imdsv1_refused", "role", "credentials"]
    assert all(c["ok"] for c in checks)


@pytest.mark.parametrize("observed, expected_role, failing, fragment", [
    (obs(imdsv1_status=200), "app", ["imdsv1_refused"], "IMDSv1 is allowed"),
    (obs(imdsv1_status=None), "app", ["imdsv1_refused"], "could not tell whether IMDSv1 is refused"),
    (obs(token_ok=False, token_status=403, imdsv1_status=403, role_name=None, credentials=None), "app",
     ["endpoint_enabled"], "disabled (HTTP 403)"),
    (obs(token_ok=False, token_status=None, imdsv1_status=None, role_name=None, credentials=None,
         errors=["timed out"]), "app", ["endpoint_enabled", "imdsv2_token", "imdsv1_refused"], "no answer from"),
    (obs(token_ok=False, token_status=None, imdsv1_status=200), None, ["imdsv2_token", "imdsv1_refused"],
     "hop limit of 1 inside a container"),
    (obs(role_name="other"), "app", ["role"], "the instance has role other, expected app"),
    (obs(role_name=None, credentials=None), "app", ["role"], "no role"),
    (obs(credentials=dict(GOOD_CREDS, code="Failure")), "app", ["credentials"], "Code=Failure"),
    (obs(credentials=dict(GOOD_CREDS, expires_in_seconds=-5)), "app", ["credentials"], "expired"),
])
def test_failing_checks(observed, expected_role, failing, fragment):
    checks = imds.checks(observed, expected_role=expected_role)
    assert [c["name"] for c in checks if not c["ok"]] == failing
    assert any(fragment in c["detail"] for c in checks if not c["ok"]), checks


def test_require_imdsv2_false_drops_the_check_and_role_arn_compares_by_name():
    checks = by_name(imds.checks(obs(imdsv1_status=200), expected_role="arn:aws:iam::1:role/path/app",
                                 require_imdsv2=False))
    assert "imdsv1_refused" not in checks and checks["role"]["ok"]


def test_no_expected_role_no_role_check():
    assert "role" not in by_name(imds.checks(obs(role_name=None, credentials=None)))


def test_credentials_body_secrets_dropped():
    body = json.dumps({"Code": "Success", "LastUpdated": "2026-12-01T07:00:00Z", "Type": "AWS-HMAC",
                       "AccessKeyId": "ASIAX", "SecretAccessKey": "s3cr3t", "Token": "t0k3n",
                       "Expiration": "2026-12-01T14:00:00Z"})
    meta = imds.credentials_metadata_from_body(body, now=NOW)
    assert meta == {"code": "Success", "http_status": 200, "type": "AWS-HMAC", "last_updated": "2026-12-01T07:00:00Z",
                    "expiration": "2026-12-01T14:00:00Z", "expires_in_seconds": 6 * 3600}
    assert "s3cr3t" not in json.dumps(meta) and "t0k3n" not in json.dumps(meta)
    assert imds.credentials_metadata_from_body("not json", now=NOW)["code"] is None
    assert imds.credentials_metadata_from_body("[1]", now=NOW)["code"] is None


def test_time_parsing():
    assert imds.seconds_until("2026-12-01T08:01:00Z", NOW) == 60
    assert imds.seconds_until("2026-12-01T08:01:00.500Z", NOW) == 60
    assert imds.seconds_until("yesterday", NOW) is None and imds.seconds_until(None, NOW) is None


class _Script(BaseHTTPRequestHandler):
    """Answers from a per-server script: a list of (status, body) consumed per request."""

    def log_message(self, *args):
        pass

    def _answer(self):
        self.server.seen.append((self.command, self.path, dict((k.lower(), v) for k, v in self.headers.items())))
        status, body = self.server.script.pop(0) if self.server.script else (404, "")
        payload = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = _answer  # noqa: N815


@pytest.fixture
def http():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Script)
    server.script, server.seen = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _client(server, **kw):
    kw.setdefault("sleep", lambda s: None)
    return imds.ImdsClient("http://127.0.0.1:%d" % server.server_address[1], **kw)


def test_token_put_carries_ttl_and_get_carries_token(http):
    http.script = [(200, "TOKEN123"), (200, "i-0abc")]
    client = _client(http, token_ttl=300)
    assert client.fetch_token()
    assert client.instance_id() == "i-0abc"
    (m1, p1, h1), (m2, p2, h2) = http.seen
    assert (m1, p1, h1["x-aws-ec2-metadata-token-ttl-seconds"]) == ("PUT", "/latest/api/token", "300")
    assert (m2, p2, h2["x-aws-ec2-metadata-token"]) == ("GET", "/latest/meta-data/instance-id", "TOKEN123")


def test_5xx_is_retried_then_answered(http):
    http.script = [(503, ""), (500, ""), (200, "i-1")]
    assert _client(http, retries=2).get_without_token().body == "i-1"
    assert len(http.seen) == 3


def test_4xx_is_not_retried(http):
    http.script = [(401, ""), (200, "never")]
    assert _client(http, retries=5).get_without_token().status == 401
    assert len(http.seen) == 1


def test_5xx_after_every_attempt_returns_the_last_answer(http):
    http.script = [(503, "")] * 3
    assert _client(http, retries=2).get_without_token().status == 503


def test_unreachable_raises_after_bounded_attempts():
    sleeps = []
    client = imds.ImdsClient("http://127.0.0.1:9", timeout=0.5, retries=2, sleep=sleeps.append, backoff=0.1)
    with pytest.raises(imds.ImdsUnreachable) as info:
        client.fetch_token()
    assert info.value.attempts == 3 and sleeps == [0.1, 0.2]
    assert "no answer after 3 attempt(s)" in str(info.value)


def test_proxy_environment_is_ignored(http, monkeypatch):
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    http.script = [(200, "i-direct")]
    assert _client(http, retries=0).get_without_token().body == "i-direct"


def test_region_falls_back_to_identity_document(http):
    http.script = [(404, ""), (200, json.dumps({"region": "eu-west-3"}))]
    assert _client(http).region() == "eu-west-3"


def test_role_name_first_line(http):
    http.script = [(200, "app-role\n")]
    assert _client(http).role_name() == "app-role"
    http.script = [(404, "")]
    assert _client(http).role_name() is None
