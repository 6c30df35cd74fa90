"""Guardrails in force (issue 25, item 4), on the moto server with the seeding of test_guardrails: before the attach
every rule is missing in the prod account; after it prod has them in force, inherited from the prod OU, while sandbox
has only what a hand-written SCP of its own implements; organizations_guardrail_info changes nothing (check mode
too); and keyless.aws.audit with ec2_identity_audit_guardrails reports each target's rules in its audit result, its
report and the run summary (guardrails_missing), without a single mutating call."""

from __future__ import annotations

import json

import pytest

from tests.scenarios.test_guardrails import MEMBER_ROLE, NAME, REGION, build, make_compliant, run_guardrail, seed_prod
from tests.support.moto_server import mutating_calls
from tests.support.playbook import run_playbook

pytestmark = pytest.mark.integration

BOTH = ["service_control_policy", "declarative_policy_ec2"]
INFO = "organizations_guardrail_info"
SCP_RULES = ["require_imdsv2", "hop_limit_cap", "deny_weakening", "deny_imdsv1_credentials"]
ALL_RULES = SCP_RULES + ["declarative_imds_defaults"]
# a security team's own SCP on sandbox: the same Deny as our RequireImdsv2AtLaunch, written by hand, and a Deny of the
# hop limit narrowed to one region (IAM ANDs the conditions: it is not a cap everywhere)
THEIRS = {"Version": "2012-10-17", "Statement": [
    {"Sid": "NoImdsV1Launches", "Effect": "Deny", "Action": ["ec2:RunInstances"], "Resource": "arn:aws:ec2:*:*:instance/*",
     "Condition": {"StringNotEquals": {"ec2:MetadataHttpTokens": ["required"]}}},
    {"Sid": "HopCapInIreland", "Effect": "Deny", "Action": "ec2:RunInstances", "Resource": "*",
     "Condition": {"NumericGreaterThan": {"ec2:MetadataHttpPutResponseHopLimit": "2"},
                   "StringEquals": {"aws:RequestedRegion": "eu-west-1"}}}]}


def by_account(result):
    assert not result.get("failed"), result.get("msg")
    assert not result["changed"] and result["changes"] == []
    return {a["account"]: a for a in result["accounts"]}


def test_guardrails_in_force_before_and_after_the_attach_and_in_the_audit(moto, tmp_path):
    url = moto.url
    root, ous, accounts = build(moto)
    prod, sandbox = accounts["prod"], accounts["sandbox"]
    template_id = seed_prod(url, prod)
    info = {"targets": [ous["prod"], ous["sandbox"]], "policy_types": BOTH}

    # 1. before the attach: every rule is missing in both accounts; check mode and a real run read only
    moto.reset_calls()
    before = by_account(run_guardrail(moto, tmp_path, info, check=True, module=INFO))
    assert mutating_calls(moto.calls()) == {}
    assert sorted(before) == sorted([prod, sandbox])
    assert before[prod]["expected"] == ALL_RULES
    assert before[prod]["in_force"] == [] and before[prod]["missing"] == ALL_RULES
    assert before[prod]["path"] == [root, ous["prod"], prod] and before[prod]["declarative"] is None
    # what is attached (FullAWSAccess, on every node as AWS does it) is listed at each level, and implements nothing
    assert [(p["name"], p["attached_to"]["kind"], p["inherited"], p["rules"]) for p in before[prod]["policies"]] == [
        ("FullAWSAccess", "root", True, []), ("FullAWSAccess", "ou", True, []), ("FullAWSAccess", "account", False, [])]
    assert by_account(run_guardrail(moto, tmp_path, dict(info, targets=[prod]), module=INFO))[prod]["missing"] == ALL_RULES

    # 2. converge, attach to prod; sandbox gets a hand-written SCP of its own
    make_compliant(url, prod, template_id)
    attached = run_guardrail(moto, tmp_path, {"targets": [ous["prod"]], "regions": [REGION], "policy_types": BOTH,
                                              "exempt_principal_arns": ["arn:aws:iam::*:role/keyless-deployer"]})
    assert not attached.get("failed") and attached["changed"], attached.get("msg")
    orgs = moto.client("organizations")
    theirs = orgs.create_policy(Name="sandbox-baseline", Type="SERVICE_CONTROL_POLICY", Description="theirs",
                                Content=json.dumps(THEIRS))["Policy"]["PolicySummary"]["Id"]
    orgs.attach_policy(PolicyId=theirs, TargetId=ous["sandbox"])

    # 3. prod has every rule in force, inherited from the prod OU (ours, recognized by content and tag);
    #    sandbox has what its own SCP implements and misses the rest
    moto.reset_calls()
    after = by_account(run_guardrail(moto, tmp_path, info, module=INFO))
    assert mutating_calls(moto.calls()) == {}
    assert after[prod]["in_force"] == ALL_RULES and after[prod]["missing"] == []
    ours = [p for p in after[prod]["policies"] if p["ours"]]
    assert sorted(p["name"] for p in ours) == [NAME, NAME + "-ec2-defaults"]
    scp = next(p for p in ours if p["name"] == NAME)
    assert scp["attached_to"] == {"id": ous["prod"], "kind": "ou", "name": "prod"} and scp["inherited"] is True
    assert scp["rules"] == SCP_RULES and scp["hop_limit_cap"] == 2
    assert scp["exempt_principals"] == ["arn:aws:iam::*:role/keyless-deployer"]
    assert after[prod]["declarative"]["http_tokens"] == "required"
    assert next(p for p in ours if p["name"] == NAME + "-ec2-defaults")["rules"] == ["declarative_imds_defaults"]
    assert after[sandbox]["in_force"] == ["require_imdsv2"]
    assert after[sandbox]["missing"] == ["hop_limit_cap", "deny_weakening", "deny_imdsv1_credentials",
                                         "declarative_imds_defaults"]
    baseline = next(p for p in after[sandbox]["policies"] if p["name"] == "sandbox-baseline")
    assert baseline["ours"] is False and baseline["rules"] == ["require_imdsv2"]
    assert baseline["conditional"] == ["HopCapInIreland: narrowed by StringEquals aws:requestedregion"]
    assert not any(p["ours"] for p in after[sandbox]["policies"])

    # every account of the organization: the management account too, where SCPs do not apply
    everything = by_account(run_guardrail(moto, tmp_path, {"all_accounts": True}, module=INFO))
    management = (set(everything) - {prod, sandbox}).pop()
    assert any("management account" in n for n in everything[management]["notes"])
    assert everything[prod]["missing"] == [] and everything[management]["missing"] == SCP_RULES
    refused = run_guardrail(moto, tmp_path, {"targets": ["ou-ab12-nothere1"]}, module=INFO)
    assert refused["failed"] and "ou-ab12-nothere1" in refused["msg"]

    # 4. the audit, with the opt-in: one read of the organization on the controller, each target gets its account's
    #    entry in its result, its report and the summary
    reports = tmp_path / "reports"
    inventory = tmp_path / "inventory.json"
    member = "arn:aws:iam::%s:role/" + MEMBER_ROLE
    inventory.write_text(json.dumps({"aws_targets": {"hosts": {
        # prod's account comes from its assume role ARN, sandbox's from aws_account_id (as keyless.aws.targets sets it)
        "prod-us-east-1": {"aws_region": REGION, "aws_assume_role_arn": member % prod},
        "sandbox-us-east-1": {"aws_region": REGION, "aws_assume_role_arn": member % sandbox, "aws_account_id": sandbox},
    }, "vars": {"ansible_connection": "local", "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "ec2_identity_all_instances": True, "ec2_identity_report_dir": str(reports),
                "ec2_identity_audit_guardrails": True,
                "ec2_identity_audit_guardrails_options": {"policy_types": BOTH}}}}))
    moto.reset_calls()
    audit = run_playbook("keyless.aws.audit", url, inventory=str(inventory))
    assert audit.rc == 0, audit.stdout[-8000:]
    assert mutating_calls(moto.calls()) == {}
    assert moto.calls()["counts"].get("organizations:DescribeOrganization") == 1  # read once, not per target
    summary = json.loads((reports / "audit-summary.json").read_text())
    rows = {t["target"]: t for t in summary["targets"]}
    assert rows["prod-us-east-1"]["guardrails_missing"] == 0 and rows["sandbox-us-east-1"]["guardrails_missing"] == 4
    assert summary["totals"]["guardrails_missing"] == 4
    assert "guardrails missing" in (reports / "audit-summary.md").read_text()
    assert "<th>guardrails missing</th>" in (reports / "audit-summary.html").read_text()
    prod_report = json.loads((reports / "prod-us-east-1-fleet-audit.json").read_text())["result"]["guardrails"]
    assert prod_report["account"] == prod and prod_report["in_force"] == ALL_RULES and prod_report["missing"] == []
    assert any(p["name"] == NAME and p["attached_to"]["id"] == ous["prod"] for p in prod_report["policies"])
    sandbox_md = (reports / "sandbox-us-east-1-fleet-audit.md").read_text()
    assert "## Organization guardrails of account %s (4 of 5 missing)" % sandbox in sandbox_md
    assert "sandbox-baseline" in sandbox_md and "| no | require_imdsv2 |" in sandbox_md

    # 5. without the opt-in (the default): the organization is not read, the result says null, the summary 0
    moto.reset_calls()
    plain = run_playbook("keyless.aws.audit", url, inventory=str(inventory),
                         extra_vars={"ec2_identity_audit_guardrails": False})
    assert plain.rc == 0, plain.stdout[-8000:]
    assert not [k for k in moto.calls()["counts"] if k.startswith("organizations:")]
    summary = json.loads((reports / "audit-summary.json").read_text())
    assert [t["guardrails_missing"] for t in summary["targets"]] == [0, 0] and summary["totals"]["guardrails_missing"] == 0
    result = json.loads((reports / "sandbox-us-east-1-fleet-audit.json").read_text())["result"]
    assert result["guardrails"] is None
    assert "Organization guardrails" not in (reports / "sandbox-us-east-1-fleet-audit.md").read_text()
