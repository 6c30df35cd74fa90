"""iam_instance_profile and iam_instance_profile_info under moto: create, rerun, check mode, diff, swap,
absent with associated instances (refused / force), validation before any AWS call."""

from __future__ import annotations

import json

import boto3
import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_NEW_ENTITY
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.module_utils.iam import profile_converge
from ansible_collections.keyless.aws.plugins.modules import iam_instance_profile, iam_instance_profile_info
from tests.support.fixtures import TRUST
from tests.support.module_runner import run_module


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        iam = boto3.client("iam", region_name="us-east-1")
        for role in ("RoleA", "RoleB"):
            iam.create_role(RoleName=role, AssumeRolePolicyDocument=TRUST)
        yield iam


def profile(args, **kw):
    args = dict(args)
    args.setdefault("wait", False)
    return run_module(iam_instance_profile.main, args, **kw)


def test_create_then_rerun_unchanged(aws):
    first = profile({"name": "P", "role": "RoleA", "tags": {"Application": "my-app"}, "wait": True})
    assert first.changed and not first.failed, first
    obj = first["instance_profile"]
    assert obj["arn"] == "arn:aws:iam::123456789012:instance-profile/P"
    assert obj["roles"] == ["RoleA"] and obj["role_arn"] == "arn:aws:iam::123456789012:role/RoleA"
    assert obj["tags"] == {"Application": "my-app"} and obj["instance_profile_id"]
    raw = aws.get_instance_profile(InstanceProfileName="P")["InstanceProfile"]
    assert [r["RoleName"] for r in raw["Roles"]] == ["RoleA"]
    assert raw["Tags"] == [{"Key": "Application", "Value": "my-app"}]

    second = profile({"name": "P", "role": "RoleA", "tags": {"Application": "my-app"}})
    assert not second.changed and second["changes"] == []
    assert second["instance_profile"] == obj


def test_check_mode_creates_nothing_and_predicts_arn(aws):
    result = profile({"name": "P", "path": "/app/", "role": "RoleA"}, check_mode=True, diff=True)
    assert result.changed
    assert result["instance_profile"]["arn"] == "arn:aws:iam::123456789012:instance-profile/app/P"
    assert result["instance_profile"]["roles"] == ["RoleA"]
    assert result["diff"] == {"before": {}, "after": {"instance_profile_name": "P", "path": "/app/", "role": "RoleA"}}
    assert aws.list_instance_profiles()["InstanceProfiles"] == []


def test_check_mode_with_role_not_created_yet_warns_and_predicts(aws):
    result = profile({"name": "P", "role": "Later"}, check_mode=True)
    assert result.changed and not result.failed
    assert result["instance_profile"]["role_arn"] == "arn:aws:iam::123456789012:role/Later"
    assert "no role of that name" in json.dumps(result.get("warnings"))


def test_missing_role_fails_before_any_change(aws, fake_time):
    result = profile({"name": "P", "role": "Nope"})
    assert result.failed and "role='Nope': IAM has no role of that name" in result["msg"]
    # read again, backing off, for as long as a just-created role may take to show up, before calling it missing
    assert fake_time.slept[:3] == [1, 2, 2] and sum(fake_time.slept) <= IAM_NEW_ENTITY.timeout
    assert aws.list_instance_profiles()["InstanceProfiles"] == []


def test_role_swap_removes_then_adds_and_reports_both(aws):
    profile({"name": "P", "role": "RoleA"})
    result = profile({"name": "P", "role": "arn:aws:iam::123456789012:role/RoleB"}, diff=True)
    assert result.changed
    actions = [a["action"] for a in result["changes"]]
    assert actions == ["remove_role_from_instance_profile", "add_role_to_instance_profile"]
    assert result["diff"]["before"]["role"] == "RoleA" and result["diff"]["after"]["role"] == "RoleB"
    raw = aws.get_instance_profile(InstanceProfileName="P")["InstanceProfile"]
    assert [r["RoleName"] for r in raw["Roles"]] == ["RoleB"]


def test_role_arn_of_another_path_is_refused(aws):
    result = profile({"name": "P", "role": "arn:aws:iam::123456789012:role/other/RoleA"})
    assert result.failed and "has ARN 'arn:aws:iam::123456789012:role/RoleA'" in result["msg"]


def test_empty_role_removes_and_tags_purge(aws):
    profile({"name": "P", "role": "RoleA", "tags": {"a": "1", "b": "2"}})
    result = profile({"name": "P", "role": "", "tags": {"a": "1"}})
    assert result.changed and result["instance_profile"]["roles"] == []
    raw = aws.get_instance_profile(InstanceProfileName="P")["InstanceProfile"]
    assert raw["Roles"] == [] and raw["Tags"] == [{"Key": "a", "Value": "1"}]


def test_path_change_is_refused(aws):
    profile({"name": "P", "path": "/a/"})
    result = profile({"name": "P", "path": "/b/"})
    assert result.failed and "cannot change the path" in result["msg"]


def _associated_instance(profile_name):
    ec2 = boto3.client("ec2", region_name="us-east-1")
    instance = ec2.run_instances(ImageId="ami-12c6146b", MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]
    ec2.associate_iam_instance_profile(InstanceId=instance, IamInstanceProfile={"Name": profile_name})
    return ec2, instance


def test_absent_refused_while_associated(aws):
    profile({"name": "P", "role": "RoleA"})
    _ec2, instance = _associated_instance("P")
    for check in (True, False):
        result = profile({"name": "P", "state": "absent"}, check_mode=check)
        assert result.failed and instance in result["msg"] and "force: true" in result["msg"]
    assert aws.get_instance_profile(InstanceProfileName="P")["InstanceProfile"]["Roles"]


def test_absent_force_disassociates_first(aws):
    profile({"name": "P", "role": "RoleA"})
    ec2, instance = _associated_instance("P")
    check = profile({"name": "P", "state": "absent", "force": True}, check_mode=True)
    assert check.changed and check["disassociated"] == [instance]
    assert ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"]

    result = profile({"name": "P", "state": "absent", "force": True, "wait": True})
    assert result.changed and result["disassociated"] == [instance]
    actions = [a["action"] for a in result["changes"]]
    assert actions == ["disassociate_iam_instance_profile", "remove_role_from_instance_profile",
                       "delete_instance_profile"]
    assert ec2.describe_iam_instance_profile_associations()["IamInstanceProfileAssociations"] == []
    assert aws.list_instance_profiles()["InstanceProfiles"] == []
    assert aws.get_role(RoleName="RoleA")  # the role itself is not touched


def test_absent_is_idempotent_and_diff_shows_what_goes(aws):
    profile({"name": "P", "role": "RoleA", "tags": {"t": "v"}})
    result = profile({"name": "P", "state": "absent"}, diff=True)
    assert result.changed
    assert result["diff"] == {"before": {"instance_profile_name": "P", "path": "/", "role": "RoleA",
                                         "tags": {"t": "v"}}, "after": {}}
    again = profile({"name": "P", "state": "absent"})
    assert not again.changed and again["instance_profile"] is None


@pytest.mark.parametrize("args, fragment", [
    ({"name": "x" * 129}, "name='xxx"),
    ({"name": "bad name"}, "name='bad name' contains ' '"),
    ({"name": "P", "path": "app"}, "path='app' is not a valid IAM path"),
    ({"name": "P", "role": "r" * 65}, "IAM allows at most 64"),
    ({"name": "P", "role": "arn:aws:iam::123456789012:user/bob"}, "is not a role ARN"),
    ({"name": "P", "role": "arn:aws:iam::12:role/x"}, "is not a valid ARN"),
    ({"name": "P", "tags": {"aws:x": "1"}}, "starts with 'aws:'"),
    ({"name": "P", "wait_timeout": 0}, "wait_timeout=0 is out of range"),
])
def test_validation_fails_before_any_aws_call(monkeypatch, args, fragment):
    def no_session(*a, **kw):
        raise AssertionError("an AWS session was created before validation finished")

    monkeypatch.setattr(connection.boto3.session, "Session", no_session)
    result = run_module(iam_instance_profile.main, args)
    assert result.failed and fragment in result["msg"], result["msg"]


def test_info_by_name_and_prefix_reads_tags(aws):
    profile({"name": "P1", "path": "/app/", "role": "RoleA", "tags": {"a": "1"}})
    profile({"name": "P2", "path": "/other/"})
    by_name = run_module(iam_instance_profile_info.main, {"name": "P1"})
    assert [p["instance_profile_name"] for p in by_name["instance_profiles"]] == ["P1"]
    assert by_name["instance_profiles"][0]["tags"] == {"a": "1"}
    assert by_name["instance_profiles"][0]["roles"] == ["RoleA"]
    by_prefix = run_module(iam_instance_profile_info.main, {"path_prefix": "/app/"})
    assert [p["instance_profile_name"] for p in by_prefix["instance_profiles"]] == ["P1"]
    everything = run_module(iam_instance_profile_info.main, {})
    assert [p["instance_profile_name"] for p in everything["instance_profiles"]] == ["P1", "P2"]
    assert run_module(iam_instance_profile_info.main, {"name": "Nope"})["instance_profiles"] == []
    bad = run_module(iam_instance_profile_info.main, {"path_prefix": "app"})
    assert bad.failed and "path_prefix='app'" in bad["msg"]


def test_profile_created_meanwhile_by_another_target_is_converged_not_failed(aws, monkeypatch):
    """Another target of this account created the profile (without its role yet) between this run's read and
    its CreateInstanceProfile: the run reads again and adds the role instead of failing on EntityAlreadyExists."""
    original = profile_converge.ip.observe_profile
    seen = []

    def observe_then_other_run_creates(iam, name, retry=None):
        got = original(iam, name, retry)
        if not seen:
            aws.create_instance_profile(InstanceProfileName=name)
        seen.append(got)
        return got

    monkeypatch.setattr(profile_converge.ip, "observe_profile", observe_then_other_run_creates)
    result = profile({"name": "P", "role": "RoleA"})
    assert result.changed and not result.failed, result
    assert [c["action"] for c in result["changes"]] == ["add_role_to_instance_profile"]
    assert seen[0] is None and seen[1] is not None
    raw = aws.get_instance_profile(InstanceProfileName="P")["InstanceProfile"]
    assert [r["RoleName"] for r in raw["Roles"]] == ["RoleA"]


def test_a_create_that_fails_otherwise_is_not_replanned(aws, monkeypatch):
    """Only EntityAlreadyExists on the first create means "someone else did it"; other errors fail as before."""
    monkeypatch.setattr(profile_converge.ip, "observe_profile", lambda iam, name, retry=None: None)
    aws.create_instance_profile(InstanceProfileName="P")
    calls = []
    original = profile_converge.apply_plan_or_replan

    def count(*args):
        calls.append(args)
        return original(*args)

    monkeypatch.setattr(profile_converge, "apply_plan_or_replan", count)
    result = profile({"name": "P", "role": "RoleA"})
    # the replan observes None again (patched), so its CreateInstanceProfile fails too: no endless loop
    assert result.failed and "EntityAlreadyExists" in result["msg"], result
    assert len(calls) == 1


def other_target_adds_after_the_read(aws, monkeypatch, role):
    """The profile exists without a role; another target adds `role` between this run's read and its own add."""
    aws.create_instance_profile(InstanceProfileName="P")
    original = profile_converge.ip.observe_profile
    seen = []

    def observe_then_other_run_adds(iam, name, retry=None):
        got = original(iam, name, retry)
        if not seen:
            aws.add_role_to_instance_profile(InstanceProfileName=name, RoleName=role)
        seen.append(got)
        return got

    monkeypatch.setattr(profile_converge.ip, "observe_profile", observe_then_other_run_adds)
    return seen


def test_role_added_meanwhile_by_another_target_is_not_a_failure(aws, monkeypatch):
    """AddRoleToInstanceProfile answers LimitExceeded (a profile holds one role): the run reads again and is done."""
    seen = other_target_adds_after_the_read(aws, monkeypatch, "RoleA")
    result = profile({"name": "P", "role": "RoleA"})
    assert not result.failed, result
    assert result["changes"] == [] and not result.changed  # the other target did it
    assert result["instance_profile"]["roles"] == ["RoleA"] and len(seen) >= 2  # read again after LimitExceeded


def test_another_role_added_meanwhile_is_swapped_for_the_declared_one(aws, monkeypatch):
    """If what the other run put there is not what this run wants, the replan converges it like any run would."""
    other_target_adds_after_the_read(aws, monkeypatch, "RoleB")
    result = profile({"name": "P", "role": "RoleA"})
    assert not result.failed and result.changed, result
    assert aws.get_instance_profile(InstanceProfileName="P")["InstanceProfile"]["Roles"][0]["RoleName"] == "RoleA"
