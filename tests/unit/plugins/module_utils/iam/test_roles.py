"""roles.py and role_plan's apply against clients that answer like IAM right after a change (propagation,
settling): the waits, the unique-id ARN read, the retries of the plan's calls."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from ansible_collections.keyless.aws.plugins.module_utils.aws import retries
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import Progress
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import apply_plan
from ansible_collections.keyless.aws.plugins.module_utils.iam import documents, role_plan, roles

CW = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"


class FlakyIam:
    """GetRole answers from a script of outcomes (True = found, False = NoSuchEntity)."""

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)
        self.reads = 0

    def get_role(self, RoleName):
        self.reads += 1
        if not self.outcomes.pop(0):
            raise ClientError({"Error": {"Code": "NoSuchEntity", "Message": "not yet"}}, "GetRole")
        return {"Role": {"RoleName": RoleName, "Arn": "arn:aws:iam::123456789012:role/" + RoleName}}


@pytest.fixture
def no_sleep(monkeypatch):
    slept = []
    monkeypatch.setattr(retries, "_sleep", slept.append)
    return slept


def test_wait_counts_consecutive_reads(no_sleep):
    client = FlakyIam([True, False, True, True, True])
    assert roles.wait_role_ready(client, "r", consecutive=3, timeout=30)
    assert client.reads == 5  # ok (1), fail (0), ok, ok, ok (3)


def test_a_unique_id_in_arn_is_read_again_not_trusted(no_sleep):
    """Right after CreateRole, IAM may answer GetRole with the role's unique id (AROA...) in Arn
    (terraform-provider-aws): the read is repeated until Arn is an ARN."""
    answers = [{"RoleName": "r", "Arn": "AROAEXAMPLEUNIQUEID01"}, {"RoleName": "r", "Arn": "AROAEXAMPLEUNIQUEID01"},
               {"RoleName": "r", "Arn": "arn:aws:iam::123456789012:role/r"}]

    class Fresh:
        def get_role(self, RoleName):
            return {"Role": answers.pop(0)}
    assert roles.get_role(Fresh(), "r")["Arn"] == "arn:aws:iam::123456789012:role/r"
    assert not answers and len(no_sleep) == 2


def test_wait_times_out(monkeypatch, no_sleep):
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(retries, "_clock", lambda: next(clock))
    with pytest.raises(AwsCallError) as err:
        roles.wait_role_ready(FlakyIam([False] * 100), "r", consecutive=3, timeout=25)
    assert "role r was not ready on 3 reads in a row within 25s" in str(err.value)


class SettlingIam:
    """Answers NoSuchEntity / DeleteConflict a few times, like IAM right after a change."""

    def __init__(self, failures):
        self.failures = dict(failures)  # method -> [codes to raise first]
        self.calls = []

    def __getattr__(self, method):
        def op(**kwargs):
            self.calls.append(method)
            pending = self.failures.get(method) or []
            if pending:
                raise ClientError({"Error": {"Code": pending.pop(0), "Message": "settling"}}, method)
            return {}
        return op


def apply(client, plan):
    progress = Progress()
    apply_plan(lambda service: client, plan, progress)
    return progress


def test_apply_retries_no_such_entity_only_after_create(no_sleep):
    plan = role_plan.plan_role({"state": "present", "name": "r", "assume_role_policy_document": documents.trust_policy_for_services(
        ["ec2.amazonaws.com"]), "managed_policies": [CW]}, None)
    client = SettlingIam({"attach_role_policy": ["NoSuchEntity", "NoSuchEntity"]})
    assert [c.operation for c in apply(client, plan).done] == ["CreateRole", "AttachRolePolicy"]
    assert client.calls == ["create_role", "attach_role_policy", "attach_role_policy", "attach_role_policy"]

    existing = {"arn": "arn:aws:iam::123456789012:role/r", "role_name": "r", "managed_policies": [],
                "inline_policies": {}, "tags": {}, "instance_profiles": []}
    plan = role_plan.plan_role({"state": "present", "name": "r", "managed_policies": [CW]}, existing)
    client = SettlingIam({"attach_role_policy": ["NoSuchEntity"]})
    with pytest.raises(AwsCallError) as err:
        apply(client, plan)
    assert err.value.code == "NoSuchEntity" and client.calls == ["attach_role_policy"]


def test_apply_delete_retries_delete_conflict_and_ignores_already_gone(no_sleep):
    observed = {"role_name": "r", "managed_policies": [CW], "inline_policies": {"P": {}},
                "instance_profiles": [{"instance_profile_name": "IP"}]}
    client = SettlingIam({"delete_role": ["DeleteConflict"], "detach_role_policy": ["NoSuchEntity"]})
    apply(client, role_plan.plan_role({"state": "absent"}, observed))
    assert client.calls == ["remove_role_from_instance_profile", "detach_role_policy", "delete_role_policy",
                            "delete_role", "delete_role"]
