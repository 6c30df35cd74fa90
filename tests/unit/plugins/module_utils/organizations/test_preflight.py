"""preflight: the judgement of what a guardrail would refuse or break. Pure tests, no AWS."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.organizations import preflight

ACCOUNT = "222222222222"
REGION = "eu-west-1"
SETTINGS = {"hop_limit_cap": 2, "require_instance_profile": False, "deny_imdsv1_credentials": True,
            "exempt_principal_arns": ["arn:aws:iam::*:role/keyless-deployer"]}
REQUIRED = {"MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}}
OPTIONAL = {"MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}}


@pytest.mark.parametrize("data, cap, profile, expected", [
    (REQUIRED, 2, False, []),
    (OPTIONAL, 2, False, ["HttpTokens optional"]),
    ({}, 2, False, ["HttpTokens not set"]),
    ({"MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 3}}, 2, False,
     ["HttpPutResponseHopLimit 3 is above the cap 2"]),
    ({"MetadataOptions": {"HttpTokens": "required"}}, 1, False, []),
    (REQUIRED, 2, True, ["no instance profile"]),
    (dict(REQUIRED, IamInstanceProfile={"Name": "app"}), 2, True, []),
])
def test_judge_launch_data(data, cap, profile, expected):
    reasons = preflight.judge_launch_data(data, cap, profile)
    assert len(reasons) == len(expected)
    for reason, start in zip(reasons, expected):
        assert reason.startswith(start), reason


def version(template_id, number, data, default=False):
    return {"LaunchTemplateId": template_id, "LaunchTemplateName": template_id + "-name", "VersionNumber": number,
            "DefaultVersion": default, "LaunchTemplateData": data}


def entry(template_id, versions, default, latest):
    return {"template": {"LaunchTemplateId": template_id, "LaunchTemplateName": template_id + "-name",
                         "DefaultVersionNumber": default, "LatestVersionNumber": latest},
            "versions": {v["VersionNumber"]: v for v in versions}}


def observed(**kw):
    out = {"groups": [], "launch_configurations": {}, "templates": {}, "template_ids": {}, "owned_sources": [],
           "imdsv1": {}, "modify_callers": {}}
    out.update(kw)
    return out


def test_a_group_and_its_template():
    """The group on $Default of a template that does not require IMDSv2: both named, the template used by the group;
    a compliant template and a group pinned to a compliant version are not findings."""
    bad = entry("lt-0aaaaaaaaaaaaaaaa", [version("lt-0aaaaaaaaaaaaaaaa", 1, OPTIONAL, True)], 1, 1)
    mixed = entry("lt-0bbbbbbbbbbbbbbbb", [version("lt-0bbbbbbbbbbbbbbbb", 1, OPTIONAL),
                                           version("lt-0bbbbbbbbbbbbbbbb", 2, REQUIRED, True)], 2, 2)
    groups = [{"AutoScalingGroupName": "web", "LaunchTemplate": {"LaunchTemplateId": "lt-0aaaaaaaaaaaaaaaa"}},
              {"AutoScalingGroupName": "api", "LaunchTemplate": {"LaunchTemplateId": "lt-0bbbbbbbbbbbbbbbb",
                                                                 "Version": "2"}},
              {"AutoScalingGroupName": "old", "LaunchTemplate": {"LaunchTemplateId": "lt-0bbbbbbbbbbbbbbbb",
                                                                 "Version": "1"}}]
    found = preflight.judge_region(ACCOUNT, REGION, observed(groups=groups, templates={
        "lt-0aaaaaaaaaaaaaaaa": bad, "lt-0bbbbbbbbbbbbbbbb": mixed}), SETTINGS)
    by_id = {f["id"]: f for f in found}
    assert sorted(by_id) == ["222222222222:eu-west-1:autoscaling_group:old", "222222222222:eu-west-1:autoscaling_group:web",
                             "222222222222:eu-west-1:launch_template:lt-0aaaaaaaaaaaaaaaa"]
    web = by_id["222222222222:eu-west-1:autoscaling_group:web"]
    assert web["reasons"] == ["launches lt-0aaaaaaaaaaaaaaaa (lt-0aaaaaaaaaaaaaaaa-name) $Default version 1: HttpTokens "
                              "optional (the guardrail refuses a launch that does not require IMDSv2)"]
    assert "autoscaling_group_identity" in web["converge"]
    template = by_id["222222222222:eu-west-1:launch_template:lt-0aaaaaaaaaaaaaaaa"]
    assert template["used_by"] == ["web"] and template["template_name"] == "lt-0aaaaaaaaaaaaaaaa-name"
    assert len(template["reasons"]) == 1  # $Default and $Latest are the same version: said once


def test_latest_version_counts_too():
    tpl = entry("lt-0cccccccccccccccc", [version("lt-0cccccccccccccccc", 1, REQUIRED, True),
                                         version("lt-0cccccccccccccccc", 2, OPTIONAL)], 1, 2)
    [finding] = preflight.judge_region(ACCOUNT, REGION, observed(templates={"lt-0cccccccccccccccc": tpl}), SETTINGS)
    assert finding["reasons"][0].startswith("$Latest version 2: HttpTokens optional")


def test_launch_configuration():
    groups = [{"AutoScalingGroupName": "legacy", "LaunchConfigurationName": "lc-1"}]
    lcs = {"lc-1": {"LaunchConfigurationName": "lc-1", "MetadataOptions": {"HttpTokens": "optional"}}}
    [finding] = preflight.judge_region(ACCOUNT, REGION, observed(groups=groups, launch_configurations=lcs), SETTINGS)
    assert finding["kind"] == "autoscaling_group" and finding["reasons"][0].startswith("launch configuration lc-1: ")


def test_instances_calling_imdsv1_only_when_their_credentials_are_denied():
    evidence = {"i-0123456789abcdef0": {"signal": "calls", "reason": "3 IMDSv1 calls"},
                "i-0fedcba9876543210": {"signal": "no_data", "reason": "no evidence"}}
    calls, silent = preflight.judge_region(ACCOUNT, REGION, observed(imdsv1=evidence), SETTINGS)
    assert calls["id"] == "222222222222:eu-west-1:instance:i-0123456789abcdef0"
    assert "3 IMDSv1 calls" in calls["reasons"][0]
    # no evidence is no pass, as in the rollout
    assert silent["id"].endswith(":instance:i-0fedcba9876543210") and "might be refused, no evidence" in silent["reasons"][0]
    assert preflight.judge_region(ACCOUNT, REGION, observed(imdsv1=evidence),
                                  dict(SETTINGS, deny_imdsv1_credentials=False)) == []


def test_owned_sources_and_modify_callers():
    sources = [{"kind": "eks", "name": "prod/general", "compliant": False, "findings": ["imdsv1_allowed"],
                "converge": "keyless.aws.eks_nodegroup_identity"},
               {"kind": "ec2_fleet", "name": "fleet-1", "compliant": True, "findings": []},
               {"kind": "batch", "name": "ce", "compliant": None, "findings": []}]
    callers = {"arn:aws:iam::222222222222:role/keyless-deployer": 4, "arn:aws:iam::222222222222:role/ops": 1}
    found = preflight.judge_region(ACCOUNT, REGION, observed(owned_sources=sources, modify_callers=callers), SETTINGS)
    assert [(f["kind"], f["name"]) for f in found] == [("eks", "prod/general"),
                                                       ("modify_caller", "arn:aws:iam::222222222222:role/ops")]
    assert found[0]["converge"] == "keyless.aws.eks_nodegroup_identity"


def test_target_report_and_markdown():
    accounts = [{"account": ACCOUNT, "findings": [preflight.finding(ACCOUNT, REGION, "instance", "i-1", ["a|b"])],
                 "errors": [], "skipped": None},
                {"account": "333333333333", "findings": [], "errors": [], "skipped": "account is SUSPENDED"}]
    report = preflight.target_report("ou-ab12-prod0001", accounts)
    assert not report["clean"] and report["summary"] == {"accounts": 2, "skipped": 1, "findings": 1, "errors": 0,
                                                         "by_kind": {"instance": 1}}
    text = preflight.markdown([report])
    assert "## ou-ab12-prod0001: NOT clean" in text and "| 333333333333 | | skipped | | account is SUSPENDED |" in text
    assert "a\\|b" in text
    assert preflight.target_report("ou-ab12-prod0001", [])["clean"]


def test_arn_like_is_per_arn_part():
    assert preflight._arn_like("arn:aws:iam::123456789012:role/keyless-deployer", "arn:aws:iam::*:role/keyless-*")
    assert not preflight._arn_like("arn:aws:iam::123456789012:role/ops", "arn:aws:iam::*:role/keyless-*")


def test_only_the_rules_the_guardrail_has_make_findings():
    data = {"MetadataOptions": {"HttpTokens": "optional", "HttpPutResponseHopLimit": 1}}
    assert preflight.judge_launch_data(data, 2) and preflight.judge_launch_data(data, 2, require_imdsv2=False) == []
    callers = observed(modify_callers={"arn:aws:iam::222222222222:role/ops": 3})
    assert preflight.judge_region(ACCOUNT, REGION, callers, SETTINGS)
    assert preflight.judge_region(ACCOUNT, REGION, callers, dict(SETTINGS, deny_weakening=False)) == []
