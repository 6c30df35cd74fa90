"""iam_role's least-privilege judgement through the module: the table of tests/support/escalation_cases.py,
customer policies judged before they are attached, and validate_with_access_analyzer (botocore's Stubber: moto has
no Access Analyzer). Run in-process under moto's mock_aws (tests/unit/plugins/modules/conftest.py)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.keyless.aws.plugins.module_utils.iam import documents
from ansible_collections.keyless.aws.plugins.modules import iam_role
from tests.support.escalation_cases import ACCEPTED, OWN_ROLE, REFUSED
from tests.support.fixtures import stub_access_analyzer
from tests.support.module_runner import run_module
from tests.unit.plugins.modules.test_iam_role import ACCOUNT, APP_ACCESS, ROLE, mutating

pytestmark = pytest.mark.usefixtures("shared_botocore_loader")


@pytest.fixture
def aws(iam_account):
    return iam_account


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
