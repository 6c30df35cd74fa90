"""iam_role_info under moto: tags really read (ListRoles has none), policies and instance profiles."""

from __future__ import annotations

import json

import boto3
import moto
import pytest

from ansible_collections.keyless.aws.plugins.modules import iam_role_info
from tests.support.fixtures import EC2_TRUST as TRUST
from tests.support.module_runner import run_module

INLINE = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::my-app-data"}]}


@pytest.fixture
def aws():
    with moto.mock_aws():
        client = boto3.client("iam", region_name="us-east-1")
        policy = client.create_policy(PolicyName="Read", PolicyDocument=json.dumps(INLINE))["Policy"]["Arn"]
        client.create_role(RoleName="Web", Path="/app/", AssumeRolePolicyDocument=json.dumps(TRUST),
                           Description="web", Tags=[{"Key": "app", "Value": "my-app"}])
        client.attach_role_policy(RoleName="Web", PolicyArn=policy)
        client.put_role_policy(RoleName="Web", PolicyName="AppAccess", PolicyDocument=json.dumps(INLINE))
        client.create_instance_profile(InstanceProfileName="WebProfile")
        client.add_role_to_instance_profile(InstanceProfileName="WebProfile", RoleName="Web")
        client.create_role(RoleName="Other", AssumeRolePolicyDocument=json.dumps(TRUST))
        yield client, policy


def test_by_name_reads_everything(aws):
    policy = aws[1]
    result = run_module(iam_role_info.main, {"name": "Web"})
    assert not result.changed and not result.failed
    (role,) = result["roles"]
    assert role["arn"] == "arn:aws:iam::123456789012:role/app/Web"
    assert role["path"] == "/app/" and role["description"] == "web"
    assert role["tags"] == {"app": "my-app"}
    assert role["managed_policies"] == [policy]
    assert role["inline_policies"] == {"AppAccess": INLINE}
    assert role["assume_role_policy_document"] == TRUST
    assert [p["instance_profile_name"] for p in role["instance_profiles"]] == ["WebProfile"]
    assert role["create_date"]


def test_by_path_prefix_reads_tags_too(aws):
    result = run_module(iam_role_info.main, {"path_prefix": "/app/"})
    assert [r["role_name"] for r in result["roles"]] == ["Web"]
    assert result["roles"][0]["tags"] == {"app": "my-app"}  # ListRoles returns no tags; we read them


def test_default_prefix_lists_all(aws):
    assert [r["role_name"] for r in run_module(iam_role_info.main, {})["roles"]] == ["Other", "Web"]


def test_missing_name_is_empty(aws):
    assert run_module(iam_role_info.main, {"name": "Nope"})["roles"] == []


@pytest.mark.parametrize("args,fragment", [({"name": "bad name"}, "name='bad name'"),
                                           ({"path_prefix": "app"}, "path_prefix='app'")])
def test_validation_before_any_call(monkeypatch, args, fragment):
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *a, **k: pytest.fail("client created"))
    result = run_module(iam_role_info.main, args)
    assert result.failed and fragment in result["msg"]
