"""ec2_fleet_info in-process under moto's mock_aws: rows, findings, launch templates, validation."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.modules import ec2_fleet_info
from tests.support.fixtures import TRUST, record_api_calls
from tests.support.module_runner import run_module

IMAGE = "ami-12c6146b"


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1"), boto3.client("iam", region_name="us-east-1")


def _profile(iam, name, role=None):
    arn = iam.create_instance_profile(InstanceProfileName=name)["InstanceProfile"]["Arn"]
    if role:
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
        iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
    return arn


def _launch(ec2, name, tokens="optional", hop=1, profile=None, template=None, fleet="web"):
    kwargs = dict(MinCount=1, MaxCount=1,
                  TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name},
                                                                           {"Key": "Fleet", "Value": fleet}]}])
    if template:
        kwargs["LaunchTemplate"] = {"LaunchTemplateId": template, "Version": "1"}
    else:
        kwargs.update(ImageId=IMAGE, InstanceType="t3.micro",
                      MetadataOptions={"HttpTokens": tokens, "HttpPutResponseHopLimit": hop, "HttpEndpoint": "enabled"})
    iid = ec2.run_instances(**kwargs)["Instances"][0]["InstanceId"]
    if profile:
        ec2.associate_iam_instance_profile(InstanceId=iid, IamInstanceProfile={"Arn": profile})
    return iid


@pytest.fixture
def fleet(aws):
    ec2, iam = aws
    app = _profile(iam, "app-profile", "app-role")
    legacy = _profile(iam, "legacy-profile", "legacy-role")
    empty = _profile(iam, "empty-profile")
    lt = ec2.create_launch_template(LaunchTemplateName="web-template", LaunchTemplateData={
        "ImageId": IMAGE, "InstanceType": "t3.micro"})["LaunchTemplate"]["LaunchTemplateId"]
    ids = {
        "good": _launch(ec2, "good", "required", 2, app),
        "legacy": _launch(ec2, "legacy", "optional", 1, legacy),
        "bare": _launch(ec2, "bare", "optional", 2),
        "empty": _launch(ec2, "empty", "required", 2, empty),
        "templated": _launch(ec2, "templated", profile=app, template=lt),
        "stopped": _launch(ec2, "stopped", "required", 2, app),
        "terminated": _launch(ec2, "terminated", "required", 2),
        "outside": _launch(ec2, "outside", "optional", 1, fleet="db"),
    }
    # moto does not apply a template's MetadataOptions at launch, so set them afterwards
    ec2.modify_instance_metadata_options(InstanceId=ids["templated"], HttpTokens="required", HttpPutResponseHopLimit=2,
                                         HttpEndpoint="enabled")
    ec2.stop_instances(InstanceIds=[ids["stopped"]])
    ec2.terminate_instances(InstanceIds=[ids["terminated"]])
    return ec2, iam, ids, lt


EXPECTED = {"instance_profile": "app-profile", "http_tokens": "required", "min_hop_limit": 2}


def test_audit_rows_and_summary(fleet):
    _ec2, _iam, ids, lt = fleet
    result = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "expected": EXPECTED})
    assert not result.failed and not result.changed, result
    rows = dict((r["instance_id"], r) for r in result["instances"])
    assert set(rows) == {ids[k] for k in ("good", "legacy", "bare", "empty", "templated", "stopped")}
    assert [r["instance_id"] for r in result["instances"]] == sorted(rows)
    good = rows[ids["good"]]
    assert good["name"] == "good" and good["state"] == "running" and good["compliant"]
    assert good["instance_profile_name"] == "app-profile" and good["role_name"] == "app-role"
    assert good["instance_profile_arn"].endswith(":instance-profile/app-profile")
    assert good["metadata_options"]["http_tokens"] == "required"
    assert good["metadata_options"]["http_put_response_hop_limit"] == 2
    assert good["imdsv1_calls"] is None and good["launch_template"] is None
    assert rows[ids["legacy"]]["findings"] == ["wrong_profile", "imdsv1_allowed", "hop_limit_below_minimum"]
    assert rows[ids["legacy"]]["role_name"] == "legacy-role"
    assert rows[ids["bare"]]["findings"] == ["no_profile", "imdsv1_allowed"]
    assert rows[ids["bare"]]["role_name"] is None
    assert rows[ids["empty"]]["findings"] == ["wrong_profile", "profile_without_role"]
    templated = rows[ids["templated"]]
    assert templated["launch_template"] == {"id": lt, "name": "web-template", "version": "1"}
    assert templated["compliant"], templated
    assert rows[ids["stopped"]]["state"] == "stopped" and rows[ids["stopped"]]["compliant"]
    assert result["skipped"] == [{"instance_id": ids["terminated"], "name": "terminated", "state": "terminated",
                                  "reason": "instance is terminated"}]
    assert result["summary"] == {"total": 6, "compliant": 3, "non_compliant": 3,
                                 "by_state": {"running": 5, "stopped": 1},
                                 "by_finding": {"no_profile": 1, "wrong_profile": 2, "profile_without_role": 1,
                                                "imdsv1_allowed": 2, "hop_limit_below_minimum": 1},
                                 "skipped": 1, "missing": 0,
                                 "templates": {"total": 1, "compliant": 0, "non_compliant": 1,
                                               "by_finding": {"no_profile": 1, "imdsv1_allowed": 1,
                                                              "hop_limit_below_minimum": 1}},
                                 # no instance has an owner: nothing else launches them, nothing was read
                                 "launch_sources": {"total": 0, "compliant": 0, "non_compliant": 0, "not_read": 0,
                                                    "by_kind": {}, "by_finding": {}}}
    assert result["launch_sources"] == []
    assert result["expected"] == EXPECTED
    # the template sets no profile and no metadata options: a replacement would launch without either
    # (the templated instance itself was fixed after launch, so it is compliant)
    assert result["templates"] == [{"id": lt, "name": "web-template", "version": 1, "instance_profile": None,
                                    "metadata_options": {}, "instances": 1,
                                    "findings": ["no_profile", "imdsv1_allowed", "hop_limit_below_minimum"],
                                    "compliant": False}]


def test_profile_read_from_association_after_replace(fleet):
    """moto's DescribeInstances keeps the old profile after a Replace; the audit must not."""
    ec2, _iam, ids, _lt = fleet
    assoc = ec2.describe_iam_instance_profile_associations(
        Filters=[{"Name": "instance-id", "Values": [ids["legacy"]]}])["IamInstanceProfileAssociations"][0]
    ec2.replace_iam_instance_profile_association(AssociationId=assoc["AssociationId"],
                                                 IamInstanceProfile={"Name": "app-profile"})
    result = run_module(ec2_fleet_info.main, {"instance_ids": [ids["legacy"]], "expected": EXPECTED})
    row = result["instances"][0]
    assert row["instance_profile_name"] == "app-profile" and row["role_name"] == "app-role"
    assert "wrong_profile" not in row["findings"]


def test_deleted_profile_is_a_finding(fleet):
    ec2, iam, ids, _lt = fleet
    iam.remove_role_from_instance_profile(InstanceProfileName="legacy-profile", RoleName="legacy-role")
    iam.delete_instance_profile(InstanceProfileName="legacy-profile")
    result = run_module(ec2_fleet_info.main, {"instance_ids": [ids["legacy"]]})
    assert not result.failed, result
    assert result["instances"][0]["findings"] == ["profile_not_found"]


def test_states_and_missing_ids(fleet):
    _ec2, _iam, ids, _lt = fleet
    result = run_module(ec2_fleet_info.main, {"instance_ids": [ids["stopped"], ids["good"], "i-0123456789abcdef0"],
                                              "states": ["running"]})
    assert [r["instance_id"] for r in result["instances"]] == [ids["good"]]
    assert result["skipped"][0]["instance_id"] == ids["stopped"]
    assert "not in the states option" in result["skipped"][0]["reason"]
    assert result["missing_instance_ids"] == ["i-0123456789abcdef0"]
    assert result["summary"]["missing"] == 1 and result["summary"]["skipped"] == 1


def test_fail_on_findings_names_instances(fleet):
    _ec2, _iam, ids, _lt = fleet
    result = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "expected": EXPECTED,
                                              "fail_on_findings": True})
    assert result.failed
    assert "3 of 6 instances are not compliant" in result["msg"]
    assert "%s (no_profile, imdsv1_allowed)" % ids["bare"] in result["msg"]
    assert result["summary"]["non_compliant"] == 3  # the full result is still returned
    ok = run_module(ec2_fleet_info.main, {"instance_ids": [ids["good"]], "expected": EXPECTED,
                                          "fail_on_findings": True})
    assert not ok.failed


def test_check_mode_is_the_same_read(fleet):
    _ec2, _iam, ids, _lt = fleet
    normal = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "expected": EXPECTED})
    checked = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "expected": EXPECTED}, check_mode=True)
    assert normal["instances"] == checked["instances"] and not checked.changed


@pytest.mark.parametrize("args, fragment", [
    ({}, "the selector is empty"),
    ({"tags": {"Fleet": "web"}, "expected": {"http_tokens": "always"}}, "expected.http_tokens='always'"),
    ({"tags": {"Fleet": "web"}, "expected": {"min_hop": 2}}, "expected has unknown keys min_hop"),
    ({"tags": {"Fleet": "web"}, "imdsv1_lookback_days": 0}, "imdsv1_lookback_days=0 is out of range"),
    ({"instance_ids": ["web-1"]}, "instance_ids has invalid ids 'web-1'"),
])
def test_validation_before_any_call(args, fragment):
    # no AWS here: a call would go to a closed local port and fail differently
    result = run_module(ec2_fleet_info.main, dict(args, endpoint_url="http://127.0.0.1:9"))
    assert result.failed and fragment in result["msg"], result["msg"]


def _stubbed(service):
    import botocore.session
    from botocore.stub import Stubber
    client = botocore.session.get_session().create_client(service, region_name="us-east-1", aws_access_key_id="a",
                                                          aws_secret_access_key="b")
    stub = Stubber(client)
    stub.activate()
    return client, stub


def test_profile_roles_one_call_per_profile_and_errors():
    from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
    from ansible_collections.keyless.aws.plugins.module_utils.iam.profiles import profile_roles
    iam, stub = _stubbed("iam")
    when = "2026-12-01T00:00:00Z"
    role = {"RoleName": "ra", "RoleId": "AROAAAAAAAAAAAAAAAAAA", "Path": "/", "Arn": "arn:aws:iam::123456789012:role/ra",
            "CreateDate": when}
    profile = {"InstanceProfileName": "a", "InstanceProfileId": "AIPAAAAAAAAAAAAAAAAAA", "Path": "/", "CreateDate": when,
               "Arn": "arn:aws:iam::123456789012:instance-profile/a", "Roles": [role]}
    stub.add_response("get_instance_profile", {"InstanceProfile": profile}, {"InstanceProfileName": "a"})
    stub.add_client_error("get_instance_profile", "NoSuchEntity", "gone", 404, expected_params={"InstanceProfileName": "b"})
    got = profile_roles(iam, {"b", "a"})
    assert got == {"a": {"found": True, "role_name": "ra", "role_arn": "arn:aws:iam::123456789012:role/ra"},
                   "b": {"found": False, "role_name": None, "role_arn": None}}
    stub.assert_no_pending_responses()
    stub.add_client_error("get_instance_profile", "AccessDenied", "not allowed", 403)
    with pytest.raises(AwsCallError) as info:
        profile_roles(iam, {"c"})
    assert "GetInstanceProfile failed for c; AccessDenied: not allowed" in str(info.value)


def test_templates_compliance_counts_and_missing_template(fleet):
    ec2, _iam, ids, lt = fleet
    good = ec2.create_launch_template(LaunchTemplateName="good-template", LaunchTemplateData={
        "ImageId": IMAGE, "IamInstanceProfile": {"Name": "app-profile"},
        "MetadataOptions": {"HttpTokens": "required", "HttpPutResponseHopLimit": 2}})["LaunchTemplate"]["LaunchTemplateId"]
    from_good = [_launch(ec2, "g%d" % n, profile=None, template=good) for n in range(2)]
    doomed = ec2.create_launch_template(LaunchTemplateName="doomed", LaunchTemplateData={
        "ImageId": IMAGE})["LaunchTemplate"]["LaunchTemplateId"]
    _launch(ec2, "orphan", template=doomed)
    ec2.delete_launch_template(LaunchTemplateId=doomed)
    result = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "expected": EXPECTED})
    assert not result.failed, result
    templates = dict((t["id"], t) for t in result["templates"])
    assert [t["id"] for t in result["templates"]] == sorted(templates)
    assert templates[good] == {"id": good, "name": "good-template", "version": 1,
                               "instance_profile": {"name": "app-profile"},
                               "metadata_options": {"http_tokens": "required", "http_put_response_hop_limit": 2},
                               "instances": 2, "findings": [], "compliant": True}
    # EC2 tags an instance with its template id and version, not the name: a deleted template has no name
    assert templates[doomed]["findings"] == ["template_not_found"] and templates[doomed]["name"] is None
    assert templates[doomed]["instances"] == 1 and templates[doomed]["version"] is None
    assert templates[lt]["findings"] == ["no_profile", "imdsv1_allowed", "hop_limit_below_minimum"]
    assert result["summary"]["templates"] == {"total": 3, "compliant": 1, "non_compliant": 2,
                                              "by_finding": {"no_profile": 1, "imdsv1_allowed": 1,
                                                             "hop_limit_below_minimum": 1, "template_not_found": 1}}
    rows = dict((r["instance_id"], r) for r in result["instances"])
    assert rows[from_good[0]]["launch_template"]["name"] == "good-template"


def test_one_version_call_per_distinct_template(fleet, monkeypatch):
    """O(N/1000) instance pages plus one DescribeLaunchTemplateVersions per distinct template."""
    ec2, _iam, _ids, lt = fleet
    for n in range(5):
        _launch(ec2, "more%d" % n, template=lt)
    seen = []
    from ansible_collections.keyless.aws.plugins.module_utils.ec2account import launch_templates
    real = launch_templates.default_versions

    def counting(client, template_ids):
        client.meta.events.register("before-call.ec2.*", lambda model, **kw: seen.append(model.name))
        return real(client, template_ids)

    monkeypatch.setattr(launch_templates, "default_versions", counting)
    result = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "expected": EXPECTED})
    assert result["templates"][0]["instances"] == 6
    assert seen == ["DescribeLaunchTemplateVersions"]
    assert "DescribeLaunchTemplates" not in seen


# ---- roles that can escalate -------------------------------------------------------------------------------------

PASS_ANY = {"Version": "2012-10-17", "Statement": [{"Sid": "Launch", "Effect": "Allow",
                                                    "Action": ["ec2:RunInstances", "iam:PassRole"], "Resource": "*"}]}
SHARED = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject",
                                                  "Resource": "arn:aws:s3:::app-data/*"}]}


def test_roles_that_can_escalate_read_once_per_role(fleet, monkeypatch):
    _ec2, iam, ids, _lt = fleet
    iam.put_role_policy(RoleName="legacy-role", PolicyName="launcher", PolicyDocument=json.dumps(PASS_ANY))
    iam.put_role_policy(RoleName="app-role", PolicyName="read", PolicyDocument=json.dumps(SHARED))
    shared = iam.create_policy(PolicyName="shared", PolicyDocument=json.dumps(SHARED))["Policy"]["Arn"]
    for role in ("app-role", "legacy-role"):
        iam.attach_role_policy(RoleName=role, PolicyArn=shared)
    seen = record_api_calls(monkeypatch)
    result = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}})
    assert not result.failed, result
    rows = dict((r["instance_id"], r) for r in result["instances"])
    assert rows[ids["legacy"]]["findings"] == ["role_can_escalate"]
    assert all("role_can_escalate" not in r["findings"] for i, r in rows.items() if i != ids["legacy"])
    assert result["summary"]["by_finding"]["role_can_escalate"] == 1
    roles = dict((r["role_name"], r) for r in result["roles"])
    assert sorted(roles) == ["app-role", "legacy-role"]
    legacy = roles["legacy-role"]
    assert legacy["can_escalate"] and legacy["instances"] == 1
    assert legacy["role_arn"] == "arn:aws:iam::123456789012:role/legacy-role"
    assert legacy["policies"] == ["inline launcher", shared]
    [why] = legacy["escalations"]
    assert why["policy"] == "inline launcher" and why["statement"] == "Launch"
    assert "'iam:PassRole' on Resource '*'" in why["message"] and "allow_admin: true" in why["message"]
    assert not roles["app-role"]["can_escalate"] and roles["app-role"]["instances"] == 3  # good, templated, stopped
    # three instances share app-role and two roles share one managed policy: each is read once
    assert seen.count("ListRolePolicies") == 2 and seen.count("ListAttachedRolePolicies") == 2
    assert seen.count("GetRolePolicy") == 2
    assert seen.count("GetPolicy") == 1 and seen.count("GetPolicyVersion") == 1

    del seen[:]
    off = run_module(ec2_fleet_info.main, {"tags": {"Fleet": "web"}, "check_role_escalation": False})
    assert off["roles"] == [] and "role_can_escalate" not in off["summary"]["by_finding"]
    assert not set(seen) & {"ListRolePolicies", "ListAttachedRolePolicies", "GetPolicy", "GetPolicyVersion"}
