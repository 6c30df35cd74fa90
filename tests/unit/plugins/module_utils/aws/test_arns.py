"""ARN parsing and IAM name/path validation."""

from __future__ import annotations

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import (
    parse_arn,
    validate_arn,
    validate_iam_name,
    validate_iam_path,
)


def test_parse_role_arn_with_path():
    assert parse_arn("arn:aws:iam::123456789012:role/app/web/Role1") == {
        "partition": "aws", "service": "iam", "region": "", "account_id": "123456789012",
        "resource": "role/app/web/Role1", "resource_type": "role", "resource_id": "app/web/Role1",
        "name": "Role1", "path": "/app/web/"}


@pytest.mark.parametrize("arn,partition,account,rtype,name", [
    ("arn:aws-cn:iam::aws:policy/AdministratorAccess", "aws-cn", "aws", "policy", "AdministratorAccess"),
    ("arn:aws-us-gov:iam::123456789012:instance-profile/p", "aws-us-gov", "123456789012", "instance-profile", "p"),
    ("arn:aws-iso-b:iam::123456789012:role/r", "aws-iso-b", "123456789012", "role", "r"),
    ("arn:aws:s3:::my-app-data", "aws", "", None, "my-app-data"),
    ("arn:aws:sqs:us-east-1:123456789012:app-queue", "aws", "123456789012", None, "app-queue"),
    ("arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/db", "aws", "123456789012", "secret", "db"),
])
def test_parse_partitions_and_services(arn, partition, account, rtype, name):
    parsed = parse_arn(arn)
    assert (parsed["partition"], parsed["account_id"], parsed["resource_type"], parsed["name"]) == \
        (partition, account, rtype, name)


@pytest.mark.parametrize("value", [None, 5, "", "arn:aws:iam", "arn:gcp:iam::123456789012:role/x",
                                   "arn:aws:iam::12345:role/x", "arn:aws:iam::123456789012:", "role/x"])
def test_parse_rejects(value):
    assert parse_arn(value) is None


def test_validate_arn():
    assert validate_arn("arn:aws:iam::123456789012:policy/Boundary", "permissions_boundary", "iam", "policy") is None
    msg = validate_arn("not-an-arn", "permissions_boundary", "iam", "policy")
    assert "permissions_boundary='not-an-arn'" in msg and "arn:<partition>:iam" in msg
    msg = validate_arn("arn:aws:s3:::bucket", "permissions_boundary", "iam", "policy")
    assert "service 's3'" in msg
    msg = validate_arn("arn:aws:iam::123456789012:role/x", "permissions_boundary", "iam", "policy")
    assert "not a policy ARN" in msg
    assert validate_arn("arn:aws:sqs:us-east-1:123456789012:q", "queue") is None


@pytest.mark.parametrize("value", ["r", "app-role", "a+b=c,d.e@f_g-h", "x" * 64])
def test_iam_name_ok(value):
    assert validate_iam_name(value, "name") is None


@pytest.mark.parametrize("value,fragment", [
    ("", "empty"), (None, "empty"), ("x" * 65, "65 characters"), ("a b", "contains ' '"),
    ("a/b", "contains '/'"), ("rôle", "contains 'ô'"), ("a*b", "contains '*'"),
])
def test_iam_name_errors(value, fragment):
    msg = validate_iam_name(value, "name")
    assert msg.startswith("name=") and fragment in msg


def test_iam_name_max_len():
    assert validate_iam_name("x" * 100, "name", max_len=128) is None
    assert "at most 128" in validate_iam_name("x" * 129, "name", max_len=128)


@pytest.mark.parametrize("value", ["/", "/app/", "/app/web/", "/a-b_c.d/"])
def test_iam_path_ok(value):
    assert validate_iam_path(value, "path") is None


@pytest.mark.parametrize("value", ["", "app", "/app", "app/", "/a b/", "//", "/a//b/", "/" + "a" * 512 + "/", None])
def test_iam_path_errors(value):
    msg = validate_iam_path(value, "path")
    assert msg and msg.startswith("path=")
