"""The safe rollout end to end (issue 23): evidence, waves, the rejected-call watch, automatic rollback, verify.

A seeded fleet on the moto server behind the strict layer, with the IMDS emulator publishing what EC2 publishes
(MetadataNoToken for the token-less GETs it answers, MetadataNoTokenRejected for the ones it refuses):
- clean: a daily MetadataNoToken history of zeros;
- callers: IMDSv1 calls today;
- no_data: no datapoint at all (just launched, or the metric missing);
- failing: a clean history, and an application that starts calling IMDSv1 once IMDSv2 is required (a caller the
  lookback could not see) - its refused calls appear during the watch of its wave.
The final state is read with boto3, never from the role's report.
"""

from __future__ import annotations

import json

import pytest

from tests.support.fleet_seed import DEFAULT_IMAGE, put_metric_history
from tests.support.imds_emulator import ImdsEmulator, Imdsv1App
from tests.support.playbook import role_playbook, run_playbook
from tests.support.strict import strict_off

pytestmark = pytest.mark.integration

WATCH = 4


def _launch(ec2, n, options):
    resp = ec2.run_instances(ImageId=DEFAULT_IMAGE, MinCount=n, MaxCount=n, InstanceType="t3.micro",
                             MetadataOptions=options,
                             TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Fleet", "Value": "roll"}]}])
    return sorted(i["InstanceId"] for i in resp["Instances"])


def _seed(moto):
    ec2, cloudwatch = moto.client("ec2"), moto.client("cloudwatch")
    with strict_off(moto.url):
        plain = {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1, "HttpEndpoint": "enabled"}
        ids = {"clean": _launch(ec2, 5, plain), "callers": _launch(ec2, 2, plain), "no_data": _launch(ec2, 2, plain),
               # what the rollback must keep: a hop limit of 2 and tags in IMDS
               "failing": _launch(ec2, 3, dict(plain, HttpPutResponseHopLimit=2, InstanceMetadataTags="enabled"))}
        put_metric_history(cloudwatch, ids["clean"] + ids["failing"], 14)
        put_metric_history(cloudwatch, ids["callers"], 14, values={iid: [12] for iid in ids["callers"]})
    return ids


def _options(ec2, ids):
    out = {}
    for res in ec2.describe_instances(InstanceIds=ids)["Reservations"]:
        for inst in res["Instances"]:
            out[inst["InstanceId"]] = inst["MetadataOptions"]
    return out


def _no_token_sum(cloudwatch, iid):
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/EC2", MetricName="MetadataNoToken", Dimensions=[{"Name": "InstanceId", "Value": iid}],
        StartTime="2000-01-01T00:00:00Z", EndTime="2100-01-01T00:00:00Z", Period=86400 * 365 * 10,
        Statistics=["Sum"])["Datapoints"]
    return sum(p["Sum"] for p in points)


def test_waves_watch_rollback_and_verify(moto, tmp_path):
    ids = _seed(moto)
    ec2, cloudwatch = moto.client("ec2"), moto.client("cloudwatch")
    clean, failing = ids["clean"], ids["failing"]
    # wave 1: one failing of two (50 %, not above the threshold); wave 2: clean; wave 3: two failing of three
    # (67 % > 50 %: the rollout stops); wave 4 is never reached. The held ones are in no wave: nothing to enforce.
    waves = [[clean[0], failing[0]], [clean[1], clean[2]], [failing[1], failing[2], clean[3]], [clean[4]]]
    result_file = tmp_path / "result.json"
    reports = tmp_path / "reports"
    play = role_playbook(result_file, {
        "ec2_identity_role_name": "Roll", "ec2_identity_instance_tags": {"Fleet": "roll"},
        "ec2_identity_manage_launch_templates": False,
        "ec2_identity_manage_autoscaling_groups": False, "ec2_identity_waves": waves,
        "ec2_identity_watch_seconds": WATCH, "ec2_identity_rollback_threshold": 50,
        "ec2_identity_report_dir": str(reports)})
    with ImdsEmulator(moto.url, publish=True, publish_every=0.5) as emu:
        apps = [Imdsv1App(emu, iid, every=0.2, since_required=True) for iid in failing]
        for app in apps:
            app.__enter__()
        try:
            run = run_playbook(play, moto.url)
        finally:
            for app in apps:
                app.__exit__(None, None, None)
        assert run.rc == 0, run  # the role failed after the report: the play rescued it and saved the result
        assert "ROLE_FAILED rollout stopped after wave 3/4" in run.stdout, run
        result = json.loads(result_file.read_text())
        state = _options(ec2, sum(ids.values(), []))

        # the callers and the no-data instances were held with the reason, and left optional
        held = {h["instance_id"]: h for h in result["held"]}
        assert sorted(held) == sorted(ids["callers"] + ids["no_data"])
        assert all(held[iid]["signal"] == "calls" and "12 IMDSv1 calls" in held[iid]["reason"] for iid in ids["callers"])
        assert all(held[iid]["signal"] == "no_data" and "no evidence" in held[iid]["reason"] for iid in ids["no_data"])
        assert all(state[iid]["HttpTokens"] == "optional" for iid in held)

        # the clean ones of the waves that ran ended required; the one of the wave after the stop was not reached
        assert all(state[iid]["HttpTokens"] == "required" for iid in clean[:4])
        assert state[clean[4]]["HttpTokens"] == "optional"
        # the failing ones were rolled back within the watch of their wave, every other field as it was
        rolled = {r["instance_id"]: r for r in result["rolled_back"]}
        assert sorted(rolled) == failing and all(r["rejected"] > 0 for r in rolled.values())
        for iid in failing:
            assert state[iid]["HttpTokens"] == "optional", (iid, state[iid])
            assert state[iid]["HttpPutResponseHopLimit"] == 2 and state[iid]["InstanceMetadataTags"] == "enabled"
        first, second, third, fourth = result["waves"]
        assert first["rolled_back"] == [failing[0]] and first["stopped"] is None and first["watch_seconds"] == WATCH
        assert second["rolled_back"] == [] and third["rolled_back"] == failing[1:]
        assert "2 of 3 instances" in third["stopped"] and result["stopped"]
        assert fourth["not_reached"] == 1 and fourth["instance_ids"] == [clean[4]]
        assert result["counts"]["rolled_back"] == 3 and result["counts"]["held"] == 4
        assert result["counts"]["not_processed"] == 1

        # the report says per wave what was enforced, watched, rolled back and held, and why
        report = (reports / "localhost-Roll.md").read_text()
        assert "## Waves (4)" in report and "## Rolled back (3)" in report and "no evidence" in report

        # verify on the held instances, without the token-less probe: their MetadataNoToken does not move
        emu.flush()
        before = {iid: _no_token_sum(cloudwatch, iid) for iid in held}
        inventory = tmp_path / "instances.json"
        inventory.write_text(json.dumps({"ec2_instances": {
            "hosts": {iid: {"keyless_imds_endpoint": emu.url_for(iid)} for iid in held},
            "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}}}))
        verify = run_playbook("keyless.aws.verify", moto.url, inventory=str(inventory),
                              extra_vars={"keyless_require_imdsv2": False, "keyless_expected_role": "Roll",
                                          "keyless_credentials": "off"})
        assert verify.rc == 0, verify
        emu.flush()
        assert {iid: _no_token_sum(cloudwatch, iid) for iid in held} == before
        assert not any(emu.metric_totals.get(iid, {}).get("MetadataNoToken") for iid in held)

    # the rerun: the rolled-back instances are held by the signal (refused calls in the window), the rest converged
    rerun_file = tmp_path / "rerun.json"
    rerun = run_playbook(role_playbook(rerun_file, {
        "ec2_identity_role_name": "Roll", "ec2_identity_instance_tags": {"Fleet": "roll"},
        "ec2_identity_manage_launch_templates": False,
        "ec2_identity_manage_autoscaling_groups": False, "ec2_identity_report_dir": str(reports)}), moto.url)
    assert rerun.rc == 0 and "ROLE_FAILED" not in rerun.stdout, rerun
    again = json.loads(rerun_file.read_text())
    held = {h["instance_id"]: h for h in again["held"]}
    assert all(held[iid]["signal"] == "calls" and held[iid]["rejected"] > 0 for iid in failing)
    assert _options(ec2, [clean[4]])[clean[4]]["HttpTokens"] == "required"
    assert again["counts"]["rolled_back"] == 0 and not again["stopped"]
