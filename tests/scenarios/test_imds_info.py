"""imds_info against the IMDS emulator, which serves each instance's real state from the moto server."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from ansible_collections.keyless.aws.plugins.modules import imds_info
from tests.support.imds_emulator import FAKE_SECRETS, ImdsEmulator, spawn
from tests.support.aws_env import FAKE_ACCESS_KEY, FAKE_SECRET_KEY
from tests.support.fixtures import TRUST
from tests.support.fleet_seed import DEFAULT_IMAGE
from tests.support.module_runner import run_module
from tests.support.moto_server import MotoServer
from tests.support.playbook import run_playbook
from tests.support.strict import strict_off

ROLE = "app-instance-role"
OTHER_ROLE = "other-role"


def _profile(iam, role, profile):
    iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
    arn = iam.create_instance_profile(InstanceProfileName=profile)["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName=profile, RoleName=role)
    return arn


@pytest.fixture(scope="module")
def fleet():
    """Five running instances: required+right role, optional+right role, endpoint disabled, wrong role, no profile.

    Module-scoped on a moto server of its own: the tests only read (the one that changes an instance
    uses its own), and xdist may interleave other files' tests, which reset the shared server.
    """
    with MotoServer() as server:
        yield from _fleet(server.url)


def _fleet(url):
    def client(service):
        return boto3.client(service, region_name="us-east-1", endpoint_url=url, aws_access_key_id=FAKE_ACCESS_KEY,
                            aws_secret_access_key=FAKE_SECRET_KEY)
    ec2, iam = client("ec2"), client("iam")
    with strict_off(url):  # seeding, not the subject: a settled fleet
        ids = _seed(ec2, iam)
    with ImdsEmulator(url, default_instance_id=ids["required"]) as emu:
        yield emu, ids, ec2


def _seed(ec2, iam):
    right = _profile(iam, ROLE, "app-profile")
    wrong = _profile(iam, OTHER_ROLE, "other-profile")

    def launch(tokens, endpoint="enabled", profile=None):
        inst = ec2.run_instances(ImageId=DEFAULT_IMAGE, MinCount=1, MaxCount=1, InstanceType="t3.micro",
                                 MetadataOptions={"HttpTokens": tokens, "HttpEndpoint": endpoint,
                                                  "HttpPutResponseHopLimit": 2})["Instances"][0]
        if profile:
            ec2.associate_iam_instance_profile(InstanceId=inst["InstanceId"], IamInstanceProfile={"Arn": profile})
        return inst["InstanceId"]

    ids = {
        "required": launch("required", profile=right),
        "optional": launch("optional", profile=right),
        "disabled": launch("required", endpoint="disabled", profile=right),
        "wrong_role": launch("required", profile=wrong),
        "no_profile": launch("required"),
        "mutable": launch("optional", profile=right),
    }
    return ids


def _run(emu, instance_id, **args):
    args.setdefault("expected_role", ROLE)
    args.setdefault("timeout", 5)
    return run_module(imds_info.main, dict(endpoint=emu.url_for(instance_id), **args), connection=False)


def _checks(result):
    return dict((c["name"], c) for c in result["checks"])


def _assert_no_secret(text):
    for secret in FAKE_SECRETS:
        assert secret not in text


def test_required_instance_passes_every_check(fleet):
    emu, ids, ec2 = fleet
    result = _run(emu, ids["required"])
    assert not result.failed, result
    assert result["instance_id"] == ids["required"]
    assert result["region"] == "us-east-1"
    assert result["role_name"] == ROLE
    assert result["instance_profile_arn"].endswith(":instance-profile/app-profile")
    assert result["imdsv2"] == {"token_ok": True, "token_status": 200}
    assert result["imdsv1_refused"] is True and result["imdsv1_status"] == 401
    creds = result["credentials"]
    assert creds["code"] == "Success" and creds["type"] == "AWS-HMAC"
    assert 5 * 3600 < creds["expires_in_seconds"] <= 6 * 3600
    assert creds["expiration"].endswith("Z") and creds["last_updated"].endswith("Z")
    assert set(creds) == {"code", "type", "last_updated", "expiration", "expires_in_seconds", "http_status"}
    names = [c["name"] for c in result["checks"]]
    assert names == ["endpoint_enabled", "imdsv2_token", "imdsv1_refused", "role", "credentials"]
    assert all(c["ok"] for c in result["checks"]) and result["failed_checks"] == []
    _assert_no_secret(json.dumps(result))
    # The token PUT carried the TTL, every later GET used the token, and exactly one GET went without.
    puts = [r for r in emu.requests if r[0] == "PUT"]
    assert puts == [("PUT", "/latest/api/token", False, 200)]
    tokenless = [r for r in emu.requests if r[0] == "GET" and not r[2]]
    assert tokenless == [("GET", "/latest/meta-data/instance-id", False, 401)]


def test_keys_on_the_instance_are_one_more_check(fleet, tmp_path):
    """credentials=fail adds no_static_credentials after the IMDS checks; the IMDS answers are the same."""
    from tests.support import instance_root
    emu, ids, _ec2 = fleet
    clean = _run(emu, ids["required"], credentials="fail", host_root=str(instance_root.clean(tmp_path / "clean")))
    assert not clean.failed, clean
    assert [c["name"] for c in clean["checks"]][-2:] == ["credentials", "no_static_credentials"]
    assert clean["credential_findings"] == [] and clean["credential_scan"]["scanned"]["processes"] == 3
    keyed = _run(emu, ids["required"], credentials="fail", host_root=str(instance_root.key_in_file(tmp_path / "key")))
    assert keyed.failed and keyed["failed_checks"] == ["no_static_credentials"] and keyed["role_name"] == ROLE
    assert "1 check(s) failed on %s" % ids["required"] in keyed["msg"]
    assert "static key AKIA...EY01 in /home/app/.aws/credentials [default]" in keyed["msg"]
    text = json.dumps(keyed)
    _assert_no_secret(text)
    assert not any(secret in text for secret in instance_root.SECRETS)


def test_default_endpoint_path_serves_the_default_instance(fleet):
    emu, ids, _ec2 = fleet
    result = run_module(imds_info.main, dict(endpoint=emu.url, expected_role=ROLE), connection=False)
    assert not result.failed and result["instance_id"] == ids["required"]


def test_optional_instance_fails_require_imdsv2_clearly(fleet):
    emu, ids, _ec2 = fleet
    result = _run(emu, ids["optional"])
    assert result.failed
    assert result["imdsv1_refused"] is False and result["imdsv1_status"] == 200
    assert result["failed_checks"] == ["imdsv1_refused"]
    assert "1 check(s) failed on %s" % ids["optional"] in result["msg"]
    assert "IMDSv1 is allowed" in result["msg"] and "http_tokens: required" in result["msg"]
    assert result["role_name"] == ROLE  # the rest is still read and reported
    # report-only mode: same checks, no failure
    relaxed = _run(emu, ids["optional"], fail_on_check=False)
    assert not relaxed.failed and relaxed["failed_checks"] == ["imdsv1_refused"]
    # and without the IMDSv2 requirement the check is not made, and no token-less GET is sent: on this instance,
    # still at optional, it would be an IMDSv1 call of our own, counted in its MetadataNoToken metric
    tokenless = sum(1 for method, _path, with_token, _status in emu.requests if method == "GET" and not with_token)
    lenient = _run(emu, ids["optional"], require_imdsv2=False)
    assert not lenient.failed and "imdsv1_refused" not in _checks(lenient)
    assert lenient["imdsv1_status"] is None and lenient["role_name"] == ROLE  # the rest is read with the token
    assert sum(1 for method, _path, with_token, _status in emu.requests if method == "GET" and not with_token) == tokenless


def test_endpoint_disabled_is_reported_as_403(fleet):
    emu, ids, _ec2 = fleet
    result = _run(emu, ids["disabled"])
    assert result.failed
    assert result["imdsv2"] == {"token_ok": False, "token_status": 403}
    assert result["imdsv1_status"] == 403 and result["imdsv1_refused"] is True
    assert result["instance_id"] is None and result["role_name"] is None and result["credentials"] is None
    assert result["failed_checks"] == ["endpoint_enabled"]
    assert "endpoint is disabled (HTTP 403)" in result["msg"] and "http_endpoint: enabled" in result["msg"]


def test_wrong_role_and_no_profile(fleet):
    emu, ids, _ec2 = fleet
    wrong = _run(emu, ids["wrong_role"])
    assert wrong.failed and wrong["role_name"] == OTHER_ROLE and wrong["failed_checks"] == ["role"]
    assert "the instance has role %s, expected %s" % (OTHER_ROLE, ROLE) in wrong["msg"]
    none = _run(emu, ids["no_profile"])
    assert none.failed and none["role_name"] is None and none["credentials"] is None
    assert none["failed_checks"] == ["role"] and "no role" in none["msg"]
    # a role given as ARN compares by name
    arn = _run(emu, ids["wrong_role"], expected_role="arn:aws:iam::123456789012:role/team/%s" % OTHER_ROLE)
    assert not arn.failed


def test_emulator_follows_moto_state_live(fleet):
    """After the metadata options change in moto, the same endpoint answers differently."""
    emu, ids, ec2 = fleet
    assert _run(emu, ids["mutable"]).failed
    ec2.modify_instance_metadata_options(InstanceId=ids["mutable"], HttpTokens="required", HttpEndpoint="enabled",
                                         HttpPutResponseHopLimit=2)
    assert not _run(emu, ids["mutable"]).failed
    ec2.modify_instance_metadata_options(InstanceId=ids["mutable"], HttpTokens="required", HttpEndpoint="disabled",
                                         HttpPutResponseHopLimit=2)
    assert _run(emu, ids["mutable"])["failed_checks"] == ["endpoint_enabled"]


def test_token_ttl_is_honoured_and_bounded(fleet):
    emu, ids, _ec2 = fleet
    from ansible_collections.keyless.aws.plugins.module_utils.imds import ImdsClient
    client = ImdsClient(emu.url_for(ids["required"]), token_ttl=1, retries=0)
    assert client.fetch_token()
    assert client.get("/latest/meta-data/instance-id").status == 200
    # the emulator really serves the secrets (so the no-leak assertions above can fail)
    raw = client.get("/latest/meta-data/iam/security-credentials/" + ROLE).body
    assert all(secret in raw for secret in FAKE_SECRETS)
    time.sleep(1.2)
    assert client.get("/latest/meta-data/instance-id").status == 401  # expired token
    assert ImdsClient(emu.url_for(ids["required"]), token_ttl=21601, retries=0).fetch_token() is False
    bad = run_module(imds_info.main, dict(endpoint=emu.url, token_ttl=0), connection=False)
    assert bad.failed and "token_ttl=0 is out of range: use 1 to 21600" in bad["msg"]


def test_unreachable_endpoint_fails_fast_and_clearly():
    started = time.monotonic()
    result = run_module(imds_info.main, dict(endpoint="http://127.0.0.1:9", timeout=0.5, retries=1),
                        connection=False)
    assert time.monotonic() - started < 10
    assert result.failed and result["failed_checks"][0] == "endpoint_enabled"
    assert "no answer from http://127.0.0.1:9" in result["msg"] and "2 attempt(s)" in result["msg"]


PLAYBOOK = """
- name: Verify on the instance
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Read IMDS
      keyless.aws.imds_info:
        endpoint: "{{ imds_endpoint }}"
        expected_role: "%s"
      register: imds
    - name: Show it
      ansible.builtin.debug:
        var: imds
""" % ROLE


def test_secrets_never_reach_playbook_output_even_with_vvv(fleet):
    emu, ids, _ec2 = fleet
    ok = run_playbook(PLAYBOOK, emu.url, extra_vars={"imds_endpoint": emu.url_for(ids["required"])}, verbosity=3)
    assert ok.rc == 0, ok
    assert '"role_name": "%s"' % ROLE in ok.stdout and ids["required"] in ok.stdout
    assert any(r[1].endswith("/" + ROLE) and r[3] == 200 for r in emu.requests), "credentials were read"
    _assert_no_secret(ok.stdout + ok.stderr)
    failed = run_playbook(PLAYBOOK, emu.url, extra_vars={"imds_endpoint": emu.url_for(ids["optional"])}, verbosity=3)
    assert failed.rc != 0 and "IMDSv1 is allowed" in failed.stdout
    _assert_no_secret(failed.stdout + failed.stderr)


def test_emulator_runs_as_a_script(fleet):
    emu, ids, _ec2 = fleet
    proc, url = spawn(emu.state.ec2.meta.endpoint_url, instance_id=ids["optional"])
    try:
        unknown = run_module(imds_info.main, dict(endpoint=url + "/i-00000000000000000", retries=0,
                                                  fail_on_check=False), connection=False)
        assert unknown["imdsv2"]["token_status"] == 404  # unknown instance: answered, not hung
        default = run_module(imds_info.main, dict(endpoint=url, fail_on_check=False), connection=False)
        assert default["instance_id"] == ids["optional"] and default["failed_checks"] == ["imdsv1_refused"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert proc.returncode == 0
