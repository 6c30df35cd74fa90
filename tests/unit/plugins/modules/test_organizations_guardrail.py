"""organizations_guardrail in-process under moto's mock_aws (with tests/support/moto_organizations.py): validation before
any call, the preflight through the member role, the staged attach, check mode, reruns and removal."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import organizations_guardrail as mod
from tests.support.module_runner import run_module

REGION = "us-east-1"
NAME = "keyless-imds-guardrail"
MUTATING = ("Create", "Update", "Attach", "Detach", "Delete", "Tag", "Untag", "Enable")


def org(types=("SERVICE_CONTROL_POLICY",)):
    orgs = boto3.client("organizations", region_name=REGION)
    orgs.create_organization(FeatureSet="ALL")
    root = orgs.list_roots()["Roots"][0]["Id"]
    for policy_type in types:
        orgs.enable_policy_type(RootId=root, PolicyType=policy_type)
    ous = {n: orgs.create_organizational_unit(ParentId=root, Name=n)["OrganizationalUnit"]["Id"] for n in ("a", "b")}
    accounts = {}
    for name in ("a", "b"):
        account = orgs.create_account(Email="%s@example.com" % name, AccountName=name)["CreateAccountStatus"]["AccountId"]
        orgs.move_account(AccountId=account, SourceParentId=root, DestinationParentId=ous[name])
        accounts[name] = account
    return orgs, root, ous, accounts


def member_client(account, service):
    creds = boto3.client("sts", region_name=REGION).assume_role(
        RoleArn="arn:aws:iam::%s:role/OrganizationAccountAccessRole" % account, RoleSessionName="seed")["Credentials"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=creds["AccessKeyId"],
                        aws_secret_access_key=creds["SecretAccessKey"], aws_session_token=creds["SessionToken"])


def template(account, tokens):
    ec2 = member_client(account, "ec2")
    return ec2.create_launch_template(LaunchTemplateName="t-" + tokens, LaunchTemplateData={
        "ImageId": "ami-12c6146b", "MetadataOptions": {"HttpTokens": tokens}})["LaunchTemplate"]["LaunchTemplateId"]


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING)]


@pytest.mark.parametrize("args, words", [
    ({"targets": ["r-ab12"]}, ["targets", "r-ab12", "allow_root"]),
    ({"targets": ["ou-bad"]}, ["targets", "ou-bad", "OU id"]),
    ({"targets": ["ou-ab12-prod0001"], "hop_limit_cap": 99}, ["hop_limit_cap", "99", "1 to 64"]),
    ({"targets": ["ou-ab12-prod0001"], "exempt_principal_arns": ["deployer"]}, ["exempt_principal_arns", "deployer"]),
    ({"targets": ["ou-ab12-prod0001"], "cloudtrail_days": 91}, ["cloudtrail_days", "91", "90"]),
    ({"targets": []}, ["targets is required"]),
])
def test_bad_input_fails_before_any_call(args, words, api_calls):
    result = run_module(mod.main, args)
    assert result.failed and api_calls == [], (result, api_calls)
    for word in words:
        assert word in result["msg"], result["msg"]


@mock_aws
def test_staged_attach_check_mode_rerun_and_absent(api_calls):
    orgs, _root, ous, accounts = org(("SERVICE_CONTROL_POLICY", "DECLARATIVE_POLICY_EC2"))
    bad = template(accounts["a"], "optional")
    template(accounts["b"], "required")
    args = {"targets": [ous["b"], ous["a"]], "regions": [REGION],
            "policy_types": ["service_control_policy", "declarative_policy_ec2"]}

    # b is clean and attached; a is not: the run stops there, failing with the preflight
    api_calls.clear()
    first = run_module(mod.main, args, diff=True)
    assert first.failed and first["changed"] and first["stopped_at"] == ous["a"]
    assert first["blocking"] == ["%s:%s:launch_template:%s" % (accounts["a"], REGION, bad)]
    assert "accept_breaking" in first["msg"] and ous["a"] in first["msg"]
    assert [r["target"] for r in first["preflight"]] == [ous["b"], ous["a"]]
    assert mutating(api_calls) == ["CreatePolicy", "AttachPolicy", "CreatePolicy", "AttachPolicy"]
    assert "AssumeRole" in api_calls and "DescribeLaunchTemplates" in api_calls
    assert first["policies"][NAME]["targets"] == [ous["b"]]

    # check mode with the finding accepted: predicts the attach to a, changes nothing
    api_calls.clear()
    accepted = dict(args, accept_breaking=first["blocking"])
    predicted = run_module(mod.main, accepted, check_mode=True, diff=True)
    assert not predicted.failed and predicted.changed, predicted.get("msg")
    assert [c["action"] for c in predicted["changes"]] == ["attach_policy", "attach_policy"]
    assert sorted(predicted["diff"]["after"][NAME]["targets"]) == sorted([ous["a"], ous["b"]])
    assert predicted["diff"]["before"][NAME]["targets"] == [ous["b"]]
    assert mutating(api_calls) == []

    # attach with the opt-in; a rerun makes no call but reads
    applied = run_module(mod.main, accepted)
    assert applied.changed and not applied.failed
    policy_id = applied["policies"][NAME]["id"]
    assert sorted(t["TargetId"] for t in orgs.list_targets_for_policy(PolicyId=policy_id)["Targets"]) == sorted(ous.values())
    content = json.loads(orgs.describe_policy(PolicyId=policy_id)["Policy"]["Content"])
    assert {s["Sid"] for s in content["Statement"]} >= {"RequireImdsv2AtLaunch", "DenyImdsv1RoleCredentials"}
    api_calls.clear()
    rerun = run_module(mod.main, accepted)
    assert not rerun.changed and rerun["changes"] == [] and mutating(api_calls) == []
    assert "AssumeRole" not in api_calls

    # a changed cap updates the policy in place, after every target's preflight (a's finding still accepted)
    capped = run_module(mod.main, dict(accepted, hop_limit_cap=3))
    assert [c["action"] for c in capped["changes"]] == ["update_policy", "update_policy"], capped.get("msg")

    # absent: detach and delete ours; FullAWSAccess stays; rerun is changed=0
    removed = run_module(mod.main, {"state": "absent"})
    assert removed.changed and sorted(c["action"] for c in removed["changes"]) == \
        ["delete_policy"] * 2 + ["detach_policy"] * 4
    names = [p["Name"] for p in orgs.list_policies(Filter="SERVICE_CONTROL_POLICY")["Policies"]]
    assert names == ["FullAWSAccess"]
    assert not run_module(mod.main, {"state": "absent"}).changed


@mock_aws
def test_a_policy_type_not_enabled_fails_naming_the_call(api_calls):
    _orgs, root, ous, _accounts = org(())
    api_calls.clear()
    result = run_module(mod.main, {"targets": [ous["a"]], "regions": [REGION]})
    assert result.failed and "SERVICE_CONTROL_POLICY" in result["msg"] and "EnablePolicyType" in result["msg"]
    assert root in result["msg"] and mutating(api_calls) == []


@mock_aws
def test_unknown_target_and_preflight_only(api_calls):
    _orgs, _root, ous, accounts = org()
    api_calls.clear()
    missing = run_module(mod.main, {"targets": ["ou-zzzz-zzzzzzzz"], "regions": [REGION]})
    assert missing.failed and "ou-zzzz-zzzzzzzz" in missing["msg"] and "no such OU" in missing["msg"]
    assert mutating(api_calls) == [] and "AssumeRole" not in api_calls
    template(accounts["a"], "optional")
    api_calls.clear()
    report = run_module(mod.main, {"targets": [ous["a"], accounts["b"]], "regions": [REGION], "preflight_only": True})
    assert not report.failed and not report.changed and mutating(api_calls) == []
    assert [(r["target"], r["clean"]) for r in report["preflight"]] == [(ous["a"], False), (accounts["b"], True)]
    assert report["stopped_at"] == ous["a"] and "NOT clean" in report["preflight_markdown"]
