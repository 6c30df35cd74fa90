"""lint_policy's messages on the documents of test_documents.py: what a permissions or trust document is refused
for, naming the statement, and what passes."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam.lint import lint_policy
from tests.unit.plugins.module_utils.iam.test_documents import S3, SQS, allow, doc, trust


@pytest.mark.parametrize("stmt,fragment", [
    (allow("*"), "'*' on Resource '*'"),
    (allow("*:*"), "'*:*' on Resource '*'"),
    (allow("iam:*"), "'iam:*' on Resource '*'"),
    (allow("IAM:*"), "'IAM:*' on Resource '*'"),  # the pattern as written; matched case-insensitively
    (allow(["s3:GetObject", "*"], ["arn:aws:s3:::b", "*"]), "'*' on Resource '*'"),
    ({"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}, "every action except"),
    ({"Effect": "Allow", "Action": "*", "NotResource": "arn:aws:s3:::b"}, "every resource except"),
])
def test_lint_permissions_problems(stmt, fragment):
    problems = lint_policy(doc(stmt), "permissions")
    assert len(problems) == 1 and fragment in problems[0], problems
    assert "statement #0 (no Sid)" in problems[0]
    assert lint_policy(doc(stmt), "permissions", allow_admin=True) == []


def test_lint_names_sid_and_index():
    problems = lint_policy(doc(S3, dict(allow("*"), Sid="Everything"), allow("iam:*")))
    assert len(problems) == 2
    assert "statement 'Everything'" in problems[0]
    assert "statement #2 (no Sid)" in problems[1]


@pytest.mark.parametrize("stmt", [
    S3, SQS,
    allow("s3:*", "arn:aws:s3:::b/*"),
    allow("iam:*", "arn:aws:iam::123456789012:role/app/*"),
    allow("iam:GetRole"),
    dict(allow("*"), Effect="Deny"),
    {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"},
])
def test_lint_permissions_clean(stmt):
    assert lint_policy(doc(stmt), "permissions") == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["123456789012", "*"]}, ["*"]])
def test_lint_trust_everyone(principal):
    problems = lint_policy(doc(trust(principal)), "trust")
    assert len(problems) == 1 and "Principal '*' without a Condition" in problems[0]
    assert lint_policy(doc(trust(principal)), "trust", allow_admin=True) == []


def test_lint_trust_not_principal():
    stmt = {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "sts:AssumeRole"}
    assert "NotPrincipal" in lint_policy(doc(stmt), "trust")[0]


@pytest.mark.parametrize("stmt", [
    trust({"Service": "ec2.amazonaws.com"}),
    trust({"AWS": "arn:aws:iam::123456789012:root"}),
    trust("*", Condition={"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}),
    dict(trust("*"), Effect="Deny"),
])
def test_lint_trust_clean(stmt):
    assert lint_policy(doc(stmt), "trust") == []


def test_lint_kind_checked():
    with pytest.raises(ValueError):
        lint_policy(doc(S3), "resource")
