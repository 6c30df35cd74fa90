"""Fixtures shared by the module tests: one botocore loader for every module run, and the AWS operations a
test's module made."""

import boto3
import botocore.loaders
import botocore.session
import moto
import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws import retries
from ansible_collections.keyless.aws.plugins.module_utils.iam import roles

from tests.support.fixtures import record_api_calls

_LOADER = botocore.loaders.create_loader()


@pytest.fixture
def shared_botocore_loader(monkeypatch):
    """Every module run builds a new boto3 Session; share one loader so the JSON service models are parsed once
    per test session instead of once per run (about 1 s for EC2 each time; a file that runs its module a hundred
    times asks for it with pytestmark = pytest.mark.usefixtures("shared_botocore_loader"))."""
    monkeypatch.setattr(botocore.session, "create_loader", lambda *a, **k: _LOADER)


@pytest.fixture
def api_calls(monkeypatch):
    """Every AWS operation any botocore client makes in-process, in order."""
    return record_api_calls(monkeypatch)


@pytest.fixture(scope="module")
def moto_iam():
    """One mock for the module: loading AWS's ~1,000 managed policies takes seconds, so do it once."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        with moto.mock_aws():
            yield boto3.client("iam", region_name="us-east-1")


def _clean(client):
    """Delete every role, instance profile and customer policy, so each test starts from an empty account."""
    for profile in client.list_instance_profiles()["InstanceProfiles"]:
        for role in profile["Roles"]:
            client.remove_role_from_instance_profile(InstanceProfileName=profile["InstanceProfileName"],
                                                     RoleName=role["RoleName"])
        client.delete_instance_profile(InstanceProfileName=profile["InstanceProfileName"])
    for role in client.list_roles()["Roles"]:
        name = role["RoleName"]
        for p in client.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            client.detach_role_policy(RoleName=name, PolicyArn=p["PolicyArn"])
        for p in client.list_role_policies(RoleName=name)["PolicyNames"]:
            client.delete_role_policy(RoleName=name, PolicyName=p)
        client.delete_role(RoleName=name)
    for policy in client.list_policies(Scope="Local")["Policies"]:
        client.delete_policy(PolicyArn=policy["Arn"])


@pytest.fixture
def iam_account(moto_iam, monkeypatch):
    """An empty IAM account under moto for the test (and after it), IAM's settling waits not slept."""
    monkeypatch.setattr(roles, "READY_DELAY", 0)
    monkeypatch.setattr(retries, "_sleep", lambda s: None)
    _clean(moto_iam)
    yield moto_iam
    _clean(moto_iam)
