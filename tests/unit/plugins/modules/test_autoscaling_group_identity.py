"""autoscaling_group_identity under moto (with tests/support/moto_autoscaling.py's fixes)."""

from __future__ import annotations

import json

import boto3
import botocore.client
import botocore.exceptions
import pytest
import yaml
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.modules import autoscaling_group_identity as mod
from tests.support.module_runner import run_module

CREDS = dict(region_name="us-east-1", aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake")
MUTATING = ("Create", "Modify", "Delete", "Put", "Update", "Start", "Cancel")
SIZE = dict(MinSize=0, MaxSize=2, AvailabilityZones=["us-east-1a"])
TEAM = [{"Key": "team", "Value": "web", "PropagateAtLaunch": True}]

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


def clients():
    return boto3.client("ec2", **CREDS), boto3.client("autoscaling", **CREDS)


def seed():
    """Template web: version 1 (the default), 2 and 3 (the latest), all allowing IMDSv1; groups pinned to 1, on
    $Latest and on $Default (no version), tagged team=web; one outside the selector."""
    ec2, asg = clients()
    iam = boto3.client("iam", **CREDS)
    iam.create_instance_profile(InstanceProfileName="app-profile")
    template = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={
        "ImageId": "ami-12345678", "InstanceType": "t3.micro",
        "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2}})["LaunchTemplate"]
    tid = template["LaunchTemplateId"]
    for key in ("k2", "k3"):
        ec2.create_launch_template_version(LaunchTemplateId=tid, SourceVersion="1", LaunchTemplateData={"KeyName": key})
    asg.create_auto_scaling_group(AutoScalingGroupName="pinned", LaunchTemplate={"LaunchTemplateId": tid, "Version": "1"},
                                  Tags=TEAM, **SIZE)
    asg.create_auto_scaling_group(AutoScalingGroupName="latest", Tags=TEAM, **SIZE,
                                  LaunchTemplate={"LaunchTemplateId": tid, "Version": "$Latest"})
    asg.create_auto_scaling_group(AutoScalingGroupName="default", LaunchTemplate={"LaunchTemplateName": "web"},
                                  Tags=TEAM, **SIZE)
    asg.create_auto_scaling_group(AutoScalingGroupName="outside", LaunchTemplate={"LaunchTemplateId": tid, "Version": "2"},
                                  **SIZE)
    return ec2, asg, tid


def versions(ec2, tid):
    items = ec2.describe_launch_template_versions(LaunchTemplateId=tid)["LaunchTemplateVersions"]
    return {v["VersionNumber"]: v["LaunchTemplateData"] for v in items}


def groups(asg):
    return {g["AutoScalingGroupName"]: g for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]}


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING)]


@mock_aws
def test_fix_then_unchanged(api_calls):
    ec2, asg, tid = seed()
    api_calls.clear()
    args = {"tags": {"team": "web"}, "http_tokens": "required", "instance_profile": "app-profile"}
    first = run_module(mod.main, args, diff=True)
    assert first.changed and not first.failed, first
    assert [(g["name"], g["status"], g["action"]) for g in first["groups"]] == [
        ("default", "changed", "new_template_versions"), ("latest", "changed", "new_template_versions"),
        ("pinned", "changed", "update_auto_scaling_group")]
    [template] = first["templates"]
    # sources 1 (pinned, $Default) then 3 ($Latest) last; the default moves to the version from 1
    assert [(v["source_version"], v["version"]) for v in template["versions"]] == [(1, 4), (3, 5)]
    assert (template["default_version_before"], template["default_version_after"]) == (1, 4)
    assert mutating(api_calls) == ["CreateLaunchTemplateVersion", "CreateLaunchTemplateVersion", "ModifyLaunchTemplate",
                                   "UpdateAutoScalingGroup"]
    data = versions(ec2, tid)
    assert data[4]["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    assert data[4]["IamInstanceProfile"] == {"Name": "app-profile"} and "KeyName" not in data[4]
    assert data[5]["KeyName"] == "k3" and data[5]["MetadataOptions"]["HttpTokens"] == "required"
    after = groups(asg)
    assert after["pinned"]["LaunchTemplate"]["Version"] == "4"
    assert after["latest"]["LaunchTemplate"]["Version"] == "$Latest" and "Version" not in after["default"]["LaunchTemplate"]
    assert after["outside"]["LaunchTemplate"]["Version"] == "2"
    assert first["diff"]["before"]["groups"]["pinned"]["launch_sources"]["LaunchTemplate"] == {
        "version": "1", "instance_profile": None, "metadata_options": {"http_tokens": "optional"}}
    assert first["diff"]["after"]["groups"]["pinned"]["launch_sources"]["LaunchTemplate"] == {
        "version": "4", "instance_profile": {"name": "app-profile"}, "metadata_options": {"http_tokens": "required"}}
    api_calls.clear()
    second = run_module(mod.main, args)
    assert not second.changed and second["summary"]["unchanged"] == 3 and second["templates"] == []
    assert mutating(api_calls) == []


@mock_aws
def test_check_mode_predicts_what_the_run_does(api_calls):
    ec2, _asg, tid = seed()
    api_calls.clear()
    args = {"names": ["pinned", "latest"], "http_tokens": "required", "instance_refresh": True}
    predicted = run_module(mod.main, args, check_mode=True)
    assert predicted.changed and mutating(api_calls) == []
    assert sorted(versions(ec2, tid)) == [1, 2, 3]
    assert {g["instance_refresh"]["status"] for g in predicted["groups"]} == {"would_start"}
    done = run_module(mod.main, args)
    for key in ("templates", "summary"):
        if key == "summary":
            predicted[key]["instance_refreshes_started"] = 2
        assert done[key] == predicted[key], key
    assert [g["update"] for g in done["groups"]] == [g["update"] for g in predicted["groups"]]
    assert [g["instance_refresh"]["status"] for g in done["groups"]] == ["started", "started"]
    refreshes = boto3.client("autoscaling", **CREDS).describe_instance_refreshes(AutoScalingGroupName="pinned")
    [refresh] = refreshes["InstanceRefreshes"]
    assert refresh["Preferences"] == {"MinHealthyPercentage": 90, "SkipMatching": True}
    assert refresh["InstanceRefreshId"] == done["groups"][1]["instance_refresh"]["id"]
    # a refresh that still runs is reported, not a failure
    again = run_module(mod.main, dict(args, http_put_response_hop_limit=3))
    assert again.changed and not again.failed
    assert [g["instance_refresh"]["status"] for g in again["groups"]] == ["in_progress", "in_progress"]


@mock_aws
def test_mixed_instances_policy_keeps_everything_else():
    ec2, asg, tid = seed()
    arm = ec2.create_launch_template(LaunchTemplateName="arm", LaunchTemplateData={
        "ImageId": "ami-87654321", "MetadataOptions": {"HttpTokens": "optional"}})["LaunchTemplate"]["LaunchTemplateId"]
    overrides = [{"InstanceType": "t3.large", "WeightedCapacity": "2"},
                 {"InstanceType": "m6g.large", "LaunchTemplateSpecification": {"LaunchTemplateId": arm, "Version": "1"}}]
    policy = {"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": tid, "Version": "$Latest"},
                                 "Overrides": overrides},
              "InstancesDistribution": {"OnDemandBaseCapacity": 1, "SpotAllocationStrategy": "capacity-optimized"}}
    asg.create_auto_scaling_group(AutoScalingGroupName="mixed", MixedInstancesPolicy=policy, **SIZE)
    result = run_module(mod.main, {"names": ["mixed"], "http_tokens": "required"})
    assert result.changed, result
    [item] = result["groups"]
    assert [s["version_after"] for s in item["launch_sources"]] == ["$Latest", "2"]
    after = groups(asg)["mixed"]["MixedInstancesPolicy"]
    assert after["InstancesDistribution"]["OnDemandBaseCapacity"] == 1
    assert after["InstancesDistribution"]["SpotAllocationStrategy"] == "capacity-optimized"
    assert after["LaunchTemplate"]["Overrides"][0] == {"InstanceType": "t3.large", "WeightedCapacity": "2"}
    assert after["LaunchTemplate"]["Overrides"][1]["LaunchTemplateSpecification"]["Version"] == "2"
    assert versions(ec2, tid)[4]["MetadataOptions"]["HttpTokens"] == "required"  # 3 + compliance is $Latest
    assert versions(ec2, arm)[2]["ImageId"] == "ami-87654321"
    assert not run_module(mod.main, {"names": ["mixed"], "http_tokens": "required"}).changed


@mock_aws
def test_launch_configuration_held_then_converted(api_calls):
    _ec2, asg = clients()
    asg.create_launch_configuration(LaunchConfigurationName="old-lc", ImageId="ami-12345678", InstanceType="t3.micro",
                                    SecurityGroups=["sg-12345678"], InstanceMonitoring={"Enabled": True})
    asg.create_auto_scaling_group(AutoScalingGroupName="legacy", LaunchConfigurationName="old-lc", **SIZE)
    api_calls.clear()
    held = run_module(mod.main, {"names": ["legacy"], "http_tokens": "required"})
    assert not held.changed and held["groups"][0]["status"] == "held" and mutating(api_calls) == []
    proposed = held["groups"][0]["proposed"]
    assert proposed["launch_template_data"]["SecurityGroupIds"] == ["sg-12345678"]
    converted = run_module(mod.main, {"names": ["legacy"], "http_tokens": "required",
                                      "convert_launch_configurations": True})
    assert converted.changed and converted["converted_templates"][0]["name"] == "old-lc"
    group = groups(asg)["legacy"]
    assert "LaunchConfigurationName" not in group
    assert group["LaunchTemplate"]["LaunchTemplateName"] == "old-lc" and group["LaunchTemplate"]["Version"] == "$Default"
    data = boto3.client("ec2", **CREDS).describe_launch_template_versions(
        LaunchTemplateName="old-lc", Versions=["$Default"])["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required" and data["Monitoring"] == {"Enabled": True}
    assert data == proposed["launch_template_data"]
    again = run_module(mod.main, {"names": ["legacy"], "http_tokens": "required", "convert_launch_configurations": True})
    assert not again.changed and again["groups"][0]["launch_sources"][0]["path"] == "LaunchTemplate"


@mock_aws
def test_owned_groups_are_skipped():
    _ec2, asg, tid = seed()
    asg.create_auto_scaling_group(AutoScalingGroupName="eks-general-2ac6a1f0-1111-2222-3333-444455556666",
                                  LaunchTemplate={"LaunchTemplateId": tid, "Version": "1"}, **SIZE)
    asg.create_auto_scaling_group(AutoScalingGroupName="beanstalk", LaunchTemplate={"LaunchTemplateId": tid, "Version": "2"},
                                  Tags=[{"Key": "elasticbeanstalk:environment-name", "Value": "shop"}], **SIZE)
    result = run_module(mod.main, {"names": ["eks-general-2ac6a1f0-1111-2222-3333-444455556666", "beanstalk"],
                                   "http_tokens": "required"})
    assert not result.changed
    assert [(g["owner"]["kind"], g["status"]) for g in result["groups"]] == [("elasticbeanstalk", "skipped"),
                                                                             ("eks", "skipped")]
    included = run_module(mod.main, {"names": ["beanstalk"], "http_tokens": "required",
                                     "include_owned": ["elasticbeanstalk"]}, check_mode=True)
    assert included.changed and included["groups"][0]["status"] == "changed"


@mock_aws
def test_one_group_failing_does_not_stop_the_others(monkeypatch):
    _ec2, asg, _tid = seed()
    asg.create_auto_scaling_group(AutoScalingGroupName="pinned-2", Tags=TEAM, **SIZE,
                                  LaunchTemplate={"LaunchTemplateName": "web", "Version": "2"})
    real = botocore.client.BaseClient._make_api_call

    def failing(self, operation, params):
        if operation == "UpdateAutoScalingGroup" and params["AutoScalingGroupName"] == "pinned":
            raise botocore.exceptions.ClientError({"Error": {"Code": "ResourceContention", "Message": "busy"}},
                                                  operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    result = run_module(mod.main, {"tags": {"team": "web"}, "http_tokens": "required"})
    assert result.failed and result.changed and "pinned: " in result["msg"] and "ResourceContention" in result["msg"]
    assert result["failed_groups"] == [{"name": "pinned", "reason": result["groups"][2]["reason"]}]
    assert {g["name"]: g["status"] for g in result["groups"]} == {
        "default": "changed", "latest": "changed", "pinned": "failed", "pinned-2": "changed"}
    assert groups(asg)["pinned-2"]["LaunchTemplate"]["Version"] == "5"


@mock_aws
def test_a_template_failing_fails_only_its_groups(monkeypatch):
    ec2, asg, tid = seed()
    other = ec2.create_launch_template(LaunchTemplateName="api", LaunchTemplateData={
        "ImageId": "ami-12345678", "MetadataOptions": {"HttpTokens": "optional"}})["LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(AutoScalingGroupName="api", Tags=TEAM, **SIZE,
                                  LaunchTemplate={"LaunchTemplateId": other, "Version": "1"})
    real = botocore.client.BaseClient._make_api_call

    def failing(self, operation, params):
        if operation == "CreateLaunchTemplateVersion" and params["LaunchTemplateId"] == tid:
            raise botocore.exceptions.ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}},
                                                  operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    result = run_module(mod.main, {"tags": {"team": "web"}, "http_tokens": "required"})
    assert result.failed and "launch template web" in result["msg"]
    assert {g["name"]: g["status"] for g in result["groups"]} == {
        "api": "changed", "default": "failed", "latest": "failed", "pinned": "failed"}
    assert [t["status"] for t in result["templates"]] == ["changed", "failed"]
    assert groups(asg)["api"]["LaunchTemplate"]["Version"] == "2" and groups(asg)["pinned"]["LaunchTemplate"]["Version"] == "1"


@mock_aws
def test_missing_names_and_all_groups(api_calls):
    seed()
    missing = run_module(mod.main, {"names": ["pinned", "nope"], "http_tokens": "required"})
    assert missing.failed and "nope" in missing["msg"] and "pinned" not in missing["msg"].split("names")[1]
    skipped = run_module(mod.main, {"names": ["pinned", "nope"], "http_tokens": "required", "missing_groups": "skip"},
                         check_mode=True)
    assert not skipped.failed and skipped["missing_groups"] == ["nope"]
    assert [g["name"] for g in skipped["groups"]] == ["pinned"]
    api_calls.clear()
    everything = run_module(mod.main, {"all_groups": True, "http_tokens": "required"}, check_mode=True)
    assert [g["name"] for g in everything["groups"]] == ["default", "latest", "outside", "pinned"]
    assert mutating(api_calls) == []
    ghost = run_module(mod.main, {"all_groups": True, "instance_profile": "ghost"}, check_mode=True)
    assert ghost.changed and "ghost does not exist yet" in json.dumps(ghost["warnings"])


@pytest.mark.parametrize("args,message", [
    ({"http_tokens": "required"}, "the selector is empty"),
    ({"all_groups": True, "tags": {"a": "b"}, "http_tokens": "required"}, "do not combine it"),
    ({"names": ["x" * 256], "http_tokens": "required"}, "names has invalid"),
    ({"all_groups": True}, "nothing to ensure"),
    ({"all_groups": True, "http_tokens": "required", "include_owned": ["eks"]}, "UpdateNodegroupVersion"),
    ({"all_groups": True, "http_tokens": "required", "min_healthy_percentage": -1}, "min_healthy_percentage=-1"),
    ({"all_groups": True, "http_tokens": "required", "converted_template_name": "{x}"}, "converted_template_name"),
    ({"all_groups": True, "instance_profile": "bad name"}, "instance_profile='bad name'"),
])
def test_validation_before_any_call(args, message, monkeypatch):
    monkeypatch.setattr(connection.AwsContext, "__init__", lambda *a, **k: pytest.fail("AWS was contacted"))
    result = run_module(mod.main, args)
    assert result.failed and message in result["msg"], result["msg"]


# ---------------------------------------------------------------- the simulator's Auto Scaling fixes

@mock_aws
def test_test_endpoint_instance_refreshes_like_aws():
    _ec2, asg, _tid = seed()
    first = asg.start_instance_refresh(AutoScalingGroupName="pinned", Preferences={"MinHealthyPercentage": 50})
    with pytest.raises(botocore.exceptions.ClientError) as running:
        asg.start_instance_refresh(AutoScalingGroupName="pinned")
    assert running.value.response["Error"]["Code"] == "InstanceRefreshInProgress"
    assert asg.cancel_instance_refresh(AutoScalingGroupName="pinned")["InstanceRefreshId"] == first["InstanceRefreshId"]
    second = asg.start_instance_refresh(AutoScalingGroupName="pinned")["InstanceRefreshId"]
    listed = asg.describe_instance_refreshes(AutoScalingGroupName="pinned")["InstanceRefreshes"]
    assert [(r["InstanceRefreshId"], r["Status"]) for r in listed] == [(second, "InProgress"),
                                                                       (first["InstanceRefreshId"], "Cancelled")]
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        asg.start_instance_refresh(AutoScalingGroupName="nope")
    assert missing.value.response["Error"]["Code"] == "ValidationError"


@mock_aws
def test_test_endpoint_updates_launch_sources_like_aws():
    ec2, asg = clients()
    tid = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-12345678"})[
        "LaunchTemplate"]["LaunchTemplateId"]
    asg.create_launch_configuration(LaunchConfigurationName="lc", ImageId="ami-12345678", InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName="a", LaunchConfigurationName="lc", **SIZE)
    asg.update_auto_scaling_group(AutoScalingGroupName="a", LaunchTemplate={"LaunchTemplateId": tid})
    assert "LaunchConfigurationName" not in groups(asg)["a"]
    policy = {"LaunchTemplate": {"LaunchTemplateSpecification": {"LaunchTemplateId": tid}},
              "InstancesDistribution": {"OnDemandBaseCapacity": 1}}
    asg.create_auto_scaling_group(AutoScalingGroupName="m", MixedInstancesPolicy=policy, **SIZE)
    asg.update_auto_scaling_group(AutoScalingGroupName="m", MaxSize=3)
    assert groups(asg)["m"]["MixedInstancesPolicy"]["InstancesDistribution"]["OnDemandBaseCapacity"] == 1


@mock_aws
def test_the_documented_examples_run():
    ec2, asg = clients()
    iam = boto3.client("iam", **CREDS)
    iam.create_instance_profile(InstanceProfileName="app-web")
    tid = ec2.create_launch_template(LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-12345678"})[
        "LaunchTemplate"]["LaunchTemplateId"]
    asg.create_auto_scaling_group(AutoScalingGroupName="web", LaunchTemplate={"LaunchTemplateId": tid},
                                  Tags=[{"Key": "app", "Value": "web"}], **SIZE)
    asg.create_auto_scaling_group(AutoScalingGroupName="batch-workers", **SIZE,
                                  LaunchTemplate={"LaunchTemplateId": tid, "Version": "$Latest"})
    asg.create_launch_configuration(LaunchConfigurationName="api-lc", ImageId="ami-12345678", InstanceType="t3.micro")
    asg.create_auto_scaling_group(AutoScalingGroupName="api", LaunchConfigurationName="api-lc", **SIZE)
    tasks = yaml.safe_load(mod.EXAMPLES)
    assert len(tasks) == 3
    results = [run_module(mod.main, t["keyless.aws.autoscaling_group_identity"], check_mode=t.get("check_mode", False))
               for t in tasks]
    assert [r.failed for r in results] == [False] * 3, results
    assert [r.changed for r in results] == [True, True, False]  # the last one finds the first two's work
    assert groups(asg)["api"]["LaunchTemplate"]["LaunchTemplateName"] == "api-converted"
