"""The one error boundary: every failure leaves in one message shape, and a failure after a change says so."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, NoCredentialsError

from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, InputError, PlanError, TaskFailure
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import run_module
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import Plan, apply_plan


class Exit(Exception):
    pass


class FakeModule:
    def __init__(self):
        self.result = None

    def exit_json(self, **kwargs):
        self.result = dict(kwargs, failed=False)
        raise Exit()

    def fail_json(self, msg, **kwargs):
        self.result = dict(kwargs, msg=msg, failed=True)
        raise Exit()


def boundary(work):
    module = FakeModule()
    with pytest.raises(Exit):
        run_module(module, work)
    return module.result


class Iam:
    """create_role and put_role_policy succeed, attach_role_policy fails like AWS does."""

    def __init__(self):
        self.calls = []

    def create_role(self, **kwargs):
        self.calls.append("create_role")
        return {"Role": {}}

    def put_role_policy(self, **kwargs):
        self.calls.append("put_role_policy")
        return {}

    def attach_role_policy(self, **kwargs):
        self.calls.append("attach_role_policy")
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "AttachRolePolicy")


def plan():
    return (Plan().add("CreateRole", "r", {"RoleName": "r"}).add("PutRolePolicy", "r/p", {"RoleName": "r"})
            .add("AttachRolePolicy", "arn:aws:iam::aws:policy/X", {"RoleName": "r"})
            .add("TagRole", "r", {"RoleName": "r"}))


def test_success_exits_with_the_result():
    assert boundary(lambda progress: {"changed": False, "x": 1}) == {"changed": False, "x": 1, "failed": False}


def test_failure_after_changes_reports_them_and_what_was_not_done():
    iam = Iam()
    result = boundary(lambda progress: apply_plan(lambda service: iam, plan(), progress))
    assert result["failed"] and result["changed"] is True
    assert [c["operation"] for c in result["changes"]] == ["CreateRole", "PutRolePolicy"]
    assert [c["operation"] for c in result["not_done"]] == ["AttachRolePolicy", "TagRole"]
    assert result["msg"] == (
        "AttachRolePolicy failed for arn:aws:iam::aws:policy/X; AccessDenied: not allowed; what to do: the "
        "credentials lack this permission; grant it (see the module's notes) or use another profile/role; "
        "already done: CreateRole r, PutRolePolicy r/p; not done: AttachRolePolicy arn:aws:iam::aws:policy/X, "
        "TagRole r; rerun the task to finish (a rerun starts from what AWS has now)")
    assert result["error"] == {"operation": "AttachRolePolicy", "code": "AccessDenied", "message": "not allowed",
                               "resource": "arn:aws:iam::aws:policy/X"}
    assert iam.calls == ["create_role", "put_role_policy", "attach_role_policy"]


def test_failure_before_any_change_is_not_changed():
    def work(progress):
        raise AwsCallError("GetRole", "AccessDenied", "no", "r")
    result = boundary(work)
    assert result["changed"] is False and "changes" not in result and result["msg"].startswith("GetRole failed for r")


@pytest.mark.parametrize("exc, expected", [
    (InputError(["name='' is empty", None, "tags must be a dict"]), "invalid input: name='' is empty; tags must be a dict"),
    (PlanError("path='/x/': IAM cannot move a role"), "path='/x/': IAM cannot move a role"),
    (ClientError({"Error": {"Code": "Throttling", "Message": "Rate exceeded"}}, "GetRole"),
     "GetRole failed; Throttling: Rate exceeded"),
    (NoCredentialsError(), "AWS call failed; NoCredentialsError: Unable to locate credentials; what to do: no AWS "
                           "credentials were found"),
])
def test_every_failure_has_one_shape(exc, expected):
    def work(progress):
        raise exc
    result = boundary(work)
    assert result["failed"] and result["msg"].startswith(expected)
    if isinstance(exc, InputError):
        assert result["errors"] == ["name='' is empty", "tags must be a dict"]


def test_task_failure_carries_its_result():
    def work(progress):
        progress.mark_changed()
        raise TaskFailure("1 of 2 instances failed", {"instances": [1, 2], "changed": True})
    result = boundary(work)
    assert result == {"msg": "1 of 2 instances failed", "instances": [1, 2], "changed": True, "failed": True}
