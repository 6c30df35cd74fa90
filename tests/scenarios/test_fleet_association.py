"""ec2_profile_association against the moto server with a seeded mixed fleet (real ansible-playbook).

Also the 1,000-instance measurement (skipped unless asked):
    KEYLESS_FLEET_SCALE=1000 .venv/bin/python -m pytest -s -q tests/scenarios/test_fleet_association.py -k scale
"""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.scenarios.fleet_helpers import run_fleet
from tests.support.fleet_seed import fleet_state, seed_fleet

pytestmark = pytest.mark.integration
FLEET = 240


def test_converge_a_mixed_fleet(moto):
    fleet = seed_fleet(moto.url, FLEET, correct_profile="AppProfile", control_group=4, seed=3)
    app = fleet["profiles"]["correct"]
    args = {"tags": {"Fleet": "app"}, "instance_profile": "AppProfile", "concurrency": 8}
    before = fleet_state(moto.url, fleet["all"] + fleet["control_group"])

    # check mode: the plan, and not one mutating call
    moto.reset_calls()
    res, data = run_fleet("ec2_profile_association", moto.url, args, check=True, diff=True)
    assert res.rc == 0, res
    assert moto.calls()["mutating"] == 0
    assert fleet_state(moto.url, fleet["all"] + fleet["control_group"]) == before
    expected_changes = len(fleet["no_profile"]) + len(fleet["other_profile"])
    assert data["summary"]["changed"] == expected_changes
    assert data["summary"]["skipped"] == len(fleet["terminated"])
    assert len(data["diff"]["after"]) == 51  # 50 instances + the count of the rest

    # converge
    moto.reset_calls()
    res, data = run_fleet("ec2_profile_association", moto.url, args)
    assert res.rc == 0 and res.changed == 1, res
    counts = moto.calls()["counts"]
    assert counts.get("ec2:AssociateIamInstanceProfile", 0) == len(fleet["no_profile"]) + sum(
        1 for i in fleet["other_profile"] if i in fleet["stopped"])
    assert counts.get("ec2:ReplaceIamInstanceProfileAssociation", 0) == sum(
        1 for i in fleet["other_profile"] if i in fleet["running"])
    assert counts["ec2:DescribeInstances"] <= 2
    after = fleet_state(moto.url, fleet["all"] + fleet["control_group"])
    for iid in fleet["running"] + fleet["stopped"]:
        assert after[iid]["profile_arn"] == app, iid
        assert after[iid]["association_state"] == "associated"
        assert after[iid]["state"] == before[iid]["state"]  # never started or stopped
    for iid in fleet["terminated"]:
        assert after[iid]["profile_arn"] is None and after[iid]["state"] == "terminated"
    for iid in fleet["control_group"]:
        assert after[iid] == before[iid]  # outside the selector: untouched
    by_action = data["summary"]["by_action"]
    assert by_action["disassociate_associate"] == sum(1 for i in fleet["other_profile"] if i in fleet["stopped"])

    # rerun: changed=0 and zero mutating calls
    moto.reset_calls()
    res, data = run_fleet("ec2_profile_association", moto.url, args)
    calls = moto.calls()
    assert res.rc == 0 and res.changed == 0, res
    assert calls["mutating"] == 0, calls
    assert calls["total"] <= 6, calls
    assert data["summary"]["unchanged"] == len(fleet["running"]) + len(fleet["stopped"])


def test_absent_and_empty_selector(moto):
    fleet = seed_fleet(moto.url, 30, correct_profile="AppProfile", seed=5)
    moto.reset_calls()
    res, data = run_fleet("ec2_profile_association", moto.url, {"instance_profile": "AppProfile"}, ignore_errors=True)
    assert data["failed"] and "selector is empty" in data["msg"]
    assert moto.calls()["total"] == 0  # refused before any AWS call

    res, data = run_fleet("ec2_profile_association", moto.url, {"tags": {"Fleet": "app"}, "state": "absent"})
    assert res.rc == 0, res
    state = fleet_state(moto.url, fleet["all"])
    assert all(v["profile_arn"] is None for v in state.values())
    assert data["summary"]["by_action"].get("disassociate") == len(fleet["other_profile"]) + len(fleet["correct_profile"])


@pytest.mark.skipif(not os.environ.get("KEYLESS_FLEET_SCALE"), reason="measurement: set KEYLESS_FLEET_SCALE=N")
def test_scale_measurement(moto):
    """Wall time and API calls per operation of converge and rerun (printed as JSON)."""
    n = int(os.environ["KEYLESS_FLEET_SCALE"])
    unlimited = {"capacity": 1000000, "refill": 1000000.0}
    rate_limits = {k: unlimited for k in ("AssociateIamInstanceProfile", "ModifyInstanceMetadataOptions",
                                          "mutating", "describe")}
    fleet = seed_fleet(moto.url, n, mix="uniform", name_tags=False)
    report = {"instances": n}
    for module, extra in (("ec2_profile_association", {"instance_profile": "AppProfile"}),
                          ("ec2_metadata_options", {"http_tokens": "required"})):
        if module == "ec2_profile_association":
            from tests.support.fleet_seed import ensure_profile, _client
            ensure_profile(_client("iam", moto.url, "us-east-1"), "AppProfile")
        for phase in ("converge", "rerun", "check"):
            moto.reset_calls()
            start = time.monotonic()
            res, data = run_fleet(module, moto.url, dict(extra, tags=fleet["tag"], rate_limits=rate_limits),
                                  check=phase == "check")
            wall = time.monotonic() - start
            calls = moto.calls()
            assert res.rc == 0, res
            report["%s %s" % (module, phase)] = {"wall_s": round(wall, 2), "calls": calls["counts"],
                                                 "total": calls["total"], "mutating": calls["mutating"],
                                                 "changed": data["summary"]["changed"]}
    print(json.dumps(report, indent=1))
