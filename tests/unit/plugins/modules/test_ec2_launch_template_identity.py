"""ec2_launch_template_identity under moto, plus the pure plan of launch_templates."""

from __future__ import annotations

import json

import boto3
import botocore.client
import botocore.exceptions
import botocore.session
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.module_utils.ec2account.launch_templates import (
    client_token,
    default_versions,
    plan_template,
    template_plan,
    profile_matches,
    request_data,
)
from ansible_collections.keyless.aws.plugins.module_utils.fleet.audit import template_findings, template_view
from ansible_collections.keyless.aws.plugins.module_utils.ec2account import launch_templates
from ansible_collections.keyless.aws.plugins.modules import ec2_launch_template_identity as mod
from tests.support.module_runner import run_module

CREDS = dict(region_name="us-east-1", aws_access_key_id="AKIAFAKE", aws_secret_access_key="fake")
SHAPE = botocore.session.get_session().get_service_model("ec2").shape_for("RequestLaunchTemplateData")
MUTATING = ("Create", "Modify", "Delete", "Put", "Associate", "Replace", "Disassociate")


pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


def seed():
    iam = boto3.client("iam", **CREDS)
    iam.create_role(RoleName="app", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    profile = iam.create_instance_profile(InstanceProfileName="app-profile")["InstanceProfile"]["Arn"]
    iam.add_role_to_instance_profile(InstanceProfileName="app-profile", RoleName="app")
    ec2 = boto3.client("ec2", **CREDS)
    web = ec2.create_launch_template(
        LaunchTemplateName="web",
        LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro", "KeyName": "ops",
                            "MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 2},
                            "TagSpecifications": [{"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "web"}]}]},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "web"}]}],
    )["LaunchTemplate"]
    batch = ec2.create_launch_template(
        LaunchTemplateName="batch",
        LaunchTemplateData={"ImageId": "ami-87654321", "IamInstanceProfile": {"Arn": profile},
                            "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 1}},
        TagSpecifications=[{"ResourceType": "launch-template", "Tags": [{"Key": "team", "Value": "batch"}]}],
    )["LaunchTemplate"]
    return ec2, profile, web["LaunchTemplateId"], batch["LaunchTemplateId"]


def default_data(ec2, template_id):
    version = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Default"])
    return version["LaunchTemplateVersions"][0]


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING)]


@mock_aws
def test_fixes_template_then_unchanged(api_calls):
    ec2, profile, web, _batch = seed()
    api_calls.clear()
    args = {"tags": {"team": "web"}, "instance_profile": "app-profile", "http_tokens": "required"}
    first = run_module(mod.main, args, diff=True)
    assert first.changed and not first.failed, first
    [item] = first["templates"]
    assert item["name"] == "web" and item["action"] == "create_version" and item["status"] == "changed"
    assert (item["default_version_before"], item["default_version_after"], item["version_created"]) == (1, 2, 2)
    assert item["changed_fields"] == ["IamInstanceProfile", "MetadataOptions.HttpTokens"]
    assert item["before"] == {"instance_profile": None, "metadata_options": {"http_tokens": "optional"}}
    assert item["after"] == {"instance_profile": {"name": "app-profile"}, "metadata_options": {"http_tokens": "required"}}
    assert first["diff"]["after"]["templates"]["web"] == item["after"]
    assert first["instance_profile"] == {"name": "app-profile", "arn": profile}
    assert mutating(api_calls) == ["CreateLaunchTemplateVersion", "ModifyLaunchTemplate"]
    version = default_data(ec2, web)
    assert version["VersionNumber"] == 2
    data = version["LaunchTemplateData"]
    assert data["IamInstanceProfile"] == {"Name": "app-profile"}
    # only the given field changed: the hop limit 2 and every other parameter survive
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["MetadataOptions"]["HttpPutResponseHopLimit"] == 2
    assert (data["ImageId"], data["InstanceType"], data["KeyName"]) == ("ami-12345678", "t3.micro", "ops")
    assert {"ResourceType": "instance", "Tags": [{"Key": "app", "Value": "web"}]} in data["TagSpecifications"]
    del api_calls[:]
    second = run_module(mod.main, args)
    assert not second.changed and second["templates"][0]["action"] == "none"
    assert second["summary"] == {"total": 1, "changed": 0, "unchanged": 1, "skipped": 0, "failed": 0,
                                 "by_action": {"none": 1}}
    assert mutating(api_calls) == []
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[web])["LaunchTemplates"][0]
    assert (lt["DefaultVersionNumber"], lt["LatestVersionNumber"]) == (2, 2)


@mock_aws
def test_check_mode_makes_no_call_and_predicts(api_calls):
    ec2, _profile, web, _batch = seed()
    api_calls.clear()
    result = run_module(mod.main, {"launch_template_names": ["web"], "http_tokens": "required",
                                   "instance_profile": "app-profile"}, check_mode=True)
    assert result.changed
    item = result["templates"][0]
    assert (item["version_created"], item["default_version_after"]) == (2, 2)
    assert item["after"]["metadata_options"] == {"http_tokens": "required"}
    assert mutating(api_calls) == []
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[web])["LaunchTemplates"][0]
    assert lt["LatestVersionNumber"] == 1


@mock_aws
def test_profile_arn_in_template_matches_name(api_calls):
    ec2, profile, _web, batch = seed()
    api_calls.clear()
    by_name = run_module(mod.main, {"launch_template_ids": [batch], "instance_profile": "app-profile",
                                    "http_tokens": "required"})
    assert not by_name.changed and by_name["templates"][0]["before"]["instance_profile"] == {
        "arn": profile, "name": "app-profile"}
    by_arn = run_module(mod.main, {"tags": {"team": "batch"}, "instance_profile": profile})
    assert not by_arn.changed
    assert mutating(api_calls) == []


@mock_aws
def test_only_hop_limit_changes_tokens_stay():
    ec2, _profile, _web, batch = seed()
    result = run_module(mod.main, {"launch_template_ids": [batch], "http_put_response_hop_limit": 2})
    assert result.changed and result["templates"][0]["changed_fields"] == ["MetadataOptions.HttpPutResponseHopLimit"]
    data = default_data(ec2, batch)["LaunchTemplateData"]
    assert data["MetadataOptions"] == {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}
    assert "IamInstanceProfile" in data and data["ImageId"] == "ami-87654321"


@mock_aws
def test_set_default_false_then_true_reuses_the_version():
    ec2, _profile, web, _batch = seed()
    args = {"launch_template_names": ["web"], "http_tokens": "required", "set_default": False}
    first = run_module(mod.main, args)
    assert first.changed and first["templates"][0]["default_version_after"] == 1
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[web])["LaunchTemplates"][0]
    assert (lt["DefaultVersionNumber"], lt["LatestVersionNumber"]) == (1, 2)
    again = run_module(mod.main, args)
    assert not again.changed and "version 2 already carries the change" in again["templates"][0]["reason"]
    promote = run_module(mod.main, dict(args, set_default=True))
    assert promote.changed and promote["templates"][0]["action"] == "set_default"
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[web])["LaunchTemplates"][0]
    assert (lt["DefaultVersionNumber"], lt["LatestVersionNumber"]) == (2, 2)


@mock_aws
def test_latest_keeps_launching_what_it_did(api_calls):
    """An Auto Scaling group on $Latest launches the latest version (ami-newer), not the default: the version made
    from the default becomes $Latest, so a copy of the old latest comes last (the issue's '$Latest launches the
    older default's AMI')."""
    ec2, _profile, web, _batch = seed()
    ec2.create_launch_template_version(LaunchTemplateId=web, SourceVersion="1", LaunchTemplateData={"ImageId": "ami-newer"})
    api_calls.clear()
    first = run_module(mod.main, {"launch_template_ids": [web], "http_tokens": "required"})
    assert first.changed and mutating(api_calls) == ["CreateLaunchTemplateVersion", "CreateLaunchTemplateVersion",
                                                     "ModifyLaunchTemplate"]
    versions = {v["VersionNumber"]: v["LaunchTemplateData"] for v in ec2.describe_launch_template_versions(
        LaunchTemplateId=web)["LaunchTemplateVersions"]}
    assert versions[3]["ImageId"] == "ami-12345678" and versions[3]["MetadataOptions"]["HttpTokens"] == "required"
    assert versions[4]["ImageId"] == "ami-newer" and versions[4]["MetadataOptions"]["HttpTokens"] == "optional"
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[web])["LaunchTemplates"][0]
    assert (lt["DefaultVersionNumber"], lt["LatestVersionNumber"]) == (3, 4)
    api_calls.clear()
    assert not run_module(mod.main, {"launch_template_ids": [web], "http_tokens": "required"}).changed
    assert mutating(api_calls) == []


@mock_aws
def test_all_templates_and_missing_names(api_calls):
    seed()
    api_calls.clear()
    everything = run_module(mod.main, {"all_templates": True, "http_tokens": "required"}, check_mode=True)
    assert [t["name"] for t in everything["templates"]] == ["batch", "web"]
    assert [t["action"] for t in everything["templates"]] == ["none", "create_version"]
    missing = run_module(mod.main, {"launch_template_names": ["web", "nope"], "http_tokens": "required"})
    assert missing.failed and "nope" in missing["msg"]
    missing_id = run_module(mod.main, {"launch_template_ids": ["lt-0123456789abcdef0"], "http_tokens": "required"})
    assert missing_id.failed and "lt-0123456789abcdef0" in missing_id["msg"]
    no_profile = run_module(mod.main, {"all_templates": True, "instance_profile": "ghost"})
    assert no_profile.failed and "instance profile ghost does not exist" in no_profile["msg"]
    predicted = run_module(mod.main, {"all_templates": True, "instance_profile": "ghost"}, check_mode=True)
    assert predicted.changed and "ghost does not exist yet" in json.dumps(predicted["warnings"])
    assert {t["after"]["instance_profile"]["name"] for t in predicted["templates"]} == {"ghost"}
    assert predicted["instance_profile"] == {"name": "ghost", "arn": None}
    assert mutating(api_calls) == []


@pytest.mark.parametrize("args,message", [
    ({"http_tokens": "required"}, "the selector is empty"),
    ({"all_templates": True, "tags": {"a": "b"}, "http_tokens": "required"}, "do not combine it"),
    ({"launch_template_ids": ["web"], "http_tokens": "required"}, "launch_template_ids has invalid ids 'web'"),
    ({"launch_template_names": ["a b"], "http_tokens": "required"}, "launch_template_names has invalid names"),
    ({"all_templates": True}, "nothing to ensure"),
    ({"all_templates": True, "http_put_response_hop_limit": 65}, "http_put_response_hop_limit=65"),
    ({"all_templates": True, "instance_profile": "arn:aws:iam::123456789012:role/x"}, "instance_profile="),
    ({"all_templates": True, "instance_profile": "bad name"}, "instance_profile='bad name'"),
])
def test_validation_before_any_call(args, message, monkeypatch):
    monkeypatch.setattr(connection.AwsContext, "__init__", lambda *a, **k: pytest.fail("AWS was contacted"))
    result = run_module(mod.main, args)
    assert result.failed and message in result["msg"], result["msg"]


# ---- pure plan

TEMPLATE = {"LaunchTemplateId": "lt-0123456789abcdef0", "LaunchTemplateName": "t", "DefaultVersionNumber": 3}
PROFILE = {"name": "p", "arn": "arn:aws:iam::123456789012:instance-profile/app/p", "given_as": "name"}


def version(number, data, default=False):
    return {"VersionNumber": number, "DefaultVersion": default, "LaunchTemplateData": data}


def test_profile_matches_name_or_arn():
    predicted = {"name": "p", "arn": None, "given_as": "name", "predicted": True}
    assert profile_matches({"Arn": PROFILE["arn"]}, predicted) and profile_matches({"Name": "p"}, predicted)
    assert profile_matches({"Name": "p"}, PROFILE)
    assert profile_matches({"Arn": PROFILE["arn"]}, PROFILE)
    assert not profile_matches({"Arn": "arn:aws:iam::123456789012:instance-profile/p"}, PROFILE)  # other path
    assert not profile_matches(None, PROFILE) and not profile_matches({"Name": "q"}, PROFILE)


def test_request_data_drops_read_only_and_template_tags():
    data = {"MetadataOptions": {"State": "applied", "HttpTokens": "optional"},
            "TagSpecifications": [{"ResourceType": "launch-template", "Tags": []}],
            "NetworkInterfaces": [{"DeviceIndex": 0, "Ipv6Addresses": [{"Ipv6Address": "::1", "IsPrimaryIpv6": True}]}]}
    assert request_data(data, SHAPE) == {"MetadataOptions": {"HttpTokens": "optional"},
                                         "NetworkInterfaces": [{"DeviceIndex": 0, "Ipv6Addresses": [{"Ipv6Address": "::1"}]}]}


def test_plan_new_version_from_default_not_latest():
    default = version(3, {"ImageId": "ami-1", "MetadataOptions": {"HttpTokens": "optional", "State": "applied"}}, True)
    latest = version(5, {"ImageId": "ami-experimental"})
    item = plan_template(TEMPLATE, default, latest, {"instance_profile": PROFILE, "metadata": {"HttpTokens": "required"}},
                         True, SHAPE)
    assert item["action"] == "create_version" and item["source_version"] == 3
    assert (item["version_created"], item["default_version_after"]) == (6, 6)
    # only the parameters that change: AWS takes the rest from SourceVersion
    assert item["data"] == {"IamInstanceProfile": {"Name": "p"}, "MetadataOptions": {"HttpTokens": "required"}}
    # version 6 becomes $Latest: a copy of 5, made last, keeps $Latest launching ami-experimental
    assert item["keep_latest"] == {"source_version": 5, "version": 7, "data": {"ImageId": "ami-experimental"}}
    calls = template_plan(item, True)
    assert [(c.operation, c.params.get("SourceVersion") if isinstance(c.params, dict) else None) for c in calls] == [
        ("CreateLaunchTemplateVersion", "3"), ("CreateLaunchTemplateVersion", "5"), ("ModifyLaunchTemplate", None)]
    # without set_default nothing launches the new version but $Latest: no copy (and the rerun reuses it)
    assert "keep_latest" not in plan_template(TEMPLATE, default, latest, {"metadata": {"HttpTokens": "required"}},
                                              False, SHAPE)


def test_plan_operator_managed_is_skipped():
    template = dict(TEMPLATE, Operator={"Managed": True, "Principal": "eks.amazonaws.com"})
    default = version(3, {"MetadataOptions": {"HttpTokens": "optional"}}, True)
    item = plan_template(template, default, default, {"metadata": {"HttpTokens": "required"}}, True, SHAPE)
    assert item["action"] == "skip" and "eks.amazonaws.com" in item["reason"]


def test_plan_converged_needs_nothing_even_if_latest_differs():
    default = version(3, {"IamInstanceProfile": {"Arn": PROFILE["arn"]}, "MetadataOptions": {"HttpTokens": "required"}}, True)
    item = plan_template(TEMPLATE, default, version(4, {}), {"instance_profile": PROFILE,
                                                             "metadata": {"HttpTokens": "required"}}, True, SHAPE)
    assert item["action"] == "none" and item["before"] == item["after"]


def test_client_token_is_stable_and_specific():
    assert client_token("lt-1", 3, {"a": 1}) == client_token("lt-1", 3, {"a": 1})
    assert client_token("lt-1", 3, {"a": 1}) != client_token("lt-1", 4, {"a": 1})
    assert len(client_token("lt-1", 3, {"a": 1})) <= 64


@mock_aws
def test_one_template_failing_does_not_stop_the_others(monkeypatch):
    ec2, _profile, web, batch = seed()
    real = botocore.client.BaseClient._make_api_call

    def failing(self, operation, params):
        if operation == "CreateLaunchTemplateVersion" and params.get("LaunchTemplateId") == web:
            raise botocore.exceptions.ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    result = run_module(mod.main, {"all_templates": True, "http_put_response_hop_limit": 3})
    assert result.failed and "web (%s)" % web in result["msg"] and "UnauthorizedOperation" in result["msg"]
    assert [(t["name"], t["status"]) for t in result["templates"]] == [("batch", "changed"), ("web", "failed")]
    assert result["failed_templates"][0]["id"] == web
    assert default_data(ec2, batch)["LaunchTemplateData"]["MetadataOptions"]["HttpPutResponseHopLimit"] == 3
    assert default_data(ec2, web)["VersionNumber"] == 1


@mock_aws
def test_a_half_made_change_is_undone(monkeypatch):
    """The copy of the latest version fails after the compliant version was made: that version (now $Latest) is
    deleted again, so $Latest launches what it did, the default is untouched, and a rerun starts over."""
    ec2, _profile, web, _batch = seed()
    ec2.create_launch_template_version(LaunchTemplateId=web, SourceVersion="1", LaunchTemplateData={"ImageId": "ami-newer"})
    real = botocore.client.BaseClient._make_api_call

    def failing(self, operation, params):
        if operation == "CreateLaunchTemplateVersion" and params.get("SourceVersion") == "2":
            raise botocore.exceptions.ClientError({"Error": {"Code": "UnauthorizedOperation", "Message": "no"}}, operation)
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", failing)
    result = run_module(mod.main, {"launch_template_ids": [web], "http_tokens": "required"})
    assert result.failed and "were deleted" in result["msg"] and "3" in result["msg"]
    lt = ec2.describe_launch_templates(LaunchTemplateIds=[web])["LaunchTemplates"][0]
    assert (lt["DefaultVersionNumber"], lt["LatestVersionNumber"]) == (1, 2)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", real)
    monkeypatch.setattr(launch_templates, "RUN_ID", "the next run")  # a new module process: new tokens
    again = run_module(mod.main, {"launch_template_ids": [web], "http_tokens": "required"})
    assert again.changed and not again.failed, again.get("msg")
    latest = ec2.describe_launch_template_versions(LaunchTemplateId=web, Versions=["$Latest"])["LaunchTemplateVersions"][0]
    assert latest["LaunchTemplateData"]["ImageId"] == "ami-newer"


@mock_aws
def test_test_endpoint_merges_source_version_like_aws():
    """tests/support/moto_server.fix_moto: a version created from SourceVersion keeps the source's other
    parameters (moto 5.2 alone keeps only those sent), and a ClientToken returns the version it created."""
    ec2 = boto3.client("ec2", **CREDS)
    template = ec2.create_launch_template(LaunchTemplateName="merge", LaunchTemplateData={"ImageId": "ami-12345678"})
    kwargs = dict(LaunchTemplateId=template["LaunchTemplate"]["LaunchTemplateId"], SourceVersion="1",
                  LaunchTemplateData={"MetadataOptions": {"HttpTokens": "required"}}, ClientToken="same")
    version = ec2.create_launch_template_version(**kwargs)["LaunchTemplateVersion"]
    assert version["LaunchTemplateData"]["ImageId"] == "ami-12345678"
    assert version["LaunchTemplateData"]["MetadataOptions"] == {"HttpTokens": "required"}
    assert ec2.create_launch_template_version(**kwargs)["LaunchTemplateVersion"]["VersionNumber"] == version["VersionNumber"]


@mock_aws
def test_default_versions_and_view_for_audits():
    ec2, profile, web, batch = seed()
    found = default_versions(ec2, [web, batch, "lt-0123456789abcdef0"])
    assert sorted(found) == sorted([web, batch])
    assert template_view(found[batch]) == {
        "id": batch, "name": "batch", "version": 1, "instance_profile": {"arn": profile, "name": "app-profile"},
        "metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 1}}
    assert template_view(found[web])["instance_profile"] is None
    expected = {"instance_profile": "app-profile", "http_tokens": "required", "min_hop_limit": 2}
    assert template_findings(template_view(found[batch]), expected) == ["hop_limit_below_minimum"]
    assert template_findings(template_view(found[web]), expected) == ["no_profile", "imdsv1_allowed"]
    assert template_findings(template_view(found[batch]), {"instance_profile": "other"}) == ["wrong_profile"]
    assert template_findings(template_view(found[batch]), {"instance_profile": profile, "http_tokens": "required"}) == []
