"""ec2_metadata_options against the moto server with a seeded mixed fleet (real ansible-playbook)."""

from __future__ import annotations

import pytest

from tests.scenarios.fleet_helpers import run_fleet
from tests.support.fleet_seed import fleet_state, seed_fleet

pytestmark = pytest.mark.integration
FLEET = 240


def test_enforce_imdsv2_with_safe_rollout(moto):
    fleet = seed_fleet(moto.url, FLEET, control_group=4, seed=7, imdsv1_callers=12)
    everyone = fleet["all"] + fleet["control_group"]
    before = fleet_state(moto.url, everyone)
    callers = set(fleet["imdsv1_callers"])
    assert callers and callers <= set(fleet["running"])
    live = set(fleet["running"]) | set(fleet["stopped"])
    to_change = {i for i in live if before[i]["metadata"]["HttpTokens"] != "required"}
    args = {"tags": {"Fleet": "app"}, "http_tokens": "required", "http_endpoint": "enabled",
            "imdsv1_usage_check": True, "imdsv1_lookback_days": 14}

    # check mode: the plan, not one mutating call
    moto.reset_calls()
    res, data = run_fleet("ec2_metadata_options", moto.url, args, check=True, diff=True)
    assert res.rc == 0, res
    assert moto.calls()["mutating"] == 0
    assert fleet_state(moto.url, everyone) == before
    assert data["summary"]["changed"] == len(to_change - callers)
    assert data["summary"]["held"] == len(callers)

    # converge
    moto.reset_calls()
    res, data = run_fleet("ec2_metadata_options", moto.url, args)
    assert res.rc == 0 and res.changed == 1, res
    counts = moto.calls()["counts"]
    assert counts["ec2:ModifyInstanceMetadataOptions"] == len(to_change - callers)
    assert counts["monitoring:GetMetricData"] == 1
    after = fleet_state(moto.url, everyone)
    for iid in live - callers:
        meta = after[iid]["metadata"]
        assert meta["HttpTokens"] == "required", iid
        assert meta["HttpEndpoint"] == "enabled"
        # only the fields given change: hop limit 2 survives, the other fields keep their values
        assert meta["HttpPutResponseHopLimit"] == before[iid]["metadata"]["HttpPutResponseHopLimit"]
        assert meta["InstanceMetadataTags"] == before[iid]["metadata"]["InstanceMetadataTags"]
        assert after[iid]["state"] == before[iid]["state"]
    for iid in fleet["hop_limit_2"]:
        if iid in live:
            assert after[iid]["metadata"]["HttpPutResponseHopLimit"] == 2
    for iid in callers:  # held back: untouched
        assert after[iid] == before[iid]
    held = {h["instance_id"]: h["imdsv1_calls"] for h in data["held"]}
    assert held == {i: fleet["imdsv1_counts"][i] for i in callers}
    for iid in fleet["terminated"] + fleet["control_group"]:
        assert after[iid] == before[iid]

    # rerun: changed=0 and zero mutating calls
    moto.reset_calls()
    res, data = run_fleet("ec2_metadata_options", moto.url, args)
    calls = moto.calls()
    assert res.rc == 0 and res.changed == 0, res
    assert calls["mutating"] == 0, calls
    assert calls["total"] <= 3, calls  # DescribeInstances + GetMetricData for the held callers

    # fail_on_held fails the task, naming the held instances, after converging the rest
    res, data = run_fleet("ec2_metadata_options", moto.url, dict(args, fail_on_held=True), ignore_errors=True)
    assert data["failed"] and all(i in data["msg"] for i in callers)


def test_hop_limit_and_empty_selector(moto):
    fleet = seed_fleet(moto.url, 30, seed=11, imdsv1_callers=0)
    moto.reset_calls()
    res, data = run_fleet("ec2_metadata_options", moto.url, {"http_tokens": "required"}, ignore_errors=True)
    assert data["failed"] and "selector is empty" in data["msg"]
    assert moto.calls()["total"] == 0

    res, data = run_fleet("ec2_metadata_options", moto.url, {"all_instances": True, "http_put_response_hop_limit": 2})
    assert res.rc == 0, res
    state = fleet_state(moto.url, fleet["all"])
    for iid in fleet["running"] + fleet["stopped"]:
        assert state[iid]["metadata"]["HttpPutResponseHopLimit"] == 2
    res, data = run_fleet("ec2_metadata_options", moto.url, {"all_instances": True, "http_tokens": "required"})
    state = fleet_state(moto.url, fleet["all"])
    for iid in fleet["running"] + fleet["stopped"]:
        assert state[iid]["metadata"]["HttpPutResponseHopLimit"] == 2
        assert state[iid]["metadata"]["HttpTokens"] == "required"
