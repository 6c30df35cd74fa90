"""ec2_metadata_options in-process under moto.mock_aws."""

from __future__ import annotations

import datetime

import boto3
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import ec2_metadata_options as module
from tests.support.module_runner import run_module


@pytest.fixture
def ec2():
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def launch(ec2, options, n=1):
    resp = ec2.run_instances(ImageId="ami-12c6146b", MinCount=n, MaxCount=n, MetadataOptions=options,
                             TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Fleet", "Value": "app"}]}])
    return [i["InstanceId"] for i in resp["Instances"]]


def options(ec2, iid):
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["MetadataOptions"]


def by_id(res):
    return {r["instance_id"]: r for r in res["instances"]}


def test_required_keeps_hop_limit_and_disabled_endpoint(ec2):
    hop2 = launch(ec2, {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2, "HttpEndpoint": "enabled"})[0]
    disabled = launch(ec2, {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "disabled"})[0]
    done = launch(ec2, {"HttpTokens": "required", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"})[0]
    res = run_module(module.main, {"tags": {"Fleet": "app"}, "http_tokens": "required"}, diff=True)
    assert not res.failed, res
    rows = by_id(res)
    assert rows[hop2]["status"] == "changed" and rows[hop2]["action"] == "modify"
    assert rows[hop2]["before"]["http_tokens"] == "optional" and rows[hop2]["after"]["http_put_response_hop_limit"] == 2
    assert rows[done]["status"] == "unchanged"
    assert options(ec2, hop2)["HttpTokens"] == "required" and options(ec2, hop2)["HttpPutResponseHopLimit"] == 2
    assert options(ec2, disabled)["HttpTokens"] == "required" and options(ec2, disabled)["HttpEndpoint"] == "disabled"
    assert set(res["diff"]["after"]) == {hop2, disabled}
    assert not run_module(module.main, {"tags": {"Fleet": "app"}, "http_tokens": "required"}).changed


def test_endpoint_enabled_only_when_asked(ec2):
    disabled = launch(ec2, {"HttpTokens": "optional", "HttpEndpoint": "disabled"})[0]
    run_module(module.main, {"instance_ids": [disabled], "http_tokens": "required", "http_endpoint": "enabled"})
    assert options(ec2, disabled)["HttpEndpoint"] == "enabled"


def test_check_mode_changes_nothing(ec2):
    iid = launch(ec2, {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1})[0]
    res = run_module(module.main, {"instance_ids": [iid], "http_tokens": "required", "http_put_response_hop_limit": 2},
                     check_mode=True)
    assert res.changed and by_id(res)[iid]["after"]["http_put_response_hop_limit"] == 2
    assert options(ec2, iid)["HttpTokens"] == "optional" and options(ec2, iid)["HttpPutResponseHopLimit"] == 1


def put_daily(cw, iid, values, metric="MetadataNoToken"):
    """One datapoint a day, today first: EC2 publishes the metric (0 included) while the instance runs."""
    now = datetime.datetime.now(datetime.timezone.utc)
    cw.put_metric_data(Namespace="AWS/EC2", MetricData=[{
        "MetricName": metric, "Dimensions": [{"Name": "InstanceId", "Value": iid}],
        "Timestamp": now - datetime.timedelta(days=n), "Value": value} for n, value in enumerate(values)])


def test_imdsv1_callers_and_instances_without_evidence_are_held(ec2):
    caller, quiet, silent = launch(ec2, {"HttpTokens": "optional"}, n=3)
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    put_daily(cw, caller, [0.0, 17.0] + [0.0] * 8)
    put_daily(cw, quiet, [0.0] * 10)
    # `silent` has no datapoint: stopped through the window, just launched, or no metric - no evidence
    args = {"instance_ids": [caller, quiet, silent], "http_tokens": "required", "imdsv1_usage_check": True}
    res = run_module(module.main, args)
    assert not res.failed, res
    held = {h["instance_id"]: h for h in res["held"]}
    assert sorted(held) == sorted([caller, silent])
    assert held[caller]["signal"] == "calls" and held[caller]["imdsv1_calls"] == 17.0
    assert held[caller]["days_with_data"] == 10 and len(held[caller]["days"]) == 14
    assert held[silent]["signal"] == "no_data" and held[silent]["days_with_data"] == 0
    assert by_id(res)[caller]["status"] == "held" and "17 IMDSv1 calls" in by_id(res)[caller]["reason"]
    assert "no evidence" in by_id(res)[silent]["reason"]
    assert options(ec2, caller)["HttpTokens"] == "optional" and options(ec2, silent)["HttpTokens"] == "optional"
    assert options(ec2, quiet)["HttpTokens"] == "required"
    failing = run_module(module.main, dict(args, fail_on_held=True))
    assert failing.failed and caller in failing["msg"] and silent in failing["msg"]
    # absence accepted as clean: the silent one is required, the caller still held
    res = run_module(module.main, dict(args, imdsv1_no_data="enforce"))
    assert [h["instance_id"] for h in res["held"]] == [caller] and options(ec2, silent)["HttpTokens"] == "required"
    # without the check the caller is converged too
    run_module(module.main, dict(args, imdsv1_usage_check=False))
    assert options(ec2, caller)["HttpTokens"] == "required"


def test_waves_in_check_mode_and_bad_waves_fail_before_any_call(ec2):
    ids = launch(ec2, {"HttpTokens": "optional"}, n=4)
    res = run_module(module.main, {"instance_ids": ids, "http_tokens": "required", "waves": [25, 50, 100]},
                     check_mode=True)
    assert [w["enforced"] for w in res["waves"]] == [1, 1, 2] and res["stopped"] is None
    assert sorted(sum((w["instance_ids"] for w in res["waves"]), [])) == sorted(ids)
    assert all(options(ec2, iid)["HttpTokens"] == "optional" for iid in ids)
    bad = run_module(module.main, {"instance_ids": ids, "http_tokens": "optional", "waves": [50, 10]})
    assert bad.failed and "must increase" in bad["msg"] and "set http_tokens=required" in bad["msg"]


def test_stopped_instances_are_converged_pending_are_skipped(ec2):
    stopped = launch(ec2, {"HttpTokens": "optional"})[0]
    ec2.stop_instances(InstanceIds=[stopped])
    res = run_module(module.main, {"instance_ids": [stopped], "http_tokens": "required",
                                   "states": ["running", "stopped", "pending"]})
    assert by_id(res)[stopped]["status"] == "changed" and options(ec2, stopped)["HttpTokens"] == "required"


@pytest.mark.parametrize("args, fragment", [
    ({"tags": {"Fleet": "app"}}, "no metadata option given"),
    ({"http_tokens": "required"}, "selector is empty"),
    ({"tags": {"Fleet": "app"}, "http_put_response_hop_limit": 65}, "1 to 64"),
    ({"tags": {"Fleet": "app"}, "http_tokens": "required", "imdsv1_lookback_days": 0}, "imdsv1_lookback_days=0"),
    ({"tags": {"Fleet": "app"}, "http_tokens": "required", "filters": {"bad name": 1}}, "invalid filter name"),
])
def test_validation_before_any_call(args, fragment):
    res = run_module(module.main, dict(args, endpoint_url="http://127.0.0.1:9"))
    assert res.failed and fragment in res["msg"], res["msg"]


def test_a_wave_whose_instance_fails_is_rolled_back_and_stops_the_rollout(ec2):
    ids = sorted(launch(ec2, {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}, n=3))
    cw = boto3.client("cloudwatch", region_name="us-east-1")
    # the first wave's instance has an application that fails once IMDSv2 is required: refused calls appear
    put_daily(cw, ids[0], [5.0], metric="MetadataNoTokenRejected")
    args = {"instance_ids": ids, "http_tokens": "required", "http_put_response_hop_limit": 2,
            "waves": [30, 100], "watch_seconds": 1, "rollback_threshold": 50}
    res = run_module(module.main, args)
    assert res.failed and "rollout stopped after wave 1/2" in res["msg"] and ids[0] in res["msg"]
    assert res["rolled_back"] == [{"instance_id": ids[0], "rejected": 5.0}]
    first, second = res["waves"]
    assert first["instance_ids"] == [ids[0]] and first["rolled_back"] == [ids[0]] and first["watched"] == 1
    assert second["not_reached"] == 2 and first["stopped"] == res["stopped"]
    entry = by_id(res)[ids[0]]
    assert entry["status"] == "rolled_back" and "5 IMDSv1 calls refused" in entry["reason"]
    # only http_tokens went back: the hop limit the wave set stays
    assert options(ec2, ids[0])["HttpTokens"] == "optional" and options(ec2, ids[0])["HttpPutResponseHopLimit"] == 2
    assert all(by_id(res)[iid]["status"] == "skipped" for iid in ids[1:])
    assert all(options(ec2, iid)["HttpTokens"] == "optional" for iid in ids[1:])
    assert res["changed"] and res["summary"]["rolled_back"] == 1
