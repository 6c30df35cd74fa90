"""The per-instance association plan (every state x profile combination) and profile resolution."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.keyless.aws.plugins.module_utils.fleet import associations as assoc
from ansible_collections.keyless.aws.plugins.module_utils.aws.errors import AwsCallError

WANT = "arn:aws:iam::123456789012:instance-profile/App"
OTHER = "arn:aws:iam::123456789012:instance-profile/Legacy"


def current(arn, state="associated"):
    return {"association_id": "iip-assoc-1", "state": state, "profile_arn": arn}


@pytest.mark.parametrize("instance_state, cur, desired_state, expected", [
    ("running", None, "present", "associate"),
    ("stopped", None, "present", "associate"),
    ("running", current(WANT), "present", "none"),
    ("stopped", current(WANT), "present", "none"),
    ("running", current(WANT, "associating"), "present", "none"),
    ("running", current(OTHER), "present", "replace"),
    ("stopped", current(OTHER), "present", "disassociate_associate"),
    ("running", current(OTHER, "associating"), "present", "replace"),
    ("running", current(OTHER, "disassociating"), "present", "associate"),
    ("stopped", current(OTHER, "disassociating"), "present", "associate"),
    ("running", None, "absent", "none"),
    ("stopped", None, "absent", "none"),
    ("running", current(WANT), "absent", "disassociate"),
    ("stopped", current(OTHER), "absent", "disassociate"),
    ("running", current(OTHER, "disassociating"), "absent", "none"),
])
def test_plan_table(instance_state, cur, desired_state, expected):
    assert assoc.plan_association(instance_state, cur, WANT if desired_state == "present" else None,
                                  desired_state) == expected


@pytest.mark.parametrize("value", ["App", "app.profile+x=y,z@w_-", "a" * 128, WANT,
                                   "arn:aws:iam::123456789012:instance-profile/path/to/App",
                                   "arn:aws-us-gov:iam::123456789012:instance-profile/App"])
def test_profile_option_ok(value):
    assert assoc.validate_profile_option(value) == []


@pytest.mark.parametrize("value", ["", "a" * 129, "bad name", "arn:aws:iam::123:instance-profile/App",
                                   "arn:aws:iam::123456789012:role/App"])
def test_profile_option_bad(value):
    errs = assoc.validate_profile_option(value)
    assert len(errs) == 1 and "instance_profile" in errs[0]


def test_profile_from_option():
    assert assoc.profile_from_option("App") == ("App", None)
    assert assoc.profile_from_option("arn:aws:iam::123456789012:instance-profile/p/App") == (
        "App", "arn:aws:iam::123456789012:instance-profile/p/App")


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
        got = assoc.resolve_profile(iam, "App")
    assert got == {"name": "App", "arn": WANT, "roles": ["AppRole"], "exists": True}


def test_resolve_by_arn_must_match():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(), {"InstanceProfileName": "App"})
        with pytest.raises(AwsCallError, match="ARN"):
            assoc.resolve_profile(iam, "arn:aws:iam::210987654321:instance-profile/App")


def test_resolve_missing_profile_fails_outside_check_mode():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_client_error("get_instance_profile", "NoSuchEntity", "not found")
        with pytest.raises(AwsCallError, match="does not exist"):
            assoc.resolve_profile(iam, "App")


def test_resolve_missing_profile_is_predicted_in_check_mode():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_client_error("get_instance_profile", "NoSuchEntity", "not found")
        got = assoc.resolve_profile(iam, "App", check_mode=True,
                                    predicted_arn=lambda n: "arn:aws:iam::123456789012:instance-profile/" + n)
    assert got == {"name": "App", "arn": WANT, "roles": [], "exists": False}


def test_resolve_profile_without_role():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(roles=()))
        with pytest.raises(AwsCallError, match="holds no role"):
            assoc.resolve_profile(iam, "App")
    with Stubber(iam) as stub:
        stub.add_response("get_instance_profile", profile_response(roles=()))
        assert assoc.resolve_profile(iam, "App", check_mode=True)["roles"] == []


def test_resolve_other_error():
    iam = iam_client()
    with Stubber(iam) as stub:
        stub.add_client_error("get_instance_profile", "AccessDenied", "no")
        with pytest.raises(AwsCallError, match="AccessDenied"):
            assoc.resolve_profile(iam, "App", check_mode=True)
