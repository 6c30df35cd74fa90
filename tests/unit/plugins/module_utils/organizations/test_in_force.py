"""in_force: which guardrail rules an SCP implements (recognized by content), the effective declarative policy, and
one account's entry (inherited from an OU or the root, the management account). Pure tests, no AWS."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.organizations import guardrail, in_force

ROOT = "r-ab12"
OU = "ou-ab12-prod0001"
ACCOUNT = "111111111111"
MANAGEMENT = "999999999999"
DEPLOYER = "arn:aws:iam::*:role/keyless-deployer"
INSTANCE = "arn:aws:ec2:*:*:instance/*"
DEFAULT_RULES = ["require_imdsv2", "hop_limit_cap", "deny_weakening", "deny_imdsv1_credentials"]


def params(**kw):
    out = {"name": "keyless-imds-guardrail", "state": "info", "targets": [OU], "all_accounts": False,
           "policy_types": ["service_control_policy"], "require_imdsv2": True, "hop_limit_cap": 2,
           "deny_weakening": True, "exempt_principal_arns": [DEPLOYER], "deny_imdsv1_credentials": True,
           "require_instance_profile": False}
    out.update(kw)
    return out


def deny(action, condition, resource=INSTANCE, sid=None, **extra):
    stmt = {"Effect": "Deny", "Action": action, "Resource": resource, "Condition": condition}
    if sid:
        stmt["Sid"] = sid
    stmt.update(extra)
    return stmt


def doc(*stmts):
    return {"Version": "2012-10-17", "Statement": list(stmts)}


TOKENS = {"StringNotEquals": {"ec2:MetadataHttpTokens": "required"}}
HOP2 = {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "2"}}
DELIVERY = {"NumericLessThan": {"ec2:RoleDelivery": "2.0"}}
PROFILE = {"Null": {"ec2:InstanceProfile": "true"}}
HAND_WRITTEN_ALL = doc(
    # the same Denies as ours, written by hand: lists, wildcards, other Sids, keys in other cases, text numbers
    deny(["ec2:RunInstances", "ec2:StartInstances"], {"StringNotEquals": {"EC2:metadatahttptokens": ["required"]}},
         resource="arn:aws:ec2:*:*:instance/*"),
    deny("ec2:Run*", {"NumericGreaterThanEquals": {"ec2:MetadataHttpPutResponseHopLimit": 2}}, resource="*"),
    deny("ec2:ModifyInstanceMetadataOptions", dict(TOKENS, ArnNotLike={"aws:PrincipalARN": DEPLOYER})),
    deny("ec2:ModifyInstanceMetadataOptions", HOP2),
    deny("*", {"NumericLessThan": {"ec2:RoleDelivery": 2}}, resource="*"),
    deny("ec2:RunInstances", PROFILE),
)


@pytest.mark.parametrize("content, rules, cap", [
    # our SCP, built from the options
    (guardrail.scp_document(params()), DEFAULT_RULES, 2),
    (guardrail.scp_document(params(require_instance_profile=True, deny_weakening=False)),
     ["require_imdsv2", "hop_limit_cap", "deny_imdsv1_credentials", "require_instance_profile"], 2),
    # a hand-written SCP with the same Denies (and as JSON text, as DescribePolicy answers)
    (HAND_WRITTEN_ALL, DEFAULT_RULES + ["require_instance_profile"], 1),
    (json.dumps(HAND_WRITTEN_ALL, indent=2), DEFAULT_RULES + ["require_instance_profile"], 1),
    # only Allow statements (FullAWSAccess, or an Allow with the very conditions): nothing
    (doc({"Effect": "Allow", "Action": "*", "Resource": "*"}), [], None),
    (doc({"Effect": "Allow", "Action": "ec2:RunInstances", "Resource": INSTANCE, "Condition": TOKENS}), [], None),
    # a Deny with a different condition: StringEquals "optional" lets a launch without HttpTokens through
    (doc(deny("ec2:RunInstances", {"StringEquals": {"ec2:MetadataHttpTokens": "optional"}})), [], None),
    # a Deny narrowed by another condition (IAM ANDs them): only one region is covered
    (doc(deny("ec2:RunInstances", dict(TOKENS, StringEquals={"aws:RequestedRegion": "eu-west-1"}))), [], None),
    # the right condition on other actions or resources
    (doc(deny("ec2:StartInstances", TOKENS)), [], None),
    (doc(deny("ec2:RunInstances", TOKENS, resource="arn:aws:ec2:*:*:volume/*")), [], None),
    (doc(deny("ec2:*", DELIVERY, resource="*")), [], None),  # not every action: credentials still work elsewhere
    # NotAction / NotResource evaluated
    (doc({"Effect": "Deny", "NotAction": "s3:*", "Resource": INSTANCE, "Condition": TOKENS}), ["require_imdsv2"], None),
    (doc({"Effect": "Deny", "Action": "ec2:RunInstances", "NotResource": "arn:aws:ec2:*:*:volume/*",
          "Condition": TOKENS}), ["require_imdsv2"], None),
    # a hop cap above the cap asked for is reported, not in force
    (doc(deny("ec2:RunInstances", {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "3"}})), [], 3),
    # deny_weakening needs both modify statements
    (doc(deny("ec2:ModifyInstanceMetadataOptions", TOKENS)), [], None),
    # a Deny with the two conditions in one statement denies only when both hold: neither rule
    (doc(deny("ec2:RunInstances", dict(TOKENS, **HOP2))), [], None),
])
def test_scp_rules_recognized_by_content(content, rules, cap):
    judged = in_force.scp_rules(content, 2)
    assert judged["rules"] == rules
    assert judged["hop_limit_cap"] == cap
    assert judged["error"] is None


def test_scp_rules_reports_exemptions_conditions_and_errors():
    ours = in_force.scp_rules(guardrail.scp_document(params()), 2)
    assert ours["exempt_principals"] == [DEPLOYER] and ours["conditional"] == []
    narrowed = in_force.scp_rules(doc(deny("ec2:RunInstances", dict(TOKENS, StringEquals={
        "aws:RequestedRegion": "eu-west-1"}), sid="OnlyIreland")), 2)
    assert narrowed["conditional"] == ["OnlyIreland: narrowed by StringEquals aws:requestedregion"]
    broken = in_force.scp_rules("{not json", 2)
    assert broken["rules"] == [] and broken["error"]


@pytest.mark.parametrize("content, rules", [
    (guardrail.declarative_document(params()), ["declarative_imds_defaults"]),
    (json.dumps(guardrail.declarative_document(params())), ["declarative_imds_defaults"]),
    (guardrail.declarative_document(params(hop_limit_cap=3)), []),          # above the cap asked for
    (guardrail.declarative_document(params(require_imdsv2=False)), []),     # no_preference
    ({"ec2_attributes": {"instance_metadata_defaults": {
        "http_tokens": {"@@assign": "required"}, "http_put_response_hop_limit": {"@@assign": "-1"}}}}, []),
    ({"ec2_attributes": {"serial_console_access": {"status": {"@@assign": "disabled"}}}}, []),
    (None, []),
])
def test_declarative_rules(content, rules):
    assert in_force.declarative_rules(content, 2)["rules"] == rules


def test_expected_rules_follow_the_options():
    assert in_force.expected_rules(params()) == DEFAULT_RULES
    assert in_force.expected_rules(params(policy_types=["declarative_policy_ec2"])) == ["declarative_imds_defaults"]
    assert in_force.expected_rules(params(policy_types=["service_control_policy", "declarative_policy_ec2"],
                                          require_instance_profile=True, deny_weakening=False)) == [
        "require_imdsv2", "hop_limit_cap", "deny_imdsv1_credentials", "require_instance_profile",
        "declarative_imds_defaults"]


PATH = [{"id": ROOT, "kind": "root", "name": "Root"}, {"id": OU, "kind": "ou", "name": "prod"},
        {"id": ACCOUNT, "kind": "account", "name": "prod"}]
FULL_ACCESS = {"id": "p-FullAWSAccess", "name": "FullAWSAccess", "type": in_force.SCP,
               "content": doc({"Effect": "Allow", "Action": "*", "Resource": "*"}), "ours": False}
OURS = {"id": "p-ours0001", "name": "keyless-imds-guardrail", "type": in_force.SCP,
        "content": guardrail.scp_document(params()), "ours": True}
THEIRS = {"id": "p-theirs01", "name": "security-baseline", "type": in_force.SCP, "content": HAND_WRITTEN_ALL,
          "ours": False}
ENABLED = frozenset((in_force.SCP, in_force.DECLARATIVE))


def entry(attached, account=ACCOUNT, declarative=None, enabled=ENABLED, **kw):
    return in_force.account_entry({"Id": account, "Name": "prod", "Status": "ACTIVE"},
                                  PATH[:2] + [dict(PATH[2], id=account)], attached, declarative, params(**kw),
                                  MANAGEMENT, set(enabled))


@pytest.mark.parametrize("where, kind", [(OU, "ou"), (ROOT, "root"), (ACCOUNT, "account")])
def test_account_entry_inherits_from_the_ou_and_the_root(where, kind):
    got = entry({ROOT: [FULL_ACCESS], where: [OURS] + ([FULL_ACCESS] if where != ROOT else [])})
    assert got["in_force"] == DEFAULT_RULES and got["missing"] == []
    ours = next(p for p in got["policies"] if p["id"] == "p-ours0001")
    assert ours["attached_to"]["id"] == where and ours["attached_to"]["kind"] == kind
    assert ours["inherited"] is (kind != "account") and ours["ours"] is True
    assert got["path"] == [ROOT, OU, ACCOUNT]


def test_account_entry_missing_without_guardrails_and_with_theirs():
    bare = entry({ROOT: [FULL_ACCESS]})
    assert bare["in_force"] == [] and bare["missing"] == DEFAULT_RULES
    assert [p["name"] for p in bare["policies"]] == ["FullAWSAccess"] and bare["policies"][0]["rules"] == []
    theirs = entry({ROOT: [FULL_ACCESS], OU: [THEIRS]}, require_instance_profile=True)
    assert theirs["missing"] == [] and theirs["in_force"] == DEFAULT_RULES + ["require_instance_profile"]
    assert next(p for p in theirs["policies"] if p["name"] == "security-baseline")["ours"] is False
    # a policy attached elsewhere (another OU) is not in force here
    elsewhere = entry({ROOT: [FULL_ACCESS], "ou-ab12-sandbox1": [OURS]})
    assert elsewhere["missing"] == DEFAULT_RULES


def test_account_entry_declarative_management_account_and_disabled_type():
    both = ["service_control_policy", "declarative_policy_ec2"]
    ours_declarative = {"id": "p-ours0002", "name": "keyless-imds-guardrail-ec2-defaults", "type": in_force.DECLARATIVE,
                        "content": guardrail.declarative_document(params()), "ours": True}
    declared = entry({ROOT: [FULL_ACCESS], OU: [OURS, ours_declarative]},
                     declarative=guardrail.declarative_document(params()), policy_types=both)
    assert declared["missing"] == [] and declared["in_force"][-1] == "declarative_imds_defaults"
    assert declared["policies"][-1]["rules"] == ["declarative_imds_defaults"] and declared["policies"][-1]["inherited"]
    # the effective policy decides: a declarative policy attached but overridden below (or not yet effective) is not
    overridden = entry({ROOT: [FULL_ACCESS], OU: [OURS, ours_declarative]}, policy_types=both,
                       declarative=guardrail.declarative_document(params(require_imdsv2=False)))
    assert overridden["missing"] == ["declarative_imds_defaults"]
    assert declared["declarative"]["http_tokens"] == "required"
    without = entry({ROOT: [FULL_ACCESS], OU: [OURS]}, policy_types=both)
    assert without["missing"] == ["declarative_imds_defaults"] and without["declarative"] is None
    management = entry({ROOT: [FULL_ACCESS, OURS]}, account=MANAGEMENT)
    assert management["in_force"] == [] and management["missing"] == DEFAULT_RULES
    assert any("management account" in note for note in management["notes"])
    disabled = entry({ROOT: [FULL_ACCESS], OU: [OURS]}, enabled={in_force.DECLARATIVE})
    assert disabled["missing"] == DEFAULT_RULES and disabled["policies"] == []
    assert any("not enabled" in note for note in disabled["notes"])


@pytest.mark.parametrize("overrides, needle", [
    ({"targets": [], "all_accounts": False}, "give targets (OU ids and account ids) or all_accounts=true"),
    ({"targets": [OU], "all_accounts": True}, "targets=['%s'] and all_accounts=true" % OU),
    ({"targets": [ROOT]}, "targets has the root 'r-ab12': set all_accounts=true"),
    ({"targets": [], "all_accounts": "yes"}, "all_accounts='yes': true or false"),
    ({"state": "present", "all_accounts": True}, "all_accounts=true is for organizations_guardrail_info"),
    ({"targets": ["prod"]}, "targets has 'prod'"),
])
def test_validate_info(overrides, needle):
    errors = guardrail.validate(dict(params(), **overrides))
    assert any(needle in e for e in errors), errors


def test_validate_info_accepts_targets_or_all_accounts():
    assert guardrail.validate(params()) == []
    assert guardrail.validate(params(targets=[], all_accounts=True)) == []
