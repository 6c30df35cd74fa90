"""guardrail: validation, the documents built from intent, the gate and the plan. Pure tests, no AWS."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.organizations import guardrail

OU = "ou-ab12-prod0001"
OU2 = "ou-ab12-sandbox1"
ACCOUNT = "111111111111"
ROOT = "r-ab12"
DEPLOYER = "arn:aws:iam::*:role/keyless-deployer"


def params(**kw):
    out = {"name": "keyless-imds-guardrail", "state": "present", "targets": [OU], "allow_root": False,
           "policy_types": ["service_control_policy"], "require_imdsv2": True, "hop_limit_cap": 2,
           "deny_weakening": True, "exempt_principal_arns": [DEPLOYER], "deny_imdsv1_credentials": True,
           "require_instance_profile": False, "declarative_http_endpoint": "no_preference",
           "declarative_instance_metadata_tags": "no_preference", "exception_message": None,
           "member_role_name": "OrganizationAccountAccessRole", "regions": None, "imdsv1_lookback_days": 14,
           "accept_breaking": [], "preflight_only": False}
    out.update(kw)
    return out


# ---------------------------------------------------------------- validate

@pytest.mark.parametrize("changes, option, value", [
    ({"targets": [ROOT]}, "targets", ROOT),
    ({"targets": ["ou-x"]}, "targets", "ou-x"),
    ({"targets": ["12345"]}, "targets", "12345"),
    ({"targets": [OU, OU]}, "targets", OU),
    ({"targets": []}, "targets", "required"),
    ({"targets": [], "preflight_only": True}, "targets", "required"),
    ({"hop_limit_cap": 0}, "hop_limit_cap", "0"),
    ({"hop_limit_cap": 65}, "hop_limit_cap", "65"),
    ({"policy_types": ["scp"]}, "policy_types", "scp"),
    ({"exempt_principal_arns": ["keyless-deployer"]}, "exempt_principal_arns", "keyless-deployer"),
    # aws:PrincipalArn of a role session is the role's ARN, never the assumed-role one: an sts ARN never matches
    ({"exempt_principal_arns": ["arn:aws:sts::123456789012:assumed-role/keyless-deployer/s"]}, "exempt_principal_arns",
     "arn:aws:sts::123456789012:assumed-role/keyless-deployer/s"),
    ({"name": "has space"}, "name", "has space"),
    ({"regions": ["mars-1"]}, "regions", "mars-1"),
    ({"member_role_name": "bad/name"}, "member_role_name", "bad/name"),
    ({"accept_breaking": ["lt-1"]}, "accept_breaking", "lt-1"),
    ({"declarative_http_endpoint": "on"}, "declarative_http_endpoint", "on"),
    ({"imdsv1_lookback_days": 0}, "imdsv1_lookback_days", "0"),
])
def test_validate_names_the_option_and_the_value(changes, option, value):
    errors = guardrail.validate(params(**changes))
    assert len(errors) == 1, errors
    assert option in errors[0] and value in errors[0]


def test_validate_accepts_the_root_only_with_allow_root():
    assert guardrail.validate(params(targets=[ROOT], allow_root=True)) == []
    assert guardrail.validate(params(targets=[OU, ACCOUNT])) == []
    assert guardrail.validate(params(state="absent", targets=[])) == []


# ---------------------------------------------------------------- documents

def test_scp_is_the_documented_statements():
    doc = guardrail.scp_document(params())
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["RequireImdsv2AtLaunch"] == {
        "Sid": "RequireImdsv2AtLaunch", "Effect": "Deny", "Action": "ec2:RunInstances",
        "Resource": "arn:aws:ec2:*:*:instance/*", "Condition": {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}}
    assert by_sid["CapHopLimitAtLaunch"]["Condition"] == {
        "NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "2"}}
    assert by_sid["DenyImdsv1RoleCredentials"] == {
        "Sid": "DenyImdsv1RoleCredentials", "Effect": "Deny", "Action": "*", "Resource": "*",
        "Condition": {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}}
    assert by_sid["DenyImdsv1ByModify"]["Action"] == "ec2:ModifyInstanceMetadataOptions"
    assert by_sid["DenyImdsv1ByModify"]["Condition"] == {
        "StringNotEquals": {"ec2:MetadataHttpTokens": "required"}, "ArnNotLike": {"aws:PrincipalArn": DEPLOYER}}
    assert by_sid["DenyHopLimitAboveCapByModify"]["Condition"]["NumericGreaterThan"] == {
        "ec2:MetadataHttpPutResponseHopLimit": "2"}
    assert "RequireInstanceProfileAtLaunch" not in by_sid


@pytest.mark.parametrize("changes, present, absent", [
    ({"require_imdsv2": False}, ["CapHopLimitAtLaunch"], ["RequireImdsv2AtLaunch"]),
    ({"deny_weakening": False}, ["RequireImdsv2AtLaunch"], ["DenyImdsv1ByModify", "DenyHopLimitAboveCapByModify"]),
    ({"deny_imdsv1_credentials": False}, ["RequireImdsv2AtLaunch"], ["DenyImdsv1RoleCredentials"]),
    ({"require_instance_profile": True}, ["RequireInstanceProfileAtLaunch"], []),
])
def test_each_rule_is_its_own_statement(changes, present, absent):
    sids = [s["Sid"] for s in guardrail.scp_document(params(**changes))["Statement"]]
    assert set(present) <= set(sids) and not set(absent) & set(sids)


def test_profile_rule_and_exempt_list_and_partition():
    doc = guardrail.scp_document(params(require_instance_profile=True, exempt_principal_arns=[
        "arn:aws-us-gov:iam::*:role/b", "arn:aws-us-gov:iam::*:role/a"]), partition="aws-us-gov")
    by_sid = {s["Sid"]: s for s in doc["Statement"]}
    assert by_sid["RequireInstanceProfileAtLaunch"]["Condition"] == {"Null": {"ec2:InstanceProfile": "true"}}
    assert by_sid["RequireImdsv2AtLaunch"]["Resource"] == "arn:aws-us-gov:ec2:*:*:instance/*"
    assert by_sid["DenyImdsv1ByModify"]["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
        "arn:aws-us-gov:iam::*:role/a", "arn:aws-us-gov:iam::*:role/b"]
    no_exempt = {s["Sid"]: s for s in guardrail.scp_document(params(exempt_principal_arns=[]))["Statement"]}
    assert "ArnNotLike" not in no_exempt["DenyImdsv1ByModify"]["Condition"]


def test_declarative_policy_syntax():
    doc = guardrail.declarative_document(params(hop_limit_cap=3, declarative_http_endpoint="enabled",
                                                exception_message="See https://wiki/imdsv2"))
    assert doc == {"ec2_attributes": {
        "instance_metadata_defaults": {"http_tokens": {"@@assign": "required"},
                                       "http_put_response_hop_limit": {"@@assign": "3"},
                                       "http_endpoint": {"@@assign": "enabled"},
                                       "instance_metadata_tags": {"@@assign": "no_preference"}},
        "exception_message": {"@@assign": "See https://wiki/imdsv2"}}}


def test_desired_policies_are_named_and_tagged_deterministically():
    desired = guardrail.desired_policies(params(policy_types=["declarative_policy_ec2", "service_control_policy"]))
    assert [(p["name"], p["type"]) for p in desired] == [
        ("keyless-imds-guardrail-ec2-defaults", "DECLARATIVE_POLICY_EC2"),
        ("keyless-imds-guardrail", "SERVICE_CONTROL_POLICY")]
    assert all(p["tags"] == {"keyless:managed-by": "keyless.aws", "keyless:guardrail": "keyless-imds-guardrail"}
               for p in desired)
    assert guardrail.check_documents(desired) == []


def test_the_quota_counts_the_text_sent():
    """5,120 characters of compact JSON; a document over it fails naming the length, the quota and what helps."""
    many = ["arn:aws:iam::%012d:role/deployer-with-a-long-name" % n for n in range(60)]
    desired = guardrail.desired_policies(params(exempt_principal_arns=many))
    length = len(guardrail.text(desired[0]["content"]))
    assert length > 5120 and " " not in guardrail.text(desired[0]["content"]).replace("keyless ", "")
    [error] = guardrail.check_documents(desired)
    assert "%d characters" % length in error and "5120" in error and "exempt_principal_arns" in error
    assert len(guardrail.text(guardrail.desired_policies(params())[0]["content"])) < 1500


def test_same_content_compares_scps_as_documents():
    doc = guardrail.scp_document(params())
    shuffled = dict(doc, Statement=list(reversed(doc["Statement"])))
    assert guardrail.same_content(guardrail.SCP, doc, shuffled)
    assert not guardrail.same_content(guardrail.SCP, doc, guardrail.scp_document(params(hop_limit_cap=3)))
    decl = guardrail.declarative_document(params())
    assert guardrail.same_content(guardrail.DECLARATIVE, decl, json.loads(json.dumps(decl)))


# ---------------------------------------------------------------- gate

def report(target, *finding_ids, errors=()):
    return {"target": target, "clean": not finding_ids and not errors,
            "accounts": [{"findings": [{"id": i} for i in finding_ids], "errors": list(errors)}]}


@pytest.mark.parametrize("targets, attached, reports, accept, attach, stopped", [
    ([OU, OU2], set(), [report(OU), report(OU2)], [], [OU, OU2], None),
    ([OU, OU2], set(), [report(OU, "a:r:k:x"), report(OU2)], [], [], OU),
    ([OU2, OU], set(), [report(OU, "a:r:k:x"), report(OU2)], [], [OU2], OU),
    ([OU, OU2], set(), [report(OU, "a:r:k:x"), report(OU2)], ["a:r:k:x"], [OU, OU2], None),
    ([OU, OU2], {OU}, [report(OU2, "a:r:k:y")], [], [], OU2),
    ([OU, OU2], {OU}, [report(OU2)], [], [OU2], None),
    ([OU], set(), [report(OU, errors=["AssumeRole failed"])], ["a:r:k:x"], [], OU),
    ([OU], set(), [], [], [], OU),
])
def test_gate_stops_at_the_first_target_that_is_not_clean(targets, attached, reports, accept, attach, stopped):
    gated = guardrail.gate(targets, attached, {r["target"]: r for r in reports}, accept)
    assert (gated["attach"], gated["stopped_at"]) == (attach, stopped)
    if stopped:
        assert gated["reason"]


# ---------------------------------------------------------------- plan

def desired_scp(**kw):
    return guardrail.desired_policies(params(**kw))


def observed(content=None, targets=(), owned=True, name="keyless-imds-guardrail"):
    return {name: {"id": "p-abc12345", "type": guardrail.SCP, "content": content or guardrail.scp_document(params()),
                   "targets": list(targets), "owned": owned}}


def actions(plan):
    return [(c.operation, c.target) for c in plan]


@pytest.mark.parametrize("obs, attach, keep, expected", [
    ({}, [OU], [OU], [("CreatePolicy", "keyless-imds-guardrail"), ("AttachPolicy", "keyless-imds-guardrail to " + OU)]),
    ({}, [], [OU], [("CreatePolicy", "keyless-imds-guardrail")]),
    (observed(targets=[OU]), [], [OU], []),
    (observed(targets=[OU]), [OU2], [OU, OU2], [("AttachPolicy", "keyless-imds-guardrail to " + OU2)]),
    (observed(targets=[OU, OU2]), [], [OU], [("DetachPolicy", "keyless-imds-guardrail from " + OU2)]),
    (observed(content={"Version": "2012-10-17", "Statement": []}, targets=[OU]), [], [OU],
     [("UpdatePolicy", "keyless-imds-guardrail")]),
])
def test_plan_present(obs, attach, keep, expected):
    assert actions(guardrail.plan_guardrail(desired_scp(), obs, attach, "present", keep_targets=keep)) == expected


def test_create_then_attach_uses_the_new_policy_id():
    plan = guardrail.plan_guardrail(desired_scp(), {}, [OU, OU2], "present", keep_targets=[OU, OU2])
    create, first, second = list(plan)
    assert create.params["Tags"] == [{"Key": "keyless:guardrail", "Value": "keyless-imds-guardrail"},
                                     {"Key": "keyless:managed-by", "Value": "keyless.aws"}]
    assert json.loads(create.params["Content"]) == guardrail.scp_document(params())
    assert create.params["Type"] == "SERVICE_CONTROL_POLICY" and create.service == "organizations"
    responses = [{"Policy": {"PolicySummary": {"Id": "p-new12345"}}}]
    assert first.params(responses) == {"PolicyId": "p-new12345", "TargetId": OU}
    assert second.params(responses) == {"PolicyId": "p-new12345", "TargetId": OU2}


def test_absent_detaches_and_deletes_only_what_is_ours():
    obs = observed(targets=[OU2, OU])
    obs.update(observed(owned=False, name="keyless-imds-guardrail-ec2-defaults", targets=[OU]))
    plan = guardrail.plan_guardrail([], obs, [], "absent")
    assert actions(plan) == [("DetachPolicy", "keyless-imds-guardrail from " + OU),
                             ("DetachPolicy", "keyless-imds-guardrail from " + OU2),
                             ("DeletePolicy", "keyless-imds-guardrail")]
    assert guardrail.plan_guardrail([], {}, [], "absent").changes == []


def test_a_dropped_policy_type_is_removed():
    decl = {"keyless-imds-guardrail-ec2-defaults": {"id": "p-dec12345", "type": guardrail.DECLARATIVE,
                                                    "content": guardrail.declarative_document(params()),
                                                    "targets": [OU], "owned": True}}
    obs = dict(observed(targets=[OU]), **decl)
    assert actions(guardrail.plan_guardrail(desired_scp(), obs, [], "present", keep_targets=[OU])) == [
        ("DetachPolicy", "keyless-imds-guardrail-ec2-defaults from " + OU),
        ("DeletePolicy", "keyless-imds-guardrail-ec2-defaults")]


def test_predicted_follows_the_plan():
    plan = guardrail.plan_guardrail(desired_scp(), observed(targets=[OU2]), [OU], "present", keep_targets=[OU])
    after = guardrail.predicted(desired_scp(), observed(targets=[OU2]), plan, "present")
    assert after["keyless-imds-guardrail"]["targets"] == [OU]
    assert guardrail.predicted(desired_scp(), observed(), plan, "absent") == {}
