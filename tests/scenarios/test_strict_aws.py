"""A first real run, through the strict-AWS layer with nothing switched off (tests/support/strict/): what AWS
enforces and moto does not, met by the role and the fleet modules end to end.

- 250 explicit instance ids plus a tag: 251+ filter values, which AWS refuses in one call (FilterLimitExceeded);
- the IAM role and instance profile created and used in the same run (IAM propagation on both sides, unique-id
  ARNs on the first reads, associations `associating` and metadata options `pending` for a while);
- stopped instances (their metadata options stay `pending` until the next start): changed, never failed;
- a rerun changes nothing and makes no mutating call;
- a target in an opt-in region that the controller's account has not enabled, through an assumed role.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fleet_seed import fleet_state, seed_fleet
from tests.support.moto_server import mutating_calls
from tests.support.playbook import module_playbook, role_playbook, run_playbook
from tests.support.strict import strict_stats

pytestmark = pytest.mark.integration

ACCOUNT = "123456789012"


def test_role_creates_and_uses_its_profile_on_250_ids_plus_a_tag(moto, tmp_path):
    fleet = seed_fleet(moto.url, 290, prefix="strict", seed=20)
    alive = sorted(set(fleet["running"]) | set(fleet["stopped"]))
    ids = alive[:250]
    assert len(ids) == 250 and set(ids) & set(fleet["stopped"])
    result_file = tmp_path / "result.json"
    play = role_playbook(result_file, {"ec2_identity_role_name": "StrictApp", "ec2_identity_safe_rollout": False,
                                       "ec2_identity_instance_ids": ids, "ec2_identity_instance_tags": fleet["tag"],
                                       "ec2_identity_report_dir": str(tmp_path / "reports")})
    moto.reset_calls()
    first = run_playbook(play, moto.url)
    assert first.rc == 0 and "ROLE_FAILED" not in first.stdout, first
    # no running instance is ever left without credentials: only the stopped ones with another profile are
    # disassociated (then associated); a running one's profile is replaced (waiting out `associating`)
    stopped_other = set(ids) & set(fleet["stopped"]) & set(fleet["other_profile"])
    assert stopped_other and moto.calls()["counts"].get("ec2:DisassociateIamInstanceProfile") == len(stopped_other)
    result = json.loads(result_file.read_text())
    assert result["counts"]["failed"] == 0, result["counts"]
    assert result["role_arn"] == "arn:aws:iam::%s:role/StrictApp" % ACCOUNT
    profile_arn = result["instance_profile_arn"]
    assert profile_arn == "arn:aws:iam::%s:instance-profile/StrictApp" % ACCOUNT
    state = fleet_state(moto.url, ids)
    for iid in ids:
        assert state[iid]["profile_arn"] == profile_arn, (iid, state[iid])
        assert state[iid]["metadata"]["HttpTokens"] == "required", (iid, state[iid])
    for iid in set(ids) & set(fleet["stopped"]):  # applies at the next start: still pending, and that is fine
        assert state[iid]["state"] == "stopped"
    report = json.loads(next((tmp_path / "reports").glob("*.json")).read_text())
    stopped = [r for r in report["instances"] if r["instance_id"] in fleet["stopped"]]
    assert stopped and all(r["status"] == "changed" for r in stopped), stopped
    assert any("next start" in ((r.get("metadata") or {}).get("reason") or "") for r in stopped), stopped
    refused = strict_stats(moto.url)["stats"]["refused"]
    assert refused.get("filter_limit", {}) == {}, refused  # never more than 200 filter values a call

    moto.reset_calls()
    second = run_playbook(play, moto.url)
    assert second.rc == 0 and second.changed == 0, second
    assert mutating_calls(moto.calls()) == {}


def test_metadata_options_of_a_stopped_instance_are_changed_not_failed(moto, tmp_path):
    fleet = seed_fleet(moto.url, 30, prefix="stop", seed=4, imdsv1_callers=0)
    stopped = [i for i in fleet["stopped"] if i in fleet["optional"]]
    assert stopped
    out = tmp_path / "out.json"
    play = module_playbook("ec2_metadata_options", {"instance_ids": stopped, "http_tokens": "required"}, out)
    res = run_playbook(play, moto.url)
    assert res.rc == 0, res
    converged = json.loads(out.read_text())
    assert converged["summary"]["by_status"]["failed"] == 0
    for inst in converged["instances"]:
        assert inst["status"] == "changed" and "next start" in inst["reason"], inst
    assert converged["timings"].get("wait", 0) < 5  # nothing to wait for
    state = fleet_state(moto.url, stopped)
    assert all(state[i]["metadata"]["State"] == "pending" for i in stopped)  # AWS: pending until started


def test_a_target_in_an_opt_in_region_works_through_an_assumed_role(moto, tmp_path):
    """me-south-1 is an opt-in region the controller's account has not enabled: STS there refuses the
    controller's keys (InvalidClientTokenId); the target account's EC2 there works through the assumed role."""
    fleet = seed_fleet(moto.url, 6, prefix="optin", seed=5, region="me-south-1", mix="uniform")
    out = tmp_path / "out.json"
    play = module_playbook("ec2_metadata_options", {
        "region": "me-south-1", "assume_role_arn": "arn:aws:iam::%s:role/keyless-deployer" % ACCOUNT,
        "tags": fleet["tag"], "http_tokens": "required"}, out)
    res = run_playbook(play, moto.url, env={"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"})
    assert res.rc == 0, res
    converged = json.loads(out.read_text())
    assert converged["summary"]["by_status"]["failed"] == 0 and converged["summary"]["by_status"]["changed"] == 6
    state = fleet_state(moto.url, fleet["all"], region="me-south-1")
    assert all(s["metadata"]["HttpTokens"] == "required" for s in state.values())
    assert moto.calls()["counts"].get("sts:AssumeRole")
