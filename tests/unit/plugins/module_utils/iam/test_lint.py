"""lint / trust_lint / escalation: IAM's matching, the catalogue, and the table of refused and accepted documents.

The table (tests/support/escalation_cases.py) also runs through the iam_role module in
tests/unit/plugins/modules/test_iam_role.py (no AWS call for a refusal, allow_admin lifts it).
"""

from __future__ import annotations

import botocore.session
import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam import escalation
from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import (
    action_matches,
    covers_every,
    covers_everything,
    grants_every_action,
    judge_permissions,
    lint_policy,
    resource_matches,
)
from ansible_collections.keyless.aws.plugins.module_utils.iam.trust_lint import judge_trust, restricts_principal
from tests.support.escalation_cases import ACCEPTED, OWN_ROLE, REFUSED, allow, doc, not_action

ESCALATION_KINDS = ("escalation", "self", "not_action", "admin")


def judge(kind, document, allow_admin=False):
    if kind == "trust":
        return judge_trust(document, allow_admin)
    return judge_permissions(document, allow_admin, own_role=OWN_ROLE)


def test_the_table_is_big_enough():
    assert len(REFUSED) >= 40 and len(ACCEPTED) >= 20
    ids = [case[0] for case in REFUSED + ACCEPTED]
    assert len(ids) == len(set(ids)), "case ids must be unique"


@pytest.mark.parametrize("case_id, kind, document, fragments", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused(case_id, kind, document, fragments):
    refusals = judge(kind, document)
    assert refusals, "%s was accepted" % case_id
    text = " | ".join(r.message for r in refusals)
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    for refusal in refusals:
        message = refusal.message
        assert message.startswith("statement "), message  # names the statement: Sid or index
        assert ("statement %r" % refusal.sid if refusal.sid else "statement #%d (no Sid)" % refusal.index) in message
        assert message.endswith("or set allow_admin: true to accept it"), message
        if refusal.kind in ("escalation", "self"):
            assert refusal.actions and refusal.resources and refusal.paths
            assert refusal.patterns or "(NotAction)" in message  # the pattern, or the NotAction it escapes
            for action in refusal.actions:  # every escalation action it reaches is named
                assert action in message, (action, message)
            for path in refusal.paths:
                assert '"%s"' % path in message
            assert "Scope it: " in message and ("Resource" in message or "every resource except" in message)
    assert judge(kind, document, allow_admin=True) == []


@pytest.mark.parametrize("case_id, kind, document", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted(case_id, kind, document):
    assert judge(kind, document) == [], case_id


def test_one_refusal_per_statement_and_statement_order():
    refusals = judge_permissions(doc(allow("iam:PassRole", Sid="A"), allow("s3:GetObject", "arn:aws:s3:::b/*"),
                                     allow(["iam:PutRolePolicy", "iam:AttachRolePolicy", "sts:AssumeRole"])))
    assert [(r.sid, r.index, r.kind) for r in refusals] == [("A", 0, "escalation"), (None, 2, "escalation")]
    assert refusals[1].actions == ["iam:AttachRolePolicy", "iam:PutRolePolicy", "sts:AssumeRole"]
    assert refusals[1].paths == ["managed policy attachment", "inline policy write", "role assumption"]


# ---- the message shapes, verbatim --------------------------------------------------------------------------

def test_message_escalation():
    [refusal] = judge_permissions(doc(allow("iam:Put*Policy", Sid="Writes")))
    assert refusal.message == (
        "statement 'Writes' allows 'iam:Put*Policy' on Resource '*', which reaches iam:PutUserPolicy, "
        "iam:PutGroupPolicy, iam:PutRolePolicy on every user, group and role of the account: privilege escalation "
        "to administrator access by \"inline policy write\" (Rhino Security Labs methods 10, 11, 12: put an inline "
        "policy granting anything on a role, user or group, the instance's own role included). Scope it: name the "
        "users, groups or roles it needs in Resource (for example arn:aws:iam::123456789012:user/deploy-bot) or "
        "drop these actions; or set allow_admin: true to accept it")


def test_message_self():
    [refusal] = judge_permissions(doc(allow("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/AppInstanceRole")),
                                  own_role=OWN_ROLE)
    assert refusal.message == (
        "statement #0 (no Sid) allows 'iam:PutRolePolicy' on Resource 'arn:aws:iam::123456789012:role/AppInstanceRole', "
        "which includes this role itself (role/AppInstanceRole): iam:PutRolePolicy on its own ARN lets the role change "
        "its own permissions or trust, privilege escalation to administrator access by \"inline policy write\" (Rhino "
        "Security Labs method 12: put an inline policy granting anything on a role, user or group, the instance's own "
        "role included). Scope it: leave this role out of Resource (a role must not manage itself) or drop the action; "
        "or set allow_admin: true to accept it")


def test_message_admin_and_not_action():
    [admin] = judge_permissions(doc(allow("*")))
    assert admin.message == (
        "statement #0 (no Sid) allows '*' on Resource '*': every action on every resource, that is administrator "
        "access, reaching every privilege escalation path (iam:PutRolePolicy, iam:AttachRolePolicy, iam:PassRole, "
        "...). Name the actions and resources the instance needs; or set allow_admin: true to accept it")
    [broad] = judge_permissions(doc(not_action(["iam:*", "sts:*", "lambda:*", "glue:*"])))
    assert broad.message == (
        "statement #0 (no Sid) allows every action except ['iam:*', 'sts:*', 'lambda:*', 'glue:*'] (NotAction) on "
        "Resource '*': that grants every other action of every service on every resource (administrator access but "
        "for the exceptions). List the actions it needs in Action instead; or set allow_admin: true to accept it")


def test_message_trust():
    [everyone] = judge_trust(doc({"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole", "Sid": "Open"}))
    assert everyone.message == (
        "statement 'Open' trusts Principal '*' without a Condition (anyone in any AWS account could assume the role): "
        "name the trusted principals or restrict them with a Condition (StringEquals on aws:PrincipalOrgID, "
        "aws:PrincipalAccount or aws:SourceAccount, or ArnLike on aws:PrincipalArn or aws:SourceArn naming an "
        "account); or set allow_admin: true to accept it")
    [web] = judge_trust(doc({"Effect": "Allow", "Action": "sts:AssumeRoleWithWebIdentity", "Principal": {
        "Federated": "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"}}))
    assert web.message == (
        "statement #0 (no Sid) trusts the web identity provider 'token.actions.githubusercontent.com' without a "
        "condition on token.actions.githubusercontent.com:sub that names the subjects (every identity the provider "
        "issues a token to, e.g. any GitHub repository, could assume the role): add StringEquals or StringLike on "
        "token.actions.githubusercontent.com:sub (for GitHub: repo:my-org/my-repo:ref:refs/heads/main); or set "
        "allow_admin: true to accept it")


def test_lint_policy_returns_the_messages():
    assert lint_policy(doc(allow("iam:PassRole")), "permissions") == [
        r.message for r in judge_permissions(doc(allow("iam:PassRole")))]
    own = doc(allow("iam:PutRolePolicy", "arn:aws:iam::123456789012:role/AppInstanceRole"))
    assert lint_policy(own, "permissions", own_role=OWN_ROLE)
    assert lint_policy(own, "permissions") == []  # another role's ARN: scoped


# ---- IAM's matching ----------------------------------------------------------------------------------------

IAM_OPERATIONS = botocore.session.get_session().get_service_model("iam").operation_names


@pytest.mark.parametrize("pattern, action, expected", [
    ("iam:Put*Policy", "iam:PutRolePolicy", True),
    ("iam:Put*Policy", "iam:PutRolePermissionsBoundary", False),
    ("IAM:putrolepolicy", "iam:PutRolePolicy", True),
    ("iam:Put?olePolicy", "iam:PutRolePolicy", True),
    ("iam:Put?olePolicy", "iam:PutUserPolicy", False),
    ("*", "iam:PassRole", True),
    ("*:*", "sts:AssumeRole", True),
    ("i*:Pass*", "iam:PassRole", True),
    ("iam:*", "sts:AssumeRole", False),
    ("iam:PassRole", "iam:PassRoles", False),
    ("iam:", "iam:PassRole", False),
    (None, "iam:PassRole", False),
])
def test_action_matches(pattern, action, expected):
    assert action_matches(pattern, action) is expected


@pytest.mark.parametrize("pattern", ["iam:**", "iam:?*", "IAM:*", "iam:*?"])
def test_equivalent_spellings_of_iam_star_grant_every_iam_action(pattern):
    for operation in IAM_OPERATIONS:
        assert action_matches(pattern, "iam:" + operation) is action_matches("iam:*", "iam:" + operation)


def test_every_catalogue_action_is_an_api_operation():
    session = botocore.session.get_session()
    for action, resource_type, path, sources in escalation.CATALOGUE:
        service, name = action.split(":")
        if action != "iam:PassRole":  # a permission only: no API operation of that name exists
            assert name in session.get_service_model(service).operation_names, action
        assert resource_type in escalation.RESOURCE_TYPES and path in escalation.PATHS
        assert sources and all(source in escalation.SOURCES and reference for source, reference in sources), action
    assert escalation.SELF_ESCALATION <= set(row[0] for row in escalation.CATALOGUE if row[1] == "role")
    assert set(row[2] for row in escalation.CATALOGUE) | {"administrator managed policy"} == set(escalation.PATHS)


@pytest.mark.parametrize("pattern, expected", [
    ("*", True), ("*:*", True), ("?*:*", True), ("**", True), ("*:?*", True),
    ("iam:*", False), ("*:Get*", False), ("s3:*", False), ("*:PassRole", False),
])
def test_grants_every_action(pattern, expected):
    assert grants_every_action(pattern) is expected


@pytest.mark.parametrize("pattern, resource_type, expected", [
    ("*", "role", True),
    ("arn:aws:iam::*:*", "role", True),
    ("arn:*:iam::123456789012:*", "user", True),
    ("arn:aws:iam::*:role/*", "role", True),
    ("arn:aws:iam::123456789012:role/*", "role", True),
    ("arn:aws:iam::*:role/?*", "role", True),
    ("arn:aws:iam::12345678901?:role/*", "role", True),
    ("arn:aws:iam::9*:role/*", "role", True),
    ("arn:aws-cn:iam::*:role/*", "role", True),
    ("arn:aws:iam::*:role/*", "user", False),
    ("arn:aws:iam::123456789012:role/app/*", "role", False),
    ("arn:aws:iam::123456789012:role/app-*", "role", False),
    ("arn:aws:iam::123456789012:role/AppRole", "role", False),
    ("arn:aws:iam::*:role/???", "role", False),
    ("arn:aws:iam::aws:policy/*", "policy", False),
    ("arn:aws:iam::123456789012:policy/*", "policy", True),
    ("arn:aws:lambda:*:*:function:*", "function", True),
    ("arn:aws:lambda:us-east-1:123456789012:function:*", "function", True),
    ("arn:aws:lambda:us-east-1:123456789012:function:app-*", "function", False),
    ("arn:aws:glue:eu-west-1:123456789012:devEndpoint/*", "devendpoint", True),
    ("arn:aws:s3:::*", "role", False),
    (42, "role", False),
])
def test_covers_every(pattern, resource_type, expected):
    assert covers_every(pattern, resource_type) is expected


@pytest.mark.parametrize("pattern, expected", [
    ("*", True), ("arn:*", True), ("arn:aws:*", True), ("arn:*:*:*:*:*", True),
    ("arn:aws:iam::*:*", False), ("arn:aws:s3:::*", False), ("arn:aws:*:us-east-1:*:*", False),
])
def test_covers_everything(pattern, expected):
    assert covers_everything(pattern) is expected


def test_resource_matching_is_case_sensitive():
    assert resource_matches("arn:aws:iam::*:role/App*", "arn:aws:iam::123456789012:role/AppRole")
    assert not resource_matches("arn:aws:iam::*:role/app*", "arn:aws:iam::123456789012:role/AppRole")


@pytest.mark.parametrize("condition, expected", [
    (None, False),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, True),
    ({"StringEquals": {"AWS:PRINCIPALORGID": "o-a1b2c3d4e5"}}, True),  # condition keys are case-insensitive
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/*"}}, True),
    ({"ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-*/*"}}, False),
    ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}, False),
    ({"StringLike": {"aws:PrincipalOrgID": "o-*"}}, False),
    ({"StringEquals": {"aws:PrincipalAccount": ["111122223333", "444455556666"]}}, True),
    ({"StringEquals": {"aws:PrincipalAccount": ["111122223333", ""]}}, False),
    ({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:111122223333:*"}}, True),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, True),
    ({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}, False),
    ({"Null": {"aws:PrincipalOrgID": "false"}}, False),
    ({"StringEquals": {"aws:RequestedRegion": "us-east-1"}}, False),
])
def test_restricts_principal(condition, expected):
    assert restricts_principal(condition) is expected
