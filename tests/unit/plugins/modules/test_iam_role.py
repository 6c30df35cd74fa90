"""iam_role run in-process under moto's mock_aws; AWS state is asserted with boto3, not the module's report."""

from __future__ import annotations

import json

import boto3
import botocore.client
import botocore.exceptions
import moto
import pytest
from botocore.exceptions import ClientError

from ansible_collections.keyless.aws.plugins.module_utils.aws import retries
from ansible_collections.keyless.aws.plugins.module_utils.aws.module import Progress
from ansible_collections.keyless.aws.plugins.module_utils.aws.plan import apply_plan
from ansible_collections.keyless.aws.plugins.module_utils.iam import documents, role_plan, roles
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError
from ansible_collections.keyless.aws.plugins.modules import iam_role
from tests.support.escalation_cases import ACCEPTED, OWN_ROLE, REFUSED
from tests.support.fixtures import stub_access_analyzer
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
def aws(moto_iam, monkeypatch):
    monkeypatch.setattr(roles, "READY_DELAY", 0)
    monkeypatch.setattr(retries, "_sleep", lambda s: None)
    _clean(moto_iam)
    yield moto_iam
    _clean(moto_iam)


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


# ---- roles.py helpers that need AWS-like behaviour ---------------------------------------------------------

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


# ---- least privilege: the table of tests/support/escalation_cases.py through the module ------------------------------

def _case_args(kind, document, **extra):
    args = {"name": OWN_ROLE[1]}
    if kind == "trust":
        args["assume_role_policy_document"] = document
    else:
        args["inline_policies"] = {"Case": document}
    args.update(extra)
    return args


@pytest.mark.parametrize("case_id, kind, document, fragments", REFUSED, ids=[c[0] for c in REFUSED])
def test_refused_before_any_aws_call_and_allow_admin_lifts_it(aws, api_calls, case_id, kind, document, fragments):
    refused = run_module(iam_role.main, _case_args(kind, document))
    assert refused.failed, refused
    assert api_calls == [], "a refusal must come before any AWS call"
    option = "assume_role_policy_document: " if kind == "trust" else "inline_policies.Case: "
    assert option + "statement " in refused["msg"] and "allow_admin: true" in refused["msg"]
    for fragment in fragments:
        assert fragment in refused["msg"], (fragment, refused["msg"])
    accepted = run_module(iam_role.main, _case_args(kind, document, allow_admin=True), check_mode=True)
    assert not accepted.failed and accepted.changed, accepted
    assert mutating(api_calls) == []


@pytest.mark.parametrize("case_id, kind, document", ACCEPTED, ids=[c[0] for c in ACCEPTED])
def test_accepted_documents_pass(aws, api_calls, case_id, kind, document):
    result = run_module(iam_role.main, _case_args(kind, document), check_mode=True)
    assert not result.failed and result.changed, result
    assert mutating(api_calls) == []


def test_admin_managed_policies_refused_by_name_before_any_call(aws, api_calls):
    for value in ("AdministratorAccess", "arn:aws:iam::aws:policy/PowerUserAccess", "IAMFullAccess"):
        result = run_module(iam_role.main, {"name": "r", "managed_policies": [value]})
        assert result.failed and value in result["msg"] and "allow_admin: true" in result["msg"]
    assert api_calls == []


def test_customer_policy_judged_before_it_is_attached(aws, api_calls):
    escalating = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Pass", "Effect": "Allow", "Action": "iam:PassRole", "Resource": "*"}]}
    arn = aws.create_policy(PolicyName="Launcher", PolicyDocument=json.dumps(escalating))["Policy"]["Arn"]
    del api_calls[:]
    refused = run_module(iam_role.main, {"name": "r", "managed_policies": [arn]})
    assert refused.failed and "managed_policies item %r: statement 'Pass' allows 'iam:PassRole'" % arn in refused["msg"]
    assert '"PassRole to a service that runs code"' in refused["msg"]
    assert mutating(api_calls) == [] and api_calls.count("GetPolicyVersion") == 1
    accepted = run_module(iam_role.main, {"name": "r", "managed_policies": [arn], "allow_admin": True})
    assert accepted.changed and not accepted.failed, accepted
    assert [p["PolicyArn"] for p in aws.list_attached_role_policies(RoleName="r")["AttachedPolicies"]] == [arn]


def test_customer_policy_that_lets_the_role_change_itself(aws):
    own = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:AttachRolePolicy", "Resource": "arn:aws:iam::%s:role/app/r" % ACCOUNT}]}
    arn = aws.create_policy(PolicyName="SelfManage", PolicyDocument=json.dumps(own))["Policy"]["Arn"]
    refused = run_module(iam_role.main, {"name": "r", "path": "/app/", "managed_policies": [arn]})
    assert refused.failed and "which includes this role itself (role/app/r)" in refused["msg"], refused["msg"]
    other = run_module(iam_role.main, {"name": "other", "path": "/app/", "managed_policies": [arn]})
    assert not other.failed, other  # the same policy on another role: scoped to a named role


def test_missing_policy_arn_fails_before_anything_is_created(aws, api_calls):
    missing = "arn:aws:iam::%s:policy/Nowhere" % ACCOUNT
    del api_calls[:]
    result = run_module(iam_role.main, {"name": "r", "managed_policies": [missing]})
    assert result.failed and "%r does not exist" % missing in result["msg"]
    assert mutating(api_calls) == []
    predicted = run_module(iam_role.main, {"name": "r", "managed_policies": [missing]}, check_mode=True)
    assert not predicted.failed and missing in json.dumps(predicted.get("warnings")), predicted


# ---- validate_with_access_analyzer (moto has no Access Analyzer: botocore's Stubber) ----------------------------------

def _finding(kind, code, index=0):
    return {"findingType": kind, "issueCode": code, "findingDetails": "%s details" % code,
            "learnMoreLink": "https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html",
            "locations": [{"path": [{"value": "Statement"}, {"index": index}, {"value": "Action"}],
                           "span": {"start": {"line": 1, "column": 1, "offset": 1},
                                    "end": {"line": 1, "column": 9, "offset": 9}}}]}


def _expect(document, policy_type, resource_type=None, token=None):
    params = {"policyDocument": json.dumps(document), "policyType": policy_type}
    if resource_type:
        params["validatePolicyResourceType"] = resource_type
    if token:
        params["nextToken"] = token
    return params


def test_access_analyzer_findings_returned_paginated_and_in_check_mode(aws, monkeypatch):
    args = dict(ROLE, validate_with_access_analyzer=True, trusted_services=["ec2.amazonaws.com"])
    trust_doc = documents.trust_policy_for_services(["ec2.amazonaws.com"])
    stub = stub_access_analyzer(monkeypatch, [
        (_expect(trust_doc, "RESOURCE_POLICY", "AWS::IAM::AssumeRolePolicyDocument"), {"findings": []}),
        (_expect(APP_ACCESS, "IDENTITY_POLICY"), {"findings": [_finding("SUGGESTION", "EMPTY_ARRAY_RESOURCE")],
                                                  "nextToken": "page2"}),
        (_expect(APP_ACCESS, "IDENTITY_POLICY", token="page2"), {"findings": [_finding("WARNING", "MISSING_VERSION", 1)]}),
    ])
    result = run_module(iam_role.main, args, check_mode=True)
    stub.assert_no_pending_responses()
    assert not result.failed and result.changed, result
    assert [(f["policy"], f["finding_type"], f["issue_code"], f["location"]) for f in result["access_analyzer_findings"]] == [
        ("inline_policies.AppAccess", "SUGGESTION", "EMPTY_ARRAY_RESOURCE", "Statement[0].Action"),
        ("inline_policies.AppAccess", "WARNING", "MISSING_VERSION", "Statement[1].Action")]
    assert aws.list_roles()["Roles"] == []  # check mode changed nothing


@pytest.mark.parametrize("kind, allow_admin, refused", [
    ("ERROR", False, True), ("ERROR", True, True), ("SECURITY_WARNING", False, True), ("SECURITY_WARNING", True, False),
])
def test_access_analyzer_errors_and_security_warnings_refuse(aws, api_calls, monkeypatch, kind, allow_admin, refused):
    args = {"name": "r", "inline_policies": {"AppAccess": APP_ACCESS}, "validate_with_access_analyzer": True,
            "allow_admin": allow_admin}
    stub = stub_access_analyzer(monkeypatch, [(_expect(APP_ACCESS, "IDENTITY_POLICY"),
                                               {"findings": [_finding(kind, "PASS_ROLE_WITH_STAR_IN_RESOURCE")]})])
    result = run_module(iam_role.main, args)
    stub.assert_no_pending_responses()
    if refused:
        assert result.failed and ("inline_policies.AppAccess: IAM Access Analyzer reports %s "
                                  "PASS_ROLE_WITH_STAR_IN_RESOURCE at Statement[0].Action" % kind) in result["msg"]
        assert mutating(api_calls) == [] and "GetRole" not in api_calls  # before the role is even read
    else:
        assert result.changed and result["access_analyzer_findings"][0]["finding_type"] == "SECURITY_WARNING"


def test_access_analyzer_off_by_default(aws, api_calls):
    result = run_module(iam_role.main, ROLE, check_mode=True)
    assert result["access_analyzer_findings"] == [] and "ValidatePolicy" not in api_calls


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
