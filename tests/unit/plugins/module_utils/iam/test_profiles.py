"""Instance profiles: the pure plan (create, add, swap, remove, tags, path), predict, absent, wait logic."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import name_of
from ansible_collections.keyless.aws.plugins.module_utils.iam import profiles as ip
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError, PlanError
from ansible_collections.keyless.aws.plugins.module_utils.aws.retries import IAM_NEW_ENTITY

ARN = "arn:aws:iam::123456789012:instance-profile/P"


def profile(roles=(), tags=None, path="/"):
    return {"arn": ARN, "instance_profile_name": "P", "instance_profile_id": "AIPA1", "path": path,
            "roles": list(roles), "role_arn": ("arn:aws:iam::123456789012:role/" + roles[0]) if roles else None,
            "tags": dict(tags or {}), "create_date": "2026-12-01T00:00:00+00:00"}


def want(**kw):
    base = {"name": "P", "path": None, "role": None, "tags": None, "purge_tags": True}
    base.update(kw)
    return base


def test_create_with_role_and_tags():
    plan = ip.plan_present(want(role="R", tags={"b": 2, "a": "1"}), None)
    assert plan.actions() == ["create_instance_profile", "add_role_to_instance_profile"]
    create = plan.changes[0].params
    assert create == {"InstanceProfileName": "P", "Path": "/",
                      "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]}
    assert plan.changes[1].params == {"InstanceProfileName": "P", "RoleName": "R"}


def test_create_without_role_or_tags_uses_path():
    plan = ip.plan_present(want(path="/app/"), None)
    assert plan.actions() == ["create_instance_profile"]
    assert plan.changes[0].params == {"InstanceProfileName": "P", "Path": "/app/"}


def test_unchanged_profile_plans_nothing():
    assert not ip.plan_present(want(role="R", tags={"a": "1"}, path="/"), profile(["R"], {"a": "1"})).changed


def test_role_not_managed_leaves_role_alone():
    assert not ip.plan_present(want(), profile(["R"])).changed


def test_add_role_to_empty_profile():
    plan = ip.plan_present(want(role="R"), profile())
    assert plan.actions() == ["add_role_to_instance_profile"]


def test_swap_is_remove_then_add():
    plan = ip.plan_present(want(role="New"), profile(["Old"]))
    assert plan.actions() == ["remove_role_from_instance_profile", "add_role_to_instance_profile"]
    assert plan.changes[0].params["RoleName"] == "Old"
    assert plan.changes[1].params["RoleName"] == "New"
    assert (plan.changes[1].before, plan.changes[1].after) == ("Old", "New")


def test_empty_role_removes():
    plan = ip.plan_present(want(role=""), profile(["Old"]))
    assert plan.actions() == ["remove_role_from_instance_profile"]
    assert not ip.plan_present(want(role=""), profile()).changed


def test_path_is_immutable():
    with pytest.raises(ip.ProfileError, match=r"path='/b/'.*'/a/'.*state=absent"):
        ip.plan_present(want(path="/b/"), profile(path="/a/"))


def test_tags_purge_and_keep():
    current = profile(tags={"keep": "1", "old": "x", "aws:cloudformation:stack-name": "s"})
    plan = ip.plan_present(want(tags={"keep": "1", "new": "2"}), current)
    assert plan.actions() == ["tag_instance_profile", "untag_instance_profile"]
    assert plan.changes[0].params["Tags"] == [{"Key": "new", "Value": "2"}]
    assert plan.changes[1].params["TagKeys"] == ["old"]  # aws: keys are never removed
    plan = ip.plan_present(want(tags={"keep": "1"}), current, purge_tags=False)
    assert not plan.changed


def test_predict_new_profile_has_arn_from_account():
    obj = ip.predict(want(role="R", path="/app/", tags={"a": 1}), None, "aws-cn", "210987654321",
                     "arn:aws-cn:iam::210987654321:role/R")
    assert obj["arn"] == "arn:aws-cn:iam::210987654321:instance-profile/app/P"
    assert obj["roles"] == ["R"] and obj["role_arn"] == "arn:aws-cn:iam::210987654321:role/R"
    assert obj["tags"] == {"a": "1"} and obj["instance_profile_id"] is None


def test_predict_swap_and_tags_on_existing():
    current = profile(["Old"], {"x": "1"})
    obj = ip.predict(want(role="New", tags={"y": "2"}), current, None, None, "arn:aws:iam::123456789012:role/New")
    assert obj["roles"] == ["New"] and obj["role_arn"].endswith(":role/New")
    assert obj["tags"] == {"y": "2"}
    assert current["roles"] == ["Old"] and current["tags"] == {"x": "1"}  # not mutated


def test_absent_order_and_refusal():
    assoc = [{"association_id": "iip-assoc-1", "instance_id": "i-1", "state": "associated"}]
    with pytest.raises(ip.ProfileError, match=r"still associated with 1 instance\(s\): i-1.*force: true"):
        ip.plan_absent(profile(["R"]), assoc)
    plan = ip.plan_absent(profile(["R"]), assoc, force=True)
    assert plan.actions() == ["disassociate_iam_instance_profile", "remove_role_from_instance_profile",
                              "delete_instance_profile"]
    assert plan.changes[0].params == {"AssociationId": "iip-assoc-1"}
    assert ip.plan_absent(profile(), []).actions() == ["delete_instance_profile"]
    assert not ip.plan_absent(None, []).changed


def test_refusal_lists_at_most_twenty_instances():
    assoc = [{"association_id": "a%d" % i, "instance_id": "i-%02d" % i, "state": "associated"} for i in range(25)]
    with pytest.raises(ip.ProfileError, match="and 5 more"):
        ip.plan_absent(profile(), assoc)


def test_role_name_of_arn():
    assert name_of("arn:aws:iam::123456789012:role/app/web") == "web"
    assert name_of("web") == "web"
    assert name_of("") == ""


def test_declared_for_diff():
    assert ip.declared(None, want()) == {}
    assert ip.declared(profile(["R"], {"a": "1"}), want(role="R", tags={})) == {
        "instance_profile_name": "P", "path": "/", "role": "R", "tags": {"a": "1"}}
    assert ip.declared(profile(), want(role="")) == {"instance_profile_name": "P", "path": "/", "role": ""}


class FakeIam:
    """get_instance_profile answers from a script of role lists (None = NoSuchEntity)."""

    def __init__(self, script):
        self.script = list(script)
        self.reads = 0

    def get_instance_profile(self, InstanceProfileName):
        self.reads += 1
        roles = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        return {"InstanceProfile": {"Arn": ARN, "InstanceProfileName": InstanceProfileName, "Path": "/",
                                    "Roles": [{"RoleName": r, "Arn": "arn:aws:iam::1:role/" + r} for r in roles]}}


def test_wait_needs_consecutive_reads_with_the_role(fake_time):
    iam = FakeIam([[], ["R"], [], ["R"], ["R"], ["R"]])
    obj = ip.wait_profile_ready(iam, "P", consecutive=3, timeout=60, role="R")
    assert obj["roles"] == ["R"]
    assert iam.reads == 6  # the read without the role reset the count


def test_wait_times_out_naming_the_profile(fake_time):
    iam = FakeIam([[]])
    with pytest.raises(AwsCallError, match=r"instance profile P with role R was not ready on 3 reads in a row within 5s"):
        ip.wait_profile_ready(iam, "P", timeout=5, role="R")


def test_wait_without_role_counts_any_read(fake_time):
    iam = FakeIam([["X"]])
    ip.wait_profile_ready(iam, "P", consecutive=3, timeout=60)
    assert iam.reads == 3


def _client_error(code):
    from botocore.exceptions import ClientError  # pylint: disable=import-outside-toplevel
    return ClientError({"Error": {"Code": code, "Message": code}}, "GetRole")


class FlakyRoles:
    """NoSuchEntity for the first `misses` reads, then the role (IAM propagating a new role)."""

    def __init__(self, misses, code="NoSuchEntity"):
        self.misses = misses
        self.code = code
        self.calls = 0

    def get_role(self, RoleName):
        self.calls += 1
        if self.calls <= self.misses:
            raise _client_error(self.code)
        return {"Role": {"RoleName": RoleName, "Arn": "arn:aws:iam::1:role/" + RoleName}}


def test_role_ref_rides_out_propagation(fake_time):
    iam = FlakyRoles(misses=2)
    assert ip.role_ref(iam, "R", retry=IAM_NEW_ENTITY)["arn"] == "arn:aws:iam::1:role/R"
    assert iam.calls == 3 and fake_time.slept == [1, 2]
    assert ip.role_ref(FlakyRoles(misses=99), "R", retry=IAM_NEW_ENTITY) is None
    assert fake_time.now <= 1 + 2 + IAM_NEW_ENTITY.timeout
    assert ip.role_ref(FlakyRoles(misses=1), "R") is None  # no retry: the first answer counts


def test_role_ref_other_errors_are_not_retried(fake_time):
    iam = FlakyRoles(misses=1, code="AccessDenied")
    with pytest.raises(AwsCallError, match="GetRole failed for R; AccessDenied"):
        ip.role_ref(iam, "R", retry=IAM_NEW_ENTITY)
    assert iam.calls == 1


# ---- resolve_instance_profile: the profile an option names

WANT = "arn:aws:iam::123456789012:instance-profile/App"


def iam_client():
    return boto3.client("iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def profile_response(roles=("AppRole",), arn=WANT):
    return {"InstanceProfile": {"InstanceProfileName": "App", "InstanceProfileId": "AIPAEXAMPLEEXAMPLE01",
                                "Arn": arn, "Path": "/", "CreateDate": "2026-01-01T00:00:00Z",
                                "Roles": [{"RoleName": r, "RoleId": "AROAEXAMPLEEXAMPLE01",
                                           "Arn": "arn:aws:iam::123456789012:role/%s" % r, "Path": "/",
                                           "CreateDate": "2026-01-01T00:00:00Z"} for r in roles]}}


def test_resolve_existing_profile():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(), {"InstanceProfileName": "App"})
        got = ip.resolve_instance_profile(iam, "App")
    assert got == {"name": "App", "arn": WANT, "roles": ["AppRole"], "exists": True, "given_as": "name"}


def test_resolve_by_arn_must_match():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(), {"InstanceProfileName": "App"})
        with pytest.raises(PlanError, match="ARN"):
            ip.resolve_instance_profile(iam, "arn:aws:iam::210987654321:instance-profile/App")


def test_resolve_missing_profile_fails_outside_check_mode():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_client_error("get_instance_profile", "NoSuchEntity", "not found")
        with pytest.raises(AwsCallError, match="does not exist"):
            ip.resolve_instance_profile(iam, "App")


def test_resolve_missing_profile_is_predicted_in_check_mode():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_client_error("get_instance_profile", "NoSuchEntity", "not found")
        got = ip.resolve_instance_profile(
            iam, "App", check_mode=True, predict_arn=lambda n: "arn:aws:iam::123456789012:instance-profile/" + n)
    assert got == {"name": "App", "arn": WANT, "roles": [], "exists": False, "given_as": "name"}


def test_resolve_profile_without_role():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(roles=()))
        with pytest.raises(PlanError, match="holds no role"):
            ip.resolve_instance_profile(iam, "App")
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(roles=()))
        assert ip.resolve_instance_profile(iam, "App", check_mode=True)["roles"] == []


def test_resolve_other_error():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_client_error("get_instance_profile", "AccessDenied", "no")
        with pytest.raises(AwsCallError, match="AccessDenied"):
            ip.resolve_instance_profile(iam, "App", check_mode=True)
