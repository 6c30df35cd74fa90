"""imds_info option validation and endpoint choice (no network)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.modules import imds_info
from tests.support import instance_root
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
    ({"credentials": "warn"}, "credentials='warn' is not allowed: use one of fail, report, off"),
    ({"credentials": False}, "credentials=False is not allowed"),  # an unquoted YAML off
    ({"host_root": "host"}, "host_root='host' is not an absolute path"),
    ({"host_root": "/no/such/root/here"}, "host_root='/no/such/root/here' is not an existing directory"),
])
def test_validate_rejects(kw, fragment):
    errors = imds_info.validate(params(**kw))
    assert any(fragment in e for e in errors), errors


def test_validate_accepts_defaults_and_bounds(tmp_path):
    assert imds_info.validate(params()) == []
    for mode in ("fail", "report", "off"):
        assert imds_info.validate(params(credentials=mode, host_root=str(tmp_path), imds_callers=True)) == []
    assert imds_info.validate(params(token_ttl=1, timeout=0.1, retries=0, endpoint="http://127.0.0.1:8080/i-0abc")) == []
    assert imds_info.validate(params(token_ttl=21600, timeout=60, retries=10, ipv6=True)) == []


def test_endpoint_choice():
    assert imds_info.endpoint_of(params()) == "http://169.254.169.254"
    assert imds_info.endpoint_of(params(ipv6=True)) == "http://[fd00:ec2::254]"
    assert imds_info.endpoint_of(params(endpoint="http://127.0.0.1:9/i-1")) == "http://127.0.0.1:9/i-1"


def test_bad_input_fails_before_any_request(monkeypatch):
    scans = []
    monkeypatch.setattr(imds_info.host_credentials, "scan", scans.append)
    monkeypatch.setattr(imds_info.host_callers, "look", scans.append)
    result = run_module(imds_info.main, {"token_ttl": 0, "timeout": 0}, connection=False)
    assert result.failed and result["msg"].startswith("invalid input: ")
    assert len(result["errors"]) == 2
    bad_root = run_module(imds_info.main, {"host_root": "relative/root", "credentials": "fail", "imds_callers": True},
                          connection=False)
    assert bad_root.failed and "host_root='relative/root' is not an absolute path" in bad_root["msg"]
    bad_mode = run_module(imds_info.main, {"credentials": "sometimes"}, connection=False)
    assert bad_mode.failed and "credentials" in bad_mode["msg"] and "sometimes" in bad_mode["msg"]
    assert all(word in bad_mode["msg"] for word in ("fail", "report", "off"))
    assert scans == []  # nothing on the host was read


def test_host_look_runs_as_asked_and_fails_naming_the_key(tmp_path):
    root = instance_root.key_in_file(tmp_path / "file")
    root.python_package("/usr/lib/python3/dist-packages", "botocore", "1.12.253")
    base = {"endpoint": "http://127.0.0.1:9", "timeout": 0.2, "retries": 0, "host_root": str(root),
            "require_imdsv2": False}
    failed = run_module(imds_info.main, dict(base, credentials="fail", imds_callers=True), connection=False)
    assert failed.failed and "no_static_credentials" in failed["failed_checks"]
    assert "static key AKIA...EY01 in /home/app/.aws/credentials [default]" in failed["msg"]
    assert sorted(f["kind"] for f in failed["credential_findings"]) == ["profile reference", "session key", "static key"]
    assert failed["imds_callers"]["outdated"][0]["name"] == "botocore"
    reported = run_module(imds_info.main, dict(base, credentials="report", fail_on_check=False), connection=False)
    assert "no_static_credentials" not in [c["name"] for c in reported["checks"]]
    assert len(reported["credential_findings"]) == 3 and reported["imds_callers"] is None
    off = run_module(imds_info.main, dict(base, credentials="off", fail_on_check=False), connection=False)
    assert off["credential_findings"] is None and off["credential_scan"] is None
    text = json.dumps([failed, reported, off])
    assert not any(secret in text for secret in instance_root.SECRETS)


def test_report_never_carries_more_than_the_safe_fields():
    obs = {"endpoint": "http://x", "token_ok": True, "token_status": 200, "imdsv1_status": 200, "instance_id": "i-1",
           "region": "us-east-1", "role_name": "r", "instance_profile_arn": None, "errors": [],
           "credentials": {"code": "Success", "http_status": 200, "type": "AWS-HMAC", "last_updated": None,
                           "expiration": None, "expires_in_seconds": None}}
    out = imds_info.report(obs, [])
    assert out["imdsv1_refused"] is False and out["changed"] is False
    assert set(out) == {"changed", "endpoint", "imdsv2", "imdsv1_status", "imdsv1_refused", "instance_id", "region",
                        "role_name", "instance_profile_arn", "credentials", "checks", "failed_checks",
                        "credential_findings", "credential_scan", "imds_callers"}
    assert out["credential_findings"] is None and out["imds_callers"] is None  # nothing looked at on the host
    assert imds_info.report(dict(obs, imdsv1_status=None), [])["imdsv1_refused"] is None
