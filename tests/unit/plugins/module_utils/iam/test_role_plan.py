"""plan_role / predict_role / role_desired: pure tests, no AWS."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.aws.arns import iam_arn
from ansible_collections.keyless.aws.plugins.module_utils.iam import role_params, role_plan, roles
from tests.support.fixtures import EC2_TRUST

APP = {"Version": "2012-10-17", "Statement": [
    {"Sid": "S3", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": "arn:aws:s3:::my-app-data/*"}]}
CW = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
SSM = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def desired(**kw):
    out = {"state": "present", "name": "AppRole", "path": None, "description": None, "max_session_duration": None,
           "assume_role_policy_document": EC2_TRUST, "permissions_boundary": None, "managed_policies": None,
           "purge_managed_policies": False, "inline_policies": None, "purge_inline_policies": False,
           "tags": None, "purge_tags": True}
    out.update(kw)
    return out


def observed(**kw):
    out = {"arn": "arn:aws:iam::123456789012:role/AppRole", "role_name": "AppRole", "role_id": "AROA1", "path": "/",
           "description": "app", "max_session_duration": 3600, "assume_role_policy_document": EC2_TRUST,
           "permissions_boundary": None, "managed_policies": [CW], "inline_policies": {"AppAccess": APP},
           "tags": {"app": "my-app", "aws:cloudformation:stack-name": "s"}, "instance_profiles": [],
           "create_date": "2026-12-01T00:00:00+00:00"}
    out.update(kw)
    return out


def test_create_full():
    plan = role_plan.plan_role(desired(path="/app/", description="d", max_session_duration=7200,
                                       permissions_boundary="arn:aws:iam::123456789012:policy/B",
                                       managed_policies=[SSM, CW, CW], inline_policies={"AppAccess": APP},
                                       tags={"app": "x", "n": 3}), None)
    # one CreateRole with everything it can carry, then inline policies, then the managed ones (read just before)
    assert plan.actions() == ["create_role", "put_role_policy", "attach_role_policy", "attach_role_policy"]
    create = plan.changes[0].params
    assert create["RoleName"] == "AppRole" and create["Path"] == "/app/"
    assert json.loads(create["AssumeRolePolicyDocument"]) == EC2_TRUST
    assert create["Description"] == "d" and create["MaxSessionDuration"] == 7200
    assert create["PermissionsBoundary"] == "arn:aws:iam::123456789012:policy/B"
    assert create["Tags"] == [{"Key": "app", "Value": "x"}, {"Key": "n", "Value": "3"}]
    assert [c.target for c in plan.changes[2:4]] == sorted([CW, SSM])
    assert json.loads(plan.changes[1].params["PolicyDocument"]) == APP


def test_create_minimal_sends_only_what_was_given():
    plan = role_plan.plan_role(desired(), None)
    assert plan.actions() == ["create_role"]
    assert set(plan.changes[0].params) == {"RoleName", "Path", "AssumeRolePolicyDocument"}
    assert plan.changes[0].params["Path"] == "/"


def test_no_op_when_everything_matches():
    same_trust = {"Statement": {"Effect": "Allow", "Principal": {"Service": ["ec2.amazonaws.com"]},
                                "Action": ["sts:assumerole"]}}
    plan = role_plan.plan_role(desired(assume_role_policy_document=same_trust, description="app", max_session_duration=3600,
                                       managed_policies=[CW], inline_policies={"AppAccess": json.loads(json.dumps(APP))},
                                       tags={"app": "my-app"}, path="/"), observed())
    assert plan.actions() == []
    assert not plan.changed


def test_no_op_when_nothing_declared():
    assert role_plan.plan_role(desired(assume_role_policy_document=None), observed()).actions() == []


def test_trust_change():
    new = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    plan = role_plan.plan_role(desired(assume_role_policy_document=new), observed())
    assert plan.actions() == ["update_assume_role_policy"]
    assert json.loads(plan.changes[0].params["PolicyDocument"]) == new
    assert plan.changes[0].before == EC2_TRUST and plan.changes[0].after == new


def test_trust_account_id_vs_root_arn_in_role_partition_is_no_change():
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}]}
    stored = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws-cn:iam::123456789012:root"}, "Action": "sts:AssumeRole"}]}
    obs = observed(arn="arn:aws-cn:iam::123456789012:role/AppRole", assume_role_policy_document=stored)
    assert role_plan.plan_role(desired(assume_role_policy_document=trust), obs).actions() == []


def test_description_change_sends_current_duration_too():
    plan = role_plan.plan_role(desired(assume_role_policy_document=None, description="new"), observed(max_session_duration=7200))
    assert plan.actions() == ["update_role"]
    assert plan.changes[0].params == {"RoleName": "AppRole", "Description": "new", "MaxSessionDuration": 7200}


def test_duration_change_keeps_description():
    plan = role_plan.plan_role(desired(assume_role_policy_document=None, max_session_duration=43200), observed())
    assert plan.changes[0].params == {"RoleName": "AppRole", "Description": "app", "MaxSessionDuration": 43200}


def test_boundary_set_replace_remove():
    b1, b2 = "arn:aws:iam::123456789012:policy/B1", "arn:aws:iam::123456789012:policy/B2"
    assert role_plan.plan_role(desired(permissions_boundary=b1), observed()).actions() == ["put_role_permissions_boundary"]
    plan = role_plan.plan_role(desired(permissions_boundary=b2), observed(permissions_boundary=b1))
    assert plan.changes[0].params == {"RoleName": "AppRole", "PermissionsBoundary": b2}
    assert role_plan.plan_role(desired(permissions_boundary=""), observed(permissions_boundary=b1)).actions() == \
        ["delete_role_permissions_boundary"]
    assert role_plan.plan_role(desired(permissions_boundary=""), observed()).actions() == []
    assert role_plan.plan_role(desired(permissions_boundary=b1), observed(permissions_boundary=b1)).actions() == []


def test_managed_attach_without_purge_keeps_others():
    plan = role_plan.plan_role(desired(managed_policies=[SSM]), observed())
    assert [(c.action, c.target) for c in plan] == [("attach_role_policy", SSM)]


def test_managed_purge_detaches_others():
    plan = role_plan.plan_role(desired(managed_policies=[SSM], purge_managed_policies=True), observed())
    assert [(c.action, c.target) for c in plan] == [("detach_role_policy", CW), ("attach_role_policy", SSM)]


def test_managed_purge_with_empty_list_detaches_all():
    plan = role_plan.plan_role(desired(managed_policies=[], purge_managed_policies=True), observed())
    assert [(c.action, c.target) for c in plan] == [("detach_role_policy", CW)]


def test_managed_none_is_not_managed_even_with_purge():
    assert role_plan.plan_role(desired(managed_policies=None, purge_managed_policies=True), observed()).actions() == []


def test_inline_changed_document():
    changed = {"Version": "2012-10-17", "Statement": [
        {"Sid": "S3", "Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::my-app-data/*"}]}
    plan = role_plan.plan_role(desired(inline_policies={"AppAccess": changed}), observed())
    assert [(c.action, c.target) for c in plan] == [("put_role_policy", "AppAccess")]
    assert plan.changes[0].before == APP and plan.changes[0].after == changed


def test_inline_equivalent_document_is_no_change():
    reordered = {"Statement": [{"Resource": ["arn:aws:s3:::my-app-data/*"], "Action": ["S3:PutObject", "s3:GetObject"],
                                "Effect": "Allow", "Sid": "S3"}], "Version": "2012-10-17"}
    assert role_plan.plan_role(desired(inline_policies={"AppAccess": reordered}), observed()).actions() == []


def test_inline_add_without_purge_keeps_others():
    plan = role_plan.plan_role(desired(inline_policies={"Other": APP}), observed())
    assert [(c.action, c.target) for c in plan] == [("put_role_policy", "Other")]


def test_inline_purge_deletes_others():
    plan = role_plan.plan_role(desired(inline_policies={"Other": APP}, purge_inline_policies=True), observed())
    assert [(c.action, c.target) for c in plan] == [("put_role_policy", "Other"), ("delete_role_policy", "AppAccess")]


def test_tags_add_change_purge_and_aws_untouched():
    plan = role_plan.plan_role(desired(tags={"app": "other", "team": "t"}), observed())
    # purge is on, but the only unlisted key is aws:cloudformation:stack-name, which is never removed
    assert plan.actions() == ["tag_role"]
    assert plan.changes[0].params["Tags"] == [{"Key": "app", "Value": "other"}, {"Key": "team", "Value": "t"}]


def test_tags_purge_removes_unlisted_but_not_aws():
    plan = role_plan.plan_role(desired(tags={}), observed())
    assert [(c.action, c.params.get("TagKeys")) for c in plan] == [("untag_role", ["app"])]


def test_tags_no_purge():
    assert role_plan.plan_role(desired(tags={}, purge_tags=False), observed()).actions() == []


def test_tags_none_untouched():
    assert role_plan.plan_role(desired(tags=None, purge_tags=True), observed()).actions() == []


def test_absent_safe_order():
    obs = observed(managed_policies=[CW, SSM], inline_policies={"B": APP, "A": APP},
                   instance_profiles=[{"instance_profile_name": "P", "arn": "arn:aws:iam::123456789012:instance-profile/P"}])
    plan = role_plan.plan_role(desired(state="absent"), obs)
    assert [(c.action, c.target) for c in plan] == [
        ("remove_role_from_instance_profile", "P"), ("detach_role_policy", CW), ("detach_role_policy", SSM),
        ("delete_role_policy", "A"), ("delete_role_policy", "B"), ("delete_role", "AppRole")]
    assert plan.changes[0].params == {"InstanceProfileName": "P", "RoleName": "AppRole"}


def test_absent_when_missing_is_no_op():
    assert role_plan.plan_role(desired(state="absent"), None).actions() == []


def test_predict_create():
    d = desired(path="/app/", managed_policies=[CW], inline_policies={"AppAccess": APP}, tags={"a": "1"})
    arn = iam_arn("aws-us-gov", "123456789012", "role", "/app/", "AppRole")
    assert arn == "arn:aws-us-gov:iam::123456789012:role/app/AppRole"
    role = role_plan.predict_role(d, None, arn)
    assert role["arn"] == arn and role["path"] == "/app/" and role["role_id"] is None
    assert role["managed_policies"] == [CW] and role["inline_policies"] == {"AppAccess": APP}
    assert role["tags"] == {"a": "1"} and role["assume_role_policy_document"] == EC2_TRUST
    assert role["max_session_duration"] == 3600


def test_predict_update_keeps_unmanaged_and_aws_tags():
    role = role_plan.predict_role(desired(managed_policies=[SSM], tags={"t": "v"}, permissions_boundary=""), observed(), None)
    assert role["managed_policies"] == sorted([CW, SSM])
    assert role["inline_policies"] == {"AppAccess": APP}
    assert role["tags"] == {"t": "v", "aws:cloudformation:stack-name": "s"}
    assert role["permissions_boundary"] is None
    purged = role_plan.predict_role(desired(managed_policies=[SSM], purge_managed_policies=True,
                                            inline_policies={}, purge_inline_policies=True), observed(), None)
    assert purged["managed_policies"] == [SSM] and purged["inline_policies"] == {}


def test_predict_keeps_equivalent_documents_as_stored():
    reordered = {"Statement": [{"Resource": "arn:aws:s3:::my-app-data/*", "Action": ["s3:PutObject", "s3:GetObject"],
                                "Effect": "Allow", "Sid": "S3"}], "Version": "2012-10-17"}
    same_trust = {"Statement": {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}}
    role = role_plan.predict_role(desired(inline_policies={"AppAccess": reordered}, assume_role_policy_document=same_trust),
                                  observed(), None)
    assert role == observed()  # so --diff shows no false change


def test_predict_absent():
    assert role_plan.predict_role(desired(state="absent"), observed(), None) is None


def test_declared_view():
    assert role_plan.declared_view(None, ["tags"]) == {}
    assert role_plan.declared_view(observed(), ["tags", "state"]) == {"role_name": "AppRole", "tags": observed()["tags"]}


# ---- role_desired: validation ---------------------------------------------------------------------------

def params(**kw):
    out = {"name": "AppRole", "path": None, "description": None, "assume_role_policy_document": None,
           "trusted_services": None, "max_session_duration": None, "permissions_boundary": None,
           "managed_policies": None, "purge_managed_policies": False, "inline_policies": None,
           "purge_inline_policies": False, "tags": None, "purge_tags": True, "state": "present",
           "wait": True, "wait_timeout": 120, "allow_admin": False}
    out.update(kw)
    return out


def test_role_desired_ok():
    d, errors = role_params.role_desired(params(trusted_services=["ec2.amazonaws.com", "ssm.amazonaws.com"],
                                                inline_policies={"AppAccess": json.dumps(APP)}, managed_policies=[CW, "service-role/X"]))
    assert errors == []
    services = d["assume_role_policy_document"]["Statement"][0]["Principal"]["Service"]
    assert services == ["ec2.amazonaws.com", "ssm.amazonaws.com"]
    assert d["inline_policies"] == {"AppAccess": APP}


def test_role_desired_neither_trust_given_is_none():
    d, errors = role_params.role_desired(params())
    assert errors == [] and d["assume_role_policy_document"] is None


@pytest.mark.parametrize("kw,fragment", [
    ({"name": "x" * 65}, "name="),
    ({"name": "bad name"}, "contains ' '"),
    ({"path": "app"}, "path='app'"),
    ({"max_session_duration": 3599}, "max_session_duration=3599"),
    ({"max_session_duration": 43201}, "3600 to 43200"),
    ({"permissions_boundary": "nope"}, "permissions_boundary='nope'"),
    ({"assume_role_policy_document": "{bad"}, "assume_role_policy_document is not valid JSON"),
    ({"assume_role_policy_document": {"Version": "2012-10-17"}}, "assume_role_policy_document has no Statement"),
    ({"assume_role_policy_document": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}},
     "trusts Principal '*' without a Condition"),
    ({"trusted_services": ["ec2"]}, "not a service principal"),
    ({"trusted_services": []}, "trusted_services is empty"),
    ({"inline_policies": {"Admin": {"Statement": [{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}]}}},
     "inline_policies.Admin: statement 'All' allows '*' on Resource '*'"),
    ({"inline_policies": {"Iam": {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}}},
     "statement #0 (no Sid) allows 'iam:*'"),
    ({"inline_policies": {"P": "not json"}}, "inline_policies.P is not valid JSON"),
    ({"inline_policies": {"bad name": APP}}, "inline_policies key='bad name'"),
    ({"managed_policies": ["AdministratorAccess"]}, "grants administrator-level access"),
    ({"managed_policies": ["arn:aws:iam::aws:policy/PowerUserAccess"]}, "grants administrator-level access"),
    ({"managed_policies": ["arn:aws-cn:iam::aws:policy/IAMFullAccess"]}, "grants administrator-level access"),
    ({"managed_policies": ["arn:aws:s3:::bucket"]}, "service 's3'"),
    ({"managed_policies": ["bad name!"]}, "neither a policy ARN nor a policy name"),
    ({"tags": {"aws:x": "1"}}, "reserves"),
    ({"description": "x" * 1001}, "at most 1000"),
    ({"wait_timeout": 0}, "wait_timeout=0"),
])
def test_role_desired_errors(kw, fragment):
    errors = role_params.role_desired(params(**kw))[1]
    assert any(fragment in e for e in errors), errors


@pytest.mark.parametrize("kw", [
    {"managed_policies": ["AdministratorAccess"]},
    {"inline_policies": {"Admin": {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}}},
    {"assume_role_policy_document": {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:AssumeRole"}]}},
])
def test_allow_admin_accepts(kw):
    errors = role_params.role_desired(params(allow_admin=True, **kw))[1]
    assert errors == []


def test_all_errors_reported_at_once():
    errors = role_params.role_desired(params(name="x" * 70, max_session_duration=1, managed_policies=["AdministratorAccess"]))[1]
    assert len(errors) == 3


def test_declared_keys():
    assert role_params.declared_keys(params(tags={}, trusted_services=["ec2.amazonaws.com"])) == ["tags", "assume_role_policy_document"]


def test_policy_arn_candidates():
    assert roles.policy_arn_candidates("service-role/X", "aws-cn", "123456789012") == [
        "arn:aws-cn:iam::aws:policy/service-role/X", "arn:aws-cn:iam::123456789012:policy/service-role/X"]
