"""iam_role run in-process under moto's mock_aws; AWS state is asserted with boto3, not the module's report."""

from __future__ import annotations

import json

import boto3
import botocore.client
import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

from ansible_collections.keyless.aws.plugins.module_utils.iam import documents, roles
from ansible_collections.keyless.aws.plugins.modules import iam_role
from tests.support.module_runner import run_module

ACCOUNT = "123456789012"  # moto's default account
CW = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy"
APP_ACCESS = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "S3Objects", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": "arn:aws:s3:::my-app-data/*"},
        {"Sid": "S3List", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::my-app-data"},
        {"Sid": "Queue", "Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage"],
         "Resource": "arn:aws:sqs:us-east-1:123456789012:app-queue"},
        {"Sid": "Secrets", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
         "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/*"},
    ],
}
ROLE = {"name": "AppInstanceRole", "description": "app role", "managed_policies": [CW],
        "inline_policies": {"AppAccess": APP_ACCESS}, "tags": {"app": "my-app"}}


pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


@pytest.fixture
def aws(iam_account):
    """An empty IAM account under moto (tests/unit/plugins/modules/conftest.py)."""
    return iam_account


MUTATING_PREFIXES = ("Create", "Put", "Attach", "Detach", "Delete", "Update", "Tag", "Untag", "Add", "Remove")


def mutating(calls):
    return [c for c in calls if c.startswith(MUTATING_PREFIXES)]


def test_create_then_rerun_unchanged(aws, api_calls):
    first = run_module(iam_role.main, ROLE)
    assert first.changed and not first.failed, first
    assert first["role"]["arn"] == "arn:aws:iam::%s:role/AppInstanceRole" % ACCOUNT
    role = aws.get_role(RoleName="AppInstanceRole")["Role"]
    assert role["Description"] == "app role"
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert [p["PolicyArn"] for p in aws.list_attached_role_policies(RoleName="AppInstanceRole")["AttachedPolicies"]] == [CW]
    assert aws.get_role_policy(RoleName="AppInstanceRole", PolicyName="AppAccess")["PolicyDocument"] == APP_ACCESS
    assert aws.list_role_tags(RoleName="AppInstanceRole")["Tags"] == [{"Key": "app", "Value": "my-app"}]
    assert first["role"]["role_id"] == role["RoleId"]
    assert "GetRole" in api_calls[api_calls.index("CreateRole"):]  # waited / read back after creating

    del api_calls[:]
    second = run_module(iam_role.main, ROLE)
    assert not second.changed and second["changes"] == [], second
    assert mutating(api_calls) == []
    assert second["role"]["managed_policies"] == [CW]
    assert second["role"]["inline_policies"] == {"AppAccess": APP_ACCESS}


def test_equivalent_documents_are_no_change(aws):
    assert run_module(iam_role.main, ROLE).changed
    shuffled = json.loads(json.dumps(APP_ACCESS))
    shuffled["Statement"].reverse()
    shuffled["Statement"][0]["Action"] = "SECRETSMANAGER:GetSecretValue"
    args = dict(ROLE, inline_policies={"AppAccess": json.dumps(shuffled)}, trusted_services=["ec2.amazonaws.com"])
    again = run_module(iam_role.main, args)
    assert not again.changed, again["changes"]


def test_check_mode_creates_nothing_and_returns_arn(aws, api_calls):
    result = run_module(iam_role.main, dict(ROLE, path="/app/"), check_mode=True)
    assert result.changed and not result.failed
    assert result["role"]["arn"] == "arn:aws:iam::%s:role/app/AppInstanceRole" % ACCOUNT
    assert result["role"]["managed_policies"] == [CW]
    assert [c["action"] for c in result["changes"]] == ["create_role", "put_role_policy", "attach_role_policy"]
    assert mutating(api_calls) == []
    assert aws.list_roles()["Roles"] == []


def test_diff_on_create_and_update(aws):
    created = run_module(iam_role.main, ROLE, diff=True)
    assert created["diff"]["before"] == {}
    after = created["diff"]["after"]
    assert after["role_name"] == "AppInstanceRole" and after["tags"] == {"app": "my-app"}
    assert after["managed_policies"] == [CW] and "assume_role_policy_document" in after

    updated = run_module(iam_role.main, {"name": "AppInstanceRole", "tags": {"app": "v2"}, "max_session_duration": 7200},
                         diff=True, check_mode=True)
    assert updated.changed
    assert updated["diff"]["before"] == {"role_name": "AppInstanceRole", "tags": {"app": "my-app"},
                                         "max_session_duration": 3600}
    assert updated["diff"]["after"] == {"role_name": "AppInstanceRole", "tags": {"app": "v2"},
                                        "max_session_duration": 7200}
    assert aws.get_role(RoleName="AppInstanceRole")["Role"]["MaxSessionDuration"] == 3600  # check mode


def test_update_each_field(aws):
    run_module(iam_role.main, ROLE)
    boundary = aws.create_policy(PolicyName="Boundary", PolicyDocument=json.dumps(APP_ACCESS))["Policy"]["Arn"]
    result = run_module(iam_role.main, {
        "name": "AppInstanceRole", "description": "new", "max_session_duration": 7200,
        "trusted_services": ["ecs-tasks.amazonaws.com"], "permissions_boundary": boundary,
        "managed_policies": ["AmazonSSMManagedInstanceCore"], "purge_managed_policies": True,
        "inline_policies": {"Other": APP_ACCESS}, "purge_inline_policies": True,
        "tags": {"team": "t"}, "purge_tags": True})
    assert result.changed and not result.failed, result
    role = aws.get_role(RoleName="AppInstanceRole")["Role"]
    assert role["Description"] == "new" and role["MaxSessionDuration"] == 7200
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
    assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
    attached = [p["PolicyArn"] for p in aws.list_attached_role_policies(RoleName="AppInstanceRole")["AttachedPolicies"]]
    assert attached == ["arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"]
    assert aws.list_role_policies(RoleName="AppInstanceRole")["PolicyNames"] == ["Other"]
    assert aws.list_role_tags(RoleName="AppInstanceRole")["Tags"] == [{"Key": "team", "Value": "t"}]

    removed = run_module(iam_role.main, {"name": "AppInstanceRole", "permissions_boundary": ""})
    assert [c["action"] for c in removed["changes"]] == ["delete_role_permissions_boundary"]
    assert "PermissionsBoundary" not in aws.get_role(RoleName="AppInstanceRole")["Role"]


def test_no_purge_keeps_other_attachments(aws):
    run_module(iam_role.main, ROLE)
    result = run_module(iam_role.main, {"name": "AppInstanceRole", "managed_policies": ["AmazonSSMManagedInstanceCore"],
                                        "inline_policies": {"Other": APP_ACCESS}})
    assert [c["action"] for c in result["changes"]] == ["attach_role_policy", "put_role_policy"]
    assert len(aws.list_attached_role_policies(RoleName="AppInstanceRole")["AttachedPolicies"]) == 2
    assert sorted(aws.list_role_policies(RoleName="AppInstanceRole")["PolicyNames"]) == ["AppAccess", "Other"]


def test_absent_deletes_in_safe_order(aws, api_calls):
    run_module(iam_role.main, ROLE)
    aws.create_instance_profile(InstanceProfileName="AppProfile")
    aws.add_role_to_instance_profile(InstanceProfileName="AppProfile", RoleName="AppInstanceRole")
    del api_calls[:]
    result = run_module(iam_role.main, {"name": "AppInstanceRole", "state": "absent"}, diff=True)
    assert result.changed and result["role"] is None
    assert mutating(api_calls) == ["RemoveRoleFromInstanceProfile", "DetachRolePolicy", "DeleteRolePolicy", "DeleteRole"]
    assert aws.list_roles()["Roles"] == []
    assert aws.get_instance_profile(InstanceProfileName="AppProfile")["InstanceProfile"]["Roles"] == []
    assert result["diff"]["after"] == {} and result["diff"]["before"]["role_name"] == "AppInstanceRole"

    again = run_module(iam_role.main, {"name": "AppInstanceRole", "state": "absent"})
    assert not again.changed


def test_absent_check_mode_deletes_nothing(aws):
    run_module(iam_role.main, ROLE)
    result = run_module(iam_role.main, {"name": "AppInstanceRole", "state": "absent"}, check_mode=True)
    assert result.changed and result["role"] is None
    assert aws.get_role(RoleName="AppInstanceRole")["Role"]


@pytest.mark.parametrize("args,fragment", [
    ({"name": "x" * 65}, "name="),
    ({"name": "bad/name"}, "contains '/'"),
    ({"name": "r", "max_session_duration": 100}, "max_session_duration=100"),
    ({"name": "r", "assume_role_policy_document": "{not json"}, "assume_role_policy_document is not valid JSON"),
    ({"name": "r", "inline_policies": {"P": {"Version": "2012-10-17"}}}, "inline_policies.P has no Statement"),
    ({"name": "r", "permissions_boundary": "arn:aws:iam::1:policy/x"}, "permissions_boundary="),
    ({"name": "r", "managed_policies": ["AdministratorAccess"]}, "administrator-level"),
    ({"name": "r", "managed_policies": ["arn:aws:iam::aws:policy/IAMFullAccess"]}, "administrator-level"),
    ({"name": "r", "inline_policies": {"All": {"Statement": [{"Effect": "Allow", "Action": "*:*", "Resource": "*"}]}}},
     "statement #0 (no Sid) allows '*:*' on Resource '*'"),
    ({"name": "r", "assume_role_policy_document": {"Statement": [
        {"Sid": "Anyone", "Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}]}},
     "statement 'Anyone' trusts Principal '*'"),
])
def test_validation_errors_make_no_aws_call(monkeypatch, args, fragment):
    created = []
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *a, **k: created.append(a) or pytest.fail("client"))
    result = run_module(iam_role.main, args)
    assert result.failed and fragment in result["msg"], result
    assert created == []


def _sized(length):
    """A permissions policy of exactly `length` characters as IAM counts them."""
    base = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/"}]}
    base["Statement"][0]["Resource"] += "x" * (length - documents.policy_length(base))
    return base


def _stmt(**kw):
    return {"Version": "2012-10-17", "Statement": [kw]}


EC2 = {"Service": "ec2.amazonaws.com"}
MANY_ROLES = ["arn:aws:iam::123456789012:role/r%04d" % i for i in range(60)]
LONG_TRUST = _stmt(Effect="Allow", Action="sts:AssumeRole", Principal={"AWS": MANY_ROLES})
DEEP = '{"Version": "2012-10-17", "Statement": ' + "[" * 50000 + "]" * 50000 + "}"
HUGE = json.dumps(_stmt(Effect="Allow", Action="s3:GetObject", Resource=["arn:aws:s3:::b/%d" % i for i in range(500000)]))

# Every document AWS would refuse, refused by the module with zero AWS calls (no client is even created).
BAD_DOCUMENTS = [
    ("empty Action", {"inline_policies": {"P": _stmt(Effect="Allow", Action=[], Resource="*")}},
     "inline_policies.P: Statement[0] has Action=[]: IAM refuses an empty Action"),
    ("null Resource", {"inline_policies": {"P": _stmt(Effect="Allow", Action="s3:GetObject", Resource=None)}},
     "inline_policies.P: Statement[0] has Resource=null: IAM refuses an empty Resource"),
    ("no Resource", {"inline_policies": {"P": _stmt(Effect="Allow", Action="s3:GetObject")}},
     "inline_policies.P: Statement[0] has neither Resource nor NotResource"),
    ("Principal in an inline policy", {"inline_policies": {"P": _stmt(Effect="Allow", Action="s3:GetObject",
                                                                      Resource="*", Principal=EC2)}},
     "inline_policies.P: Statement[0] has Principal: a permissions policy"),
    ("unknown element", {"inline_policies": {"P": _stmt(Effect="Allow", Action="s3:GetObject", Resources="*")}},
     "inline_policies.P: Statement[0] has 'Resources'"),
    ("empty Principal", {"assume_role_policy_document": _stmt(Effect="Allow", Action="sts:AssumeRole", Principal={})},
     "assume_role_policy_document: Statement[0] has Principal={}"),
    ("null Effect", {"assume_role_policy_document": _stmt(Effect=None, Action="sts:AssumeRole", Principal=EC2)},
     "assume_role_policy_document: Statement[0] has Effect=null"),
    ("Resource in the trust policy", {"assume_role_policy_document": _stmt(Effect="Allow", Action="sts:AssumeRole",
                                                                           Principal=EC2, Resource="*")},
     "assume_role_policy_document: Statement[0] has Resource: a trust policy"),
    ("inline policies over 10,240 in total", {"inline_policies": {"A": _sized(6000), "B": _sized(4241)}},
     "inline_policies are 10,241 characters in total as IAM counts them"),
    ("trust policy over 2,048", {"assume_role_policy_document": LONG_TRUST},
     "IAM's trust policy quota is 2,048 by default. The quota can be raised up to 4,096"),
    ("trust policy over a declared quota", {"assume_role_policy_document": LONG_TRUST, "trust_policy_size_quota": 2100},
     "trust_policy_size_quota=2100 allows at most 2,100"),
    ("quota out of range", {"trust_policy_size_quota": 8192}, "trust_policy_size_quota=8192 is out of range"),
    ("deep JSON text inline", {"inline_policies": {"P": DEEP}}, "inline_policies.P is nested more than 6 levels deep"),
    ("deep JSON text trust", {"assume_role_policy_document": DEEP},
     "assume_role_policy_document is nested more than 6 levels deep"),
    ("huge JSON text", {"inline_policies": {"P": HUGE}}, "inline_policies.P is more than 40,960 characters long"),
]


@pytest.mark.parametrize("args,fragment", [b[1:] for b in BAD_DOCUMENTS], ids=[b[0] for b in BAD_DOCUMENTS])
@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_bad_documents_are_refused_with_zero_aws_calls(monkeypatch, api_calls, args, fragment, check_mode):
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *a, **k: pytest.fail("client created"))
    result = run_module(iam_role.main, dict(args, name="r"), check_mode=check_mode)
    assert result.failed and fragment in result["msg"], result["msg"]
    assert api_calls == []


TYPO = "arn:aws:iam::aws:policy/CloudWatchAgentServerPolisy"


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_mistyped_aws_managed_arn_is_refused_with_nothing_created(aws, api_calls, check_mode):
    result = run_module(iam_role.main, dict(ROLE, managed_policies=[CW, TYPO]), check_mode=check_mode)
    assert result.failed and not result.changed, result
    assert ("managed_policies item %r does not exist (GetPolicy: NoSuchEntity): there is no AWS-managed policy of "
            "that name" % TYPO) in result["msg"]
    assert mutating(api_calls) == [] and api_calls.count("GetPolicy") == 2
    assert aws.list_roles()["Roles"] == []


def test_missing_customer_arn_is_predicted_in_check_mode_and_refused_in_a_run(aws, api_calls):
    arn = "arn:aws:iam::%s:policy/app/AppAccess" % ACCOUNT
    check = run_module(iam_role.main, dict(ROLE, managed_policies=[arn]), check_mode=True)
    assert check.changed and not check.failed, check
    assert check["role"]["managed_policies"] == [arn]
    assert "does not exist yet: check mode assumes an earlier task creates it" in json.dumps(check["warnings"])
    run = run_module(iam_role.main, dict(ROLE, managed_policies=[arn]))
    assert run.failed and "managed_policies item %r does not exist (GetPolicy: NoSuchEntity): create it first" % arn \
        in run["msg"], run
    assert mutating(api_calls) == [] and aws.list_roles()["Roles"] == []
    aws.create_policy(PolicyName="AppAccess", Path="/app/", PolicyDocument=json.dumps(APP_ACCESS))
    assert run_module(iam_role.main, dict(ROLE, managed_policies=[arn])).changed


@pytest.mark.parametrize("arn,fragment", [
    ("arn:aws:iam::210987654321:policy/Shared", "belongs to account 210987654321: a role can use only AWS-managed policies"),
    ("arn:aws-cn:iam::aws:policy/CloudWatchAgentServerPolicy", "is in partition 'aws-cn', but this account is in 'aws'"),
])
@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check"])
def test_policy_of_another_account_or_partition_is_refused(aws, api_calls, arn, fragment, check_mode):
    result = run_module(iam_role.main, {"name": "r", "managed_policies": [arn]}, check_mode=check_mode)
    assert result.failed and fragment in result["msg"], result
    assert "GetPolicy" not in api_calls and mutating(api_calls) == []


def test_missing_permissions_boundary_is_refused_before_create_role(aws, api_calls):
    boundary = "arn:aws:iam::%s:policy/NoSuchBoundary" % ACCOUNT
    result = run_module(iam_role.main, dict(ROLE, permissions_boundary=boundary))
    assert result.failed and "permissions_boundary %r does not exist" % boundary in result["msg"], result
    assert mutating(api_calls) == [] and aws.list_roles()["Roles"] == []
    check = run_module(iam_role.main, dict(ROLE, permissions_boundary=boundary), check_mode=True)
    assert not check.failed and "permissions_boundary %r does not exist yet" % boundary in json.dumps(check["warnings"])
    typo = run_module(iam_role.main, dict(ROLE, permissions_boundary=TYPO), check_mode=True)
    assert typo.failed and "there is no AWS-managed policy of that name" in typo["msg"]


def test_create_order_and_attached_policies_are_not_read_again(aws, api_calls):
    assert run_module(iam_role.main, ROLE).changed
    assert mutating(api_calls) == ["CreateRole", "PutRolePolicy", "AttachRolePolicy"]
    assert api_calls.index("GetPolicy") < api_calls.index("CreateRole")
    del api_calls[:]
    assert not run_module(iam_role.main, ROLE).changed
    assert "GetPolicy" not in api_calls  # attached, so it exists: IAM refuses to delete an attached policy


def test_inline_total_counts_the_policies_the_role_keeps(aws, api_calls):
    assert run_module(iam_role.main, {"name": "r", "inline_policies": {"Old": _sized(6000)}}).changed
    del api_calls[:]
    result = run_module(iam_role.main, {"name": "r", "inline_policies": {"New": _sized(5000)}})
    assert result.failed and "the role's other inline policies (Old, kept because purge_inline_policies=false) are " \
        "11,000 characters in total" in result["msg"], result
    assert mutating(api_calls) == []
    purged = run_module(iam_role.main, {"name": "r", "inline_policies": {"New": _sized(5000)}, "purge_inline_policies": True})
    assert purged.changed and not purged.failed, purged
    assert aws.list_role_policies(RoleName="r")["PolicyNames"] == ["New"]


def test_mutually_exclusive_trust(monkeypatch):
    monkeypatch.setattr(boto3.session.Session, "client", lambda self, *a, **k: pytest.fail("client created"))
    result = run_module(iam_role.main, {"name": "r", "trusted_services": ["ec2.amazonaws.com"],
                                        "assume_role_policy_document": json.dumps(documents.trust_policy_for_services(["x"]))})
    assert result.failed and "mutually exclusive" in result["msg"]


def test_allow_admin(aws):
    result = run_module(iam_role.main, {"name": "Admin", "managed_policies": ["AdministratorAccess"], "allow_admin": True})
    assert result.changed and not result.failed, result
    attached = aws.list_attached_role_policies(RoleName="Admin")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AdministratorAccess"]


def test_unknown_policy_name_fails_before_changing(aws, api_calls):
    result = run_module(iam_role.main, {"name": "r", "managed_policies": ["NoSuchPolicyAnywhere"]})
    assert result.failed and "no managed policy named 'NoSuchPolicyAnywhere'" in result["msg"]
    assert mutating(api_calls) == []


def test_unknown_policy_name_in_check_mode_is_predicted_with_warning(aws):
    result = run_module(iam_role.main, {"name": "r", "managed_policies": ["CreatedEarlierInPlay"]}, check_mode=True)
    assert result.changed and not result.failed, result
    assert result["role"]["managed_policies"] == ["arn:aws:iam::%s:policy/CreatedEarlierInPlay" % ACCOUNT]
    assert "check mode assumes" in json.dumps(result["warnings"])  # 2.19 wraps warnings in structured events


def test_customer_policy_by_path_and_name(aws):
    arn = aws.create_policy(PolicyName="AppRead", Path="/app/", PolicyDocument=json.dumps(APP_ACCESS))["Policy"]["Arn"]
    result = run_module(iam_role.main, {"name": "r", "managed_policies": ["app/AppRead"]})
    assert result["role"]["managed_policies"] == [arn]


def test_names_resolved_with_get_policy_not_listing(aws, api_calls):
    run_module(iam_role.main, {"name": "r", "managed_policies": ["CloudWatchAgentServerPolicy"]})
    # two GetPolicy resolve the name (AWS- or customer-managed), then GetPolicy + GetPolicyVersion read the default
    # version to judge it before it is attached
    assert "ListPolicies" not in api_calls and api_calls.count("GetPolicy") == 3
    assert api_calls.count("GetPolicyVersion") == 1
    del api_calls[:]
    run_module(iam_role.main, {"name": "r", "managed_policies": ["CloudWatchAgentServerPolicy"]})
    assert api_calls.count("GetPolicy") == 2 and "GetPolicyVersion" not in api_calls  # attached: not judged again


def test_ambiguous_policy_name(aws):
    aws.create_policy(PolicyName="CloudWatchAgentServerPolicy", PolicyDocument=json.dumps(APP_ACCESS))
    result = run_module(iam_role.main, {"name": "r", "managed_policies": ["CloudWatchAgentServerPolicy"]})
    assert result.failed and "ambiguous" in result["msg"]


def test_path_cannot_change(aws):
    run_module(iam_role.main, {"name": "r", "path": "/a/"})
    result = run_module(iam_role.main, {"name": "r", "path": "/b/"})
    assert result.failed and "IAM cannot move a role" in result["msg"]


def test_existing_role_keeps_trust_when_none_given(aws):
    run_module(iam_role.main, {"name": "r", "trusted_services": ["lambda.amazonaws.com"]})
    result = run_module(iam_role.main, {"name": "r", "tags": {"a": "b"}})
    assert [c["action"] for c in result["changes"]] == ["tag_role"]
    trust = aws.get_role(RoleName="r")["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


def test_aws_error_is_reported_clearly(aws):
    def denied(self, operation, params):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, operation)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(botocore.client.BaseClient, "_make_api_call", denied)
        result = run_module(iam_role.main, {"name": "r"})
    assert result.failed
    assert result["msg"].startswith("GetRole failed for r; AccessDenied: no; what to do:")


def test_a_failure_after_a_change_is_reported_as_changed_and_a_rerun_finishes(aws, monkeypatch):
    """CreateRole went through, PutRolePolicy was refused: the task says changed, what was done and what was not;
    the next run starts from what IAM has and does the rest; the one after changes nothing."""
    original = botocore.client.BaseClient._make_api_call

    def refuse_inline(self, operation, params):
        if operation == "PutRolePolicy":
            raise botocore.exceptions.ClientError({"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, operation)
        return original(self, operation, params)

    args = dict(ROLE)
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse_inline)
    failed = run_module(iam_role.main, args)
    assert failed.failed and failed.changed
    assert [c["operation"] for c in failed["changes"]][0] == "CreateRole"
    assert "PutRolePolicy" in [c["operation"] for c in failed["not_done"]]
    assert "already done: CreateRole" in failed["msg"] and "rerun the task to finish" in failed["msg"]
    assert failed["error"]["code"] == "AccessDenied"
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", original)
    rerun = run_module(iam_role.main, args)
    assert rerun.changed and not rerun.failed
    # the rerun makes exactly the calls the failed run had not made
    assert sorted(c["operation"] for c in rerun["changes"]) == sorted(c["operation"] for c in failed["not_done"])
    assert not run_module(iam_role.main, args).changed


def test_role_created_meanwhile_by_another_target_is_converged_not_failed(aws, monkeypatch):
    """Two targets of one account (two regions) converge the account's IAM at the same time: the role did not
    exist when this run looked, the other run created it (with part of the job) before this run's CreateRole."""
    original = roles.observe_role
    seen = []

    def observe_then_other_run_creates(client, name, retry=None):
        got = original(client, name, retry)
        if not seen:
            trust = {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
            aws.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust), Description="app role")
            aws.attach_role_policy(RoleName=name, PolicyArn=CW)
        seen.append(got)
        return got

    monkeypatch.setattr(roles, "observe_role", observe_then_other_run_creates)
    result = run_module(iam_role.main, ROLE)
    assert result.changed and not result.failed, result
    actions = [c["action"] for c in result["changes"]]
    assert "create_role" not in actions and "attach_role_policy" not in actions, actions
    assert "put_role_policy" in actions
    assert seen[0] is None and seen[1] is not None  # observed again after EntityAlreadyExists
    assert aws.get_role_policy(RoleName="AppInstanceRole", PolicyName="AppAccess")["PolicyDocument"] == APP_ACCESS
    assert aws.list_role_tags(RoleName="AppInstanceRole")["Tags"] == [{"Key": "app", "Value": "my-app"}]
    monkeypatch.setattr(roles, "observe_role", original)
    assert not run_module(iam_role.main, ROLE).changed
