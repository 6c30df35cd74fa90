"""imds_info option validation and endpoint choice (no network)."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.modules import imds_info
from tests.support.module_runner import run_module


def params(**kw):
    base = {"endpoint": None, "ipv6": False, "token_ttl": 21600, "timeout": 2.0, "retries": 2}
    base.update(kw)
    return base


@pytest.mark.parametrize("kw, fragment", [
    ({"endpoint": "https://169.254.169.254"}, "endpoint='https://169.254.169.254' is not an http:// URL"),
    ({"endpoint": "169.254.169.254"}, "is not an http:// URL"),
    ({"endpoint": "http://127.0.0.1:1", "ipv6": True}, "endpoint and ipv6=true were both given"),
    ({"token_ttl": 0}, "token_ttl=0 is out of range: use 1 to 21600 seconds"),
    ({"token_ttl": 21601}, "token_ttl=21601"),
    ({"timeout": 0}, "timeout=0 is out of range"),
    ({"timeout": 61}, "timeout=61"),
    ({"retries": -1}, "retries=-1 is out of range: use 0 to 10"),
    ({"retries": 11}, "retries=11"),
])
def test_validate_rejects(kw, fragment):
    errors = imds_info.validate(params(**kw))
    assert any(fragment in e for e in errors), errors


def test_validate_accepts_defaults_and_bounds():
    assert imds_info.validate(params()) == []
    assert imds_info.validate(params(token_ttl=1, timeout=0.1, retries=0, endpoint="http://127.0.0.1:8080/i-0abc")) == []
    assert imds_info.validate(params(token_ttl=21600, timeout=60, retries=10, ipv6=True)) == []


def test_endpoint_choice():
    assert imds_info.endpoint_of(params()) == "http://169.254.169.254"
    assert imds_info.endpoint_of(params(ipv6=True)) == "http://[fd00:ec2::254]"
    assert imds_info.endpoint_of(params(endpoint="http://127.0.0.1:9/i-1")) == "http://127.0.0.1:9/i-1"


def test_bad_input_fails_before_any_request():
    result = run_module(imds_info.main, {"token_ttl": 0, "timeout": 0}, connection=False)
    assert result.failed and result["msg"].startswith("invalid input: ")
    assert len(result["errors"]) == 2


def test_report_never_carries_more_than_the_safe_fields():
    obs = {"endpoint": "http://x", "token_ok": True, "token_status": 200, "imdsv1_status": 200, "instance_id": "i-1",
           "region": "us-east-1", "role_name": "r", "instance_profile_arn": None, "errors": [],
           "credentials": {"code": "Success", "http_status": 200, "type": "AWS-HMAC", "last_updated": None,
                           "expiration": None, "expires_in_seconds": None}}
    out = imds_info.report(obs, [])
    assert out["imdsv1_refused"] is False and out["changed"] is False
    assert set(out) == {"changed", "endpoint", "imdsv2", "imdsv1_status", "imdsv1_refused", "instance_id", "region",
                        "role_name", "instance_profile_arn", "credentials", "checks", "failed_checks"}
    assert imds_info.report(dict(obs, imdsv1_status=None), [])["imdsv1_refused"] is None
