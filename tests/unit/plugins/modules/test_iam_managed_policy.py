"""iam_managed_policy under moto: create, rerun, equivalent documents, check mode, diff, the 5-version
limit, immutable description, tags, absent after detaching everywhere, validation before any AWS call."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from ansible_collections.keyless.aws.plugins.module_utils.aws import connection
from ansible_collections.keyless.aws.plugins.module_utils.iam.documents import policy_length
from ansible_collections.keyless.aws.plugins.modules import iam_managed_policy
from tests.support.escalation_cases import ACCEPTED, REFUSED
from tests.support.fixtures import stub_access_analyzer
from tests.support.module_runner import run_module

DOC = {"Version": "2012-10-17", "Statement": [
    {"Sid": "S3Access", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
     "Resource": ["arn:aws:s3:::my-app-data", "arn:aws:s3:::my-app-data/*"]},
    {"Sid": "SecretsManagerAccess", "Effect": "Allow", "Action": "secretsmanager:GetSecretValue",
     "Resource": "arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/*"}]}
# Same meaning: statements reordered, actions reordered, one-item list vs string, no Version.
EQUIVALENT = {"Statement": [
    {"Sid": "SecretsManagerAccess", "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
     "Resource": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:my-app/*"]},
    {"Sid": "S3Access", "Effect": "Allow", "Action": ["s3:ListBucket", "s3:PutObject", "s3:GetObject"],
     "Resource": ["arn:aws:s3:::my-app-data/*", "arn:aws:s3:::my-app-data"]}]}
ARN = "arn:aws:iam::123456789012:policy/app/AppAccess"


def doc_with(action):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": action, "Resource": "arn:aws:s3:::my-app-data/*"}]}


@pytest.fixture
def aws(monkeypatch):
    for key in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CA_BUNDLE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield boto3.client("iam", region_name="us-east-1")


def policy(args, **kw):
    return run_module(iam_managed_policy.main, args, **kw)


BASE = {"name": "AppAccess", "path": "/app/", "description": "my-app access", "policy": DOC,
        "tags": {"Application": "my-app"}}


def test_create_rerun_and_equivalent_document(aws):
    first = policy(BASE)
    assert first.changed and not first.failed, first
    obj = first["policy"]
    assert obj["arn"] == ARN and obj["default_version_id"] == "v1" and obj["policy_id"]
    assert obj["description"] == "my-app access" and obj["tags"] == {"Application": "my-app"}
    raw = aws.get_policy(PolicyArn=ARN)["Policy"]
    assert raw["Description"] == "my-app access"
    assert aws.get_policy_version(PolicyArn=ARN, VersionId="v1")["PolicyVersion"]["Document"] == DOC

    assert not policy(BASE).changed
    as_json = policy(dict(BASE, policy=json.dumps(EQUIVALENT)))
    assert not as_json.changed and as_json["changes"] == []
    assert len(aws.list_policy_versions(PolicyArn=ARN)["Versions"]) == 1


def test_check_mode_creates_nothing_and_predicts(aws):
    result = policy(BASE, check_mode=True, diff=True)
    assert result.changed and result["policy"]["arn"] == ARN and result["policy"]["default_version_id"] == "v1"
    assert result["diff"]["before"] == {} and result["diff"]["after"]["policy"] == DOC
    assert aws.list_policies(Scope="Local")["Policies"] == []


def test_diff_and_check_mode_of_a_new_version(aws):
    policy(BASE)
    changed = dict(BASE, policy=doc_with("s3:GetObject"))
    check = policy(changed, check_mode=True, diff=True)
    assert check.changed and check["policy"]["default_version_id"] == "v2"
    assert check["diff"]["before"]["policy"] == DOC
    assert check["diff"]["after"]["policy"] == doc_with("s3:GetObject")
    assert aws.get_policy(PolicyArn=ARN)["Policy"]["DefaultVersionId"] == "v1"

    real = policy(changed)
    assert real.changed and real["policy"]["default_version_id"] == "v2"
    assert aws.get_policy(PolicyArn=ARN)["Policy"]["DefaultVersionId"] == "v2"


def test_version_limit_deletes_oldest_non_default(aws):
    policy(BASE)
    for i in range(2, 6):
        assert policy(dict(BASE, policy=doc_with("s3:Get%d" % i)))["policy"]["default_version_id"] == "v%d" % i
    assert len(aws.list_policy_versions(PolicyArn=ARN)["Versions"]) == 5
    # someone made v2 the default again: v1 is still the oldest non-default, v2 must survive
    aws.set_default_policy_version(PolicyArn=ARN, VersionId="v2")
    result = policy(dict(BASE, policy=doc_with("s3:Get6")))
    assert [a["action"] for a in result["changes"]] == ["delete_policy_version", "create_policy_version"]
    assert result["changes"][0]["before"] == "v1"
    ids = sorted(v["VersionId"] for v in aws.list_policy_versions(PolicyArn=ARN)["Versions"])
    assert ids == ["v2", "v3", "v4", "v5", "v6"]
    # v6 is the default now, so v2 is the oldest non-default
    result = policy(dict(BASE, policy=doc_with("s3:Get7")))
    assert result["changes"][0]["before"] == "v2"
    assert aws.get_policy(PolicyArn=ARN)["Policy"]["DefaultVersionId"] == "v7"


def test_description_change_is_refused(aws):
    policy(BASE)
    result = policy(dict(BASE, description="something else"))
    assert result.failed and "cannot change the description" in result["msg"] and "create it again" in result["msg"]
    assert not policy(dict(BASE, description=None)).changed


def test_existing_policy_found_without_path(aws):
    policy(BASE)
    result = policy({"name": "AppAccess", "policy": DOC})
    assert not result.changed and result["policy"]["arn"] == ARN
    moved = policy({"name": "AppAccess", "path": "/", "policy": DOC})
    assert moved.failed and "cannot move a managed policy" in moved["msg"]


def test_tags_update_and_purge(aws):
    policy(BASE)
    result = policy(dict(BASE, tags={"Environment": "production"}, purge_tags=False))
    assert result.changed and result["policy"]["tags"] == {"Application": "my-app", "Environment": "production"}
    result = policy(dict(BASE, tags={"Environment": "production"}))
    assert result["policy"]["tags"] == {"Environment": "production"}
    assert aws.list_policy_tags(PolicyArn=ARN)["Tags"] == [{"Key": "Environment", "Value": "production"}]


def test_absent_detaches_from_roles_users_groups(aws):
    arn = policy(BASE)["policy"]["arn"]
    policy(dict(BASE, policy=doc_with("s3:GetObject")))
    trust = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    aws.create_role(RoleName="r", AssumeRolePolicyDocument=trust)
    aws.attach_role_policy(RoleName="r", PolicyArn=arn)
    aws.create_user(UserName="u")
    aws.attach_user_policy(UserName="u", PolicyArn=arn)
    aws.create_group(GroupName="g")
    aws.attach_group_policy(GroupName="g", PolicyArn=arn)

    check = policy({"name": "AppAccess", "state": "absent"}, check_mode=True)
    assert check.changed and aws.get_policy(PolicyArn=arn)
    result = policy({"name": "AppAccess", "state": "absent"}, diff=True)
    actions = [a["action"] for a in result["changes"]]
    assert actions == ["detach_role_policy", "detach_user_policy", "detach_group_policy",
                       "delete_policy_version", "delete_policy"]
    assert result["diff"]["before"]["policy"] == doc_with("s3:GetObject") and result["diff"]["after"] == {}
    assert aws.list_attached_role_policies(RoleName="r")["AttachedPolicies"] == []
    assert aws.list_attached_user_policies(UserName="u")["AttachedPolicies"] == []
    assert aws.list_attached_group_policies(GroupName="g")["AttachedPolicies"] == []
    assert aws.list_policies(Scope="Local")["Policies"] == []
    assert not policy({"name": "AppAccess", "state": "absent"}).changed


def test_admin_grant_refused_unless_allowed(aws):
    admin = {"Version": "2012-10-17", "Statement": [{"Sid": "All", "Effect": "Allow", "Action": "*", "Resource": "*"}]}
    refused = policy({"name": "Admin", "policy": admin})
    assert refused.failed and "statement 'All'" in refused["msg"] and "allow_admin" in refused["msg"]
    assert aws.list_policies(Scope="Local")["Policies"] == []
    assert policy({"name": "Admin", "policy": admin, "allow_admin": True}).changed


@pytest.mark.parametrize("args, fragment", [
    ({"name": "P", "policy": "{not json"}, "policy is not valid JSON"),
    ({"name": "P", "policy": {"Version": "2012-10-17"}}, "policy has no Statement"),
    ({"name": "P"}, "policy is required with state=present"),
    ({"name": "P", "policy": {"Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}]}},
     "administrator access"),
    ({"name": "P", "policy": doc_with(["s3:Get%s" % ("x" * 100 + str(i)) for i in range(80)])},
     "policy is 8,978 characters long as IAM counts them (JSON without whitespace outside strings): IAM allows at "
     "most 6,144 for a managed policy"),
    ({"name": "P", "policy": doc_with([])}, "policy: Statement[0] has Action=[]: IAM refuses an empty Action"),
    ({"name": "P", "policy": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": None}]}},
     "policy: Statement[0] has Resource=null"),
    ({"name": "P", "policy": {"Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}},
     "policy: Statement[0] has neither Resource nor NotResource"),
    ({"name": "P", "policy": dict(doc_with("s3:GetObject"), Statement=[dict(
        doc_with("s3:GetObject")["Statement"][0], Principal={"AWS": "*"})])},
     "policy: Statement[0] has Principal: a permissions policy"),
    ({"name": "P", "policy": '{"Statement": ' + "[" * 100000 + "]" * 100000 + "}"},
     "policy is nested more than 6 levels deep"),
    ({"name": "x" * 129, "policy": DOC}, "IAM allows at most 128"),
    ({"name": "P", "path": "/no-trailing", "policy": DOC}, "not a valid IAM path"),
    ({"name": "P", "policy": DOC, "description": "d" * 1001}, "at most 1000"),
    ({"name": "P", "policy": DOC, "tags": {"k": "v" * 300}}, "values must be 0-256"),
])
def test_validation_fails_before_any_aws_call(monkeypatch, args, fragment):
    def no_session(*a, **kw):
        raise AssertionError("an AWS session was created before validation finished")

    monkeypatch.setattr(connection.boto3.session, "Session", no_session)
    result = policy(args)
    assert result.failed and fragment in result["msg"], result["msg"]


def _sized(length):
    """A policy of exactly `length` characters as IAM counts them."""
    base = doc_with("s3:GetObject")
    base["Statement"][0]["Resource"] += "x" * (length - policy_length(base))
    assert policy_length(base) == length
    return base


def _validate(document):
    return iam_managed_policy.validate({"name": "P", "path": None, "description": None, "tags": None, "state": "present",
                                        "policy": document, "allow_admin": False})


def test_the_6144_quota_is_counted_as_iam_counts():
    assert _validate(_sized(6144))[0] == []
    assert _validate(json.dumps(_sized(6144), indent=8))[0] == []  # whitespace outside strings is free
    assert _validate(_sized(6145))[0] == [
        "policy is 6,145 characters long as IAM counts them (JSON without whitespace outside strings): IAM allows at "
        "most 6,144 for a managed policy (a fixed quota); split the statements over several managed policies"]


# ---- least privilege: the permission documents of tests/support/escalation_cases.py ---------------------------------

PERMISSION_REFUSALS = [c for c in REFUSED if c[1] == "permissions" and not c[0].startswith("self-")]


@pytest.mark.parametrize("case_id, kind, document, fragments", PERMISSION_REFUSALS,
                         ids=[c[0] for c in PERMISSION_REFUSALS])
def test_escalation_refused_before_any_aws_call(monkeypatch, case_id, kind, document, fragments):
    def no_session(*a, **kw):
        raise AssertionError("an AWS session was created before the document was judged")

    monkeypatch.setattr(connection.boto3.session, "Session", no_session)
    result = policy({"name": "P", "policy": document})
    assert result.failed and "policy: statement " in result["msg"] and "allow_admin: true" in result["msg"]
    for fragment in fragments:
        assert fragment in result["msg"], (fragment, result["msg"])


def test_escalation_accepted_with_allow_admin_and_scoped_documents_pass(aws):
    by_id = dict((c[0], c[2]) for c in REFUSED + [(a[0], a[1], a[2], ()) for a in ACCEPTED])
    assert policy({"name": "Pass", "policy": by_id["pass-role"], "allow_admin": True}).changed
    for case_id in ("scoped-pass-role", "scoped-assume-role", "read-only-iam", "s3-star-one-bucket"):
        result = policy({"name": case_id, "policy": by_id[case_id]})
        assert result.changed and not result.failed, result


def _stub_analyzer(monkeypatch, findings_pages):
    responses = []
    for number, findings in enumerate(findings_pages):
        expected = {"policyDocument": json.dumps(DOC), "policyType": "IDENTITY_POLICY"}
        response = {"findings": findings}
        if number:
            expected["nextToken"] = "t%d" % number
        if number + 1 < len(findings_pages):
            response["nextToken"] = "t%d" % (number + 1)
        responses.append((expected, response))
    return stub_access_analyzer(monkeypatch, responses)


def _aa(kind, code):
    return {"findingType": kind, "issueCode": code, "findingDetails": code.lower(), "learnMoreLink": "https://x",
            "locations": [{"path": [{"value": "Statement"}, {"index": 1}, {"value": "Resource"}],
                           "span": {"start": {"line": 0, "column": 0, "offset": 0},
                                    "end": {"line": 0, "column": 1, "offset": 1}}}]}


def test_access_analyzer_suggestions_returned_errors_refuse(aws, monkeypatch):
    stub = _stub_analyzer(monkeypatch, [[_aa("SUGGESTION", "REDUNDANT_ACTION")], [_aa("WARNING", "MISSING_VERSION")]])
    result = policy(dict(BASE, validate_with_access_analyzer=True), check_mode=True)
    stub.assert_no_pending_responses()
    assert result.changed and [f["issue_code"] for f in result["access_analyzer_findings"]] == [
        "REDUNDANT_ACTION", "MISSING_VERSION"]
    assert result["access_analyzer_findings"][0] == {
        "policy": "policy", "finding_type": "SUGGESTION", "issue_code": "REDUNDANT_ACTION",
        "details": "redundant_action", "learn_more_link": "https://x", "location": "Statement[1].Resource"}
    stub = _stub_analyzer(monkeypatch, [[_aa("ERROR", "INVALID_ARN_RESOURCE")]])
    refused = policy(dict(BASE, validate_with_access_analyzer=True))
    stub.assert_no_pending_responses()
    assert refused.failed and ("policy: IAM Access Analyzer reports ERROR INVALID_ARN_RESOURCE at "
                               "Statement[1].Resource: invalid_arn_resource (https://x); fix the document") in refused["msg"]
    assert aws.list_policies(Scope="Local")["Policies"] == []
