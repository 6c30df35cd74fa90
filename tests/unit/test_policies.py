"""policies/*.json against the code: the deployer policy grants every IAM action some module can need (and what
the inventory plugin calls in a target account), and nothing else; the auditor policy is its read-only part; the
controller policy only assumes the deployer; the organizations policy is what the inventory plugin reads of the
organization with the controller's credentials; the guardrails policy is what organizations_guardrail needs in the
management account (the Organizations reads and the policy changes: they do not fit the deployer policy's 6,144
characters, and no target account needs them).

The actions come from reading plugins/ (tests/support/api_calls.py: every boto3 method, paginator, waiter
or operation name of the services the code creates clients for, mapped to IAM actions). A module that
starts calling a new API fails test_deployer_grants_every_action_the_code_needs, naming the action and
the line that calls it.
"""

from __future__ import annotations

import json
import re

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import ADMIN_MANAGED_POLICIES, lint_policy
from tests.support import api_calls
from tests.support.api_calls import ROOT, granted_actions, needed_actions, operation_mentions

POLICIES = ROOT / "policies"
READ_ONLY = re.compile(r"^[a-z0-9-]+:(Describe|Get|List|Lookup)")
# Actions that take no resource ARN (AWS Service Authorization Reference: no resource types), so "*" is
# the only Resource AWS accepts for them. Any other action must name its resources.
NO_RESOURCE_TYPES = frozenset((
    "ec2:DescribeInstances", "ec2:DescribeIamInstanceProfileAssociations", "ec2:DescribeLaunchTemplates",
    "ec2:DescribeLaunchTemplateVersions", "ec2:GetInstanceMetadataDefaults", "ec2:ModifyInstanceMetadataDefaults",
    "cloudwatch:GetMetricData", "cloudtrail:LookupEvents", "iam:ListRoles", "iam:ListInstanceProfiles",
    "iam:ListPolicies", "access-analyzer:ValidatePolicy", "ec2:DescribeRegions",
    "organizations:DescribeOrganization", "organizations:ListAccounts", "organizations:ListRoots",
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeLaunchConfigurations",
    "ec2:DescribeSpotFleetRequests", "ec2:DescribeFleets", "iam:ListUsers", "ec2:DescribeVpcEndpoints",
    "organizations:ListPolicies",
))
# ec2:RunInstances authorizes every resource of a launch (instance, image, subnet, volume ...): "*", narrowed by a
# condition to launches from a launch template (what EC2 Auto Scaling checks when a group is pointed at one).
CONDITIONED_STAR = {"ec2:RunInstances": {"ArnLike": {"ec2:LaunchTemplate": "arn:aws:ec2:*:*:launch-template/*"}},
                    # organizations:CreatePolicy: "*" narrowed to the two policy types organizations_guardrail creates
                    # (Organizations User Guide, the organizations:PolicyType condition key)
                    "organizations:CreatePolicy": {"StringEquals": {"organizations:PolicyType": [
                        "SERVICE_CONTROL_POLICY", "DECLARATIVE_POLICY_EC2"]}}}
# What iam_access_key may change on any user: a key's status, its deletion, and its keyless:key-inactive:* tag.
RETIRING_KEYS = frozenset(("iam:UpdateAccessKey", "iam:DeleteAccessKey", "iam:TagUser", "iam:UntagUser"))
# Actions authorized on two resource types, one of them narrowed by a condition the other cannot carry: one statement
# each (AttachPolicy/DetachPolicy: the policy, only if it is tagged as ours, and the target OU/account/root).
TWO_RESOURCE_TYPES = frozenset(("organizations:AttachPolicy", "organizations:DetachPolicy"))
MANAGED_POLICY_QUOTA = 6144  # characters, whitespace outside strings not counted


def load(name):
    return json.loads((POLICIES / name).read_text())


def statements(policy, effect=None):
    return [s for s in policy["Statement"] if effect is None or s["Effect"] == effect]


def as_list(value):
    return [value] if isinstance(value, str) else list(value)


def gaps(needed, granted):
    """Needed actions not granted, each with where the code needs it: ["ssm:SendCommand (plugins/x.py:3)"]."""
    return ["%s (%s)" % (action, ", ".join(sorted({"%s:%d" % (m.path, m.line) for m in needed[action]})[:3]))
            for action in sorted(set(needed) - set(granted))]


# What the inventory plugin asks of the organization, with the controller's own credentials
ORGANIZATION_PREFIXES = ("organizations:",)


@pytest.fixture(scope="module")
def inventory_needed():
    return needed_actions(part="inventory")


@pytest.fixture(scope="module")
def needed(inventory_needed):
    """What a target's deployer role is asked: by the modules, and by the inventory plugin in the account."""
    found = needed_actions()
    for action, mentions in inventory_needed.items():
        if not action.startswith(ORGANIZATION_PREFIXES) and action != "sts:AssumeRole":
            found.setdefault(action, []).extend(mentions)
    return found


def test_organizations_policy_is_what_the_inventory_plugin_reads(inventory_needed):
    want = {a for a in inventory_needed if a.startswith(ORGANIZATION_PREFIXES)}
    assert want and granted_actions(load("organizations.json")) == want
    # and the roles it assumes in the accounts are the controller policy's
    assert "sts:AssumeRole" in inventory_needed and "sts:AssumeRole" in granted_actions(load("controller.json"))


def test_deployer_grants_every_action_the_code_needs(needed):
    granted = granted_actions(load("deployer.json")) | granted_actions(load("controller.json")) | \
        granted_actions(load("guardrails.json"))
    missing = gaps(needed, granted)
    assert not missing, ("the code calls APIs that policies/deployer.json does not grant (add them to the statement "
                         "of their purpose and to README's table): %s" % "; ".join(missing))


def test_policies_grant_nothing_the_code_does_not_need(needed):
    for name in ("deployer.json", "auditor.json", "controller.json", "guardrails.json"):
        extra = sorted(granted_actions(load(name)) - set(needed))
        assert not extra, "%s grants actions no module needs: %s" % (name, extra)


def test_auditor_is_the_read_only_part_of_the_deployer(needed):
    deployer, auditor = load("deployer.json"), load("auditor.json")
    want = {a for a in needed if READ_ONLY.match(a)} - granted_actions(load("controller.json")) - \
        granted_actions(load("guardrails.json"))
    assert granted_actions(auditor) == want
    # each action on the same resources, under the same conditions, as in the deployer policy
    scope = {}
    for statement in statements(deployer, "Allow"):
        for action in as_list(statement["Action"]):
            scope[action] = (sorted(as_list(statement["Resource"])), statement.get("Condition"))
    for statement in statements(auditor, "Allow"):
        for action in as_list(statement["Action"]):
            assert (sorted(as_list(statement["Resource"])), statement.get("Condition")) == scope[action], action


def test_controller_policy_only_assumes_the_deployer_role():
    controller = load("controller.json")
    assert granted_actions(controller) == {"sts:AssumeRole"}
    assert [as_list(s["Resource"]) for s in statements(controller)] == [["arn:aws:iam::*:role/keyless-deployer"]]
    assert "sts:AssumeRole" not in granted_actions(load("deployer.json"))


def test_guardrails_policy_is_organizations_only_and_changes_only_our_policies():
    guardrails = load("guardrails.json")
    assert {a.split(":")[0] for a in granted_actions(guardrails)} == {"organizations"}
    assert not granted_actions(guardrails) & granted_actions(load("deployer.json"))
    for statement in statements(guardrails, "Allow"):
        if {"organizations:UpdatePolicy", "organizations:DeletePolicy"} & set(as_list(statement["Action"])):
            assert statement["Condition"] == {"StringEquals": {"aws:ResourceTag/keyless:managed-by": "keyless.aws"}}


@pytest.mark.parametrize("name", ["deployer.json", "auditor.json", "controller.json", "organizations.json",
                                  "guardrails.json"])
def test_policy_is_least_privilege_and_fits_a_managed_policy(name):
    policy = load(name)
    assert policy["Version"] == "2012-10-17"
    assert lint_policy(policy, "permissions") == []
    assert len(json.dumps(policy, separators=(",", ":"))) <= MANAGED_POLICY_QUOTA
    sids = [s["Sid"] for s in policy["Statement"]]
    assert len(sids) == len(set(sids)), sids
    for statement in statements(policy, "Allow"):
        assert not {"NotAction", "NotResource"} & set(statement), statement["Sid"]
        actions = as_list(statement["Action"])
        assert not [a for a in actions if "*" in a], statement["Sid"]
        if "*" in as_list(statement["Resource"]):
            # "*" only where AWS offers nothing narrower
            if len(actions) == 1 and statement.get("Condition") == CONDITIONED_STAR.get(actions[0], False):
                continue
            assert set(actions) <= NO_RESOURCE_TYPES, (statement["Sid"], sorted(set(actions) - NO_RESOURCE_TYPES))
    allowed = [a for s in statements(policy, "Allow") for a in as_list(s["Action"]) if a not in TWO_RESOURCE_TYPES]
    assert len(allowed) == len(set(allowed)), "an action is granted twice in %s" % name


def test_deployer_passes_roles_to_ec2_only_and_denies_what_the_collection_refuses():
    deployer = load("deployer.json")
    passing = [s for s in statements(deployer, "Allow") if "iam:PassRole" in as_list(s["Action"])]
    assert [s["Condition"] for s in passing] == [{"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}]
    deny = {s["Sid"]: s for s in statements(deployer, "Deny")}
    admin = deny["DenyAdministratorManagedPolicies"]
    assert as_list(admin["Action"]) == ["iam:AttachRolePolicy"]
    arns = admin["Condition"]["ArnLike"]["iam:PolicyARN"]
    assert sorted(a.rsplit("/", 1)[1] for a in arns) == sorted(ADMIN_MANAGED_POLICIES)  # lint.py's list
    assert "arn:aws:iam::*:role/*keyless-deployer" in as_list(deny["DenyChangesToTheDeployerItself"]["Resource"])


def test_the_deployer_changes_iam_only_under_the_keyless_path():
    """Reading may cover every role, profile and policy (an audit reads the instances' roles); anything that
    changes IAM covers only /keyless/ (what the collection manages), or is conditioned on a /keyless/ policy."""
    for statement in statements(load("deployer.json"), "Allow"):
        changes = [a for a in as_list(statement["Action"]) if a.startswith("iam:") and not READ_ONLY.match(a)]
        if not changes:
            continue
        resources = as_list(statement["Resource"])
        if all(":role/keyless/" in r or ":instance-profile/keyless/" in r or ":policy/keyless/" in r for r in resources):
            continue
        if resources == ["arn:aws:iam::*:user/*"] and set(changes) <= RETIRING_KEYS:
            # iam_access_key retires the keys of users the collection does not manage (issue 24): the key's status
            # and deletion, and only the tag that records when it deactivated a key
            if set(changes) & {"iam:TagUser", "iam:UntagUser"}:
                assert statement["Condition"] == {"ForAllValues:StringLike": {"aws:TagKeys": "keyless:key-inactive:*"}}
                assert set(changes) == {"iam:TagUser", "iam:UntagUser"}, statement
            continue
        assert statement["Condition"] == {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::*:policy/keyless/*"}}, statement
        assert set(changes) == {"iam:DetachUserPolicy", "iam:DetachGroupPolicy"}, statement


def test_readme_explains_every_statement():
    readme = (ROOT / "README.md").read_text()
    for name in ("deployer.json", "auditor.json", "controller.json", "organizations.json", "guardrails.json"):
        assert "policies/%s" % name in readme
    for statement in load("deployer.json")["Statement"] + load("guardrails.json")["Statement"]:
        assert "`%s`" % statement["Sid"] in readme, "README does not explain statement %s" % statement["Sid"]


def test_files_left_out_of_the_scan_call_nothing():
    for rel in api_calls.NOT_CALLS:
        path = ROOT / rel
        assert api_calls.client_services(files=[path]) == set(), rel
        calls = [m for m in operation_mentions(files=[path], services=api_calls.client_services())
                 if m.how != "string"]
        assert calls == [], calls


def test_the_scan_finds_a_new_call_in_every_form(tmp_path):
    """A module that starts calling an API the policy does not grant is caught, however it names it."""
    module = tmp_path / "plugins" / "modules" / "new_module.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "def run(ctx, plan):\n"
        "    ssm = ctx.client('ssm')\n"
        "    ssm.send_command(DocumentName='AWS-RunShellScript')\n"           # a method call
        "    ssm.get_paginator('list_commands')\n"                             # a paginator
        "    ssm.get_waiter('command_executed').wait()\n"                      # a waiter -> GetCommandInvocation
        "    for change in plan:\n"
        "        getattr(ssm, change.action)(**change.params)\n"
        "    return {'action': 'cancel_command', 'operation': 'DeleteDocument'}\n"  # plan actions, names
    )
    mentions = operation_mentions(root=tmp_path)
    found = needed_actions(mentions=mentions)
    assert set(found) >= {"ssm:SendCommand", "ssm:ListCommands", "ssm:GetCommandInvocation", "ssm:CancelCommand",
                          "ssm:DeleteDocument"}
    missing = gaps(found, granted_actions(load("deployer.json")))
    assert "ssm:SendCommand (plugins/modules/new_module.py:3)" in missing
